"""Evaluate a defender, a registered version or a peer tool on any labelled data, clean and attacked.

    from arena.evaluate import load_eval_data, run_eval, robustness_table
    data = load_eval_data("tweeteval_offensive", limit=400, seed=0)         # or a CSV/TSV/Parquet file
    result = run_eval(["champion", "peer:alt-profanity-check"], data, attack="all", seed=0,
                      run_dir="runs/arena")
    rows = robustness_table(result)   # model x strategy -> detection on attacked toxic, FPR on attacked benign

This is what ``arena eval`` runs (docs/eval.md). Steps:

    data      a registered dataset (one split, default test) or a file; labels mapped to 0/1; optional
              seeded, stratified --limit; optional group column
    models    champion / VERSION (the registry under --out-dir), a saved defender folder, or peer:NAME
    attacks   every strategy applied once to every text with a fixed seed, untargeted (no model is
              queried), so each model is scored on the very same attacked texts. The suite code is
              the campaign's own (``arena.arena.Attacker.build_suite``: seeds, validity rules, LLM text cap);
              toxic and non-toxic texts are attacked as two pools, like the frozen and benign suites
    metrics   clean: accuracy, macro-F1, ROC-AUC, per-class P/R, n (overall and per group);
              attacked: per strategy and overall, detection on attacked toxic texts, FPR on attacked
              non-toxic texts, the same rates on the same texts unattacked, and how many texts each
              strategy changed (only changed texts, with a valid candidate, count)
    delta     with two models: B - A for every number above

``all`` leaves out the LLM strategy (slow on CPU); name it (``--attack all llm_rewrite``) to add it.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.errors import ConfigError, DataError, ModelError

if TYPE_CHECKING:
    from arena.records import Attempt

SCHEMA = "arena-eval/1"
DEFAULT_RUN_DIR = "runs/arena"
NAME_COLUMNS = ("id", "text", "label", "split")  # the columns of a registered dataset's table
MISSING_GROUP = "(missing)"


# ============================================================================ data
@dataclass
class EvalData:
    """Texts, 0/1 labels (1 = toxic) and optional group values, with where they came from."""

    texts: list[str]
    labels: list[int]
    groups: list[str] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)


def _check_positive_found(found: set[str], positives: set[str], negatives: set[str] | None, source: str,
                          column: str) -> None:
    """With explicit label values: each side must occur, and (with negatives) every value must map."""
    shown = ", ".join(repr(v) for v in sorted(found)[:20]) + (f", ... ({len(found)} values)" if len(found) > 20 else "")
    if not positives & found:
        raise DataError(f"{source}: none of the positive label values {sorted(positives)} occur in column "
                        f"{column!r}; values found: {shown}")
    if negatives is None:
        return
    both = positives & negatives
    if both:
        raise DataError(f"{source}: label value(s) {sorted(both)} are given as both positive and negative")
    unmapped = sorted(found - positives - negatives)
    if unmapped:
        raise DataError(f"{source}: label value(s) {', '.join(repr(v) for v in unmapped)} in column {column!r} "
                        f"are neither positive {sorted(positives)} nor negative {sorted(negatives)}")


def _canonical_set(values: Sequence[Any] | None) -> set[str] | None:
    from arena.data.generic import canonical_label

    if values is None:
        return None
    if isinstance(values, (str, bytes, int, float, bool)):
        values = [values]
    return {canonical_label(v) for v in values} - {None}


def _read_file(path: Path, text_col: str, label_col: str, group_col: str | None,
               positive: Sequence[Any] | None, negative: Sequence[Any] | None) -> EvalData:
    from arena.data.generic import canonical_label, label_mapper, read_columns, usable_rows

    if path.is_file() and not os.access(path, os.R_OK):
        raise DataError(f"{path}: file is not readable (permission denied)")
    roles = [(text_col, "text column"), (label_col, "label column")]
    if group_col is not None:
        roles.append((group_col, "group column"))
    try:
        table = read_columns(path, roles)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc})") from exc
    raw_labels = [canonical_label(v) for v in table[label_col].to_pylist()]
    found = {v for v in raw_labels if v is not None}
    positives = label_mapper(raw_labels, positive, source=f"{path}: column {label_col!r}")
    negatives = _canonical_set(negative)
    if positive is not None or negatives is not None:
        _check_positive_found(found, positives, negatives, str(path), label_col)
    groups_in = table[group_col].to_pylist() if group_col is not None else [None] * table.num_rows
    keep, texts, dropped = usable_rows(path, table[text_col].to_pylist(), raw_labels)
    labels = [int(raw_labels[i] in positives) for i in keep]
    groups = [MISSING_GROUP if groups_in[i] is None or str(groups_in[i]).strip() == "" else str(groups_in[i]).strip()
              for i in keep]
    info = {"kind": "file", "source": str(path), "split": None, "text_col": text_col, "label_col": label_col,
            "positive": sorted(positives), "negative": None if negatives is None else sorted(negatives),
            "label_values": sorted(found), "dropped": {k: v for k, v in dropped.items() if v}}
    return EvalData(texts, labels, groups if group_col is not None else None, info)


def _read_dataset(name: str, split: str, text_col: str | None, label_col: str | None, group_col: str | None,
                  positive: Sequence[Any] | None, negative: Sequence[Any] | None, progress: bool) -> EvalData:
    from arena.data import load_dataset, split_of, table_info
    from arena.data.table import check_split

    check_split(split)
    for option, value, expected in (("--text-col", text_col, "text"), ("--label-col", label_col, "label")):
        if value is not None and value != expected:
            raise DataError(f"dataset {name!r} is already labelled (columns: {', '.join(NAME_COLUMNS)}); "
                            f"{option} applies to files only")
    if positive is not None or negative is not None:
        raise DataError(f"dataset {name!r} is already labelled 0/1 (1 = toxic); --positive/--negative apply "
                        "to files only")
    if group_col is not None:
        raise DataError(f"dataset {name!r} has no column {group_col!r} to group by; available columns: "
                        f"{', '.join(NAME_COLUMNS)} (--group-col needs a file with a group column)")
    table = load_dataset(name, progress=progress)
    rows = split_of(table, split)
    if rows.num_rows == 0:
        raise DataError(f"dataset {name!r} has no {split!r} split")
    info = {"kind": "dataset", "source": name, "split": split, "text_col": "text", "label_col": "label",
            "positive": ["1"], "negative": None, "label_values": ["0", "1"],
            "dropped": table_info(table).get("dropped", {})}
    return EvalData(rows["text"].to_pylist(), [int(y) for y in rows["label"].to_pylist()], None, info)


def load_eval_data(
    source: str | os.PathLike,
    *,
    text_col: str | None = None,
    label_col: str | None = None,
    positive: Sequence[Any] | None = None,
    negative: Sequence[Any] | None = None,
    split: str = "test",
    group_col: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> EvalData:
    """Load a registered dataset (``arena data list``) or a CSV/TSV/Parquet file for evaluation.

    Args:
        source: a dataset name (its ``split`` is used) or a file path (every row is used).
        text_col, label_col: columns of a file (default ``text`` and ``label``).
        positive: label values that mean toxic. Default (:func:`arena.data.generic.label_mapper`):
            ``0/1`` and ``true/false`` map as expected, and a column with exactly two values, one
            of them toxic/offensive/off/hate/hateful/abusive/yes, maps that one to 1; anything
            else is a :class:`DataError` listing the values. Compared case-insensitively, ``1.0`` = ``1``.
        negative: label values that mean not toxic. Without it every non-positive value is 0; with
            it a value in neither list is an error naming the unmapped values.
        group_col: a file column to break the clean metrics down by.
        limit: evaluate a seeded, label-stratified sample of about ``limit`` rows.

    Raises :class:`DataError` for an unknown dataset or missing file, an empty or unreadable file,
    a missing column (listing the available ones) and labels that do not map.
    """
    from arena.data import list_datasets

    if limit is not None and limit < 1:
        raise DataError(f"--limit must be at least 1, got {limit}")
    name = str(source)
    path = Path(source)
    if name in list_datasets():
        data = _read_dataset(name, split, text_col, label_col, group_col, positive, negative, progress)
    elif path.exists():
        if path.is_dir():
            raise DataError(f"{path} is a folder; give a CSV/TSV/Parquet file or a dataset name "
                            f"({', '.join(list_datasets())})")
        data = _read_file(path, text_col or "text", label_col or "label", group_col, positive, negative)
    else:
        raise DataError(f"{source!r} is neither a known dataset ({', '.join(list_datasets())}) nor an existing file")
    data.info.update(group_col=group_col, n_total=len(data), limit=limit, seed=seed)
    if limit is not None and limit < len(data):
        data = _subsample(data, limit, seed)
    data.info.update(n=len(data), n_toxic=sum(data.labels), n_not_toxic=len(data) - sum(data.labels))
    return data


def _subsample(data: EvalData, limit: int, seed: int) -> EvalData:
    """The baseline's stratified, seeded subsample (``arena.baseline.Split.subsample``)."""
    from arena.baseline import Split

    ids = [str(i) for i in range(len(data))]
    keep = [int(i) for i in Split(data.texts, data.labels, ids).subsample(limit, seed).ids]
    groups = [data.groups[i] for i in keep] if data.groups is not None else None
    return EvalData([data.texts[i] for i in keep], [data.labels[i] for i in keep], groups, dict(data.info))


