"""Append-only Parquet records of every attack attempt: ``OUT/records/round=N/part-*.parquet``.

Writes are atomic (temporary file in the same folder, fsync, rename), so a reader never sees a
half-written part. A round is *complete* once its ``_COMPLETE`` marker exists; on resume,
:meth:`RecordStore.discard_incomplete` deletes the parts of any round without a marker before
the round is re-run, so a crash mid-round leaves neither lost nor duplicated rows.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema(
    [
        ("campaign_id", pa.string()),
        ("round", pa.int32()),
        # live (adaptive attacks on the eval pool, measured) | train (on the attack-train pool: the
        # training evasions). The frozen and benign suites (pool frozen | benign) are the same
        # Attempt type but kept in state.json, not here
        ("pool", pa.string()),
        ("text_id", pa.string()),
        ("strategy", pa.string()),
        ("family", pa.string()),
        ("params", pa.string()),  # JSON
        ("seed", pa.int64()),
        ("original", pa.string()),
        ("attacked", pa.string()),
        ("label", pa.int8()),
        ("validity", pa.float64()),
        ("valid", pa.bool_()),
        ("defender_version", pa.string()),
        ("score", pa.float64()),
        ("evaded", pa.bool_()),
        ("queries", pa.int32()),
        ("timestamp", pa.float64()),
    ]
)
COLUMNS = tuple(SCHEMA.names)
_MARKER = "_COMPLETE"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file + rename (readers see old or new, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def make_row(**fields: Any) -> dict[str, Any]:
    """A record with every column present; ``params`` dicts are stored as JSON (encoded here, once)."""
    row = {name: fields.get(name) for name in COLUMNS}
    if not isinstance(row["params"], str):
        row["params"] = json.dumps(row["params"] or {}, sort_keys=True, ensure_ascii=False, default=str)
    if row["timestamp"] is None:
        row["timestamp"] = time.time()
    unknown = set(fields) - set(COLUMNS)
    if unknown:
        raise KeyError(f"unknown record fields: {sorted(unknown)}")
    return row


@dataclass
class Attempt:
    """One attack attempt, the one type wherever attempts are kept: a frozen or benign suite item
    (``pool`` frozen | benign, in state.json), a live or train row (OUT/records, :meth:`to_row`), an
    ``arena eval`` attack (``text_id`` = the row index in the data). A training text points at its
    attempt through ``record_id`` (OUT/train_sets). The fields are the records' columns."""

    text_id: str
    strategy: str
    family: str
    original: str
    attacked: str | None  # None: no valid candidate
    validity: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    label: int | None = None  # of the original text
    pool: str | None = None  # frozen | benign | val_probe | live | train | eval
    round: int | None = None
    campaign_id: str | None = None
    valid: bool | None = None
    defender_version: str | None = None  # the version that scored it
    score: float | None = None
    evaded: bool | None = None
    queries: int | None = None
    timestamp: float | None = None

    def to_row(self) -> dict[str, Any]:
        """The record row (every column; ``params`` as JSON)."""
        return make_row(**asdict(self))

    def to_dict(self) -> dict[str, Any]:
        """For state.json: the fields that are set."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Attempt:
        """From :meth:`to_dict`, a record row (``params`` as JSON) or a suite item of an older state."""
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if isinstance(d.get("params"), str):
            d["params"] = json.loads(d["params"] or "{}")
        return cls(**d)


class RecordStore:
    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.root = Path(out_dir) / "records"

    def round_dir(self, rnd: int) -> Path:
        return self.root / f"round={rnd}"

    def append(self, rnd: int, rows: Sequence[dict[str, Any]]) -> Path | None:
        """Write ``rows`` as one new part of round ``rnd``, atomically."""
        if not rows:
            return None
        table = pa.Table.from_pylist([make_row(**r) if set(r) != set(COLUMNS) else r for r in rows], schema=SCHEMA)
        folder = self.round_dir(rnd)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{int(time.time() * 1000):013d}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = folder / f".{name}.tmp"
        pq.write_table(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, folder / name)
        _fsync_dir(folder)
        return folder / name

    def mark_complete(self, rnd: int) -> None:
        atomic_write_text(self.round_dir(rnd) / _MARKER, json.dumps({"round": rnd, "at": time.time()}))

    def is_complete(self, rnd: int) -> bool:
        return (self.round_dir(rnd) / _MARKER).is_file()

    def rounds(self) -> list[int]:
        if not self.root.is_dir():
            return []
        return sorted(int(p.name.split("=", 1)[1]) for p in self.root.glob("round=*") if p.is_dir())

    def discard_incomplete(self) -> list[int]:
        """Delete parts (and stray temp files) of rounds without a completion marker."""
        dropped = []
        for rnd in self.rounds():
            folder = self.round_dir(rnd)
            if not self.is_complete(rnd):
                for f in folder.iterdir():
                    f.unlink()
                folder.rmdir()
                dropped.append(rnd)
            else:
                for f in folder.glob(".*.tmp"):
                    f.unlink()
        return dropped

    def read(self, rounds: Iterable[int] | None = None, pools: Iterable[str] | None = None,
             complete_only: bool = True) -> pa.Table:
        wanted = list(rounds) if rounds is not None else self.rounds()
        tables = []
        for rnd in wanted:
            if complete_only and not self.is_complete(rnd):
                continue
            for part in sorted(self.round_dir(rnd).glob("part-*.parquet")):
                tables.append(pq.read_table(part, schema=SCHEMA))
        if not tables:
            return SCHEMA.empty_table()
        table = pa.concat_tables(tables)
        if pools is not None:
            import pyarrow.compute as pc

            table = table.filter(pc.is_in(table["pool"], value_set=pa.array(list(pools), pa.string())))
        return table
