"""Load test of POST /api/v1/moderate on a local Serve app: batching on vs off.

    python bench/serve_load.py --out runs/arena                 # champion from that registry
    python bench/serve_load.py --out runs/bench --train 1024    # train one first (default config, subset)

For each mode the app is deployed on 127.0.0.1 (defender: 1 logical CPU, ``--threads`` threads,
``--runtime``), warmed up, then ``--clients`` concurrent clients (asyncio + httpx, one request in
flight each) send ``--texts-per-request`` test-split tweets per request for ``--duration`` seconds.
Bounded: at most 16 clients and 60 s of measured load in all (``--duration`` is per mode). Reports
throughput (texts/s, requests/s), latency p50/p99 per request, errors, and the defender's mean
batch size; writes bench/results/serve_load.json and prints one summary line.

Modes: ``batching_on`` / ``batching_off`` serve the real champion; ``serve_ceiling`` deploys the
same two hops (FastAPI ingress -> ``@serve.batch`` deployment) with a deployment that returns a
constant instead of running a model: it measures what Ray Serve itself costs on this machine, the
upper bound of any model behind it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MAX_CLIENTS, MAX_LOAD_S = 16, 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def _load(url: str, texts: list[str], clients: int, per_request: int, duration: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    sent_texts = 0
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def worker(k: int) -> None:
            nonlocal sent_texts
            i = k * 997
            while time.perf_counter() < deadline:
                batch = [texts[(i + j) % len(texts)] for j in range(per_request)]
                i += per_request * clients
                t0 = time.perf_counter()
                try:
                    r = await client.post("/api/v1/moderate", json={"texts": batch})
                    ok = r.status_code == 200 and len(r.json()["scores"]) == per_request
                    if not ok:
                        errors.append(f"{r.status_code}: {r.text[:100]}")
                except httpx.HTTPError as exc:
                    ok = False
                    errors.append(repr(exc)[:100])
                if ok:
                    latencies.append(time.perf_counter() - t0)
                    sent_texts += per_request

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(clients)))
        wall = time.perf_counter() - t0
    return {"requests": len(latencies), "texts": sent_texts, "errors": len(errors), "error_samples": errors[:3],
            "wall_s": round(wall, 2), "texts_per_s": round(sent_texts / wall, 1),
            "requests_per_s": round(len(latencies) / wall, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1), "p99_ms": round(percentile(latencies, 99) * 1000, 1),
            "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None}


def serve_ceiling(args, texts: list[str], port: int) -> dict:
    """The ingress -> batched-deployment path with no model: Ray Serve's own cost on this machine."""
    from fastapi import FastAPI
    from ray import serve

    from arena.serve.app import LOGGING

    api = FastAPI()

    @serve.deployment(name="Constant", max_ongoing_requests=256, ray_actor_options={"num_cpus": 0.1},
                      logging_config=LOGGING)
    class Constant:
        @serve.batch(max_batch_size=args.max_batch_size, batch_wait_timeout_s=args.batch_wait_timeout_s)
        async def _score(self, texts: list[str]) -> list[float]:
            return [0.0] * len(texts)

        async def moderate(self, texts: list[str]) -> list[float]:
            return list(await asyncio.gather(*(self._score(t) for t in texts)))

    @serve.deployment(name="Ingress", max_ongoing_requests=256, ray_actor_options={"num_cpus": 0.1},
                      logging_config=LOGGING)
    @serve.ingress(api)
    class Ingress:
        def __init__(self, scorer) -> None:
            self.scorer = scorer

        @api.post("/api/v1/moderate")
        async def moderate(self, body: dict) -> dict:
            return {"scores": await self.scorer.moderate.remote(body["texts"])}

    serve.run(Ingress.bind(Constant.bind()), name="ceiling", route_prefix="/")
    url = f"http://127.0.0.1:{port}"
    asyncio.run(_load(url, texts, args.clients, args.texts_per_request, args.warmup))
    result = asyncio.run(_load(url, texts, args.clients, args.texts_per_request, args.duration))
    result.update(mode="serve_ceiling", max_batch_size=args.max_batch_size,
                  batch_wait_timeout_s=args.batch_wait_timeout_s, mean_batch_size=None, model_version=None,
                  runtime="none (constant)")
    serve.delete("ceiling")
    return result


