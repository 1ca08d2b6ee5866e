"""One whole round of the loop with a stub ``Services`` (no torch, no training): seconds, not minutes.

The stub defender flags a text when its prepared words (canonicaliser + rules.json, exactly as the
real ``Defender.prepare``) hit its word list; "training" adds the prepared non-words of label-1
texts to that list. That is enough to check the round's contract end to end: pools, frozen
suite, live attacks, the label-balanced training set, mined rules versioned with the challenger,
the gate, promotion, records and state.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from arena.arena import Campaign, Services
from arena.config import load_config
from arena.defend.canonical import Canonicalizer
from arena.defend.rules import Rule, RuleSet

pytestmark = pytest.mark.usefixtures("mirror")
INSULTS = ["idiot", "stupid", "fuck", "shit", "moron", "bitch", "dumb", "ass", "hate", "liar", "loser",
           "pathetic", "ugly", "trash", "disgusting", "evil", "fucking", "crap", "hell", "damn"]


class StubScorer:
    def __init__(self, folder: Path, version: str) -> None:
        spec = json.loads((folder / "defender.json").read_text())
        self.canon = Canonicalizer.from_spec(spec["canonicalizer"])
        self.rules = RuleSet.load(folder)
        self.words = set(json.loads((folder / "vocab.json").read_text()))
        self.version = version

    def prepare(self, text: str) -> str:
        return self.rules(self.canon(text))

    def score(self, texts):
        return [0.9 if {w.strip(".,!?").lower() for w in self.prepare(t).split()} & self.words else 0.1
                for t in texts]


class StubServices(Services):
    trained: list[dict] = []

    def scorer(self, version: str):
        return StubScorer(self.registry.resolve(version)[1], version)

    def train_challenger(self, champion_version, texts, labels, val_texts, val_labels, rnd, seed, tags, rules=()):
        from arena.defend.canonical import is_known

        src = self.registry.resolve(champion_version)[1]
        folder = self.out / "models" / f"round-{rnd}"
        shutil.copytree(src, folder, dirs_exist_ok=True)
        RuleSet.load(src).merged(Rule(**r) for r in rules).save(folder)
        old = StubScorer(folder, "new")
        words = set(old.words)
        for t, y in zip(texts, labels, strict=True):
            if y == 1.0:
                words |= {w.strip(".,!?").lower() for w in old.prepare(t).split() if len(w) > 3 and not is_known(w)}
        (folder / "vocab.json").write_text(json.dumps(sorted(words)))
        StubServices.trained.append({"round": rnd, "n": len(texts), "rules": len(rules)})
        with self.registry.run(f"challenger-round-{rnd}", tags=tags, nested=True) as run:
            return self.registry.register(folder, run.info.run_id, tags={"round": rnd})


    def blend_challenger(self, champion_version, trained_version, alpha, rnd, tags):
        """The stub's weights are its word list: the champion's words plus a share ``alpha`` of the new ones."""
        start = self.registry.resolve(champion_version)[1]
        trained = self.registry.resolve(trained_version)[1]
        folder = self.out / "models" / f"round-{rnd}-blend{alpha:g}"
        shutil.copytree(trained, folder, dirs_exist_ok=True)
        old = json.loads((start / "vocab.json").read_text())
        new = sorted(set(json.loads((trained / "vocab.json").read_text())) - set(old))
        (folder / "vocab.json").write_text(json.dumps(old + new[: round(alpha * len(new))]))
        with self.registry.run(f"blend-round-{rnd}", tags=tags, nested=True) as run:
            return self.registry.register(folder, run.info.run_id, tags={"round": rnd, "candidate": "blend"})


# the two campaign sizes these tests run: five strategies on 20-text pools, three on 10-text pools
FIVE = dict(strategies="leet,typos,masking,separators,phonetic", pool=20, train_pool=60, live=10, train=60, per=6)
THREE = dict(strategies="leet,typos,phonetic", pool=10, train_pool=20, live=6, train=20, per=4)


def stub_config(repo_root: Path, strategies: str, pool: int, train_pool: int, live: int, train: int, per: int,
                extra: tuple[str, ...] = ()):
    """configs/test.yaml cut down to a stub campaign of seconds (``extra``: more ``key=value`` overrides)."""
    return load_config(repo_root / "configs/test.yaml", overrides=[
        f"attack.strategies=[{strategies}]", "attack.search=greedy",
        f"campaign.eval_pool_size={pool}", f"campaign.benign_pool_size={pool}",
        f"campaign.attack_train_pool_size={train_pool}", f"campaign.live_eval_attacks={live}",
        f"campaign.train_attacks={train}", f"campaign.retrain.perturbed_per_strategy={per}",
        "campaign.retrain.replay_distill=0", "campaign.gate.bootstrap=100",
        # the stub reads a word list through the canonicaliser: with the spelling refinements it reads most typo'd
        # insults back and the stub attacker finds too few evasions to retrain; these tests are about the round
        "defender.canonicalizer.spell_negative=false", "defender.canonicalizer.segment_joined=false",
        "defender.canonicalizer.spell_swapped_case=false",
        # the stub's new weights lead by a handful of items, which the default sign test (0.05) would not send:
        # these tests are about the other candidates; test_min_lead_p_* sets it back
        "campaign.retrain.select_min_lead_p=null", *extra,
    ])


def _register_baseline(cfg, tmp_path: Path, out: Path):
    """The round-0 champion: a registered folder the stub reads (its spec, its words, no rules)."""
    from arena.registry import CHAMPION, Registry

    base = tmp_path / "baseline"
    base.mkdir()
    (base / "defender.json").write_text(json.dumps({"threshold": 0.5, "canonicalizer": cfg.defender.canonicalizer.model_dump()}))
    (base / "vocab.json").write_text(json.dumps(INSULTS))
    reg = Registry.from_config(cfg, out)
    with reg.run("baseline") as run:
        reg.set_alias(CHAMPION, reg.register(base, run.info.run_id), round=0, reason="baseline")
    return reg


def test_one_round_with_stub_services(tmp_path: Path, repo_root: Path):
    cfg = stub_config(repo_root, **FIVE, extra=("campaign.gate.max_clean_f1_drop=1.0", "campaign.gate.max_fpr_rise=1.0"))
    out = tmp_path / "run"
    reg = _register_baseline(cfg, tmp_path, out)

    StubServices.trained = []
    summary = Campaign(cfg, out, progress=False, services_factory=StubServices).run(rounds=1)
    r0, r1 = summary["rounds"]
    assert r0["gate"] is not None and r1["gate"] is None  # round 0 retrains, the last round does not
    ts = r0["training_set"]
    assert ts["replay"] > 0 and ts["benign_perturbed"] > ts["perturbed_toxic"] > 0
    assert StubServices.trained and StubServices.trained[0]["round"] == 0
    assert summary["heldout_strategies"] == ["phonetic"]
    # the challenger's folder holds the round's mined rules (the gate judged rules + weights together)
    if ts["evasions"]:
        assert ts["rules"]["candidates"] >= ts["rules"]["admitted"]
    challenger = r0["gate"]["challenger_version"]
    rules = RuleSet.load(reg.resolve(challenger)[1])
    assert len(rules) == StubServices.trained[0]["rules"]
    if r0["promoted"]:
        assert r1["champion_version"] == challenger
    state = json.loads((out / "state.json").read_text())
    assert state["next_round"] == 2 and [r["round"] for r in state["rounds"]] == [0, 1]


class FlagAll(StubScorer):
    def score(self, texts):
        return [0.9 for _ in texts]


class FlagAllServices(StubServices):
    def scorer(self, version: str):
        return FlagAll(self.registry.resolve(version)[1], version)


@pytest.mark.parametrize(("below", "retrains"), [(1.0, True), (0.97, False)])
def test_retrain_trigger_when_the_champion_stops_every_live_attack(tmp_path: Path, repo_root: Path, below, retrains):
    """retrain_below=1.0 means every round, even when live detection is 100%; below that, a
    champion that stops every live attack is not retrained."""
    cfg = stub_config(repo_root, **THREE, extra=(f"campaign.retrain_below={below}",))
    out = tmp_path / "run"
    _register_baseline(cfg, tmp_path, out)
    summary = Campaign(cfg, out, progress=False, services_factory=FlagAllServices).run(rounds=1)
    r0 = summary["rounds"][0]
    assert r0["live_attack_success"] == 0.0
    assert (r0["gate"] is not None) is retrains


class ForgetfulServices(StubServices):
    """Training forgets every word: the new weights lose what the champion detected."""

    def train_challenger(self, champion_version, texts, labels, val_texts, val_labels, rnd, seed, tags, rules=()):
        version = super().train_challenger(champion_version, texts, labels, val_texts, val_labels, rnd, seed,
                                           tags, rules)
        (self.registry.resolve(version)[1] / "vocab.json").write_text("[]")
        return version


def test_val_probe_keeps_the_champions_weights_when_new_ones_forget(tmp_path: Path, repo_root: Path):
    """The val probe (val texts only) sees the forgetful weights lose detection and passes the new
    rules on the champion's weights to the gate instead (or no challenger when there are no new rules)."""
    cfg = stub_config(repo_root, **FIVE)
    out = tmp_path / "run"
    reg = _register_baseline(cfg, tmp_path, out)
    summary = Campaign(cfg, out, progress=False, services_factory=ForgetfulServices).run(rounds=1)
    r0 = summary["rounds"][0]
    sel = r0["selection"]
    state = json.loads((out / "state.json").read_text())
    probe = state["val_probe"]
    assert probe["toxic"] and probe["benign"] and len(probe["clean_texts"]) == 64
    assert set(probe["toxic_strategy"]) <= {"leet", "typos", "masking", "separators"}  # never the held-out family
    val = set(load_splits_texts(cfg, "val"))
    assert set(probe["clean_texts"]) <= val
    forgot = sel["candidates"]["weights"]
    assert forgot["detection"] < sel["champion"]["detection"]
    assert sel["chosen"] != "weights" and set(sel["candidates"]) >= {"weights", "blend0.5"}
    if sel["chosen"] == "blend0.5":  # the champion's words came back: the blend detects what it did
        assert sel["candidates"]["blend0.5"]["detection"] >= sel["champion"]["detection"]
    elif sel["chosen"] == "rules":
        version = r0["gate"]["challenger_version"]
        folder = reg.resolve(version)[1]
        assert json.loads((folder / "vocab.json").read_text()) == INSULTS  # the champion's weights
        assert len(RuleSet.load(folder)) == r0["training_set"]["rules"]["admitted"]
    else:
        assert sel["chosen"] == "champion" and r0["gate"] is None and not r0["promoted"]