# ============================================================================ models
@dataclass
class EvalModel:
    """Something with ``score(texts) -> P(toxic)`` and a threshold, plus how to name it in a report."""

    ref: str
    label: str
    kind: str  # "defender", "peer" or "external" (hf:PATH, http:URL; arena/external.py)
    threshold: float
    scorer: Any
    version: str | None = None
    path: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"ref": self.ref, "label": self.label, "kind": self.kind, "version": self.version,
                "path": self.path, "threshold": self.threshold}


class _Registries:
    """One registry per (run folder, tracking URI): loading two versions opens MLflow once."""

    def __init__(self, config=None, tracking_uri: str | None = None) -> None:
        self.config, self.tracking_uri = config, tracking_uri
        self._cache: dict[str, Any] = {}

    def get(self, run_dir: str | os.PathLike):
        key = str(Path(run_dir).resolve())
        if key not in self._cache:
            from arena.config import load_config
            from arena.registry import Registry

            cfg = self.config if self.config is not None else load_config(None)
            if self.tracking_uri:
                cfg = cfg.model_copy(deep=True)
                cfg.tracking.uri = self.tracking_uri
            if not (cfg.tracking.uri or os.environ.get("MLFLOW_TRACKING_URI")) and not Path(run_dir).is_dir():
                raise ModelError(f"run folder {run_dir} does not exist: train a defender with "
                                 f"`arena train --out {run_dir}`, or pass the folder with --out-dir")
            self._cache[key] = Registry.from_config(cfg, run_dir)
        return self._cache[key]


