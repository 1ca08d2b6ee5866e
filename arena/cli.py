"""The ``arena`` command line. Every subcommand has ``--help``; errors print one line and exit 2.

    arena data list | arena data fetch NAME
    arena train --config configs/default.yaml --out runs/arena
    arena moderate --out runs/arena "some text" ...
    arena models list|history|rollback VERSION --out runs/arena
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from arena.errors import ArenaError

DEFAULT_OUT = "runs/arena"
_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def deco(fn: Callable[[argparse.Namespace], int]):
        _COMMANDS[name] = fn
        return fn

    return deco


def _quiet_env() -> None:
    for k, v in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "RAY_USAGE_STATS_ENABLED": "0",
        "TRANSFORMERS_VERBOSITY": "error",
    }.items():
        os.environ.setdefault(k, v)


def _load_cfg(args: argparse.Namespace):
    from arena.config import load_config

    return load_config(args.config, overrides=getattr(args, "set", None))


def _registry(args: argparse.Namespace):
    from arena.config import load_config
    from arena.registry import Registry

    cfg = load_config(getattr(args, "config", None))
    if getattr(args, "tracking_uri", None):
        cfg.tracking.uri = args.tracking_uri
    return Registry.from_config(cfg, args.out)


# ---------------------------------------------------------------------------- data
@command("data")
def cmd_data(args: argparse.Namespace) -> int:
    from arena import data

    if args.data_cmd == "list":
        for name in data.list_datasets():
            info = data.describe(name)
            print(f"{name:22s} {info.get('description', '')}")
            for key in ("task", "splits", "upstream"):
                if info.get(key):
                    print(f"{'':22s} {key}: {info[key]}")
        return 0
    path = data.fetch_dataset(args.name, progress=not args.quiet)
    print(f"{args.name}: {path}")
    return 0


# ---------------------------------------------------------------------------- train / moderate
@command("train")
def cmd_train(args: argparse.Namespace) -> int:
    from arena.baseline import train_baseline

    cfg = _load_cfg(args)
    metrics = train_baseline(cfg, args.out, progress=not args.quiet)
    print(_metrics_line(metrics))
    print(f"metrics: {Path(args.out) / 'metrics.json'}; champion = version {metrics.get('model_version')}")
    return 0


def _metrics_line(m: dict) -> str:
    auc = f"{m['roc_auc']:.4f}" if m.get("roc_auc") is not None else "n/a"
    pc = m["per_class"]
    return (
        f"test ({m['n']} texts): accuracy={m['accuracy']:.4f} macro_f1={m['macro_f1']:.4f} roc_auc={auc} "
        f"toxic P/R={pc['toxic']['precision']:.3f}/{pc['toxic']['recall']:.3f} "
        f"not_toxic P/R={pc['not_toxic']['precision']:.3f}/{pc['not_toxic']['recall']:.3f}"
    )


@command("moderate")
def cmd_moderate(args: argparse.Namespace) -> int:
    texts = list(args.texts)
    if args.file:
        texts += [line.rstrip("\n") for line in Path(args.file).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise ArenaError("give at least one TEXT or --file FILE")
    if args.model and Path(args.model).is_dir():
        from arena.defend import Defender

        defender, version = Defender.load(args.model), str(args.model)
    else:
        defender = _registry(args).load_defender(args.model or "champion")
        version = defender.version
    scores = defender.score(texts)
    for text, s in zip(texts, scores, strict=True):
        label = "toxic" if s >= defender.spec.threshold else "not_toxic"
        if args.json:
            print(json.dumps({"text": text, "label": label, "score": round(s, 6), "model_version": version},
                             ensure_ascii=False))
        else:
            print(f"{label:9s} {s:.4f}  {text}")
    return 0


# ---------------------------------------------------------------------------- models
@command("models")
def cmd_models(args: argparse.Namespace) -> int:
    reg = _registry(args)
    if args.models_cmd == "list":
        rows = reg.list_versions()
        if not rows:
            print(f"no versions of {reg.model_name} in {reg.tracking_uri}")
        for r in rows:
            tags = " ".join(f"{k}={v}" for k, v in sorted(r["tags"].items()))
            print(f"v{r['version']:<4} {','.join(r['aliases']) or '-':22s} run={r['run_id']} {tags}")
        return 0
    if args.models_cmd == "history":
        events = reg.history(alias=None if args.all else "champion")
        if not events:
            print("no champion history yet")
        for e in events:
            rnd = "-" if e.get("round") is None else e["round"]
            print(f"round {rnd!s:>3}  {e['alias']:10s} -> v{e['version']:<4} {e.get('reason', '')}")
        return 0
    reg.rollback(args.version)
    print(f"champion -> v{args.version}")
    return 0


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="arena", description="Content Arena: attack, defend, improve, prove it.")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def out_opt(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
        sp.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite under --out)")

    d = sub.add_parser("data", help="list or fetch datasets")
    dsub = d.add_subparsers(dest="data_cmd", required=True)
    dsub.add_parser("list", help="datasets known to arena")
    f = dsub.add_parser("fetch", help="download a dataset into the cache (ARENA_DATA_MIRROR honoured)")
    f.add_argument("name")
    f.add_argument("--quiet", action="store_true")

    t = sub.add_parser("train", help="train the baseline defender and make it champion")
    t.add_argument("--config", default="configs/default.yaml")
    t.add_argument("--out", default=DEFAULT_OUT)
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value, e.g. train.epochs=1")
    t.add_argument("--quiet", action="store_true")

    m = sub.add_parser("moderate", help="score texts with the champion (or --model VERSION|ALIAS|PATH)")
    m.add_argument("texts", nargs="*", metavar="TEXT")
    m.add_argument("--file", help="one text per line")
    m.add_argument("--model", help="alias, version number or saved defender folder (default: champion)")
    m.add_argument("--json", action="store_true", help="one JSON object per line")
    out_opt(m)

    mo = sub.add_parser("models", help="registered defender versions, champion history, rollback")
    msub = mo.add_subparsers(dest="models_cmd", required=True)
    out_opt(msub.add_parser("list", help="versions and their aliases"))
    h = msub.add_parser("history", help="which version was champion in which round")
    h.add_argument("--all", action="store_true", help="include challenger alias moves")
    out_opt(h)
    r = msub.add_parser("rollback", help="make VERSION the champion again")
    r.add_argument("version")
    out_opt(r)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_env()
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.cmd](args)
    except ArenaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
