"""Search: pick among strategy outputs using the defender's black-box ``score(texts)``.

* :func:`word_importance`: delete-one scoring (one batched ``score`` call for the text and all
  its deletions); the words whose removal lowers P(toxic) the most are attacked first.
* :class:`GreedySearch`: attack words in importance order (TextAttack's greedy word importance
  ranking); at each word, score the strategies' candidates and keep the one that lowers
  P(toxic) the most (if it lowers it at all); stop when P(toxic) < ``threshold`` or the query
  budget is spent.
* :class:`RandomSearch`: the baseline: random strategy draws (default targeting) under the
  same query budget.

A *query* is one text scored by the defender: ``score([a, b, c])`` costs 3. The original text
costs one query; a text already scored is never scored again. Both searches stay within
``query_budget`` exactly and report ``queries``. The goal is a label flip from toxic (P >=
threshold) to non-toxic (P < threshold).
"""

from __future__ import annotations

import dataclasses
import difflib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from arena.attack.base import Strategy, derive_seed, salience_key
from arena.attack.lexicon import is_markup
from arena.attack.registry import get_strategy
from arena.errors import ArenaError
from arena.types import Candidate, Scorer

#: candidates -> the same candidates with ``valid`` filled in (e.g. ``constraints.validate``)
Constraint = Callable[[list[Candidate]], list[Candidate]]


class QueryBudgetExceeded(ArenaError):
    """A search tried to score more texts than its query budget allows."""


class QueryCounter:
    """A :class:`~arena.types.Scorer` wrapper that counts scored texts and enforces a budget."""

    def __init__(self, scorer: Scorer, budget: int):
        if budget < 1:
            raise ValueError(f"query budget must be >= 1, got {budget}")
        self.scorer = scorer
        self.budget = budget
        self.queries = 0

    @property
    def remaining(self) -> int:
        return self.budget - self.queries

    def score(self, texts: Sequence[str]) -> list[float]:
        texts = list(texts)
        if len(texts) > self.remaining:
            raise QueryBudgetExceeded(f"{len(texts)} texts to score but only {self.remaining} queries left")
        if not texts:
            return []
        scores = [float(s) for s in self.scorer.score(texts)]
        if len(scores) != len(texts):
            raise ArenaError(f"scorer returned {len(scores)} scores for {len(texts)} texts")
        self.queries += len(texts)
        return scores


@dataclass(frozen=True)
class WordImportance:
    """Delete-one importance: ``scores[i] = base_score - P(toxic | text without word i)``.

    ``order`` lists every word index, most important first (unscored words last, by the default
    salience heuristic); ``queries`` is the number of texts scored.
    """

    base_score: float
    scores: list[float]
    order: list[int]
    queries: int


def word_importance(text: str, scorer: Scorer, *, max_words: int = 64) -> WordImportance:
    """Score ``text`` and each of its one-word deletions in one ``scorer.score`` call.

    Texts with more than ``max_words`` words score only the ``max_words`` most salient ones
    (content words, longer first), so the cost is at most ``1 + max_words`` queries.
    """
    return word_importance_many([text], scorer, max_words=max_words)[0]


def word_importance_many(texts: Sequence[str], scorer: Scorer, *, max_words: int = 64) -> list[WordImportance]:
    """:func:`word_importance` of many texts with ONE ``scorer.score`` call over all their deletions.

    One call lets the defender batch (and length-sort) thousands of short variants instead of
    ~17 per call, which is what makes targeting affordable on a CPU. Queries are still counted
    per text.
    """
    plans: list[tuple[list[str], list[int], list[int]]] = []
    queries: list[str] = []
    for text in texts:
        words = text.split()
        ranked = sorted(range(len(words)), key=lambda i: (is_markup(words[i]), *salience_key(words[i]), i))
        scored = sorted(ranked[: max(0, max_words)])
        plans.append((words, ranked, scored))
        queries.append(text)
        queries.extend(" ".join(words[:i] + words[i + 1 :]) for i in scored)
    results = scorer.score(queries) if queries else []
    out: list[WordImportance] = []
    pos = 0
    for words, ranked, scored in plans:
        base = float(results[pos])
        scores = [0.0] * len(words)
        for i, s in zip(scored, results[pos + 1 : pos + 1 + len(scored)], strict=True):
            scores[i] = base - float(s)
        pos += 1 + len(scored)
        scored_set = set(scored)
        order = sorted(scored, key=lambda i: (-scores[i], i)) + [i for i in ranked if i not in scored_set]
        out.append(WordImportance(base_score=base, scores=scores, order=order, queries=1 + len(scored)))
    return out


@dataclass(frozen=True)
class SearchResult:
    """Outcome of one search: ``best`` has the lowest P(toxic) found (``None`` when no candidate
    was scored or the original is already below the threshold); ``success`` = label flipped."""

    original: str
    original_score: float
    best: Candidate | None
    queries: int
    success: bool
    threshold: float


def _resolve(strategies: Sequence[Strategy | str]) -> list[Strategy]:
    resolved = [get_strategy(s) if isinstance(s, str) else s for s in strategies]
    if not resolved:
        raise ValueError("a search needs at least one strategy")
    return resolved


def _keep_valid(cands: list[Candidate], constraint: Constraint | None) -> list[Candidate]:
    if constraint is None or not cands:
        return cands
    return [c for c in constraint(cands) if c.valid is not False]