def load_model(ref: str, *, run_dir: str | os.PathLike = DEFAULT_RUN_DIR, config=None,
               tracking_uri: str | None = None, device: str | None = None,
               _registries: _Registries | None = None, external: dict[str, Any] | None = None) -> EvalModel:
    """``champion`` / another alias / a version number (the registry of ``run_dir``), a saved defender
    folder, ``peer:NAME`` (:mod:`arena.peers`), or a model of your own: ``hf:PATH`` / ``http:URL``
    (:mod:`arena.external`; ``external`` holds its options: ``toxic_label``, ``threshold``, ``http``).
    :class:`ModelError` names what is wrong."""
    from arena.external import is_external_ref, load_external
    from arena.peers import is_peer_ref, load_peer

    ref = str(ref)
    if is_external_ref(ref):
        opts = dict(external or {})
        return load_external(ref, device=device or (config.train.device if config is not None else "auto"), **opts)
    if is_peer_ref(ref):
        peer = load_peer(ref)
        return EvalModel(ref, f"peer:{peer.name}", "peer", peer.threshold, peer, version=peer.version)
    from arena.defend import Defender

    device = device or (config.train.device if config is not None else "auto")
    path = Path(ref)
    if path.is_dir():
        defender = Defender.load(path, device=device)
        return EvalModel(ref, str(path), "defender", defender.spec.threshold, defender, path=str(path))
    if os.sep in ref or ref.startswith("."):
        raise ModelError(f"model {ref!r}: no such folder (a saved defender folder holds defender.json)")
    registries = _registries or _Registries(config, tracking_uri)
    version, folder = registries.get(run_dir).resolve(ref)
    defender = Defender.load(folder, device=device)
    label = f"v{version}" if ref.isdigit() else f"{ref} (v{version})"
    return EvalModel(ref, label, "defender", defender.spec.threshold, defender, version=version, path=str(folder))


