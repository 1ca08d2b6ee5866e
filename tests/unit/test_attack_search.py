"""Word importance, greedy and random search against a fake defender with exact query counts."""

from __future__ import annotations

import functools
import re

import pytest

from arena.attack import (
    GreedySearch,
    QueryBudgetExceeded,
    QueryCounter,
    RandomSearch,
    ValidityRules,
    get_strategy,
    validate,
    visible_skeleton,
    word_importance,
    word_importance_many,
)

BAD = {"idiot", "stupid", "moron"}


class BadWordScorer:
    """P(toxic) = min(1, 0.6 * number of exact bad words); counts every call and text."""

    def __init__(self):
        self.calls = 0
        self.texts = 0

    def score(self, texts):
        self.calls += 1
        self.texts += len(texts)
        return [min(1.0, 0.6 * sum(re.sub(r"[^\w]", "", w.lower()) in BAD for w in t.split())) for t in texts]


TEXT = "honestly you are a stupid idiot and we all know it"


def test_importance_ranks_the_bad_words_first_in_one_call():
    scorer = BadWordScorer()
    imp = word_importance(TEXT, scorer)
    words = TEXT.split()
    assert {words[imp.order[0]], words[imp.order[1]]} == {"stupid", "idiot"}
    assert imp.base_score == 1.0
    assert imp.queries == 1 + len(words) == scorer.texts
    assert scorer.calls == 1
    assert sorted(imp.order) == list(range(len(words)))


def test_importance_of_many_texts_is_one_call_with_the_same_results():
    texts = [TEXT, "you stupid moron", "a perfectly nice sentence", "", " ".join(["filler"] * 30 + ["idiot"])]
    singles = [word_importance(t, BadWordScorer(), max_words=10) for t in texts]
    scorer = BadWordScorer()
    many = word_importance_many(texts, scorer, max_words=10)
    assert many == singles
    assert scorer.calls == 1 and scorer.texts == sum(imp.queries for imp in singles)
    assert word_importance_many([], scorer) == [] and scorer.calls == 1  # nothing to score: no call


def test_importance_caps_scored_words():
    scorer = BadWordScorer()
    long_text = " ".join(["filler"] * 200 + ["idiot"])
    imp = word_importance(long_text, scorer, max_words=10)
    assert imp.queries == 11 == scorer.texts
    assert imp.order[0] == 200  # the explicit word is salient, so it is among the scored ones


def test_query_counter_enforces_the_budget():
    counter = QueryCounter(BadWordScorer(), 3)
    counter.score(["a", "b"])
    assert counter.remaining == 1
    with pytest.raises(QueryBudgetExceeded):
        counter.score(["c", "d"])
    assert counter.queries == 2


@pytest.mark.parametrize("strategy", ["homoglyph", "leet", "separators", "split_merge", "unicode_evasion"])
def test_greedy_flips_within_the_budget_and_counts_queries(strategy):
    scorer = BadWordScorer()
    result = GreedySearch([strategy], query_budget=40).run(TEXT, scorer, seed=0)
    assert result.success
    assert result.original_score == 1.0
    assert result.best.score < 0.5 == result.threshold
    assert result.queries == scorer.texts <= 40
    assert result.best.original == TEXT and result.best.strategy == strategy
    assert [step["word"] for step in result.best.params["steps"]] == [4, 5]  # stupid, then idiot
    assert result.best.params["search"] == "greedy"


def test_greedy_attacks_only_the_important_words():
    result = GreedySearch(["homoglyph"], query_budget=40, candidates_per_word=1).run(
        TEXT, BadWordScorer(), seed=1
    )
    changed = [a for a, b in zip(TEXT.split(), result.best.text.split(), strict=True) if a != b]
    assert sorted(changed) == ["idiot", "stupid"]
    assert visible_skeleton(result.best.text) == visible_skeleton(TEXT)


def test_greedy_is_deterministic_for_a_seed():
    a = GreedySearch(["leet", "typos"], query_budget=40).run(TEXT, BadWordScorer(), seed=5)
    b = GreedySearch(["leet", "typos"], query_budget=40).run(TEXT, BadWordScorer(), seed=5)
    assert a.best.text == b.best.text and a.queries == b.queries


def test_greedy_stops_at_the_query_budget():
    scorer = BadWordScorer()
    result = GreedySearch(["homoglyph"], query_budget=5, max_importance_words=16).run(TEXT, scorer, seed=0)
    assert result.queries == scorer.texts <= 5
    assert not result.success  # 5 queries are spent on importance (1 + 4 words)


def test_greedy_on_a_non_toxic_text_spends_only_importance():
    scorer = BadWordScorer()
    result = GreedySearch(["homoglyph"], query_budget=30).run("have a nice day", scorer)
    assert result.best is None and not result.success
    assert result.queries == scorer.texts == 5


def test_greedy_never_scores_invalid_candidates():
    scorer = BadWordScorer()

    def reject_all(cands):
        return [c.__class__(**{**c.to_dict(), "valid": False, "validity": 0.0}) for c in cands]

    result = GreedySearch(["leet"], query_budget=40, constraint=reject_all).run(TEXT, scorer)
    assert result.best is None
    assert scorer.texts == 1 + len(TEXT.split())


def test_greedy_with_validate_keeps_validity():
    check = functools.partial(validate, rules=ValidityRules(max_edit_ratio=0.2))
    result = GreedySearch(["homoglyph"], query_budget=40, constraint=check).run(TEXT, BadWordScorer())
    assert result.success and result.best.valid is True and result.best.validity == 1.0


def test_random_search_respects_the_budget_exactly():
    for budget in (1, 2, 7, 20):
        scorer = BadWordScorer()
        result = RandomSearch(["typos", "masking", "case_mix"], query_budget=budget, batch_size=4).run(
            TEXT, scorer, 3
        )
        assert result.queries == scorer.texts <= budget


def test_random_search_finds_an_evasion_and_records_provenance():
    scorer = BadWordScorer()
    result = RandomSearch(["homoglyph"], query_budget=30, budget=6).run(TEXT, scorer, seed=0)
    assert result.success and result.best.score < 0.5
    assert result.best.strategy == "homoglyph" and isinstance(result.best.seed, int)
    replay = get_strategy("homoglyph")(TEXT, result.best.seed, budget=6)[0]
    assert replay.text == result.best.text


def test_random_search_stops_when_nothing_can_be_generated():
    scorer = BadWordScorer()
    result = RandomSearch(["phonetic"], query_budget=30).run("idiot idiot", scorer)
    assert result.queries == scorer.texts == 1
    assert result.best is None and not result.success


def test_search_needs_strategies():
    with pytest.raises(ValueError):
        GreedySearch([]).run(TEXT, BadWordScorer())