def _remap(old: list[str], new: list[str]) -> dict[int, int]:
    """Old word index -> new word index for words outside the edited region."""
    if len(old) == len(new):
        return {i: i for i in range(len(old))}
    mapping: dict[int, int] = {}
    for block in difflib.SequenceMatcher(None, old, new, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            mapping[block.a + k] = block.b + k
    return mapping


@dataclass
class GreedySearch:
    """Greedy word-importance search under a query budget.

    Args:
        strategies: strategy names or instances whose candidates compete at each word.
        query_budget: most texts scored per attacked text (importance included).
        threshold: success when P(toxic) < threshold.
        candidates_per_word: candidates drawn from each strategy at each word.
        budget_per_word: strategy budget at each word (None = the strategy's default), spent
            on that word only.
        max_importance_words: at most this many words are scored for importance.
        constraint: filter applied before scoring (e.g. ``functools.partial(validate, rules=...)``);
            candidates it marks invalid are never scored.
    """

    strategies: Sequence[Strategy | str]
    query_budget: int = 30
    threshold: float = 0.5
    candidates_per_word: int = 2
    budget_per_word: int | None = None
    max_importance_words: int = 16
    constraint: Constraint | None = field(default=None, repr=False)

    def run(self, text: str, scorer: Scorer, seed: int = 0) -> SearchResult:
        strategies = _resolve(self.strategies)
        counter = QueryCounter(scorer, self.query_budget)
        importance = word_importance(
            text, counter, max_words=min(self.max_importance_words, self.query_budget - 1)
        )
        original_score = importance.base_score
        if original_score < self.threshold:
            return SearchResult(text, original_score, None, counter.queries, False, self.threshold)
        rng = random.Random(seed)
        current, current_score, last = text, original_score, None
        scored: dict[str, float] = {text: original_score}
        steps: list[dict] = []
        position = {i: i for i in range(len(text.split()))}
        for word in importance.order:
            if counter.remaining <= 0 or current_score < self.threshold:
                break
            j = position.get(word)
            if j is None:
                continue
            pool: dict[str, Candidate] = {}
            for strategy in strategies:
                for cand in strategy(
                    current, rng.getrandbits(63), self.budget_per_word, self.candidates_per_word, [j], True
                ):
                    if cand.text not in scored and cand.text not in pool:
                        pool[cand.text] = dataclasses.replace(cand, original=text)
            cands = _keep_valid(list(pool.values()), self.constraint)[: counter.remaining]
            if not cands:
                continue
            scores = counter.score([c.text for c in cands])
            scored.update(zip((c.text for c in cands), scores, strict=True))
            k = min(range(len(cands)), key=scores.__getitem__)
            if scores[k] < current_score:
                chosen = cands[k]
                remap = _remap(current.split(), chosen.text.split())
                position = {w: remap[p] for w, p in position.items() if p != j and p in remap}
                current, current_score, last = chosen.text, scores[k], chosen
                steps.append(
                    {"word": word, "strategy": chosen.strategy, "seed": chosen.seed, "params": chosen.params}
                )
        if last is None:
            return SearchResult(text, original_score, None, counter.queries, False, self.threshold)
        names = list(dict.fromkeys(step["strategy"] for step in steps))
        best = Candidate(
            original=text,
            text=current,
            strategy="+".join(names),
            params={"search": "greedy", "steps": steps, "query_budget": self.query_budget},
            seed=seed,
            validity=last.validity,
            valid=last.valid,
            score=current_score,
        )
        return SearchResult(
            text, original_score, best, counter.queries, current_score < self.threshold, self.threshold
        )


@dataclass
class RandomSearch:
    """Baseline: draw (strategy, seed) at random, one candidate each, scored in batches.

    Args:
        strategies: strategy names or instances drawn uniformly.
        query_budget: most texts scored (the original included).
        threshold: success when P(toxic) < threshold.
        batch_size: candidates scored per ``score`` call.
        budget: strategy budget (None = each strategy's default).
        constraint: filter applied before scoring.
    """

    strategies: Sequence[Strategy | str]
    query_budget: int = 30
    threshold: float = 0.5
    batch_size: int = 8
    budget: int | None = None
    constraint: Constraint | None = field(default=None, repr=False)

    def run(self, text: str, scorer: Scorer, seed: int = 0) -> SearchResult:
        strategies = _resolve(self.strategies)
        counter = QueryCounter(scorer, self.query_budget)
        original_score = counter.score([text])[0]
        if original_score < self.threshold:
            return SearchResult(text, original_score, None, counter.queries, False, self.threshold)
        rng = random.Random(seed)
        seen = {text}
        best: Candidate | None = None
        draw = 0
        while counter.remaining > 0 and (best is None or best.score >= self.threshold):
            want = min(self.batch_size, counter.remaining)
            batch: list[Candidate] = []
            for _ in range(4 * want):
                if len(batch) >= want:
                    break
                strategy = strategies[rng.randrange(len(strategies))]
                draw += 1
                for cand in strategy(text, derive_seed(seed, draw), self.budget, 1):
                    if cand.text not in seen:
                        seen.add(cand.text)
                        batch.append(cand)
            batch = _keep_valid(batch, self.constraint)[: counter.remaining]
            if not batch:
                break
            for cand, s in zip(batch, counter.score([c.text for c in batch]), strict=True):
                if best is None or s < best.score:
                    best = dataclasses.replace(cand, score=s)
        success = best is not None and best.score < self.threshold
        return SearchResult(text, original_score, best, counter.queries, success, self.threshold)
