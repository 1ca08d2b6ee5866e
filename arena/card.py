"""A robustness card: one self-contained HTML page from an :func:`arena.evaluate.run_eval` result.

    arena eval --model hf:/models/mine --data jigsaw_sample --attack all --out eval.json --html card.html

It shows, per model, the clean metrics, detection and false-positive rate under every attack
strategy (the clean rate on the same texts beside it), the strategies that hurt most, and example
evasions (toxic texts the model flagged that it misses once attacked). No JavaScript and no
external resources: the page opens offline and can be attached to a review.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from arena.records import atomic_write_text

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0}td,th{padding:.25em .6em;border:1px solid #ddd;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}.muted{color:#777}.ex td{text-align:left;vertical-align:top}
.bad{background:#f8d0cc}.warn{background:#fbe9c6}.ok{background:#d9f0d3}code{background:#f4f4f4;padding:0 .2em}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _cls(detection: float | None) -> str:
    if detection is None:
        return ""
    return "ok" if detection >= 0.9 else "warn" if detection >= 0.7 else "bad"


def worst_strategies(model: dict[str, Any], k: int = 5) -> list[tuple[str, dict[str, Any]]]:
    """The ``k`` strategies with the lowest detection of attacked toxic texts (ties: higher evasion rate)."""
    per = (model.get("attacked") or {}).get("per_strategy", {})
    rows = [(n, c) for n, c in per.items() if c.get("detection") is not None]
    rows.sort(key=lambda nc: (nc[1]["detection"], -(nc[1].get("evasion_rate") or 0.0)))
    return rows[:k]


def render_card(result: dict[str, Any], max_examples: int = 12) -> str:
    d = result["data"]
    models = result["models"]
    attack = result.get("attack")
    where = d["source"] + (f" [{d['split']}]" if d.get("split") else "")
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Robustness card: "
             f"{_e(', '.join(m['label'] for m in models))}</title><style>{_CSS}</style></head><body>",
             f"<h1>Robustness card</h1><p class=muted>{_e(where)}: {d['n']} texts ({d['n_toxic']} toxic)"
             + (f", a stratified sample of {d['n_total']} (seed {d['seed']})" if d["n"] < d["n_total"] else "")
             + f"; created {_e(result.get('created', ''))}; Content Arena <code>arena eval</code></p>"]

    parts.append("<h2>Clean text</h2><table><tr><th class=l>model</th><th>threshold</th><th>macro-F1</th>"
                 "<th>accuracy</th><th>ROC-AUC</th><th>toxic precision / recall</th></tr>")
    for m in models:
        c = m["clean"]
        t = c["per_class"]["toxic"]
        auc = "n/a" if c.get("roc_auc") is None else f"{c['roc_auc']:.3f}"
        parts.append(f"<tr><td class=l>{_e(m['label'])} <span class=muted>({_e(m['kind'])})</span></td>"
                     f"<td>{m['threshold']:.2f}</td><td>{c['macro_f1']:.3f}</td><td>{c['accuracy']:.3f}</td>"
                     f"<td>{auc}</td><td>{t['precision']:.3f} / {t['recall']:.3f}</td></tr>")
    parts.append("</table>")

    if attack:
        parts.append(f"<h2>Under attack</h2><p class=muted>Each strategy applied once per text, untargeted, seed "
                     f"{attack['seed']}. Detection: attacked toxic texts flagged (clean rate on the same texts in "
                     f"brackets). Evasion: of the toxic texts flagged clean, the share missed once attacked. FPR: "
                     f"attacked non-toxic texts flagged.</p>")
        head = "".join(f"<th>{_e(m['label'])}<br>detection</th><th>evasion</th><th>FPR</th>" for m in models)
        parts.append(f"<table><tr><th class=l>strategy</th><th class=l>family</th><th>changed toxic / not</th>{head}</tr>")
        for name in [*attack["strategies"], "overall"]:
            cells = [m["attacked"]["overall"] if name == "overall" else m["attacked"]["per_strategy"][name]
                     for m in models]
            fam = "" if name == "overall" else attack["per_strategy"][name]["family"]
            row = (f"<tr><td class=l>{'<b>overall</b>' if name == 'overall' else _e(name)}</td><td class=l>{_e(fam)}</td>"
                   f"<td>{cells[0]['changed_toxic']} / {cells[0]['changed_not_toxic']}</td>")
            for c in cells:
                row += (f"<td class={_cls(c['detection'])}>{_pct(c['detection'])} "
                        f"<span class=muted>({_pct(c['clean_detection'])})</span></td>"
                        f"<td>{_pct(c['evasion_rate'])}</td><td>{_pct(c['fpr'])}</td>")
            parts.append(row + "</tr>")
        parts.append("</table>")

        parts.append("<h2>Worst strategies</h2>")
        for m in models:
            worst = worst_strategies(m)
            items = "".join(f"<li><b>{_e(n)}</b>: detection {_pct(c['detection'])}, evasion {_pct(c['evasion_rate'])}"
                            f" of flagged texts</li>" for n, c in worst)
            parts.append(f"<p>{_e(m['label'])}</p><ol>{items or '<li>none measured</li>'}</ol>")

        parts.append("<h2>Example evasions</h2>")
        for m in models:
            ex = (m["attacked"].get("evasions") or [])[:max_examples]
            parts.append(f"<p>{_e(m['label'])}: {len(m['attacked'].get('evasions') or [])} shown of the evasions "
                         f"found (at most 3 per strategy, most confident misses first)</p>")
            if not ex:
                parts.append("<p class=muted>no evasion: every toxic text it flagged stayed flagged</p>")
                continue
            parts.append("<table class=ex><tr><th class=l>strategy</th><th class=l>original</th>"
                         "<th class=l>attacked</th><th>P(toxic) clean -> attacked</th></tr>")
            for x in ex:
                parts.append(f"<tr><td>{_e(x['strategy'])}</td><td>{_e(x['original'])}</td><td>{_e(x['attacked'])}</td>"
                             f"<td>{x['clean_score']:.3f} -> {x['attacked_score']:.3f}</td></tr>")
            parts.append("</table>")
    else:
        parts.append("<p class=muted>No attacks were run (pass <code>--attack all</code>).</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_card(result: dict[str, Any], path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, render_card(result))
    return path
