"""The attacker: strategies rewrite toxic text, constraints keep the meaning, a search picks.

    import random
    from arena.attack import get_strategy, list_strategies, validate, GreedySearch

    homoglyph = get_strategy("homoglyph")
    candidates = homoglyph("you are an idiot", rng=7, budget=2, n=3)   # list[Candidate]
    candidates = validate(candidates)                                    # validity, valid filled in
    result = GreedySearch(["homoglyph", "leet"], query_budget=30).run("you are an idiot", defender)

Importing this package registers every built-in strategy and recipe; it imports neither torch
nor ray (the sentence model behind ``validate`` and the LLM backends load on first use).
See docs/attack.md.
"""

from arena.attack import char, llm, recipes, unicode, word  # noqa: F401  (register the built-ins)
from arena.attack.bandit import ThompsonBandit
from arena.attack.base import CharEditStrategy, Strategy, WordRewriteStrategy, Words, derive_seed
from arena.attack.constraints import (
    MiniLMEmbedder,
    ValidityRules,
    edit_ratio,
    similarities,
    validate,
    visible_skeleton,
)
from arena.attack.recipes import Recipe, register_recipe
from arena.attack.registry import (
    FAMILIES,
    StrategyInfo,
    get_strategy,
    list_strategies,
    register_strategy,
    strategy_names,
)
from arena.attack.search import (
    GreedySearch,
    QueryBudgetExceeded,
    QueryCounter,
    RandomSearch,
    SearchResult,
    WordImportance,
    word_importance,
    word_importance_many,
)

__all__ = [
    "FAMILIES",
    "CharEditStrategy",
    "GreedySearch",
    "MiniLMEmbedder",
    "QueryBudgetExceeded",
    "QueryCounter",
    "RandomSearch",
    "Recipe",
    "SearchResult",
    "Strategy",
    "StrategyInfo",
    "ThompsonBandit",
    "ValidityRules",
    "WordImportance",
    "WordRewriteStrategy",
    "Words",
    "derive_seed",
    "edit_ratio",
    "get_strategy",
    "list_strategies",
    "register_recipe",
    "register_strategy",
    "similarities",
    "strategy_names",
    "validate",
    "visible_skeleton",
    "word_importance",
    "word_importance_many",
]