class EagerScorer(StubScorer):
    """Scores every text it does not flag at ``eager.json`` (when the folder has one) instead of 0.1:
    weights that learned to call everything a little more toxic."""

    def __init__(self, folder: Path, version: str) -> None:
        super().__init__(folder, version)
        f = folder / "eager.json"
        self.low = json.loads(f.read_text()) if f.is_file() else 0.1

    def score(self, texts):
        return [0.9 if s > 0.5 else self.low for s in super().score(texts)]


class EagerServices(StubServices):
    """Training keeps the champion's words (the new rules do the work) but raises every other score to
    0.6, over the 0.5 threshold: at its own threshold the new weights flag every non-toxic text."""

    def scorer(self, version: str):
        return EagerScorer(self.registry.resolve(version)[1], version)

    def train_challenger(self, champion_version, texts, labels, val_texts, val_labels, rnd, seed, tags, rules=()):
        version = super().train_challenger(champion_version, texts, labels, val_texts, val_labels, rnd, seed,
                                           tags, rules)
        folder = self.registry.resolve(version)[1]
        (folder / "vocab.json").write_text((self.registry.resolve(champion_version)[1] / "vocab.json").read_text())
        (folder / "eager.json").write_text("0.6")
        return version


def test_val_probe_matches_the_champions_fpr_by_moving_the_threshold(tmp_path: Path, repo_root: Path):
    """retrain.match_fpr: the eager weights are offered again at the lowest threshold at which their
    val-probe FPR is the champion's; picked, that operating point is registered with its threshold and
    is what the gate judges (on test)."""
    cfg = stub_config(repo_root, **FIVE, extra=("campaign.retrain.blend_alphas=[]",))
    out = tmp_path / "run"
    reg = _register_baseline(cfg, tmp_path, out)
    summary = Campaign(cfg, out, progress=False, services_factory=EagerServices).run(rounds=1)
    r0 = summary["rounds"][0]
    sel = r0["selection"]
    cands = sel["candidates"]
    assert cands["weights"]["fpr"] == 1.0  # at 0.5 every perturbed non-toxic val text is flagged
    m = cands["weights@fpr"]
    assert m["threshold"] == 0.6001 and m["fpr"] <= sel["champion"]["fpr"]
    assert m["of_version"] == cands["weights"]["version"]
    # same words and rules as the rules-only candidate at an operating point that undoes the eagerness:
    # equal probe numbers, and the first listed of equals wins
    assert (m["detection"], m["fpr"], m["clean_f1"]) == tuple(cands["rules"][k] for k in ("detection", "fpr", "clean_f1"))
    assert sel["chosen"] == "weights@fpr" and m["version"] == sel["version"] == r0["gate"]["challenger_version"]
    folder = reg.resolve(sel["version"])[1]
    assert json.loads((folder / "defender.json").read_text())["threshold"] == 0.6001
    assert (folder / "eager.json").is_file()  # the new weights, not the champion's
    assert r0["gate"]["challenger"]["threshold"] == 0.6001
    # off: no matched candidate, and the rules-only one goes to the gate
    cfg_off = stub_config(repo_root, **FIVE, extra=("campaign.retrain.blend_alphas=[]", "campaign.retrain.match_fpr=false"))
    out2 = tmp_path / "run2"
    (tmp_path / "b2").mkdir()
    _register_baseline(cfg_off, tmp_path / "b2", out2)
    sel2 = Campaign(cfg_off, out2, progress=False, services_factory=EagerServices).run(rounds=1)["rounds"][0]["selection"]
    assert "weights@fpr" not in sel2["candidates"] and sel2["chosen"] == "rules"


