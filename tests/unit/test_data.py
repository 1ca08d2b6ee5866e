"""arena.data: loaders on the real mirror files, checksums, cache reuse, the generic loader.

Uses the ``mirror`` fixture of tests/conftest.py (``$ARENA_DATA_MIRROR`` or ``<repo>/../shared/data``;
skipped when absent). Expected counts come from each dataset's SOURCE.md in the mirror.
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from arena.data import (
    DATASETS,
    TEXT_SCHEMA,
    default_cache_dir,
    describe,
    fetch_dataset,
    list_datasets,
    load_dataset,
    load_jigsaw,
    load_olid,
    load_table,
    split_of,
    split_sizes,
    table_info,
)
from arena.data.formats import read_olid_labels
from arena.data.splits import holdout_mask
from arena.errors import DataError

# (rows, positives) per split. tweeteval_hate's raw files hold 7 empty train lines and 1 empty
# val line (all label 0: SOURCE.md's 9,000 / 1,000 rows minus those); the loader drops them.
EXPECTED = {
    "tweeteval_offensive": {"train": (11916, 3941), "val": (1324, 459), "test": (860, 240)},
    "tweeteval_hate": {"train": (8993, 3783), "val": (999, 427), "test": (2970, 1252)},
    # OLID train (13,240 rows, 4,400 OFF) minus a stratified 10% val (1,324 rows, 440 OFF).
    "olid": {"train": (11916, 3960), "val": (1324, 440), "test": (860, 240)},
    # Jigsaw train (1,600 rows, 405 with any label) minus a stratified 10% val (160 rows).
    "jigsaw_sample": {"train": (1440, 365), "val": (160, 40), "test": (400, 109)},
}


@pytest.fixture(scope="module")
def tables(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pa.Table]:
    cache = tmp_path_factory.mktemp("data-cache")
    return {name: load_dataset(name, cache_dir=cache, mirror=mirror, progress=False) for name in DATASETS}


def _positives(table: pa.Table) -> int:
    return pc.sum(table["label"]).as_py() or 0


# --- built-in datasets on the real files ------------------------------------------------------


@pytest.mark.parametrize("name", list(EXPECTED))
def test_real_dataset_counts_and_balance(tables, name):
    table = tables[name]
    assert table.schema.equals(TEXT_SCHEMA)
    for split, (rows, positives) in EXPECTED[name].items():
        part = split_of(table, split)
        assert part.num_rows == rows, split
        assert _positives(part) == positives, split
    assert split_sizes(table) == DATASETS[name].sizes == {s: n for s, (n, _) in EXPECTED[name].items()}
    assert table["split"].to_pylist() == sorted(
        table["split"].to_pylist(), key=["train", "val", "test"].index
    )
    ids = table["id"].to_pylist()
    assert len(set(ids)) == len(ids)
    assert all(ids_.startswith(f"{name}:") for ids_ in ids)
    assert set(table["label"].to_pylist()) == {0, 1}
    assert all(table[c].null_count == 0 for c in table.column_names)
    assert min(len(t) for t in table["text"].to_pylist()) > 0


def test_tweeteval_ids_and_text(tables, mirror):
    table = tables["tweeteval_offensive"]
    first_line = (
        (mirror / "tweeteval_offensive" / "train_text.txt").read_text(encoding="utf-8").split("\n")[0]
    )
    row = table.slice(0, 1).to_pylist()[0]
    assert row == {
        "id": "tweeteval_offensive:train:0",
        "text": first_line.strip(),
        "label": 0,
        "split": "train",
    }
    assert split_of(table, "test")["id"][0].as_py() == "tweeteval_offensive:test:0"


def test_tweeteval_hate_drop_count(tables):
    assert table_info(tables["tweeteval_hate"]) == {"source": "tweeteval_hate", "dropped": {"empty_text": 8}}
    assert table_info(tables["tweeteval_offensive"])["dropped"] == {}


def test_olid_val_is_deterministic_stratified_and_disjoint(tables, mirror):
    table = tables["olid"]
    again = load_olid(mirror / "olid")
    assert again.equals(table)
    train_ids = set(split_of(table, "train")["id"].to_pylist())
    val_ids = set(split_of(table, "val")["id"].to_pylist())
    assert not train_ids & val_ids and len(train_ids | val_ids) == 13240
    # A different seed holds out different rows, with the same stratified counts.
    other = load_olid(mirror / "olid", seed=7)
    assert set(split_of(other, "val")["id"].to_pylist()) != val_ids
    assert _positives(split_of(other, "val")) == 440


def test_olid_test_matches_tweeteval_test_labels(tables):
    # Same 860 tweets in another order and spelling (SOURCE.md): @USER -> @user, URL tokens dropped.
    def by_text(table: pa.Table) -> dict[str, int]:
        rows = split_of(table, "test").to_pylist()
        return {re.sub(r"[^a-z0-9]", "", r["text"].lower().replace("url", "")): r["label"] for r in rows}

    olid, tweeteval = by_text(tables["olid"]), by_text(tables["tweeteval_offensive"])
    assert len(olid) > 800 and olid == tweeteval


def test_olid_labels_with_and_without_header(mirror, tmp_path):
    lines = (mirror / "olid" / "labels-levela.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id,label"
    with_header, without = tmp_path / "with.csv", tmp_path / "without.csv"
    with_header.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    without.write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
    a, b = read_olid_labels(with_header), read_olid_labels(without)
    assert a == b and len(a) == 860 and sum(a.values()) == 240

    folder = tmp_path / "olid"
    folder.mkdir()
    for name in ("olid-training-v1.0.tsv", "testset-levela.tsv"):
        (folder / name).symlink_to(mirror / "olid" / name)
    shutil.copy(without, folder / "labels-levela.csv")
    headerless = load_olid(folder)
    assert split_of(headerless, "test").equals(split_of(load_olid(mirror / "olid"), "test"))


def test_olid_bad_label_and_missing_test_label(mirror, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,OFF\n2,MAYBE\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2.*'MAYBE'"):
        read_olid_labels(bad)
    folder = tmp_path / "olid"
    folder.mkdir()
    for name in ("olid-training-v1.0.tsv", "testset-levela.tsv"):
        (folder / name).symlink_to(mirror / "olid" / name)
    (folder / "labels-levela.csv").write_text("15923,OFF\n", encoding="utf-8")
    with pytest.raises(DataError, match="no label for 859 id"):
        load_olid(folder)


def test_jigsaw_multiline_comments_and_unscored_rows(tables, mirror, tmp_path):
    table = tables["jigsaw_sample"]
    with open(mirror / "jigsaw_sample" / "train.csv", encoding="utf-8", newline="") as f:
        assert sum(1 for _ in csv.DictReader(f)) == 1600
    assert any("\n" in t for t in table["text"].to_pylist())

    # Kaggle's real test_labels.csv marks unscored rows with -1: they must be dropped.
    folder = tmp_path / "jigsaw"
    folder.mkdir()
    for name in ("train.csv", "test.csv"):
        (folder / name).symlink_to(mirror / "jigsaw_sample" / name)
    with open(mirror / "jigsaw_sample" / "test_labels.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    unscored = {row[0] for row in rows[1:6]}
    for row in rows[1:6]:
        row[1:] = ["-1"] * 6
    with open(folder / "test_labels.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    loaded = load_jigsaw(folder, name="jig")
    test_ids = split_of(loaded, "test")["id"].to_pylist()
    assert len(test_ids) == 395
    assert not {f"jig:{i}" for i in unscored} & set(test_ids)
    assert table_info(loaded)["dropped"] == {"unscored": 5}


def test_holdout_mask_depends_on_ids_not_order():
    ids = [f"r{i}" for i in range(1000)]
    labels = [int(i % 4 == 0) for i in range(1000)]
    mask = holdout_mask(ids, labels, fraction=0.1, seed=3)
    assert sum(mask) == 100 and sum(m for m, y in zip(mask, labels, strict=True) if y) == 25
    chosen = {i for i, m in zip(ids, mask, strict=True) if m}
    rev = holdout_mask(ids[::-1], labels[::-1], fraction=0.1, seed=3)
    assert {i for i, m in zip(ids[::-1], rev, strict=True) if m} == chosen


# --- registry, describe, cache dir ------------------------------------------------------------


def test_list_and_describe(tmp_path):
    assert list_datasets() == ["tweeteval_offensive", "tweeteval_hate", "olid", "jigsaw_sample"]
    info = describe("tweeteval_offensive", cache_dir=tmp_path)
    assert info["splits"] == {"train": 11916, "val": 1324, "test": 860} and info["total"] == 14100
    assert info["task"] == "offensive" and info["cached"] is False
    assert info["upstream"].startswith("https://github.com/cardiffnlp/tweeteval/tree/4fbd22cd")
    assert info["files"][0]["url"] == (
        "https://raw.githubusercontent.com/cardiffnlp/tweeteval/"
        "4fbd22cd78421f05b1ecdb4fc5725bc7a7bd8f66/datasets/offensive/train_text.txt"
    )
    jigsaw = describe("jigsaw_sample", cache_dir=tmp_path)
    assert jigsaw["upstream"] is None and all(f["url"] is None for f in jigsaw["files"])
    with pytest.raises(DataError, match="unknown dataset 'nope'.*tweeteval_offensive"):
        describe("nope")


def test_specs_pin_the_mirror_digests(mirror):
    sums = {}
    for line in (mirror / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split(maxsplit=1)
        sums[path.removeprefix("./")] = digest
    for spec in DATASETS.values():
        for f in spec.files:
            assert sums[f"{spec.name}/{f.name}"] == f.sha256


def test_default_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "a"))
    assert default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("ARENA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "content-arena"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "content-arena"


# --- fetching: checksums and cache reuse ------------------------------------------------------


def test_checksum_mismatch_leaves_nothing(mirror, tmp_path):
    bad_mirror = tmp_path / "mirror"
    shutil.copytree(mirror / "tweeteval_offensive", bad_mirror / "tweeteval_offensive")
    victim = bad_mirror / "tweeteval_offensive" / "val_labels.txt"
    victim.chmod(0o644)
    victim.write_text(victim.read_text().replace("1", "0", 1))
    cache = tmp_path / "cache"
    expected = next(f.sha256 for f in DATASETS["tweeteval_offensive"].files if f.name == "val_labels.txt")
    with pytest.raises(DataError) as err:
        fetch_dataset("tweeteval_offensive", cache_dir=cache, mirror=bad_mirror, progress=False)
    msg = str(err.value)
    assert "val_labels.txt" in msg and expected in msg and str(victim) in msg
    import hashlib

    assert hashlib.sha256(victim.read_bytes()).hexdigest() in msg
    folder = cache / "tweeteval_offensive"
    assert not (folder / "val_labels.txt").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["train_labels.txt", "train_text.txt", "val_text.txt"]


def test_cache_is_reused_and_repaired(mirror, tmp_path):
    cache = tmp_path / "cache"
    folder = fetch_dataset("olid", cache_dir=cache, mirror=mirror, progress=False)
    assert folder == cache / "olid"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in DATASETS["olid"].files)
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    # Everything cached: the (missing) mirror is never consulted, no file is rewritten.
    again = fetch_dataset("olid", cache_dir=cache, mirror=tmp_path / "no-such-mirror", progress=False)
    assert again == folder and {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
    assert describe("olid", cache_dir=cache)["cached"] is True
    # A corrupted cached file is fetched again.
    (folder / "labels-levela.csv").write_text("garbage")
    with pytest.raises(DataError, match="mirror folder does not exist"):
        fetch_dataset("olid", cache_dir=cache, mirror=tmp_path / "no-such-mirror", progress=False)
    fetch_dataset("olid", cache_dir=cache, mirror=mirror, progress=False)
    assert (folder / "labels-levela.csv").read_bytes() == (mirror / "olid" / "labels-levela.csv").read_bytes()


def test_env_cache_and_mirror(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("ARENA_DATA_MIRROR", str(mirror))
    assert fetch_dataset("jigsaw_sample", progress=False) == tmp_path / "c" / "jigsaw_sample"


def test_cli_fetches_several_datasets(mirror, tmp_path, monkeypatch, capsys):
    from arena.cli import main

    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("ARENA_DATA_MIRROR", str(mirror))
    assert main(["data", "fetch", "jigsaw_sample", "tweeteval_hate", "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"jigsaw_sample: {tmp_path / 'c' / 'jigsaw_sample'}", f"tweeteval_hate: {tmp_path / 'c' / 'tweeteval_hate'}"]


def test_jigsaw_without_mirror_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("ARENA_DATA_MIRROR", raising=False)
    with pytest.raises(DataError, match=r"no public upstream.*ARENA_DATA_MIRROR.*load_table"):
        fetch_dataset("jigsaw_sample", cache_dir=tmp_path, progress=False)
    assert list((tmp_path / "jigsaw_sample").iterdir()) == []


def test_bad_mirror_scheme(tmp_path):
    with pytest.raises(DataError, match="unsupported scheme 'ftp'"):
        fetch_dataset("olid", cache_dir=tmp_path, mirror="ftp://example.org/data", progress=False)


# --- generic loader ---------------------------------------------------------------------------


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize(
    ("values", "positive", "expected"),
    [
        (["0", "1", "1"], None, [0, 1, 1]),
        (["true", "False", "TRUE"], None, [1, 0, 1]),
        (["OFF", "NOT", "NOT"], None, [1, 0, 0]),
        (["hate", "none", "hate"], None, [1, 0, 1]),
        (["yes", "no", "no"], None, [1, 0, 0]),
        (["1.0", "0.0", "1"], None, [1, 0, 1]),
        (["a", "b", "c"], ["a", "C"], [1, 0, 1]),
        (["2", "1", "0"], [2], [1, 0, 0]),
    ],
)
def test_load_table_label_mapping(tmp_path, values, positive, expected):
    path = _csv(tmp_path / "t.csv", ["text", "y"], [[f"text {i}", v] for i, v in enumerate(values)])
    table = load_table(path, text_col="text", label_col="y", positive=positive)
    assert table.schema.equals(TEXT_SCHEMA)
    assert table["label"].to_pylist() == expected
    assert table["id"].to_pylist() == [f"t:{i}" for i in range(len(values))]
    assert set(table["split"].to_pylist()) == {"test"}


@pytest.mark.parametrize("values", [["toxic", "offensive"], ["a", "b"], ["0", "1", "2"]])
def test_load_table_ambiguous_labels(tmp_path, values):
    path = _csv(tmp_path / "t.csv", ["text", "y"], [[f"x{i}", v] for i, v in enumerate(values)])
    with pytest.raises(DataError, match="values found: .*Pass positive="):
        load_table(path, text_col="text", label_col="y")


def test_load_table_parquet_tsv_and_multiline_csv(tmp_path):
    pq.write_table(
        pa.table({"t": ["a", "b", "c"], "y": [1, 0, 1], "k": [10, 11, 12]}), tmp_path / "d.parquet"
    )
    table = load_table(
        tmp_path / "d.parquet", text_col="t", label_col="y", positive=["1"], id_col="k", split="train"
    )
    assert table.to_pydict() == {
        "id": ["10", "11", "12"],
        "text": ["a", "b", "c"],
        "label": [1, 0, 1],
        "split": ["train"] * 3,
    }
    floats = tmp_path / "f.parquet"
    pq.write_table(pa.table({"t": ["a", "b"], "y": [1.0, 0.0]}), floats)
    assert load_table(floats, text_col="t", label_col="y")["label"].to_pylist() == [1, 0]

    tsv = tmp_path / "d.tsv"
    tsv.write_text('id\ttweet\tlab\n1\t"quoted" start\tOFF\n2\tsay "hi\tNOT\n', encoding="utf-8")
    table = load_table(tsv, text_col="tweet", label_col="lab", id_col="id")
    assert table["text"].to_pylist() == ['"quoted" start', 'say "hi']
    assert table["label"].to_pylist() == [1, 0]

    path = _csv(tmp_path / "m.csv", ["text", "y"], [['line one\nline, two "q"', 1], ["plain", 0]])
    assert load_table(path, text_col="text", label_col="y")["text"].to_pylist() == [
        'line one\nline, two "q"',
        "plain",
    ]
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b'\xef\xbb\xbftext,y\r\n"a\r\nb",1\r\nc,0\r\n')  # Excel-style UTF-8 BOM, CRLF
    assert load_table(bom, text_col="text", label_col="y").to_pydict()["text"] == ["a\r\nb", "c"]


def test_load_table_drops_empty_text_and_missing_labels(tmp_path):
    path = _csv(
        tmp_path / "t.csv", ["text", "y"], [["ok", 1], ["", 0], ["   ", 1], ["fine", 0], ["no label", ""]]
    )
    table = load_table(path, text_col="text", label_col="y")
    assert table["text"].to_pylist() == ["ok", "fine"] and table["id"].to_pylist() == ["t:0", "t:3"]
    assert table_info(table)["dropped"] == {"empty_text": 2, "missing_label": 1}
    pq.write_table(pa.table({"t": ["a", None, "c"], "y": [1, 0, None]}), tmp_path / "n.parquet")
    table = load_table(tmp_path / "n.parquet", text_col="t", label_col="y")
    assert table["text"].to_pylist() == ["a"]
    assert table_info(table)["dropped"] == {"empty_text": 1, "missing_label": 1}


def test_load_table_errors(tmp_path):
    path = _csv(tmp_path / "t.csv", ["body", "verdict"], [["x", 1]])
    with pytest.raises(
        DataError, match=r"no column 'text' \(text column\); available columns: body, verdict"
    ):
        load_table(path, text_col="text", label_col="verdict")
    with pytest.raises(DataError, match=r"no column 'uid' \(id column\)"):
        load_table(path, text_col="body", label_col="verdict", id_col="uid")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        load_table(tmp_path / "empty.csv", text_col="text", label_col="y")
    (tmp_path / "header.csv").write_text("text,y\n")
    with pytest.raises(DataError, match="no data rows"):
        load_table(tmp_path / "header.csv", text_col="text", label_col="y")
    only_empty = _csv(tmp_path / "blank.csv", ["text", "y"], [["", 1]])
    with pytest.raises(DataError, match="no usable rows"):
        load_table(only_empty, text_col="text", label_col="y")
    with pytest.raises(DataError, match="file not found"):
        load_table(tmp_path / "missing.csv", text_col="text", label_col="y")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DataError, match="unsupported file type '.json'"):
        load_table(tmp_path / "x.json", text_col="text", label_col="y")
    with pytest.raises(DataError, match="unknown split 'dev'"):
        load_table(path, text_col="body", label_col="verdict", split="dev")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("text,y\na,1\nb,0,extra\n")
    with pytest.raises(DataError, match="ragged.csv: cannot parse as CSV"):
        load_table(ragged, text_col="text", label_col="y")


def test_split_of_rejects_unknown_split(tables):
    with pytest.raises(DataError, match="unknown split 'dev'; expected one of train, val, test"):
        split_of(tables["olid"], "dev")
