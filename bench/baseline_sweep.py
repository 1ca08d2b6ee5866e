"""The baseline-recipe table of docs/retrain.md from bench/results/baseline_sweep.jsonl (bench/baseline_sweep.sh).

    .venv/bin/python bench/baseline_sweep.py [--jsonl FILE]

One row per recipe: seeds, VAL macro-F1 at the val-picked threshold (what the choice reads), then
test macro-F1, test ROC-AUC and training wall time (mean, with min..max over seeds).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def val_f1(row: dict) -> float:
    """Val macro-F1 of the kept epoch, at its val-picked threshold."""
    h = row["history"][row["best_epoch"] - 1]
    return h.get("val_macro_f1_calibrated", h["val_macro_f1"])


def cell(xs: list[float], fmt: str) -> str:
    m = sum(xs) / len(xs)
    return fmt.format(m) if len(xs) == 1 else f"{fmt.format(m)} ({fmt.format(min(xs))}..{fmt.format(max(xs))})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jsonl", default="bench/results/baseline_sweep.jsonl")
    args = ap.parse_args()
    path = Path(args.jsonl)
    if not path.is_file():
        print(f"error: {path} not found: run bash bench/baseline_sweep.sh first", file=sys.stderr)
        return 2
    rows: dict[str, list[dict]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            rows.setdefault(r.get("name") or "?", []).append(r)
    print("| recipe | seeds | val macro-F1 (val threshold) | test macro-F1 | test ROC-AUC | train wall (s) | trainable params |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, rs in rows.items():
        seeds = ", ".join(str(r["config"]["seed"]) for r in rs)
        print(f"| {name} | {seeds} | {cell([val_f1(r) for r in rs], '{:.4f}')} | "
              f"{cell([r['test_macro_f1'] for r in rs], '{:.4f}')} | {cell([r['test_roc_auc'] for r in rs], '{:.4f}')} | "
              f"{cell([r['train_wall_s'] for r in rs], '{:.0f}')} | {rs[0]['trainable_params']:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
