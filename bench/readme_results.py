"""Render the README's results section from bench/results/*.json (only what was measured).

    .venv/bin/python bench/readme_results.py            # prints markdown
    .venv/bin/python bench/readme_results.py --write    # replaces the block between the markers in README.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RESULTS = Path("bench/results")
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _load(name: str) -> dict | None:
    f = RESULTS / name
    return json.loads(f.read_text()) if f.is_file() else None


def render() -> str:
    out: list[str] = []
    b = _load("baseline.json")
    if b:
        met_f1 = "met" if b["test_macro_f1"] >= 0.80 else "missed"
        met_t = "met" if b["train_wall_s"] <= 480 else "missed"
        load = b["machine"].get("load_avg_at_end")
        out += [
            "**Baseline defender** (`make baseline`: " f"`{b['command']}`)",
            "",
            "| metric | measured | target |",
            "| --- | --- | --- |",
            f"| test macro-F1 (TweetEval offensive, {b['n_test']} tweets) | {b['test_macro_f1']:.4f} | >= 0.80 ({met_f1}) |",
            f"| test accuracy / ROC-AUC | {b['test_accuracy']:.4f} / {b['test_roc_auc']:.4f} | |",
            f"| training wall time ({b['epochs_run']} epochs, best {b['best_epoch']}) | {b['train_wall_s']:.0f} s | <= 480 s ({met_t}) |",
            f"| inference (serving path, batch 128) | {b['inference_texts_per_s']:.0f} texts/s | |",
            "",
            f"Machine: {b['machine']['cpus']} cores, torch {b['machine']['torch']}; load average at the end "
            f"{', '.join(f'{x:.1f}' for x in load) if load else 'n/a'} (other jobs shared the 2 cores during this run, "
            "so the wall time is an upper bound).",
            "",
        ]
    llm = _load("llm_throughput.json")
    if llm:
        lc, tf = llm["backends"]["llama_cpp"], llm["backends"]["transformers"]
        out += [
            "**Attacker LLM** (`bench/llm_throughput.py`, SmolLM2-135M-Instruct Q4_1, 1 thread, shared machine)",
            "",
            "| backend | tokens/s | s/sample |",
            "| --- | --- | --- |",
            f"| llama.cpp (GGUF) | {lc['tokens_per_s']:.1f} | {lc['s_per_sample']:.2f} |",
            f"| transformers (GGUF dequantised) | {tf['tokens_per_s']:.1f} | {tf['s_per_sample']:.2f} |",
            f"| ratio llama.cpp / transformers | {lc['tokens_per_s'] / tf['tokens_per_s']:.1f}x | |",
            "",
        ]
    att = RESULTS / "attack.md"
    if att.is_file():
        out += ["**Attack strategies against the baseline champion** (`bench/attack.py`)", "", att.read_text().strip(), ""]
    h = _load("headline.json")
    if h:
        out += ["**Headline campaign** (`make headline`)", "", "```", json.dumps(h["checks"], indent=1), "```", ""]
    else:
        out += ["**Headline campaign** (`make headline`, 10 rounds of the default config): not measured yet.", ""]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    text = render()
    if not args.write:
        print(text)
        return 0
    readme = Path("README.md")
    s = readme.read_text()
    if BEGIN not in s or END not in s:
        print(f"README.md has no {BEGIN} ... {END} block", file=sys.stderr)
        return 1
    head, rest = s.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
    print("README.md results updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
