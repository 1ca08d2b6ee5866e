"""One Tune trial: build the challenger, train it, report every epoch with a checkpoint.

The trial reports ``tune.report({epoch, train_loss, val_macro_f1, elapsed_s}, checkpoint=...)``
once per epoch, so ASHA can stop it at a rung (``training_iteration`` = epoch) and the best
epoch of the best trial is a saved defender folder that can be registered as is. A stopped trial
ends its actor (``reuse_actors=False`` in the sweep), which frees the model's memory.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SweepJob:
    """What every trial of one sweep shares (put in the object store once by ``tune.with_parameters``)."""

    cfg: Any  # ArenaConfig, its tracking URI pinned
    out_dir: str
    champion_path: str  # resolved once by run_sweep; trials do not open the registry
    texts: list[str]
    labels: list[float]  # 0/1 or soft targets (replay distillation)
    val_texts: list[str]
    val_labels: list[int]
    seed: int
    threads: int = 1
    rules: list[dict[str, Any]] = field(default_factory=list)  # the round's new rules (challenger = rules + weights)


def train_trial(config: dict[str, Any], job: SweepJob) -> None:
    """The Tune function trainable: :func:`arena.retrain.train_challenger` with the trial's lr, epochs and
    dropout (a warm start from the champion), or its r/alpha too (``ray.tune.warm_start: false``: a
    fresh adapter), reporting every epoch with a checkpoint (a saved defender folder)."""
    import torch
    from ray import tune

    from arena.retrain import train_challenger

    torch.set_num_threads(max(1, job.threads))
    epochs = int(config["epochs"])
    lora = None if job.cfg.ray.tune.warm_start else {
        "r": int(config["lora_r"]), "alpha": int(config["lora_alpha"]), "dropout": float(config["dropout"])}

    def report(defender, row: dict[str, float]) -> None:
        with tempfile.TemporaryDirectory(prefix="arena-trial-") as tmp:
            defender.save(tmp)
            tune.report({**row, "epoch": int(row["epoch"])}, checkpoint=tune.Checkpoint.from_directory(tmp))

    # as a campaign challenger (threshold re-calibrated on val or inherited), with the trial's lr/epochs;
    # ASHA stops trials, not the trial itself (patience = epochs)
    train_challenger(job.cfg, job.champion_path, job.texts, job.labels, job.val_texts, job.val_labels,
                     seed=job.seed, rules=job.rules, lora=lora, dropout=float(config["dropout"]), on_epoch=report,
                     epochs=epochs, lr=float(config["lr"]), head_lr=float(config["lr"]), patience=epochs)
