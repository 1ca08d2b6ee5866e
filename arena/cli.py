"""The ``arena`` command line. Every subcommand has ``--help``; errors print one line and exit 2.

    arena data list | arena data fetch NAME
    arena train --config configs/default.yaml --out runs/arena
    arena moderate --out runs/arena "some text" ...
    arena models list|history|rollback VERSION|relocate --out runs/arena
    arena dashboard runs/arena [--port 8765]
    arena eval --model champion --data tweeteval_offensive --attack all --out eval.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from arena.errors import ArenaError, ConfigError

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
    for name in args.name:
        path = data.fetch_dataset(name, progress=not args.quiet)
        print(f"{name}: {path}")
    return 0


# ---------------------------------------------------------------------------- train / moderate
@command("train")
def cmd_train(args: argparse.Namespace) -> int:
    from arena.baseline import train_baseline

    cfg = _load_cfg(args)
    metrics = train_baseline(cfg, args.out, progress=not args.quiet)
    from arena.metrics import format_report

    print(format_report(metrics))
    print(f"metrics: {Path(args.out) / 'metrics.json'}; champion = version {metrics.get('model_version')}")
    return 0


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


# ---------------------------------------------------------------------------- campaign
@command("campaign")
def cmd_campaign(args: argparse.Namespace) -> int:
    from arena.arena import Campaign

    cfg = _load_cfg(args)
    summary = Campaign(cfg, args.out, progress=not args.quiet).run(rounds=args.rounds)
    last = summary["rounds"][-1] if summary["rounds"] else None
    print(f"campaign {summary['campaign_id']}: {len(summary['rounds'])} rounds; summary: {Path(args.out) / 'summary.json'}")
    if last:
        print(f"final champion v{last['champion_version']}: frozen detection {last['frozen_detection']:.3f}, "
              f"clean macro-F1 {last['clean_macro_f1']:.4f}, benign-perturbed FPR {last['benign_perturbed_fpr']:.3f}")
    return 0


@command("report")
def cmd_report(args: argparse.Namespace) -> int:
    from arena.report import write_report

    path = write_report(args.out)
    print(f"report: {path}")
    return 0


# ---------------------------------------------------------------------------- attack
@command("attack")
def cmd_attack(args: argparse.Namespace) -> int:
    from arena.attack import ThompsonBandit, list_strategies
    from arena.attack.pipeline import AttackPipeline, select_strategies
    from arena.config import load_config

    infos = list_strategies()
    if args.list:
        for i in infos:
            print(f"{i.name:22s} {i.family:8s} {i.kind:8s} {i.description}")
        return 0
    if not args.text:
        raise ArenaError('give a TEXT to attack, e.g. arena attack "you are an idiot" --strategy leet')
    cfg = load_config(args.config, args.set)
    a = cfg.attack
    # the one pipeline (arena/attack/pipeline.py): the config's validity rules, search and query budget
    if args.strategy == "adaptive":
        names = select_strategies("all", llm=a.use_llm, exclude=a.exclude)
        bandit = ThompsonBandit(names, floor=min(0.02, 1 / len(names)), seed=args.seed)
        chosen = list(dict.fromkeys(bandit.choose() for _ in range(args.n)))
    else:
        chosen = select_strategies(args.strategy, llm=a.use_llm, exclude=a.exclude)
    pipe = AttackPipeline.from_config(cfg, chosen)
    defender = None
    try:
        defender = _registry(args).load_defender("champion")
    except ArenaError:
        print("(no champion registered under --out: candidates are not scored)", file=sys.stderr)
    res = pipe.attack_text(args.text, defender, seed=args.seed, n=args.n, budget=args.budget)
    if defender is not None and not args.json:
        print(f"original P(toxic)={res.original_score:.4f} (threshold {defender.spec.threshold:.2f}); "
              f"{res.queries} defender queries; search {pipe.search}")
    for c in res.candidates:
        s = c.score
        row = {"strategy": c.strategy, "text": c.text, "valid": c.valid, "validity": c.validity,
               "score": None if s is None else round(s, 4), "seed": c.seed}
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            sc = "  -   " if s is None else f"{s:.4f}"
            print(f"{c.strategy:20s} valid={'yes' if c.valid else 'no ':3s} validity={c.validity:.2f} "
                  f"P(toxic)={sc}  {c.text}")
    return 0


# ---------------------------------------------------------------------------- review
@command("review")
def cmd_review(args: argparse.Namespace) -> int:
    from arena import review

    if args.review_cmd == "export":
        n = review.export_review(args.out, args.csv, per_strategy=args.per_strategy, seed=args.seed)
        print(f"{n} counted evasions written to {args.csv}: fill the `verdict` column with accept/reject, "
              f"then `arena review import {args.csv} --out {args.out}`")
        return 0
    stats = review.import_review(args.out, args.csv)
    print(json.dumps(stats, indent=2))
    return 0


# ---------------------------------------------------------------------------- serve
@command("serve")
def cmd_serve(args: argparse.Namespace) -> int:
    from arena.serve import run_cli

    run_cli(args.config, blocking=True)
    return 0


# ---------------------------------------------------------------------------- dashboard
@command("dashboard")
def cmd_dashboard(args: argparse.Namespace) -> int:
    from arena.dashboard import serve_dashboard

    serve_dashboard(args.out, args.port, poll_s=args.poll, max_seconds=args.max_seconds)
    return 0


# ---------------------------------------------------------------------------- models
@command("models")
def cmd_models(args: argparse.Namespace) -> int:
    if args.models_cmd == "relocate":  # before opening the registry, which would relocate it already
        from arena.registry import relocate

        moved = relocate(args.out, dry_run=args.dry_run)
        n = sum(moved.values())
        verb = "would move" if args.dry_run else "moved"
        print(f"{args.out}: " + (f"{verb} {n} artifact location(s) to {Path(args.out).resolve() / 'mlartifacts'} ("
                                 + ", ".join(f"{k} {v}" for k, v in moved.items() if v) + ")"
                                 if n else "every artifact location is already in this folder"))
        return 0
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


# ---------------------------------------------------------------------------- eval
@command("eval")
def cmd_eval(args: argparse.Namespace) -> int:
    from arena.evaluate import format_result, run_eval, write_result
    from arena.external import HttpOptions, is_external_ref, parse_headers

    cfg = _load_cfg(args) if args.config else None
    http = HttpOptions(texts_field=args.http_texts_field, single_field=args.http_single_field,
                       scores_path=args.http_scores, threshold_path=args.http_threshold or None,
                       batch_size=args.http_batch, timeout_s=args.http_timeout, headers=parse_headers(args.http_header))
    external = {"toxic_label": args.toxic_label, "threshold": args.threshold, "http": http}
    models = args.compare or [args.model or "champion"]
    if args.toxic_label is not None and not any(str(m).startswith("hf:") for m in models):
        raise ConfigError("--toxic-label applies to hf:PATH models only")
    if args.threshold is not None and not any(is_external_ref(m) for m in models):
        raise ConfigError("--threshold applies to hf:PATH and http:URL models only (defenders and peers keep their own)")
    result = run_eval(
        models, args.data, attack=args.attack, seed=args.seed, run_dir=args.out_dir,
        config=cfg, tracking_uri=args.tracking_uri, batch_size=args.batch_size, progress=not args.quiet,
        external=external,
        text_col=args.text_col, label_col=args.label_col, positive=args.positive, negative=args.negative,
        split=args.split, group_col=args.group_col, limit=args.limit,
    )
    print(format_result(result))
    if args.out:
        print(f"results: {write_result(result, args.out)}")
    if args.html:
        from arena.card import write_card

        print(f"robustness card: {write_card(result, args.html)}")
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
    f.add_argument("name", nargs="+", help="one or more dataset names (arena data list)")
    f.add_argument("--quiet", action="store_true")

    t = sub.add_parser("train", help="train the baseline defender and make it champion")
    t.add_argument("--config", default="configs/default.yaml")
    t.add_argument("--out", default=DEFAULT_OUT)
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value, e.g. train.epochs=1")
    t.add_argument("--quiet", action="store_true")

    c = sub.add_parser("campaign", help="run (or resume) a battle campaign: rounds of attack, retrain, gate")
    c.add_argument("--config", default="configs/default.yaml")
    c.add_argument("--rounds", type=int, help="rounds after round 0 (default: campaign.rounds)")
    c.add_argument("--out", default=DEFAULT_OUT, help="campaign folder; an existing one is resumed")
    c.add_argument("--set", action="append", metavar="KEY=VALUE")
    c.add_argument("--quiet", action="store_true")

    rp = sub.add_parser("report", help="write OUT/report.html and PNG charts from OUT/summary.json")
    rp.add_argument("out", nargs="?", default=DEFAULT_OUT)

    a = sub.add_parser("attack", help="attack one text and show candidates (scored by the champion if any)")
    a.add_argument("text", nargs="?")
    a.add_argument("--strategy", default="all", help="a strategy or recipe name (or several, comma-separated), "
                   "all (the config's attack.exclude and attack.use_llm apply), or adaptive")
    a.add_argument("--n", type=int, default=1, help="candidates per strategy")
    a.add_argument("--budget", type=int, help="words/characters a strategy may touch")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--list", action="store_true", help="list strategies and recipes")
    a.add_argument("--json", action="store_true")
    a.add_argument("--config", help="config file: validity limits, attack.search, attack.query_budget, LLM settings "
                   "(default: the built-in defaults)")
    a.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    out_opt(a)

    rv = sub.add_parser("review", help="human spot-check of counted evasions (export CSV, import verdicts)")
    rvsub = rv.add_subparsers(dest="review_cmd", required=True)
    ex = rvsub.add_parser("export", help="write a per-strategy sample of counted evasions to CSV")
    ex.add_argument("csv")
    ex.add_argument("--per-strategy", type=int, default=20)
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--out", default=DEFAULT_OUT, help="campaign folder")
    im = rvsub.add_parser("import", help="apply accept/reject verdicts; rejected evasions leave training and metrics")
    im.add_argument("csv")
    im.add_argument("--out", default=DEFAULT_OUT, help="campaign folder")

    sv = sub.add_parser("serve", help="run the Serve app (serve run serve_configs/arena.yaml); see docs/ray.md")
    sv.add_argument("--config", default="serve_configs/arena.yaml", help="Serve config file")

    m = sub.add_parser("moderate", help="score texts with the champion (or --model VERSION|ALIAS|PATH)")
    m.add_argument("texts", nargs="*", metavar="TEXT")
    m.add_argument("--file", help="one text per line")
    m.add_argument("--model", help="alias, version number or saved defender folder (default: champion)")
    m.add_argument("--json", action="store_true", help="one JSON object per line")
    out_opt(m)

    ev = sub.add_parser("eval", help="metrics of a model or peer on any labelled data, clean and attacked "
                        "(docs/eval.md)")
    which = ev.add_mutually_exclusive_group()
    which.add_argument("--model",
                       help="champion (default), an alias, a VERSION, a saved defender folder, "
                       "peer:alt-profanity-check | peer:better-profanity, hf:PATH (a local transformers "
                       "sequence classifier) or http:URL (a JSON moderation endpoint; docs/eval.md)")
    which.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two models side by side, with B - A")
    ev.add_argument("--data", required=True, help="a dataset name (arena data list) or a CSV/TSV/Parquet file")
    ev.add_argument("--split", default="test", help="split of a dataset name (default test)")
    ev.add_argument("--text-col", help="text column of a file (default text)")
    ev.add_argument("--label-col", help="label column of a file (default label)")
    ev.add_argument("--positive", nargs="+", metavar="VALUE", help="label values meaning toxic (default: 1, true, "
                    "or the one toxic/offensive/off/hate/abusive/yes value of a two-valued column)")
    ev.add_argument("--negative", nargs="+", metavar="VALUE",
                    help="label values meaning not toxic; then any other value is an error")
    ev.add_argument("--group-col", help="file column to break the clean metrics down by")
    ev.add_argument("--attack", nargs="+", metavar="STRATEGY",
                    help="strategies to apply once per text, or all (all leaves out llm_rewrite; name it to add it)")
    ev.add_argument("--seed", type=int, default=0, help="seed of the attacks and of --limit (default 0)")
    ev.add_argument("--limit", type=int, help="evaluate a stratified sample of about N texts")
    ev.add_argument("--out", help="write the results as JSON to this file")
    ev.add_argument("--out-dir", default=DEFAULT_OUT, help=f"run folder of the registry (default {DEFAULT_OUT})")
    ev.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite under --out-dir)")
    ev.add_argument("--config", help="config file for validity limits, attack budget and LLM settings")
    ev.add_argument("--batch-size", type=int, default=128)
    ev.add_argument("--quiet", action="store_true", help="no progress bars")
    ev.add_argument("--html", metavar="FILE", help="also write a robustness card (HTML: the table, the worst "
                    "strategies, example evasions)")
    ext = ev.add_argument_group("your own model (hf:PATH, http:URL)")
    ext.add_argument("--toxic-label", metavar="NAME|INDEX", help="hf: the label meaning toxic (default: the one "
                     "label named toxic/offensive/hate/..., or LABEL_1 of two)")
    ext.add_argument("--threshold", type=float, help="hf:/http: decision threshold on P(toxic) (default: the "
                     "service's own when it reports one, else 0.5)")
    ext.add_argument("--http-texts-field", default="texts", metavar="FIELD",
                     help="request field with the list of texts (default texts: this project's /api/v1/moderate)")
    ext.add_argument("--http-single-field", metavar="FIELD", help="send one text per request, in this field")
    ext.add_argument("--http-scores", default="scores", metavar="PATH", help="dotted path to the scores in the "
                     "response; * walks a list (default scores; e.g. results.*.category_scores.harassment)")
    ext.add_argument("--http-threshold", default="threshold", metavar="PATH",
                     help="dotted path to the service's threshold, if it sends one ('' for none)")
    ext.add_argument("--http-batch", type=int, default=32, help="texts per request (default 32)")
    ext.add_argument("--http-timeout", type=float, default=30.0, help="seconds per request (default 30)")
    ext.add_argument("--http-header", action="append", metavar="'NAME: VALUE'",
                     help="extra request header; 'Authorization: $MY_TOKEN' reads the value from the environment")

    db = sub.add_parser("dashboard", help="live battle dashboard of a campaign folder, on 127.0.0.1 (no Ray)")
    db.add_argument("out", help="campaign folder (arena campaign --out DIR); may still be running or not started")
    db.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0: any free port)")
    db.add_argument("--poll", type=float, default=3.0, help="seconds between the page's updates (default 3)")
    db.add_argument("--max-seconds", type=float, help="stop by itself after this many seconds")

    mo = sub.add_parser("models", help="registered defender versions, champion history, rollback")
    msub = mo.add_subparsers(dest="models_cmd", required=True)
    out_opt(msub.add_parser("list", help="versions and their aliases"))
    h = msub.add_parser("history", help="which version was champion in which round")
    h.add_argument("--all", action="store_true", help="include challenger alias moves")
    out_opt(h)
    r = msub.add_parser("rollback", help="make VERSION the champion again")
    r.add_argument("version")
    out_opt(r)
    rl = msub.add_parser("relocate", help="after moving or copying a run folder: point its registry at the "
                         "folder's own artifacts (also done on every open)")
    rl.add_argument("--dry-run", action="store_true", help="only count what would change")
    out_opt(rl)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_env()
    args = build_parser().parse_args(argv)
    try:
        from arena.progress import quiet_library_bars

        quiet_library_bars()  # off a terminal: no \r bars from Hugging Face or MLflow in the log
        return _COMMANDS[args.cmd](args)
    except ArenaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
