"""Baseline benchmark: train the default config on TweetEval offensive; test macro-F1, train time, texts/s.

    .venv/bin/python bench/baseline.py --config configs/default.yaml --out bench/results

Writes bench/results/baseline.json and prints one summary line. Targets (CPU default, 2 cores):
test macro-F1 >= 0.80 and training <= 8 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--name", help="a label for this recipe (bench/baseline_sweep.sh)")
    ap.add_argument("--jsonl", metavar="FILE", help="also append the result as one line to FILE")
    ap.add_argument("--keep", metavar="DIR", help="keep the trained champion and its registry in DIR (e.g. to start "
                    "a campaign from it) instead of a temporary folder")
    args = ap.parse_args()


    from arena.baseline import train_baseline
    from arena.config import load_config

    cfg = load_config(args.config, overrides=args.set)
    with tempfile.TemporaryDirectory(prefix="arena-bench-") as tmp:
        t0 = time.perf_counter()
        m = train_baseline(cfg, args.keep or tmp, progress=True)
        total = time.perf_counter() - t0
    result = {
        "benchmark": "baseline",
        "command": " ".join([sys.executable.split("/")[-1], *sys.argv]),
        "config": cfg.to_dict(),
        "test_macro_f1": m["macro_f1"],
        "test_accuracy": m["accuracy"],
        "test_roc_auc": m["roc_auc"],
        "per_class": m["per_class"],
        "train_wall_s": m["train"]["wall_s"],
        "train_cpu_s": m["train"].get("cpu_s"),
        "threshold": m["train"].get("threshold", m.get("threshold")),
        "test_macro_f1_at_0_5": m.get("macro_f1_at_0_5", m["macro_f1"]),
        "best_epoch": m["train"]["best_epoch"],
        "epochs_run": m["train"]["epochs_run"],
        "history": m["train"]["history"],
        "inference_texts_per_s": m["texts_per_s"],
        "n_test": m["n"],
        "total_wall_s": total,
        "trainable_params": m["trainable_params"],
        "machine": machine_info(),
        "targets": {"test_macro_f1": 0.80, "train_wall_s": 480},
    }
    if args.name:
        result["name"] = args.name
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "baseline.json").write_text(json.dumps(result, indent=2))
    if args.jsonl:
        Path(args.jsonl).parent.mkdir(parents=True, exist_ok=True)
        with open(args.jsonl, "a", encoding="utf-8") as f:
            f.write(json.dumps(result) + "\n")
    met = result["test_macro_f1"] >= 0.80 and result["train_wall_s"] <= 480
    print(
        f"baseline: test macro-F1 {result['test_macro_f1']:.4f} (target >= 0.80), train {result['train_wall_s']:.0f}s "
        f"(target <= 480s), inference {result['inference_texts_per_s']:.0f} texts/s, best epoch "
        f"{result['best_epoch']}/{result['epochs_run']} -> {'MET' if met else 'MISSED'}; {out / 'baseline.json'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
