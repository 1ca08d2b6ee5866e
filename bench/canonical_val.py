"""Canonicaliser steps on one defender's weights, measured on val only: attacked detection, FPR, clean F1.

    python bench/canonical_val.py --model runs/headline/models/baseline \
        --off segment_joined --off spell_swapped_case --off spell_negative

    python bench/canonical_val.py --model runs/headline/models/baseline --on split_merged --on phonetic \
        --strategies phonetic,phonetic_leet,split_merge,emoji

The same weights and threshold are read through two canonicalisers: ``without`` (the model's saved
canonicaliser with the ``--off`` steps switched off) and ``with`` (as saved, plus the ``--on`` steps:
steps newer than the saved folder). For each, and for each of ``--strategies``:

- attacked val toxic texts: the first ``--texts`` toxic val texts the model flags, each attacked
  once per strategy as the frozen suite attacks (targeted through that very reading, best of
  ``campaign.suite_candidates`` candidates): the share that evades (scores below the threshold);
- perturbed non-toxic val texts: the first ``--benign`` non-toxic val texts, each perturbed once per
  strategy (untargeted, seeded): the share flagged (FPR);
- clean val macro-F1 and the number of val texts the two readings prepare differently.

No test text is read and nothing is trained: this is where a canonicaliser step is judged before a
baseline is retrained with it. Appends one JSON row to ``--out`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DEFAULT_STRATEGIES = "typos,typo_separator,char_mixture,separators,leet,masking"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a saved defender folder (e.g. runs/headline/models/baseline)")
    ap.add_argument("--config", default="configs/default.yaml", help="dataset, attack and suite settings")
    ap.add_argument("--off", action="append", default=[], metavar="STEP",
                    help="canonicaliser step switched off in the 'without' reading (repeatable)")
    ap.add_argument("--on", action="append", default=[], metavar="STEP",
                    help="canonicaliser step switched on in the 'with' reading (repeatable)")
    ap.add_argument("--strategies", default=DEFAULT_STRATEGIES)
    ap.add_argument("--examples", type=int, default=0, metavar="N",
                    help="print up to N evasions per strategy as each reading prepares them (the canonicaliser "
                         "only: a baseline has no learned rules)")
    ap.add_argument("--texts", type=int, default=150, help="flagged toxic val texts attacked per strategy")
    ap.add_argument("--benign", type=int, default=300, help="non-toxic val texts perturbed per strategy")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default="bench/results/canonical_val.jsonl")
    args = ap.parse_args()

    from arena.attack.pipeline import AttackPipeline
    from arena.baseline import load_splits
    from arena.config import load_config
    from arena.defend.canonical import STEPS, Canonicalizer
    from arena.defend.classifier import Defender
    from arena.errors import ArenaError
    from arena.metrics import macro_f1

    if args.examples < 0 or args.texts < 1 or args.benign < 1:
        print("error: --examples must be >= 0, --texts and --benign >= 1", file=sys.stderr)
        return 2
    unknown = [s for s in args.off + args.on if s not in STEPS]
    if unknown or not (args.off or args.on) or set(args.off) & set(args.on):
        print(f"error: --off/--on need distinct steps of {list(STEPS)}; got --off {args.off} --on {args.on}",
              file=sys.stderr)
        return 2
    if not (Path(args.model) / "defender.json").is_file():
        print(f"error: {args.model}/defender.json not found: train a defender first (make baseline)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        cfg = load_config(args.config)
        val = load_splits(cfg)["val"]
        d = Defender.load(args.model)
        strategies = [s for s in args.strategies.split(",") if s]
        pipe = AttackPipeline.from_config(cfg, strategies, llm=False)
    except ArenaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    saved = d.canonicalizer
    if saved is None:
        print(f"error: {args.model} has no canonicaliser", file=sys.stderr)
        return 2
    from arena.defend.canonical import REFINES

    noop = [k for k in args.off if not saved.flags[k]] + [k for k in args.on if saved.flags[k]]
    noop += [k for k in args.on if k in REFINES and not (saved.flags[REFINES[k]] or REFINES[k] in args.on)]
    if noop:
        print(f"error: {args.model}: --off/--on {noop} would change nothing (already off/on, or a refinement of a "
              f"step that is off); saved steps: {[k for k in STEPS if saved.flags[k]]}", file=sys.stderr)
        return 2
    without = Canonicalizer(**{k: saved.flags[k] and k not in args.off for k in STEPS})
    with_canon = Canonicalizer(**{k: saved.flags[k] or k in args.on for k in STEPS})
    thr = float(d.spec.threshold)
    tox = [t for t, y in zip(val.texts, val.labels, strict=True) if y == 1]
    ben = [t for t, y in zip(val.texts, val.labels, strict=True) if y == 0][: args.benign]

    rows: dict[str, dict] = {}
    for name, canon in (("without", without), ("with", with_canon)):
        d.canonicalizer = canon  # the attacker queries d itself: the weights through the reading under test
        flagged = [t for t, s in zip(tox, d.score(tox), strict=True) if s >= thr][: args.texts]
        clean = d.score(val.texts)
        row = {"clean_val_macro_f1": macro_f1(val.labels, [int(s >= thr) for s in clean]),
               "flagged_toxic": len(flagged), "evasion": {}, "benign_fpr": {}}
        for i, strat in enumerate(strategies):
            res = pipe.attack_many([(str(k), t) for k, t in enumerate(flagged)], lambda _k, s=strat: s,
                                   args.seed + 7919 * i, d, n=cfg.campaign.suite_candidates, targeted=True)
            scores = [c.score for _, c, _ in res if c is not None]
            row["evasion"][strat] = {"valid": len(scores), "evasions": sum(s < thr for s in scores)}
            shown = [c for _, c, _ in res if c is not None and c.score < thr][: args.examples]
            for c in shown:
                print(f"  [{name} {strat} {c.score:.2f}] {canon(c.text)!r}")
            res = pipe.attack_many([(str(k), t) for k, t in enumerate(ben)], lambda _k, s=strat: s,
                                   args.seed + 104729 + 7919 * i, None, n=1, targeted=False)
            texts = [c.text for _, c, _ in res if c is not None]
            row["benign_fpr"][strat] = {"texts": len(texts), "flagged": sum(s >= thr for s in d.score(texts))}
        rows[name] = row
    d.canonicalizer = saved
    differ = sum(a != b for a, b in zip([without(t) for t in val.texts], [with_canon(t) for t in val.texts],
                                        strict=True))
    result = {"model": args.model, "off": args.off, "on": args.on, "threshold": thr,
              "steps_without": [k for k in STEPS if without.flags[k]], "steps_with": [k for k in STEPS if with_canon.flags[k]], "strategies": strategies,
              "val_texts_prepared_differently": differ, "rows": rows, "wall_s": round(time.perf_counter() - t0, 1),
              "command": "python bench/canonical_val.py " + " ".join(sys.argv[1:])}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as f:
        f.write(json.dumps(result) + "\n")

    def pct(a: int, b: int) -> str:
        return f"{100 * a / max(1, b):5.1f}%"

    print(f"{'strategy':16s} {'evasion without':>16s} {'evasion with':>13s} {'benign FPR without':>19s} {'with':>7s}")
    for s in strategies:
        ew, e = rows["without"]["evasion"][s], rows["with"]["evasion"][s]
        bw, b = rows["without"]["benign_fpr"][s], rows["with"]["benign_fpr"][s]
        print(f"{s:16s} {pct(ew['evasions'], ew['valid']):>16s} {pct(e['evasions'], e['valid']):>13s} "
              f"{pct(bw['flagged'], bw['texts']):>19s} {pct(b['flagged'], b['texts']):>7s}")

    def total(r: dict, k: str, a: str, b: str) -> str:
        return pct(sum(v[a] for v in r[k].values()), sum(v[b] for v in r[k].values()))

    w, n = rows["without"], rows["with"]
    print(f"canonical_val: evasion {total(w, 'evasion', 'evasions', 'valid').strip()} -> "
          f"{total(n, 'evasion', 'evasions', 'valid').strip()}, benign FPR {total(w, 'benign_fpr', 'flagged', 'texts').strip()}"
          f" -> {total(n, 'benign_fpr', 'flagged', 'texts').strip()}, clean val macro-F1 {w['clean_val_macro_f1']:.4f} -> "
          f"{n['clean_val_macro_f1']:.4f} ({differ} val texts read differently), steps off: {', '.join(args.off) or '-'}, "
          f"on: {', '.join(args.on) or '-'}; {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
