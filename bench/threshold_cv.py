"""How the baseline's threshold should be picked, decided on val alone: split-half cross-validation.

    .venv/bin/python bench/threshold_cv.py --model runs/headline/models/baseline \
        --model runs/headline-s1/models/baseline --model runs/headline-s2/models/baseline

Each saved defender scores the val split once. Then, ``--splits`` times, val is cut at random into
two halves: each rule picks a threshold on one half and is scored (macro-F1) on the other. Rules:
``argmax`` (the best val macro-F1, ties nearest 0.5), ``one_se`` (nearest 0.5 within one bootstrap
standard error of the best; :func:`arena.metrics.best_threshold`) and ``fixed_0.5`` (no calibration).
It also prints each rule's pick on the whole of val. Test is never read. Appends one JSON row per
model to ``--out`` and prints a table and a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info  # noqa: E402

RULES = ("argmax", "one_se", "fixed_0.5")


def pick(rule: str, labels: np.ndarray, scores: np.ndarray, seed: int) -> float:
    from arena.metrics import best_threshold

    if rule == "fixed_0.5":
        return 0.5
    return best_threshold(labels, scores, rule=rule, seed=seed)[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="a saved defender folder (repeatable)")
    ap.add_argument("--config", default="configs/default.yaml", help="which dataset's val split")
    ap.add_argument("--splits", type=int, default=100, help="random half/half cuts of val per model")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="bench/results/threshold_cv.jsonl")
    args = ap.parse_args()
    if args.splits < 1:
        print("error: --splits must be >= 1", file=sys.stderr)
        return 2
    missing = [m for m in args.model if not (Path(m) / "defender.json").is_file()]
    if missing:
        print(f"error: no defender.json in {missing}: train a defender first (make baseline)", file=sys.stderr)
        return 2

    from arena.baseline import load_splits
    from arena.config import load_config
    from arena.defend.classifier import Defender
    from arena.errors import ArenaError
    from arena.metrics import macro_f1

    try:
        val = load_splits(load_config(args.config))["val"]
    except ArenaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    y = np.asarray(val.labels)
    rng = np.random.default_rng(args.seed)
    rows = []
    for path in args.model:
        t0 = time.perf_counter()
        d = Defender.load(path)
        s = np.asarray(d.score(val.texts), dtype=float)
        held: dict[str, list[float]] = {r: [] for r in RULES}
        for k in range(args.splits):
            perm = rng.permutation(len(y))
            a, b = perm[: len(y) // 2], perm[len(y) // 2 :]
            for r in RULES:
                thr = pick(r, y[a], s[a], seed=k)
                held[r].append(macro_f1(y[b].tolist(), (s[b] >= thr).astype(int).tolist()))
        whole = {r: pick(r, y, s, seed=0) for r in RULES}
        rows.append({
            "model": path, "saved_threshold": float(d.spec.threshold), "val_texts": len(y), "splits": args.splits,
            "held_out_half_macro_f1": {r: float(np.mean(v)) for r, v in held.items()},
            "minus_argmax": {r: float(np.mean(np.asarray(v) - np.asarray(held["argmax"]))) for r, v in held.items()},
            "whole_val_threshold": whole,
            "whole_val_macro_f1": {r: macro_f1(y.tolist(), (s >= t).astype(int).tolist()) for r, t in whole.items()},
            "seconds": time.perf_counter() - t0,
        })
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        for row in rows:
            f.write(json.dumps({**row, "command": " ".join(sys.argv), "machine": machine_info()}) + "\n")
    print(f"| model | saved | {' | '.join(f'{r}: held-out half F1 (pick on all val)' for r in RULES)} |")
    print("| --- | --- |" + " --- |" * len(RULES))
    for row in rows:
        cells = [f"{row['held_out_half_macro_f1'][r]:.4f} ({row['whole_val_threshold'][r]:.2f})" for r in RULES]
        print(f"| {row['model']} | {row['saved_threshold']:.2f} | {' | '.join(cells)} |")
    mean = {r: float(np.mean([row["minus_argmax"][r] for row in rows])) for r in RULES}
    print(f"threshold_cv: {len(rows)} models x {args.splits} val half-splits; held-out-half macro-F1 minus argmax's: "
          + ", ".join(f"{r} {100 * mean[r]:+.2f} pts" for r in RULES if r != "argmax") + f" -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
