"""Registry rules (names, duplicates, families), recipe definitions, import hygiene."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from arena.attack import (
    FAMILIES,
    Strategy,
    get_strategy,
    list_strategies,
    register_recipe,
    register_strategy,
    strategy_names,
)
from arena.attack.registry import unregister_strategy
from arena.errors import ConfigError


@pytest.fixture
def scratch():
    """Names registered by a test are removed afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        unregister_strategy(name)


@dataclass
class Upper(Strategy):
    def _transform(self, text, rng, budget, targets, only_targets):
        return text.upper()


def test_register_and_use_a_new_strategy(scratch):
    cls = register_strategy("shout_test", family="char", description="Upper-case everything.")(
        type("ShoutTest", (Upper,), {})
    )
    scratch.append("shout_test")
    assert cls.name == "shout_test" and cls.family == "char"
    assert get_strategy("shout_test")("hi there", 0)[0].text == "HI THERE"
    assert "shout_test" in [row.name for row in list_strategies(family="char")]


def test_duplicate_name_raises_key_error():
    with pytest.raises(KeyError, match="already registered"):
        register_strategy("homoglyph", family="unicode", description="again")


@pytest.mark.parametrize(
    "bad", ["Homoglyph", "bad-name", "", "1abc", "a__b", "with space", "trailing_", None, "_x"]
)
def test_malformed_names_raise_value_error(bad):
    with pytest.raises(ValueError, match="snake_case"):
        register_strategy(bad, family="char", description="x")


def test_malformed_family_and_description():
    with pytest.raises(ValueError, match="family"):
        register_strategy("fine_name", family="Char", description="x")
    with pytest.raises(ValueError, match="one-line description"):
        register_strategy("fine_name", family="char", description="")
    with pytest.raises(ValueError, match="one-line description"):
        register_strategy("fine_name", family="char", description="two\nlines")


def test_only_strategy_classes_can_be_registered():
    with pytest.raises(TypeError, match="Strategy subclass"):
        register_strategy("not_a_strategy", family="char", description="x")(dict)
    assert "not_a_strategy" not in strategy_names()


def test_unknown_strategy_and_bad_params_are_config_errors():
    with pytest.raises(ConfigError, match="unknown strategy 'nope'.*homoglyph"):
        get_strategy("nope")
    with pytest.raises(ConfigError, match="bad parameters for strategy 'leet'"):
        get_strategy("leet", colour="red")
    with pytest.raises(ConfigError, match="span"):
        get_strategy("bidi", span="sideways")


def test_list_strategies_rows():
    rows = list_strategies()
    assert len([r for r in rows if r.kind == "strategy"]) >= 13
    assert len([r for r in rows if r.kind == "recipe"]) >= 4
    assert {r.family for r in rows if r.kind == "strategy"} == set(FAMILIES)
    assert all(r.unit in ("chars", "words", "output_words") for r in rows)


def test_holding_out_a_family_also_drops_recipes_using_it():
    train = strategy_names(exclude_families={"unicode"})
    assert "homoglyph" not in train and "leet_invisible" not in train and "unicode_evasion" not in train
    assert "leet" in train and "typo_separator" in train
    assert set(strategy_names(include_families={"unicode"})) >= {"homoglyph", "bidi", "unicode_evasion"}
    assert "leet_invisible" not in strategy_names(include_families={"unicode"})


def test_recipe_definition_errors(scratch):
    with pytest.raises(ValueError, match="mode"):
        register_recipe("r_bad_mode", steps=("leet", "typos"), mode="zip", description="x")
    with pytest.raises(ValueError, match="at least two"):
        register_recipe("r_one_step", steps=("leet",), description="x")
    with pytest.raises(ValueError, match="must be the last"):
        register_recipe("r_order", steps=("separators", "leet"), description="x")
    with pytest.raises(ValueError, match="cannot be part"):
        register_recipe("r_llm", steps=("leet", "llm_rewrite"), description="x")
    with pytest.raises(ConfigError, match="unknown strategy"):
        register_recipe("r_unknown", steps=("leet", "nope"), description="x")
    register_recipe("r_ok_test", steps=("case_mix", "separators"), mode="mixture", description="Test recipe.")
    scratch.append("r_ok_test")
    cand = get_strategy("r_ok_test")("you absolute idiot", 0, budget=1)[0]
    assert cand.params["steps"] == ["case_mix", "separators"] and cand.params["mode"] == "mixture"


def test_recipe_step_params():
    cand = get_strategy("leet_invisible", step_params={"invisible": {"chars": "\u200b"}})(
        "idiot", 0, budget=1
    )[0]
    assert "\u200b" in cand.text
    with pytest.raises(ConfigError):
        get_strategy("leet_invisible", step_params={"homoglyph": {}})


def test_importing_the_attacker_imports_neither_torch_nor_ray():
    code = (
        "import sys, arena.attack\n"
        "heavy = [m for m in ('torch', 'ray', 'vllm', 'transformers', 'llama_cpp') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert len(arena.attack.list_strategies()) >= 17\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
