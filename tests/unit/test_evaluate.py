"""arena.evaluate: label mapping, data errors, attacked-metric arithmetic, deltas, and `arena eval` errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arena.cli import main
from arena.errors import ConfigError, DataError
from arena.evaluate import (
    MISSING_GROUP,
    AttackSuite,
    EvalData,
    EvalModel,
    build_attacks,
    compare_results,
    evaluate_model,
    format_result,
    load_eval_data,
    resolve_strategies,
    robustness_table,
)

TOXIC = ["you are a stupid idiot", "shut up you worthless moron", "what a pathetic loser you are",
         "go away you disgusting creep", "nobody likes you, idiot", "you absolute clown, get lost"]
BENIGN = ["have a lovely day", "the meeting moved to thursday", "thanks for the help yesterday",
          "the train was late again", "i made soup for dinner", "see you at the game tonight"]



def _attempt(row: int, label: int, strategy: str, original: str, attacked: str, seed: int):
    from arena.records import Attempt

    return Attempt(str(row), strategy, "char", original, attacked, 1.0, {}, seed, label=label, pool="eval")

def _csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


# ---------------------------------------------------------------------------- label mapping
@pytest.mark.parametrize("values,positive,expected", [
    (["1", "0"], None, [1, 0]),
    ([1.0, 0.0], None, [1, 0]),
    (["TRUE", "false"], None, [1, 0]),
    (["OFF", "NOT"], None, [1, 0]),
    (["toxic", "clean"], None, [1, 0]),
    (["removed", "kept"], ["removed"], [1, 0]),
    (["TIN", "UNT"], ["tin"], [1, 0]),  # case-insensitive
])
def test_label_mapping(tmp_path, values, positive, expected):
    f = _csv(tmp_path / "d.csv", ["text", "label"], [["a text", values[0]], ["another text", values[1]]])
    assert load_eval_data(f, positive=positive).labels == expected


def test_ambiguous_labels_list_the_values(tmp_path):
    f = _csv(tmp_path / "d.csv", ["text", "label"], [["a", "hate"], ["b", "offensive"], ["c", "none"]])
    with pytest.raises(DataError, match="cannot tell which label value means toxic.*'hate', 'none', 'offensive'"):
        load_eval_data(f)


def test_positive_value_absent_is_an_error(tmp_path):
    f = _csv(tmp_path / "d.csv", ["text", "label"], [["a", "0"], ["b", "1"]])
    with pytest.raises(DataError, match=r"none of the positive label values \['off'\].*values found: '0', '1'"):
        load_eval_data(f, positive=["OFF"])


def test_negative_makes_unmapped_values_an_error(tmp_path):
    f = _csv(tmp_path / "d.csv", ["text", "label"], [["a", "TIN"], ["b", "UNT"], ["c", "NULL"]])
    assert load_eval_data(f, positive=["TIN"]).labels == [1, 0, 0]  # without --negative: the rest is 0
    assert load_eval_data(f, positive=["TIN"], negative=["UNT", "NULL"]).labels == [1, 0, 0]
    with pytest.raises(DataError, match=r"label value\(s\) 'null' in column 'label' are neither positive"):
        load_eval_data(f, positive=["TIN"], negative=["UNT"])
    with pytest.raises(DataError, match="both positive and negative"):
        load_eval_data(f, positive=["TIN"], negative=["TIN", "UNT", "NULL"])


# ---------------------------------------------------------------------------- data errors
def test_missing_column_lists_available(tmp_path):
    f = _csv(tmp_path / "d.csv", ["body", "verdict"], [["a", "1"]])
    with pytest.raises(DataError, match=r"no column 'text' \(text column\); available columns: body, verdict"):
        load_eval_data(f)
    with pytest.raises(DataError, match=r"no column 'team' \(group column\); available columns: body, verdict"):
        load_eval_data(f, text_col="body", label_col="verdict", group_col="team")


@pytest.mark.parametrize("content,match", [
    (b"", "the file is empty"),
    (b"text,label\n", "header but no data rows"),
    (b"text,label\n\xff\xfe\x00garbage,1\n", "not UTF-8|cannot parse"),
])
def test_empty_and_unreadable_files(tmp_path, content, match):
    f = tmp_path / "d.csv"
    f.write_bytes(content)
    with pytest.raises(DataError, match=match):
        load_eval_data(f)


def test_bad_parquet_unknown_source_folder_and_permission(tmp_path, monkeypatch):
    bad = tmp_path / "d.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        load_eval_data(bad)
    with pytest.raises(DataError, match="neither a known dataset .*tweeteval_offensive.* nor an existing file"):
        load_eval_data(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a folder"):
        load_eval_data(tmp_path)
    f = _csv(tmp_path / "d.csv", ["text", "label"], [["a", "1"]])
    monkeypatch.setattr("arena.evaluate.os.access", lambda *a: False)
    with pytest.raises(DataError, match="not readable"):
        load_eval_data(f)


def test_dataset_name_rejects_file_options():
    with pytest.raises(DataError, match="--text-col applies to files only"):
        load_eval_data("tweeteval_offensive", text_col="tweet")
    with pytest.raises(DataError, match="available columns: id, text, label, split"):
        load_eval_data("tweeteval_offensive", group_col="user")
    with pytest.raises(DataError, match="apply to files only"):
        load_eval_data("tweeteval_offensive", positive=["1"])
    with pytest.raises(DataError, match="unknown split 'dev'"):
        load_eval_data("tweeteval_offensive", split="dev")


def test_parquet_groups_drops_and_limit(tmp_path):
    n = 40
    table = pa.table({
        "body": [f"text number {i}" if i != 3 else "  " for i in range(n)],
        "y": [int(i % 4 == 0) for i in range(n)],
        "site": [None if i == 5 else ("x" if i < 20 else "y") for i in range(n)],
    })
    f = tmp_path / "d.parquet"
    pq.write_table(table, f)
    full = load_eval_data(f, text_col="body", label_col="y", group_col="site")
    assert len(full) == n - 1 and full.info["dropped"] == {"empty_text": 1}
    assert full.groups.count(MISSING_GROUP) == 1 and set(full.groups) == {"x", "y", MISSING_GROUP}
    a = load_eval_data(f, text_col="body", label_col="y", group_col="site", limit=20, seed=1)
    b = load_eval_data(f, text_col="body", label_col="y", group_col="site", limit=20, seed=1)
    assert a.texts == b.texts and 18 <= len(a) <= 21
    assert abs(sum(a.labels) / len(a) - sum(full.labels) / len(full)) < 0.06  # stratified
    by_text = dict(zip(full.texts, zip(full.labels, full.groups, strict=True), strict=True))
    assert all(by_text[t] == (y, g) for t, y, g in zip(a.texts, a.labels, a.groups, strict=True))
    assert a.info["n_total"] == n - 1 and a.info["n"] == len(a)
    with pytest.raises(DataError, match="--limit must be at least 1"):
        load_eval_data(f, text_col="body", label_col="y", limit=0)


# ---------------------------------------------------------------------------- strategies and attacks
def test_resolve_strategies():
    names = resolve_strategies("all")
    assert "llm_rewrite" not in names and {"homoglyph", "leet", "leet_invisible"} <= set(names)
    assert resolve_strategies(["all", "llm_rewrite"])[-1] == "llm_rewrite"
    assert resolve_strategies("homoglyph,leet") == resolve_strategies(["homoglyph", "leet", "homoglyph"])
    with pytest.raises(ConfigError, match="unknown strategy 'homoglyf'; known: all, .*homoglyph"):
        resolve_strategies(["homoglyph", "homoglyf"])


def _data() -> EvalData:
    return EvalData(TOXIC + BENIGN, [1] * len(TOXIC) + [0] * len(BENIGN), None, {})


def test_build_attacks_is_seeded_and_keeps_provenance():
    data = _data()
    a = build_attacks(data, ["homoglyph", "leet"], seed=0)
    b = build_attacks(data, ["homoglyph", "leet"], seed=0)
    c = build_attacks(data, ["homoglyph", "leet"], seed=1)
    assert [(x.text_id, x.strategy, x.attacked) for x in a.items] == [(x.text_id, x.strategy, x.attacked) for x in b.items]
    assert [x.attacked for x in a.items] != [x.attacked for x in c.items]
    assert a.items and all(x.attacked != x.original for x in a.items)
    assert all(data.texts[int(x.text_id)] == x.original and data.labels[int(x.text_id)] == x.label for x in a.items)
    assert a.attempted == {s: {"toxic": len(TOXIC), "not_toxic": len(BENIGN)} for s in ("homoglyph", "leet")}
    d = a.describe()
    assert d["per_strategy"]["leet"]["family"] == "char" and d["targeted"] is False
    assert d["per_strategy"]["homoglyph"]["changed_toxic"] == sum(
        1 for x in a.items if x.strategy == "homoglyph" and x.label == 1)


# ---------------------------------------------------------------------------- metrics with a fake model
class _Lookup:
    def __init__(self, table: dict[str, float]) -> None:
        self.table, self.seen = table, []

    def score(self, texts, batch_size=128):
        self.seen.extend(texts)
        return [self.table[t] for t in texts]


def _fixture():
    data = EvalData(["t0", "t1", "t2", "t3"], [1, 1, 0, 0], ["a", "a", "b", "b"], {})
    items = [
        _attempt(0, 1, "s1", "t0", "t0*", 1), _attempt(1, 1, "s1", "t1", "t1*", 2),
        _attempt(2, 0, "s1", "t2", "t2*", 3), _attempt(0, 1, "s2", "t0", "t0#", 4),
    ]
    suite = AttackSuite(["s1", "s2"], 7, {"s1": "char", "s2": "unicode"},
                        {"s1": {"toxic": 2, "not_toxic": 2}, "s2": {"toxic": 2, "not_toxic": 2}}, items)
    scores = {"t0": 0.9, "t1": 0.8, "t2": 0.1, "t3": 0.6, "t0*": 0.2, "t1*": 0.7, "t2*": 0.7, "t0#": 0.9}
    return data, suite, scores


def test_evaluate_model_arithmetic():
    data, suite, scores = _fixture()
    lookup = _Lookup(scores)
    r = evaluate_model(EvalModel("fake", "fake", "defender", 0.5, lookup), data, suite)
    assert sorted(lookup.seen) == sorted(scores)  # every distinct text scored exactly once
    assert r["clean"]["accuracy"] == 0.75 and r["clean"]["n"] == 4
    assert r["groups"]["a"]["accuracy"] == 1.0 and r["groups"]["b"]["accuracy"] == 0.5
    s1, s2, overall = r["attacked"]["per_strategy"]["s1"], r["attacked"]["per_strategy"]["s2"], r["attacked"]["overall"]
    assert s1 == {"family": "char", "attempted_toxic": 2, "changed_toxic": 2, "detection": 0.5,
                  "clean_detection": 1.0, "evasion_rate": 0.5, "attempted_not_toxic": 2,
                  "changed_not_toxic": 1, "fpr": 1.0, "clean_fpr": 0.0}
    assert s2["changed_toxic"] == 1 and s2["detection"] == 1.0 and s2["fpr"] is None and s2["changed_not_toxic"] == 0
    assert overall["changed_toxic"] == 3 and overall["detection"] == pytest.approx(2 / 3)
    assert overall["evasion_rate"] == pytest.approx(1 / 3) and overall["attempted_toxic"] == 4
    # a stricter threshold changes the decisions, not the scores
    strict = evaluate_model(EvalModel("fake", "fake", "defender", 0.85, _Lookup(scores)), data, suite)
    assert strict["attacked"]["per_strategy"]["s1"]["detection"] == 0.0
    assert strict["clean"]["accuracy"] == 0.75  # t1 (0.8) is now missed, t3 (0.6) no longer a false positive


def test_delta_table_and_robustness_rows():
    data, suite, scores = _fixture()
    a = evaluate_model(EvalModel("a", "A", "defender", 0.5, _Lookup(scores)), data, suite)
    b = evaluate_model(EvalModel("b", "B", "peer", 0.5, _Lookup({**scores, "t0*": 0.95, "t3": 0.1})), data, suite)
    d = compare_results(a, b)
    assert d["a"] == "A" and d["b"] == "B"
    assert d["clean"]["accuracy"] == pytest.approx(b["clean"]["accuracy"] - a["clean"]["accuracy"]) == 0.25
    assert d["groups"]["b"]["accuracy"] == 0.5
    assert d["attacked"]["per_strategy"]["s1"]["detection"] == 0.5
    assert d["attacked"]["per_strategy"]["s2"]["fpr"] is None  # undefined on both sides, never a fake 0
    result = {"data": {"source": "x", "split": None, "n": 4, "n_toxic": 2, "n_total": 4, "seed": 0,
                       "group_col": "g"}, "attack": suite.describe(), "models": [a, b], "delta": d}
    rows = robustness_table(result)
    assert [(r["model"], r["strategy"]) for r in rows] == [
        ("A", "s1"), ("A", "s2"), ("A", "overall"), ("B", "s1"), ("B", "s2"), ("B", "overall")]
    assert rows[3]["detection"] == 1.0 and rows[0]["family"] == "char"
    text = format_result(result)
    assert "delta (B - A)" in text and "+0.250" in text and "overall" in text and "per g" in text
    with pytest.raises(ConfigError, match="no attacked metrics"):
        robustness_table({**result, "attack": None})


# ---------------------------------------------------------------------------- the CLI
def test_cli_peer_end_to_end(tmp_path, capsys):
    f = _csv(tmp_path / "d.csv", ["comment", "verdict", "src"],
             [[t, "removed", "forum"] for t in TOXIC] + [[t, "kept", "chat"] for t in BENIGN])
    out = tmp_path / "r" / "eval.json"
    rc = main(["eval", "--model", "peer:better-profanity", "--data", str(f), "--text-col", "comment",
               "--label-col", "verdict", "--positive", "removed", "--group-col", "src", "--attack", "leet",
               "--seed", "2", "--out", str(out), "--quiet"])
    assert rc == 0
    r = json.loads(out.read_text())
    assert r["schema"] == "arena-eval/1" and r["data"]["positive"] == ["removed"] and "delta" not in r
    (m,) = r["models"]
    assert m["label"] == "peer:better-profanity" and m["kind"] == "peer"
    assert set(m["groups"]) == {"forum", "chat"} and m["groups"]["forum"]["n"] == len(TOXIC)
    assert m["attacked"]["per_strategy"]["leet"]["attempted_toxic"] == len(TOXIC)
    printed = capsys.readouterr().out
    assert "peer:better-profanity" in printed and "leet" in printed and str(out) in printed


@pytest.mark.parametrize("argv,message", [
    (["--model", "peer:perspective"], "unknown peer 'peer:perspective'"),
    (["--model", "peer:better-profanity", "--attack", "homoglyf"], "unknown strategy 'homoglyf'"),
    (["--model", "peer:better-profanity", "--text-col", "body"], "no column 'body' (text column); available columns: text, label"),
    (["--model", "./no/such/model"], "no such folder"),
])
def test_cli_errors_exit_2(tmp_path, capsys, argv, message):
    f = _csv(tmp_path / "d.csv", ["text", "label"], [["you idiot", 1], ["hello", 0]])
    assert main(["eval", "--data", str(f), "--quiet", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_cli_unknown_run_folder_and_empty_file(tmp_path, capsys):
    f = _csv(tmp_path / "d.csv", ["text", "label"], [["you idiot", 1], ["hello", 0]])
    assert main(["eval", "--data", str(f), "--out-dir", str(tmp_path / "none"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()  # no empty registry left behind
    empty = tmp_path / "e.csv"
    empty.write_text("")
    assert main(["eval", "--model", "peer:better-profanity", "--data", str(empty), "--quiet"]) == 2
    assert "the file is empty" in capsys.readouterr().err


def test_cli_model_and_compare_are_exclusive(tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["eval", "--model", "champion", "--compare", "1", "2", "--data", "x.csv"])
    assert info.value.code == 2
