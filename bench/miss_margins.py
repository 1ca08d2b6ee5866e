"""Where a campaign's remaining frozen-suite misses come from: the champion's score on each clean original.

    python bench/miss_margins.py --run runs/headline

Scores every frozen-suite item (attacked text) and every distinct clean original with the run's final
champion (as deployed: its canonicaliser, rules and threshold; no training), and counts the missed items
(attacked score below the threshold) by the band of the champion's score on their clean original: a
tweet the champion only just flags when clean falls below the threshold under a small perturbation
elsewhere in it, which no word-level rule undoes. Reads state.json and the registry; writes nothing into
the run. Appends one JSON row to ``--out`` (default bench/results/miss_margins.jsonl) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

#: Upper edges of the clean-score bands (the last band is everything above the last edge).
EDGES = (0.60, 0.75, 0.90)


def band(score: float, threshold: float) -> str:
    """The band of a clean original's score: below the threshold, then up to each of :data:`EDGES`."""
    if score < threshold:
        return f"< {threshold:.2f}"
    lo = threshold
    for hi in EDGES:
        if score < hi:
            return f"{lo:.2f}-{hi:.2f}"
        lo = max(lo, hi)
    return f">= {lo:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a finished campaign folder (state.json, mlflow.db)")
    ap.add_argument("--config", default="configs/default.yaml", help="the config the campaign ran with")
    ap.add_argument("--out", default="bench/results/miss_margins.jsonl")
    args = ap.parse_args()
    run = Path(args.run)
    state_file = run / "state.json"
    if not state_file.is_file():
        print(f"error: {state_file} not found: run a campaign first", file=sys.stderr)
        return 2
    from arena.config import load_config
    from arena.defend.classifier import Defender
    from arena.registry import Registry

    state = json.loads(state_file.read_text())
    champion = str(state["champion_version"])
    reg = Registry.from_config(load_config(args.config), run)
    d = Defender.load(reg.resolve(champion)[1])
    thr = float(d.spec.threshold)
    frozen = state["frozen"]
    t0 = time.perf_counter()
    originals = sorted({x["original"] for x in frozen})
    clean = dict(zip(originals, d.score(originals), strict=True))
    attacked = d.score([x["attacked"] for x in frozen])
    missed = [x for x, s in zip(frozen, attacked, strict=True) if s < thr]
    orig_by_band = Counter(band(v, thr) for v in sorted(clean.values()))  # insertion order = band order
    items_by_band = Counter(band(clean[x["original"]], thr) for x in frozen)
    miss_by_band = Counter(band(clean[x["original"]], thr) for x in missed)
    rows = [{"band": b, "originals": orig_by_band[b], "items": items_by_band[b], "missed": miss_by_band[b]}
            for b in orig_by_band]
    result = {"run": str(run), "champion": champion, "threshold": thr, "items": len(frozen),
              "missed": len(missed), "originals": len(originals), "bands": rows,
              "wall_s": round(time.perf_counter() - t0, 1),
              "command": f"python bench/miss_margins.py --run {args.run} --config {args.config}"}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(result) + "\n")
    print(f"champion v{champion} (threshold {thr:.2f}): {len(missed)} of {len(frozen)} frozen items missed "
          f"(all families); by the champion's score on the clean original:")
    print("| clean score | originals | frozen items | missed | missed share |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        share = r["missed"] / r["items"] if r["items"] else 0.0
        print(f"| {r['band']} | {r['originals']} | {r['items']} | {r['missed']} | {100 * share:.1f}% |")
    low = sum(clean[x["original"]] < EDGES[1] for x in missed)
    print(f"miss_margins: {len(missed)} missed, {low} of them from the "
          f"{sum(v < EDGES[1] for v in clean.values())} originals scored below {EDGES[1]:.2f} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
