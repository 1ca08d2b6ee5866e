"""Render the results from bench/results/*.json (only what was measured): every table goes to
docs/results.md; the README keeps the headline curve, its targets and the baseline's short table.

    .venv/bin/python bench/readme_results.py            # prints docs/results.md's block
    .venv/bin/python bench/readme_results.py --write    # replaces the blocks between the markers in
                                                        # docs/results.md and README.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_avg, pct  # noqa: E402

RESULTS = Path("bench/results")
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _load(name: str) -> dict | None:
    f = RESULTS / name
    return json.loads(f.read_text()) if f.is_file() else None


def render(img_prefix: str = "../") -> str:
    """Every table (docs/results.md); ``img_prefix`` leads from the page to the repository root."""
    out: list[str] = []
    b = _load("baseline.json")
    if b:
        met_f1 = "met" if b["test_macro_f1"] >= 0.80 else "missed"
        met_t = "met" if b["train_wall_s"] <= 480 else "missed"
        load = load_avg(b)
        out += [
            "**Baseline defender** (`make baseline`: " f"`{b['command']}`)",
            "",
            "| metric | measured | target |",
            "| --- | --- | --- |",
            f"| test macro-F1 (TweetEval offensive, {b['n_test']} tweets) | {b['test_macro_f1']:.4f} | >= 0.80 ({met_f1}) |",
            f"| test accuracy / ROC-AUC | {b['test_accuracy']:.4f} / {b['test_roc_auc']:.4f} | |",
            *([f"| decision threshold (chosen on val macro-F1) / test macro-F1 at 0.5 | {b['threshold']:.2f} / "
               f"{b['test_macro_f1_at_0_5']:.4f} | |"] if b.get("threshold") is not None else []),
            f"| training wall time ({b['epochs_run']} epoch{'s' if b['epochs_run'] != 1 else ''}, best {b['best_epoch']}) | {b['train_wall_s']:.0f} s | <= 480 s ({met_t}) |",
            *([f"| training CPU time (process, both cores) | {b['train_cpu_s']:.0f} s | |"] if b.get("train_cpu_s") else []),
            f"| inference (serving path, batch 128) | {b['inference_texts_per_s']:.0f} texts/s | |",
            "",
            f"Machine: {b['machine']['cpus']} cores, torch {b['machine']['torch']}; load average at the end "
            f"{', '.join(f'{x:.1f}' for x in load) if load else 'n/a'} (other jobs shared the 2 cores during this run, "
            "so the wall time is an upper bound).",
            "",
        ]
    inf = _load("inference.json")
    if inf:
        m = inf["methods"]
        load = load_avg(inf)
        rows = [f"| `{k}` | {v['texts_per_s_best']:.1f} | {v['texts_per_s_best'] / m['pipeline_bs1']['texts_per_s_best']:.2f}x "
                f"| {v['achieved_gflops_best']:.1f} | {100 * v['fraction_of_gemm_peak_best']:.0f}% | {v['agreement_with_serving']:.4f} |"
                for k, v in m.items()]
        out += [
            f"**Defender inference** (`{inf['command']}`; {inf['texts']} test tweets, same model and process; "
            f"fp32 GEMM peak measured {inf['gemm_peak']['gflops_used']:.1f} GFLOP/s; load average at the end "
            f"{', '.join(f'{x:.1f}' for x in load) if load else 'n/a'})",
            "",
            "| method | texts/s (best) | vs naive pipeline | achieved GFLOP/s | of GEMM peak | agreement with serving |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
        ]
    loads = [x for x in (_load("serve_load.json"), _load("serve_load_8texts.json")) if x]
    if loads:
        rows = []
        for sl in loads:
            for r in sl["results"]:
                mode = {"batching_on": f"batching on ({r['max_batch_size']}, {1000 * r['batch_wait_timeout_s']:.0f} ms)",
                        "batching_off": "batching off",
                        "serve_ceiling": "Serve alone (constant scores, no model)"}.get(r["mode"], r["mode"])
                rows.append(f"| {sl['texts_per_request']} | {mode} | {r.get('runtime') or ''} | {r['texts_per_s']} | "
                            f"{r['requests_per_s']} | {r['p50_ms']:.0f} ms | {r['p99_ms']:.0f} ms | {r['errors']} | "
                            f"{r['mean_batch_size'] if r['mean_batch_size'] is not None else ''} |")
        first = loads[0]
        out += [
            f"**Serve load** (`POST /api/v1/moderate`, {first['clients']} concurrent clients, "
            f"{first['duration_s_per_mode']:.0f} s per mode; defender 1 replica, {first.get('threads')} threads; "
            + "; ".join(f"`{sl['command']}`, 1-min load average at the end {(load_avg(sl) or ['n/a'])[0]}, the "
                        "benchmark's own processes included" for sl in loads if sl.get("command"))
            + "). Target on 2 cores: >= 120 texts/s, p99 <= 250 ms, 0 errors: **missed**; the measured bounds "
            "(model FLOPs vs this CPU's GEMM peak, Serve alone) are in [docs/ray.md](docs/ray.md#benchmark-benchserve_loadpy).",
            "",
            "| texts/request | mode | runtime | texts/s | requests/s | p50 | p99 | errors | mean defender batch |",
            "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
        ]
    llm = _load("llm_throughput.json")
    if llm:
        lc, tf = llm["backends"]["llama_cpp"], llm["backends"]["transformers"]
        out += [
            f"**Attacker LLM** (`{llm['command']}`, SmolLM2-135M-Instruct Q4_1, {llm['settings']['threads']} "
            f"thread(s){'; load average at the end ' + ', '.join(map(str, load_avg(llm))) if load_avg(llm) else ''}"
            f"{'; ' + llm['machine_note'] if llm.get('machine_note') else ''})",
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
    rob = RESULTS / "robustness.md"
    rb = _load("robustness.json")
    if rob.is_file() and rb:
        out += [f"**Robustness: our champions vs peer tools** (`{rb['benchmark']['command']}`, "
                f"{rb['benchmark']['wall_s']:.0f} s)", "", rob.read_text().strip(), ""]
    out += _headline_or_missing(img_prefix)
    return "\n".join(out)


def render_readme() -> str:
    """The README's block: the headline curve and its targets, the baseline in one line, a link."""
    out = _headline_or_missing("")
    b = _load("baseline.json")
    if b:
        out += [f"**Baseline defender** (`make baseline`): test macro-F1 {b['test_macro_f1']:.4f} on TweetEval offensive "
                f"(target >= 0.80: {'met' if b['test_macro_f1'] >= 0.80 else 'missed'}), {b['train_wall_s']:.0f} s "
                f"of training.", ""]
    out += ["Every other table (baseline in full, defender inference vs `transformers.pipeline` and ONNX, Serve load, "
            "the attacker LLM's throughput, each attack strategy against the baseline, robustness against peer tools), "
            "with the command that measured it: [docs/results.md](docs/results.md).", ""]
    return "\n".join(out)


