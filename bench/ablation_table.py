"""Markdown tables of the ablation (`bash bench/ablation.sh`): one row per layer or retrain setting.

    .venv/bin/python bench/ablation_table.py [--layers bench/results/ablation_layers.jsonl]
                                             [--retrain bench/results/ablation.jsonl]

The layer rows (no training) come from bench/layers.py; the retrain rows from bench/retrain_ablation.py,
grouped by their config overrides without the seed: mean over seeds, with the range when there are
several. All numbers are on the campaign's frozen suite (test texts), benign suite and clean test
split, measured by those scripts; nothing here is computed beyond means, ranges and counts.
Held-out = unweighted mean of the held-out family's strategies (the same definition for every row).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

SETTING_NAMES = {
    (): "+ rules + retrained weights, balanced (defaults)",
    ("campaign.retrain.benign_ratio=0",): "+ rules + retrained weights, toxic-only perturbation",
    ("campaign.retrain.mine_rules=false",): "retrained weights, balanced, no rules",
    ("campaign.retrain.method=full", "campaign.retrain.lr=3e-5"):
        "+ rules + full fine-tune (LoRA merged, every weight, lr 3e-5), balanced",
}
LAYER_NAMES = {"model": "model only (canonicaliser off)", "canonicaliser": "+ static canonicaliser",
               "+mined": "+ mined rules (no retraining)"}


def _rows(path: Path) -> list[dict]:
    if not path.is_file():
        sys.exit(f"error: {path} not found: run `bash bench/ablation.sh` first")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _fmt(vals: list[float], scale: float = 100.0, digits: int = 1) -> str:
    m = statistics.fmean(vals) * scale
    if len(vals) == 1:
        return f"{m:.{digits}f}"
    lo, hi = min(vals) * scale, max(vals) * scale
    return f"{m:.{digits}f} ({lo:.{digits}f}..{hi:.{digits}f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", default="bench/results/ablation_layers.jsonl")
    ap.add_argument("--retrain", default="bench/results/ablation.jsonl")
    args = ap.parse_args()
    lrow = _rows(Path(args.layers))[-1]  # the latest layer measurement
    heldout = list(lrow["heldout"])
    settings: list[tuple[str, dict]] = []  # (name, {metric: [values over seeds]})
    for key in ("model", "canonicaliser", "+mined"):
        layer = lrow["layers"][key]
        ps = layer["per_strategy"]
        settings.append((LAYER_NAMES[key], {
            "n": 1, "trained": [layer["frozen_detection"]], "all": [layer["frozen_detection_all"]],
            "heldout": [statistics.fmean(ps[s] for s in heldout)], "fpr": [layer["benign_perturbed_fpr"]],
            "f1": [layer["clean_macro_f1"]], "promote": None, "per": {s: [v] for s, v in ps.items()}}))
    groups: dict[tuple, list[dict]] = {}
    for r in _rows(Path(args.retrain)):
        if r["run"] != lrow["run"] or r["round"] != lrow["round"]:
            continue
        key = tuple(o for o in r["overrides"] if not o.startswith("seed="))
        groups.setdefault(key, []).append(r)
    for key, rs in groups.items():
        ps = [r["challenger"]["per_strategy_detection"] for r in rs]
        settings.append((SETTING_NAMES.get(key, "retrained: " + ", ".join(key)), {
            "n": len(rs), "trained": [r["challenger"]["frozen_detection"] for r in rs],
            "all": [r["challenger"]["frozen_detection_all"] for r in rs],
            "heldout": [statistics.fmean(p[s] for s in heldout) for p in ps],
            "fpr": [r["challenger"]["benign_perturbed_fpr"] for r in rs],
            "f1": [r["challenger"]["clean_macro_f1"] for r in rs],
            "promote": sum(bool(r["gate"]["promote"]) for r in rs),
            "per": {s: [p[s] for p in ps] for s in ps[0]}}))
    print(f"Campaign {lrow['run']}, round {lrow['round']}, champion v{lrow['champion']} "
          f"(threshold {lrow['threshold']}); held out: {', '.join(heldout)}\n")
    print("| setting | seeds | frozen detection, trained | all strategies | held-out | benign FPR | clean macro-F1 "
          "| gate vs champion |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, m in settings:
        gate = "" if m["promote"] is None else f"{m['promote']}/{m['n']} promote"
        print(f"| {name} | {m['n'] if m['promote'] is not None else '-'} | {_fmt(m['trained'])} | {_fmt(m['all'])} "
              f"| {_fmt(m['heldout'])} | {_fmt(m['fpr'])} | {_fmt(m['f1'], 1, 4)} | {gate} |")
    print("\nPer strategy, frozen detection % (retrain rows: mean of their seeds; * = held out):\n")
    short = [n.split(" (")[0] for n, _ in settings]
    print("| strategy | " + " | ".join(short) + " |")
    print("| --- | " + " | ".join("---:" for _ in settings) + " |")
    for s in sorted(settings[0][1]["per"]):
        cells = [f"{statistics.fmean(m['per'][s]) * 100:.1f}" if s in m["per"] else "" for _, m in settings]
        print(f"| {s}{' *' if s in heldout else ''} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
