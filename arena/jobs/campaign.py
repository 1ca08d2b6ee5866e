"""Run (or resume) a campaign as a Ray job: the coordinator, defender and attacker are actors.

    ray start --head --node-ip-address=127.0.0.1 --num-cpus=4 --object-store-memory=200000000
    ray job submit --address http://127.0.0.1:8265 --working-dir . -- \\
        python -m arena.jobs.campaign --config configs/demo.yaml --rounds 3 --out $PWD/runs/arena

Outside a job it starts a local loopback cluster (or joins RAY_ADDRESS / ``--address``).
``--out`` should be an absolute path: a job runs in a temporary copy of ``--working-dir``.
Submitting the same ``--out`` again resumes after the last complete round. Exit status: 0 on
success, 2 on a configuration/data/model error (one line on stderr), 1 on anything else.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from arena.errors import ArenaError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m arena.jobs.campaign", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="configs/default.yaml", help="arena YAML config")
    p.add_argument("--rounds", type=int, help="rounds after round 0 (default: campaign.rounds)")
    p.add_argument("--out", default="runs/arena", help="campaign folder (absolute in a job); resumed if it exists")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override, repeatable")
    p.add_argument("--tune", action="store_true", help="train challengers with a Tune sweep (ray.tune.enabled=true)")
    p.add_argument("--address", help="Ray cluster to join (default: RAY_ADDRESS, else a local cluster)")
    p.add_argument("--timeout", type=float, help="give up after this many seconds")
    p.add_argument("--quiet", action="store_true", help="no per-round progress")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from arena.actors import run_campaign
    from arena.cluster import init_ray, ray_env_defaults
    from arena.config import load_config

    args = build_parser().parse_args(argv)
    ray_env_defaults()
    try:
        overrides = list(args.set) + (["ray.tune.enabled=true"] if args.tune else [])
        cfg = load_config(args.config, overrides)
        out = Path(args.out).resolve()
        print(f"arena job: campaign on {out} (config {args.config}, rounds {args.rounds or cfg.campaign.rounds})",
              flush=True)
        init_ray(cfg.ray, address=args.address)
        t0 = time.perf_counter()
        summary = run_campaign(cfg, out, args.rounds, progress=not args.quiet, timeout=args.timeout)
    except ArenaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rounds = summary["rounds"]
    last = rounds[-1] if rounds else None
    result = {"campaign_id": summary["campaign_id"], "out": str(out), "rounds": len(rounds),
              "final_champion": last["champion_version"] if last else None,
              "frozen_detection": last["frozen_detection"] if last else None,
              "promotions": sum(1 for r in rounds if r["promoted"]), "wall_s": round(time.perf_counter() - t0, 1)}
    print("arena job result: " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