def test_min_lead_p_sends_the_rules_when_new_weights_lead_by_nothing(tmp_path: Path, repo_root: Path):
    """campaign.retrain.select_min_lead_p reaches the pick: the eager weights at their FPR-matched threshold tie
    the rules-only candidate on the probe (the first listed of equals would win, as above), but a tie is no
    significant lead on the paired items, so the smaller change (the new rules on the champion's weights) goes on."""
    cfg = stub_config(repo_root, **FIVE, extra=("campaign.retrain.blend_alphas=[]", "campaign.retrain.select_min_lead_p=0.05"))
    out = tmp_path / "run"
    _register_baseline(cfg, tmp_path, out)
    r0 = Campaign(cfg, out, progress=False, services_factory=EagerServices).run(rounds=1)["rounds"][0]
    sel = r0["selection"]
    assert "weights@fpr" in sel["candidates"] and sel["chosen"] == "rules"
    assert sel["version"] == r0["gate"]["challenger_version"] == sel["candidates"]["rules"]["version"]
    assert any("weights@fpr leads rules on 0 paired items, trails on 0 (sign test p=1.000): not significant at 0.05"
               in n for n in sel["notes"]), sel["notes"]


def test_perturbed_distill_targets_the_champions_score_of_the_original(tmp_path: Path, repo_root: Path):
    """retrain.perturbed_distill=1: every perturbed text (and evasion, and original) is trained toward
    the champion's P(toxic) of its clean original, so a perturbed non-toxic text the champion reads
    as non-toxic keeps its low target and a perturbed toxic one its high one; replay is untouched."""
    import pyarrow.parquet as pq

    cfg = stub_config(repo_root, **THREE, extra=("campaign.retrain.perturbed_distill=1.0",))
    out = tmp_path / "run"
    _register_baseline(cfg, tmp_path, out)
    Campaign(cfg, out, progress=False, services_factory=StubServices).run(rounds=1)
    rows = pq.read_table(out / "train_sets" / "round=0.parquet").to_pylist()
    perturbed = [r for r in rows if r["source"] != "replay"]
    assert perturbed and {r["label"] for r in perturbed} <= {0.9, 0.1}  # the stub champion's two scores
    assert {r["label"] for r in rows if r["source"] == "original"} <= {0.9}  # flagged by the champion
    assert {r["label"] for r in rows if r["source"] == "replay"} <= {0.0, 1.0}  # replay_distill=0 here
    # hard labels without it
    cfg0 = stub_config(repo_root, **THREE, extra=("campaign.retrain.perturbed_distill=0",))
    (tmp_path / "b0").mkdir()
    out0 = tmp_path / "run0"
    _register_baseline(cfg0, tmp_path / "b0", out0)
    Campaign(cfg0, out0, progress=False, services_factory=StubServices).run(rounds=1)
    rows0 = pq.read_table(out0 / "train_sets" / "round=0.parquet").to_pylist()
    assert {r["label"] for r in rows0} <= {0.0, 1.0}


