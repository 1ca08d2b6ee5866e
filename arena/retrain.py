"""A round's retraining: the training set in which perturbation carries no label, the rules mined
from the train-pool evasions, and the one challenger-training function.

    builder = RetrainSetBuilder(cfg, out, records, registry, services, attacker, threshold_of, train_strategies)
    ts = builder.build(state, rnd, splits)            # TrainingSet: texts, labels, provenance, rules
    write_train_set(out / "train_sets", rnd, ts)      # auditable: strategy, seed and record of every text
    folder, result, defender = train_challenger(cfg, champion_path, ts.texts, ts.labels, val_t, val_y, seed=s)

``train_challenger`` is called by the in-process loop (``arena.arena.Services``), the Ray task
(``arena.actors``) and every Tune trial (``arena.tune.trainable``), so all three train the same way.
No Ray here; torch only inside the training functions.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena.records import atomic_write_text
from arena.review import rejected_texts


@dataclass
class TrainingSet:
    """One round's retrain set: texts, labels (0/1 or soft), where each text came from, and new rules."""

    texts: list[str]
    labels: list[float]
    sources: list[str]  # replay | original | evasion:<strategy> | perturbed<label>:<strategy>
    info: dict[str, Any]
    rules: list[dict[str, Any]] = field(default_factory=list)  # arena.defend.rules.Rule fields
    # provenance, parallel to texts (OUT/train_sets/round=N.parquet): the strategy ("" for clean
    # texts), its seed (0 for clean texts), and where the text came from: the attack record of an
    # evasion ("round=R/pool=train/text_id=T") or the train split's text id ("train:ID")
    strategies: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)

    def subset(self, keep: Sequence[int]) -> None:
        """Keep only the texts at the indices ``keep`` (every parallel column)."""
        for name in ("texts", "labels", "sources", "strategies", "seeds", "record_ids"):
            col = getattr(self, name)
            if col:
                setattr(self, name, [col[i] for i in keep])


