"""The self-improvement loop, top to bottom.

    from arena.arena import Campaign
    summary = Campaign(load_config("configs/demo.yaml"), "runs/demo").run(rounds=3)

One campaign = round 0 (the baseline champion) .. round N. Each round r:

    attack     the champion is attacked live: adaptive (Thompson) strategy choice, word-importance
               targeting through the defender's black-box score(), on the eval pool (test split,
               measured) and on the attack-train pool (train split, the only source of training data)
    validity   every candidate is checked (edit budget / embedding similarity + length bounds)
    score      the champion scores the valid candidates; evaded = P(toxic) < threshold
    record     every attempt is appended to OUT/records/round=r/ (atomic Parquet parts)
    metrics    frozen-suite detection (the same attacks every round), live attack success, per
               strategy, held-out family, clean macro-F1, benign-perturbed FPR -> summary + MLflow
    trigger    live detection below campaign.retrain_below (1.0: always; and r < N) -> retrain
    retrain    new weights = champion warm start on clean replay + train-pool evasions + perturbed benign,
               with the rules mined from the train-pool evasions
    select     the val probe (val texts only, attacked once at campaign start) picks the challenger:
               new rules + new weights, a blend of the new and the champion's weights, or the new rules
               on the champion's weights (retrain.select_on_val, retrain.blend_alphas)
    evaluate   the challenger on the frozen suite, clean test and the benign-perturbed set
    gate       paired bootstrap CI on frozen detection, clean F1 and FPR limits (arena/gate.py)
    promote    alias flip in the registry; champion history; the next round attacks the new champion

Honesty rules (../DESIGN.md): pools never mix (a runtime guard and a test), the frozen suite is
built once at campaign start and re-scored by every champion, one strategy family is never used
for training, and every number written here is measured in this run.

The module imports no Ray. The Ray layer (arena/actors.py) reuses this loop unchanged by
passing its own ``Services`` (actor-backed defender scoring and training).
"""

from __future__ import annotations

import json
import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

from arena.errors import ArenaError, ConfigError
from arena.gate import GateInput, decide
from arena.records import Attempt, RecordStore, atomic_write_text
from arena.review import rejected_texts, review_stats
from arena.types import Candidate


