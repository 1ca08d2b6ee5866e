"""bench/canonical_speed.py: reads a run's attacked texts once each, records a hash of the readings, errors clearly."""

from __future__ import annotations

import json
import sys

import pytest


@pytest.fixture
def cs(load_bench):
    return load_bench("canonical_speed")


def test_reads_each_distinct_attacked_text_and_hashes_the_readings(cs, tmp_path, monkeypatch):
    from arena.records import RecordStore, make_row

    RecordStore(tmp_path / "run").append(0, [make_row(attacked=t, pool="train")
                                             for t in ("you 1d10t", "you 1d10t", "a f*ck", None, "")])
    out = tmp_path / "speed.jsonl"
    monkeypatch.setattr(sys, "argv", ["canonical_speed.py", "--run", str(tmp_path / "run"), "--out", str(out)])
    assert cs.main() == 0
    row = json.loads(out.read_text())
    assert row["texts"] == 2  # duplicates and empty texts read once / not at all
    first = row["output_sha256_16"]
    assert cs.main() == 0  # the same readings give the same hash
    assert json.loads(out.read_text().splitlines()[1])["output_sha256_16"] == first


def test_a_folder_without_records_is_a_clear_error(cs, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["canonical_speed.py", "--run", str(tmp_path), "--out", str(tmp_path / "o.jsonl")])
    assert cs.main() == 2
    assert "records not found" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()
