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

    cfg: Any  # ArenaConfig
    out_dir: str
    champion_version: str
    texts: list[str]
    labels: list[float]  # 0/1 or soft targets (replay distillation)
    val_texts: list[str]
    val_labels: list[int]
    seed: int
    threads: int = 1
    rules: list[dict[str, Any]] = field(default_factory=list)  # the round's new rules (challenger = rules + weights)


def build_defender(config: dict[str, Any], job: SweepJob):
    """Warm start from the champion (dropout from the trial) or a fresh adapter with the trial's r/alpha;
    either way with the champion's rules plus the round's new ones (challenger = rules + weights)."""
    from arena.defend import Defender
    from arena.defend.rules import RuleSet
    from arena.registry import Registry

    cfg = job.cfg
    _, path = Registry.from_config(cfg, job.out_dir).resolve(job.champion_version)
    if cfg.ray.tune.warm_start:
        defender = Defender.load(path, device=cfg.train.device, trainable=True)  # loads the champion's rules
        set_lora_dropout(defender, float(config["dropout"]))
    else:
        dcfg = cfg.defender.model_copy(deep=True)
        dcfg.lora = dcfg.lora.model_copy(update={"r": int(config["lora_r"]), "alpha": int(config["lora_alpha"]),
                                                 "dropout": float(config["dropout"])})
        defender = Defender.create(dcfg, device=cfg.train.device, seed=job.seed)
        defender.spec.threshold = Defender.read_spec(path).threshold  # kept unless retrain.calibrate_threshold
        defender.rules = RuleSet.load(path)
    defender.rules = defender.rules.merged(job.rules)
    return defender


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


def train_trial(config: dict[str, Any], job: SweepJob) -> None:
    """The Tune function trainable."""
    import torch
    from ray import tune

    from arena.arena import retrain_config
    from arena.defend import train_defender

    torch.set_num_threads(max(1, job.threads))
    defender = build_defender(config, job)
    epochs = int(config["epochs"])
    # as a campaign challenger (threshold re-calibrated on val or inherited), with the trial's lr/epochs
    tcfg = retrain_config(job.cfg, epochs=epochs, lr=float(config["lr"]), head_lr=float(config["lr"]),
                          patience=epochs)  # ASHA stops trials, not the trial itself

    def report(row: dict[str, float]) -> None:
        with tempfile.TemporaryDirectory(prefix="arena-trial-") as tmp:
            defender.save(tmp)
            tune.report({**row, "epoch": int(row["epoch"])}, checkpoint=tune.Checkpoint.from_directory(tmp))

    train_defender(defender, job.texts, job.labels, job.val_texts, job.val_labels, tcfg, seed=job.seed,
                   progress=False, on_epoch=report)