def score_texts(model: EvalModel, texts: Sequence[str], *, batch_size: int = 128, progress: bool = False,
                chunk: int = 512) -> list[float]:
    """``model``'s P(toxic) for ``texts`` in chunks, with a progress bar; each distinct text is scored once."""
    from arena.progress import progress as progress_bar

    unique = list(dict.fromkeys(texts))
    by_text: dict[str, float] = {}
    with progress_bar(total=len(unique), desc=f"scoring {model.label}", unit="text", disable=not progress,
              leave=False) as bar:
        for start in range(0, len(unique), chunk):
            part = unique[start : start + chunk]
            scores = model.scorer.score(part, batch_size=batch_size)
            if len(scores) != len(part):
                raise ModelError(f"{model.label} returned {len(scores)} scores for {len(part)} texts")
            by_text.update(zip(part, (float(s) for s in scores), strict=True))
            bar.update(len(part))
    return [by_text[t] for t in texts]


# ============================================================================ attacks
def resolve_strategies(attack: str | Sequence[str]) -> list[str]:
    """Strategy names for ``--attack``: names and/or ``all`` (every strategy and recipe but the LLM family).

    Comma-separated strings are split. Unknown names raise :class:`ConfigError` listing the known ones.
    The one definition of ``all``: :func:`arena.attack.pipeline.select_strategies`.
    """
    from arena.attack.pipeline import select_strategies

    items = [attack] if isinstance(attack, str) else list(attack)
    if not any(n.strip() for item in items for n in str(item).split(",")):
        raise ConfigError("--attack: give a strategy name or all (`arena attack --list` shows them)")
    return select_strategies(items, llm=False)


@dataclass
class AttackSuite:
    """Attacked copies of the evaluation texts: ``items`` are :class:`arena.records.Attempt` (``text_id`` =
    the row index in the data, ``label`` its label), only for texts a strategy changed into a valid candidate."""

    strategies: list[str]
    seed: int
    families: dict[str, str]
    attempted: dict[str, dict[str, int]]  # strategy -> {"toxic": n, "not_toxic": n}
    items: list[Any]
    settings: dict[str, Any] = field(default_factory=dict)

    def describe(self, examples: int = 2) -> dict[str, Any]:
        per: dict[str, dict[str, Any]] = {}
        for name in self.strategies:
            mine = [it for it in self.items if it.strategy == name]
            per[name] = {
                "family": self.families[name],
                "attempted_toxic": self.attempted[name]["toxic"],
                "attempted_not_toxic": self.attempted[name]["not_toxic"],
                "changed_toxic": sum(1 for it in mine if it.label == 1),
                "changed_not_toxic": sum(1 for it in mine if it.label == 0),
                "examples": [{"original": it.original, "attacked": it.attacked, "seed": it.seed}
                             for it in mine if it.label == 1][:examples],
            }
        return {"strategies": self.strategies, "seed": self.seed, "targeted": False, **self.settings,
                "per_strategy": per}


def build_attacks(data: EvalData, attack: str | Sequence[str], seed: int = 0, *, config=None,
                  progress: bool = False) -> AttackSuite:
    """Apply each strategy once to every text, seeded and untargeted (see the module docstring).

    Toxic texts are attacked with ``seed``, non-toxic ones with ``seed + 1``. Validity rules, edit
    budget and the LLM settings (and its text cap ``campaign.llm_suite_texts`` per pool) come
    from ``config`` (default: the built-in defaults).
    """
    from arena.arena import Attacker
    from arena.config import load_config

    cfg = config if config is not None else load_config(None)
    strategies = resolve_strategies(attack)
    builder = Attacker(cfg, strategies, progress=progress)
    items: list[Attempt] = []
    attempted = {n: {"toxic": 0, "not_toxic": 0} for n in strategies}
    cap = cfg.campaign.llm_suite_texts
    for label, key, pool_seed in ((1, "toxic", seed), (0, "not_toxic", seed + 1)):
        pool = [(str(i), t) for i, (t, y) in enumerate(zip(data.texts, data.labels, strict=True)) if y == label]
        if not pool:
            continue
        for n in strategies:
            attempted[n][key] = min(len(pool), cap) if "llm" in builder.family_sets[n] else len(pool)
        desc = f"attacking {key.replace('_', '-')} texts"
        for it in builder.build_suite(pool, None, seed=pool_seed, targeted=False, desc=desc):
            if it.attacked != it.original:
                items.append(replace(it, label=label, pool="eval"))  # text_id = the row index in the data
    settings = {"max_edit_ratio": cfg.attack.max_edit_ratio, "min_similarity": cfg.attack.min_similarity,
                "budget": cfg.attack.budget, "llm_suite_texts": cap}
    return AttackSuite(strategies, seed, dict(builder.families), attempted, items, settings)


