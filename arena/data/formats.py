"""Readers for the file layouts of the built-in datasets. Each reads a folder, checks nothing online.

* :func:`load_tweeteval`: ``{train,val,test}_text.txt`` + ``{split}_labels.txt`` (one per line).
* :func:`load_olid`: ``olid-training-v1.0.tsv`` (train), ``testset-levela.tsv`` +
  ``labels-levela.csv`` (test); validation is held out of train (see :mod:`arena.data.splits`).
* :func:`load_jigsaw`: Kaggle's ``train.csv``, ``test.csv`` + ``test_labels.csv``; test rows
  labelled ``-1`` (not scored by Kaggle) are dropped; validation is held out of train.

All return a :data:`~arena.data.table.TEXT_SCHEMA` table, splits in the order train, val, test.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa

from arena.data.generic import canonical_label, read_columns
from arena.data.splits import VAL_FRACTION, VAL_SEED, holdout_mask
from arena.data.table import SPLITS, build_table
from arena.errors import DataError

Row = tuple[str, str, int]  # (id, text, label)

JIGSAW_LABELS: tuple[str, ...] = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
"""Kaggle Jigsaw label columns; the binary label is 1 when any of them is 1."""

OLID_LABELS = {"OFF": 1, "NOT": 0}
"""OLID level A: OFF (offensive) -> 1, NOT -> 0."""


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DataError(
            f"{path}: file not found (fetch the dataset with `arena data fetch` or "
            "arena.data.fetch_dataset, or check the folder)"
        )
    return path


def _assemble(name: str, rows: dict[str, list[Row]], dropped: dict[str, int]) -> pa.Table:
    ids, texts, labels, splits = [], [], [], []
    for split in SPLITS:
        for row_id, text, label in rows.get(split, []):
            ids.append(row_id)
            texts.append(text)
            labels.append(label)
            splits.append(split)
    if not ids:
        raise DataError(f"{name}: no usable rows")
    return build_table(ids, texts, labels, splits, source=name, dropped=dropped)


def _hold_out_val(rows: list[Row], fraction: float, seed: int) -> tuple[list[Row], list[Row]]:
    """Split ``rows`` (ids with the dataset prefix) into (train, val), stratified by label."""
    mask = holdout_mask([r[0] for r in rows], [r[2] for r in rows], fraction=fraction, seed=seed)
    train = [r for r, v in zip(rows, mask, strict=True) if not v]
    val = [r for r, v in zip(rows, mask, strict=True) if v]
    return train, val


# --- TweetEval -------------------------------------------------------------------------------


def _read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file, split on ``\\n`` only (tweets may hold other line separators)."""
    try:
        content = _require(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc})") from exc
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def load_tweeteval(folder: str | Path, *, name: str = "tweeteval") -> pa.Table:
    """Load one TweetEval task folder (e.g. ``datasets/offensive``); ids are ``<name>:<split>:<line>``.

    Labels must be 0 or 1 (true for the offensive and hate tasks). Lines with an empty text are
    dropped and counted.
    """
    folder = Path(folder)
    rows: dict[str, list[Row]] = {}
    dropped = {"empty_text": 0}
    for split in SPLITS:
        text_path, label_path = folder / f"{split}_text.txt", folder / f"{split}_labels.txt"
        texts, labels = _read_lines(text_path), _read_lines(label_path)
        if len(texts) != len(labels):
            raise DataError(
                f"{text_path} has {len(texts)} lines but {label_path} has {len(labels)}; "
                "they must align line by line"
            )
        rows[split] = []
        for i, (text, raw) in enumerate(zip(texts, labels, strict=True)):
            if raw.strip() not in ("0", "1"):
                raise DataError(f"{label_path}: line {i + 1}: label {raw!r} is not 0 or 1")
            if not text.strip():
                dropped["empty_text"] += 1
                continue
            rows[split].append((f"{name}:{split}:{i}", text.strip(), int(raw)))
    return _assemble(name, rows, dropped)


# --- OLID ------------------------------------------------------------------------------------


