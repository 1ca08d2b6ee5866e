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


def best_threshold(
    y_true: Sequence[int], scores: Sequence[float], grid: Sequence[float] | None = None
) -> tuple[float, float]:
    """(threshold, macro-F1): the grid point (default 0.05, 0.06, ..., 0.95) with the best macro-F1.

    Ties go to the threshold closest to 0.5. Use it on a validation split only, never on test.
    """
    if len(y_true) != len(scores):
        raise ValueError("y_true and scores differ in length")
    if not len(y_true):
        raise ValueError("cannot calibrate a threshold on an empty split")
    grid = grid if grid is not None else [round(0.05 + 0.01 * i, 2) for i in range(91)]
    s = np.asarray(scores, dtype=float)
    best = (0.5, -1.0)
    for t in sorted(grid, key=lambda t: abs(t - 0.5)):
        f1 = macro_f1(y_true, (s >= t).astype(int).tolist())
        if f1 > best[1] + 1e-12:
            best = (float(t), f1)
    return best


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
