"""Attack benchmark: every strategy and recipe against a saved defender on TweetEval offensive test.

    .venv/bin/python bench/attack.py --runs runs/arena --out bench/results          # the registry's champion
    .venv/bin/python bench/attack.py --model runs/arena/models/baseline --limit 50  # a saved defender folder

Texts: the toxic (label 1) tweets of the TweetEval offensive *test* split (the whole split, not a
config subsample) that the defender flags (P(toxic) >= its threshold): attacking a text the
defender already misses proves nothing. ``--limit N`` keeps a seeded random sample of N of them
(kept in split order). ``llm_rewrite`` attacks only the first ``--llm-limit`` (default 20) texts
of that selection: the CPU model needs seconds per text.

One attack = what a campaign round does per text: word importance by delete-one scoring through
the defender (``arena.attack.word_importance``, at most 16 words; computed once per text and its
time added to every strategy's attack on that text) -> ``strategy(text, seed, None, n=2,
targets=imp.order)`` -> ``validate`` (edit budget / MiniLM similarity, limits from ``--config``)
-> the defender scores the valid candidates -> the best (lowest P(toxic)) counts.

Per strategy: attack success rate = attacks whose best valid candidate has P(toxic) < threshold,
over all attacked texts; validity rate = valid candidates / generated candidates; mean time per
attack in ms (importance + generation + validation + scoring; model loading excluded); defender
queries per attack. The LLM throughput ratio (llama.cpp vs transformers' GGUF loader) is copied
from ``llm_throughput.json`` in ``--out`` when present (bench/llm_throughput.py; not re-run here).

Writes OUT/attack.json and OUT/attack.md (the README table) and prints one summary line and the
command that reproduces it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, pct  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

MAX_IMPORTANCE_WORDS = 16  # as in a campaign round (arena/arena.py)
CANDIDATES = 2


# ============================================================================ inputs
def load_defender(args: argparse.Namespace, cfg) -> tuple[Any, dict[str, Any]]:
    """The defender to attack and a description of where it came from."""
    from arena.defend import Defender
    from arena.errors import ModelError

    if args.model:
        path = Path(args.model)
        if not path.is_dir():
            raise ModelError(f"--model {path}: no such folder (a folder written by Defender.save)")
        defender = Defender.load(path, device=args.device)
        return defender, {"model": str(path), "version": None}
    from arena.registry import Registry

    runs = Path(args.runs)
    if not runs.is_dir():
        raise ModelError(f"--runs {runs}: no such folder (train one with `arena train --out {runs}`)")
    registry = Registry.from_config(cfg, runs)
    defender = registry.load_defender("champion", device=args.device)
    return defender, {"runs": str(runs), "alias": "champion", "version": getattr(defender, "version", None)}


def select_texts(defender, dataset: str, threshold: float, limit: int | None, seed: int) -> tuple[list, dict]:
    """(id, text, P(toxic)) of the flagged toxic test texts (seeded sample of ``limit``), and counts."""
    from arena.data import load_dataset, split_of

    test = split_of(load_dataset(dataset), "test").to_pydict()
    toxic = [(i, t) for i, t, y in zip(test["id"], test["text"], test["label"], strict=True) if int(y) == 1]
    scores = defender.score([t for _, t in toxic])
    flagged = [(i, t, float(s)) for (i, t), s in zip(toxic, scores, strict=True) if s >= threshold]
    selected = flagged
    if limit is not None and limit < len(flagged):
        keep = set(random.Random(seed).sample(range(len(flagged)), limit))
        selected = [x for k, x in enumerate(flagged) if k in keep]
    info = {
        "dataset": dataset,
        "split": "test",
        "test_texts": len(test["text"]),
        "toxic_test_texts": len(toxic),
        "flagged_by_defender": len(flagged),
        "selected": len(selected),
        "rule": "toxic (label 1) test texts the defender flags (P(toxic) >= threshold)"
        + (f"; seeded random sample of {limit} (seed {seed}), in split order" if len(selected) < len(flagged) else ""),
    }
    return selected, info


def build_llm_strategy(cfg, threads: int | None):
    """``llm_rewrite`` with the config's backend and sampling settings (arena.attack.pipeline.llm_params)."""
    from arena.attack import get_strategy
    from arena.attack.pipeline import llm_params

    params = llm_params(cfg.attack.llm)
    if threads and cfg.attack.llm.backend in ("llama_cpp", "transformers"):
        params["backend_kwargs"]["n_threads"] = threads
    return get_strategy("llm_rewrite", **params)


