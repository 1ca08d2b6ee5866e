"""Spelt-out phrases against a canonicaliser version: do common two-word phrases, letter by letter, still
read as the words they are?

    .venv/bin/python bench/spelt_pairs.py --against b6b5887

For each ordered pair of the ``--words`` commonest English words (wordfreq's list, letters only), the
text ``"<w1w2 spaced letter by letter> here"`` (``t h e a t here``) is read three ways: by HEAD's
canonicaliser with ``spaced_runs`` off, with it on, and by the canonicaliser of ``--against`` (its
``arena/defend/canonical.py`` from git, everything on). Counts the texts each reading changes against
the flag-off reading (b6b5887, the first ``spaced_runs``, read ``t h e a t`` as ``threat``), prints a
few, appends one JSON row to ``--out``. Pure string work, no model; a few seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", required=True, metavar="COMMIT", help="the canonicaliser version to compare")
    ap.add_argument("--words", type=int, default=130, help="how many of the commonest English words")
    ap.add_argument("--examples", type=int, default=6)
    ap.add_argument("--out", default="bench/results/spelt_pairs.jsonl")
    args = ap.parse_args()

    from wordfreq import top_n_list

    from arena.defend.canonical import Canonicalizer

    try:
        source = subprocess.run(["git", "show", f"{args.against}:arena/defend/canonical.py"], check=True,
                                capture_output=True, text=True).stdout
    except subprocess.CalledProcessError as e:
        print(f"error: git show {args.against}:arena/defend/canonical.py failed: {e.stderr.strip()}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "canonical_other.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location("arena.defend.canonical_other", path)
        other = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(other)

    words = [w for w in top_n_list("en", 4 * args.words) if w.isalpha() and w.isascii()][:args.words]
    off, on, against = Canonicalizer(spaced_runs=False), Canonicalizer(), other.Canonicalizer()
    n = changed_on = changed_against = 0
    examples: list[dict[str, str]] = []
    for a in words:
        for b in words:
            text = " ".join(a + b) + " here"
            base = off(text)
            n += 1
            changed_on += on(text) != base
            if (read := against(text)) != base:
                changed_against += 1
                if len(examples) < args.examples:
                    examples.append({"text": text, "off": base, args.against: read})
    for e in examples:
        print(f"  {e['text']!r}: {e['off']!r} -> {e[args.against]!r}")
    row = {"benchmark": "spelt_pairs", "command": " ".join(["python", *sys.argv]), "words": len(words),
           "texts": n, "changed_head": changed_on, "changed_against": changed_against, "against": args.against,
           "examples": examples}
    with open(args.out, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    print(f"spelt_pairs: {n} spelt-out pairs of the {len(words)} commonest words; spaced_runs at HEAD reads "
          f"{changed_on} differently, at {args.against} {changed_against}; {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
