"""Robustness table: our champion (round 0 and final) vs peer tools under every attack strategy.

    .venv/bin/python bench/robustness.py --run runs/headline --out bench/results     # part of `make bench`

Every model is scored on the very same attacked texts (``arena.evaluate``: each strategy applied
once per text with a fixed seed, untargeted, so no model is favoured by the attack's queries):
detection = share of attacked *toxic* test texts flagged, FPR = share of attacked *non-toxic*
test texts flagged. The peers are alt-profanity-check (a linear SVM on a bag of words) and
better-profanity (a word list); both come with ``pip install -e .[peers]``.

Writes bench/results/robustness.json (the full ``arena eval`` result), robustness.md (the table
the README shows) and prints a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, pct  # noqa: E402

PEERS = ("peer:alt-profanity-check", "peer:better-profanity")


def _champions(run: Path) -> tuple[str, str]:
    """(round-0 champion version, final champion version) of a finished campaign folder."""
    summary = run / "summary.json"
    if not summary.is_file():
        raise SystemExit(f"error: {summary} not found: run `make headline` (or `arena campaign --out {run}`) first")
    s = json.loads(summary.read_text())
    rounds = s["rounds"]
    first = str(s.get("baseline_version") or rounds[0]["champion_version"])
    last = rounds[-1]
    # a promotion after the last round's gate moves the champion past the last row's champion_version
    final = str(last["gate"]["challenger_version"]) if last.get("promoted") and last.get("gate") else str(last["champion_version"])
    return first, final


def _table(result: dict, labels: dict[str, str]) -> str:
    from arena.evaluate import robustness_table

    rows = robustness_table(result)
    models = [m["label"] for m in result["models"]]
    labels = {m["label"]: labels.get(m["ref"], m["label"]) for m in result["models"]}
    strategies: list[str] = []
    for r in rows:
        if r["strategy"] not in strategies:
            strategies.append(r["strategy"])
    cell = {(r["model"], r["strategy"]): r for r in rows}

    head = "| strategy | family | " + " | ".join(f"{labels.get(m, m)} det / FPR" for m in models) + " |"
    out = [head, "| --- | --- | " + " | ".join("---:" for _ in models) + " |"]
    for s in strategies:
        fam = next((cell[(m, s)].get("family") for m in models if (m, s) in cell), None) or ""
        vals = []
        for m in models:
            c = cell.get((m, s), {})
            vals.append(f"{pct(c.get('detection'))} / {pct(c.get('fpr'))}")
        name = f"**{s}**" if s == "overall" else f"`{s}`"
        out.append(f"| {name} | {fam} | " + " | ".join(vals) + " |")
    clean = ["| clean (unattacked) macro-F1 | | " + " | ".join(
        f"{m['clean']['macro_f1']:.3f}" for m in result["models"]) + " |"]
    return "\n".join(out[:2] + clean + out[2:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="runs/headline", help="a finished campaign folder (summary.json + registry)")
    ap.add_argument("--data", default="tweeteval_offensive", help="dataset name or labelled file (test split)")
    ap.add_argument("--limit", type=int, default=300, help="stratified sample of the data (0 = all; better-profanity "
                    "scores only ~10-20 texts/s here, and every text is scored once per strategy)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--no-peers", action="store_true", help="only our two champions")
    args = ap.parse_args()

    from arena.evaluate import load_eval_data, run_eval, write_result

    run = Path(args.run)
    first, final = _champions(run)
    models = [first] if first == final else [first, final]
    labels = {first: f"champion v{first} (round 0)", final: f"champion v{final} (final)"}
    if not args.no_peers:
        models += list(PEERS)
    t0 = time.perf_counter()
    data = load_eval_data(args.data, limit=args.limit or None, seed=args.seed, progress=True)
    result = run_eval(models, data, attack="all", seed=args.seed, run_dir=run, progress=True)
    wall = time.perf_counter() - t0
    cmd = f"python bench/robustness.py --run {args.run} --data {args.data}" + (
        f" --limit {args.limit}" if args.limit else "") + f" --seed {args.seed} --out {args.out}"
    result["benchmark"] = {
        "name": "robustness", "command": cmd, "wall_s": wall, "run": str(run),
        "round0_version": first, "final_version": final,
        "machine": machine_info(),
    }
    out = Path(args.out)
    write_result(result, out / "robustness.json")
    d = result["data"]
    md = (f"Every model scored on the same attacked texts: {d['n']} {args.data} test texts "
          f"({d['n_toxic']} toxic), each strategy applied once per text (seed {args.seed}, untargeted). "
          "det = attacked toxic texts flagged; FPR = attacked non-toxic texts flagged.\n\n"
          + _table(result, labels))
    (out / "robustness.md").write_text(md + "\n")
    overall = {labels.get(m["ref"], m["label"]): m["attacked"]["overall"] for m in result["models"]}
    parts = [f"{k} det {v['detection']:.3f} FPR {v['fpr']:.3f}" for k, v in overall.items()]
    print(f"robustness ({wall:.0f} s): " + "; ".join(parts))
    print(f"wrote {out / 'robustness.json'} and {out / 'robustness.md'}   reproduce: {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