# ============================================================================ the campaign: the public round API
class Campaign:
    """One campaign on OUT: ``run(rounds)`` runs (or resumes) rounds until ``rounds``; the stages of a
    round follow ``_round`` in call order below. ``build_training_set``, ``train_challenger``,
    ``select_challenger``, ``evaluate``, ``metrics_of`` and ``gate`` are public so that an experiment
    (bench/retrain_ablation.py) can rerun one round's stages on a copy of a finished campaign."""

    def __init__(self, cfg, out_dir: str | Path, *, progress: bool = True,
                 services_factory: Callable[..., Services] | None = None,
                 on_round: Callable[[dict[str, Any]], None] | None = None,
                 strategy_factory: Callable[[str, dict[str, Any]], Any] | None = None) -> None:
        from arena.attack import list_strategies
        from arena.attack.pipeline import select_strategies
        from arena.registry import Registry

        self.cfg = cfg
        if cfg.campaign.canonicalize:
            self.cfg = cfg.model_copy(deep=True)
            self.cfg.defender.canonicalizer.enabled = True
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.progress = progress
        self.on_round = on_round
        self.registry = Registry.from_config(self.cfg, self.out)
        self.records = RecordStore(self.out)
        self.services = (services_factory or Services)(self.cfg, self.out, self.registry, progress)
        self._thresholds: dict[str, float] = {}  # registry version -> its saved decision threshold
        # (champion, number of train texts) -> the clean train texts behind that champion's layers
        self._clean_prepared: tuple[tuple[str, int], list[str]] | None = None
        self._probe_results: dict[str, ProbeResult] = {}  # version (or version@threshold) -> its val-probe numbers
        self._probe_scores_cache: dict[str, list[float]] = {}  # version -> its scores of the val probe's texts
        self._rounds_planned: int | None = None  # the last round of the current run() (the dashboard's progress)
        # strategies: the suite uses all configured ones; training never uses the held-out family
        infos = {i.name: i for i in list_strategies()}
        names = (select_strategies("all", llm=cfg.attack.use_llm, exclude=cfg.attack.exclude)
                 if cfg.attack.strategies == "all" else list(cfg.attack.strategies))
        names = [n for n in names if n not in infos or (
            n not in cfg.attack.exclude and (cfg.attack.use_llm or "llm" not in infos[n].families))]
        llm_names = [n for n in names if n in infos and "llm" in infos[n].families]
        why = _llm_unavailable(cfg) if llm_names else None
        if why:  # loud, and in the summary's strategy list: the campaign runs without the LLM
            print(f"warning: LLM strategies {llm_names} dropped from this campaign: {why}", flush=True)
            names = [n for n in names if n not in llm_names]
        self.attacker = Attacker(self.cfg, names, progress=progress, log=self.log, strategy_factory=strategy_factory)
        self.strategies, self.families, self.family_sets = (self.attacker.strategies, self.attacker.families,
                                                            self.attacker.family_sets)
        held = cfg.campaign.heldout_family
        if held is not None and not any(held in self.family_sets[n] for n in names):
            raise ConfigError(f"campaign.heldout_family={held!r} matches no configured strategy")
        self.heldout = [n for n in names if held is not None and held in self.family_sets[n]]
        self.train_strategies = [n for n in names if n not in self.heldout]
        if not self.train_strategies:
            raise ConfigError("every configured strategy is in the held-out family: nothing to train on")
        self.state_file = self.out / "state.json"


    # ------------------------------------------------------------------ the round API: run, then one round

    def run(self, rounds: int | None = None) -> dict[str, Any]:
        from arena.baseline import load_splits
        from arena.registry import CHALLENGER, CHAMPION

        rounds = self.cfg.campaign.rounds if rounds is None else rounds
        if rounds < 0:
            raise ConfigError("rounds must be >= 0")
        self._rounds_planned = rounds
        dropped = self.records.discard_incomplete()
        splits = load_splits(self.cfg)  # once per run: setup and every round read the same splits
        state = self.load_state() or self._setup(splits)
        if dropped:
            self.log(f"resume: discarded the incomplete records of round(s) {dropped}")
        if state.next_round > 0:
            self.log(f"resume: campaign {state.campaign_id} continues at round {state.next_round}")
            # an interrupted round may have moved the alias: the saved state is the truth
            if self.registry.get_alias(CHAMPION) != state.champion_version:
                self.registry.set_alias(CHAMPION, state.champion_version, round=state.next_round,
                                        reason="resume: restore champion of the last complete round")
        with self.registry.run(f"campaign-{state.campaign_id}", config=self.cfg.to_dict(),
                               tags={"arena.kind": "campaign", "campaign_id": state.campaign_id}):
            for rnd in range(state.next_round, rounds + 1):
                state = self._round(state, rnd, rounds, splits, CHAMPION, CHALLENGER)
        summary = self.summary(state)
        return summary

    def _round(self, state: CampaignState, rnd: int, last: int, splits, CHAMPION: str,
               CHALLENGER: str) -> CampaignState:
        t0 = time.perf_counter()
        champion = state.champion_version
        self.log(f"round {rnd}/{last}: champion v{champion}")
        timings: dict[str, float] = {}

        # 1. measure the champion on the frozen suite, clean test and benign-perturbed set
        t = time.perf_counter()
        if rnd == 0 or state.champion_eval is None or state.champion_eval.version != champion:
            state.champion_eval = self.evaluate(champion, state, splits)
        ev = state.champion_eval
        if state.baseline_eval is None:
            state.baseline_eval = ev
        metrics = self.metrics_of(ev, state)
        timings["evaluate_s"] = time.perf_counter() - t

        # 2. attack live (adaptive) -> validity -> score -> record
        t = time.perf_counter()
        scorer = self.services.scorer(champion)
        rows, live_success, live_per = self._live_attacks(state, rnd, scorer, champion)
        self.records.append(rnd, rows)
        timings["attack_s"] = time.perf_counter() - t

        # 3. trigger -> retrain -> evaluate -> gate -> promote
        promoted, gate, challenger, train_info, selection = False, None, None, None, None
        live_detection = None if live_success is None else 1.0 - live_success
        below = self.cfg.campaign.retrain_below
        # 1.0 means every round (a champion that stops every live attack still retrains)
        if rnd < last and (live_detection is None or below >= 1.0 or live_detection < below):
            t = time.perf_counter()
            ts = self.build_training_set(state, rnd, splits)
            train_info = ts.info
            self._write_train_set(rnd, ts)
            self.log(f"  retrain: {train_info}")
            challenger = self.train_challenger(state, rnd, ts, splits)
            timings["retrain_s"] = time.perf_counter() - t
            if self.cfg.campaign.retrain.select_on_val:
                t = time.perf_counter()
                challenger, selection = self.select_challenger(state, rnd, ts, challenger, splits)
                timings["select_s"] = time.perf_counter() - t
                self.log(f"  val probe: {selection['chosen']} -> "
                         f"{'no challenger' if challenger is None else 'challenger v' + challenger}; "
                         + "; ".join(selection["notes"]))
        if challenger is not None:
            self.registry.set_alias(CHALLENGER, challenger, round=rnd, reason="trained")
            t = time.perf_counter()
            cev = self.evaluate(challenger, state, splits)
            decision = self.gate(ev, cev, state, rnd)
            gate = {**decision.to_dict(), "challenger_version": challenger,
                    "challenger": self.metrics_of(cev, state)}
            timings["gate_s"] = time.perf_counter() - t
            if decision.promote:
                promoted = True
                self.registry.set_alias(CHAMPION, challenger, round=rnd + 1, reason=f"promoted after round {rnd}")
                state.champion_version = challenger
                state.champion_eval = cev
            self.log(f"  gate: {'PROMOTE' if promoted else 'keep champion'} v{challenger}: gain "
                     f"{decision.detection_gain:+.3f} CI [{decision.ci_low:+.3f}, {decision.ci_high:+.3f}] "
                     f"F1 {decision.clean_f1_delta:+.4f} FPR {decision.fpr_delta:+.4f}"
                     + ("" if promoted else f" ({'; '.join(decision.reasons)})"))

        row = {
            "round": rnd,
            "champion_version": champion,
            "frozen_detection": metrics["frozen_detection"],
            "live_attack_success": live_success,
            "per_strategy_detection": metrics["per_strategy_detection"],
            "heldout_strategy_detection": metrics["heldout_strategy_detection"],
            "clean_macro_f1": metrics["clean_macro_f1"],
            "benign_perturbed_fpr": metrics["benign_perturbed_fpr"],
            "threshold": metrics["threshold"],
            "promoted": promoted,
            "gate": gate,
            "wall_s": time.perf_counter() - t0,
            "frozen_detection_all": metrics["frozen_detection_all"],
            "live_per_strategy_success": live_per,
            "training_set": train_info,
            "selection": selection,
            "timings": timings,
        }
        self.log(f"  frozen detection {row['frozen_detection']:.3f} | held-out "
                 f"{_fmt(row['heldout_strategy_detection'])} | live attack success {_fmt(live_success)} | "
                 f"clean F1 {row['clean_macro_f1']:.4f} | benign FPR {row['benign_perturbed_fpr']:.3f} | "
                 f"{row['wall_s']:.0f}s")
        self._log_round(row)
        # commit the round: records marker, then state (the single source of truth on resume)
        self.records.mark_complete(rnd)
        state.rounds = [r for r in state.rounds if r["round"] != rnd] + [row]
        state.next_round = rnd + 1
        self._save_state(state)
        self._write_summary(state)
        if self.on_round:
            self.on_round(row)
        return state


    # ------------------------------------------------------------------ setup (round 0, once per OUT)

    def load_state(self) -> CampaignState | None:
        """OUT/state.json, or None before the first round's setup."""
        return CampaignState.load(self.state_file)

    def _setup(self, splits) -> CampaignState:
        """Baseline champion, pools, frozen and benign suites, bandits. Runs once per OUT."""
        from arena.attack import ThompsonBandit
        from arena.baseline import train_baseline
        from arena.registry import CHAMPION

        cfg, seed = self.cfg, self.cfg.seed
        t0 = time.perf_counter()
        campaign_id = f"c-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        champion = self.registry.get_alias(CHAMPION)
        if champion is None:
            from arena.metrics import format_report

            self.log("round 0: training the baseline champion")
            baseline = train_baseline(cfg, self.out, progress=self.progress)
            champion = str(baseline["model_version"])
            self.log(f"baseline champion v{champion}: {format_report(baseline)}")
        # the round-0 champion's (val-calibrated) threshold picks the eval pool; afterwards every
        # version is measured at its own threshold (the one it is deployed with), see evaluate()
        threshold = self.threshold_of(champion)
        self.log(f"decision threshold: {threshold:.2f} (champion v{champion})")
        rng = random.Random(seed)
        scorer = self.services.scorer(champion)

        test = _split_cols(splits["test"])
        toxic_test = [(i, t) for i, t, y in test if y == 1]
        flagged = scorer.score([t for _, t in toxic_test])
        eval_candidates = [x for x, s in zip(toxic_test, flagged, strict=True) if s >= threshold]
        pools = Pools(
            eval=rng.sample(eval_candidates, min(cfg.campaign.eval_pool_size, len(eval_candidates))),
            benign=rng.sample([(i, t) for i, t, y in test if y == 0],
                              min(cfg.campaign.benign_pool_size, sum(1 for *_, y in test if y == 0))),
            attack_train=[], benign_train=[],
        )
        train = _split_cols(splits["train"])
        tox = [(i, t) for i, t, y in train if y == 1]
        ben = [(i, t) for i, t, y in train if y == 0]
        # the attack-train pool, like the eval pool: toxic texts the round-0 champion flags, so a
        # training evasion is a flip of a detected text, not a (often borderline) text it never
        # flagged: measured on round 0, 53 of 136 evasions were such texts, and retraining on them
        # cost clean macro-F1 (-1.2 points with them, -0.75 without)
        size = cfg.campaign.attack_train_pool_size
        drawn = rng.sample(tox, min(len(tox), 2 * size))
        drawn_scores = scorer.score([t for _, t in drawn])
        flagged_train = [x for x, s in zip(drawn, drawn_scores, strict=True) if s >= threshold]
        pools.attack_train = flagged_train[:size]
        pools.benign_train = rng.sample(ben, min(cfg.campaign.retrain.benign_perturbed_size * 4, len(ben)))
        self.log(f"pools: eval={len(pools.eval)} (of {len(toxic_test)} toxic test texts, those the baseline "
                 f"flags) benign={len(pools.benign)} attack_train={len(pools.attack_train)} (of {len(drawn)} "
                 f"toxic train texts drawn, those the baseline flags)")
        if not pools.attack_train and size:
            raise ArenaError("the baseline champion flags none of the toxic train texts drawn: nothing to attack "
                             "for training (is the champion trained? see OUT/metrics.json)")

        # the frozen suite: every strategy once per eval text, fixed seed, targeted at the baseline
        frozen = self.attacker.build_suite(pools.eval, scorer, seed=seed + 1, targeted=True, desc="frozen suite",
                                           kind="frozen", label=1)
        benign = self.attacker.build_suite(pools.benign, None, seed=seed + 2, targeted=False, desc="benign suite",
                                           kind="benign", label=0)
        val_probe = self._build_val_probe(splits, champion, seed) if cfg.campaign.retrain.select_on_val else None
        state = CampaignState(
            campaign_id=campaign_id, baseline_version=champion, champion_version=champion, next_round=0,
            pools=pools, frozen=frozen, benign=benign, val_probe=val_probe,
            bandit_live=ThompsonBandit(self.strategies, floor=self._floor(self.strategies), seed=seed + 3).to_dict(),
            bandit_train=ThompsonBandit(self.train_strategies, floor=self._floor(self.train_strategies),
                                        seed=seed + 4).to_dict(),
        )
        state.setup_s = time.perf_counter() - t0  # pools + frozen/benign suites (+ baseline training if any)
        self._save_state(state)
        return state

    def threshold_of(self, version: str) -> float:
        """The decision threshold saved with a registered version (its ``defender.json``): the one source
        of every threshold the loop uses (pools, evasions, evaluation, gate, val probe, summary)."""
        from arena.defend.classifier import Defender

        version = str(version)
        if version not in self._thresholds:
            self._thresholds[version] = float(Defender.read_spec(self.registry.resolve(version)[1]).threshold)
        return self._thresholds[version]

    def _floor(self, arms: Sequence[str]) -> float:
        return min(self.cfg.campaign.exploration_floor, 1.0 / len(arms))

    def _build_val_probe(self, splits, version: str, seed: int) -> dict[str, Any] | None:
        """Val texts only: ``campaign.val_probe_size`` toxic ones the round-0 champion flags, attacked by
        every trained strategy as the frozen suite is (targeted at it, best of several candidates);
        ``campaign.val_probe_benign`` non-toxic ones, each perturbed by one trained strategy in turn;
        and ``campaign.val_probe_clean`` clean ones. The LLM strategy is left out (seconds per text on
        CPU). Built once, like the frozen suite.
        """
        cc = self.cfg.campaign
        names = [n for n in self.train_strategies if "llm" not in self.family_sets[n]]
        if not names:
            self.log("val probe: no trained strategy other than the LLM; challengers are not pre-selected")
            return None
        rng = random.Random(seed * 7 + 5)
        val = _split_cols(splits["val"])
        tox = [(i, t) for i, t, y in val if y == 1]
        scorer = self.services.scorer(version)  # the round-0 champion, as for the frozen suite
        scores = scorer.score([t for _, t in tox])
        thr = self.threshold_of(version)
        tox = [x for x, sc in zip(tox, scores, strict=True) if sc >= thr]
        ben = [(i, t) for i, t, y in val if y == 0]
        if not tox or not ben:
            self.log("val probe: the val split lacks flagged toxic or non-toxic texts; challengers are not pre-selected")
            return None
        toxic = self.attacker.build_suite(rng.sample(tox, min(cc.val_probe_size, len(tox))), scorer, seed=seed + 5,
                                          targeted=True, desc="val probe", strategies=names, kind="val_probe", label=1)
        # benign: many texts, one strategy each (round robin), so that one text flipping moves the FPR
        # by 1/n and not by (strategies)/n as it would if every strategy rewrote the same few texts
        ben_pool = rng.sample(ben, min(cc.val_probe_benign, len(ben)))
        benign = self.attacker.attack(ben_pool, lambda k: names[k % len(names)], seed + 6, None, n=1,
                                      targeted=False)
        clean = rng.sample(val, min(cc.val_probe_clean, len(val)))
        return {"toxic": [x.attacked for x in toxic], "toxic_strategy": [x.strategy for x in toxic],
                "benign": [c.text for _, c, _ in benign if c is not None],
                "benign_strategy": [names[k % len(names)] for k, c, _ in benign if c is not None],
                "clean_texts": [t for _, t, _ in clean], "clean_labels": [y for *_, y in clean]}


    # ------------------------------------------------------------------ 1. measure

    def evaluate(self, version: str, state: CampaignState, splits) -> Evaluation:
        from arena.metrics import classification_report

        scorer = self.services.scorer(version)
        thr = self.threshold_of(version)  # the operating point this version is deployed with
        frozen = [x.attacked for x in state.frozen]
        benign = [x.attacked for x in state.benign]
        test = splits["test"]
        scores = scorer.score(frozen + benign + test.texts)
        f, b = len(frozen), len(benign)
        clean = classification_report(test.labels, scores[f + b :], thr)
        return Evaluation(version, [s >= thr for s in scores[:f]], [s >= thr for s in scores[f : f + b]], clean, thr)

    def metrics_of(self, ev: Evaluation, state: CampaignState) -> dict[str, Any]:
        frozen = state.frozen
        per: dict[str, list[bool]] = {}
        for item, hit in zip(frozen, ev.frozen_hits, strict=True):
            per.setdefault(item.strategy, []).append(hit)
        train_hits = [h for it, h in zip(frozen, ev.frozen_hits, strict=True) if it.strategy not in self.heldout]
        held_hits = [h for it, h in zip(frozen, ev.frozen_hits, strict=True) if it.strategy in self.heldout]
        return {
            "frozen_detection": _mean(train_hits),
            "frozen_detection_all": _mean(ev.frozen_hits),
            "per_strategy_detection": {k: _mean(v) for k, v in sorted(per.items())},
            "heldout_strategy_detection": _mean(held_hits) if held_hits else None,
            "clean_macro_f1": ev.clean["macro_f1"],
            "clean_accuracy": ev.clean["accuracy"],
            "benign_perturbed_fpr": _mean(ev.benign_flags),
            "threshold": ev.threshold if ev.threshold is not None else self.threshold_of(ev.version),
        }


    # ------------------------------------------------------------------ 2. attack live

    def _live_attacks(self, state: CampaignState, rnd: int, scorer, version: str) -> tuple[list[dict], float | None, dict]:
        """Adaptive attacks on the eval pool (measured) and the attack-train pool (training data)."""
        from arena.attack import ThompsonBandit

        cfg, rows = self.cfg.campaign, []
        threshold = self.threshold_of(version)  # an evasion = below the attacked version's own threshold
        rng = random.Random(self.cfg.seed * 7 + rnd)
        live_success: list[bool] = []
        per_strategy: dict[str, list[bool]] = {}
        pools = state.pools
        rejected = rejected_texts(self.out)
        for pool_name, bandit_key, pool, count in (
            ("live", "bandit_live", pools.eval, cfg.live_eval_attacks),
            ("train", "bandit_train", pools.attack_train, cfg.train_attacks),
        ):
            if not count or not pool:
                continue
            bandit = ThompsonBandit.from_dict(getattr(state, bandit_key))
            items = rng.sample(pool, min(count, len(pool)))
            arms = [bandit.choose() for _ in items]
            self._cap_llm(arms, bandit.arms, rng)
            results = self.attacker.attack(items, lambda k, arms=arms: arms[k], self.cfg.seed * 1009 + rnd * 17 + len(rows),
                                   scorer, n=2, targeted=self.attacker.pipeline.targeted)
            for (k, cand, queries), (text_id, text) in zip(results, items, strict=True):
                evaded = (cand is not None and cand.score is not None and cand.score < threshold
                          and cand.text not in rejected)
                bandit.record(arms[k], evaded)
                if pool_name == "live":
                    live_success.append(evaded)
                    per_strategy.setdefault(arms[k], []).append(evaded)
                rows.append(Attempt(
                    campaign_id=state.campaign_id, round=rnd, pool=pool_name, text_id=text_id,
                    strategy=arms[k], family=self.families[arms[k]],
                    params=cand.params if cand else {}, seed=int(cand.seed or 0) if cand else 0,
                    original=text, attacked=cand.text if cand else None, label=1,
                    validity=cand.validity if cand else None, valid=bool(cand and cand.valid),
                    defender_version=version, score=cand.score if cand else None, evaded=evaded,
                    queries=queries,
                ).to_row())
            setattr(state, bandit_key, bandit.to_dict())
        success = _mean(live_success) if live_success else None
        return rows, success, {k: _mean(v) for k, v in sorted(per_strategy.items())}

    def _cap_llm(self, arms: list[str], alternatives: Sequence[str], rng: random.Random) -> None:
        """The LLM's per-round budget (``campaign.llm_attacks_per_round``; seconds per text on CPU):
        LLM arms beyond it are redrawn, in place, from the non-LLM ``alternatives`` (if any)."""
        cheap = [a for a in alternatives if "llm" not in self.family_sets[a]]
        llm = [k for k, a in enumerate(arms) if "llm" in self.family_sets[a]]
        for k in llm[self.cfg.campaign.llm_attacks_per_round:] if cheap else []:
            arms[k] = rng.choice(cheap)


    # ------------------------------------------------------------------ 3. retrain

    def build_training_set(self, state: CampaignState, rnd: int, splits) -> TrainingSet:
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
        train = _split_cols(splits["train"])
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
        forbidden = self._forbidden_texts(state)
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
            rules, report = self._mine_rules(champion, evasions, train, perturbed_benign, rnd)
            info["rules"] = report
        ts.info, ts.rules = info, rules
        return ts

    def _mine_rules(self, champion: str, evasions, train, perturbed_benign: list[str], rnd: int):
        """Rules from the train-pool evasions, behind the champion's canonicaliser and rules."""
        from dataclasses import asdict

        from arena.defend.classifier import Defender
        from arena.defend.rules import RuleSet, admit_rules, mine_rules

        path = self.registry.resolve(champion)[1]
        # the text as the rules read it: the champion's canonicaliser and rules, before its spelling step
        prepare = Defender.read_input_layers(path, spell=False)
        base = RuleSet.load(path)

        mined = mine_rules(((att, orig, strat) for att, (orig, strat) in evasions), prepare, rnd=rnd,
                           fuzzy=self.cfg.campaign.retrain.fuzzy_rules)
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

    def _forbidden_texts(self, state: CampaignState) -> set[str]:
        pools = state.pools
        forbidden = {t for _, t in pools.eval} | {t for _, t in pools.benign}
        forbidden |= {x.attacked for x in state.frozen} | {x.attacked for x in state.benign}
        live = self.records.read(pools=["live"], complete_only=False)["attacked"].to_pylist()
        forbidden |= {t for t in live if t}
        return forbidden

    def _write_train_set(self, rnd: int, ts: TrainingSet) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        folder = self.out / "train_sets"
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

    def train_challenger(self, state: CampaignState, rnd: int, ts: TrainingSet, splits, tags: dict[str, str] | None = None) -> str:
        """Train (warm start from the champion), save and register a challenger; return its version."""
        val_t, val_y = self._val_set(splits)
        return self.services.train_challenger(
            state.champion_version, ts.texts, ts.labels, val_t, val_y, rnd, self.cfg.seed + 100 + rnd,
            {"campaign_id": state.campaign_id, **(tags or {})}, rules=ts.rules,
        )

    def _val_set(self, splits) -> tuple[list[str], list[int]]:
        return splits["val"].texts, splits["val"].labels


    # ------------------------------------------------------------------ 4. select on the val probe

    def select_challenger(self, state: CampaignState, rnd: int, ts: TrainingSet, trained: str, splits) -> tuple[str | None, dict]:
        """The round's challenger, picked on the val probe (:func:`select_candidate`: the highest detection
        within the gate's limits) among ``trained`` (new rules + new weights), its blends toward the
        champion's weights (``retrain.blend_alphas``) and the new rules on the champion's weights.
        Without new rules the last alternative is the champion itself: then ``None`` (no challenger).
        """
        champion = state.champion_version
        if state.val_probe is None:  # a state from before the probe: built now, saved with the round
            state.val_probe = self._build_val_probe(splits, state.baseline_version, self.cfg.seed)
            if state.val_probe is None:
                return trained, {"chosen": "weights", "version": trained, "notes": ["no val probe"]}
        rc = self.cfg.campaign.retrain
        champ = self.probe(champion, state)
        tags = {"campaign_id": state.campaign_id}
        new_weights = [("weights", trained)]
        from arena.defend.classifier import Defender

        kinds = {Defender.read_spec(self.registry.resolve(v)[1]).method == "full" for v in (champion, trained)}
        for alpha in rc.blend_alphas if len(kinds) == 1 else ():  # no blend of an adapter with a full model
            new_weights.append((f"blend{alpha:g}", self.services.blend_challenger(champion, trained, alpha, rnd, tags)))
        cands, matched = [], {}  # matched: candidate name -> (version, threshold), registered only if picked
        for name, version in new_weights:
            cands.append((name, self.probe(version, state)))
            thr = self.fpr_matched_threshold(version, champ.fpr, state) if rc.match_fpr else None
            if thr is not None:
                matched[f"{name}@fpr"] = (version, thr)
                cands.append((f"{name}@fpr", self.probe(version, state, threshold=thr)))
        if ts.rules:
            rules_only = self.services.rules_challenger(champion, ts.rules, rnd, tags)
            cands.append(("rules", self.probe(rules_only, state)))
        else:
            cands.append(("champion", champ))
        gc = self.cfg.campaign.gate
        name, notes = select_candidate(champ, cands, gc.max_clean_f1_drop, gc.max_fpr_rise)
        chosen = dict(cands)[name].version
        if name in matched:  # the picked operating point becomes a registered version of its own
            version, thr = matched[name]
            chosen = self.services.threshold_challenger(version, thr, name, rnd, tags)
            self._thresholds[chosen] = thr
            self._probe_results[chosen] = ProbeResult(chosen, *astuple(dict(cands)[name])[1:])
        cand_info = {n: r.to_dict() for n, r in cands}
        for n, (version, thr) in matched.items():
            cand_info[n].update(version=chosen if n == name else None, of_version=version, threshold=round(thr, 6))
        info = {"chosen": name, "version": None if name == "champion" else chosen, "champion": champ.to_dict(),
                "candidates": cand_info, "notes": notes}
        return (None if name == "champion" else chosen), info

    def probe(self, version: str, state: CampaignState, threshold: float | None = None) -> ProbeResult:
        """``version`` measured on the val probe at its own threshold, or at ``threshold`` (cached)."""
        from arena.metrics import classification_report

        version = str(version)
        key = version if threshold is None else f"{version}@{threshold:.4f}"
        if key not in self._probe_results:
            p = state.val_probe
            thr = self.threshold_of(version) if threshold is None else threshold
            scores = self._probe_scores(version, state)
            t, b = len(p["toxic"]), len(p["benign"])
            clean = classification_report(p["clean_labels"], scores[t + b :], thr) if p["clean_texts"] else {}
            self._probe_results[key] = ProbeResult(
                key, _mean([x >= thr for x in scores[:t]]), _mean([x >= thr for x in scores[t : t + b]]),
                float(clean.get("macro_f1", 0.0)))
        return self._probe_results[key]

    def _probe_scores(self, version: str, state: CampaignState) -> list[float]:
        version = str(version)
        if version not in self._probe_scores_cache:
            p = state.val_probe
            self._probe_scores_cache[version] = self.services.scorer(version).score(
                p["toxic"] + p["benign"] + p["clean_texts"])
        return self._probe_scores_cache[version]

    def fpr_matched_threshold(self, version: str, target_fpr: float, state: CampaignState) -> float | None:
        """The lowest threshold, at or above ``version``'s own, at which its FPR on the val probe's
        perturbed non-toxic texts is at most ``target_fpr`` (the champion's there); ``None`` when its
        own threshold already is. Val texts only: the gate's test-side numbers never see it."""
        p = state.val_probe
        t, b = len(p["toxic"]), len(p["benign"])
        own = self.threshold_of(version)
        return matched_threshold(self._probe_scores(version, state)[t : t + b], target_fpr, own)


    # ------------------------------------------------------------------ 5. gate

    def gate(self, champion: Evaluation, challenger: Evaluation, state: CampaignState, rnd: int):
        """The promotion decision (arena/gate.py) on the frozen suite's trained families, against the
        champion and the round-0 baseline (``state.baseline_eval``; the champion when unset)."""
        items = [i for i, it in enumerate(state.frozen) if it.strategy not in self.heldout]
        base = state.baseline_eval or champion
        return decide(champion.gate_input(items), challenger.gate_input(items), base.gate_input(items),
                      self.cfg.campaign.gate, seed=self.cfg.seed + rnd)


    # ------------------------------------------------------------------ 6. commit: tracking, state, summary

    def _log_round(self, row: dict[str, Any]) -> None:
        try:
            self.registry.log_metrics(
                {k: v for k, v in row.items() if k not in ("round", "champion_version", "gate", "training_set")},
                step=row["round"],
            )
        except Exception as exc:  # tracking must not kill a campaign whose records are safe
            self.log(f"warning: MLflow logging failed: {exc!r}")

    def _save_state(self, state: CampaignState) -> None:
        state.save(self.state_file)

    def summary(self, state: CampaignState) -> dict[str, Any]:
        return {"campaign_id": state.campaign_id, "config": self.cfg.to_dict(), "rounds": state.rounds,
                "baseline_version": state.baseline_version, "heldout_strategies": self.heldout,
                "threshold": self.threshold_of(state.baseline_version),
                "train_strategies": self.train_strategies,
                "pools": {k: len(v) for k, v in state.pools.to_dict().items()},
                "frozen_suite_size": len(state.frozen), "benign_suite_size": len(state.benign),
                "setup_s": state.setup_s, "rounds_planned": self._rounds_planned,
                "review": review_stats(self.out)}

    def _write_summary(self, state: CampaignState) -> None:
        atomic_write_text(self.out / "summary.json", json.dumps(self.summary(state), indent=2))

    def log(self, msg: str) -> None:
        if self.progress:
            print(msg, flush=True)



