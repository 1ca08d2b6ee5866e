"""Campaign report: ``arena report OUT`` -> OUT/report.html + PNG charts, from OUT/summary.json only.

Charts: detection curves (frozen suite, live, held-out family) with promotions marked;
per-strategy frozen detection by round as a heat map; clean macro-F1 and benign-perturbed FPR
by round. The HTML embeds the PNGs by relative path and lists every round's gate decision.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from arena.errors import ArenaError


def _load(out: Path) -> dict[str, Any]:
    f = out / "summary.json"
    if not f.is_file():
        raise ArenaError(f"{f} not found: run `arena campaign --out {out}` first")
    try:
        summary = json.loads(f.read_text())
    except json.JSONDecodeError as exc:
        raise ArenaError(f"{f}: not valid JSON ({exc})") from None
    if not summary.get("rounds"):
        raise ArenaError(f"{f}: no completed round yet")
    return summary


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def plot(summary: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rounds = summary["rounds"]
    xs = [r["round"] for r in rounds]
    promoted = [r["round"] + 1 for r in rounds if r.get("promoted")]
    paths = []

    def mark(ax) -> None:
        for i, p in enumerate(promoted):
            ax.axvline(p - 0.5, color="tab:green", alpha=0.25, lw=2, label="promotion" if i == 0 else None)

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ax.plot(xs, [r["frozen_detection"] for r in rounds], "o-", label="frozen suite (trained families)")
    held = [r.get("heldout_strategy_detection") for r in rounds]
    if any(h is not None for h in held):
        ax.plot(xs, [np.nan if h is None else h for h in held], "s--", label="held-out family (never trained)")
    live = [r.get("live_attack_success") for r in rounds]
    ax.plot(xs, [np.nan if v is None else 1 - v for v in live], "^:", label="live adaptive attacks")
    mark(ax)
    ax.set_xlabel("round")
    ax.set_ylabel("detection rate of attacked toxic texts")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(xs)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Detection under attack, by round")
    fig.tight_layout()
    paths.append(out / "detection.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    names = sorted({n for r in rounds for n in r["per_strategy_detection"]})
    grid = np.array([[r["per_strategy_detection"].get(n, np.nan) for r in rounds] for n in names])
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(xs) + 3), 0.32 * len(names) + 1.5))
    im = ax.imshow(grid, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1)
    ax.set_yticks(range(len(names)))
    held_names = set(summary.get("heldout_strategies", []))
    ax.set_yticklabels([f"{n} (held out)" if n in held_names else n for n in names], fontsize=8)
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels(xs)
    ax.set_xlabel("round")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{100 * grid[i, j]:.0f}", ha="center", va="center", fontsize=6)
    fig.colorbar(im, ax=ax, label="frozen-suite detection")
    ax.set_title("Detection per strategy (frozen suite)")
    fig.tight_layout()
    paths.append(out / "per_strategy.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    fig, ax1 = plt.subplots(figsize=(7.5, 3.8))
    ax1.plot(xs, [r["clean_macro_f1"] for r in rounds], "o-", color="tab:blue", label="clean macro-F1")
    base = rounds[0]["clean_macro_f1"]
    ax1.axhline(base - 0.01, color="tab:blue", ls=":", alpha=0.6, label="round 0 - 1 point")
    ax1.set_ylabel("clean macro-F1", color="tab:blue")
    ax2 = ax1.twinx()
    ax2.plot(xs, [r["benign_perturbed_fpr"] for r in rounds], "s-", color="tab:red", label="benign-perturbed FPR")
    ax2.axhline(rounds[0]["benign_perturbed_fpr"] + 0.02, color="tab:red", ls=":", alpha=0.6,
                label="round 0 + 2 points")
    ax2.set_ylabel("benign-perturbed FPR", color="tab:red")
    mark(ax1)
    ax1.set_xlabel("round")
    ax1.set_xticks(xs)
    lines = ax1.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax1.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="lower left")
    ax1.set_title("Clean accuracy and shortcut check, by round")
    fig.tight_layout()
    paths.append(out / "clean_fpr.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


def write_report(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    summary = _load(out)
    pngs = plot(summary, out)
    rounds = summary["rounds"]
    first, last = rounds[0], rounds[-1]
    rows = []
    for r in rounds:
        g = r.get("gate")
        if g:
            decision = ("promoted" if r["promoted"] else "rejected") + (
                f" v{g['challenger_version']}: gain {g['detection_gain']:+.3f} "
                f"[{g['ci_low']:+.3f}, {g['ci_high']:+.3f}], F1 {g['clean_f1_delta']:+.4f}, FPR {g['fpr_delta']:+.4f}"
            )
            if g.get("reasons"):
                decision += " — " + "; ".join(g["reasons"])
        else:
            decision = "no retrain"
        rows.append(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in (
                r["round"], f"v{r['champion_version']}", _pct(r["frozen_detection"]),
                _pct(r.get("heldout_strategy_detection")),
                _pct(None if r.get("live_attack_success") is None else 1 - r["live_attack_success"]),
                f"{r['clean_macro_f1']:.4f}", _pct(r["benign_perturbed_fpr"]), f"{r['wall_s']:.0f}s", decision,
            )) + "</tr>"
        )
    cfg = summary.get("config", {})
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Content Arena — {html.escape(summary['campaign_id'])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:last-child{{text-align:left}}img{{max-width:100%;margin:1em 0}}code{{background:#f4f4f4;padding:1px 4px}}</style></head><body>
<h1>Content Arena campaign <code>{html.escape(summary['campaign_id'])}</code></h1>
<p>Frozen-suite detection (trained strategy families) went from <b>{_pct(first['frozen_detection'])}</b> in round 0 to
<b>{_pct(last['frozen_detection'])}</b> in round {last['round']}; held-out family
({html.escape(', '.join(summary.get('heldout_strategies', [])) or 'none')}): {_pct(first.get('heldout_strategy_detection'))}
→ {_pct(last.get('heldout_strategy_detection'))}. Clean macro-F1 {first['clean_macro_f1']:.4f} → {last['clean_macro_f1']:.4f};
benign-perturbed FPR {_pct(first['benign_perturbed_fpr'])} → {_pct(last['benign_perturbed_fpr'])}.</p>
<p>Dataset <code>{html.escape(str(cfg.get('data', {}).get('dataset')))}</code>; frozen suite of {summary.get('frozen_suite_size')} attacks
over {summary.get('pools', {}).get('eval')} toxic test texts the round-0 champion flags; benign suite of
{summary.get('benign_suite_size')} perturbed non-toxic test texts. Training data come only from the train split.</p>
{''.join(f'<img src="{p.name}" alt="{p.stem}">' for p in pngs)}
<h2>Rounds</h2><table><tr><th>round</th><th>champion</th><th>frozen</th><th>held-out</th><th>live</th>
<th>clean F1</th><th>benign FPR</th><th>wall</th><th>gate</th></tr>{''.join(rows)}</table>
<p>Generated from <code>summary.json</code> by <code>arena report</code>.</p></body></html>"""
    target = out / "report.html"
    target.write_text(page, encoding="utf-8")
    return target
