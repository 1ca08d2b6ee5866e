"""A campaign's round-0 baseline on its own benign-perturbed suite, read with canonicaliser steps on and off.

    python bench/canonical_benign.py --run runs/headline --off merge_harmful --off split_merged --off phonetic

The same weights and threshold (``RUN/models/baseline``) score the campaign's benign suite (the
non-toxic test texts every strategy perturbed, as the gate's FPR reads them: ``RUN/state.json``)
through the saved canonicaliser and through it with the ``--off`` steps switched off: the FPR of
each reading, and every text whose verdict the steps change (printed as each reading prepares it).
It separates what a canonicaliser step does to the benign FPR from what retraining the baseline with
it does (a different path, threshold and frozen suite). It reads test texts to report, never to tune.
Appends one JSON row to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a campaign folder (state.json, models/baseline)")
    ap.add_argument("--off", action="append", default=[], metavar="STEP", help="step switched off (repeatable)")
    ap.add_argument("--out", default="bench/results/canonical_benign.jsonl")
    args = ap.parse_args()

    from arena.defend.canonical import STEPS, Canonicalizer
    from arena.defend.classifier import Defender
    from arena.errors import ArenaError

    unknown = [s for s in args.off if s not in STEPS]
    if unknown or not args.off:
        print(f"error: --off needs steps of {list(STEPS)}; got {args.off}", file=sys.stderr)
        return 2
    state_file, model = Path(args.run) / "state.json", Path(args.run) / "models" / "baseline"
    if not state_file.is_file() or not (model / "defender.json").is_file():
        print(f"error: {args.run} needs state.json and models/baseline (a campaign's folder)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        benign = json.loads(state_file.read_text())["benign"]
        d = Defender.load(str(model))
    except (ArenaError, KeyError, json.JSONDecodeError) as e:
        print(f"error: {args.run}: {e}", file=sys.stderr)
        return 2
    saved = d.canonicalizer
    if saved is None:
        print(f"error: {model} has no canonicaliser", file=sys.stderr)
        return 2
    noop = [k for k in args.off if not saved.flags[k]]
    if noop:
        print(f"error: {model}: --off {noop} already off in the saved canonicaliser", file=sys.stderr)
        return 2
    without = Canonicalizer(**{k: saved.flags[k] and k not in args.off for k in STEPS})
    thr = float(d.spec.threshold)
    texts = [b["attacked"] for b in benign]
    flagged = {}
    for name, canon in (("without", without), ("with", saved)):
        d.canonicalizer = canon
        flagged[name] = [s >= thr for s in d.score(texts)]
    d.canonicalizer = saved
    changed = [{"text_id": b["text_id"], "strategy": b["strategy"], "flagged_with": w,
                "without": without(b["attacked"]), "with": saved(b["attacked"])}
               for b, w, o in zip(benign, flagged["with"], flagged["without"], strict=True) if w != o]
    n = len(texts)
    row = {"run": args.run, "off": args.off, "threshold": thr, "texts": n,
           "fpr_without": sum(flagged["without"]) / n, "fpr_with": sum(flagged["with"]) / n,
           "changed": changed, "distinct_originals_changed": len({c["text_id"] for c in changed}),
           "wall_s": round(time.perf_counter() - t0, 1), "command": "python bench/canonical_benign.py " + " ".join(sys.argv[1:])}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as f:
        f.write(json.dumps(row) + "\n")
    for c in changed:
        print(f"  {'now flagged' if c['flagged_with'] else 'now passed '} {c['strategy']:18s} {c['with'][:110]!r}")
    print(f"canonical_benign: benign-perturbed FPR {100 * row['fpr_without']:.2f}% -> {100 * row['fpr_with']:.2f}% "
          f"({len(changed)} of {n} texts change verdict, from {row['distinct_originals_changed']} originals), "
          f"steps off: {', '.join(args.off)}; {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
