"""Headline benchmark: read a finished campaign and check it against the targets of issues 4 and 12.

    make headline        # = arena campaign --config configs/default.yaml --rounds 10 --out runs/headline
                         #   arena report runs/headline; python bench/headline.py --run runs/headline

Targets (CPU default config): frozen-suite detection <= 70% in round 0 and >= 95% within 10 rounds;
clean macro-F1 never more than 1 point below round 0; benign-perturbed FPR rises at most 2 points;
held-out strategy detection reported; 10 rounds in <= 30 minutes on 2 cores. Issue 12 adds: at
least 3 promotions, live attack success in the last round at most half of round 1's, held-out
family detection >= 85% in the last round. (Round 0 <= 70% is issue 4's; since issue 12 the
shipped baseline includes the canonicaliser, and round 0 is never weakened to meet it.) This script only
measures and reports; a missed target is printed as MISSED, never hidden.
Writes bench/results/headline.json and copies the curve to bench/results/headline_detection.png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path


def _breakdown(rounds: list[dict]) -> dict:
    """Wall time per stage: each round's ``timings`` and the mean over rounds 1..N.

    Stages (arena/arena.py): evaluate_s = the champion on frozen + benign + clean test (only when the
    champion changed), attack_s = live and training attacks (generation, validity, scoring),
    retrain_s = building the training set and training the challenger, gate_s = the challenger on
    frozen + benign + clean test and the bootstrap gate; other_s = the rest (records, MLflow, state).
    """
    per_round = []
    for r in rounds:
        t = dict(r.get("timings") or {})
        t["other_s"] = max(0.0, r["wall_s"] - sum(t.values()))
        per_round.append({"round": r["round"], "wall_s": r["wall_s"], **t})
    later = per_round[1:] or per_round
    keys = sorted({k for row in later for k in row if k.endswith("_s")})
    mean = {k: sum(row.get(k, 0.0) for row in later) / len(later) for k in keys}
    return {"per_round": per_round, "mean_rounds_1_to_n": mean}


def _live_split(run: Path, heldout: list[str], n_rounds: int) -> dict:
    """Per round, the live attacks (OUT/records, pool ``live``) on the trained strategies and on the
    held-out family apart: how many the bandit spent on each and how many evaded. The live attacker
    may pick held-out strategies, which the loop may never learn, so the overall rate mixes the two."""
    from arena.records import RecordStore

    t = RecordStore(run).read(pools=["live"])
    rows = {r: {"trained": [0, 0], "heldout": [0, 0]} for r in range(n_rounds)}
    for rnd, strat, evaded in zip(t["round"].to_pylist(), t["strategy"].to_pylist(), t["evaded"].to_pylist(),
                                  strict=True):
        cell = rows.setdefault(rnd, {"trained": [0, 0], "heldout": [0, 0]})["heldout" if strat in heldout else "trained"]
        cell[0] += 1
        cell[1] += bool(evaded)

    def rate(c: list[int]) -> float | None:
        return c[1] / c[0] if c[0] else None
    return {
        "trained_attacks": [rows[r]["trained"][0] for r in sorted(rows)],
        "trained_success": [rate(rows[r]["trained"]) for r in sorted(rows)],
        "heldout_attacks": [rows[r]["heldout"][0] for r in sorted(rows)],
        "heldout_success": [rate(rows[r]["heldout"]) for r in sorted(rows)],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="runs/headline", help="campaign folder with summary.json")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--command", default="make headline", help="the command that ran the campaign (recorded)")
    ap.add_argument("--no-copy-curve", action="store_true", help="do not copy the run's detection.png to OUT")
    args = ap.parse_args()
    run, out = Path(args.run), Path(args.out)
    summary = json.loads((run / "summary.json").read_text())
    rounds = summary["rounds"]
    r0, last = rounds[0], rounds[-1]
    frozen = [r["frozen_detection"] for r in rounds]
    first95 = next((r["round"] for r in rounds if r["frozen_detection"] >= 0.95), None)
    f1_floor = min(r["clean_macro_f1"] for r in rounds) - r0["clean_macro_f1"]
    fpr_rise = max(r["benign_perturbed_fpr"] for r in rounds) - r0["benign_perturbed_fpr"]
    wall = sum(r["wall_s"] for r in rounds[1:])  # rounds 1..N (round 0 includes the one-off suite build)
    checks = {
        "round0_frozen_le_70": r0["frozen_detection"] <= 0.70,
        "frozen_ge_95_within_10": first95 is not None and first95 <= 10,
        "clean_f1_within_1pt": f1_floor >= -0.01,
        "fpr_rise_le_2pt": fpr_rise <= 0.02,
        "ten_rounds_le_30min": len(rounds) >= 11 and wall <= 1800,
        # issue 12
        "promotions_ge_3": sum(bool(r["promoted"]) for r in rounds) >= 3,
        "live_success_last_le_half_round1": len(rounds) > 1 and None not in (
            rounds[1].get("live_attack_success"), last.get("live_attack_success"))
        and last["live_attack_success"] <= 0.5 * rounds[1]["live_attack_success"],
        "heldout_last_ge_85": (last.get("heldout_strategy_detection") or 0.0) >= 0.85,
    }
    result = {
        "benchmark": "headline",
        "command": args.command,
        "campaign_id": summary["campaign_id"],
        "seed": (summary.get("config") or {}).get("seed"),
        "rounds": len(rounds) - 1,
        "frozen_detection": frozen,
        "heldout_strategy_detection": [r.get("heldout_strategy_detection") for r in rounds],
        "live_attack_success": [r.get("live_attack_success") for r in rounds],
        "clean_macro_f1": [r["clean_macro_f1"] for r in rounds],
        "benign_perturbed_fpr": [r["benign_perturbed_fpr"] for r in rounds],
        "promoted": [r["promoted"] for r in rounds],
        "threshold": [r.get("threshold", summary.get("threshold")) for r in rounds],
        "gate": [None if not r.get("gate") else {k: r["gate"].get(k) for k in (
            "detection_gain", "ci_low", "ci_high", "clean_f1_delta", "clean_f1_delta_vs_baseline", "fpr_delta",
            "fpr_delta_vs_baseline", "reasons", "challenger_version")} for r in rounds],
        # which candidate the val probe picked (weights, blend, rules-only) and its val-probe numbers
        "selection": [None if not r.get("selection") else {k: r["selection"].get(k) for k in (
            "chosen", "version", "champion", "candidates")} for r in rounds],
        "first_round_ge_95": first95,
        "worst_clean_f1_delta": f1_floor,
        "max_fpr_rise": fpr_rise,
        "wall_s_rounds_1_to_n": wall,
        "wall_s_round0": r0["wall_s"],
        "setup_s": summary.get("setup_s"),  # pools + frozen suite, before round 0 (None: older campaigns)
        "wall_s_all": (summary.get("setup_s") or 0.0) + sum(r["wall_s"] for r in rounds),
        "checks": checks,
        "live_split": _live_split(run, summary.get("heldout_strategies") or [], len(rounds)),
        "round_breakdown": _breakdown(rounds),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "headline.json").write_text(json.dumps(result, indent=2))
    if (run / "detection.png").is_file() and not args.no_copy_curve:
        shutil.copy(run / "detection.png", out / "headline_detection.png")
    print(
        f"headline: frozen detection {frozen[0]:.3f} -> {frozen[-1]:.3f} over {len(rounds) - 1} rounds "
        f"(>=0.95 at round {first95}); held-out {r0.get('heldout_strategy_detection')} -> "
        f"{last.get('heldout_strategy_detection')}; clean F1 worst delta {f1_floor:+.4f}; FPR max rise "
        f"{fpr_rise:+.4f}; rounds 1..N {wall / 60:.1f} min; "
        + ", ".join(f"{k}={'MET' if v else 'MISSED'}" for k, v in checks.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
