"""The human review queue: spot-check counted evasions, and let the verdicts count.

Embedding similarity cannot tell a veiled insult from a compliment, so a person checks a sample:

    from arena.review import export_review, import_review, rejected_texts, review_stats
    export_review("runs/demo", "review.csv", per_strategy=20, seed=0)   # -> rows written
    # ... a person fills the `verdict` column with accept / reject ...
    import_review("runs/demo", "review.csv")      # -> counts per strategy, validity rate
    rejected_texts("runs/demo")                   # -> attacked texts to leave out of training and metrics
    review_stats("runs/demo")                     # -> per-strategy validity rate of the verdicts so far

*Counted evasions* are campaign records (``arena/records.py``) with ``valid`` and ``evaded``.
The export takes a seeded sample of at most ``per_strategy`` of them per strategy (complete
rounds only; evasions that already have a verdict are left out unless ``include_reviewed``).
Each row carries a ``review_id``: a stable hash of (round, pool, text_id, strategy, seed,
attacked), so the same evasion always gets the same id.

The import reads ``review_id``, ``verdict`` and ``note`` back (columns in any order, header
names and verdicts in any case and with stray whitespace; other columns are ignored), checks
every row before writing anything, and merges the verdicts into ``OUT/review/verdicts.parquet``
(one row per review_id; a later verdict replaces an earlier one; re-importing a file changes
nothing). The evasion itself (attacked text, strategy, ...) is taken from the records, never
from the CSV, so a spreadsheet that mangles invisible characters cannot change what is
excluded. Every import is also logged to ``OUT/review/imports.jsonl``. See docs/review.md.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import random
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from arena.errors import ArenaError
from arena.records import RecordStore, _fsync_dir

#: columns of the exported CSV, in order
CSV_COLUMNS = ("review_id", "round", "pool", "strategy", "original", "attacked", "validity", "score",
               "verdict", "note")
#: accepted spellings of a verdict (after strip + lower) -> the stored verdict
VERDICTS = {"accept": "accept", "accepted": "accept", "reject": "reject", "rejected": "reject"}
DEFAULT_POOLS = ("live", "train")

VERDICT_SCHEMA = pa.schema(
    [
        ("review_id", pa.string()),
        ("verdict", pa.string()),  # accept | reject
        ("note", pa.string()),
        ("round", pa.int32()),
        ("pool", pa.string()),
        ("text_id", pa.string()),
        ("strategy", pa.string()),
        ("family", pa.string()),
        ("seed", pa.int64()),
        ("original", pa.string()),
        ("attacked", pa.string()),
        ("validity", pa.float64()),
        ("score", pa.float64()),
        ("defender_version", pa.string()),
        ("reviewed_at", pa.float64()),  # unix time of the import that set this verdict
        ("source", pa.string()),  # the CSV file it came from
    ]
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ============================================================================ paths and ids
def review_dir(out_dir: str | os.PathLike) -> Path:
    """``OUT/review``: the verdicts and the import log."""
    return Path(out_dir) / "review"


def verdicts_path(out_dir: str | os.PathLike) -> Path:
    return review_dir(out_dir) / "verdicts.parquet"


def review_id(row: dict[str, Any]) -> str:
    """Stable id of one evasion: hash of round, pool, text_id, strategy, seed and attacked text.

    Prefixed with ``rv-`` so that spreadsheets never read it as a number.
    """
    parts = [row.get(k) for k in ("round", "pool", "text_id", "strategy", "seed", "attacked")]
    key = "\x1f".join("" if p is None else str(p) for p in parts)
    return "rv-" + hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


# ============================================================================ the evasions
def counted_evasions(out_dir: str | os.PathLike, pools: Iterable[str] | None = DEFAULT_POOLS) -> dict[str, dict]:
    """review_id -> record row of every counted evasion (valid and evaded, complete rounds).

    ``pools=None`` reads every pool.
    """
    store = RecordStore(out_dir)
    if not store.root.is_dir():
        raise ArenaError(f"no campaign records under {store.root} (run `arena campaign --out {out_dir}` first, "
                         "or pass the campaign's output folder)")
    table = store.read(pools=list(pools) if pools is not None else None)
    rows: dict[str, dict] = {}
    for row in table.to_pylist():
        if row["valid"] and row["evaded"] and row["attacked"]:
            rows.setdefault(review_id(row), row)
    return rows


def _sample(rows: list[dict], k: int, seed: int, strategy: str) -> list[dict]:
    """A seeded sample of ``k`` rows that does not depend on the order the records were read in."""
    ordered = sorted(rows, key=lambda r: r["_id"])
    if len(ordered) <= k:
        return ordered
    picked = random.Random(f"{seed}:{strategy}").sample(ordered, k)
    return sorted(picked, key=lambda r: (r["round"], r["pool"], r["_id"]))


# ============================================================================ export
def _cell(value: Any, escape: bool) -> str:
    """One CSV cell. With ``escape``, text that a spreadsheet would run as a formula gets a
    leading apostrophe (spreadsheets hide it; the import never reads text columns back)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4f}"
    text = str(value)
    if escape and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def export_review(
    out_dir: str | os.PathLike,
    csv_path: str | os.PathLike,
    *,
    per_strategy: int = 20,
    seed: int = 0,
    pools: Iterable[str] = DEFAULT_POOLS,
    include_reviewed: bool = False,
    escape_formulas: bool = True,
) -> int:
    """Write a seeded sample of at most ``per_strategy`` counted evasions per strategy to ``csv_path``.

    Columns: :data:`CSV_COLUMNS`; ``verdict`` and ``note`` are empty for the reviewer to fill.
    Evasions that already have a verdict are skipped unless ``include_reviewed``. The file is
    written atomically (UTF-8; temp file + rename). Returns the number of rows written (0 when
    there is nothing to review: the file then holds only the header).
    """
    if per_strategy < 1:
        raise ArenaError(f"per_strategy must be >= 1, got {per_strategy}")
    pools = tuple(pools)
    if not pools:
        raise ArenaError("pools is empty: name at least one pool (live, train)")
    evasions = counted_evasions(out_dir, pools)
    reviewed = set() if include_reviewed else set(_read_verdicts(out_dir))
    by_strategy: dict[str, list[dict]] = {}
    for rid, row in evasions.items():
        if rid not in reviewed:
            by_strategy.setdefault(row["strategy"], []).append({**row, "_id": rid})
    chosen = [row for name in sorted(by_strategy) for row in _sample(by_strategy[name], per_strategy, seed, name)]

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in chosen:
        values = {**row, "review_id": row["_id"], "verdict": "", "note": ""}
        writer.writerow([_cell(values[c], escape_formulas and c in ("original", "attacked")) for c in CSV_COLUMNS])
    _atomic_write_bytes(Path(csv_path), buf.getvalue().encode("utf-8"))
    return len(chosen)