# ============================================================================ metrics
def _rate(flags: Sequence[bool]) -> float | None:
    from arena.metrics import rate

    return rate(list(flags))


def _attack_cell(rows: list[tuple[Attempt, float, float]], thr: float, attempted: tuple[int, int]) -> dict[str, Any]:
    """Metrics of one strategy (or all): rows are (item, clean score, attacked score)."""
    tox = [(c, a) for it, c, a in rows if it.label == 1]
    ben = [(c, a) for it, c, a in rows if it.label == 0]
    flagged_clean = [a for c, a in tox if c >= thr]
    return {
        "attempted_toxic": attempted[0],
        "changed_toxic": len(tox),
        "detection": _rate([a >= thr for _, a in tox]),
        "clean_detection": _rate([c >= thr for c, _ in tox]),
        "evasion_rate": _rate([a < thr for a in flagged_clean]),  # of those flagged before the attack
        "attempted_not_toxic": attempted[1],
        "changed_not_toxic": len(ben),
        "fpr": _rate([a >= thr for _, a in ben]),
        "clean_fpr": _rate([c >= thr for c, _ in ben]),
    }


def evaluate_model(model: EvalModel, data: EvalData, attacks: AttackSuite | None = None, *,
                   batch_size: int = 128, progress: bool = False) -> dict[str, Any]:
    """Clean metrics (overall, per group) and, with ``attacks``, attacked metrics of one model."""
    from arena.metrics import classification_report

    attacked_texts = [it.attacked for it in attacks.items] if attacks else []
    t0 = time.perf_counter()
    scores = score_texts(model, data.texts + attacked_texts, batch_size=batch_size, progress=progress)
    wall = time.perf_counter() - t0
    clean_scores, attacked_scores = scores[: len(data)], scores[len(data) :]
    thr = model.threshold
    out: dict[str, Any] = {**model.describe(), "scoring_s": round(wall, 3), "texts_scored": len(scores),
                           "clean": classification_report(data.labels, clean_scores, thr)}
    if data.groups is not None:
        by_group: dict[str, list[int]] = {}
        for i, g in enumerate(data.groups):
            by_group.setdefault(g, []).append(i)
        out["groups"] = {
            g: classification_report([data.labels[i] for i in idx], [clean_scores[i] for i in idx], thr)
            for g, idx in sorted(by_group.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        }
    if attacks is not None:
        rows = [(it, clean_scores[int(it.text_id)], s) for it, s in zip(attacks.items, attacked_scores, strict=True)]
        per = {}
        for name in attacks.strategies:
            a = attacks.attempted[name]
            per[name] = {"family": attacks.families[name],
                         **_attack_cell([r for r in rows if r[0].strategy == name], thr,
                                        (a["toxic"], a["not_toxic"]))}
        total = (sum(a["toxic"] for a in attacks.attempted.values()),
                 sum(a["not_toxic"] for a in attacks.attempted.values()))
        out["attacked"] = {"overall": _attack_cell(rows, thr, total), "per_strategy": per,
                           "evasions": _evasion_examples(rows, thr)}
    return out


def _evasion_examples(rows: list[tuple[Attempt, float, float]], thr: float, per_strategy: int = 3,
                      max_chars: int = 300) -> list[dict[str, Any]]:
    """Up to ``per_strategy`` evasions per strategy: toxic texts flagged clean and missed once attacked,
    the most confident misses first (lowest attacked score)."""
    by: dict[str, list[tuple[Attempt, float, float]]] = {}
    for it, c, a in rows:
        if it.label == 1 and c >= thr > a:
            by.setdefault(it.strategy, []).append((it, c, a))
    out = []
    for name, hits in by.items():
        for it, c, a in sorted(hits, key=lambda r: r[2])[:per_strategy]:
            out.append({"strategy": name, "original": it.original[:max_chars], "attacked": it.attacked[:max_chars],
                        "clean_score": round(c, 4), "attacked_score": round(a, 4)})
    return out


def _diff(a: Any, b: Any) -> float | None:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int | float) or not isinstance(b, int | float):
        return None
    return None if math.isnan(a) or math.isnan(b) else b - a


