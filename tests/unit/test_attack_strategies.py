"""Contract suite: every registered strategy and recipe (llm_rewrite with a fake backend).

Like peft's ``PeftCommonTester``: one set of checks, parametrized over the registry, so a new
strategy is tested by registering it.
"""

from __future__ import annotations

import difflib
import json
import random
import time

import pytest
from rapidfuzz.distance import Levenshtein

from arena.attack import get_strategy, list_strategies
from arena.attack.registry import get_strategy_class

SENTENCE = "You are such a stupid idiot and everyone thinks you should shut up, loser!"

WEIRD = [
    "",
    "   \n\t ",
    "a",
    "!!! ??? ...",
    "🤬🤬🤬 😡👎",
    "你这个白痴，滚开吧",
    "أنت غبي جدا ولا أحد يحبك",
    "אתה אידיוט מוחלט",
    "\u202e\u200b\u00ad",
    "@USER @USER URL",
    "ǅemal ŉ ß İstanbul ﬁne",
    "x" * 300,
]


class FakeLLM:
    """Follows arena.llm's generate() contract; completion j depends only on (seed, j)."""

    POOL = [
        "your intellect is a rare and fragile thing",
        "one can only admire how little you understand",
        "you are a stupid idiot",  # explicit: rejected
        "your ignorance is simply astounding",  # copies a few-shot example: rejected
        "nobody has ever been so confidently wrong about everything",
        "Polite insult: what a remarkable talent for missing the point",
        "wow " * 30,  # runaway: rejected
        "perhaps silence would suit you better than speech",
    ]

    def __init__(self):
        self.calls = []

    def generate(self, prompts, n=1, temperature=0.8, max_tokens=48, seed=None, stop=None):
        self.calls.append(
            {"prompts": list(prompts), "n": n, "seed": seed, "stop": stop, "temperature": temperature}
        )
        out = []
        for _ in prompts:
            out.append([random.Random(f"{seed}:{j}").choice(self.POOL) for j in range(n)])
        return out


def make(name, **params):
    if name == "llm_rewrite":
        params.setdefault("backend", FakeLLM())
    return get_strategy(name, **params)


NAMES = [row.name for row in list_strategies()]
RULE_BASED = [name for name in NAMES if name != "llm_rewrite"]


def touched_words(original: str, text: str) -> set[int]:
    """Indices of original words that are not left unchanged in ``text`` (word alignment)."""
    old, new = original.split(), text.split()
    kept = set()
    for block in difflib.SequenceMatcher(None, old, new, autojunk=False).get_matching_blocks():
        kept.update(range(block.a, block.a + block.size))
    return set(range(len(old))) - kept


def units_used(name: str, original: str, text: str) -> int:
    unit = get_strategy_class(name).unit
    if unit == "chars":
        return Levenshtein.distance(original, text)
    if unit == "words":
        return len(touched_words(original, text))
    assert unit == "output_words"
    return len(text.split())


def test_registry_has_the_promised_strategies():
    rows = {row.name: row for row in list_strategies()}
    strategies = {n for n, r in rows.items() if r.kind == "strategy"}
    recipes = {n for n, r in rows.items() if r.kind == "recipe"}
    assert {
        "homoglyph", "invisible", "bidi", "diacritics", "leet", "separators", "typos", "masking",
        "split_merge", "case_mix", "emoji", "phonetic", "llm_rewrite",
    } <= strategies  # fmt: skip
    assert {"leet_invisible", "homoglyph_diacritic", "unicode_evasion", "typo_separator"} <= recipes
    assert {rows[n].family for n in strategies} == {"unicode", "char", "word", "llm"}
    for row in rows.values():
        assert row.description and "\n" not in row.description
        assert row.family in row.families or row.family == "mixed"


@pytest.mark.parametrize("name", NAMES)
def test_changes_the_text(name):
    cands = make(name)(SENTENCE, 0, n=3)
    assert cands, f"{name} produced nothing for a normal sentence"
    texts = [c.text for c in cands]
    assert SENTENCE not in texts
    assert len(set(texts)) == len(texts) <= 3


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_for_a_seed(name):
    first = [c.text for c in make(name)(SENTENCE, 42, n=3)]
    again = [c.text for c in make(name)(SENTENCE, 42, n=3)]
    assert first == again
    others = {tuple(c.text for c in make(name)(SENTENCE, seed, n=3)) for seed in range(6)}
    assert len(others) > 1, "different seeds should give different rewrites"


@pytest.mark.parametrize("name", NAMES)
def test_recorded_seed_replays_the_candidate(name):
    cands = make(name)(SENTENCE, 7, budget=None, n=3)
    replayable = cands[:1] if name == "llm_rewrite" else cands  # llm: (seed, sample index)
    for cand in replayable:
        again = make(name)(SENTENCE, cand.seed, budget=cand.params["budget"], n=1)
        assert again[0].text == cand.text


@pytest.mark.parametrize("name", NAMES)
def test_accepts_an_injected_rng(name):
    a = make(name)(SENTENCE, random.Random(5), n=2)
    b = make(name)(SENTENCE, random.Random(5).getrandbits(63), n=2)
    assert [c.text for c in a] == [c.text for c in b]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("budget", [1, 2, 3, 6])
