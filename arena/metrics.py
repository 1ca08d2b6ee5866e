"""Classification metrics in plain numpy (no sklearn at import time), checked against sklearn in tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

LABEL_NAMES = ("not_toxic", "toxic")


def _as_arrays(y_true: Sequence[int], y_pred: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_pred, dtype=np.int64)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.shape[0]} vs {p.shape[0]}")
    return t, p


def per_class(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support for each of the two classes (0 where undefined)."""
    t, p = _as_arrays(y_true, y_pred)
    out: dict[str, dict[str, float]] = {}
    for cls, name in enumerate(LABEL_NAMES):
        tp = int(np.sum((p == cls) & (t == cls)))
        fp = int(np.sum((p == cls) & (t != cls)))
        fn = int(np.sum((p != cls) & (t == cls)))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[name] = {"precision": prec, "recall": rec, "f1": f1, "support": int(np.sum(t == cls))}
    return out


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    pc = per_class(y_true, y_pred)
    return float(np.mean([pc[n]["f1"] for n in LABEL_NAMES]))


def roc_auc(y_true: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with midranks for ties); None with one class only."""
    t = np.asarray(y_true, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    n_pos = int(t.sum())
    n_neg = len(t) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):  # midranks over runs of tied scores
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    u = ranks[t == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


THRESHOLD_RULES = ("one_se", "argmax")


def _macro_f1_grid(t: np.ndarray, s: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Macro-F1 of ``s >= g`` for every g in ``grid`` at once (rows: thresholds)."""
    pred = s[None, :] >= grid[:, None]
    pos, neg = t == 1, t == 0
    tp, fp = (pred & pos).sum(1), (pred & neg).sum(1)
    fn, tn = (~pred & pos).sum(1), (~pred & neg).sum(1)
    f_pos = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    f_neg = np.where(2 * tn + fn + fp > 0, 2 * tn / np.maximum(2 * tn + fn + fp, 1), 0.0)
    return (f_pos + f_neg) / 2


def best_threshold(
    y_true: Sequence[int], scores: Sequence[float], grid: Sequence[float] | None = None, *,
    rule: str = "argmax", n_boot: int = 200, seed: int = 0,
) -> tuple[float, float]:
    """(threshold, macro-F1) picked on a validation split (default grid 0.05, 0.06, ..., 0.95).

    ``rule="argmax"``: the grid point with the best macro-F1; ties go to the one closest to 0.5.
    ``rule="one_se"``: the one-standard-error rule. The best macro-F1's standard error is estimated
    with ``n_boot`` bootstrap resamples of the split (seeded, so the pick is reproducible), and the
    grid point closest to 0.5 whose macro-F1 is within one standard error of the best is taken.
    0.5 is the natural operating point of a classifier trained with cross-entropy; on a flat
    macro-F1 curve the arg-max is noise, and this rule moves the threshold only for a gain larger
    than that noise (docs/retrain.md, "The baseline's threshold"). Use it on a validation split
    only, never on test.
    """
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"unknown threshold rule {rule!r}; expected one of {list(THRESHOLD_RULES)}")
    if len(y_true) != len(scores):
        raise ValueError("y_true and scores differ in length")
    if not len(y_true):
        raise ValueError("cannot calibrate a threshold on an empty split")
    g = np.asarray(grid if grid is not None else [round(0.05 + 0.01 * i, 2) for i in range(91)], dtype=float)
    t = np.asarray(y_true, dtype=np.int64)
    s = np.asarray(scores, dtype=float)
    f1 = _macro_f1_grid(t, s, g)
    order = np.argsort(np.abs(g - 0.5), kind="stable")  # nearest 0.5 first: ties go there
    best = int(order[int(np.argmax(f1[order]))])
    if rule == "one_se" and n_boot > 1:
        rng = np.random.default_rng(seed)
        boot = [_macro_f1_grid(t[ix], s[ix], g[best : best + 1])[0]
                for ix in (rng.integers(0, len(t), len(t)) for _ in range(n_boot))]
        floor = f1[best] - float(np.std(boot))
        best = int(next(i for i in order if f1[i] >= floor - 1e-12))
    return float(g[best]), float(f1[best])


def classification_report(
    y_true: Sequence[int], scores: Sequence[float], threshold: float = 0.5
) -> dict[str, Any]:
    """Accuracy, macro-F1, ROC-AUC and per-class precision/recall for P(toxic) scores."""
    t = np.asarray(y_true, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if len(t) == 0:
        raise ValueError("cannot compute metrics on an empty set")
    pred = (s >= threshold).astype(np.int64)
    return {
        "n": int(len(t)),
        "threshold": threshold,
        "accuracy": float(np.mean(pred == t)),
        "macro_f1": macro_f1(t, pred),
        "roc_auc": roc_auc(t, s),
        "per_class": per_class(t, pred),
    }


def share(flags: Sequence[bool]) -> float:
    """Fraction of True values; 0.0 for an empty sequence (where the caller counts nothing as none)."""
    return sum(flags) / len(flags) if flags else 0.0


def rate(flags: Sequence[bool]) -> float | None:
    """Fraction of True values; None for an empty sequence (never a fake 0)."""
    return float(np.mean(np.asarray(flags, dtype=bool))) if len(flags) else None


def format_report(m: dict[str, Any]) -> str:
    """One line for a :func:`classification_report` result."""
    auc = f"{m['roc_auc']:.4f}" if m.get("roc_auc") is not None else "n/a"
    pc = m["per_class"]
    return (
        f"test ({m['n']} texts): accuracy={m['accuracy']:.4f} macro_f1={m['macro_f1']:.4f} roc_auc={auc} "
        f"toxic P/R={pc['toxic']['precision']:.3f}/{pc['toxic']['recall']:.3f} "
        f"not_toxic P/R={pc['not_toxic']['precision']:.3f}/{pc['not_toxic']['recall']:.3f}"
    )
