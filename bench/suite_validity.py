"""Re-check a finished campaign's frozen suite with today's validity rules (no model, no training).

    .venv/bin/python bench/suite_validity.py --run runs/headline-eab18f7 [--out bench/results]

For every attempt of a strategy that draws only on the ``unicode`` family (attacks meant to render
exactly as the original: homoglyph, invisible, bidi, diacritics and their recipes), it reports
whether what a reader sees still equals the original (visible skeleton, display order by UAX #9,
arena/attack/constraints.py) and whether the attempt is still within the run's ``attack.max_edit_ratio``. A run made before a
change to the validity rules (a6ef64e: UAX #9 display order instead of reversing each bidi override
alone) shows how many of its suite items that change would have judged differently.
Writes ``suite_validity.json`` and prints a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a campaign folder (its state.json holds the frozen suite)")
    ap.add_argument("--out", default="bench/results", help="folder for suite_validity.json")
    args = ap.parse_args()
    state_file = Path(args.run) / "state.json"
    if not state_file.is_file():
        print(f"error: {state_file} not found: --run must be a campaign folder", file=sys.stderr)
        return 2
    from arena.attack import visible_skeleton
    from arena.attack.constraints import edit_ratio
    from arena.attack.registry import info

    state = json.loads(state_file.read_text())
    summary = Path(args.run) / "summary.json"
    cfg = json.loads(summary.read_text()).get("config", {}) if summary.is_file() else {}
    max_edit = float((cfg.get("attack") or {}).get("max_edit_ratio", 0.35))
    items, changed, invalid = Counter(), Counter(), Counter()
    for x in state["frozen"]:
        name = x["strategy"]
        try:
            families = info(name).families
        except Exception:  # a strategy this checkout no longer has: not judged
            continue
        if families != {"unicode"}:
            continue
        items[name] += 1
        if visible_skeleton(x["attacked"]) != visible_skeleton(x["original"]):
            changed[name] += 1
        if edit_ratio(x["original"], x["attacked"]) > max_edit:
            invalid[name] += 1
    rows = {name: {"items": n, "display_differs": changed[name], "invalid_now": invalid[name]}
            for name, n in sorted(items.items())}
    result = {"benchmark": "suite_validity", "run": args.run, "max_edit_ratio": max_edit, "strategies": rows,
              "command": "python bench/suite_validity.py " + " ".join(sys.argv[1:]), "machine": machine_info()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "suite_validity.json").write_text(json.dumps(result, indent=2))
    shown = ", ".join(f"{k} {v['display_differs']}/{v['items']} ({v['invalid_now']} invalid)"
                      for k, v in rows.items() if v["display_differs"])
    print(f"suite_validity: {args.run}: attempts whose display now differs from the original: {shown or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
