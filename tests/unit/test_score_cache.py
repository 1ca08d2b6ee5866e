"""The score cache (arena/defend/classifier.py ScoreCache): keyed by the weights and by what the model
reads, so a rules-only challenger reuses its champion's scores, and weights being trained are never cached."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TEXTS = ["you are an idiot", "have a nice day", "shut up moron", "lovely weather today"]


@pytest.fixture()
def saved(tmp_path: Path, repo_root: Path):
    pytest.importorskip("torch")
    from arena.config import load_config
    from arena.defend import Defender

    cfg = load_config(repo_root / "configs/test.yaml", ["train.device=cpu", "train.num_threads=1"])
    return cfg, Defender.create(cfg.defender, device="cpu", seed=1).save(tmp_path / "v1")


@pytest.fixture()
def cache(monkeypatch):
    from arena.defend import classifier

    fresh = classifier.ScoreCache(max_texts=1000, max_weights=4)
    monkeypatch.setattr(classifier, "SCORE_CACHE", fresh)
    return fresh


def _counting(defender, seen: list[str]):
    real = defender._score_prepared

    def counted(texts, batch_size):
        seen.extend(texts)
        return real(texts, batch_size)

    defender._score_prepared = counted
    return defender


def test_same_weights_other_rules_score_only_what_reads_differently(saved, cache, tmp_path: Path):
    from arena.defend import Defender
    from arena.defend.rules import RuleSet

    _, folder = saved
    seen: list[str] = []
    champion = _counting(Defender.load(folder, device="cpu"), seen)
    first = champion.score(TEXTS + TEXTS[:1])  # a repeated text is scored once
    assert len(seen) == len(TEXTS) and (cache.hits, cache.misses) == (0, len(TEXTS) + 1)

    # a rules-only challenger: the same weight files in another folder, one rule more
    rules_dir = tmp_path / "rules"
    shutil.copytree(folder, rules_dir)
    RuleSet.load(rules_dir).merged([{"variant": "moron", "target": "idiot"}]).save(rules_dir)
    seen.clear()
    challenger = _counting(Defender.load(rules_dir, device="cpu"), seen)
    assert challenger.weights_id == champion.weights_id
    again = challenger.score(TEXTS)
    assert seen == ["shut up idiot"]  # only the text the new rule rewrites reached the model
    uncached = challenger._score_prepared(challenger.prepare(TEXTS), 8)
    assert again == pytest.approx(uncached, abs=1e-6)
    assert again[0] == first[0] and again[1] == first[1]


def test_other_weights_trainable_and_switched_off_miss(saved, cache, tmp_path: Path, monkeypatch):
    import torch

    from arena.defend import Defender, classifier

    cfg, folder = saved
    base = Defender.load(folder, device="cpu")
    base.score(TEXTS)
    # other weights: a different head
    other = Defender.load(folder, device="cpu", merge=False)
    with torch.no_grad():
        for name, p in other.model.named_parameters():
            if "classifier" in name and name.endswith("weight"):
                p.add_(1.0)
    other_dir = other.save(tmp_path / "v2")
    seen: list[str] = []
    loaded = _counting(Defender.load(other_dir, device="cpu"), seen)
    assert loaded.weights_id != base.weights_id
    loaded.score(TEXTS)
    assert len(seen) == len(TEXTS)

    # weights that can still change carry no fingerprint and always reach the model
    trainable = Defender.load(folder, device="cpu", trainable=True)
    assert trainable.weights_id is None
    seen = []
    _counting(trainable, seen)
    trainable.score(TEXTS)
    trainable.score(TEXTS)
    assert len(seen) == 2 * len(TEXTS)

    # weights written in place (here by hand) drop the fingerprint: the cache never serves the old scores
    edited = Defender.load(folder, device="cpu")
    assert edited.weights_id == base.weights_id
    before = edited.score(TEXTS)
    with torch.no_grad():
        edited.model.classifier.bias += torch.tensor([2.0, -2.0])
    assert edited.weights_id is None
    assert edited.score(TEXTS) != before
    unmerged = Defender.load(folder, device="cpu", merge=False)
    assert unmerged.weights_id not in (None, base.weights_id)
    assert unmerged.merge().weights_id == unmerged.weights_id and unmerged.weights_id.endswith(":merged")

    # training a loaded (merged) defender in place drops its fingerprint
    from arena.defend import train_defender

    merged = Defender.load(folder, device="cpu")
    assert merged.weights_id is not None
    for p in merged.model.parameters():
        p.requires_grad_(True)
    train_defender(merged, TEXTS, [1, 0, 1, 0], TEXTS, [1, 0, 1, 0], cfg.train.model_copy(update={"epochs": 1, "batch_size": 4}), seed=1,
                   progress=False)
    assert merged.weights_id is None

    # ARENA_SCORE_CACHE=0 turns it off; a bad value is named
    monkeypatch.setenv("ARENA_SCORE_CACHE", "0")
    off = classifier.ScoreCache.from_env()
    assert off.lookup(base.weights_id, TEXTS) is None
    monkeypatch.setenv("ARENA_SCORE_CACHE", "lots")
    with pytest.raises(classifier.ModelError, match="ARENA_SCORE_CACHE"):
        classifier.ScoreCache.from_env()


def test_bounded_in_weights_and_texts():
    from arena.defend.classifier import ScoreCache

    c = ScoreCache(max_texts=3, max_weights=2)
    assert c.lookup("a", ["x"]) == {}
    c.store("a", {"x": 0.1, "y": 0.2})
    c.lookup("b", [])
    c.store("b", {"x": 0.3})
    assert c.lookup("a", ["x", "z"]) == {"x": 0.1} and (c.hits, c.misses) == (1, 2)  # a is now the most recent
    c.lookup("c", [])  # ... so c pushes b out
    c.store("c", {str(i): 0.5 for i in range(5)})
    assert set(c._by_weights) == {"a", "c"}
    assert c.lookup("c", ["0", "1", "2", "3", "4"]) == {"2": 0.5, "3": 0.5, "4": 0.5}  # the oldest texts go first
    c.store("b", {"x": 0.9})  # pushed out meanwhile: nothing stored
    assert "b" not in c._by_weights
    assert c.lookup(None, ["x"]) is None and ScoreCache(max_texts=0).lookup("a", ["x"]) is None