_CLEAN_KEYS = ("accuracy", "macro_f1", "roc_auc")
_ATTACK_KEYS = ("detection", "clean_detection", "evasion_rate", "fpr", "clean_fpr")


def _clean_delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    d = {k: _diff(a.get(k), b.get(k)) for k in _CLEAN_KEYS}
    for cls in ("toxic", "not_toxic"):
        for k in ("precision", "recall", "f1"):
            d[f"{cls}_{k}"] = _diff(a["per_class"][cls][k], b["per_class"][cls][k])
    return d


def compare_results(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """B - A for the clean, per-group and attacked numbers of two :func:`evaluate_model` results."""
    delta: dict[str, Any] = {"of": "b - a", "a": a["label"], "b": b["label"], "clean": _clean_delta(a["clean"], b["clean"])}
    if "groups" in a and "groups" in b:
        delta["groups"] = {g: _clean_delta(a["groups"][g], b["groups"][g]) for g in a["groups"] if g in b["groups"]}
    if "attacked" in a and "attacked" in b:
        aa, ba = a["attacked"], b["attacked"]
        delta["attacked"] = {
            "overall": {k: _diff(aa["overall"][k], ba["overall"][k]) for k in _ATTACK_KEYS},
            "per_strategy": {s: {k: _diff(aa["per_strategy"][s][k], ba["per_strategy"][s][k]) for k in _ATTACK_KEYS}
                             for s in aa["per_strategy"] if s in ba["per_strategy"]},
        }
    return delta


def run_eval(
    models: Sequence[str | EvalModel],
    data: EvalData | str | os.PathLike,
    *,
    attack: str | Sequence[str] | None = None,
    seed: int = 0,
    run_dir: str | os.PathLike = DEFAULT_RUN_DIR,
    config=None,
    tracking_uri: str | None = None,
    batch_size: int = 128,
    progress: bool = False,
    external: dict[str, Any] | None = None,
    **data_kwargs: Any,
) -> dict[str, Any]:
    """Evaluate one or more models on the same data and the same attacked texts.

    ``models``: references (see :func:`load_model`; ``external`` holds the options of ``hf:`` and
    ``http:`` models) or loaded :class:`EvalModel`. ``data``: an
    :class:`EvalData` or a source for :func:`load_eval_data` (``data_kwargs`` go there, with ``seed``).
    With exactly two models the result has a ``delta`` section (second minus first).
    Returns the JSON-ready result (schema in docs/eval.md).
    """
    if not models:
        raise ModelError("give at least one model to evaluate")
    if not isinstance(data, EvalData):
        data = load_eval_data(data, seed=seed, progress=progress, **data_kwargs)
    elif data_kwargs:
        raise ConfigError(f"data options {sorted(data_kwargs)} apply only when data is a name or path")
    strategies = resolve_strategies(attack) if attack else None  # fail on a typo before loading models
    registries = _Registries(config, tracking_uri)
    loaded = [m if isinstance(m, EvalModel) else load_model(m, run_dir=run_dir, config=config,
                                                            _registries=registries, external=external)
              for m in models]
    suite = build_attacks(data, strategies, seed, config=config, progress=progress) if strategies else None
    results = [evaluate_model(m, data, suite, batch_size=batch_size, progress=progress) for m in loaded]
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "data": data.info,
        "attack": suite.describe() if suite else None,
        "models": results,
    }
    if len(results) == 2:
        out["delta"] = compare_results(*results)
    return out