def test_respects_the_budget(name, budget):
    strategy = make(name)
    for seed in range(4):
        for cand in strategy(SENTENCE, seed, budget=budget, n=2):
            used = units_used(name, SENTENCE, cand.text)
            assert used <= budget, f"{name} used {used} {strategy.unit} with budget {budget}: {cand.text!r}"
            assert cand.params["budget"] == budget


@pytest.mark.parametrize("name", RULE_BASED)
def test_only_targets_touches_only_the_target(name):
    target = SENTENCE.split().index("stupid")
    cands = make(name)(SENTENCE, 3, budget=3, n=3, targets=[target], only_targets=True)
    assert cands
    for cand in cands:
        assert touched_words(SENTENCE, cand.text) == {target}, cand.text
        assert cand.params["targets"] == [target]


@pytest.mark.parametrize("name", RULE_BASED)
def test_targets_are_attacked_first(name):
    target = SENTENCE.split().index("should")  # a stopword the heuristic would not pick
    cands = make(name)(SENTENCE, 1, budget=1, n=2, targets=[target])
    assert cands
    assert all(target in touched_words(SENTENCE, c.text) for c in cands)


@pytest.mark.parametrize("name", NAMES)
def test_provenance(name):
    for cand in make(name)(SENTENCE, 11, n=2):
        assert cand.strategy == name
        assert cand.original == SENTENCE
        assert isinstance(cand.seed, int)
        assert "budget" in cand.params
        json.dumps(cand.to_dict())  # records must serialise
        assert cand.validity is None and cand.valid is None and cand.score is None


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("text", WEIRD, ids=range(len(WEIRD)))
def test_never_crashes_on_weird_input(name, text):
    cands = make(name)(text, 0, n=2)
    assert isinstance(cands, list)
    for cand in cands:
        assert isinstance(cand.text, str) and cand.text != text
    if not text.strip():
        assert cands == []


@pytest.mark.parametrize("name", NAMES)
def test_large_input_is_fast(name):
    text = (SENTENCE + " ") * (100_000 // (len(SENTENCE) + 1))
    assert len(text) > 99_000
    start = time.perf_counter()
    cands = make(name)(text, 0, n=1)
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, f"{name} took {elapsed:.2f}s on 100 kB"
    for cand in cands:
        assert cand.text != text
        assert abs(len(cand.text) - len(text)) < 200


def test_no_candidates_for_zero_budget_or_n():
    strategy = get_strategy("leet")
    assert strategy(SENTENCE, 0, budget=0) == []
    assert strategy(SENTENCE, 0, n=0) == []


def test_bad_rng_and_text_types_are_clear_errors():
    strategy = get_strategy("leet")
    with pytest.raises(TypeError, match="rng"):
        strategy(SENTENCE, "seed")
    with pytest.raises(TypeError, match="text must be a str"):
        strategy(None, 0)


def test_unicode_strategies_keep_the_rendering():
    from arena.attack import visible_skeleton

    for name in ("homoglyph", "invisible", "bidi", "diacritics", "unicode_evasion", "homoglyph_diacritic"):
        for cand in get_strategy(name)(SENTENCE, 2, budget=3, n=3):
            assert visible_skeleton(cand.text) == visible_skeleton(SENTENCE), (name, cand.text)


def test_homoglyphs_come_from_the_confusables_data():
    from confusable_homoglyphs.confusables import confusables_data

    cand = get_strategy("homoglyph")("idiot", 0, budget=5)[0]
    for orig, new in zip("idiot", cand.text, strict=True):
        if orig != new:
            assert any(entry["c"] == new for entry in confusables_data[orig])


def test_bidi_uses_override_controls_with_reversed_letters():
    out = get_strategy("bidi", span="word")("idiot", 0, budget=1)[0].text
    assert out == "\u202etoidi\u202c\u200e"  # RLO, reversed letters, PDF, LRM
    rtl = get_strategy("bidi", span="word")("שלום", 0, budget=1)[0].text
    assert rtl == "\u202d" + "שלום"[::-1] + "\u202c\u200f"  # LRO ... PDF, RLM


def test_bidi_on_every_word_displays_the_original_by_uax9():
    """Every word overridden: python-bidi's display order (what a reader sees) is the original text."""
    from bidi import get_display

    text = "you are a stupid idiot"
    for seed in range(5):
        for cand in get_strategy("bidi", span="word")(text, seed, budget=5, n=2):
            shown = "".join(ch for ch in get_display(cand.text) if ch not in "\u202d\u202e\u202c\u200e\u200f")
            assert shown == text, cand.text


def test_invisible_uses_the_five_characters():
    seen = set()
    for seed in range(30):
        for cand in get_strategy("invisible")(SENTENCE, seed, budget=3):
            seen |= set(cand.text) - set(SENTENCE)
    assert seen == {"\u200b", "\u200c", "\u200d", "\u2060", "\u00ad"}


def test_masking_and_phonetic_examples():
    assert get_strategy("masking")("fuck", 0)[0].text == "f*ck"
    outs = {c.text for seed in range(10) for c in get_strategy("phonetic")("phuck", seed)}
    assert outs <= {"fuck", "phuk", "fuk"} and "fuk" in outs
    assert get_strategy("emoji")("shit", 0)[0].text == "💩"
