"""Load any labelled CSV, TSV or Parquet file into a :data:`~arena.data.table.TEXT_SCHEMA` table.

Example::

    from arena.data import load_table
    t = load_table("my_comments.csv", text_col="body", label_col="verdict", positive=["removed"])

The format follows the extension: ``.csv`` (comma, RFC 4180 quoting, quoted fields may span
lines), ``.tsv``/``.tab`` (tab, no quoting, as in OLID), ``.parquet``/``.pq``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from arena.data.table import build_table, check_split
from arena.errors import DataError

KNOWN_TOXIC: frozenset[str] = frozenset(
    {"toxic", "offensive", "off", "hate", "hateful", "abusive", "1", "true", "yes"}
)
"""Label values (case-insensitive) taken as the positive class when ``positive`` is not given."""

_CSV = (".csv",)
_TSV = (".tsv", ".tab")
_PARQUET = (".parquet", ".pq")


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    for fmt, suffixes in (("csv", _CSV), ("tsv", _TSV), ("parquet", _PARQUET)):
        if suffix in suffixes:
            return fmt
    raise DataError(
        f"{path}: unsupported file type {suffix or '(no extension)'!r}; "
        f"expected one of {', '.join(_CSV + _TSV + _PARQUET)}"
    )


def _header(path: Path, fmt: str) -> list[str]:
    """Column names of a CSV/TSV (first record) or Parquet file."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc
    quoting = csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL
    delimiter = "\t" if fmt == "tsv" else ","
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f, delimiter=delimiter, quoting=quoting), None)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from exc
    if not header or not any(h.strip() for h in header):
        raise DataError(f"{path}: the file is empty (no header line)")
    return header


def read_columns(path: str | Path, columns: Sequence[tuple[str, str]]) -> pa.Table:
    """Read the named columns of a CSV/TSV/Parquet file; CSV/TSV columns are read as strings.

    ``columns`` lists ``(column, role)`` pairs; the role ("text column", ...) goes into the error
    raised when a column is missing, together with the columns the file has. Raises
    :class:`DataError` for a missing, empty or unreadable file, and for a file with no data rows.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    fmt = _format_of(path)
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    available = _header(path, fmt)
    names = list(dict.fromkeys(col for col, _ in columns))
    for col, role in columns:
        if col not in available:
            raise DataError(f"{path}: no column {col!r} ({role}); available columns: {', '.join(available)}")
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path, columns=names)
        else:
            import pyarrow.csv as pacsv

            parse = (
                pacsv.ParseOptions(delimiter="\t", quote_char=False)
                if fmt == "tsv"
                else pacsv.ParseOptions(delimiter=",", newlines_in_values=True)
            )
            convert = pacsv.ConvertOptions(
                include_columns=names,
                column_types={c: pa.string() for c in names},
                strings_can_be_null=False,
            )
            table = pacsv.read_csv(path, parse_options=parse, convert_options=convert)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: cannot parse as {fmt.upper()} ({exc})") from exc
    if table.num_rows == 0:
        raise DataError(f"{path}: the file has a header but no data rows")
    return table


def canonical_label(value: Any) -> str | None:
    """Normalise a raw label value for comparison: casefolded string, ``1.0`` -> ``1``, None if missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text.casefold() or None
    if math.isnan(number):
        return None
    if math.isfinite(number) and number.is_integer():
        return str(int(number))
    return text.casefold()


def label_mapper(values: Iterable[str | None], positive: Sequence[Any] | None, *, source: str) -> set[str]:
    """Return the set of canonical label values that mean "toxic" (label 1).

    With ``positive``: those values. Without: ``{0, 1}`` and ``{true, false}`` map as expected, and
    a column with exactly two values, one of them in :data:`KNOWN_TOXIC`, maps that one to 1.
    Anything else raises :class:`DataError` listing the values found.
    """
    if positive is not None:
        if isinstance(positive, (str, bytes)):
            positive = [positive]
        wanted = {canonical_label(p) for p in positive} - {None}
        if not wanted:
            raise DataError(f"{source}: 'positive' must list at least one label value")
        return wanted
    found = sorted({v for v in values if v is not None})
    if set(found) <= {"0", "1"}:
        return {"1"}
    if set(found) <= {"true", "false"}:
        return {"true"}
    toxic = [v for v in found if v in KNOWN_TOXIC]
    if len(found) == 2 and len(toxic) == 1:
        return set(toxic)
    shown = ", ".join(repr(v) for v in found[:20]) + (
        f", ... ({len(found)} values)" if len(found) > 20 else ""
    )
    raise DataError(
        f"{source}: cannot tell which label value means toxic; values found: {shown or '(none)'}. "
        "Pass positive=[...] with the value(s) that mean toxic/offensive."
    )


def usable_rows(path: str | Path, texts: Sequence[Any], labels: Sequence[str | None]
                ) -> tuple[list[int], list[str], dict[str, int]]:
    """Rows with a non-empty text and a label: (their indices, stripped texts, dropped counts).

    Raises :class:`DataError` naming the file when no row is usable.
    """
    keep: list[int] = []
    out: list[str] = []
    dropped = {"empty_text": 0, "missing_label": 0}
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        text = "" if text is None else str(text).strip()
        if not text:
            dropped["empty_text"] += 1
        elif label is None:
            dropped["missing_label"] += 1
        else:
            keep.append(i)
            out.append(text)
    if not keep:
        raise DataError(f"{path}: no usable rows ({dropped['empty_text']} empty texts, "
                        f"{dropped['missing_label']} missing labels)")
    return keep, out, dropped


def load_table(
    path: str | Path,
    *,
    text_col: str,
    label_col: str,
    positive: Sequence[Any] | None = None,
    split: str = "test",
    id_col: str | None = None,
) -> pa.Table:
    """Load a labelled CSV/TSV/Parquet file as a :data:`TEXT_SCHEMA` table, all rows in ``split``.

    Args:
        path: the file; its extension picks the format (see the module docstring).
        text_col: column holding the text.
        label_col: column holding the label.
        positive: label values that mean toxic (compared as case-insensitive strings, so ``1``,
            ``"1"`` and ``1.0`` are the same value). Default: see :func:`label_mapper`.
        split: the split written into every row (``"train"``, ``"val"`` or ``"test"``).
        id_col: column holding row ids; default ``"<file stem>:<row number>"`` (0-based).

    Rows with an empty or missing text, or a missing label, are dropped; the counts are in
    :func:`~arena.data.table.table_info` and logged. Raises :class:`DataError` for a missing
    column (listing the available ones), an empty file, or an ambiguous label column.
    """
    check_split(split)
    path = Path(path)
    roles = [(text_col, "text column"), (label_col, "label column")]
    if id_col is not None:
        roles.append((id_col, "id column"))
    table = read_columns(path, roles)
    texts = table[text_col].to_pylist()
    raw_labels = [canonical_label(v) for v in table[label_col].to_pylist()]
    raw_ids = table[id_col].to_pylist() if id_col is not None else [None] * table.num_rows
    positives = label_mapper(raw_labels, positive, source=str(path))

    keep, out_texts, dropped = usable_rows(path, texts, raw_labels)
    ids = [f"{path.stem}:{i}" if raw_ids[i] is None or str(raw_ids[i]) == "" else str(raw_ids[i]) for i in keep]
    labels = [int(raw_labels[i] in positives) for i in keep]
    return build_table(ids, out_texts, labels, [split] * len(ids), source=str(path), dropped=dropped)
