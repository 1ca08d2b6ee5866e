"""`arena eval` on the mirror's TweetEval and Jigsaw files: registry versions, a saved folder, a peer,
groups, two attack strategies and --compare (about a minute on 2 cores).

The defenders are untrained (fresh LoRA + head from seeds 1 and 2, registered as v1 = champion and
v2): evaluation does not care how good a model is, and training one would triple the run time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.cli import main

pytestmark = pytest.mark.usefixtures("mirror")

JIGSAW_ARGS = ["--text-col", "comment_text", "--label-col", "toxic"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    from arena.config import load_config
    from arena.defend import Defender
    from arena.registry import CHAMPION, Registry

    out = tmp_path_factory.mktemp("eval-run")
    cfg = load_config(repo_root / "configs/test.yaml")
    registry = Registry.from_config(cfg, out)
    for seed in (1, 2):
        folder = Defender.create(cfg.defender, device="cpu", seed=seed).save(out / "models" / f"seed{seed}")
        with registry.run(f"seed{seed}") as run:
            version = registry.register(folder, run.info.run_id)
    registry.set_alias(CHAMPION, "1", reason="test")
    assert version == "2"
    return out


def _eval(tmp_path: Path, *argv: str) -> dict:
    out = tmp_path / "eval.json"
    assert main(["eval", *argv, "--out", str(out), "--quiet"]) == 0
    return json.loads(out.read_text())


def test_champion_on_tweeteval_with_two_attacks(run_dir: Path, tmp_path: Path, capsys):
    from arena.defend import Defender
    from arena.evaluate import build_attacks, load_eval_data
    from arena.metrics import classification_report

    r = _eval(tmp_path, "--model", "champion", "--out-dir", str(run_dir), "--data", "tweeteval_offensive",
              "--limit", "40", "--attack", "homoglyph", "leet", "--seed", "5")
    printed = capsys.readouterr().out
    assert "champion (v1)" in printed and "homoglyph" in printed and "overall" in printed
    (m,) = r["models"]
    assert (m["label"], m["version"], m["kind"]) == ("champion (v1)", "1", "defender")
    assert r["data"]["source"] == "tweeteval_offensive" and r["data"]["split"] == "test"
    assert r["data"]["n_total"] == 860 and abs(r["data"]["n"] - 40) <= 1
    assert r["attack"]["strategies"] == ["homoglyph", "leet"] and r["attack"]["seed"] == 5

    # the numbers are the model's own scores on the same sample and the same attacked texts
    data = load_eval_data("tweeteval_offensive", limit=40, seed=5)
    defender = Defender.load(run_dir / "models" / "seed1", device="cpu")
    scores = defender.score(data.texts)
    expect = classification_report(data.labels, scores, defender.spec.threshold)
    assert m["clean"]["macro_f1"] == pytest.approx(expect["macro_f1"], abs=1e-9)
    assert m["clean"]["roc_auc"] == pytest.approx(expect["roc_auc"], abs=1e-6)
    suite = build_attacks(data, ["homoglyph", "leet"], seed=5)
    for name in ("homoglyph", "leet"):
        mine = [it for it in suite.items if it.strategy == name and it.label == 1]
        cell = m["attacked"]["per_strategy"][name]
        assert cell["attempted_toxic"] == r["data"]["n_toxic"] >= cell["changed_toxic"] == len(mine) > 0
        hits = [s >= defender.spec.threshold for s in defender.score([it.attacked for it in mine])]
        assert cell["detection"] == pytest.approx(sum(hits) / len(hits), abs=1e-9)
    overall = m["attacked"]["overall"]
    assert overall["changed_toxic"] == sum(c["changed_toxic"] for c in m["attacked"]["per_strategy"].values())


def test_compare_same_model_two_ways_on_jigsaw_file_with_groups(run_dir: Path, tmp_path: Path, mirror: Path):
    """Version 1 from the registry vs its saved folder: every delta is exactly zero."""
    r = _eval(tmp_path, "--compare", "1", str(run_dir / "models" / "seed1"), "--out-dir", str(run_dir),
              "--data", str(mirror / "jigsaw_sample" / "train.csv"), *JIGSAW_ARGS, "--group-col", "obscene",
              "--limit", "40", "--attack", "typos", "homoglyph")
    a, b = r["models"]
    assert a["label"] == "v1" and b["path"].endswith("seed1")
    assert set(a["groups"]) <= {"0", "1"} and sum(g["n"] for g in a["groups"].values()) == a["clean"]["n"]
    d = r["delta"]
    numbers = [*d["clean"].values(), *(v for g in d["groups"].values() for v in g.values()),
               *d["attacked"]["overall"].values(),
               *(v for s in d["attacked"]["per_strategy"].values() for v in s.values())]
    assert numbers and all(v in (0.0, None) for v in numbers)


def test_compare_versions_on_jigsaw_dataset(run_dir: Path, tmp_path: Path):
    r = _eval(tmp_path, "--compare", "champion", "2", "--out-dir", str(run_dir), "--data", "jigsaw_sample",
              "--limit", "60")
    a, b = r["models"]
    assert (a["label"], b["label"]) == ("champion (v1)", "v2") and r["attack"] is None
    assert r["data"]["n_total"] == 400  # jigsaw_sample's test split
    assert r["delta"]["clean"]["roc_auc"] == pytest.approx(b["clean"]["roc_auc"] - a["clean"]["roc_auc"])
    assert a["clean"]["roc_auc"] != b["clean"]["roc_auc"]  # two different heads


def test_peer_on_tweeteval_and_vs_champion(run_dir: Path, tmp_path: Path):
    r = _eval(tmp_path, "--compare", "peer:alt-profanity-check", "champion", "--out-dir", str(run_dir),
              "--data", "tweeteval_offensive", "--limit", "120", "--attack", "leet", "--seed", "1")
    peer = r["models"][0]
    assert peer["kind"] == "peer" and peer["version"]
    assert peer["clean"]["roc_auc"] > 0.7  # a real, working profanity model on real offensive tweets
    # both models saw the very same attacked texts
    assert peer["attacked"]["overall"]["changed_toxic"] == r["models"][1]["attacked"]["overall"]["changed_toxic"]


def test_model_errors(run_dir: Path, tmp_path: Path, mirror: Path, capsys):
    base = ["eval", "--out-dir", str(run_dir), "--data", "tweeteval_offensive", "--limit", "10", "--quiet"]
    assert main([*base, "--model", "99"]) == 2
    assert "no model '99'" in capsys.readouterr().err
    jig = ["eval", "--model", "peer:alt-profanity-check", "--data", str(mirror / "jigsaw_sample" / "train.csv")]
    assert main([*jig, "--text-col", "text"]) == 2
    assert "available columns: id, comment_text, toxic" in capsys.readouterr().err
    assert main([*jig, *JIGSAW_ARGS, "--positive", "toxic"]) == 2
    assert "none of the positive label values ['toxic']" in capsys.readouterr().err
