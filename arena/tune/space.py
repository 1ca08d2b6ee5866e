"""The sweep's search space and scheduler, built from ``ray.tune`` in the config.

Warm start (default): trials continue from the champion's adapter, so its LoRA shape (r, alpha)
is kept and the sweep searches dropout, learning rate and epochs. Fresh trials
(``ray.tune.warm_start: false``) build a new adapter on the base encoder and search r and alpha
too.
"""

from __future__ import annotations

from typing import Any

from ray import tune
from ray.tune.schedulers import ASHAScheduler


def search_space(tcfg, champion_lora: dict[str, Any] | None = None) -> dict[str, Any]:
    """Tune distributions for one sweep; ``champion_lora`` pins r/alpha for warm-started trials."""
    space = tcfg.space
    out: dict[str, Any] = {
        "dropout": tune.uniform(*space.dropout) if space.dropout[0] < space.dropout[1] else space.dropout[0],
        "lr": tune.loguniform(*space.lr) if space.lr[0] < space.lr[1] else space.lr[0],
        "epochs": tune.choice(list(space.epochs)),
    }
    if tcfg.warm_start and champion_lora is not None:
        out["lora_r"], out["lora_alpha"] = int(champion_lora["r"]), int(champion_lora["alpha"])
    else:
        out["lora_r"], out["lora_alpha"] = tune.choice(list(space.lora_r)), tune.choice(list(space.lora_alpha))
    return out


def asha_scheduler(tcfg) -> ASHAScheduler:
    """ASHA on epochs (one report per epoch): stop the weaker trials at the rungs."""
    max_t = max(tcfg.space.epochs)
    return ASHAScheduler(time_attr="training_iteration", max_t=max_t,
                         grace_period=min(tcfg.grace_period, max_t), reduction_factor=tcfg.reduction_factor)