def run_mode(name: str, args, texts: list[str], port: int) -> dict:
    from ray import serve

    if name == "serve_ceiling":
        return serve_ceiling(args, texts, port)

    from arena.serve.app import build_app
    from arena.serve.schemas import AppArgs

    batching = name == "batching_on"
    app_args = AppArgs(out_dir=str(Path(args.out).resolve()), config=args.config, device="cpu",
                       max_batch_size=args.max_batch_size if batching else 1,
                       batch_wait_timeout_s=args.batch_wait_timeout_s if batching else 0.0,
                       defender_num_cpus=1, torch_threads=args.threads, runtime=args.runtime, attacker_num_cpus=0.1,
                       ingress_num_cpus=0.1, max_texts_per_request=max(64, args.texts_per_request))
    serve.run(build_app(app_args), name="bench", route_prefix="/")
    url = f"http://127.0.0.1:{port}"
    defender = serve.get_deployment_handle("Defender", app_name="bench")
    asyncio.run(_load(url, texts, args.clients, args.texts_per_request, args.warmup))  # warm-up, not measured
    before = defender.stats.remote().result()
    result = asyncio.run(_load(url, texts, args.clients, args.texts_per_request, args.duration))
    after = defender.stats.remote().result()
    batches = after["batches"] - before["batches"]
    result.update(mode=name, max_batch_size=app_args.max_batch_size, batch_wait_timeout_s=app_args.batch_wait_timeout_s,
                  defender_batches=batches,
                  mean_batch_size=round((after["texts"] - before["texts"]) / batches, 2) if batches else None,
                  model_version=after["version"], runtime=after["runtime"])
    serve.delete("bench")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/arena", help="campaign/train folder whose registry has a champion")
    p.add_argument("--config", default=str(REPO / "configs" / "default.yaml"))
    p.add_argument("--train", type=int, metavar="N", help="first train a champion on N train texts (1 epoch)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--duration", type=float, default=18.0, help="seconds of measured load per mode")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--texts-per-request", type=int, default=1)
    p.add_argument("--max-batch-size", type=int, default=32)
    p.add_argument("--batch-wait-timeout-s", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=2, help="defender threads (torch or onnxruntime)")
    p.add_argument("--runtime", choices=["auto", "torch", "onnx"], default="auto",
                   help="defender runtime (auto = onnx on CPU, as the Serve app)")
    p.add_argument("--modes", default="batching_on,batching_off,serve_ceiling",
                   help="comma-separated: batching_on, batching_off, serve_ceiling")
    p.add_argument("--result", default=str(REPO / "bench" / "results" / "serve_load.json"))
    args = p.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    unknown = sorted(set(modes) - {"batching_on", "batching_off", "serve_ceiling"})
    if unknown or not modes:
        p.error(f"--modes: unknown {unknown or 'empty'}; choose from batching_on, batching_off, serve_ceiling")
    if not 1 <= args.clients <= MAX_CLIENTS:
        p.error(f"--clients must be 1..{MAX_CLIENTS}")
    if (args.duration + args.warmup) * len(modes) > MAX_LOAD_S + 10 or args.duration * len(modes) > MAX_LOAD_S:
        p.error(f"at most {MAX_LOAD_S:.0f}s of measured load in all")

    for k, v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
        os.environ.setdefault(k, v)
    from arena.baseline import load_splits, train_baseline
    from arena.cluster import init_ray
    from arena.config import load_config

    cfg = load_config(args.config)
    if args.train:
        small = load_config(args.config, [f"data.max_train={args.train}", "train.epochs=1"])
        metrics = train_baseline(small, args.out, progress=False)
        print(f"trained champion v{metrics['model_version']} on {args.train} texts: test macro-F1 "
              f"{metrics['macro_f1']:.4f}", flush=True)
    texts = load_splits(cfg)["test"].texts
    port = free_port()
    init_ray(cfg.ray, log_to_driver=False)
    from ray import serve

    serve.start(http_options={"host": "127.0.0.1", "port": port})
    results = []
    try:
        for mode in modes:
            results.append(run_mode(mode, args, texts, port))
            print(json.dumps(results[-1]), flush=True)
    finally:
        serve.shutdown()
    report = {"bench": "serve_load", "endpoint": "POST /api/v1/moderate", "clients": args.clients,
              "texts_per_request": args.texts_per_request, "duration_s_per_mode": args.duration,
              "threads": args.threads, "runtime": args.runtime, "defender_num_cpus": 1,
              "command": "python " + " ".join([str(Path(sys.argv[0]))] + (argv if argv is not None else sys.argv[1:])),
              "machine": machine_info(),
              "model": {"out": str(Path(args.out).resolve()), "trained_here_on": args.train,
                        "base": "all-MiniLM-L6-v2", "max_length": cfg.defender.max_length}, "results": results}
    Path(args.result).parent.mkdir(parents=True, exist_ok=True)
    Path(args.result).write_text(json.dumps(report, indent=2) + "\n")
    by = {r["mode"]: r for r in results}
    parts = [f"{m}: {r['texts_per_s']} texts/s p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms errors {r['errors']} "
             f"mean batch {r['mean_batch_size']}" for m, r in by.items()]
    print(f"serve_load ({args.clients} clients, {args.texts_per_request} text/request, {args.duration:.0f}s/mode): "
          + " | ".join(parts) + f" -> {args.result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