def test_train_set_keeps_each_texts_strategy_seed_and_record(tmp_path: Path, repo_root: Path):
    """OUT/train_sets/round=N.parquet is auditable: every evasion points at its attack record (same
    round, text id, strategy, seed, attacked text), every other text at the train split's text id."""
    import pyarrow.parquet as pq

    from arena.baseline import load_splits

    cfg = stub_config(repo_root, **THREE)
    out = tmp_path / "run"
    _register_baseline(cfg, tmp_path, out)
    camp = Campaign(cfg, out, progress=False, services_factory=StubServices)
    camp.run(rounds=1)
    rows = pq.read_table(out / "train_sets" / "round=0.parquet").to_pylist()
    assert rows and {"strategy", "seed", "record_id"} <= set(rows[0])
    records = {(f"round={r['round']}/pool=train/text_id={r['text_id']}", r["attacked"]): r
               for r in camp.records.read(pools=["train"]).to_pylist()}
    train_ids = {str(i) for i in load_splits(cfg)["train"].ids}
    evasions = [r for r in rows if r["source"].startswith("evasion:")]
    assert evasions, "the stub round should train on some evasions"
    for r in evasions:
        rec = records[(r["record_id"], r["text"])]
        assert rec["evaded"] and rec["strategy"] == r["strategy"] == r["source"].split(":", 1)[1]
        assert rec["seed"] == r["seed"]
    for r in rows:
        if r["source"] == "replay":
            assert r["strategy"] == "" and r["seed"] == 0 and r["record_id"].startswith("train:")
        elif r["source"].startswith("perturbed"):
            assert r["strategy"] == r["source"].split(":", 1)[1] and r["record_id"].startswith("train:")
        if r["record_id"].startswith("train:"):
            assert r["record_id"][len("train:"):] in train_ids


