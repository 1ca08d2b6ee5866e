import json
from pathlib import Path

import pytest

from arena.errors import ArenaError
from arena.records import RecordStore, make_row


def _row(i: int, rnd: int = 0) -> dict:
    return make_row(campaign_id="c", round=rnd, pool="live", text_id=f"t{i}", strategy="leet", family="char",
                    params={"budget": 2}, seed=i, original="you idiot", attacked="you 1d10t", label=1,
                    validity=0.9, valid=True, defender_version="1", score=0.2, evaded=True, queries=3)


def test_append_is_atomic_and_read_back(tmp_path: Path):
    store = RecordStore(tmp_path)
    store.append(0, [_row(i) for i in range(5)])
    assert store.read().num_rows == 0  # not complete yet: complete_only hides it
    assert store.read(complete_only=False).num_rows == 5
    store.mark_complete(0)
    t = store.read()
    assert t.num_rows == 5 and json.loads(t["params"][0].as_py()) == {"budget": 2}
    assert not list(tmp_path.glob("records/**/.*.tmp"))
    with pytest.raises(KeyError):
        make_row(bogus=1)


def test_incomplete_round_is_discarded_on_resume(tmp_path: Path):
    store = RecordStore(tmp_path)
    store.append(0, [_row(i) for i in range(3)])
    store.mark_complete(0)
    store.append(1, [_row(i, 1) for i in range(4)])  # the process dies here
    (store.round_dir(0) / ".part-x.parquet.tmp").write_bytes(b"half")
    assert store.discard_incomplete() == [1]
    assert store.rounds() == [0]
    assert store.read(complete_only=False).num_rows == 3
    assert not list(store.round_dir(0).glob(".*.tmp"))


def test_report_from_summary(tmp_path: Path):
    from arena.report import write_report

    with pytest.raises(ArenaError, match="summary.json"):
        write_report(tmp_path)
    rounds = [
        {"round": r, "champion_version": str(1 + r // 2), "frozen_detection": 0.5 + 0.1 * r,
         "live_attack_success": 0.4 - 0.1 * r, "per_strategy_detection": {"leet": 0.5 + 0.1 * r, "homoglyph": 0.4},
         "heldout_strategy_detection": 0.4, "clean_macro_f1": 0.8, "benign_perturbed_fpr": 0.05,
         "promoted": r == 1, "gate": None, "wall_s": 10.0}
        for r in range(3)
    ]
    (tmp_path / "summary.json").write_text(json.dumps(
        {"campaign_id": "c1", "config": {}, "rounds": rounds, "heldout_strategies": ["homoglyph"]}))
    page = write_report(tmp_path).read_text()
    assert "c1" in page and "50.0%" in page and "70.0%" in page
    for png in ("detection.png", "per_strategy.png", "clean_fpr.png"):
        assert (tmp_path / png).stat().st_size > 1000


def test_one_attempt_type_round_trips_through_records_and_state(tmp_path):
    """A suite item (state.json) and a record row are the same Attempt; params are JSON once."""
    import json

    from arena.records import Attempt

    a = Attempt("tweeteval:test:1", "leet", "char", "you idiot", "you 1d10t", 0.9, {"targets": (2, 1), "p": 0.5}, 7,
                label=1, pool="live", round=0, campaign_id="c", valid=True, defender_version="1", score=0.2,
                evaded=True, queries=5)
    row = a.to_row()
    assert json.loads(row["params"]) == {"p": 0.5, "targets": [2, 1]}  # a JSON object, not a JSON string of one
    store = RecordStore(tmp_path)
    store.append(0, [row])
    back = Attempt.from_dict(store.read(complete_only=False).to_pylist()[0])
    assert back.params == {"p": 0.5, "targets": [2, 1]} and back.attacked == "you 1d10t" and back.evaded is True
    suite_item = Attempt("t:2", "homoglyph", "unicode", "moron", "mоron", 1.0, {}, 3, label=1, pool="frozen")
    d = suite_item.to_dict()
    assert "score" not in d and Attempt.from_dict(json.loads(json.dumps(d))) == suite_item
    # a suite item written by an older state (eight keys) still loads
    old = {k: d[k] for k in ("text_id", "strategy", "family", "original", "attacked", "validity", "params", "seed")}
    assert Attempt.from_dict(old).pool is None