# ============================================================================ what a campaign keeps
@dataclass
class Pools:
    """Texts of each pool. Eval and benign come from the test split; the rest from train."""

    eval: list[tuple[str, str]]  # (text_id, text): toxic test texts the round-0 champion flags
    benign: list[tuple[str, str]]  # non-toxic test texts
    attack_train: list[tuple[str, str]]  # toxic train texts
    benign_train: list[tuple[str, str]]  # non-toxic train texts

    def to_dict(self) -> dict[str, Any]:
        return {k: [list(x) for x in getattr(self, k)] for k in ("eval", "benign", "attack_train", "benign_train")}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Pools:
        return cls(**{k: [tuple(x) for x in v] for k, v in d.items()})



@dataclass
class Evaluation:
    """One defender measured on everything the gate and the summary need."""

    version: str
    frozen_hits: list[bool]  # aligned with the frozen suite
    benign_flags: list[bool]  # aligned with the benign-perturbed suite
    clean: dict[str, Any]
    threshold: float | None = None  # the version's own decision threshold (None: states before it was kept)

    def gate_input(self, train_items: Sequence[int]) -> GateInput:
        return GateInput([self.frozen_hits[i] for i in train_items], self.clean["macro_f1"], _mean(self.benign_flags))



@dataclass
class CampaignState:
    """Everything a campaign must keep between rounds, saved atomically to OUT/state.json after every
    round (the single source of truth on resume). Thresholds are not kept here: every version's
    decision threshold is the one saved with it (``Campaign.threshold_of``)."""

    campaign_id: str
    baseline_version: str  # the round-0 champion
    champion_version: str
    next_round: int
    pools: Pools
    frozen: list[Attempt]  # the frozen suite: built once, re-scored by every champion
    benign: list[Attempt]  # the benign-perturbed suite
    val_probe: dict[str, Any] | None  # val texts only (Campaign._build_val_probe)
    bandit_live: dict[str, Any]  # ThompsonBandit.to_dict() of the live (eval-pool) attacks
    bandit_train: dict[str, Any]  # ... and of the attack-train pool's
    baseline_eval: Evaluation | None = None  # round 0's champion, measured once
    champion_eval: Evaluation | None = None  # the current champion, measured once per champion
    rounds: list[dict[str, Any]] = field(default_factory=list)  # the summary rows of the rounds done
    setup_s: float | None = None  # pools + frozen/benign suites (+ baseline training if any)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["pools"] = self.pools.to_dict()
        d["frozen"], d["benign"] = [x.to_dict() for x in self.frozen], [x.to_dict() for x in self.benign]
        for k in ("baseline_eval", "champion_eval"):
            d[k] = None if d[k] is None else vars(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CampaignState:
        """From the JSON of state.json (keys of older versions, such as ``threshold``, are ignored)."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["pools"] = Pools.from_dict(d["pools"])
        known["frozen"] = [Attempt.from_dict(x) for x in d["frozen"]]
        known["benign"] = [Attempt.from_dict(x) for x in d["benign"]]
        for k in ("baseline_eval", "champion_eval"):
            known[k] = Evaluation(**d[k]) if d.get(k) else None
        return cls(**known)

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: Path) -> CampaignState | None:
        return cls.from_dict(json.loads(path.read_text())) if path.is_file() else None



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



@dataclass
class ProbeResult:
    """One candidate on the val probe (val split only): detection of perturbed toxic val texts, FPR
    on perturbed non-toxic ones, macro-F1 on clean val texts, at the candidate's own threshold."""

    version: str
    detection: float
    fpr: float
    clean_f1: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in vars(self).items()}