def test_matched_threshold():
    from arena.probe import matched_threshold

    scores = [0.95, 0.8, 0.7, 0.62, 0.55, 0.3, 0.2, 0.1, 0.05, 0.01]
    # own 0.5: 5 of 10 flagged; 20% allowed -> only the two highest stay flagged
    thr = matched_threshold(scores, 0.2, 0.5)
    assert thr == 0.7001 and sum(s >= thr for s in scores) == 2
    assert matched_threshold(scores, 0.5, 0.5) is None  # already at the target
    assert matched_threshold(scores, 0.0, 0.5) == 0.9501
    assert matched_threshold([], 0.1, 0.5) is None
    assert matched_threshold([1.0, 1.0], 0.0, 0.5) is None  # no threshold <= 1 gets there


def load_splits_texts(cfg, split: str) -> list[str]:
    from arena.baseline import load_splits

    return load_splits(cfg)[split].texts


def test_select_candidate_rules():
    from arena.probe import ProbeResult, select_candidate

    champ = ProbeResult("1", detection=0.80, fpr=0.05, clean_f1=0.76)
    better = ProbeResult("2", detection=0.90, fpr=0.06, clean_f1=0.755)
    rules = ProbeResult("3", detection=0.85, fpr=0.05, clean_f1=0.76)
    assert select_candidate(champ, [("weights", better), ("rules", rules)], 0.01, 0.02)[0] == "weights"
    # clean F1 beyond the gate's limit: the weights are not admissible
    worse_f1 = ProbeResult("2", detection=0.95, fpr=0.05, clean_f1=0.74)
    name, notes = select_candidate(champ, [("weights", worse_f1), ("rules", rules)], 0.01, 0.02)
    assert name == "rules" and "outside the limits: val F1 -0.0200" in notes[0]
    # FPR beyond the limit
    worse_fpr = ProbeResult("2", detection=0.95, fpr=0.08, clean_f1=0.76)
    assert select_candidate(champ, [("weights", worse_fpr), ("rules", rules)], 0.01, 0.02)[0] == "rules"
    # equal detection: the first listed (the new weights) wins; none admissible: the last listed
    same = ProbeResult("2", detection=0.85, fpr=0.05, clean_f1=0.76)
    assert select_candidate(champ, [("weights", same), ("rules", rules)], 0.01, 0.02)[0] == "weights"
    # equal detection, lower FPR (an FPR-matched threshold) wins; then higher clean F1
    matched = ProbeResult("2@0.41", detection=0.85, fpr=0.04, clean_f1=0.75)
    assert select_candidate(champ, [("weights", same), ("weights@fpr", matched)], 0.01, 0.02)[0] == "weights@fpr"
    sharper = ProbeResult("4", detection=0.85, fpr=0.05, clean_f1=0.765)
    assert select_candidate(champ, [("weights", same), ("blend", sharper)], 0.01, 0.02)[0] == "blend"
    # the limits hold against round 0 too: a champion 0.8 points below the baseline leaves 0.2 to spend
    base = ProbeResult("0", detection=0.78, fpr=0.04, clean_f1=0.768)
    spends = ProbeResult("5", detection=0.90, fpr=0.05, clean_f1=0.755)  # -0.5 vs champion, -1.3 vs round 0
    keeps = ProbeResult("6", detection=0.84, fpr=0.05, clean_f1=0.760)
    assert select_candidate(champ, [("weights", spends), ("rules", keeps)], 0.01, 0.02)[0] == "weights"
    name, notes = select_candidate(champ, [("weights", spends), ("rules", keeps)], 0.01, 0.02, baseline=base)
    assert name == "rules" and "val F1 -0.0130 vs round 0" in notes[0]
    loud = ProbeResult("7", detection=0.95, fpr=0.065, clean_f1=0.76)  # FPR +1.5 vs champion, +2.5 vs round 0
    assert select_candidate(champ, [("weights", loud), ("rules", keeps)], 0.01, 0.02, baseline=base)[0] == "rules"
    # a reserve: against round 0 only half of each limit may be spent on the probe (the champion's limits stay)
    half = ProbeResult("8", detection=0.90, fpr=0.05, clean_f1=0.761)  # -0.7 vs round 0: within 1.0, not 0.5
    safe = ProbeResult("9", detection=0.83, fpr=0.05, clean_f1=0.765)  # -0.3 vs round 0
    pair = [("weights", half), ("blend", safe), ("rules", keeps)]
    assert select_candidate(champ, pair, 0.01, 0.02, baseline=base)[0] == "weights"
    name, notes = select_candidate(champ, pair, 0.01, 0.02, baseline=base, reserve=0.5)
    assert name == "blend" and "val F1 -0.0070 vs round 0" in notes[0]
    assert select_candidate(champ, [("weights", half)], 0.01, 0.02, baseline=champ, reserve=0.5)[0] == "weights"
    assert select_candidate(champ, [("weights", worse_f1), ("champion", champ)], 0.01, 0.02)[0] == "champion"
    assert select_candidate(champ, [("weights", worse_f1), ("rules", worse_fpr)], 0.01, 0.02)[0] == "rules"



