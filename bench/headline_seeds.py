"""The headline over seeds: make headline (bench/results/headline.json, seed 13) beside the replicates of
bench/headline_seeds.sh (bench/results/headline_seeds/s<seed>/headline.json).

    .venv/bin/python bench/headline_seeds.py

One row per seed (round 0 -> last round), then the mean and range, for the numbers the targets read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}"


def pct2(x: float | None) -> str:
    """Frozen detection to two decimals: 94.99 must not print as the 95.0 it misses."""
    return pct(x, 2)


def row(name: str, h: dict) -> dict:
    return {
        "seed": name,
        "frozen0": h["frozen_detection"][0], "frozen": h["frozen_detection"][-1],
        "first95": h.get("first_round_ge_95"),
        "held0": h["heldout_strategy_detection"][0], "held": h["heldout_strategy_detection"][-1],
        "live1": h["live_attack_success"][1] if len(h["live_attack_success"]) > 1 else None,
        "live": h["live_attack_success"][-1],
        "f1_0": h["clean_macro_f1"][0], "f1_worst": h["worst_clean_f1_delta"], "fpr_max": h["max_fpr_rise"],
        "promotions": sum(bool(x) for x in h["promoted"]),
        "minutes": h["wall_s_rounds_1_to_n"] / 60,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default="bench/results",
                    help="a folder with headline.json (seed 13) and headline_seeds/s<seed>/headline.json")
    args = ap.parse_args()
    res = Path(args.results)
    runs: list[tuple[str, dict]] = []
    if (res / "headline.json").is_file():
        h = json.loads((res / "headline.json").read_text())
        how = "make headline" if h.get("command", "make headline") == "make headline" else "its command in headline.json"
        runs.append((f"{h.get('seed', '?')} ({how})", h))
    for f in sorted((res / "headline_seeds").glob("s*/headline.json")):
        runs.append((f.parent.name[1:], json.loads(f.read_text())))
    if not runs:
        print("error: no headline.json found: run make headline / bash bench/headline_seeds.sh", file=sys.stderr)
        return 2
    rows = [row(name, h) for name, h in runs]
    print("| seed | frozen detection, round 0 -> 10 | first >= 95% | held-out, round 0 -> 10 | live success, "
          "round 1 -> 10 | clean F1 round 0, worst delta (pts) | max FPR rise (pts) | promotions | rounds 1..10 (min) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['seed']} | {pct2(r['frozen0'])} -> {pct2(r['frozen'])} | {r['first95'] if r['first95'] is not None else '-'} | "
              f"{pct(r['held0'])} -> {pct(r['held'])} | {pct(r['live1'])} -> {pct(r['live'])} | "
              f"{r['f1_0']:.4f}, {100 * r['f1_worst']:+.2f} | {100 * r['fpr_max']:+.2f} | {r['promotions']} | "
              f"{r['minutes']:.1f} |")
    if len(rows) > 1:
        def mean(k: str) -> float:
            xs = [r[k] for r in rows if r[k] is not None]
            return sum(xs) / len(xs)

        def rng(k: str, f=pct) -> str:
            xs = [r[k] for r in rows if r[k] is not None]
            return f"{f(min(xs))}..{f(max(xs))}"

        print(f"| mean ({len(rows)} seeds) | {pct2(mean('frozen0'))} -> {pct2(mean('frozen'))} ({rng('frozen', pct2)}) | | "
              f"{pct(mean('held0'))} -> {pct(mean('held'))} ({rng('held')}) | {pct(mean('live1'))} -> {pct(mean('live'))} | "
              f"{mean('f1_0'):.4f}, {100 * mean('f1_worst'):+.2f} | {100 * mean('fpr_max'):+.2f} | "
              f"{mean('promotions'):.1f} | {mean('minutes'):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
