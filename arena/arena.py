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
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena.errors import ArenaError, ConfigError
from arena.gate import GateInput, decide
from arena.metrics import share
from arena.probe import ProbeResult, ValProbe, select_candidate
from arena.records import Attempt, RecordStore, atomic_write_text
from arena.retrain import RetrainSetBuilder, TrainingSet, train_challenger, write_train_set
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
        # stage 3's training sets and stage 4's val probe (arena/retrain.py, arena/probe.py)
        self.training_sets = RetrainSetBuilder(self.cfg, self.out, self.records, self.registry, self.services,
                                               self.attacker, self.threshold_of, self.train_strategies)
        self.prober = ValProbe(self.cfg, self.services, self.attacker, self.threshold_of, self.log)


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
            write_train_set(self.out / "train_sets", rnd, ts)
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
            verdict = f"PROMOTE v{challenger}" if promoted else f"reject v{challenger} (champion stays v{champion})"
            self.log(f"  gate: {verdict}: gain {decision.detection_gain:+.3f} CI [{decision.ci_low:+.3f}, {decision.ci_high:+.3f}] "
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
        state.save(self.state_file)
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

        test = splits["test"].rows()
        toxic_test = [(i, t) for i, t, y in test if y == 1]
        flagged = scorer.score([t for _, t in toxic_test])
        eval_candidates = [x for x, s in zip(toxic_test, flagged, strict=True) if s >= threshold]
        pools = Pools(
            eval=rng.sample(eval_candidates, min(cfg.campaign.eval_pool_size, len(eval_candidates))),
            benign=rng.sample([(i, t) for i, t, y in test if y == 0],
                              min(cfg.campaign.benign_pool_size, sum(1 for *_, y in test if y == 0))),
            attack_train=[], benign_train=[],
        )
        train = splits["train"].rows()
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
        # the val probe (arena/probe.py): val texts only, attacked at the round-0 champion, built once like the suites
        val_probe = (self.prober.build(splits["val"], champion, self.train_strategies, seed)
                     if cfg.campaign.retrain.select_on_val else None)
        state = CampaignState(
            campaign_id=campaign_id, baseline_version=champion, champion_version=champion, next_round=0,
            pools=pools, frozen=frozen, benign=benign, val_probe=val_probe,
            bandit_live=ThompsonBandit(self.strategies, floor=self._floor(self.strategies), seed=seed + 3).to_dict(),
            bandit_train=ThompsonBandit(self.train_strategies, floor=self._floor(self.train_strategies),
                                        seed=seed + 4).to_dict(),
        )
        state.setup_s = time.perf_counter() - t0  # pools + frozen/benign suites (+ baseline training if any)
        state.save(self.state_file)
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
            "frozen_detection": share(train_hits),
            "frozen_detection_all": share(ev.frozen_hits),
            "per_strategy_detection": {k: share(v) for k, v in sorted(per.items())},
            "heldout_strategy_detection": share(held_hits) if held_hits else None,
            "clean_macro_f1": ev.clean["macro_f1"],
            "clean_accuracy": ev.clean["accuracy"],
            "benign_perturbed_fpr": share(ev.benign_flags),
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
        success = share(live_success) if live_success else None
        return rows, success, {k: share(v) for k, v in sorted(per_strategy.items())}

    def _cap_llm(self, arms: list[str], alternatives: Sequence[str], rng: random.Random) -> None:
        """The LLM's per-round budget (``campaign.llm_attacks_per_round``; seconds per text on CPU):
        LLM arms beyond it are redrawn, in place, from the non-LLM ``alternatives`` (if any)."""
        cheap = [a for a in alternatives if "llm" not in self.family_sets[a]]
        llm = [k for k, a in enumerate(arms) if "llm" in self.family_sets[a]]
        for k in llm[self.cfg.campaign.llm_attacks_per_round:] if cheap else []:
            arms[k] = rng.choice(cheap)


    # ------------------------------------------------------------------ 3. retrain

    def build_training_set(self, state: CampaignState, rnd: int, splits) -> TrainingSet:
        """A round's retrain set, in which perturbation carries no label, and the rules mined for it
        (:meth:`arena.retrain.RetrainSetBuilder.build`: clean replay, per trained strategy a fixed quota of
        perturbed toxic texts, its evasions first, and of perturbed non-toxic ones, rules admitted against
        clean train text). Nothing derived from the test split may enter (a runtime guard, counted)."""
        return self.training_sets.build(state, rnd, splits)

    def train_challenger(self, state: CampaignState, rnd: int, ts: TrainingSet, splits, tags: dict[str, str] | None = None) -> str:
        """Train (warm start from the champion), save and register a challenger; return its version."""
        return self.services.train_challenger(
            state.champion_version, ts.texts, ts.labels, splits["val"].texts, splits["val"].labels, rnd, self.cfg.seed + 100 + rnd,
            {"campaign_id": state.campaign_id, **(tags or {})}, rules=ts.rules,
        )


    # ------------------------------------------------------------------ 4. select on the val probe

    def select_challenger(self, state: CampaignState, rnd: int, ts: TrainingSet, trained: str, splits) -> tuple[str | None, dict]:
        """The round's challenger, picked on the val probe (:func:`select_candidate`: the highest detection
        within the gate's limits) among ``trained`` (new rules + new weights), its blends toward the
        champion's weights (``retrain.blend_alphas``) and the new rules on the champion's weights.
        Without new rules the last alternative is the champion itself: then ``None`` (no challenger).
        """
        champion = state.champion_version
        if state.val_probe is None:  # a state from before the probe: built now, saved with the round
            state.val_probe = self.prober.build(splits["val"], state.baseline_version, self.train_strategies,
                                                self.cfg.seed)
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
            thr = self.prober.fpr_matched_threshold(version, champ.fpr, state.val_probe) if rc.match_fpr else None
            if thr is not None:
                matched[f"{name}@fpr"] = (version, thr)
                cands.append((f"{name}@fpr", self.probe(version, state, threshold=thr)))
        if ts.rules:
            rules_only = self.services.rules_challenger(champion, ts.rules, rnd, tags)
            cands.append(("rules", self.probe(rules_only, state)))
        else:
            cands.append(("champion", champ))
        gc = self.cfg.campaign.gate
        # the gate's limits hold against the champion and round 0: so does the pick
        base = self.probe(state.baseline_version, state)
        name, notes = select_candidate(champ, cands, gc.max_clean_f1_drop, gc.max_fpr_rise, baseline=base,
                                       reserve=rc.select_reserve, min_lead_p=rc.select_min_lead_p)
        chosen = dict(cands)[name].version
        if name in matched:  # the picked operating point becomes a registered version of its own
            version, thr = matched[name]
            chosen = self.services.threshold_challenger(version, thr, name, rnd, tags)
            self._thresholds[chosen] = thr
            self.prober.remember(chosen, dict(cands)[name])
        cand_info = {n: r.to_dict() for n, r in cands}
        for n, (version, thr) in matched.items():
            cand_info[n].update(version=chosen if n == name else None, of_version=version, threshold=round(thr, 6))
        info = {"chosen": name, "version": None if name == "champion" else chosen, "champion": champ.to_dict(),
                "baseline": base.to_dict(), "candidates": cand_info, "notes": notes}
        return (None if name == "champion" else chosen), info

    def probe(self, version: str, state: CampaignState, threshold: float | None = None) -> ProbeResult:
        """``version`` measured on the campaign's val probe at its own threshold, or at ``threshold`` (cached)."""
        return self.prober.measure(version, state.val_probe, threshold)


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
        return GateInput([self.frozen_hits[i] for i in train_items], self.clean["macro_f1"], share(self.benign_flags))



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
    val_probe: dict[str, Any] | None  # val texts only (arena.probe.ValProbe.build)
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
