"""The attack pipeline, built once from config: strategies + constraints + goal + search.

TextAttack's four parts, as every attacker of this project uses them (the campaign's
``Attacker`` in arena/arena.py, ``arena attack``, the Serve ``AttackerDeployment``, ``arena eval``
and bench/attack.py)::

    pipe = AttackPipeline.from_config(cfg)                  # cfg: arena.config.ArenaConfig
    res = pipe.attack_text("you are an idiot", defender, seed=0, n=2)
    res.candidates[0]                                        # the lowest-scored valid candidate

* **strategies**: :func:`select_strategies` is the one meaning of ``all``: every registered
  strategy and recipe, minus ``attack.exclude``, minus the LLM family unless asked for;
* **constraints**: :func:`validity_rules` (``attack.max_edit_ratio``, ``attack.min_similarity``);
* **goal**: a label flip, toxic (P >= the defender's threshold) to non-toxic;
* **search** (``attack.search``): ``greedy`` targets words in delete-one importance order through
  the defender's black-box ``score`` (one shot: importance once, then the best of the strategy's
  ``n`` candidates, the lowest score); ``greedy_words`` is TextAttack's greedy word-importance
  search step by step (:class:`arena.attack.search.GreedySearch`: at each word in importance order
  the strategy's ``n`` rewrites of that word are scored and the best kept if it lowers P(toxic),
  until the label flips or the budget is spent; stronger, and more queries per attack);
  ``random`` lets each strategy draw its positions at random (no importance queries). ``none`` is
  an alias of ``random`` kept for old configs.
* **query budget** (``attack.query_budget``): defender queries per attack (one text, one
  strategy), counted as in arena/attack/search.py (one text scored = one query). Importance
  scores the text and at most ``min(16, query_budget - 1)`` one-word deletions; a strategy's
  candidates are scored until the budget is spent (those beyond it stay unscored). With the
  default 30 and at most 8 candidates neither limit binds.

:func:`llm_params` builds the LLM strategies' parameters from ``attack.llm`` (one place).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from arena.attack.constraints import ValidityRules, validate
from arena.attack.registry import get_strategy, list_strategies
from arena.attack.search import GreedySearch, word_importance, word_importance_many
from arena.errors import ConfigError
from arena.types import Candidate

#: at most this many words of a text are scored by delete-one importance (the most salient ones)
IMPORTANCE_WORDS = 16
SEARCHES = ("greedy", "greedy_words", "random", "none")


def select_strategies(spec: str | Sequence[str], *, llm: bool = False, exclude: Sequence[str] = ()) -> list[str]:
    """Strategy names for a spec: names and/or ``all`` (comma-separated strings are split).

    ``all`` = every registered strategy and recipe, minus ``exclude``, minus the LLM family unless
    ``llm``. Names given explicitly are kept as given. Unknown names raise :class:`ConfigError`
    listing the known ones; an empty selection too.
    """
    infos = {i.name: i for i in list_strategies()}
    items = [spec] if isinstance(spec, str) else list(spec)
    names = [n.strip() for item in items for n in str(item).split(",") if n.strip()]
    if not names:
        raise ConfigError("no strategy given: name one or all (`arena attack --list` shows them)")
    chosen: list[str] = []
    for name in names:
        if name == "all":
            chosen += [n for n, i in infos.items() if n not in exclude and (llm or "llm" not in i.families)]
        elif name in infos:
            chosen.append(name)
        else:
            raise ConfigError(f"unknown strategy {name!r}; known: all, {', '.join(sorted(infos))}")
    return list(dict.fromkeys(chosen))


def validity_rules(attack_cfg) -> ValidityRules:
    """The constraints of ``attack`` (an ``AttackConfig``)."""
    return ValidityRules(max_edit_ratio=attack_cfg.max_edit_ratio, min_similarity=attack_cfg.min_similarity)


def llm_params(llm_cfg) -> dict[str, Any]:
    """Keyword arguments of an LLM strategy from ``attack.llm`` (an ``LLMConfig``): the backend gets
    ``attack.llm.engine_kwargs`` plus the model (``model_path`` for llama_cpp) and ``base_url``."""
    backend_kwargs: dict[str, Any] = dict(llm_cfg.engine_kwargs)
    if llm_cfg.model:
        backend_kwargs["model_path" if llm_cfg.backend == "llama_cpp" else "model"] = llm_cfg.model
    if llm_cfg.base_url:
        backend_kwargs["base_url"] = llm_cfg.base_url
    return {"backend": llm_cfg.backend, "backend_kwargs": backend_kwargs, "samples": llm_cfg.samples,
            "temperature": llm_cfg.temperature, "max_tokens": llm_cfg.max_tokens}


@dataclass
class TextAttackResult:
    """One text attacked by :meth:`AttackPipeline.attack_text`."""

    original: str
    original_score: float | None
    candidates: list[Candidate]  # validated; the scored valid ones first, lowest score first
    queries: int


@dataclass
class AttackPipeline:
    """Strategies + constraints + search + query budget; see the module docstring."""

    strategies: list[str]
    rules: ValidityRules = field(default_factory=ValidityRules)
    search: str = "greedy"
    query_budget: int = 30
    budget: int | None = None  # words/characters a strategy may touch (None = its default)
    llm: Any = None  # an LLMConfig for LLM strategies (None = their defaults)
    factory: Callable[[str, dict[str, Any]], Any] | None = None  # (name, params) -> strategy
    _built: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.search not in SEARCHES:
            raise ConfigError(f"attack.search must be one of {', '.join(SEARCHES)}, got {self.search!r}")
        if self.query_budget < 1:
            raise ConfigError(f"attack.query_budget must be >= 1, got {self.query_budget}")
        infos = {i.name: i for i in list_strategies()}
        unknown = [n for n in self.strategies if n not in infos]
        if unknown:
            raise ConfigError(f"attack.strategies: unknown {unknown} (see `arena attack --list`)")
        self.families = {n: infos[n].family for n in self.strategies}
        self.family_sets = {n: set(infos[n].families) for n in self.strategies}

    @classmethod
    def from_config(cls, cfg, strategies: str | Sequence[str] | None = None, *, llm: bool | None = None,
                    factory: Callable[[str, dict[str, Any]], Any] | None = None) -> AttackPipeline:
        """The pipeline of ``cfg.attack``; ``strategies`` (default ``attack.strategies``) through
        :func:`select_strategies`, with the LLM family in ``all`` when ``llm`` (default ``attack.use_llm``)."""
        a = cfg.attack
        spec = a.strategies if strategies is None else strategies
        names = select_strategies(spec, llm=a.use_llm if llm is None else llm, exclude=a.exclude)
        return cls(names, validity_rules(a), a.search, a.query_budget, a.budget, a.llm, factory)

    @property
    def targeted(self) -> bool:
        """Whether the search targets words by importance (``greedy``, ``greedy_words``)."""
        return self.search in ("greedy", "greedy_words")

    def word_search(self, strategy, n: int, budget: int | None, threshold: float) -> GreedySearch:
        """The ``greedy_words`` search of one strategy: ``n`` rewrites of each word in importance order,
        constraints before scoring, within ``query_budget`` (importance included)."""
        from functools import partial

        return GreedySearch([strategy], query_budget=self.query_budget, threshold=threshold, candidates_per_word=n,
                            budget_per_word=budget, max_importance_words=max(1, self.importance_words),
                            constraint=partial(validate, rules=self.rules))

    @property
    def importance_words(self) -> int:
        """Words scored by delete-one importance: what the query budget leaves after the original."""
        return max(0, min(IMPORTANCE_WORDS, self.query_budget - 1))

    def strategy(self, name: str):
        """The strategy ``name``, built once (LLM strategies get :func:`llm_params`)."""
        if name not in self._built:
            families = self.family_sets.get(name)
            if families is None:  # a strategy outside the pipeline's own (e.g. a recipe asked for by name)
                infos = {i.name: i for i in list_strategies()}
                if name not in infos:
                    raise ConfigError(f"unknown strategy {name!r} (see `arena attack --list`)")
                families = set(infos[name].families)
            params = llm_params(self.llm) if self.llm is not None and "llm" in families else {}
            self._built[name] = (self.factory or (lambda n, p: get_strategy(n, **p)))(name, params)
        return self._built[name]

    def candidates(self, text: str, seed: int, n: int, targets: Sequence[int] | None,
                   strategies: Sequence[str] | None = None, budget: int | None = None) -> list[Candidate]:
        """Every strategy's (or ``strategies``') ``n`` candidates for ``text``, validated (not scored).
        ``budget`` (words/characters a strategy may touch) overrides ``attack.budget``."""
        from arena.attack.base import derive_seed

        budget = self.budget if budget is None else budget
        cands: list[Candidate] = []
        for k, name in enumerate(self.strategies if strategies is None else strategies):
            cands.extend(self.strategy(name)(text, derive_seed(seed, k), budget, n,
                                             list(targets) if targets is not None else None))
        return validate(cands, self.rules) if cands else []

    def attack_text(self, text: str, scorer=None, *, seed: int = 0, n: int = 1,
                    strategies: Sequence[str] | None = None, targeted: bool | None = None,
                    budget: int | None = None) -> TextAttackResult:
        """Attack one text with every strategy (or ``strategies``): search, constraints, scoring.

        One attack = one text and one strategy, as in a campaign: the importance pass (shared by
        the strategies) plus that strategy's scored candidates stay within ``query_budget``.
        Without a ``scorer`` nothing is targeted or scored (candidates in generation order).
        ``targeted`` overrides the configured search, ``budget`` ``attack.budget``, for this call.
        """
        targeted = self.targeted if targeted is None else targeted
        if targeted and scorer is not None and self.search == "greedy_words" and self.query_budget > 1:
            return self._attack_text_words(text, scorer, seed, n, strategies, budget)
        queries, base, targets = 0, None, None
        if scorer is not None:
            if targeted and self.importance_words > 0:
                imp = word_importance(text, scorer, max_words=self.importance_words)
                base, targets, queries = imp.base_score, imp.order, imp.queries
            else:
                base, queries = float(scorer.score([text])[0]), 1
        checked = self.candidates(text, seed, n, targets, strategies, budget)
        if scorer is None:
            return TextAttackResult(text, None, checked, 0)
        # one attack per strategy here: each gets what the budget leaves after the shared importance pass
        left = {c.strategy: self.query_budget - queries for c in checked}
        valid = [c for _, c in within_budget([(c.strategy, c) for c in checked], left)]
        scores = [float(s) for s in scorer.score([c.text for c in valid])] if valid else []
        scored_ids = {id(c) for c in valid}
        scored = sorted((Candidate(**{**c.to_dict(), "score": s}) for c, s in zip(valid, scores, strict=True)),
                        key=lambda c: c.score)
        rest = [c for c in checked if id(c) not in scored_ids]
        return TextAttackResult(text, base, scored + rest, queries + len(valid))

    def _attack_text_words(self, text: str, scorer, seed: int, n: int, strategies: Sequence[str] | None,
                           budget: int | None) -> TextAttackResult:
        """``greedy_words``: one :meth:`word_search` per strategy (each its own query budget)."""
        from arena.attack.base import derive_seed

        budget = self.budget if budget is None else budget
        threshold, found, queries, base = scorer_threshold(scorer), [], 0, None
        for k, name in enumerate(self.strategies if strategies is None else strategies):
            res = self.word_search(self.strategy(name), n, budget, threshold).run(text, scorer, derive_seed(seed, k))
            base, queries = res.original_score, queries + res.queries
            if res.best is not None:
                found.append(res.best)
        return TextAttackResult(text, base, sorted(found, key=lambda c: c.score), queries)

    def attack_many(self, items: Sequence[tuple[str, str]], strategy_of: Callable[[int], str], seed: int,
                    scorer, n: int, targeted: bool, importance: dict[str, Any] | None = None,
                    prefer: str = "low", log: Callable[[str], None] | None = None,
                    ) -> list[tuple[int, Candidate | None, int]]:
        """Attack each (text_id, text) once with its strategy ``strategy_of(k)``; return
        (index, best valid candidate, queries) per item. The campaign's batched form of :meth:`attack_text`.

        Targeting (``targeted`` and a ``scorer``): delete-one word importance through ``scorer``,
        top words first, taken from ``importance`` (text -> WordImportance; missing texts are
        computed in one batched call and added). All candidates of all texts are validated together
        and scored in one call, each attack's within what the query budget leaves it. The best is
        the lowest-scored candidate (an evasion), or the highest with ``prefer="high"`` (a hard
        negative). Without a ``scorer``: the first valid candidate of each text. A strategy that
        raises anything but an ArenaError is reported through ``log`` and yields nothing.
        """
        import random

        from arena.errors import ArenaError

        if targeted and scorer is not None and self.search == "greedy_words" and self.query_budget > 1 and prefer == "low":
            out = []
            for k, (_, text) in enumerate(items):
                strat = self.strategy(strategy_of(k))
                search = self.word_search(strat, n, self.budget, scorer_threshold(scorer))
                res = search.run(text, scorer, random.Random(seed * 1_000_003 + k).getrandbits(63))
                best = res.best
                if best is not None:  # one strategy: the campaign's record names it, not "+"-joined steps
                    best = Candidate(**{**best.to_dict(), "strategy": strat.name})
                out.append((k, best, res.queries))
            return out
        importance = {} if importance is None else importance
        if targeted and scorer is not None:  # every missing text's deletions in one batched call
            missing = list(dict.fromkeys(t for _, t in items if t not in importance))
            importance.update(zip(missing, word_importance_many(missing, scorer, max_words=self.importance_words),
                                  strict=True))
        cands: list[tuple[int, Candidate]] = []
        queries = [0] * len(items)
        for k, (_, text) in enumerate(items):
            targets = None
            if targeted and scorer is not None:
                imp = importance[text]
                targets, queries[k] = imp.order, imp.queries
            strat = self.strategy(strategy_of(k))
            try:
                out = strat(text, random.Random(seed * 1_000_003 + k).getrandbits(63), self.budget, n, targets)
            except ArenaError:
                raise
            except Exception as exc:  # a strategy bug must not kill a campaign; it is reported
                if log is not None:
                    log(f"warning: {strat.name} failed on one text: {exc!r}")
                out = []
            cands.extend((k, c) for c in out)
        checked = validate([c for _, c in cands], self.rules) if cands else []
        keyed = [(k, c) for (k, _), c in zip(cands, checked, strict=True)]
        if scorer is None:  # untargeted (benign suite): the first valid candidate of each text
            best: dict[int, Candidate] = {}
            for k, c in keyed:
                if c.valid:
                    best.setdefault(k, c)
            return [(k, best.get(k), queries[k]) for k in range(len(items))]
        valid = within_budget(keyed, {k: self.query_budget - q for k, q in enumerate(queries)})
        best = {}
        if valid:
            scores = scorer.score([c.text for _, c in valid])
            sign = -1.0 if prefer == "high" else 1.0
            for (k, c), sc in zip(valid, scores, strict=True):
                queries[k] += 1
                if k not in best or sign * sc < sign * best[k].score:
                    best[k] = Candidate(**{**c.to_dict(), "score": float(sc)})
        return [(k, best.get(k), queries[k]) for k in range(len(items))]


def scorer_threshold(scorer) -> float:
    """The decision threshold of a scorer: its ``threshold``, its ``spec.threshold`` (a Defender), else 0.5."""
    thr = getattr(scorer, "threshold", None)
    if thr is None:
        thr = getattr(getattr(scorer, "spec", None), "threshold", None)
    return 0.5 if thr is None else float(thr)


def within_budget(keyed: Sequence[tuple[Any, Candidate]], left: dict[Any, int]) -> list[tuple[Any, Candidate]]:
    """The valid candidates the query budget lets each attack score: ``keyed`` is (attack key,
    candidate) in generation order, ``left[key]`` the queries that attack has left (spent here).
    The one place the per-attack cap is applied (:meth:`AttackPipeline.attack_text` and
    :meth:`AttackPipeline.attack_many`)."""
    out = []
    for key, c in keyed:
        if c.valid and left.get(key, 0) > 0:
            out.append((key, c))
            left[key] -= 1
    return out
