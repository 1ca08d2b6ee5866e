"""Validity: the visible-skeleton edit budget and the MiniLM similarity rule."""

from __future__ import annotations

import math

import pytest

from arena.attack import ValidityRules, edit_ratio, get_strategy, similarities, validate, visible_skeleton
from arena.attack.constraints import display_order
from arena.errors import ConfigError
from arena.types import Candidate

TEXT = "you are a stupid idiot and everyone knows it"


def cand(text, strategy="leet", original=TEXT):
    return Candidate(original=original, text=text, strategy=strategy)


def test_skeleton_undoes_imperceptible_perturbations():
    assert visible_skeleton("id\u200biot") == "idiot"
    assert visible_skeleton("\u202etoidi\u202c") == "idiot"
    assert visible_skeleton("idi\u202eto\u202c") == "idiot"
    assert visible_skeleton("ìdíot") == visible_skeleton("i\u0300di\u0301ot") == "idiot"
    assert visible_skeleton("іdіоt") == "idiot"  # Cyrillic і and о
    assert visible_skeleton("IDIOT") == "idiot"


def test_display_order_handles_nesting_and_unterminated_runs():
    # RLO( b LRO(cd) ) displays as "cd" left of "b"
    assert visible_skeleton("a\u202eb\u202dcd\u202c\u202c") == "acdb"
    assert display_order("no controls") == "no controls"
    assert visible_skeleton("x\u202eab") == "xba"
    assert visible_skeleton("plain") == "plain"


def test_display_order_resolves_the_space_between_two_overridden_words():
    """UAX #9, not a reversal per run: a space between two right-to-left runs takes their direction,
    so the two words swap places on screen. A validator that reversed each run alone called this
    attack invisible while a reader sees ``as yours``."""
    swapped = "Got \u202eruoy\u202c \u202esa\u202cs lmao"
    assert visible_skeleton(swapped) == "got as yours lmao"
    assert edit_ratio("Got your ass lmao", swapped) > 0
    marked = "Got \u202eruoy\u202c\u200e \u202esa\u202c\u200es lmao"  # closed by a left-to-right mark
    assert visible_skeleton(marked) == "got your ass lmao"
    assert edit_ratio("Got your ass lmao", marked) == 0.0


def test_edit_ratio_counts_visible_changes_only():
    assert edit_ratio("idiot", "idiot") == 0.0
    assert edit_ratio("idiot", "1d10t") == pytest.approx(3 / 5)
    assert edit_ratio("", "") == 0.0
    assert edit_ratio("abc", "") == 1.0


def test_character_attacks_are_valid_within_the_budget():
    out = validate([cand("you are a $tupid 1diot and everyone knows it")])
    assert out[0].valid is True
    assert out[0].validity == pytest.approx(1 - 2 / len(TEXT))
    heavy = validate([cand("yuo r a stpd idt n evry1 nos it")])[0]
    assert heavy.valid is False and heavy.validity < 0.65


@pytest.mark.parametrize("name", ["homoglyph", "invisible", "bidi", "diacritics", "unicode_evasion"])
def test_imperceptible_strategies_get_full_validity(name):
    cands = get_strategy(name)(TEXT, 0, budget=3, n=3)
    assert all(c.validity == 1.0 and c.valid for c in validate(cands))


def test_validate_keeps_order_and_marks_empty_invalid():
    cands = [
        cand("you are a stup1d idiot and everyone knows it"),
        cand("   "),
        cand("idiot and knows", "typos"),
    ]
    out = validate(cands)
    assert [c.text for c in out] == [c.text for c in cands]
    assert out[1].valid is False and out[1].validity == 0.0
    assert cands[0].validity is None  # inputs are not mutated


class FakeEmbedder:
    """Bag-of-letters vectors, L2-normalised; counts calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, texts):
        self.calls += 1
        rows = []
        for t in texts:
            v = [t.lower().count(ch) for ch in "abcdefghijklmnopqrstuvwxyz"]
            norm = math.sqrt(sum(x * x for x in v)) or 1.0
            rows.append([x / norm for x in v])
        return rows


def test_semantic_rule_uses_similarity_and_length_bounds():
    emb = FakeEmbedder()
    cands = [
        cand("you are a stupid idiot and everyone knows it!", "llm_rewrite"),  # same letters, valid
        cand("zzz qqq", "llm_rewrite"),  # dissimilar and too short
        cand(" ".join(["you are a stupid idiot and everyone knows it"] * 3), "llm_rewrite"),  # too long
        cand("you are a stupld idiot and everyone knows it", "leet"),  # edit rule, no embedding needed
    ]
    out = validate(cands, ValidityRules(min_similarity=0.9), embedder=emb)
    assert emb.calls == 1
    assert out[0].valid and out[0].validity == pytest.approx(1.0)
    assert not out[1].valid and out[1].validity < 0.5
    assert not out[2].valid and out[2].validity == pytest.approx(1.0)  # similar but 3x longer
    assert out[3].valid


def test_no_embedding_call_for_character_attacks_only():
    emb = FakeEmbedder()
    validate([cand("you are a stup1d idiot and everyone knows it")], embedder=emb)
    assert emb.calls == 0


def test_unknown_and_combined_strategy_names():
    from arena.attack.constraints import validity_kind

    assert validity_kind("leet") == "edit"
    assert validity_kind("emoji") == "semantic" and validity_kind("phonetic_leet") == "edit"
    assert validity_kind("homoglyph+leet") == "edit"
    assert validity_kind("leet+llm_rewrite") == "semantic"
    assert validity_kind("someone_else") == "semantic"


def test_rules_are_checked():
    with pytest.raises(ConfigError):
        ValidityRules(max_edit_ratio=0)
    with pytest.raises(ConfigError):
        ValidityRules(min_similarity=2)
    with pytest.raises(ConfigError):
        ValidityRules(min_length_ratio=1.5)


def test_minilm_similarity_orders_meaning():
    sims = similarities(
        ["you are a stupid idiot", "you are a stupid idiot"],
        ["you are a very dumb fool", "the weather is sunny in Paris today"],
    )
    assert sims[0] > 0.5 > sims[1]
    assert sims[0] > sims[1] + 0.3
    out = validate([cand("you are a very dumb fool", "llm_rewrite", "you are a stupid idiot")])
    assert out[0].validity == pytest.approx(sims[0], abs=1e-4)