# ============================================================================ import
def _normalise_header(name: str) -> str:
    return (name or "").strip().lower().lstrip("\ufeff")


def _read_csv(csv_path: Path) -> tuple[list[str], Iterator[list[str]]]:
    """Header (normalised) and rows; the delimiter (comma, semicolon, tab) is taken from the header."""
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ArenaError(f"review file not found: {csv_path}") from None
    except UnicodeDecodeError as exc:
        raise ArenaError(f"{csv_path}: not UTF-8 text ({exc}); save the sheet as CSV UTF-8") from None
    first = text.split("\n", 1)[0]
    delimiter = ","
    for cand in (",", ";", "\t"):
        if {"review_id", "verdict"} <= {_normalise_header(x) for x in first.split(cand)}:
            delimiter = cand
            break
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [_normalise_header(h) for h in next(reader, [])]
    missing = [c for c in ("review_id", "verdict") if c not in header]
    if missing:
        raise ArenaError(f"{csv_path}: missing column(s) {', '.join(missing)} (found: {', '.join(header) or 'none'}); "
                         "use a file written by `arena review export`")
    return header, reader


def _field(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def parse_review_csv(csv_path: str | os.PathLike) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """The filled-in verdicts of a review CSV: review_id -> (verdict, note), and the review_ids of
    every non-blank row in file order (reviewed or not).

    A later row for the same review_id replaces an earlier one. An unknown verdict value raises
    :class:`~arena.errors.ArenaError` naming the row (1 = first row after the header) and value.
    """
    csv_path = Path(csv_path)
    header, reader = _read_csv(csv_path)
    col = {name: header.index(name) for name in ("review_id", "verdict", "note") if name in header}
    verdicts: dict[str, tuple[str, str]] = {}
    ids: list[str] = []
    for number, cells in enumerate(reader, start=1):
        if not any(c.strip() for c in cells):
            continue  # a blank line
        rid, raw, note = (_field(cells, col.get(name)) for name in ("review_id", "verdict", "note"))
        ids.append(rid)
        if not raw:
            continue  # not reviewed yet
        verdict = VERDICTS.get(raw.lower())
        if verdict is None:
            raise ArenaError(f"{csv_path}: row {number} (review_id {rid or '?'}): unknown verdict {raw!r}; "
                             "use accept or reject, or leave it empty")
        if not rid:
            raise ArenaError(f"{csv_path}: row {number}: verdict {raw!r} but no review_id")
        verdicts[rid] = (verdict, note)
    return verdicts, ids


def import_review(out_dir: str | os.PathLike, csv_path: str | os.PathLike) -> dict[str, Any]:
    """Merge the verdicts of a filled-in review CSV into ``OUT/review/verdicts.parquet``.

    Unknown verdict values, and review_ids with a verdict that match no counted evasion of
    ``out_dir`` (a CSV from another campaign), raise :class:`~arena.errors.ArenaError` before
    anything is written. Returns::

        {"csv": path, "rows": 40, "reviewed": 30, "unreviewed": 10,   # rows of this file
         "new": 25, "changed": 2, "unchanged": 3,          # verdicts, against those stored before
         "per_strategy": {"leet": {"accepted": 9, "rejected": 1, "unreviewed": 2}, ...},  # this file
         "validity_rate": {"leet": 0.9, ...},               # all verdicts so far (see review_stats)
         "verdicts": "OUT/review/verdicts.parquet"}
    """
    csv_path = Path(csv_path)
    verdicts, ids = parse_review_csv(csv_path)
    evasions = counted_evasions(out_dir, pools=None)
    unknown = [rid for rid in verdicts if rid not in evasions]
    if unknown:
        raise ArenaError(f"{csv_path}: {len(unknown)} review_id(s) with a verdict match no counted evasion under "
                         f"{out_dir} (first: {unknown[0]}); was the file exported from another output folder?")

    per_strategy: dict[str, dict[str, int]] = {}
    for rid in dict.fromkeys(ids):
        row = evasions.get(rid)
        if row is None:
            continue  # an unreviewed row we cannot place: nothing to count
        counts = per_strategy.setdefault(row["strategy"], {"accepted": 0, "rejected": 0, "unreviewed": 0})
        if rid in verdicts:
            counts["accepted" if verdicts[rid][0] == "accept" else "rejected"] += 1
        else:
            counts["unreviewed"] += 1

    now = time.time()
    with _lock(out_dir):
        stored = _read_verdicts(out_dir)
        new = changed = unchanged = 0
        for rid, (verdict, note) in verdicts.items():
            before = stored.get(rid)
            if before is not None and (before["verdict"], before["note"] or "") == (verdict, note):
                unchanged += 1
                continue
            if before is None:
                new += 1
            else:
                changed += 1
            ev = evasions[rid]
            stored[rid] = {
                "review_id": rid, "verdict": verdict, "note": note,
                **{k: ev[k] for k in ("round", "pool", "text_id", "strategy", "family", "seed", "original",
                                      "attacked", "validity", "score", "defender_version")},
                "reviewed_at": now, "source": str(csv_path),
            }
        if new or changed:
            _write_verdicts(out_dir, stored)
        stats = review_stats(out_dir)
        reviewed_rows = sum(1 for rid in ids if rid in verdicts)
        result = {
            "csv": str(csv_path),
            "rows": len(ids),
            "reviewed": reviewed_rows,
            "unreviewed": len(ids) - reviewed_rows,
            "new": new,
            "changed": changed,
            "unchanged": unchanged,
            "per_strategy": dict(sorted(per_strategy.items())),
            "validity_rate": {k: v["validity_rate"] for k, v in stats["per_strategy"].items()},
            "verdicts": str(verdicts_path(out_dir)),
        }
        _append_log(out_dir, {"at": now, "csv": str(csv_path), "sha256": _sha256(csv_path),
                              **{k: result[k] for k in ("rows", "reviewed", "new", "changed", "unchanged")}})
    return result


# ============================================================================ verdict store
def _read_verdicts(out_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    path = verdicts_path(out_dir)
    if not path.is_file():
        return {}
    return {row["review_id"]: row for row in pq.read_table(path, schema=VERDICT_SCHEMA).to_pylist()}


def _write_verdicts(out_dir: str | os.PathLike, rows: dict[str, dict[str, Any]]) -> None:
    path = verdicts_path(out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist([rows[k] for k in sorted(rows)], schema=VERDICT_SCHEMA)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def verdicts_table(out_dir: str | os.PathLike) -> pa.Table:
    """All stored verdicts (one row per review_id), :data:`VERDICT_SCHEMA`; empty when none."""
    path = verdicts_path(out_dir)
    return pq.read_table(path, schema=VERDICT_SCHEMA) if path.is_file() else VERDICT_SCHEMA.empty_table()


def rejected_texts(out_dir: str | os.PathLike) -> set[str]:
    """Attacked texts a reviewer rejected: the loop leaves them out of training and metrics.

    A text rejected under any review_id stays rejected even if another row with the same
    attacked text was accepted (the meaning is judged on the text).
    """
    return {row["attacked"] for row in _read_verdicts(out_dir).values() if row["verdict"] == "reject"
            and row["attacked"]}


def apply_verdicts(table: pa.Table, out_dir: str | os.PathLike) -> pa.Table:
    """A records table with ``valid`` set to False on rows whose attacked text was rejected.

    Metrics recomputed from the returned table (counted evasions = valid & evaded) honour the
    human verdicts.
    """
    rejected = rejected_texts(out_dir)
    if not rejected or table.num_rows == 0:
        return table
    import pyarrow.compute as pc

    hit = pc.fill_null(pc.is_in(table["attacked"], value_set=pa.array(sorted(rejected), pa.string())), False)
    valid = pc.and_(table["valid"], pc.invert(hit))
    return table.set_column(table.schema.get_field_index("valid"), "valid", valid)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """95% Wilson score interval of a proportion (``None`` when ``n`` is 0)."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def review_stats(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Validity rate (accepted / reviewed) overall and per strategy, from the verdicts so far.

    ``{"reviewed": 40, "accepted": 31, "rejected": 9, "validity_rate": 0.775,
       "per_strategy": {"leet": {"reviewed": 20, "accepted": 19, "rejected": 1,
                                 "validity_rate": 0.95, "ci95": [0.76, 0.99]}, ...}}``
    ``validity_rate`` is ``None`` where nothing was reviewed; ``ci95`` is the Wilson interval.
    """
    per: dict[str, dict[str, Any]] = {}
    for row in _read_verdicts(out_dir).values():
        s = per.setdefault(row["strategy"], {"reviewed": 0, "accepted": 0, "rejected": 0})
        s["reviewed"] += 1
        s["accepted" if row["verdict"] == "accept" else "rejected"] += 1
    for s in per.values():
        s["validity_rate"] = s["accepted"] / s["reviewed"]
        lo_hi = wilson_interval(s["accepted"], s["reviewed"])
        s["ci95"] = [round(lo_hi[0], 4), round(lo_hi[1], 4)] if lo_hi else None
    reviewed = sum(s["reviewed"] for s in per.values())
    accepted = sum(s["accepted"] for s in per.values())
    return {
        "reviewed": reviewed,
        "accepted": accepted,
        "rejected": reviewed - accepted,
        "validity_rate": accepted / reviewed if reviewed else None,
        "per_strategy": dict(sorted(per.items())),
    }


# ============================================================================ file helpers
def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _append_log(out_dir: str | os.PathLike, event: dict[str, Any]) -> None:
    path = review_dir(out_dir) / "imports.jsonl"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(event, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


@contextlib.contextmanager
def _lock(out_dir: str | os.PathLike) -> Iterator[None]:
    """An exclusive lock on ``OUT/review/.lock`` so two imports cannot lose each other's verdicts."""
    folder = review_dir(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no cross-process lock
            yield
            return
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