# ============================================================================ services: how the loop reaches models
class Services:
    """How the loop reaches models. In-process by default; the Ray layer swaps in actors.

    ``scorer(version)`` returns an object with ``score(texts) -> list[float]`` for a registered
    defender version; ``train_challenger(...)`` trains, saves and registers a challenger and
    returns its version.
    """

    def __init__(self, cfg, out_dir: Path, registry, progress: bool = True) -> None:
        self.cfg, self.out, self.registry, self.progress = cfg, out_dir, registry, progress
        self._cache: dict[str, Any] = {}

    def scorer(self, version: str):
        if version not in self._cache:
            self._cache.clear()  # keep at most one model in memory besides a challenger
            self._cache[version] = self.registry.load_defender(version, device=self.cfg.train.device)
        return self._cache[version]

    def train_challenger(self, champion_version: str, texts: list[str], labels: list[float],
                         val_texts: list[str], val_labels: list[int], rnd: int, seed: int,
                         tags: dict[str, str], rules: Sequence[dict[str, Any]] = ()) -> str:
        _, path = self.registry.resolve(champion_version)
        folder, result, _ = train_challenger(self.cfg, path, texts, labels, val_texts, val_labels, seed=seed,
                                             rules=rules, folder=self.out / "models" / f"round-{rnd}",
                                             progress=self.progress)
        with self.registry.run(f"challenger-round-{rnd}", tags={"arena.kind": "challenger", **tags}, nested=True) as run:
            self.registry.log_metrics(result.to_dict(), prefix="train.")
            return self.registry.register(folder, run.info.run_id, tags={"kind": "challenger", "round": rnd, **tags})


    def rules_challenger(self, champion_version: str, rules: Sequence[dict[str, Any]], rnd: int,
                         tags: dict[str, str]) -> str:
        """Register the champion's folder (weights, canonicaliser, threshold) with ``rules`` added: the
        round's rules-only candidate. Files only, so the Ray layer uses it unchanged."""
        import shutil

        from arena.defend.rules import RuleSet

        _, path = self.registry.resolve(champion_version)
        folder = self.out / "models" / f"round-{rnd}-rules"
        if folder.exists():  # an interrupted round left it: rebuild it from the champion
            shutil.rmtree(folder)
        shutil.copytree(path, folder)
        RuleSet.load(folder).merged(rules).save(folder)
        with self.registry.run(f"rules-challenger-round-{rnd}", tags={"arena.kind": "challenger", **tags},
                               nested=True) as run:
            return self.registry.register(folder, run.info.run_id,
                                          tags={"kind": "challenger", "candidate": "rules", "round": rnd, **tags})


    def threshold_challenger(self, version: str, threshold: float, name: str, rnd: int,
                             tags: dict[str, str]) -> str:
        """Register ``version``'s folder (weights, canonicaliser, rules) with another decision threshold:
        the round's operating-point-matched candidate (``retrain.match_fpr``). Files only."""
        import shutil

        _, path = self.registry.resolve(version)
        folder = self.out / "models" / f"round-{rnd}-{name.replace('@', '-at-')}"
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(path, folder)
        spec_file = folder / "defender.json"
        spec = json.loads(spec_file.read_text())
        spec["threshold"] = float(threshold)
        spec_file.write_text(json.dumps(spec, indent=2))
        with self.registry.run(f"threshold-challenger-round-{rnd}", tags={"arena.kind": "challenger", **tags},
                               nested=True) as run:
            return self.registry.register(folder, run.info.run_id, tags={
                "kind": "challenger", "candidate": name, "threshold": round(float(threshold), 6), "round": rnd,
                **tags})

    def blend_challenger(self, champion_version: str, trained_version: str, alpha: float, rnd: int,
                         tags: dict[str, str]) -> str:
        """Register ``trained_version`` (new weights + new rules) with its weights moved back toward the
        champion's: ``(1 - alpha) * champion + alpha * trained`` for every saved tensor (LoRA A and B,
        the head; or every weight of a full fine-tune), as WiSE-FT interpolates a fine-tune with its
        start (Wortsman et al., 2022). The challenger is warm-started from the champion, so the two
        sit close together and the midpoint keeps part of the gain at a fraction of the drift."""
        import shutil

        from safetensors.torch import load_file, save_file

        _, start = self.registry.resolve(champion_version)
        _, trained = self.registry.resolve(trained_version)
        folder = self.out / "models" / f"round-{rnd}-blend{alpha:g}"
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(trained, folder)
        weights = [f for f in ("adapter/adapter_model.safetensors", "model/model.safetensors") if (folder / f).is_file()]
        if not weights:
            raise ArenaError(f"{trained}: no adapter/ or model/ safetensors to blend")
        for rel in weights:
            a, b = load_file(str(Path(start) / rel)), load_file(str(folder / rel))
            if set(a) != set(b) or any(a[k].shape != b[k].shape for k in b):
                raise ArenaError(f"cannot blend {rel}: the champion's and the challenger's tensors differ "
                                 "(a different LoRA rank or target modules?)")
            save_file({k: ((1 - alpha) * a[k].float() + alpha * b[k].float()).to(b[k].dtype).contiguous()
                       for k in b}, str(folder / rel))
        with self.registry.run(f"blend-challenger-round-{rnd}", tags={"arena.kind": "challenger", **tags},
                               nested=True) as run:
            return self.registry.register(folder, run.info.run_id, tags={
                "kind": "challenger", "candidate": f"blend{alpha:g}", "alpha": alpha, "round": rnd, **tags})



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



