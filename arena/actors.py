"""Ray actors around the core loop: the same campaign, with models in actors that share a GPU.

    from arena.cluster import init_ray
    from arena.actors import run_campaign
    init_ray(cfg.ray)                                    # local loopback cluster, or RAY_ADDRESS
    summary = run_campaign(cfg, "runs/arena", rounds=3)  # blocks; resumes an existing OUT

Roles (resources from config ``ray``; GPU fractions apply only when the cluster has GPUs):

    DefenderActor     scores texts for a registry version (two models cached)  num_gpus = ray.num_gpus.defender
    AttackerActor     runs the attack strategies; the LLM backend lives here    num_gpus = ray.num_gpus.attacker
    trainer           a task training the challenger, or a Tune sweep           num_gpus = ray.num_gpus.trainer
                      (arena/tune, ``ray.tune.enabled``) whose trials get that share each; with
                      ``train.device: cuda`` the baseline of a fresh OUT trains in such a task too
    CoordinatorActor  runs ``arena.arena.Campaign`` unchanged, with :class:`RayServices` (actor-backed
                      scoring and training) and an actor-backed attacker; publishes the round metrics

Crash safety. Every actor is named (``arena-<role>-<key of OUT>``) and has ``max_restarts`` and
``max_task_retries``: when the defender or attacker dies, Ray restarts it and retries the call
(scoring and attacking are pure, so a retry returns the same answer). When the coordinator dies,
Ray restarts it and retries ``run``, which re-enters ``Campaign.run``: the campaign resumes from
OUT/state.json and OUT/records, discarding the records of the interrupted round before re-running
it, so no record row is lost or duplicated. Running the same OUT again (a new job) resumes too.

Nothing in the core imports this module; it imports Ray at module level.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import ray

from arena.arena import Campaign, Services
from arena.cluster import actor_alive, gpu_share, init_ray, placement, use_worker_threads, wait_logged
from arena.errors import ArenaError
from arena.registry import pin_tracking
from arena.retrain import train_challenger

ROLES = ("coordinator", "defender", "attacker")


# ============================================================================ actors
class DefenderActor:
    """Scores texts with a registered defender version; keeps the ``cache_size`` latest models loaded."""

    def __init__(self, cfg, out_dir: str, cache_size: int = 2) -> None:
        self.cfg, self.out, self.cache_size = cfg, Path(out_dir), cache_size
        use_worker_threads(getattr(cfg, "ray", None))
        self._registry = None
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def registry(self):
        if self._registry is None:
            from arena.registry import Registry

            self._registry = Registry.from_config(self.cfg, self.out)
        return self._registry

    def _model(self, version: str):
        with self._lock:
            if version in self._models:
                self._models.move_to_end(version)
                return self._models[version]
            model = self.registry.load_defender(str(version), device=self.cfg.train.device)
            self._models[version] = model
            while len(self._models) > self.cache_size:
                self._models.popitem(last=False)
            return model

    def score(self, version: str, texts: Sequence[str]) -> list[float]:
        return self._model(str(version)).score(list(texts))

    def threshold(self, version: str) -> float:
        return float(self._model(str(version)).spec.threshold)

    def info(self) -> dict[str, Any]:
        return {**placement(), "loaded": list(self._models)}


class AttackerActor:
    """Runs registered attack strategies; the LLM backend of ``llm_rewrite`` is loaded here, once."""

    def __init__(self, cfg) -> None:
        self.cfg = cfg
        use_worker_threads(getattr(cfg, "ray", None))
        self._strategies: dict[str, Any] = {}

    def _strategy(self, name: str, params: dict[str, Any]):
        key = json.dumps([name, params], sort_keys=True, default=str)
        if key not in self._strategies:
            from arena.attack import get_strategy

            self._strategies[key] = get_strategy(name, **params)
        return self._strategies[key]

    def attack(self, name: str, params: dict[str, Any], text: str, seed: int, budget: int | None = None,
               n: int = 1, targets: Sequence[int] | None = None, only_targets: bool = False):
        strat = self._strategy(name, params)
        return strat(text, seed, budget, n, list(targets) if targets else None, only_targets)

    def info(self) -> dict[str, Any]:
        return {**placement(), "strategies": sorted(self._strategies)}


def _unwrap(exc: Exception) -> Exception:
    """A task error raised inside an actor becomes its cause; a dead actor becomes an ArenaError."""
    from ray.exceptions import RayTaskError

    if isinstance(exc, RayTaskError):
        return exc.as_instanceof_cause()
    return ArenaError(f"Ray actor failed beyond its restarts/retries: {exc}")


class RemoteScorer:
    """``score(texts)`` through a DefenderActor, for one registry version (the core's Scorer protocol)."""

    def __init__(self, actor, version: str) -> None:
        self.actor, self.version = actor, str(version)

    def score(self, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        try:
            return ray.get(self.actor.score.remote(self.version, list(texts)))
        except ray.exceptions.RayError as exc:
            raise _unwrap(exc) from exc


class RemoteStrategy:
    """A strategy object whose calls run in an AttackerActor (same signature as ``Strategy.__call__``)."""

    def __init__(self, actor, name: str, params: dict[str, Any]) -> None:
        self.actor, self.name, self.params = actor, name, params

    def __call__(self, text: str, rng: random.Random | int, budget: int | None = None, n: int = 1,
                 targets: Sequence[int] | None = None, only_targets: bool = False):
        seed = rng.getrandbits(63) if isinstance(rng, random.Random) else int(rng)
        try:
            return ray.get(self.actor.attack.remote(self.name, self.params, text, seed, budget, n,
                                                    list(targets) if targets else None, only_targets))
        except ray.exceptions.RayError as exc:
            raise _unwrap(exc) from exc


def train_challenger_task(cfg, out_dir: str, champion_path: str, texts: list[str], labels: list[float],
                          val_texts: list[str], val_labels: list[int], rnd: int, seed: int,
                          progress: bool = False, rules: list[dict[str, Any]] | None = None) -> tuple[str, dict[str, Any]]:
    """:func:`arena.retrain.train_challenger` as a Ray task with the trainer's GPU share: the champion at
    ``champion_path`` warm-started on the retrain set, saved to OUT/models/round-N.
    Returns (folder, training result with the task's placement)."""
    use_worker_threads(cfg.ray)
    folder, result, _ = train_challenger(cfg, champion_path, texts, labels, val_texts, val_labels, seed=seed,
                                         rules=rules or (), folder=Path(out_dir) / "models" / f"round-{rnd}",
                                         progress=progress)
    return str(folder), {**result.to_dict(), "placement": placement()}


def train_baseline_task(cfg, out_dir: str, progress: bool = False) -> dict[str, Any]:
    """:func:`arena.baseline.train_baseline` as a Ray task with the trainer's GPU share: the baseline
    champion of a fresh OUT, registered with alias ``champion``. Returns its report with the task's placement."""
    from arena.baseline import train_baseline

    use_worker_threads(cfg.ray)
    return {**train_baseline(cfg, out_dir, progress=progress), "placement": placement()}


class RayServices(Services):
    """Scoring through the DefenderActor; challengers trained by a GPU-share task or a Tune sweep."""

    def __init__(self, cfg, out_dir: Path, registry, progress: bool = True, *, defender) -> None:
        super().__init__(cfg, out_dir, registry, progress)
        self.defender = defender

    def scorer(self, version: str) -> RemoteScorer:
        return RemoteScorer(self.defender, version)

    def train_challenger(self, champion_version: str, texts: list[str], labels: list[float],
                         val_texts: list[str], val_labels: list[int], rnd: int, seed: int,
                         tags: dict[str, str], rules=()) -> str:
        rc = self.cfg.ray
        if rc.tune.enabled:
            import mlflow

            from arena.tune import run_sweep

            parent = mlflow.active_run()
            sweep = run_sweep(self.cfg, self.out, champion_version, texts, labels, val_texts, val_labels,
                              rnd=rnd, seed=seed, tags=tags, rules=list(rules), parent_run_id=parent.info.run_id if parent else None,
                              progress=self.progress)
            folder, info, extra = sweep.best_dir, sweep.metrics(), {"tune_trial": sweep.best_trial}
        else:
            task = ray.remote(train_challenger_task).options(
                num_cpus=rc.trainer_cpus, num_gpus=gpu_share("trainer", rc), max_retries=1)
            _, champion_path = self.registry.resolve(champion_version)  # once, here; the task gets the path
            ref = task.remote(self.cfg, str(self.out), str(champion_path), texts, labels, val_texts, val_labels,
                              rnd, seed, False, list(rules))
            folder, info = wait_logged(ref, f"challenger training of round {rnd}",
                                       {"CPU": rc.trainer_cpus, "GPU": gpu_share("trainer", rc)})
            info = {k: v for k, v in info.items() if k != "placement"}
            extra = {}
        with self.registry.run(f"challenger-round-{rnd}", tags={"arena.kind": "challenger", **tags},
                               nested=True) as run:
            self.registry.log_metrics(info, prefix="train.")
            return self.registry.register(folder, run.info.run_id,
                                          tags={"kind": "challenger", "round": rnd, **extra, **tags})


class CoordinatorActor:
    """Drives a campaign: ``run(rounds)`` is ``Campaign.run`` with actor-backed services.

    A threaded actor (``max_concurrency`` > 1), so ``status()`` answers while ``run`` works.
    Round metrics go to Prometheus (arena_detection_rate, arena_attack_success_rate,
    arena_champion_version, arena_promotions_total), refreshed while the actor lives.
    """

    def __init__(self, cfg, out_dir: str, defender, attacker, progress: bool = True) -> None:
        self.cfg, self.out = cfg, Path(out_dir)
        use_worker_threads(cfg.ray)  # the baseline champion of a fresh OUT trains in this actor (CPU)
        self.defender, self.attacker, self.progress = defender, attacker, progress
        self._board = None
        self._running = False
        self._error: str | None = None
        self._published: set[int] = set()

    # ------------------------------------------------------------------ driving
    def run(self, rounds: int | None = None) -> dict[str, Any]:
        self._running, self._error = True, None
        try:
            self._publish_saved_rounds()
            # the core loop unchanged: scoring/training through actors, strategies in the AttackerActor
            campaign = Campaign(self.cfg, self.out, progress=self.progress,
                                services_factory=partial(RayServices, defender=self.defender),
                                strategy_factory=partial(RemoteStrategy, self.attacker), on_round=self._on_round)
            if self.cfg.train.device == "cuda":
                self._train_baseline_in_task(campaign)
            return campaign.run(rounds)
        except Exception as exc:
            self._error = repr(exc)
            raise
        finally:
            self._running = False

    def _train_baseline_in_task(self, campaign: Campaign) -> None:
        """A fresh OUT's baseline on CUDA trains in a task holding the trainer's GPU share, not in this
        actor (it has no GPU share, and holding one for the whole run would starve the challenger task:
        0.25 + 0.25 + 0.5 of configs/gpu.yaml fill the GPU): the GPU work stays inside Ray's accounting and
        its CUDA memory leaves with the task's worker. ``campaign.run`` then finds the champion and skips
        its own baseline training."""
        from arena.registry import CHAMPION

        if campaign.registry.get_alias(CHAMPION) is not None:
            return
        rc = self.cfg.ray
        needs = {"CPU": rc.trainer_cpus, "GPU": gpu_share("trainer", rc)}
        if self.progress:
            print(f"round 0: training the baseline champion in a task ({needs})", flush=True)
        # max_calls=1: the worker exits after the task, so its CUDA context and cached memory go with it
        task = ray.remote(max_calls=1)(train_baseline_task).options(num_cpus=needs["CPU"], num_gpus=needs["GPU"],
                                                                    max_retries=1)
        # campaign.cfg: the config Campaign itself would train the baseline with
        report = wait_logged(task.remote(campaign.cfg, str(self.out), self.progress), "baseline training", needs)
        if self.progress:
            print(f"baseline champion v{report['model_version']} (test macro-F1 {report['macro_f1']:.4f}, "
                  f"GPU ids {report['placement']['gpu_ids']})", flush=True)

    def status(self) -> dict[str, Any]:
        state = self._state() or {}
        return {
            "running": self._running, "error": self._error, "campaign_id": state.get("campaign_id"),
            "next_round": state.get("next_round"), "champion_version": state.get("champion_version"),
            "rounds": [r["round"] for r in state.get("rounds", [])], "placement": placement(),
        }

    def published_metrics(self) -> list[tuple[dict[str, str], float]]:
        return self._board.values() if self._board else []

    # ------------------------------------------------------------------ metrics
    def _state(self) -> dict[str, Any] | None:
        path = self.out / "state.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def _publish_saved_rounds(self) -> None:
        state = self._state()
        for row in (state or {}).get("rounds", []):
            self._publish(row, state, count_promotion=False)

    def _on_round(self, row: dict[str, Any]) -> None:
        try:
            self._publish(row, self._state() or {}, count_promotion=True)
        except Exception as exc:  # metrics must never break a campaign
            print(f"warning: metrics not published: {exc!r}", flush=True)

    def _publish(self, row: dict[str, Any], state: dict[str, Any], count_promotion: bool) -> None:
        from arena import prometheus as m

        if self._board is None:
            self._board = m.GaugeBoard()
        cid, rnd = str(state.get("campaign_id", "")), str(row["round"])
        live = row.get("live_attack_success")
        for kind, value in (("frozen", row.get("frozen_detection")),
                            ("live", None if live is None else 1.0 - live),
                            ("heldout", row.get("heldout_strategy_detection"))):
            if value is not None:
                self._board.set(m.detection_rate(), value, {"campaign_id": cid, "round": rnd, "kind": kind})
        for strategy, rate in (row.get("live_per_strategy_success") or {}).items():
            self._board.set(m.attack_success_rate(), rate, {"campaign_id": cid, "strategy": strategy})
        champion = state.get("champion_version")
        if champion is not None and str(champion).isdigit():
            self._board.set(m.champion_version(), int(champion))
        if count_promotion and row.get("promoted") and int(row["round"]) not in self._published:
            m.promotions().inc(1.0, tags={"source": "campaign"})
        self._published.add(int(row["round"]))


# ============================================================================ launching
@dataclass
class CampaignHandle:
    """The three actors of one campaign and the pending ``run`` call."""

    out: Path
    names: dict[str, str]
    namespace: str
    coordinator: Any
    defender: Any
    attacker: Any
    ref: Any = None
    killed: list[str] = field(default_factory=list)

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        return ray.get(self.ref, timeout=timeout)

    def status(self, timeout: float = 30) -> dict[str, Any]:
        return ray.get(self.coordinator.status.remote(), timeout=timeout)

    def shutdown(self) -> None:
        for actor in (self.coordinator, self.defender, self.attacker):
            try:
                ray.kill(actor, no_restart=True)
            except Exception:
                pass


def campaign_key(out_dir: str | os.PathLike) -> str:
    return hashlib.sha1(str(Path(out_dir).resolve()).encode()).hexdigest()[:10]


def launch_campaign(cfg, out_dir: str | os.PathLike, rounds: int | None = None, *,
                    progress: bool = True, key: str | None = None) -> CampaignHandle:
    """Create the named actors of a campaign on OUT and start ``run`` (non-blocking).

    One campaign per OUT at a time: if actors of this OUT are alive, this raises ArenaError.
    """
    if not ray.is_initialized():
        init_ray(cfg.ray)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cfg = pin_tracking(cfg, out)
    rc = cfg.ray
    key = key or campaign_key(out)
    names = {role: f"arena-{role}-{key}" for role in ROLES}
    busy = [n for n in names.values() if actor_alive(n, rc.namespace)]
    if busy:
        raise ArenaError(f"a campaign is already running on {out} (actors {', '.join(busy)} are alive)")
    common = dict(namespace=rc.namespace, max_restarts=rc.max_restarts, max_task_retries=rc.max_task_retries)
    defender = ray.remote(DefenderActor).options(
        name=names["defender"], num_cpus=rc.actor_cpus, num_gpus=gpu_share("defender", rc), **common,
    ).remote(cfg, str(out))
    attacker = ray.remote(AttackerActor).options(
        name=names["attacker"], num_cpus=rc.actor_cpus, num_gpus=gpu_share("attacker", rc), **common,
    ).remote(cfg)
    coordinator = ray.remote(CoordinatorActor).options(
        name=names["coordinator"], num_cpus=0, max_concurrency=4, **common,
    ).remote(cfg, str(out), defender, attacker, progress)
    handle = CampaignHandle(out, names, rc.namespace, coordinator, defender, attacker)
    handle.ref = coordinator.run.remote(rounds)
    return handle


def run_campaign(cfg, out_dir: str | os.PathLike, rounds: int | None = None, *, progress: bool = True,
                 timeout: float | None = None) -> dict[str, Any]:
    """Run (or resume) a campaign on the cluster and wait for its summary; actors are removed after."""
    handle = launch_campaign(cfg, out_dir, rounds, progress=progress)
    try:
        return handle.wait(timeout=timeout)
    finally:
        handle.shutdown()