def robustness_table(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows (model x strategy, plus strategy ``overall``) of a :func:`run_eval` result with attacks:
    detection on attacked toxic texts, FPR on attacked non-toxic texts and their clean counterparts."""
    if result.get("attack") is None:
        raise ConfigError("the result has no attacked metrics: run with attack=...")
    rows = []
    for m in result["models"]:
        att = m["attacked"]
        for name, cell in [*att["per_strategy"].items(), ("overall", att["overall"])]:
            rows.append({"model": m["label"], "kind": m["kind"], "strategy": name, "family": cell.get("family"),
                         **{k: v for k, v in cell.items() if k != "family"}})
    return rows


def write_result(result: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``result`` as indented JSON (atomically; parent folders are created)."""
    from arena.records import atomic_write_text

    path = Path(path)
    atomic_write_text(path, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return path


# ============================================================================ text table
def _f(x: Any, signed: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def format_result(result: dict[str, Any], max_groups: int = 20) -> str:
    """A compact plain-text table of a :func:`run_eval` result (models side by side, then B - A)."""
    models = result["models"]
    delta = result.get("delta")
    d = result["data"]
    where = d["source"] + (f" [{d['split']}]" if d.get("split") else "")
    lines = [f"data: {where}: {d['n']} texts ({d['n_toxic']} toxic)"
             + (f", stratified sample of {d['n_total']} (seed {d['seed']})" if d["n"] < d["n_total"] else "")]
    w = max(12, *(len(m["label"]) for m in models))
    lines.append(f"{'model':{w}s} {'n':>6s} {'acc':>7s} {'macroF1':>7s} {'AUC':>7s} {'tox P/R':>13s} {'not P/R':>13s}")
    for m in models:
        c = m["clean"]
        pc = c["per_class"]
        lines.append(f"{m['label']:{w}s} {c['n']:6d} {_f(c['accuracy']):>7s} {_f(c['macro_f1']):>7s} "
                     f"{_f(c['roc_auc']):>7s} {_f(pc['toxic']['precision'])}/{_f(pc['toxic']['recall']):<7s} "
                     f"{_f(pc['not_toxic']['precision'])}/{_f(pc['not_toxic']['recall']):<7s}")
    if delta:
        dc = delta["clean"]
        lines.append(f"{'delta (B - A)':{w}s} {'':6s} {_f(dc['accuracy'], True):>7s} {_f(dc['macro_f1'], True):>7s} "
                     f"{_f(dc['roc_auc'], True):>7s}")
    tags = [chr(ord("A") + i) + " " for i in range(len(models))] if len(models) > 1 else [""]
    if len(models) > 1:
        lines.append("  " + "; ".join(f"{t}= {m['label']}" for t, m in zip(tags, models, strict=True)))
    if "groups" in models[0]:
        groups = list(models[0]["groups"])
        lines.append(f"\nper {d['group_col']} (clean macro-F1 / accuracy)" +
                     (f", largest {max_groups} of {len(groups)}" if len(groups) > max_groups else ""))
        gw = max(8, *(len(g) for g in groups[:max_groups]))
        lines.append(f"{'group':{gw}s} {'n':>6s} {'toxic':>6s} " + " ".join(f"{t + 'F1/acc':>13s}" for t in tags))
        for g in groups[:max_groups]:
            r0 = models[0]["groups"][g]
            cells = " ".join(f"{_f(m['groups'][g]['macro_f1'])}/{_f(m['groups'][g]['accuracy']):<7s}" for m in models)
            lines.append(f"{g:{gw}s} {r0['n']:6d} {r0['per_class']['toxic']['support']:6d} {cells}")
    if result.get("attack"):
        a = result["attack"]
        lines.append(f"\nattacked (seed {a['seed']}, untargeted; detection on changed toxic texts, FPR on "
                     f"changed non-toxic texts; clean rate on the same texts in brackets)")
        sw = max(10, *(len(s) for s in a["strategies"]))
        head = f"{'strategy':{sw}s} {'changed tox/not':>15s} "
        head += " ".join(f"{t + 'detect':>15s} {t + 'FPR':>15s}" for t in tags)
        if delta:
            head += f" {'d detect':>8s} {'d FPR':>8s}"
        lines.append(head)
        for name in [*a["strategies"], "overall"]:
            cells = [m["attacked"]["overall"] if name == "overall" else m["attacked"]["per_strategy"][name]
                     for m in models]
            c0 = cells[0]
            row = f"{name:{sw}s} {str(c0['changed_toxic']) + '/' + str(c0['changed_not_toxic']):>15s} "
            row += " ".join(f"{_f(c['detection']) + ' (' + _f(c['clean_detection']) + ')':>15s} "
                            f"{_f(c['fpr']) + ' (' + _f(c['clean_fpr']) + ')':>15s}" for c in cells)
            if delta:
                dd = delta["attacked"]["overall"] if name == "overall" else delta["attacked"]["per_strategy"][name]
                row += f" {_f(dd['detection'], True):>8s} {_f(dd['fpr'], True):>8s}"
            lines.append(row)
    return "\n".join(lines)
