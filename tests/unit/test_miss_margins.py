"""bench/miss_margins.py: the clean-score bands its table counts misses by, and its error on a missing run."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture
def mm(load_bench):
    return load_bench("miss_margins")


def test_bands_start_at_the_threshold_and_cover_every_score(mm):
    assert mm.band(0.30, 0.49) == "< 0.49"
    assert mm.band(0.49, 0.49) == "0.49-0.60"
    assert mm.band(0.599, 0.49) == "0.49-0.60"
    assert mm.band(0.60, 0.49) == "0.60-0.75"
    assert mm.band(0.80, 0.49) == "0.75-0.90"
    assert mm.band(0.90, 0.49) == ">= 0.90"
    # a threshold above the first edge: no empty or inverted band below it
    assert mm.band(0.65, 0.62) == "0.62-0.75"
    assert mm.band(0.95, 0.62) == ">= 0.90"


def test_a_folder_without_state_is_a_clear_error(mm, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["miss_margins.py", "--run", str(tmp_path), "--out", str(tmp_path / "o.jsonl")])
    assert mm.main() == 2
    assert "state.json not found" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()
