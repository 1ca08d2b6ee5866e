"""Train the baseline champion: data -> defender -> test metrics -> MLflow run -> registry alias.

    from arena.baseline import train_baseline
    metrics = train_baseline(load_config("configs/default.yaml"), "runs/arena")

This is what ``arena train`` runs and what round 0 of a campaign starts from.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arena.errors import DataError


@dataclass
class Split:
    """Texts and 0/1 labels of one split, as plain lists."""

    texts: list[str]
    labels: list[int]
    ids: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def rows(self) -> list[tuple[str, str, int]]:
        """(id, text, label) per row, in split order."""
        return list(zip(self.ids, self.texts, self.labels, strict=True))

    def subsample(self, n: int | None, seed: int) -> Split:
        """Stratified, seeded subsample of at most ``n`` rows (keeps the class balance)."""
        if n is None or n >= len(self):
            return self
        rng = random.Random(seed)
        by_label: dict[int, list[int]] = {}
        for i, y in enumerate(self.labels):
            by_label.setdefault(y, []).append(i)
        keep: list[int] = []
        for _, idx in sorted(by_label.items()):
            k = max(1, round(n * len(idx) / len(self)))
            keep.extend(rng.sample(idx, min(k, len(idx))))
        keep.sort()
        return Split([self.texts[i] for i in keep], [self.labels[i] for i in keep], [self.ids[i] for i in keep])


def load_splits(cfg) -> dict[str, Split]:
    """train / val / test of ``cfg.data.dataset`` (fetched or from ARENA_DATA_MIRROR), subsampled per config."""
    from arena.data import load_dataset

    table = load_dataset(cfg.data.dataset)
    cols = table.to_pydict()
    out: dict[str, Split] = {}
    for name in ("train", "val", "test"):
        idx = [i for i, s in enumerate(cols["split"]) if s == name]
        out[name] = Split([cols["text"][i] for i in idx], [int(cols["label"][i]) for i in idx],
                          [cols["id"][i] for i in idx])
    for name, limit in (("train", cfg.data.max_train), ("val", cfg.data.max_val), ("test", cfg.data.max_test)):
        if not len(out[name]):
            raise DataError(f"dataset {cfg.data.dataset!r} has no {name} split")
        out[name] = out[name].subsample(limit, cfg.seed)
    return out


def evaluate(defender, split: Split, batch_size: int = 128) -> dict[str, Any]:
    from arena.metrics import classification_report

    t0 = time.perf_counter()
    scores = defender.score(split.texts, batch_size=batch_size)
    dt = time.perf_counter() - t0
    report = classification_report(split.labels, scores, defender.spec.threshold)
    if defender.spec.threshold != 0.5:  # what val calibration bought (the threshold never sees this split)
        report["macro_f1_at_0_5"] = classification_report(split.labels, scores, 0.5)["macro_f1"]
    report["inference_s"] = dt
    report["texts_per_s"] = len(split) / dt if dt > 0 else None
    return report


def train_baseline(cfg, out_dir: str | Path, *, progress: bool = True, register: bool = True) -> dict[str, Any]:
    """Train, evaluate on test, log to MLflow, register, set alias ``champion``; write OUT/metrics.json."""
    from arena.defend import Defender, train_defender
    from arena.registry import CHAMPION, Registry

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    splits = load_splits(cfg)
    registry = Registry.from_config(cfg, out) if register else None
    resolved = cfg.to_dict()

    def _train() -> dict[str, Any]:
        defender = Defender.create(cfg.defender, device=cfg.train.device, seed=cfg.seed)
        trainable, total = defender.trainable_parameters()
        if progress:
            print(f"defender: {cfg.defender.method} on {defender.spec.base_model or 'all-MiniLM-L6-v2'}, "
                  f"{trainable:,} of {total:,} parameters trainable; train={len(splits['train'])} "
                  f"val={len(splits['val'])} test={len(splits['test'])}", flush=True)
        result = train_defender(
            defender, splits["train"].texts, splits["train"].labels, splits["val"].texts, splits["val"].labels,
            cfg.train, seed=cfg.seed, progress=progress,
            on_epoch=(lambda row: registry.log_metrics(row, step=int(row["epoch"]))) if registry else None,
        )
        model_dir = defender.save(out / "models" / "baseline")
        metrics = evaluate(defender, splits["test"], cfg.train.eval_batch_size)
        metrics.update(
            dataset=cfg.data.dataset, split="test", train=result.to_dict(),
            trainable_params=trainable, total_params=total, model_dir=str(model_dir),
        )
        return metrics

    if registry is None:
        metrics = _train()
    else:
        with registry.run("baseline", config=resolved, tags={"arena.kind": "baseline"}) as run:
            metrics = _train()
            registry.log_metrics({k: metrics[k] for k in ("accuracy", "macro_f1", "roc_auc") if metrics[k] is not None},
                                 prefix="test.")
            registry.log_metrics({"train_wall_s": metrics["train"]["wall_s"]})
            version = registry.register(metrics["model_dir"], run.info.run_id,
                                        tags={"kind": "baseline", "test_macro_f1": f"{metrics['macro_f1']:.4f}"})
            registry.set_alias(CHAMPION, version, round=0, reason="baseline")
            metrics.update(model_version=version, run_id=run.info.run_id, tracking_uri=registry.tracking_uri)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
