"""Run one sweep for a challenger and pick its best trial.

    sweep = run_sweep(cfg, out, "3", texts, labels, val_texts, val_labels, rnd=2, seed=115,
                      tags={"campaign_id": cid}, parent_run_id=campaign_run_id)

* trials: ``ray.tune.num_samples`` samples of the space (arena/tune/space.py), at most
  ``max_concurrent_trials`` at once, each with ``cpus_per_trial`` CPUs and a GPU share
  (``gpus_per_trial``, default ``ray.num_gpus.trainer``; 0 on a cluster without GPUs);
* ASHA stops weak trials after ``grace_period`` epochs; stopped trials' actors exit;
* every trial is an MLflow run in the campaign's experiment (``MLflowLoggerCallback``), nested
  under the campaign run and tagged with the round;
* the best trial's best epoch (max ``ray.tune.metric``) is copied to OUT/models/round-N.
Tune's own files (results, checkpoints) stay under OUT/tune/round-N-xxxxxx.
"""

from __future__ import annotations

import math
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.air.integrations.mlflow import MLflowLoggerCallback
from ray.tune.search import BasicVariantGenerator

from arena.errors import ModelError
from arena.tune.space import asha_scheduler, search_space
from arena.tune.trainable import SweepJob, train_trial


@dataclass
class SweepResult:
    best_dir: str
    best_trial: str
    best_config: dict[str, Any]
    best_metric: float
    metric: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0
    experiment_path: str = ""

    @property
    def stopped_early(self) -> int:
        return sum(1 for t in self.trials if t["status"] == "stopped")

    def metrics(self) -> dict[str, float]:
        """Numbers for the challenger's MLflow run."""
        out = {f"best_{self.metric}": self.best_metric, "trials": len(self.trials),
               "trials_stopped_early": self.stopped_early,
               "trials_failed": sum(1 for t in self.trials if t["status"] == "error"), "sweep_wall_s": self.wall_s}
        out.update({f"best.{k}": float(v) for k, v in self.best_config.items() if isinstance(v, int | float)})
        return out


def _trial_rows(grid, metric: str) -> list[dict[str, Any]]:
    rows = []
    for result in grid:
        cfg = {k: v for k, v in (result.config or {}).items()}
        df = result.metrics_dataframe
        best = float(df[metric].max()) if df is not None and metric in df and len(df) else float("nan")
        epochs_run = int(df["epoch"].max()) if df is not None and "epoch" in df and len(df) else 0
        if result.error is not None:
            status = "error"
        elif epochs_run < int(cfg.get("epochs", epochs_run)):
            status = "stopped"
        else:
            status = "completed"
        rows.append({"trial_id": (result.metrics or {}).get("trial_id"), "config": cfg, "status": status,
                     "epochs_run": epochs_run, metric: best, "path": result.path,
                     "error": None if result.error is None else repr(result.error)[:500]})
    return rows


def run_sweep(cfg, out_dir, champion_version: str, texts: list[str], labels: list[float], val_texts: list[str],
              val_labels: list[int], *, rnd: int, seed: int, tags: dict[str, str] | None = None,
              parent_run_id: str | None = None, progress: bool = False,
              rules: list[dict[str, Any]] | None = None) -> SweepResult:
    """Sweep, then copy the best trial's best checkpoint to OUT/models/round-``rnd``."""
    from arena.defend import Defender
    from arena.registry import Registry, pin_tracking

    tc = cfg.ray.tune
    out = Path(out_dir).resolve()
    cfg = pin_tracking(cfg, out)  # trials run in other processes: no reliance on their environment
    registry = Registry.from_config(cfg, out)
    _, champion_path = registry.resolve(champion_version)
    champion_lora = Defender.read_spec(champion_path).lora or None
    threads = max(1, math.floor(tc.cpus_per_trial))
    job = SweepJob(cfg, str(out), str(champion_path), list(texts), list(labels), list(val_texts),
                   list(val_labels), seed, threads, list(rules or []))
    has_gpu = ray.cluster_resources().get("GPU", 0) > 0
    gpus = (tc.gpus_per_trial if tc.gpus_per_trial is not None else cfg.ray.num_gpus.trainer) if has_gpu else 0
    trainable = tune.with_resources(tune.with_parameters(train_trial, job=job),
                                    {"cpu": tc.cpus_per_trial, "gpu": gpus})
    run_tags = {**(tags or {}), "arena.kind": "tune-trial", "round": str(rnd),
                "champion_version": str(champion_version)}
    if parent_run_id:
        run_tags["mlflow.parentRunId"] = parent_run_id
    callback = MLflowLoggerCallback(tracking_uri=registry.tracking_uri, registry_uri=registry.tracking_uri,
                                    experiment_name=cfg.tracking.experiment, tags=run_tags, save_artifact=False)
    name = f"round-{rnd}-{uuid.uuid4().hex[:6]}"
    tuner = tune.Tuner(
        trainable,
        param_space=search_space(tc, champion_lora),
        tune_config=tune.TuneConfig(
            metric=tc.metric, mode="max", scheduler=asha_scheduler(tc), num_samples=tc.num_samples,
            max_concurrent_trials=tc.max_concurrent_trials, reuse_actors=False,
            search_alg=BasicVariantGenerator(random_state=seed, max_concurrent=tc.max_concurrent_trials),
        ),
        run_config=tune.RunConfig(
            name=name, storage_path=str(out / "tune"), callbacks=[callback], verbose=1 if progress else 0,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1, checkpoint_score_attribute=tc.metric,
                                                    checkpoint_score_order="max"),
            failure_config=tune.FailureConfig(max_failures=0),
        ),
    )
    t0 = time.perf_counter()
    grid = tuner.fit()
    wall = time.perf_counter() - t0
    rows = _trial_rows(grid, tc.metric)
    try:
        best = grid.get_best_result(metric=tc.metric, mode="max", scope="all")
    except RuntimeError as exc:
        raise ModelError(f"Tune sweep of round {rnd}: no trial reported {tc.metric}: "
                         f"{[r['error'] for r in rows if r['error']]}") from exc
    if not best.best_checkpoints:
        raise ModelError(f"Tune sweep of round {rnd}: the best trial saved no checkpoint")
    checkpoint, best_metrics = max(best.best_checkpoints, key=lambda cm: cm[1].get(tc.metric, -math.inf))
    dst = out / "models" / f"round-{rnd}"
    if dst.exists():  # a re-run of an interrupted round
        shutil.rmtree(dst)
    shutil.copytree(checkpoint.path, dst)
    trial_id = str(best_metrics.get("trial_id") or Path(best.path).name)
    return SweepResult(str(dst), trial_id, dict(best.config), float(best_metrics[tc.metric]), tc.metric, rows,
                       wall, str(Path(best.path).parent))
