"""The promotion gate: a challenger replaces the champion only when measurably better.

Three conditions, all required (thresholds in ``campaign.gate``):

1. **Adversarial detection improves**: on the frozen suite, the paired bootstrap confidence
   interval (default 95%) of ``detect(challenger) - detect(champion)`` lies above
   ``min_detection_gain_ci_low`` (default 0): the gain is not noise.
2. **Clean macro-F1 holds**: it drops at most ``max_clean_f1_drop`` (1 point) against the
   current champion *and* against the round-0 baseline, so small drops cannot accumulate.
3. **No shortcut**: the false-positive rate on perturbed benign texts rises at most
   ``max_fpr_rise`` (2 points) against the champion and the baseline. A defender that learned
   "odd characters = toxic" fails here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass
class GateInput:
    """What the gate compares for one model: per-item frozen-suite hits and two scalars."""

    frozen_detected: Sequence[bool]  # one entry per frozen-suite item, same order for both models
    clean_macro_f1: float
    benign_fpr: float


@dataclass
class GateDecision:
    promote: bool
    detection_gain: float
    ci_low: float
    ci_high: float
    clean_f1_delta: float  # challenger - champion
    clean_f1_delta_vs_baseline: float
    fpr_delta: float  # challenger - champion
    fpr_delta_vs_baseline: float
    reasons: list[str]
    n_items: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_bootstrap_ci(
    a: Sequence[bool], b: Sequence[bool], n_boot: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``b - a`` and its percentile bootstrap CI, resampling items (pairs) with replacement."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.shape[0]} vs {y.shape[0]}")
    if x.size == 0:
        raise ValueError("cannot bootstrap an empty frozen suite")
    diff = y - x
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for start in range(0, n_boot, 256):  # chunks keep memory flat for large suites
        k = min(256, n_boot - start)
        idx = rng.integers(0, diff.size, size=(k, diff.size))
        means[start : start + k] = diff[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(diff.mean()), float(lo), float(hi)


def decide(
    champion: GateInput, challenger: GateInput, baseline: GateInput, cfg, seed: int = 0
) -> GateDecision:
    """Apply the three gate conditions; ``reasons`` lists every failed one (empty when promoted)."""
    gain, lo, hi = paired_bootstrap_ci(
        champion.frozen_detected, challenger.frozen_detected, cfg.bootstrap, cfg.confidence, seed
    )
    f1_d = challenger.clean_macro_f1 - champion.clean_macro_f1
    f1_b = challenger.clean_macro_f1 - baseline.clean_macro_f1
    fpr_d = challenger.benign_fpr - champion.benign_fpr
    fpr_b = challenger.benign_fpr - baseline.benign_fpr
    reasons = []
    if not lo > cfg.min_detection_gain_ci_low:
        reasons.append(
            f"detection gain {gain:+.4f} not significant: {cfg.confidence:.0%} CI [{lo:+.4f}, {hi:+.4f}] "
            f"does not lie above {cfg.min_detection_gain_ci_low:+.4f}"
        )
    eps = 1e-12
    if f1_d < -cfg.max_clean_f1_drop - eps:
        reasons.append(f"clean macro-F1 drops {-f1_d:.4f} vs champion (max {cfg.max_clean_f1_drop})")
    if f1_b < -cfg.max_clean_f1_drop - eps:
        reasons.append(f"clean macro-F1 drops {-f1_b:.4f} vs round-0 baseline (max {cfg.max_clean_f1_drop})")
    if fpr_d > cfg.max_fpr_rise + eps:
        reasons.append(f"benign-perturbed FPR rises {fpr_d:.4f} vs champion (max {cfg.max_fpr_rise})")
    if fpr_b > cfg.max_fpr_rise + eps:
        reasons.append(f"benign-perturbed FPR rises {fpr_b:.4f} vs round-0 baseline (max {cfg.max_fpr_rise})")
    return GateDecision(
        promote=not reasons, detection_gain=gain, ci_low=lo, ci_high=hi,
        clean_f1_delta=f1_d, clean_f1_delta_vs_baseline=f1_b, fpr_delta=fpr_d, fpr_delta_vs_baseline=fpr_b,
        reasons=reasons, n_items=len(champion.frozen_detected),
    )
