"""Val-probe numbers of weight blends between a campaign's champion and a trained challenger (no training).

    .venv/bin/python bench/blend_probe.py --run runs/headline --champion 1 --trained 2 --alphas 1 0.5 0.3 0

For each alpha, the challenger's folder (its rules) with every saved tensor set to
``(1 - alpha) * champion + alpha * trained`` (Services.blend_challenger's rule), scored on the campaign's
val probe (state.json ``val_probe``: val texts only) at its threshold: detection of attacked toxic
texts, FPR on perturbed non-toxic ones, clean macro-F1, each minus the champion's. alpha 1 is the
trained challenger, alpha 0 its rules on the champion's weights. Appends a JSON row to --out.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--champion", required=True, help="registered version of the champion")
    ap.add_argument("--trained", required=True, help="registered version trained from it")
    ap.add_argument("--alphas", nargs="+", type=float, default=[1.0, 0.5, 0.3, 0.0])
    ap.add_argument("--out", default="bench/results/blend_probe.jsonl")
    args = ap.parse_args(argv)

    from safetensors.torch import load_file, save_file

    from arena.config import load_config
    from arena.defend import Defender
    from arena.metrics import classification_report
    from arena.registry import Registry

    state = json.loads((Path(args.run) / "state.json").read_text())
    p = state.get("val_probe")
    if not p:
        print(f"error: {args.run}/state.json has no val_probe (a campaign with retrain.select_on_val)", file=sys.stderr)
        return 2
    reg = Registry.from_config(load_config(args.config), args.run)
    _, start = reg.resolve(args.champion)
    _, trained = reg.resolve(args.trained)

    def probe(folder: Path) -> dict[str, float]:
        d = Defender.load(folder, device="cpu")
        thr = d.spec.threshold
        s = d.score(p["toxic"] + p["benign"] + p["clean_texts"])
        t, b = len(p["toxic"]), len(p["benign"])
        return {"detection": sum(x >= thr for x in s[:t]) / t, "fpr": sum(x >= thr for x in s[t : t + b]) / b,
                "clean_f1": classification_report(p["clean_labels"], s[t + b :], thr)["macro_f1"]}

    t0 = time.perf_counter()
    base = probe(Path(start))
    rel = "adapter/adapter_model.safetensors"
    a, b = load_file(str(Path(start) / rel)), load_file(str(Path(trained) / rel))
    rows = []
    with tempfile.TemporaryDirectory(prefix="arena-blend-") as tmp:
        for alpha in args.alphas:
            folder = Path(tmp) / f"a{alpha}"
            shutil.copytree(trained, folder)
            save_file({k: ((1 - alpha) * a[k].float() + alpha * b[k].float()).to(b[k].dtype).contiguous() for k in b},
                      str(folder / rel))
            r = probe(folder)
            rows.append({"alpha": alpha, **{k: round(r[k] - base[k], 6) for k in r}})
    result = {"benchmark": "blend_probe", "run": args.run, "champion": args.champion, "trained": args.trained,
              "champion_probe": {k: round(v, 6) for k, v in base.items()}, "delta": rows,
              "probe": {"toxic": len(p["toxic"]), "benign": len(p["benign"]), "clean": len(p["clean_texts"])},
              "wall_s": round(time.perf_counter() - t0, 1), "command": "python bench/blend_probe.py " + " ".join(sys.argv[1:])}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(result) + "\n")
    print(f"blend probe v{args.champion} -> v{args.trained}: " + "; ".join(
        f"alpha {r['alpha']:g}: detection {100 * r['detection']:+.1f} FPR {100 * r['fpr']:+.1f} F1 {100 * r['clean_f1']:+.2f}"
        for r in rows) + " (points vs the champion, val probe)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