# ============================================================================ picking the challenger on the val probe
def select_candidate(champion: ProbeResult, candidates: Sequence[tuple[str, ProbeResult]],
                     max_clean_f1_drop: float, max_fpr_rise: float) -> tuple[str, list[str]]:
    """Which of ``candidates`` (name, probe result) becomes the round's challenger, judged on the val probe.

    A candidate is admissible when it stays within the gate's clean-F1 and FPR limits against the
    champion on the probe; the admissible one with the highest probe detection wins (ties: the
    first listed). With none admissible, the last listed (the smallest change) goes to the gate.
    Returns the name and one line per candidate saying why.
    """
    if not candidates:
        raise ValueError("select_candidate needs at least one candidate")
    notes, admissible = [], []
    for name, r in candidates:
        why = []
        if r.clean_f1 < champion.clean_f1 - max_clean_f1_drop:
            why.append(f"val F1 {r.clean_f1 - champion.clean_f1:+.4f}")
        if r.fpr > champion.fpr + max_fpr_rise:
            why.append(f"val FPR {r.fpr - champion.fpr:+.4f}")
        notes.append(f"{name} v{r.version}: detection {r.detection - champion.detection:+.4f}, "
                     f"F1 {r.clean_f1 - champion.clean_f1:+.4f}, FPR {r.fpr - champion.fpr:+.4f}"
                     + (f" (outside the limits: {', '.join(why)})" if why else ""))
        if not why:
            admissible.append((name, r))
    if not admissible:
        return candidates[-1][0], notes
    best = max(admissible, key=lambda nr: nr[1].detection)  # max keeps the first of equals
    return best[0], notes