def _headline_or_missing(img_prefix: str) -> list[str]:
    h = _load("headline.json")
    if h:
        return _headline(h, img_prefix)
    return ["**Headline campaign** (`make headline`, 10 rounds of the default config): not measured yet.", ""]


def _headline(h: dict, img_prefix: str = "") -> list[str]:
    c = h["checks"]
    mark = {True: "met", False: "MISSED"}
    n = h["rounds"]
    out = [
        f"**Headline campaign** (`{h['command']}`: the default config, {n} rounds, campaign `{h['campaign_id']}`)",
        "",
        f"![frozen, live and held-out detection by round]({img_prefix}bench/results/headline_detection.png)",
        "",
        "| round | " + " | ".join(str(i) for i in range(n + 1)) + " |",
        "| --- | " + " | ".join("---:" for _ in range(n + 1)) + " |",
        "| frozen-suite detection | " + " | ".join(pct(x, 2) for x in h["frozen_detection"]) + " |",
        "| held-out family detection | " + " | ".join(pct(x) for x in h["heldout_strategy_detection"]) + " |",
        "| live attack success | " + " | ".join(pct(x) for x in h["live_attack_success"]) + " |",
        *(["| live: trained strategies, success (attacks) | " + " | ".join(
            "" if x is None else f"{pct(x)} ({k})" for x, k in zip(h["live_split"]["trained_success"],
                                                                 h["live_split"]["trained_attacks"], strict=True)) + " |",
           "| live: held-out family, success (attacks) | " + " | ".join(
            "" if x is None else f"{pct(x)} ({k})" for x, k in zip(h["live_split"]["heldout_success"],
                                                                 h["live_split"]["heldout_attacks"], strict=True)) + " |"]
          if h.get("live_split") else []),
        "| clean macro-F1 | " + " | ".join(f"{x:.3f}" for x in h["clean_macro_f1"]) + " |",
        "| benign-perturbed FPR | " + " | ".join(pct(x) for x in h["benign_perturbed_fpr"]) + " |",
        "| challenger promoted | " + " | ".join("yes" if x else "" for x in h["promoted"]) + " |",
        *(["| champion's threshold (chosen on val) | " + " | ".join(f"{x:.2f}" for x in h["threshold"]) + " |"]
          if h.get("threshold") and None not in h["threshold"] else []),
        *(["| challenger: detection gain / clean F1 / FPR vs champion (points) | " + " | ".join(
            "" if not g else f"{100 * g['detection_gain']:+.1f} / {100 * g['clean_f1_delta']:+.1f} / "
            f"{100 * g['fpr_delta']:+.1f}" for g in h["gate"]) + " |"] if h.get("gate") else []),
        "",
        "| target | measured | |",
        "| --- | --- | --- |",
        f"| round-0 frozen detection <= 70% | {pct(h['frozen_detection'][0])} | {mark[c['round0_frozen_le_70']]} |",
        f"| frozen detection >= 95% within 10 rounds | best {pct(max(h['frozen_detection']), 2)}"
        f"{'' if h['first_round_ge_95'] is None else ', first at round ' + str(h['first_round_ge_95'])} "
        f"| {mark[c['frozen_ge_95_within_10']]} |",
        f"| clean macro-F1 never > 1 point below round 0 | worst {h['worst_clean_f1_delta'] * 100:+.2f} points "
        f"| {mark[c['clean_f1_within_1pt']]} |",
        f"| benign-perturbed FPR rise <= 2 points | max {h['max_fpr_rise'] * 100:+.2f} points | {mark[c['fpr_rise_le_2pt']]} |",
        *([f"| promotions >= 3, on a rising curve | {sum(bool(x) for x in h['promoted'])} | "
           f"{mark[c['promotions_ge_3']]} |",
           f"| live attack success, last round <= half of round 1 | {pct(h['live_attack_success'][1])} -> "
           f"{pct(h['live_attack_success'][-1])} | {mark[c['live_success_last_le_half_round1']]} |",
           f"| held-out family detection >= 85% in the last round | {pct(h['heldout_strategy_detection'][-1])} | "
           f"{mark[c['heldout_last_ge_85']]} |"] if "promotions_ge_3" in c and n >= 1 else []),
        f"| 10 rounds <= 30 min on 2 cores | rounds 1..{n}: {h['wall_s_rounds_1_to_n'] / 60:.1f} min; with round 0"
        + (f" and the setup (pools, suites: {h['setup_s'] / 60:.1f} min)" if h.get("setup_s") is not None else "")
        + f": {h.get('wall_s_all', 0) / 60:.1f} min | {mark[c['ten_rounds_le_30min']]} |",
        "",
    ]
    bd = h.get("round_breakdown")
    if bd:
        mean = bd["mean_rounds_1_to_n"]
        keys = [k for k in ("evaluate_s", "attack_s", "retrain_s", "select_s", "gate_s", "other_s") if k in mean]
        out += ["Mean wall time of one round (rounds 1..N): "
                + ", ".join(f"{k[:-2]} {mean[k]:.0f} s" for k in keys)
                + f" (total {mean.get('wall_s', 0):.0f} s; per-round rows in `bench/results/headline.json`).", ""]
    return out


RESULTS_PAGE_HEAD = """# Results

Every benchmark of the project, generated by `bench/readme_results.py --write` from the JSON under
`bench/results/` (`make bench` reruns them; the README keeps the headline curve). Each table names
the command that measured it.

"""


def _replace_block(path: Path, text: str, create_with: str | None = None) -> None:
    if not path.is_file() and create_with is not None:
        path.write_text(f"{create_with}{BEGIN}\n{END}\n")
    s = path.read_text()
    if BEGIN not in s or END not in s:
        raise SystemExit(f"error: {path} has no {BEGIN} ... {END} block")
    head, rest = s.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
    print(f"{path} results updated")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if not args.write:
        print(render())
        return 0
    _replace_block(Path("docs/results.md"), render(), create_with=RESULTS_PAGE_HEAD)
    _replace_block(Path("README.md"), render_readme())
    return 0


if __name__ == "__main__":
    sys.exit(main())
