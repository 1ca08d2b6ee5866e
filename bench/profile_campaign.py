"""Run a small campaign and account for every ``Defender.score`` call by campaign stage (docs/profile.md).

Run it under pyinstrument for the call tree; it imports ``arena`` from the current directory, so
the same script profiles an older checkout (``git archive REV | tar -x -C DIR; cd DIR``):

    ARENA_DATA_MIRROR=/work/shared/data nice -n 15 .venv/bin/pyinstrument -o prof.pyisession -r pyisession \\
        bench/profile_campaign.py --config configs/test.yaml --rounds 1 --out /tmp/prof_run
    .venv/bin/pyinstrument --load prof.pyisession -r text -p processor_options.filter_threshold=0.02

Writes OUT/score_accounting.json: per stage (the innermost campaign function on the stack) the
number of ``score`` calls, texts scored, wall and CPU seconds. The counts are deterministic for a
given config and seed; the seconds depend on the machine's load (recorded too).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info  # noqa: E402

sys.path.insert(0, os.getcwd())  # profile the checkout in the current directory

STAGES = ("build_suite", "evaluate", "_live_attacks", "_training_set", "train_defender")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/test.yaml")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    import arena
    from arena.cli import main as arena_main
    from arena.defend.classifier import Defender

    acct: dict[str, dict[str, float]] = {}
    score = Defender.score

    def counted(self, texts, *a, **kw):
        stage = next((f.name for f in reversed(traceback.extract_stack()) if f.name in STAGES), "other")
        t, c = time.perf_counter(), time.process_time()
        out = score(self, texts, *a, **kw)
        d = acct.setdefault(stage, {"calls": 0, "texts": 0, "wall_s": 0.0, "cpu_s": 0.0})
        d["calls"] += 1
        d["texts"] += len(texts)
        d["wall_s"] += time.perf_counter() - t
        d["cpu_s"] += time.process_time() - c
        return out

    Defender.score = counted
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    rc = arena_main(
        ["campaign", "--config", args.config, "--rounds", str(args.rounds), "--out", args.out, "--quiet"]
    )
    report = {
        "command": " ".join(sys.argv),
        "arena": arena.__file__,
        "rc": rc,
        "total_wall_s": round(time.perf_counter() - t0, 1),
        "machine": machine_info(load_avg_start=[round(x, 2) for x in load_start]),
        "score_by_stage": {k: {kk: round(v, 2) for kk, v in d.items()} for k, d in acct.items()},
    }
    Path(args.out, "score_accounting.json").write_text(json.dumps(report, indent=1) + "\n")
    rounds = json.loads(Path(args.out, "summary.json").read_text())["rounds"]
    for r in rounds:
        print(
            f"round {r['round']}: {r['wall_s']:.1f}s "
            + " ".join(f"{k}={v:.1f}" for k, v in r["timings"].items())
        )
    for k, d in sorted(acct.items()):
        print(
            f"score in {k}: {d['calls']} calls, {d['texts']} texts, {d['wall_s']:.1f}s wall, {d['cpu_s']:.1f}s CPU"
        )
    print(f"total {report['total_wall_s']}s, load {report['load_avg_start']} -> {report['load_avg_end']}")
    return report


if __name__ == "__main__":
    main()
