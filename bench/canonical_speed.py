"""How long the canonicaliser takes to read a campaign's attacked texts, cold (fresh process, empty caches).

    .venv/bin/python bench/canonical_speed.py --run runs/headline

Reads every distinct attacked text in RUN/records (all pools, all rounds), reads each once through
``Canonicalizer()`` (every step on, as a new baseline ships it) after one warm-up call that loads the
lexicons, and prints the wall time and a hash of the output (equal hashes: identical readings, e.g.
before and after a change that should only be faster). Appends one JSON row to ``--out``. No model,
no training; run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a campaign folder with records/")
    ap.add_argument("--out", default="bench/results/canonical_speed.jsonl")
    args = ap.parse_args()
    from arena.defend.canonical import Canonicalizer
    from arena.records import RecordStore

    store = RecordStore(args.run)
    if not store.root.is_dir():
        print(f"error: {store.root} not found: run a campaign first", file=sys.stderr)
        return 2
    texts = sorted({t for t in store.read(complete_only=False)["attacked"].to_pylist() if t})  # order-free hash
    canon = Canonicalizer()
    canon("warm up the lexicons: sh*t 1d10t Id1otz ug1ier")
    t0 = time.perf_counter()
    out = [canon(t) for t in texts]
    wall = time.perf_counter() - t0
    digest = hashlib.sha256("\n".join(out).encode()).hexdigest()[:16]
    row = {"run": args.run, "texts": len(texts), "wall_s": round(wall, 2), "output_sha256_16": digest,
           "command": "python bench/canonical_speed.py " + " ".join(sys.argv[1:])}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(f"canonical_speed: {len(texts)} attacked texts read in {wall:.1f} s cold (output {digest}); {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