def matched_threshold(benign_scores: Sequence[float], target_fpr: float, own: float) -> float | None:
    """The lowest threshold ``>= own`` (on a 1e-4 grid) at which at most ``target_fpr`` of
    ``benign_scores`` are flagged (``score >= threshold``); ``None`` when ``own`` already keeps to it.

    A challenger that learned the evasions scores everything a little higher, perturbed non-toxic
    text included; moving its operating point up until its false-positive rate on the val probe equals
    the champion's compares the two at the same FPR, as a ROC comparison would.
    """
    n = len(benign_scores)
    if n == 0 or _mean([s >= own for s in benign_scores]) <= target_fpr:
        return None
    allowed = int(math.floor(target_fpr * n + 1e-9))  # flags permitted at the target rate
    ranked = sorted(benign_scores, reverse=True)
    if allowed >= n:
        return None
    # strictly above the (allowed+1)-th highest score, so that only the top `allowed` stay flagged
    thr = math.floor(ranked[allowed] * 1e4) / 1e4 + 1e-4
    return round(max(thr, own), 6) if thr <= 1.0 else None



# ============================================================================ the attacker
class Attacker:
    """The loop's attack stage: named strategies, word-importance targeting, validity, one score call.

    Shared by the campaign (frozen suite, live and benign attacks) and ``arena eval``'s suite, so
    both attack the same way. ``strategy_factory(name, params)`` builds a strategy; the default is
    the in-process registry, the Ray layer passes one that runs it in the AttackerActor.
    """

    def __init__(self, cfg, strategies: Sequence[str], *, progress: bool = True,
                 log: Callable[[str], None] | None = None,
                 strategy_factory: Callable[[str, dict[str, Any]], Any] | None = None) -> None:
        from arena.attack.pipeline import AttackPipeline, validity_rules

        a = cfg.attack
        # the one attack pipeline (arena/attack/pipeline.py): strategies, constraints, search, query budget
        self.pipeline = AttackPipeline(list(strategies), validity_rules(a), a.search, a.query_budget, a.budget,
                                       a.llm, strategy_factory)
        self.cfg, self.progress = cfg, progress
        self.strategies = self.pipeline.strategies
        self.families = self.pipeline.families
        self.family_sets = self.pipeline.family_sets
        self.log = log or (lambda msg: None)
        self._importance: tuple[str, dict[str, Any]] | None = None

    def rules(self):
        return self.pipeline.rules

    def strategy(self, name: str):
        """The strategy ``name`` (built once; LLM strategies get ``attack.llm``'s backend settings)."""
        return self.pipeline.strategy(name)

    def attack(self, items: Sequence[tuple[str, str]], strategy_of: Callable[[int], str], seed: int,
               scorer, n: int, targeted: bool,
               importance: dict[str, Any] | None = None,
               prefer: str = "low") -> list[tuple[int, Candidate | None, int]]:
        """Attack each (text_id, text) once with its strategy: :meth:`AttackPipeline.attack_many`, with
        word importance cached per text across calls with the same scorer (``importance``; default:
        the cache for the scorer's defender version, see :meth:`importance_for`). Returns (index,
        best valid candidate, queries); ``prefer="high"`` keeps the highest-scored (a hard negative)."""
        if importance is None:
            importance = self.importance_for(scorer) if targeted else {}
        return self.pipeline.attack_many(items, strategy_of, seed, scorer, n, targeted, importance, prefer, self.log)

    def importance_for(self, scorer) -> dict[str, Any]:
        """Word importance per text for ``scorer``'s defender version.

        Delete-one importance depends only on (version, text) and is one fixed ``score`` call, so the
        frozen suite and every round's live attacks on the same champion share one pass per text
        (the same scores, bit for bit). Only the latest version is kept; a scorer without a
        ``version`` gets a fresh dict.
        """
        version = getattr(scorer, "version", None)
        if version is None:
            return {}
        if self._importance is None or self._importance[0] != version:
            self._importance = (version, {})
        return self._importance[1]

    def build_suite(self, pool, scorer, seed: int, targeted: bool, desc: str,
                    strategies: Sequence[str] | None = None, *, kind: str | None = None,
                    label: int | None = None) -> list[Attempt]:
        """Every strategy (or ``strategies``) once per pool text (the LLM on the first ``campaign.llm_suite_texts``):
        an :class:`Attempt` per valid attack, with ``pool=kind`` and ``label`` (of the originals)."""
        from arena.progress import progress as progress_bar

        items: list[Attempt] = []
        importance = self.importance_for(scorer)  # one delete-one pass per text, shared by every strategy
        llm_cap = self.cfg.campaign.llm_suite_texts  # the LLM is slow on CPU: a fixed subset of the pool
        names = self.strategies if strategies is None else list(strategies)
        for s_idx, name in enumerate(progress_bar(names, desc=desc, disable=not self.progress, leave=False)):
            sub = pool[:llm_cap] if "llm" in self.family_sets[name] else pool
            # as hard as the attacker can: the best of several candidates per text (one for the slow LLM)
            n = 1 if scorer is None or "llm" in self.family_sets[name] else self.cfg.campaign.suite_candidates
            results = self.attack(sub, lambda _k, name=name: name, seed + 7919 * s_idx, scorer, n=n,
                                  targeted=targeted, importance=importance)
            for k, cand, _ in results:
                if cand is not None:
                    items.append(Attempt(sub[k][0], name, self.families[name], sub[k][1], cand.text,
                                         float(cand.validity or 0.0), _jsonable(cand.params), int(cand.seed or 0),
                                         label=label, pool=kind))
        if not items:
            raise ArenaError(f"{desc}: no valid attack was produced; check attack.strategies and validity limits")
        return items



# ============================================================================ helpers
def _mean(xs: Sequence[bool]) -> float:
    return sum(xs) / len(xs) if xs else 0.0



def _split_cols(split) -> list[tuple[str, str, int]]:
    return list(zip(split.ids, split.texts, split.labels, strict=True))



def _llm_unavailable(cfg) -> str | None:
    """Why the configured llama.cpp attacker cannot run on this machine (None: it can, or another backend)."""
    if cfg.attack.llm.backend != "llama_cpp":
        return None
    from arena.llm.llama_cpp_backend import probe
    from arena.llm.models import default_gguf_path

    path = Path(cfg.attack.llm.model) if cfg.attack.llm.model else default_gguf_path()
    return probe(str(path)) if path.is_file() else None



def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"



def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(params, default=str))
