"""Retrain ablation: train one challenger from a campaign's recorded round and gate it, per setting.

    python bench/retrain_ablation.py --run runs/headline --round 0 --set campaign.retrain.replay_distill=1.0
    python bench/retrain_ablation.py --run runs/headline --round 0 --flagged-only
    python bench/retrain_ablation.py --run runs/demo --config configs/demo.yaml --round 1 --select

``--select`` picks the round's challenger on the val probe as the loop does (``Campaign.select_challenger``:
new weights, blends, operating-point-matched variants, rules-only) and gates that one.

Works on a COPY of the campaign folder (``--scratch``, default a temp dir), so the campaign's
registry, records and state are never touched. The challenger is trained exactly as the campaign
would (the public round API ``Campaign.build_training_set`` + ``Campaign.train_challenger``, with the config overrides) from
the champion of ``--round``, evaluated on the campaign's frozen suite, benign suite and clean test,
and passed through the promotion gate against that champion. ``--flagged-only`` drops training
evasions whose original text the champion does not flag (the attack-train pool rule of campaigns
started after that rule, for runs recorded before it). Prints one line and appends a JSON row to
``--out`` (default bench/results/retrain_ablation.jsonl).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _redirect_artifacts(scratch: Path) -> None:
    """The copy's registry points at the copy's artifacts, so new runs log into it, not the original."""
    from arena.registry import relocate

    if (scratch / "mlflow.db").is_file():
        relocate(scratch)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="campaign folder (state.json, records/, mlflow.db)")
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--round", type=int, default=0, help="the recorded round whose champion and records are used")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    ap.add_argument("--flagged-only", action="store_true", help="train only on evasions of texts the champion flags")
    ap.add_argument("--select", action="store_true", help="pick the challenger on the val probe as the loop does")
    ap.add_argument("--scratch", help="where to copy the campaign (default: a temporary folder, removed after)")
    ap.add_argument("--out", default="bench/results/retrain_ablation.jsonl")
    args = ap.parse_args()

    from arena.arena import Campaign
    from arena.baseline import load_splits
    from arena.config import load_config

    run = Path(args.run)
    if not (run / "state.json").is_file():
        print(f"error: {run}/state.json not found: run a campaign first (make headline)", file=sys.stderr)
        return 2
    tmp = None if args.scratch else tempfile.mkdtemp(prefix="arena-ablation-")
    scratch = Path(args.scratch or tmp) / "run"
    shutil.copytree(run, scratch, dirs_exist_ok=False)
    _redirect_artifacts(scratch)
    try:
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
        splits = load_splits(cfg)
        # the records of rounds after --round must not leak into its training set
        later = [p for p in (scratch / "records").glob("round=*") if int(p.name.split("=")[1]) > args.round]
        for p in later:
            shutil.rmtree(p)
        t0 = time.perf_counter()
        ts = camp.build_training_set(state, args.round, splits)
        texts, info = ts.texts, ts.info
        if args.flagged_only:
            rows = camp.records.read(pools=["train"], complete_only=False).to_pylist()
            original = {r["attacked"]: r["original"] for r in rows if r["evaded"]}
            thr = camp.threshold_of(champion)
            origs = sorted({original[t] for t in texts if t in original})
            flagged = dict(zip(origs, camp.services.scorer(champion).score(origs), strict=True))
            keep = [i for i, t in enumerate(texts) if t not in original or flagged[original[t]] >= thr]
            ts.subset(keep)
            info["evasions_kept_flagged_only"] = sum(1 for t in ts.texts if t in original)
        challenger = camp.train_challenger(state, args.round, ts, splits, tags={"ablation": "1"})
        selection = None
        if args.select:
            if not state.val_probe:
                print(f"error: {run}/state.json has no val probe (a campaign from before it)", file=sys.stderr)
                return 2
            picked, selection = camp.select_challenger(state, args.round, ts, challenger, splits)
            challenger = picked or champion  # no new rules and nothing better: the champion goes (no gain)
        train_s = time.perf_counter() - t0
        champ_ev = camp.evaluate(champion, state, splits)
        chall_ev = camp.evaluate(challenger, state, splits)
        decision = camp.gate(champ_ev, chall_ev, state, args.round)
        metrics = camp.metrics_of(chall_ev, state)
        probe = None
        if state.val_probe:  # the val-side numbers the loop picks its challenger on
            pc, pn = camp.probe(champion, state), camp.probe(challenger, state)
            probe = {"champion": pc.to_dict(), "challenger": pn.to_dict(),
                     "delta": {"detection": round(pn.detection - pc.detection, 6), "fpr": round(pn.fpr - pc.fpr, 6),
                               "clean_f1": round(pn.clean_f1 - pc.clean_f1, 6)}}
        row = {"run": str(run), "round": args.round, "overrides": args.set, "flagged_only": args.flagged_only,
               "training_set": info, "train_s": round(train_s, 1), "gate": decision.to_dict(),
               "challenger_threshold": chall_ev.threshold, "challenger": metrics, "val_probe": probe,
               "selection": selection,
               "command": "python bench/retrain_ablation.py " + " ".join(sys.argv[1:])}
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(row) + "\n")
    d = decision
    print(f"retrain ablation {args.set or ['defaults']}{' flagged-only' if args.flagged_only else ''}: "
          f"gain {d.detection_gain:+.3f} CI [{d.ci_low:+.3f}, {d.ci_high:+.3f}] clean F1 {d.clean_f1_delta:+.4f} "
          f"FPR {d.fpr_delta:+.4f} threshold {chall_ev.threshold:.2f} -> {'PROMOTE' if d.promote else 'reject'} "
          + (f"| picked {selection['chosen']} " if selection else "")
          + (f"| val probe: detection {probe['delta']['detection']:+.4f} FPR {probe['delta']['fpr']:+.4f} "
             f"F1 {probe['delta']['clean_f1']:+.4f} " if probe else "")
          + f"({info}, trained in {train_s:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
