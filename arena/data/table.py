"""The one table type every loader returns, and small helpers around it.

A text table is a ``pyarrow.Table`` with schema :data:`TEXT_SCHEMA`:

========  =======  =====================================================
column    type     meaning
========  =======  =====================================================
``id``    string   stable row id, e.g. ``tweeteval_offensive:train:0``
``text``  string   the text, stripped of leading/trailing whitespace
``label`` int64    1 = toxic / offensive / hateful, 0 = not
``split`` string   ``"train"``, ``"val"`` or ``"test"``
========  =======  =====================================================

Loaders drop rows with an empty text (or no label) instead of failing; how many they dropped,
and where the rows came from, is kept in the schema metadata and read back by :func:`table_info`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from arena.errors import DataError

log = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "val", "test")
"""The split names, in the order loaders emit them."""

TEXT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("text", pa.string()),
        pa.field("label", pa.int64()),
        pa.field("split", pa.string()),
    ]
)
"""Schema of every table returned by :mod:`arena.data` (see the module docstring)."""

_META_KEY = b"arena"


def check_split(split: str) -> str:
    """Return ``split`` if it is one of :data:`SPLITS`, else raise :class:`DataError`."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return split


def build_table(
    ids: Sequence[str],
    texts: Sequence[str],
    labels: Sequence[int],
    splits: Sequence[str],
    *,
    source: str,
    dropped: dict[str, int] | None = None,
) -> pa.Table:
    """Build a :data:`TEXT_SCHEMA` table from parallel columns.

    ``source`` (a dataset name or file path) and ``dropped`` (reason -> row count) are stored in
    the schema metadata; a non-zero drop count is also logged as a warning.
    """
    if not len(ids) == len(texts) == len(labels) == len(splits):
        raise ValueError("build_table: columns have different lengths")
    dropped = {k: v for k, v in (dropped or {}).items() if v}
    for reason, count in dropped.items():
        log.warning("%s: dropped %d row(s) (%s)", source, count, reason.replace("_", " "))
    meta = {_META_KEY: json.dumps({"source": source, "dropped": dropped}).encode()}
    return pa.table(
        [
            pa.array(ids, pa.string()),
            pa.array(texts, pa.string()),
            pa.array(labels, pa.int64()),
            pa.array(splits, pa.string()),
        ],
        schema=TEXT_SCHEMA.with_metadata(meta),
    )


def table_info(table: pa.Table) -> dict[str, Any]:
    """Return ``{"source": str, "dropped": {reason: count}}`` stored by the loader that made ``table``.

    Tables not made by :mod:`arena.data` give ``{"source": None, "dropped": {}}``.
    """
    raw = (table.schema.metadata or {}).get(_META_KEY)
    if raw is None:
        return {"source": None, "dropped": {}}
    return json.loads(raw)


def split_of(table: pa.Table, split: str) -> pa.Table:
    """Return the rows of ``table`` whose ``split`` column equals ``split`` (order kept)."""
    check_split(split)
    if "split" not in table.column_names:
        raise DataError(f"table has no 'split' column (columns: {', '.join(table.column_names)})")
    return table.filter(pc.equal(table["split"], split))


def split_sizes(table: pa.Table) -> dict[str, int]:
    """Row count per split, in :data:`SPLITS` order; splits with no rows are left out."""
    counts = dict.fromkeys(SPLITS, 0)
    for value in table["split"].to_pylist():
        counts[value] = counts.get(value, 0) + 1
    return {k: v for k, v in counts.items() if v}