def _read_tsv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a tab-separated file with a header, read without quoting (tweets contain ``"``)."""
    with open(_require(path), encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if not header:
            raise DataError(f"{path}: the file is empty")
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(f"{path}: no column {missing[0]!r}; available columns: {', '.join(header)}")
        rows = []
        for fields in reader:
            if not fields:
                continue
            if len(fields) != len(header):
                raise DataError(
                    f"{path}: line {reader.line_num} has {len(fields)} fields, expected {len(header)}"
                )
            rows.append(dict(zip(header, fields, strict=True)))
    return rows


def _olid_label(value: str, where: str) -> int:
    label = OLID_LABELS.get(value.strip().upper())
    if label is None:
        raise DataError(f"{where}: level-A label {value!r} is not one of {', '.join(OLID_LABELS)}")
    return label


def read_olid_labels(path: str | Path) -> dict[str, int]:
    """Read an OLID ``labels-levela.csv`` (``id,OFF|NOT`` per line) into ``{id: 0|1}``.

    A first line ``id,label`` is a header and is skipped; files without it are read from line 1.
    """
    path = Path(path)
    labels: dict[str, int] = {}
    for n, line in enumerate(_read_lines(path), start=1):
        line = line.strip()
        if not line or (n == 1 and line.replace(" ", "").lower() == "id,label"):
            continue
        fields = line.split(",")
        if len(fields) != 2:
            raise DataError(f"{path}: line {n}: expected 'id,label', got {line!r}")
        row_id = fields[0].strip()
        if row_id in labels:
            raise DataError(f"{path}: line {n}: id {row_id} appears twice")
        labels[row_id] = _olid_label(fields[1], f"{path}: line {n}")
    if not labels:
        raise DataError(f"{path}: the file holds no labels")
    return labels


def load_olid(
    folder: str | Path,
    *,
    name: str = "olid",
    val_fraction: float = VAL_FRACTION,
    seed: int = VAL_SEED,
) -> pa.Table:
    """Load OLID v1.0 level A (OFF=1, NOT=0); ids are ``<name>:<OLID id>``.

    Train is ``olid-training-v1.0.tsv`` minus a stratified ``val_fraction`` held out as val
    (deterministic, see :mod:`arena.data.splits`); test is ``testset-levela.tsv`` joined on id
    with ``labels-levela.csv`` (with or without its ``id,label`` header).
    """
    folder = Path(folder)
    dropped = {"empty_text": 0}
    train_path = folder / "olid-training-v1.0.tsv"
    train: list[Row] = []
    for i, rec in enumerate(_read_tsv(train_path, ("id", "tweet", "subtask_a"))):
        label = _olid_label(rec["subtask_a"], f"{train_path}: row {i + 1}")
        if not rec["tweet"].strip():
            dropped["empty_text"] += 1
            continue
        train.append((f"{name}:{rec['id'].strip()}", rec["tweet"].strip(), label))

    test_path, labels_path = folder / "testset-levela.tsv", folder / "labels-levela.csv"
    gold = read_olid_labels(labels_path)
    test: list[Row] = []
    missing: list[str] = []
    for rec in _read_tsv(test_path, ("id", "tweet")):
        row_id = rec["id"].strip()
        if row_id not in gold:
            missing.append(row_id)
        elif not rec["tweet"].strip():
            dropped["empty_text"] += 1
        else:
            test.append((f"{name}:{row_id}", rec["tweet"].strip(), gold[row_id]))
    if missing:
        raise DataError(
            f"{labels_path}: no label for {len(missing)} id(s) of {test_path} "
            f"(first: {', '.join(missing[:5])})"
        )
    train, val = _hold_out_val(train, val_fraction, seed)
    return _assemble(name, {"train": train, "val": val, "test": test}, dropped)


# --- Jigsaw ----------------------------------------------------------------------------------


def _jigsaw_label(values: list[str | None], where: str) -> int | None:
    """Binary label from the six Kaggle labels: 1 if any is 1; None if unscored (-1)."""
    labels = [canonical_label(v) for v in values]
    if any(v == "-1" for v in labels):
        return None
    bad = [v for v in labels if v not in ("0", "1")]
    if bad:
        raise DataError(f"{where}: label value {bad[0]!r} is not 0, 1 or -1")
    return int("1" in labels)


def _jigsaw_rows(
    name: str, path: Path, ids: list, texts: list, label_cols: list[list], dropped: dict[str, int]
) -> list[Row]:
    rows: list[Row] = []
    for i, (row_id, text) in enumerate(zip(ids, texts, strict=True)):
        label = _jigsaw_label([col[i] for col in label_cols], f"{path}: row {i + 1} (id {row_id})")
        if label is None:
            dropped["unscored"] += 1
        elif not (text or "").strip():
            dropped["empty_text"] += 1
        else:
            rows.append((f"{name}:{row_id}", text.strip(), label))
    return rows


def load_jigsaw(
    folder: str | Path,
    *,
    name: str = "jigsaw",
    val_fraction: float = VAL_FRACTION,
    seed: int = VAL_SEED,
) -> pa.Table:
    """Load Kaggle Jigsaw Toxic Comment files from ``folder``; ids are ``<name>:<Kaggle id>``.

    Works on the full Kaggle download as on the ``jigsaw_sample`` dataset. Label = 1 when any of
    :data:`JIGSAW_LABELS` is 1. Test = ``test.csv`` joined on id with ``test_labels.csv``, minus
    the rows Kaggle did not score (labels ``-1``). Val = stratified ``val_fraction`` of train.
    """
    folder = Path(folder)
    id_text = [("id", "id column"), ("comment_text", "text column")]
    label_roles = [(c, "label column") for c in JIGSAW_LABELS]
    dropped = {"empty_text": 0, "unscored": 0}

    train_path = _require(folder / "train.csv")
    t = read_columns(train_path, id_text + label_roles)
    train = _jigsaw_rows(
        name,
        train_path,
        t["id"].to_pylist(),
        t["comment_text"].to_pylist(),
        [t[c].to_pylist() for c in JIGSAW_LABELS],
        dropped,
    )

    test_path, labels_path = _require(folder / "test.csv"), _require(folder / "test_labels.csv")
    texts = read_columns(test_path, id_text)
    gold = read_columns(labels_path, [("id", "id column"), *label_roles])
    by_id = {row_id: i for i, row_id in enumerate(gold["id"].to_pylist())}
    test_ids = texts["id"].to_pylist()
    missing = [row_id for row_id in test_ids if row_id not in by_id]
    if missing:
        raise DataError(
            f"{labels_path}: no labels for {len(missing)} id(s) of {test_path} "
            f"(first: {', '.join(missing[:5])})"
        )
    order = [by_id[row_id] for row_id in test_ids]
    gold_cols = [[col[j] for j in order] for col in (gold[c].to_pylist() for c in JIGSAW_LABELS)]
    test = _jigsaw_rows(name, labels_path, test_ids, texts["comment_text"].to_pylist(), gold_cols, dropped)

    train, val = _hold_out_val(train, val_fraction, seed)
    return _assemble(name, {"train": train, "val": val, "test": test}, dropped)
