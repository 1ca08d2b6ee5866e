"""Deterministic, stratified hold-out of a validation split.

Used for datasets that ship without a validation split (OLID, Jigsaw). The choice depends only on
the row ids, the labels, the fraction and the seed: not on row order, the Python version or any
global random state. For each label, the rows are ranked by ``sha256(f"{seed}:{id}")`` and the
first ones go to validation. The total is ``round(n * fraction)`` (halves up), shared out between
the labels in proportion to their size (largest remainder; ties go to the smaller label value).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from fractions import Fraction

VAL_SEED = 2019
"""Seed of the validation hold-out of OLID and Jigsaw (2019: the year of OffensEval)."""

VAL_FRACTION = 0.1
"""Share of the training rows held out as validation for OLID and Jigsaw."""


def _quotas(class_sizes: dict[int, int], fraction: Fraction) -> dict[int, int]:
    """How many rows of each class go to validation (largest-remainder apportionment)."""
    total = sum(class_sizes.values())
    target = math.floor(total * fraction + Fraction(1, 2))
    exact = {c: n * fraction for c, n in class_sizes.items()}
    quotas = {c: math.floor(x) for c, x in exact.items()}
    by_remainder = sorted(class_sizes, key=lambda c: (-(exact[c] - quotas[c]), c))
    for c in by_remainder[: target - sum(quotas.values())]:
        quotas[c] += 1
    return quotas


def holdout_mask(
    ids: Sequence[str],
    labels: Sequence[int],
    *,
    fraction: float = VAL_FRACTION,
    seed: int = VAL_SEED,
) -> list[bool]:
    """Return, for each row, whether it belongs to the held-out (validation) part.

    ``ids`` must be unique; ``fraction`` is in [0, 1]. Stratified by ``labels``.
    """
    if len(ids) != len(labels):
        raise ValueError("holdout_mask: ids and labels have different lengths")
    if not 0 <= fraction <= 1:
        raise ValueError(f"holdout_mask: fraction must be in [0, 1], got {fraction}")
    if len(set(ids)) != len(ids):
        raise ValueError("holdout_mask: ids are not unique")
    frac = Fraction(str(fraction))
    members: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        members.setdefault(label, []).append(i)
    quotas = _quotas({c: len(rows) for c, rows in members.items()}, frac)
    mask = [False] * len(ids)
    for c, rows in members.items():
        ranked = sorted(rows, key=lambda i: hashlib.sha256(f"{seed}:{ids[i]}".encode()).digest())
        for i in ranked[: quotas[c]]:
            mask[i] = True
    return mask