class RetrainSetBuilder:
    """Builds a round's :class:`TrainingSet` from the campaign's records, pools and splits; caches the
    clean train texts as the current champion's layers read them (for rule admission)."""

    def __init__(self, cfg, out: Path, records, registry, services, attacker, threshold_of: Callable[[str], float],
                 train_strategies: Sequence[str]) -> None:
        self.cfg, self.out, self.records, self.registry = cfg, Path(out), records, registry
        self.services, self.attacker, self.threshold_of = services, attacker, threshold_of
        self.train_strategies = list(train_strategies)
        self.family_sets = attacker.family_sets
        # (champion, number of train texts) -> the clean train texts behind that champion's layers
        self._clean_prepared: tuple[tuple[str, int], list[str]] | None = None

    def build(self, state, rnd: int, splits) -> TrainingSet:
        """A round's retrain set, in which perturbation carries no label, and the rules mined for it.

        - clean replay: ``retrain.replay_size`` train texts (soft labels with ``retrain.replay_distill``);
        - per trained strategy, ``retrain.perturbed_per_strategy`` toxic perturbed texts: its valid
          train-pool evasions (latest first, all rounds so far), each with its clean original, then
          random toxic train texts perturbed by the same strategy; and non-toxic train texts perturbed
          by it at the train split's non-toxic:toxic ratio (``retrain.benign_ratio``). The proportions
          are the same every round, however many evasions have accumulated;
        - rules (``retrain.mine_rules``): variant -> word pairs mined from the train-pool evasions,
          admitted against clean train tokens and the champion's FPR on the perturbed benign texts.
        Nothing derived from the test split may enter (a runtime guard, counted in the info).
        """
        import pyarrow.compute as pc

        rc = self.cfg.campaign.retrain
        rng = random.Random(self.cfg.seed * 31 + rnd)
        train = splits["train"].rows()
        replay = rng.sample(train, min(rc.replay_size, len(train)))
        toxic_train = [(i, t) for i, t, y in train if y == 1]
        n_tox = max(1, len(toxic_train))
        ratio = rc.benign_ratio if rc.benign_ratio is not None else (len(train) - n_tox) / n_tox
        ev = self.records.read(pools=["train"], complete_only=False)
        ev = ev.filter(pc.and_(ev["evaded"], ev["valid"]))
        rejected = rejected_texts(self.out)  # a human reviewer said these lost their meaning
        seen: dict[str, tuple[str, str]] = {}
        where: dict[str, tuple[int, str]] = {}  # evasion -> (its strategy seed, its record)
        for att, orig, strat, r_round, r_id, r_seed in zip(
                ev["attacked"].to_pylist(), ev["original"].to_pylist(), ev["strategy"].to_pylist(),
                ev["round"].to_pylist(), ev["text_id"].to_pylist(), ev["seed"].to_pylist(), strict=True):
            if att and att not in rejected and strat in self.train_strategies:
                seen.pop(att, None)
                seen[att] = (orig, strat)  # insertion order = record order: the latest last
                where[att] = (int(r_seed or 0), f"round={r_round}/pool=train/text_id={r_id}")
        evasions = list(seen.items())[max(0, len(seen) - rc.max_evasions):] if rc.max_evasions else []
        by_strategy: dict[str, list[tuple[str, str]]] = {}
        for att, (orig, strat) in reversed(evasions):  # latest first
            by_strategy.setdefault(strat, []).append((att, orig))
        pools = state.pools
        llm_cap = self.cfg.campaign.llm_attacks_per_round
        texts: list[str] = []
        labels: list[float] = []
        sources: list[str] = []
        origins: list[str] = []  # each text's clean original (itself for an original)
        strats: list[str] = []
        seeds: list[int] = []
        rec_ids: list[str] = []
        jobs: list[tuple[tuple[str, str], str, int]] = []  # (item, strategy, label) to perturb untargeted
        used_ev = 0
        for strat in self.train_strategies:
            quota = rc.perturbed_per_strategy
            if "llm" in self.family_sets[strat]:  # seconds per text on CPU: toxic + benign within the round's cap
                quota = min(quota, max(1, round(llm_cap / (1 + ratio)))) if llm_cap else 0
            mine = by_strategy.get(strat, [])[:quota]
            used_ev += len(mine)
            for att, orig in mine:
                texts.append(att), labels.append(1.0), sources.append(f"evasion:{strat}"), origins.append(orig)
                strats.append(strat), seeds.append(where[att][0]), rec_ids.append(where[att][1])
                if rc.pair_originals:
                    texts.append(orig), labels.append(1.0), sources.append("original"), origins.append(orig)
                    strats.append(""), seeds.append(0), rec_ids.append(where[att][1])
            extra = quota - len(mine)
            if extra > 0 and toxic_train:
                jobs += [(x, strat, 1) for x in rng.sample(toxic_train, min(extra, len(toxic_train)))]
            n_ben = round(quota * ratio)
            if n_ben and pools.benign_train:
                jobs += [(x, strat, 0) for x in rng.sample(pools.benign_train, min(n_ben, len(pools.benign_train)))]
        perturbed_benign: list[str] = []
        if jobs:
            seed = self.cfg.seed * 4099 + rnd
            tox_jobs = [j for j in jobs if j[2] == 1]
            ben_jobs = [j for j in jobs if j[2] == 0]
            results = self.attacker.attack([j[0] for j in tox_jobs], lambda k: tox_jobs[k][1], seed, None, n=1,
                                           targeted=False)
            hard = rc.hard_negatives
            # non-toxic texts: the hardest of ``hard_negatives`` perturbations (the champion's highest score),
            # to pull against the evasions, which are hard positives by construction
            results += self.attacker.attack([j[0] for j in ben_jobs], lambda k: ben_jobs[k][1], seed + 1,
                                            self.services.scorer(state.champion_version) if hard > 1 else None,
                                            n=hard, targeted=False, prefer="high")
            for (_k, cand, _), ((src_id, orig), strat, y) in zip(results, tox_jobs + ben_jobs, strict=True):
                if cand is not None:
                    texts.append(cand.text), labels.append(float(y)), sources.append(f"perturbed{y}:{strat}")
                    origins.append(orig)
                    strats.append(strat), seeds.append(int(cand.seed or 0)), rec_ids.append(f"train:{src_id}")
                    if y == 0:
                        perturbed_benign.append(cand.text)
        replay_labels: list[float] = [y for *_, y in replay]
        champion = state.champion_version
        if rc.perturbed_distill > 0 and texts:  # perturbation should not move the score: the champion's on the original
            uniq = list(dict.fromkeys(origins))
            teacher = dict(zip(uniq, self.services.scorer(champion).score(uniq), strict=True))
            w = rc.perturbed_distill
            labels = [round((1 - w) * y + w * float(teacher[o]), 6) for y, o in zip(labels, origins, strict=True)]
        if rc.replay_distill > 0 and replay:  # distil the champion on clean texts: retain what it knew
            teacher = self.services.scorer(champion).score([t for _, t, _ in replay])
            w = rc.replay_distill
            replay_labels = [round((1 - w) * y + w * float(p), 6) for y, p in zip(replay_labels, teacher, strict=True)]
        texts = [t for _, t, _ in replay] + texts
        labels = replay_labels + labels
        sources = ["replay"] * len(replay) + sources
        strats = [""] * len(replay) + strats
        seeds = [0] * len(replay) + seeds
        rec_ids = [f"train:{i}" for i, _, _ in replay] + rec_ids
        # the honesty guard: nothing derived from the test split may enter training
        forbidden = self.forbidden_texts(state)
        keep = [i for i, t in enumerate(texts) if t not in forbidden]
        dropped = len(texts) - len(keep)
        ts = TrainingSet(texts, labels, sources, {}, [], strats, seeds, rec_ids)
        ts.subset(keep)
        texts, labels, sources = ts.texts, ts.labels, ts.sources
        info: dict[str, Any] = {
            "replay": len(replay), "evasions": used_ev, "evasions_available": len(evasions),
            "perturbed_toxic": sum(s.startswith("perturbed1") for s in sources),
            "benign_perturbed": sum(s.startswith("perturbed0") for s in sources),
            "originals": sum(s == "original" for s in sources), "dropped_test_overlap": dropped,
        }
        rules: list[dict[str, Any]] = []
        if rc.mine_rules and evasions:
            rules, report = self.mine_rules(champion, evasions, train, perturbed_benign, rnd)
            info["rules"] = report
        ts.info, ts.rules = info, rules
        return ts

    def mine_rules(self, champion: str, evasions, train, perturbed_benign: list[str], rnd: int):
        """Rules from the train-pool evasions, behind the champion's canonicaliser and rules."""
        from dataclasses import asdict

        from arena.defend.classifier import Defender
        from arena.defend.rules import RuleSet, admit_rules, mine_rules

        path = self.registry.resolve(champion)[1]
        # the text as the rules read it: the champion's canonicaliser and rules, before its spelling step
        prepare = Defender.read_input_layers(path, spell=False)
        base = RuleSet.load(path)

        mined = mine_rules(((att, orig, strat) for att, (orig, strat) in evasions), prepare, rnd=rnd,
                           fuzzy=self.cfg.campaign.retrain.fuzzy_rules,
                           rare_words=self.cfg.campaign.retrain.rare_word_rules)
        # the clean train texts behind the champion's layers: the same for every round it stays champion
        if self._clean_prepared is None or self._clean_prepared[0] != (champion, len(train)):
            self._clean_prepared = ((champion, len(train)), [prepare(t) for _, t, _ in train])
        clean = self._clean_prepared[1]
        scorer = self.services.scorer(champion)
        admitted, report = admit_rules(mined, clean, [prepare(t) for t in perturbed_benign], scorer.score,
                                       self.threshold_of(champion), base=base,
                                       max_clean_share=self.cfg.campaign.retrain.rule_max_clean_share)
        report["champion_rules"] = len(base)
        return [asdict(r) for r in admitted], report

    def forbidden_texts(self, state) -> set[str]:
        """Every text derived from the test split: the eval and benign pools, both suites, every live attack."""
        pools = state.pools
        forbidden = {t for _, t in pools.eval} | {t for _, t in pools.benign}
        forbidden |= {x.attacked for x in state.frozen} | {x.attacked for x in state.benign}
        live = self.records.read(pools=["live"], complete_only=False)["attacked"].to_pylist()
        forbidden |= {t for t in live if t}
        return forbidden