def test_select_candidate_never_sends_a_probe_loser():
    """Seed 1 of the 100-text probe, rounds 5-7 (docs/retrain.md): the rules-only candidate was outside the
    round-0 reserve, and a blend that detected less than the champion went to the gate in its place; now
    such a candidate is not admissible and the smallest change goes."""
    from arena.probe import ProbeResult, select_candidate

    champ, base = ProbeResult("13", 0.930, 0.110, 0.77), ProbeResult("1", 0.900, 0.100, 0.77)
    blend_fpr = ProbeResult("20", 0.918, 0.110, 0.77)  # inside every limit, but 1.2 points less detection
    rules = ProbeResult("19", 0.931, 0.117, 0.77)  # +1.7 FPR vs round 0: outside the reserve of half the +2
    name, notes = select_candidate(champ, [("blend0.5@fpr", blend_fpr), ("rules", rules)], 0.01, 0.02,
                                   baseline=base, reserve=0.5)
    assert name == "rules" and "detects less than the champion" in notes[0]

def test_select_candidate_min_lead_p():
    """With min_lead_p, new weights that lead the rules-only candidate by a few paired items (val noise)
    do not go to the gate; a significant lead does; an inadmissible smaller change is never sent for it."""
    from arena.probe import ProbeResult, select_candidate, sign_test_p

    assert sign_test_p(0, 0) == 1.0 and sign_test_p(3, 0) == 0.125 and sign_test_p(0, 3) == 1.0
    assert abs(sign_test_p(5, 1) - 7 / 64) < 1e-12 and sign_test_p(9, 0) < 0.002

    def res(version, hits, fpr=0.05, f1=0.76):
        return ProbeResult(version, sum(hits) / len(hits), fpr, f1, tuple(hits))

    n = 560
    champ = res("1", [True] * 500 + [False] * 60)
    rules = res("3", [True] * 501 + [False] * 59)
    noisy = res("2", [True] * 499 + [False] * 2 + [True] * 4 + [False] * 55)  # vs the rules: 4 gained, 2 lost
    assert sum(noisy.hits) == 503 and len(noisy.hits) == n
    pair = [("weights", noisy), ("rules", rules)]
    assert select_candidate(champ, pair, 0.01, 0.02)[0] == "weights"  # without the test: the higher detection
    name, notes = select_candidate(champ, pair, 0.01, 0.02, min_lead_p=0.05)
    assert name == "rules" and "leads rules on 4 paired items, trails on 2" in notes[-1]
    assert "not significant at 0.05" in notes[-1]
    strong = res("4", [True] * 520 + [False] * 40)  # 19 items more, none fewer
    name, notes = select_candidate(champ, [("weights", strong), ("rules", rules)], 0.01, 0.02, min_lead_p=0.05)
    assert name == "weights" and "leads rules on 19 paired items, trails on 0" in notes[-1]
    # the smaller change outside the limits: the test does not send it
    loud_rules = res("5", [True] * 501 + [False] * 59, fpr=0.09)
    assert select_candidate(champ, [("weights", noisy), ("rules", loud_rules)], 0.01, 0.02,
                            min_lead_p=0.05)[0] == "weights"
    # the champion as the smallest change: no significant lead, no challenger
    assert select_candidate(champ, [("weights", noisy), ("champion", champ)], 0.01, 0.02,
                            min_lead_p=0.05)[0] == "champion"
    # no paired items (results built without hits): the test is skipped and says so
    bare = [("weights", ProbeResult("2", 0.9, 0.05, 0.76)), ("rules", ProbeResult("3", 0.8, 0.05, 0.76))]
    name, notes = select_candidate(champ, bare, 0.01, 0.02, min_lead_p=0.05)
    assert name == "weights" and "lead test skipped" in notes[-1]
    assert "hits" not in strong.to_dict()
    with pytest.raises(ValueError):
        select_candidate(champ, [], 0.01, 0.02)


def test_a_moved_campaign_folder_resumes(tmp_path: Path, repo_root: Path):
    """``mv runs/a runs/b`` then resume: the registry follows the folder, new versions land in it."""
    cfg = stub_config(repo_root, **THREE)
    a = tmp_path / "a"
    _register_baseline(cfg, tmp_path, a)
    shutil.rmtree(tmp_path / "baseline")  # the registry's own copy is what counts
    Campaign(cfg, a, progress=False, services_factory=StubServices).run(rounds=0)  # round 0 only
    b = tmp_path / "archive" / "b"
    b.parent.mkdir()
    shutil.move(str(a), str(b))
    summary = Campaign(cfg, b, progress=False, services_factory=StubServices).run(rounds=2)
    assert [r["round"] for r in summary["rounds"]] == [0, 1, 2]
    from arena.registry import Registry

    reg = Registry.from_config(cfg, b)
    rows = reg.list_versions()
    assert any(r["tags"].get("round") == "1" for r in rows), rows  # round 1 trained after the move
    for row in rows:
        assert reg.resolve(row["version"])[1].is_relative_to(b.resolve())
    assert not a.exists()
