"""How much the canonicaliser changes clean text: share of word tokens changed, per step and in all.

    python bench/canonical_share.py --config configs/default.yaml --split val

Writes bench/results/canonical_share.json and prints one line per step. A refinement of another step
(``REFINES``: segment_joined, spell_swapped_case, spell_negative, merge_harmful, the five of
``edges_pieces`` and the two of ``leet_rare``) is measured as what it changes in that step's output; the
steps added together (``GROUPS``: ``refinements``, the three spelling refinements; ``sound_glue``,
merge_harmful + split_merged + phonetic; ``edges_pieces``, join_edges + deobfuscate_pieces + leet_at +
spell_pieces + phonetic_listed; ``leet_rare``, leet_spell + deobfuscate_listed) as what they change in the
whole pipeline's output. ``--split train`` writes canonical_share_train.json. (Clean macro-F1 with the canonicaliser on and off needs two trained
baselines: ``bench/baseline.py --set defender.canonicalizer.enabled=false``.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: Steps added together (a7ab2b5; e3d246d; 2e33149; 63981b4), measured as what they change inside the whole pipeline.
GROUPS = {"refinements": ("segment_joined", "spell_swapped_case", "spell_negative"),
          "sound_glue": ("merge_harmful", "split_merged", "phonetic"),
          "edges_pieces": ("join_edges", "deobfuscate_pieces", "leet_at", "spell_pieces", "phonetic_listed"),
          "leet_rare": ("leet_spell", "deobfuscate_listed")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--split", default="val", choices=["train", "val", "test"])
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()

    from arena.baseline import load_splits
    from arena.config import load_config
    from arena.defend.canonical import REFINES, STEPS, Canonicalizer, changed_token_share

    cfg = load_config(args.config)
    texts = load_splits(cfg)[args.split].texts
    rows = {}
    for step in STEPS:
        if step in REFINES:  # a refinement: what it changes in its parent step's output
            parent = REFINES[step]
            ref = Canonicalizer(**{k: k == parent for k in STEPS}).many(texts)
            out = Canonicalizer(**{k: k in (parent, step) for k in STEPS}).many(texts)
        else:
            ref, out = texts, Canonicalizer(**{k: k == step for k in STEPS}).many(texts)
        rows[step] = {"changed_token_share": changed_token_share(ref, out),
                      "texts_changed": sum(a != b for a, b in zip(ref, out, strict=True))}
    full = Canonicalizer().many(texts)
    # steps added together, inside the whole pipeline: what they change in what the model reads
    for name, group in GROUPS.items():
        without = Canonicalizer(**{k: k not in group for k in STEPS}).many(texts)
        rows[name] = {"changed_token_share": changed_token_share(without, full),
                      "texts_changed": sum(a != b for a, b in zip(without, full, strict=True))}
    rows["all"] = {"changed_token_share": changed_token_share(texts, full),
                   "texts_changed": sum(a != b for a, b in zip(texts, full, strict=True))}
    result = {"dataset": cfg.data.dataset, "split": args.split, "texts": len(texts), "steps": rows,
              "command": "python bench/canonical_share.py " + " ".join(sys.argv[1:])}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    name = "canonical_share.json" if args.split == "val" else f"canonical_share_{args.split}.json"
    (Path(args.out) / name).write_text(json.dumps(result, indent=2))
    for k, v in rows.items():
        print(f"{k:15s} {100 * v['changed_token_share']:6.3f}% of tokens  {v['texts_changed']:4d} texts")
    print(f"canonical_share: {100 * rows['all']['changed_token_share']:.2f}% of {args.split} tokens changed "
          f"({rows['all']['texts_changed']}/{len(texts)} texts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
