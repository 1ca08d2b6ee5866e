"""llm_rewrite with a fake backend: prompt, sampling call, filters. (The real GGUF test lives with arena.llm.)"""

from __future__ import annotations

import pytest

from arena.attack import get_strategy
from arena.attack.lexicon import BUILTIN_EXPLICIT, explicit_lexicon, explicit_words
from arena.attack.llm import EXAMPLES, build_prompt, clean_completion, reject_reason
from arena.errors import ConfigError

TEXT = "you are a stupid idiot"


class ScriptedLLM:
    """Returns fixed completions (cycled to n) and records the calls."""

    def __init__(self, completions):
        self.completions = completions
        self.calls = []

    def generate(self, prompts, n=1, temperature=0.8, max_tokens=48, seed=None, stop=None):
        self.calls.append(
            {
                "prompts": prompts,
                "n": n,
                "temperature": temperature,
                "max_tokens": max_tokens,
                "seed": seed,
                "stop": stop,
            }
        )
        return [[self.completions[j % len(self.completions)] for j in range(n)] for _ in prompts]


def test_prompt_is_plain_few_shot_text():
    prompt = build_prompt("you   are\na stupid idiot")
    assert prompt.endswith("Insult: you are a stupid idiot\nPolite insult:")
    for insult, polite in EXAMPLES:
        assert f"Insult: {insult}\nPolite insult: {polite}" in prompt


def test_clean_completion():
    assert (
        clean_completion('  "Polite insult: your wit is truly rare."  \nInsult: x')
        == "your wit is truly rare."
    )
    assert clean_completion("") == ""


@pytest.mark.parametrize(
    "output, reason",
    [
        ("", "empty"),
        ("so rude", "too_short"),
        ("one two three four five six seven eight nine ten eleven twelve thirteen", "runaway"),
        ("no no no no no no yes", "runaway"),
        ("You are a stupid idiot!", "copy"),
        ("your ignorance is simply astounding", "copy"),
        ("Your ignorance is simply astounding. Perhaps you should stop.", "copy"),
        ("Rewrite each insult as a polite-sounding sentence that is kind.", "copy"),
        ("what an idiot you truly are", "explicit"),
        ("your insight is as deep as a puddle", None),
    ],
)
def test_reject_reasons(output, reason):
    assert reject_reason(output, TEXT, max_words=12) == reason


def test_lexicon():
    assert BUILTIN_EXPLICIT <= explicit_lexicon()
    assert explicit_words("What an IDIOT, such a moron.") == ["idiot", "moron"]
    assert explicit_words("hello shell, hellish") == []


def test_strategy_samples_once_and_keeps_survivors():
    llm = ScriptedLLM([
        "your insight is as deep as a puddle",
        "you stupid idiot",
        "Polite insult: one marvels at how little you know",
        "your insight is as deep as a puddle",  # repeat
        "your ignorance is simply astounding",  # example copy
    ])  # fmt: skip
    strategy = get_strategy("llm_rewrite", backend=llm, samples=5, temperature=0.7, max_tokens=30)
    cands = strategy(TEXT, 9, n=3)
    assert [c.text for c in cands] == [
        "your insight is as deep as a puddle",
        "one marvels at how little you know",
    ]
    assert [c.params["sample"] for c in cands] == [0, 2]
    assert all(
        c.seed == 9 and c.strategy == "llm_rewrite" and c.params["backend"] == "ScriptedLLM" for c in cands
    )
    (call,) = llm.calls
    assert (
        call["n"] == 9 and call["stop"] == ["\n"] and call["temperature"] == 0.7 and call["max_tokens"] == 30
    )
    assert call["seed"] == 9 and call["prompts"] == [build_prompt(TEXT)]


def test_long_inputs_are_not_sent_to_the_model():
    llm = ScriptedLLM(["your insight is as deep as a puddle"])
    assert get_strategy("llm_rewrite", backend=llm, max_input_words=5)("one two three four five six", 0) == []
    assert llm.calls == []


def test_only_targets_gives_nothing_without_calling_the_model():
    llm = ScriptedLLM(["your insight is as deep as a puddle"])
    strategy = get_strategy("llm_rewrite", backend=llm)
    assert strategy(TEXT, 0, targets=[3], only_targets=True) == []
    assert llm.calls == []
    assert strategy(TEXT, 0, targets=[3])[0].text == "your insight is as deep as a puddle"


def test_backend_is_built_lazily_from_arena_llm(monkeypatch):
    import arena.llm

    built = []

    def fake_get_backend(name="llama_cpp", **kwargs):
        built.append((name, kwargs))
        return ScriptedLLM(["your insight is as deep as a puddle"])

    monkeypatch.setattr(arena.llm, "get_backend", fake_get_backend)
    strategy = get_strategy(
        "llm_rewrite", backend="openai", backend_kwargs={"base_url": "http://127.0.0.1:1/v1"}
    )
    assert built == []
    assert strategy(TEXT, 0)[0].text == "your insight is as deep as a puddle"
    strategy(TEXT, 1)
    assert built == [("openai", {"base_url": "http://127.0.0.1:1/v1"})]


def test_bad_backend_is_a_config_error():
    with pytest.raises(ConfigError, match="backend"):
        get_strategy("llm_rewrite", backend=object())