def write_train_set(folder: Path, rnd: int, ts: TrainingSet) -> None:
    """OUT/train_sets/round=N.parquet (text, label, source, strategy, seed, record_id) and its rules, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(exist_ok=True)
    tmp = folder / f".round={rnd}.parquet.tmp"
    n = len(ts.texts)
    pq.write_table(pa.table({"text": pa.array(ts.texts, pa.string()),
                             "label": pa.array([float(y) for y in ts.labels], pa.float64()),
                             "source": pa.array(ts.sources, pa.string()),
                             "strategy": pa.array(ts.strategies or [""] * n, pa.string()),
                             "seed": pa.array(ts.seeds or [0] * n, pa.int64()),
                             "record_id": pa.array(ts.record_ids or [""] * n, pa.string())}), tmp)
    if ts.rules:
        atomic_write_text(folder / f"round={rnd}.rules.json", json.dumps(ts.rules, indent=1))
    tmp.replace(folder / f"round={rnd}.parquet")


def train_challenger(cfg, champion_path: str | Path, texts: list[str], labels: list[float],
                     val_texts: list[str], val_labels: list[int], *, seed: int,
                     rules: Sequence[dict[str, Any]] = (), folder: str | Path | None = None,
                     lora: dict[str, Any] | None = None, dropout: float | None = None,
                     on_epoch: Callable[[Any, dict[str, float]], None] | None = None, progress: bool = False,
                     **train_update: Any):
    """The one challenger-training function: the in-process loop (``Services``), the Ray task
    (``arena.actors``) and every Tune trial (``arena.tune.trainable``) call it.

    The challenger is the champion's folder loaded trainable (a warm start), or, with ``lora``
    (``{"r", "alpha", "dropout"}``), a fresh adapter on the base model that keeps the champion's
    threshold, or, with ``campaign.retrain.method: full`` and a LoRA champion, the champion merged into
    its base with every weight trainable; either way it carries the champion's rules plus ``rules`` (challenger = rules +
    weights). ``dropout`` replaces a warm start's LoRA dropout. It trains with :func:`retrain_config`
    (plus ``train_update``), calls ``on_epoch(defender, row)`` after every epoch, and is saved to
    ``folder`` when given. Returns (folder or None, TrainResult, the trained defender).
    """
    from arena.defend import Defender, train_defender
    from arena.defend.rules import RuleSet

    full = cfg.campaign.retrain.method == "full"
    if lora is None and full and Defender.read_spec(champion_path).method != "full":
        # a full fine-tune from a LoRA champion: the adapter folded into the base, then every weight trains
        defender = Defender.load(champion_path, device=cfg.train.device, merge=True)
        for p in defender.model.parameters():
            p.requires_grad_(True)
        defender.spec.method, defender.spec.lora = "full", {}  # modules_to_save still names the head
    elif lora is None:
        defender = Defender.load(champion_path, device=cfg.train.device, trainable=True)  # its rules too
        if dropout is not None:
            set_lora_dropout(defender, float(dropout))
    else:
        dcfg = cfg.defender.model_copy(deep=True)
        dcfg.lora = dcfg.lora.model_copy(update={k: lora[k] for k in ("r", "alpha", "dropout") if k in lora})
        defender = Defender.create(dcfg, device=cfg.train.device, seed=seed)
        defender.spec.threshold = Defender.read_spec(champion_path).threshold  # kept unless re-calibrated
        defender.rules = RuleSet.load(champion_path)
    if rules:
        defender.rules = defender.rules.merged(rules)
    result = train_defender(defender, texts, labels, val_texts, val_labels, retrain_config(cfg, **train_update),
                            seed=seed, progress=progress,
                            on_epoch=None if on_epoch is None else (lambda row: on_epoch(defender, row)))
    return (defender.save(folder) if folder is not None else None), result, defender


def set_lora_dropout(defender, p: float) -> None:
    """Replace the LoRA dropout of a loaded adapter (peft uses Identity for p=0) and record it."""
    from torch import nn

    found = False
    for module in defender.model.modules():
        drops = getattr(module, "lora_dropout", None)
        if isinstance(drops, nn.ModuleDict):
            for name in list(drops.keys()):
                drops[name] = nn.Dropout(p) if p > 0 else nn.Identity()
                found = True
    if not found:
        return
    for pcfg in getattr(defender.model, "peft_config", {}).values():
        pcfg.lora_dropout = p
    defender.spec.lora = {**defender.spec.lora, "dropout": p}


def retrain_config(cfg, **update: Any):
    """The ``TrainConfig`` of a warm-started challenger (``campaign.retrain``), plus ``update``.

    One epoch budget, no early stopping, the (already trained) head at ``retrain.head_lr`` (default:
    the adapter's rate), and the threshold either re-calibrated on val or inherited from the
    champion (``retrain.calibrate_threshold``). Shared by the in-process loop, the Ray task and
    the Tune trials, so all three train the same way.
    """
    rc = cfg.campaign.retrain
    return cfg.train.model_copy(update={
        "epochs": rc.epochs, "lr": rc.lr, "batch_size": rc.batch_size, "patience": 0,
        "head_lr": rc.head_lr or rc.lr, "calibrate_threshold": rc.calibrate_threshold, **update,
    })
