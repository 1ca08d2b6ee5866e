"""Where a campaign's champion moves on data it never saw: its learned rules or its retrained weights?

    .venv/bin/python bench/domain_drift.py --run runs/headline --data jigsaw_sample tweeteval_hate --limit 600

Scores the clean test split of each dataset with four defenders, each at its own saved threshold:
the round-0 baseline (v1), the campaign's champion as deployed, the champion's weights without its
learned rules, and the baseline's weights with the champion's rules. Prints macro-F1, FPR, TPR,
ROC-AUC and the mean P(toxic) of the non-toxic texts, and appends one JSON line per dataset to
``--out`` (default bench/results/domain_drift.jsonl). Clean text only (no attacks): a few minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info  # noqa: E402


def variants(run: Path, champion: str | None, tmp: Path) -> list[tuple[str, Path]]:
    """(name, defender folder) of the four defenders; the two mixed ones are built in ``tmp``."""
    from arena.config import load_config
    from arena.defend.rules import RULES_FILE
    from arena.registry import CHAMPION, Registry

    reg = Registry.from_config(load_config(None), run)
    base_v, base = reg.resolve("1")
    champ_v, champ = reg.resolve(champion or CHAMPION)
    weights_only, base_rules = tmp / "champion-weights", tmp / "baseline-with-champion-rules"
    shutil.copytree(champ, weights_only)
    (weights_only / RULES_FILE).unlink(missing_ok=True)
    shutil.copytree(base, base_rules)
    if (Path(champ) / RULES_FILE).is_file():
        shutil.copy(Path(champ) / RULES_FILE, base_rules / RULES_FILE)
    return [(f"v{base_v} (round 0)", Path(base)), (f"v{champ_v} (champion, as deployed)", Path(champ)),
            (f"v{champ_v} weights, no learned rules", weights_only),
            (f"v{base_v} weights + v{champ_v}'s rules", base_rules)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="runs/headline")
    ap.add_argument("--champion", help="version to compare with v1 (default: the champion alias)")
    ap.add_argument("--data", nargs="+", default=["jigsaw_sample", "tweeteval_hate"])
    ap.add_argument("--limit", type=int, default=None, help="a seeded, stratified sample of about N test texts")
    ap.add_argument("--out", default="bench/results/domain_drift.jsonl")
    args = ap.parse_args()

    from arena.evaluate import load_eval_data, load_model, score_texts
    from arena.metrics import classification_report

    run = Path(args.run)
    if not (run / "mlflow.db").is_file():
        print(f"error: {run}/mlflow.db not found: run make headline (or a campaign) first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="arena-drift-") as tmp:
        models = [(name, load_model(str(folder))) for name, folder in variants(run, args.champion, Path(tmp))]
        for source in args.data:
            data = load_eval_data(source, limit=args.limit)
            rows = []
            for name, model in models:
                t0 = time.perf_counter()
                scores = score_texts(model, data.texts)
                c = classification_report(data.labels, scores, model.threshold)
                benign = [s for s, y in zip(scores, data.labels, strict=True) if y == 0]
                rows.append({"model": name, "threshold": model.threshold, "macro_f1": c["macro_f1"],
                             "fpr": 1 - c["per_class"]["not_toxic"]["recall"],
                             "tpr": c["per_class"]["toxic"]["recall"], "roc_auc": c.get("roc_auc"),
                             "mean_score_not_toxic": sum(benign) / max(1, len(benign)),
                             "seconds": round(time.perf_counter() - t0, 1)})
            print(f"\n{source} (test, {len(data)} texts)")
            print("| defender | threshold | macro-F1 | FPR | TPR | ROC-AUC | mean P(toxic), non-toxic |")
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
            for r in rows:
                print(f"| {r['model']} | {r['threshold']:.3f} | {r['macro_f1']:.4f} | {100 * r['fpr']:.1f}% | "
                      f"{100 * r['tpr']:.1f}% | {r['roc_auc']:.4f} | {r['mean_score_not_toxic']:.4f} |")
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(out, "a", encoding="utf-8") as f:
                f.write(json.dumps({"benchmark": "domain_drift", "run": str(run), "data": source, "n": len(data),
                                    "limit": args.limit, "rows": rows, "command": " ".join(["python", *sys.argv]),
                                    "machine": machine_info()}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