# ============================================================================ the attacks
def attack_one(strategy, text: str, importance, seed: int, rules, defender, threshold: float) -> dict[str, Any]:
    """One attack on one text (importance already computed): candidates, validity, best score."""
    from arena.attack import validate

    t0 = time.perf_counter()
    cands = strategy(text, seed, None, n=CANDIDATES, targets=importance.order)
    valid = [c for c in validate(cands, rules) if c.valid] if cands else []
    scores = defender.score([c.text for c in valid]) if valid else []
    seconds = time.perf_counter() - t0
    best = min(range(len(valid)), key=scores.__getitem__) if valid else None
    return {
        "generated": len(cands),
        "valid": len(valid),
        "best_score": float(scores[best]) if best is not None else None,
        "best": valid[best] if best is not None else None,
        "success": best is not None and scores[best] < threshold,
        "queries": len(valid),
        "seconds": seconds,
    }


def run_strategy(name: str, strategy, texts: list, importances: list, seed: int, rules, defender,
                 threshold: float) -> dict[str, Any]:
    """Attack every text with one strategy; aggregate the per-strategy numbers."""
    from arena.attack.registry import info as strategy_info

    results, errors = [], []
    for k, ((text_id, text, _), (imp, imp_s)) in enumerate(zip(texts, importances, strict=True)):
        s = random.Random(f"{seed}:{name}:{k}").getrandbits(63)
        try:
            r = attack_one(strategy, text, imp, s, rules, defender, threshold)
        except Exception as exc:  # a strategy bug is reported, it does not end the benchmark
            errors.append(f"{text_id}: {exc!r}")
            r = {"generated": 0, "valid": 0, "best_score": None, "best": None, "success": False, "queries": 0,
                 "seconds": 0.0}
        r["attack_seconds"] = r["seconds"]
        r["seconds"] += imp_s
        r["queries"] += imp.queries
        r["text_id"], r["original"] = text_id, text
        results.append(r)
    info = strategy_info(name)
    n = len(results)
    generated = sum(r["generated"] for r in results)
    valid = sum(r["valid"] for r in results)
    successes = [r for r in results if r["success"]]
    best_scores = [r["best_score"] for r in results if r["best_score"] is not None]
    ms = [1000 * r["seconds"] for r in results]
    return {
        "strategy": name,
        "family": info.family,
        "kind": info.kind,
        "texts": n,
        "attacks_with_candidates": sum(1 for r in results if r["generated"]),
        "candidates": generated,
        "valid_candidates": valid,
        "validity_rate": valid / generated if generated else None,
        "successes": len(successes),
        "success_rate": len(successes) / n if n else None,
        "mean_best_score": statistics.fmean(best_scores) if best_scores else None,
        "ms_per_attack": statistics.fmean(ms) if ms else None,
        "ms_per_attack_p50": statistics.median(ms) if ms else None,
        "ms_per_attack_without_importance": statistics.fmean(1000 * r["attack_seconds"] for r in results)
        if results else None,
        "queries_per_attack": statistics.fmean(r["queries"] for r in results) if results else None,
        "errors": errors,
        "examples": [
            {"text_id": r["text_id"], "original": r["original"], "attacked": r["best"].text,
             "score": round(r["best_score"], 4), "validity": r["best"].validity}
            for r in successes[:2]
        ],
    }


# ============================================================================ outputs
def _num(x: float | None, fmt: str = ".0f") -> str:
    return "n/a" if x is None else format(x, fmt)


