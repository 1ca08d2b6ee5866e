"""The defender's layers, one at a time, on a campaign's frozen suite: where each point comes from.

    python bench/layers.py --run runs/demo --config configs/demo.yaml --round 1

For the champion of ``--round`` (same weights, same threshold, no training) it measures
frozen-suite detection (trained strategies, as the campaign reports it, and all) per strategy, benign-perturbed FPR and clean test macro-F1 with

- ``model``: the classifier alone (canonicaliser off, no rules);
- ``canonicaliser``: the static canonicaliser (the champion's saved steps), no rules;
- ``champion``: the champion as deployed (canonicaliser + its rules);
- ``+mined``: plus the rules the round mines from the train-pool evasions recorded up to
  ``--round`` (exact and fuzzy, admitted as the campaign admits them; ``Campaign.build_training_set``);
- ``canon@config`` and ``champion@config`` (only when ``--config``'s canonicaliser has steps the
  champion's saved one lacks): the canonicaliser as the config now builds it, alone and with the
  champion's rules, on the same weights: what new canonicaliser steps give before any retraining.

Works on a copy of the campaign folder. Appends a JSON row to ``--out`` (default
bench/results/layers.jsonl) and prints one line per layer plus a per-strategy table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="campaign folder (state.json, records/, mlflow.db)")
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--round", type=int, default=0, help="the recorded round whose champion and records are used")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    ap.add_argument("--out", default="bench/results/layers.jsonl")
    args = ap.parse_args()

    from arena.arena import Campaign
    from arena.baseline import load_splits
    from arena.config import load_config
    from arena.defend.classifier import Defender
    from arena.defend.rules import RuleSet
    from arena.metrics import classification_report

    run = Path(args.run)
    if not (run / "state.json").is_file():
        print(f"error: {run}/state.json not found: run a campaign first (make demo)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="arena-layers-"))
    scratch = tmp / "run"
    t0 = time.perf_counter()
    try:
        shutil.copytree(run, scratch)
        cfg = load_config(args.config, args.set)
        camp = Campaign(cfg, scratch, progress=False)
        camp.records.discard_incomplete()
        state = camp.load_state()
        rounds = {r["round"]: r for r in state.rounds}
        if args.round not in rounds:
            print(f"error: round {args.round} is not complete in {run} (complete: {sorted(rounds)})", file=sys.stderr)
            return 2
        champion = rounds[args.round]["champion_version"]
        state.champion_version = champion
        for p in (scratch / "records").glob("round=*"):  # later rounds must not leak into the mined rules
            if int(p.name.split("=")[1]) > args.round:
                shutil.rmtree(p)
        splits = load_splits(cfg)
        ts = camp.build_training_set(state, args.round, splits)
        path = camp.registry.resolve(champion)[1]
        d = Defender.load(path)
        thr = float(d.spec.threshold)
        canon, champ_rules = d.canonicalizer, d.rules
        frozen = state.frozen
        attacked = [x.attacked for x in frozen]
        strategies = [x.strategy for x in frozen]
        benign = [x.attacked for x in state.benign]
        test = splits["test"]
        layers = {"model": (None, RuleSet()), "canonicaliser": (canon, RuleSet()), "champion": (canon, champ_rules),
                  "+mined": (canon, champ_rules.merged(ts.rules))}
        from arena.defend.canonical import Canonicalizer

        now = Canonicalizer.from_config(cfg.defender.canonicalizer)
        if now is not None and (canon is None or now.to_dict() != canon.to_dict()):
            layers |= {"canon@config": (now, RuleSet()), "champion@config": (now, champ_rules)}
        rows: dict[str, dict] = {}
        for name, (c, r) in layers.items():
            d.canonicalizer, d.rules = c, r
            hits = [s >= thr for s in d.score(attacked)]
            n, k = Counter(strategies), Counter(s for s, h in zip(strategies, hits, strict=True) if h)
            trained = [h for s, h in zip(strategies, hits, strict=True) if s not in camp.heldout]
            rows[name] = {
                "frozen_detection": sum(trained) / max(1, len(trained)),  # trained strategies, as the campaign reports
                "frozen_detection_all": sum(hits) / len(hits),
                "benign_perturbed_fpr": sum(s >= thr for s in d.score(benign)) / max(1, len(benign)),
                "clean_macro_f1": classification_report(test.labels, d.score(test.texts), thr)["macro_f1"],
                "rules": len(r), "fuzzy_rules": sum(x.fuzzy for x in r.rules.values()),
                "per_strategy": {s: k[s] / n[s] for s in sorted(n)},
            }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {"run": str(run), "round": args.round, "champion": champion, "threshold": thr,
              "heldout": camp.heldout, "mined": ts.info.get("rules"), "layers": rows,
              "wall_s": round(time.perf_counter() - t0, 1),
              "command": "python bench/layers.py " + " ".join(sys.argv[1:])}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(result) + "\n")
    for name, r in rows.items():
        print(f"layers {name:14s} frozen detection {r['frozen_detection']:.3f} (all {r['frozen_detection_all']:.3f})  benign FPR "
              f"{r['benign_perturbed_fpr']:.3f}  clean F1 {r['clean_macro_f1']:.4f}  rules {r['rules']} "
              f"({r['fuzzy_rules']} fuzzy)")
    names = list(rows)
    print(f"{'strategy':22s}" + "".join(f"{n:>15s}" for n in names))
    for s in rows["model"]["per_strategy"]:
        mark = " (held out)" if s in camp.heldout else ""
        print(f"{s:22s}" + "".join(f"{rows[n]['per_strategy'][s]:15.2f}" for n in names) + mark)
    return 0


if __name__ == "__main__":
    sys.exit(main())
