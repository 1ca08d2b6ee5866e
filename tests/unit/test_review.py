"""The human review queue (arena/review.py) on a synthetic records folder."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from arena.errors import ArenaError
from arena.records import RecordStore
from arena.review import (
    CSV_COLUMNS,
    apply_verdicts,
    export_review,
    import_review,
    rejected_texts,
    review_id,
    review_stats,
    verdicts_path,
    verdicts_table,
    wilson_interval,
)


def _row(rnd: int, pool: str, k: int, strategy: str, *, valid: bool = True, evaded: bool = True,
         original: str | None = None) -> dict:
    return dict(
        campaign_id="c-test", round=rnd, pool=pool, text_id=f"t{k}", strategy=strategy, family="char",
        params={"budget": 2}, seed=1000 + k, original=original or f"you are an idiot number {k}",
        attacked=f"{strategy}: y0u are an 1d10t number {k} (round {rnd}, {pool})", label=1,
        validity=0.8, valid=valid, defender_version="1", score=0.2 if evaded else 0.9, evaded=evaded, queries=5,
    )


@pytest.fixture()
def campaign(tmp_path: Path) -> Path:
    """Round 0 and 1 complete, round 2 incomplete; leet has 30 counted evasions, typos 3."""
    out = tmp_path / "campaign"
    store = RecordStore(out)
    rows0 = [_row(0, "live", k, "leet") for k in range(15)]
    rows0 += [_row(0, "train", k, "leet") for k in range(15)]
    rows0 += [_row(0, "live", k, "typos") for k in range(3)]
    rows0 += [_row(0, "live", 100 + k, "typos", valid=False) for k in range(4)]  # invalid: not counted
    rows0 += [_row(0, "live", 200 + k, "typos", evaded=False) for k in range(4)]  # not evaded: not counted
    rows0 += [_row(0, "frozen", k, "masking") for k in range(5)]  # another pool
    rows0 += [_row(0, "live", 300, "masking", original="=1+1 you idiot")]
    store.append(0, rows0[:20])
    store.append(0, rows0[20:])
    store.mark_complete(0)
    store.append(1, [_row(1, "train", 400, "typos")])
    store.mark_complete(1)
    store.append(2, [_row(2, "live", 500, "typos")])  # incomplete round: never exported
    return out


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ",") -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def test_export_samples_counted_evasions_per_strategy(campaign: Path, tmp_path: Path) -> None:
    path = tmp_path / "review.csv"
    n = export_review(campaign, path, per_strategy=10, seed=0)
    rows = _read(path)
    assert n == len(rows) == 10 + 4 + 1  # leet capped at 10; typos 3 (round 0) + 1 (round 1); masking 1 (live)
    assert list(rows[0]) == list(CSV_COLUMNS)
    by = {}
    for r in rows:
        by.setdefault(r["strategy"], []).append(r)
    assert len(by["leet"]) == 10 and len(by["typos"]) == 4 and len(by["masking"]) == 1
    assert {r["pool"] for r in rows} <= {"live", "train"}
    assert all(r["verdict"] == "" and r["note"] == "" for r in rows)
    assert all(r["round"] in ("0", "1") for r in rows)  # the incomplete round 2 is left out
    assert len({r["review_id"] for r in rows}) == n
    assert all(r["review_id"].startswith("rv-") for r in rows)
    assert all(float(r["score"]) < 0.5 for r in rows)
    # a formula-looking text is escaped for spreadsheets
    masking = by["masking"][0]
    assert masking["original"] == "'=1+1 you idiot"


def test_export_is_seeded_and_ids_are_stable(campaign: Path, tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    export_review(campaign, a, per_strategy=5, seed=3)
    export_review(campaign, b, per_strategy=5, seed=3)
    export_review(campaign, c, per_strategy=5, seed=4)
    assert a.read_bytes() == b.read_bytes()
    leet = lambda p: {r["review_id"] for r in _read(p) if r["strategy"] == "leet"}  # noqa: E731
    assert leet(a) != leet(c)
    row = _row(0, "live", 3, "leet")
    assert review_id(row) == review_id(dict(row)) and review_id(row) != review_id({**row, "seed": 1})


def test_export_pools_and_errors(campaign: Path, tmp_path: Path) -> None:
    n = export_review(campaign, tmp_path / "f.csv", pools=("frozen",))
    assert n == 5 and {r["pool"] for r in _read(tmp_path / "f.csv")} == {"frozen"}
    with pytest.raises(ArenaError, match="no campaign records"):
        export_review(tmp_path / "nothing-here", tmp_path / "x.csv")
    with pytest.raises(ArenaError, match="per_strategy"):
        export_review(campaign, tmp_path / "x.csv", per_strategy=0)
    assert export_review(campaign, tmp_path / "e.csv", pools=("benign",)) == 0
    assert _read(tmp_path / "e.csv") == [] and (tmp_path / "e.csv").read_text().startswith("review_id,")


def test_import_is_tolerant_and_merges(campaign: Path, tmp_path: Path) -> None:
    path = tmp_path / "review.csv"
    export_review(campaign, path, per_strategy=10, seed=0)
    rows = _read(path)
    leet = [r for r in rows if r["strategy"] == "leet"]
    typos = [r for r in rows if r["strategy"] == "typos"]
    verdicts = {leet[0]["review_id"]: "  Reject ", leet[1]["review_id"]: "ACCEPT", leet[2]["review_id"]: "accept",
                typos[0]["review_id"]: "reject\t"}
    # reordered columns, padded header names, an extra column, semicolons, a blank line
    header = [" Verdict ", "NOTE", "extra", "Review_ID "]
    body = [[verdicts.get(r["review_id"], ""), "meaning lost" if "Reject" in verdicts.get(r["review_id"], "")
             else "", "x", r["review_id"]] for r in rows]
    body.insert(3, ["", "", "", ""])
    _write(path, header, body, delimiter=";")

    stats = import_review(campaign, path)
    assert stats["rows"] == len(rows) and stats["reviewed"] == 4 and stats["unreviewed"] == len(rows) - 4
    assert stats["new"] == 4 and stats["changed"] == 0
    assert stats["per_strategy"]["leet"] == {"accepted": 2, "rejected": 1, "unreviewed": 7}
    assert stats["per_strategy"]["typos"] == {"accepted": 0, "rejected": 1, "unreviewed": 3}
    assert stats["validity_rate"] == {"leet": pytest.approx(2 / 3), "typos": 0.0}

    table = verdicts_table(campaign)
    assert table.num_rows == 4
    stored = {r["review_id"]: r for r in table.to_pylist()}
    assert stored[leet[0]["review_id"]]["verdict"] == "reject"
    assert stored[leet[0]["review_id"]]["note"] == "meaning lost"
    # the evasion comes from the records, not from the CSV (which has no text columns any more)
    assert stored[leet[0]["review_id"]]["attacked"] == leet[0]["attacked"]
    assert rejected_texts(campaign) == {leet[0]["attacked"], typos[0]["attacked"]}

    # re-import: nothing changes, nothing is duplicated
    again = import_review(campaign, path)
    assert again["new"] == 0 and again["changed"] == 0 and again["unchanged"] == 4
    assert verdicts_table(campaign).num_rows == 4
    # a later verdict replaces the earlier one
    _write(tmp_path / "fix.csv", ["review_id", "verdict"], [[leet[0]["review_id"], "accept"]])
    fixed = import_review(campaign, tmp_path / "fix.csv")
    assert fixed["changed"] == 1 and fixed["rows"] == 1
    assert verdicts_table(campaign).num_rows == 4
    assert rejected_texts(campaign) == {typos[0]["attacked"]}
    s = review_stats(campaign)
    assert s["reviewed"] == 4 and s["accepted"] == 3 and s["rejected"] == 1
    assert s["per_strategy"]["leet"]["validity_rate"] == 1.0
    assert s["per_strategy"]["typos"]["reviewed"] == 1
    lo, hi = s["per_strategy"]["leet"]["ci95"]
    assert 0.4 < lo < 1.0 and hi == 1.0
    # no temp files are left behind, and every import is logged
    leftovers = [p.name for p in verdicts_path(campaign).parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    log = (verdicts_path(campaign).parent / "imports.jsonl").read_text().splitlines()
    assert len(log) == 3


def test_export_skips_reviewed_unless_asked(campaign: Path, tmp_path: Path) -> None:
    path = tmp_path / "review.csv"
    export_review(campaign, path, per_strategy=100)
    rows = _read(path)
    _write(path, ["review_id", "verdict"], [[r["review_id"], "accept"] for r in rows[:5]])
    import_review(campaign, path)
    assert export_review(campaign, tmp_path / "next.csv", per_strategy=100) == len(rows) - 5
    assert not {r["review_id"] for r in rows[:5]} & {r["review_id"] for r in _read(tmp_path / "next.csv")}
    assert export_review(campaign, tmp_path / "all.csv", per_strategy=100, include_reviewed=True) == len(rows)


def test_import_rejects_bad_values_before_writing(campaign: Path, tmp_path: Path) -> None:
    path = tmp_path / "review.csv"
    export_review(campaign, path, per_strategy=3)
    rows = _read(path)
    _write(path, ["review_id", "verdict"], [[rows[0]["review_id"], "reject"], [rows[1]["review_id"], "maybe"]])
    with pytest.raises(ArenaError, match=r"row 2 .*unknown verdict 'maybe'"):
        import_review(campaign, path)
    assert not verdicts_path(campaign).exists() and rejected_texts(campaign) == set()

    _write(path, ["review_id", "verdict"], [["rv-0000000000000000", "reject"]])
    with pytest.raises(ArenaError, match="match no counted evasion"):
        import_review(campaign, path)
    _write(path, ["review_id", "note"], [[rows[0]["review_id"], "x"]])
    with pytest.raises(ArenaError, match="missing column"):
        import_review(campaign, path)
    with pytest.raises(ArenaError, match="not found"):
        import_review(campaign, tmp_path / "missing.csv")
    # all verdicts empty: nothing reviewed, nothing stored
    _write(path, ["review_id", "verdict"], [[r["review_id"], " "] for r in rows])
    stats = import_review(campaign, path)
    assert stats["reviewed"] == 0 and stats["unreviewed"] == len(rows) and not verdicts_path(campaign).exists()
    assert review_stats(campaign) == {"reviewed": 0, "accepted": 0, "rejected": 0, "validity_rate": None,
                                      "per_strategy": {}}


def test_apply_verdicts_excludes_rejected_from_counted_evasions(campaign: Path, tmp_path: Path) -> None:
    import pyarrow.compute as pc

    path = tmp_path / "review.csv"
    export_review(campaign, path, per_strategy=100)
    rows = _read(path)
    _write(path, ["review_id", "verdict"], [[rows[0]["review_id"], "reject"], [rows[1]["review_id"], "accept"]])
    import_review(campaign, path)
    table = RecordStore(campaign).read()
    counted = lambda t: pc.sum(pc.and_(t["valid"], t["evaded"])).as_py()  # noqa: E731
    after = apply_verdicts(table, campaign)
    assert counted(after) == counted(table) - 1
    assert rows[0]["attacked"] not in {r["attacked"] for r in after.to_pylist() if r["valid"] and r["evaded"]}


def test_wilson_interval() -> None:
    assert wilson_interval(0, 0) is None
    lo, hi = wilson_interval(10, 20)
    assert lo < 0.5 < hi and hi - lo == pytest.approx(0.4, abs=0.03)
