"""A Ray Tune sweep per challenger: LoRA r/alpha/dropout, learning rate, epochs; ASHA; best trial wins.

    from arena.tune import run_sweep
    sweep = run_sweep(cfg, out, champion_version, texts, labels, val_texts, val_labels, rnd=3, seed=116)
    sweep.best_dir      # the saved defender of the best trial's best epoch (OUT/models/round-3)

The campaign uses it when ``ray.tune.enabled`` is true (arena/actors.py: RayServices).
"""

from arena.tune.space import asha_scheduler, search_space
from arena.tune.sweep import SweepResult, run_sweep
from arena.tune.trainable import SweepJob, train_trial

__all__ = ["SweepJob", "SweepResult", "asha_scheduler", "run_sweep", "search_space", "train_trial"]
