"""A real 2-round campaign on a tiny subset: honesty rules, records, resume, summary, report."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from arena.arena import Campaign
from arena.config import load_config
from arena.records import RecordStore

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("mirror")]

SUMMARY_KEYS = {
    "round", "champion_version", "frozen_detection", "live_attack_success", "per_strategy_detection",
    "heldout_strategy_detection", "clean_macro_f1", "benign_perturbed_fpr", "promoted", "gate", "wall_s",
}


def _cfg(repo_root: Path, *extra: str):
    return load_config(repo_root / "configs/test.yaml", overrides=list(extra))


class Interrupt(Exception):
    pass


#: the frozen and benign suites as state.json held them after rounds 0 and 1, before the interruption
SUITES_AFTER_ROUND_1: dict[str, list[dict]] = {}


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    """Round 0 and 1 run, then round 2 is interrupted mid-round (after its attack records are
    written) and the campaign is resumed from its folder to completion."""
    out = tmp_path_factory.mktemp("campaign")
    cfg = _cfg(repo_root)
    Campaign(cfg, out, progress=False).run(rounds=1)
    first = json.loads((out / "summary.json").read_text())
    assert [r["round"] for r in first["rounds"]] == [0, 1]
    saved = json.loads((out / "state.json").read_text())
    SUITES_AFTER_ROUND_1.update(frozen=saved["frozen"], benign=saved["benign"])

    # interrupt round 2 after its records are on disk, before it is marked complete
    c = Campaign(cfg, out, progress=False)
    original = c.records.append

    def append_then_die(rnd, rows):
        original(rnd, rows)
        raise Interrupt()

    c.records.append = append_then_die
    with pytest.raises(Interrupt):
        c.run(rounds=2)
    assert not RecordStore(out).is_complete(2)
    Campaign(cfg, out, progress=False).run(rounds=2)
    return out


def test_summary_schema(campaign: Path):
    s = json.loads((campaign / "summary.json").read_text())
    assert set(s) >= {"campaign_id", "config", "rounds"}
    assert [r["round"] for r in s["rounds"]] == [0, 1, 2]
    for r in s["rounds"]:
        assert SUMMARY_KEYS <= set(r)
        assert 0.0 <= r["frozen_detection"] <= 1.0
        assert 0.0 <= r["benign_perturbed_fpr"] <= 1.0
        assert r["heldout_strategy_detection"] is not None  # the word family held out
    r0 = s["rounds"][0]
    assert r0["champion_version"] == "1" and r0["per_strategy_detection"]
    # round 0 and 1 retrain (the test config's trigger is permissive), the last round does not
    assert s["rounds"][0]["gate"] is not None and s["rounds"][-1]["gate"] is None


def test_every_version_is_measured_at_its_own_threshold(campaign: Path, repo_root: Path):
    """Every version is measured and gated at the threshold saved with it (inherited or re-picked on val)."""
    from arena.defend import Defender
    from arena.registry import Registry

    s = json.loads((campaign / "summary.json").read_text())
    reg = Registry.from_config(_cfg(repo_root), campaign)

    def saved(version: str) -> float:
        return Defender.read_spec(reg.resolve(version)[1]).threshold

    assert s["threshold"] == saved(s["baseline_version"])
    for r in s["rounds"]:
        assert r["threshold"] == saved(r["champion_version"])
        if r["gate"]:
            assert r["gate"]["challenger"]["threshold"] == saved(r["gate"]["challenger_version"])
    live = RecordStore(campaign).read(pools=["live"]).to_pylist()
    thr = {r["round"]: r["threshold"] for r in s["rounds"]}
    for row in live:  # an evasion is a score below the attacked version's own threshold
        if row["score"] is not None:
            assert row["evaded"] == (row["score"] < thr[row["round"]])


def test_records_complete_and_unique(campaign: Path):
    store = RecordStore(campaign)
    assert store.rounds() == [0, 1, 2] and all(store.is_complete(r) for r in (0, 1, 2))
    t = store.read().to_pydict()
    keys = list(zip(t["round"], t["pool"], t["text_id"], t["strategy"], strict=True))
    assert len(keys) == len(set(keys)), "duplicate records after resume"
    assert set(t["pool"]) == {"live", "train"}
    # round 2 was re-run after the interruption: exactly one attack batch per pool
    per_round = {r: sum(1 for x in t["round"] if x == r) for r in (0, 1, 2)}
    assert per_round[2] == per_round[1]
    assert all(v in (None, "1", "2", "3", "4") or v.isdigit() for v in t["defender_version"])
    assert not list(campaign.glob("records/**/.*.tmp"))


def test_no_eval_text_or_perturbation_in_any_training_set(campaign: Path):
    state = json.loads((campaign / "state.json").read_text())
    eval_texts = {t for _, t in state["pools"]["eval"]} | {t for _, t in state["pools"]["benign"]}
    derived = {x["attacked"] for x in state["frozen"]} | {x["attacked"] for x in state["benign"]}
    live = RecordStore(campaign).read(pools=["live"])["attacked"].to_pylist()
    derived |= {t for t in live if t}
    forbidden = eval_texts | derived
    train_sets = sorted((campaign / "train_sets").glob("round=*.parquet"))
    assert train_sets
    for f in train_sets:
        texts = set(pq.read_table(f)["text"].to_pylist())
        assert not texts & forbidden, f"{f.name}: {len(texts & forbidden)} test-derived texts in training"
    # replay is distilled from the champion (soft labels in (0, 1)); evasions, their originals and
    # perturbed toxic texts are 1, perturbed benign 0, each moved toward the champion's score of its
    # original by retrain.perturbed_distill w: in [1 - w, 1] and [0, w]; every trained strategy
    # perturbs both classes
    summary = json.loads((campaign / "summary.json").read_text())
    first = next(r for r in summary["rounds"] if r["training_set"])
    table = pq.read_table(campaign / "train_sets" / f"round={first['round']}.parquet").to_pydict()
    labels, sources = table["label"], table["source"]
    n_replay = first["training_set"]["replay"]
    assert sources[:n_replay] == ["replay"] * n_replay
    assert all(0.0 <= y <= 1.0 for y in labels)
    assert any(0.0 < y < 1.0 for y in labels[:n_replay])
    from arena.config import load_config

    w = load_config(Path(__file__).parents[2] / "configs/test.yaml").campaign.retrain.perturbed_distill
    assert w > 0  # the default: soft targets
    for y, src in zip(labels[n_replay:], sources[n_replay:], strict=True):
        assert (0.0 <= y <= w) if src.startswith("perturbed0") else (1.0 - w <= y <= 1.0), (src, y)
    assert any(0.0 < y < 1.0 for y in labels[n_replay:])
    assert sum(s.startswith("evasion:") for s in sources) == first["training_set"]["evasions"]
    tox = {s.split(":")[1] for s in sources if s.startswith(("evasion:", "perturbed1:"))}
    ben = {s.split(":")[1] for s in sources if s.startswith("perturbed0:")}
    assert tox == ben and len(tox) >= 5, (tox, ben)
    held = set(summary["heldout_strategies"])
    assert held and not held & (tox | ben)  # the held-out family is never trained on
    # and training evasions come only from the train split
    train_ids = {i for i, _ in state["pools"]["attack_train"]}
    rows = RecordStore(campaign).read(pools=["train"]).to_pydict()
    assert set(rows["text_id"]) <= train_ids
    assert all(i.split(":")[1] == "train" for i in train_ids)
    assert all(i.split(":")[1] == "test" for i, _ in state["pools"]["eval"])


def test_frozen_suite_is_fixed(campaign: Path, repo_root: Path, tmp_path: Path):
    """Built once at round 0 and never rebuilt (not by a later round, not by an interruption and a
    resume): every item is a real attack on an eval-pool text, and every round re-scores all of it."""
    state = json.loads((campaign / "state.json").read_text())
    assert SUITES_AFTER_ROUND_1, "the campaign fixture did not snapshot the suites"
    assert state["frozen"] == SUITES_AFTER_ROUND_1["frozen"]  # item by item: text, attack, seed, params
    assert state["benign"] == SUITES_AFTER_ROUND_1["benign"]
    summary = json.loads((campaign / "summary.json").read_text())
    heldout = summary["heldout_strategies"]
    assert "phonetic" in heldout and "leet" not in heldout and "homoglyph" not in heldout  # word family
    eval_pool = dict(map(tuple, state["pools"]["eval"]))
    benign_pool = dict(map(tuple, state["pools"]["benign"]))
    for suite, pool in (("frozen", eval_pool), ("benign", benign_pool)):
        items = state[suite]
        keys = [(x["text_id"], x["strategy"]) for x in items]
        assert len(keys) == len(set(keys)), f"{suite}: a strategy attacked the same text twice"
        for x in items:
            assert pool[x["text_id"]] == x["original"], f"{suite}: {x['text_id']} is not its pool's text"
            assert x["attacked"] != x["original"] and 0.0 < x["validity"] <= 1.0, x
    strategies = {x["strategy"] for x in state["frozen"]}
    assert {"homoglyph", "leet"} <= strategies
    assert strategies <= set(summary["train_strategies"]) | set(heldout)
    frozen_ids = {x["text_id"] for x in state["frozen"]}
    assert frozen_ids <= set(eval_pool)
    # every round (and every gated challenger) is measured on exactly this suite
    trained = {x["strategy"] for x in state["frozen"] if x["strategy"] not in heldout}
    for r in summary["rounds"]:
        assert set(r["per_strategy_detection"]) == strategies
        n_trained = sum(1 for x in state["frozen"] if x["strategy"] in trained)
        assert round(r["frozen_detection"] * n_trained) == pytest.approx(r["frozen_detection"] * n_trained, abs=1e-6)


def test_champion_history_and_report(campaign: Path):
    from arena.registry import Registry
    from arena.report import write_report

    reg = Registry.from_config(_cfg(Path(__file__).resolve().parents[2]), campaign)
    hist = reg.history()
    assert hist[0]["version"] == "1" and hist[0]["round"] == 0
    s = json.loads((campaign / "summary.json").read_text())
    promoted = [r for r in s["rounds"] if r["promoted"]]
    assert len([h for h in hist if h["reason"].startswith("promoted")]) == len(promoted)
    assert reg.get_alias("champion") == (s["rounds"][-1]["champion_version"])
    page = write_report(campaign)
    assert page.is_file() and (campaign / "detection.png").stat().st_size > 1000
    assert "frozen" in page.read_text()