def markdown(result: dict[str, Any]) -> str:
    sel, d = result["selection"], result["defender"]
    who = f"v{d['version']}" if d.get("version") else d.get("model", "?")
    lines = [
        f"Attack benchmark against the defender {who} (threshold {result['threshold']}): "
        f"{sel['selected']} toxic TweetEval offensive test tweets it flags "
        f"({sel['flagged_by_defender']} flagged of {sel['toxic_test_texts']} toxic"
        + (f"; a seeded sample of {sel['selected']}" if sel["selected"] < sel["flagged_by_defender"] else "")
        + f"). Word-importance targeting, {CANDIDATES} candidates per attack, best valid one scored. "
        f"Success = a valid candidate with P(toxic) < threshold.",
        "",
        "| strategy | family | texts | attack success | validity rate | ms / attack | ms without importance "
        "| queries / attack |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result["strategies"]:
        name = f"`{row['strategy']}`" + (" (recipe)" if row["kind"] == "recipe" else "")
        lines.append(
            f"| {name} | {row['family']} | {row['texts']} | {pct(row['success_rate'])} | "
            f"{pct(row['validity_rate'])} | {_num(row['ms_per_attack'])} | "
            f"{_num(row['ms_per_attack_without_importance'])} | {_num(row['queries_per_attack'], '.1f')} |"
        )
    for skip in result.get("skipped", []):
        lines.append(f"| `{skip['strategy']}` | {skip.get('family', '')} | 0 | skipped: {skip['reason']} | | | | |")
    lines += ["", f"ms / attack includes word importance ({result['importance_ms_per_text']:.0f} ms per text, "
                  "computed once per text and added to every strategy's attack on it). Machine: " + result["machine"]["note"] + "."]
    llm = result.get("llm")
    if llm and llm.get("texts"):
        lines += ["", f"`llm_rewrite` ran on the first {llm['texts']} texts only ({llm['backend']} backend, "
                      f"{llm['samples']} samples per call; model load {llm['load_s']:.1f} s not counted)."]
    thr = result.get("llm_throughput")
    if thr:
        lines += ["", f"LLM throughput (bench/llm_throughput.py, {thr['model']}): llama.cpp "
                      f"{thr['llama_cpp_tokens_per_s']:.1f} tokens/s vs transformers' GGUF loader "
                      f"{thr['transformers_tokens_per_s']:.1f} tokens/s on the same prompts: "
                      f"**{thr['ratio_tokens_per_s']:.2f}x**."]
    lines += ["", f"Reproduce: `{result['command']}`", ""]
    return "\n".join(lines)


def machine_note(threads: int) -> str:
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{os.cpu_count()} CPUs, torch {threads} threads, {platform.machine()}{load} at the end of the run"


def llm_throughput(out: Path) -> dict[str, Any] | None:
    path = out / "llm_throughput.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    try:
        return {
            "source": str(path),
            "model": data.get("model"),
            "llama_cpp_tokens_per_s": data["backends"]["llama_cpp"]["tokens_per_s"],
            "transformers_tokens_per_s": data["backends"]["transformers"]["tokens_per_s"],
            "ratio_tokens_per_s": data["ratio_llama_cpp_over_transformers"]["tokens_per_s"],
            "ratio_s_per_sample": data["ratio_llama_cpp_over_transformers"].get("s_per_sample_speedup"),
            "settings": data.get("settings"),
            "machine_note": data.get("machine_note"),
        }
    except (KeyError, TypeError):
        return {"source": str(path), "error": "unexpected format"}


# ============================================================================ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--model", help="a saved defender folder (Defender.load)")
    src.add_argument("--runs", default="runs/arena", help="registry folder; attacks its champion (default runs/arena)")
    ap.add_argument("--config", default="configs/default.yaml", help="validity limits, LLM backend, registry names")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--limit", type=int, default=None, help="attack a seeded sample of N flagged texts")
    ap.add_argument("--llm-limit", type=int, default=20, help="texts for llm_rewrite (first of the selection)")
    ap.add_argument("--no-llm", action="store_true", help="skip llm_rewrite")
    ap.add_argument("--llm-threads", type=int, default=None, help="CPU threads of the llama.cpp backend")
    ap.add_argument("--strategies", default="all", help="comma-separated names, or all (strategies and recipes)")
    ap.add_argument("--dataset", default="tweeteval_offensive")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be >= 1")

    import torch

    from arena.attack import list_strategies, validate, word_importance
    from arena.attack.pipeline import select_strategies, validity_rules
    from arena.attack.registry import get_strategy
    from arena.config import load_config
    from arena.errors import ConfigError
    from arena.progress import progress as progress_bar
    from arena.types import Candidate

    t_start = time.perf_counter()
    cfg = load_config(args.config)
    defender, source = load_defender(args, cfg)
    threshold = float(defender.spec.threshold)
    rules = validity_rules(cfg.attack)  # the attack pipeline's constraints (arena/attack/pipeline.py)

    infos = {i.name: i for i in list_strategies()}
    try:  # all = every strategy and recipe, the LLM family included (--no-llm skips it below)
        names = select_strategies(args.strategies, llm=True)
    except ConfigError as exc:
        ap.error(str(exc))
    llm_names = [n for n in names if "llm" in infos[n].families]

    texts, selection = select_texts(defender, args.dataset, threshold, args.limit, args.seed)
    if not texts:
        print("attack: the defender flags none of the toxic test texts: nothing to attack", file=sys.stderr)
        return 1
    print(f"attack: {len(texts)} texts ({selection['rule']}), {len(names)} strategies", flush=True)

    # warm-up outside the timings: the sentence model behind semantic validity, one defender call
    validate([Candidate(original="you are an idiot", text="you are a clown", strategy="emoji")], rules)
    defender.score(["warm up"])
    importances = []
    for _, text, _ in progress_bar(texts, desc="word importance", leave=False):
        t0 = time.perf_counter()
        imp = word_importance(text, defender, max_words=MAX_IMPORTANCE_WORDS)
        importances.append((imp, time.perf_counter() - t0))

    rows, skipped, llm_info = [], [], None
    for name in progress_bar(names, desc="strategies", leave=False):
        sub, sub_imp = texts, importances
        if name in llm_names:
            if args.no_llm:
                skipped.append({"strategy": name, "family": infos[name].family, "reason": "--no-llm"})
                continue
            try:
                strategy = build_llm_strategy(cfg, args.llm_threads)
                t0 = time.perf_counter()
                strategy.llm().generate(["Say hi."], n=1, temperature=0.0, max_tokens=2, seed=0, stop=["\n"])
                load_s = time.perf_counter() - t0
            except Exception as exc:  # no backend here: say so in the table instead of failing
                skipped.append({"strategy": name, "family": infos[name].family, "reason": f"backend unavailable ({exc})"})
                continue
            k = min(args.llm_limit, len(texts))
            sub, sub_imp = texts[:k], importances[:k]
            llm_info = {"texts": k, "backend": cfg.attack.llm.backend, "model": cfg.attack.llm.model,
                        "samples": max(cfg.attack.llm.samples, 3 * CANDIDATES),
                        "temperature": cfg.attack.llm.temperature, "max_tokens": cfg.attack.llm.max_tokens,
                        "load_s": load_s}
        else:
            strategy = get_strategy(name)
        rows.append(run_strategy(name, strategy, sub, sub_imp, args.seed, rules, defender, threshold))
    rows.sort(key=lambda r: (-(r["success_rate"] or 0.0), r["strategy"]))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = " ".join([".venv/bin/python", "bench/attack.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    result = {
        "benchmark": "attack",
        "command": command,
        "defender": source,
        "threshold": threshold,
        "selection": selection,
        "settings": {"seed": args.seed, "candidates_per_attack": CANDIDATES, "budget": "strategy default",
                     "max_importance_words": MAX_IMPORTANCE_WORDS, "validity": vars(rules), "config": args.config},
        "importance_ms_per_text": statistics.fmean(1000 * s for _, s in importances),
        "strategies": rows,
        "skipped": skipped,
        "llm": llm_info,
        "llm_throughput": llm_throughput(out),
        "machine": machine_info(note=machine_note(torch.get_num_threads())),
        "wall_s": time.perf_counter() - t_start,
    }
    (out / "attack.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    (out / "attack.md").write_text(markdown(result))

    rates = [r["success_rate"] for r in rows if r["strategy"] not in llm_names and r["success_rate"] is not None]
    top = rows[0] if rows else None
    llm_row = next((r for r in rows if r["strategy"] in llm_names), None)
    thr = result["llm_throughput"] or {}
    print(
        f"attack: {len(rows)} strategies on {len(texts)} flagged toxic test tweets; "
        + (f"best {top['strategy']} {pct(top['success_rate'])}, " if top else "")
        + (f"median {pct(statistics.median(rates))}; " if rates else "")
        + (f"llm_rewrite {llm_row['successes']}/{llm_row['texts']} (validity {pct(llm_row['validity_rate'])}); "
           if llm_row else "llm_rewrite skipped; ")
        + (f"llama.cpp/transformers {thr['ratio_tokens_per_s']:.2f}x tokens/s; " if "ratio_tokens_per_s" in thr else "")
        + f"{result['wall_s']:.0f}s -> {out / 'attack.json'}, {out / 'attack.md'}"
    )
    print(f"reproduce: {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
