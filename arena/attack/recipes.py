"""Named composite recipes: several strategies applied to the same salient words.

A recipe is registered like a strategy (``get_strategy("leet_invisible")``), with budget unit
*words*: it picks up to ``budget`` words (targets first) and every step edits only those words.

* ``chain``: every step edits every chosen word, in order (leet, then invisible characters).
* ``mixture``: each chosen word gets one step drawn at random (DeepWordBug-style mixing).

A step that changes the word count (separators with a space, split/merge) must come last, so
the word indices stay valid for the steps before it.

Define one with :func:`register_recipe`, e.g.::

    register_recipe("leet_invisible", steps=("leet", "invisible"), mode="chain",
                    description="Leetspeak, then an invisible character, in the same words.")
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, ClassVar

from arena.attack import char, unicode, word  # noqa: F401  (the steps must be registered first)
from arena.attack.base import Strategy, Words, choose_words, letter_count
from arena.attack.registry import get_strategy, get_strategy_class, register_strategy


class Recipe(Strategy):
    """Base class of the recipes built by :func:`register_recipe`.

    Args:
        step_params: per-step keyword params, e.g. ``{"invisible": {"chars": "\\u200b"}}``.
    """

    kind: ClassVar[str] = "recipe"
    unit: ClassVar[str] = "words"
    default_budget: ClassVar[int | None] = 2
    steps: ClassVar[tuple[str, ...]] = ()
    mode: ClassVar[str] = "chain"

    def __init__(self, step_params: dict[str, dict[str, Any]] | None = None):
        self.step_params = dict(step_params or {})
        unknown = set(self.step_params) - set(self.steps)
        if unknown:
            raise ValueError(f"step_params for steps not in recipe {self.name!r}: {sorted(unknown)}")
        self._steps = [get_strategy(step, **self.step_params.get(step, {})) for step in self.steps]

    @classmethod
    def families(cls) -> set[str]:
        return {get_strategy_class(step).family for step in cls.steps}

    @property
    def params(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "mode": self.mode, "step_params": self.step_params}

    def _transform(self, text, rng, budget, targets, only_targets):
        words = Words(text)
        chosen = choose_words(words, rng, budget, lambda w: letter_count(w) >= 2, targets, only_targets)
        if not chosen:
            return text
        if self.mode == "chain":
            assigned = [list(chosen) for _ in self._steps]
        else:
            assigned = [[] for _ in self._steps]
            for i in chosen:
                assigned[rng.randrange(len(self._steps))].append(i)
        out = text
        for step, indices in zip(self._steps, assigned, strict=True):
            step_rng = random.Random(rng.getrandbits(63))  # drawn even when unused: stable streams
            if indices:
                out = step._transform(out, step_rng, len(indices), indices, True)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(steps={self.steps!r}, mode={self.mode!r})"


def register_recipe(
    name: str, *, steps: Sequence[str], mode: str = "chain", description: str
) -> type[Recipe]:
    """Create and register a :class:`Recipe` subclass named ``name`` from registered ``steps``.

    Raises ``ValueError`` for an unknown mode, fewer than two steps, an unknown step or a
    word-count-changing step that is not last; ``KeyError`` for a duplicate name.
    """
    steps = tuple(steps)
    if mode not in ("chain", "mixture"):
        raise ValueError(f"recipe {name!r}: mode must be 'chain' or 'mixture', got {mode!r}")
    if len(steps) < 2:
        raise ValueError(f"recipe {name!r} needs at least two steps, got {steps!r}")
    classes = [get_strategy_class(step) for step in steps]
    for cls in classes:
        if cls.kind != "strategy" or cls.unit not in ("chars", "words"):
            raise ValueError(f"recipe {name!r}: step {cls.name!r} cannot be part of a recipe")
    if any(cls.changes_tokens for cls in classes[:-1]):
        raise ValueError(f"recipe {name!r}: a step that changes the word count must be the last one")
    attrs = {
        "steps": steps,
        "mode": mode,
        "validity_kind": "semantic" if any(c.validity_kind == "semantic" for c in classes) else "edit",
        "changes_tokens": classes[-1].changes_tokens,
        "__doc__": f"Recipe {name!r}: {mode} of {', '.join(steps)}. {description}",
    }
    cls_name = "".join(part.title() for part in name.split("_")) + "Recipe"
    recipe_cls = type(cls_name, (Recipe,), attrs)
    register_strategy(name, family=_family_of(classes), description=description)(recipe_cls)
    return recipe_cls


def _family_of(classes: Sequence[type[Strategy]]) -> str:
    families = {cls.family for cls in classes}
    return families.pop() if len(families) == 1 else "mixed"


# -- the built-in recipes ------------------------------------------------------------------------
# chain: leetspeak letters, then hide an invisible character inside the same words.
register_recipe(
    "leet_invisible", steps=("leet", "invisible"), mode="chain",
    description="Leetspeak plus an invisible character inside the same words.",
)  # fmt: skip
# chain: a confusable letter, then a combining mark, in the same words.
register_recipe(
    "homoglyph_diacritic", steps=("homoglyph", "diacritics"), mode="chain",
    description="A look-alike letter plus a combining diacritic in the same words.",
)  # fmt: skip
# mixture: Bad Characters' three imperceptible perturbations, one per chosen word.
register_recipe(
    "unicode_evasion", steps=("homoglyph", "invisible", "bidi"), mode="mixture",
    description="Imperceptible mix (Boucher et al. 2022): homoglyph, invisible or bidi, one per word.",
)  # fmt: skip
# chain: a typo, then separators between the (typo'd) letters.
register_recipe(
    "typo_separator", steps=("typos", "separators"), mode="chain",
    description="A typo plus separators between the letters of the same words.",
)  # fmt: skip
# mixture: DeepWordBug-like visible character noise, one kind per word.
register_recipe(
    "char_mixture", steps=("leet", "typos", "masking", "case_mix"), mode="mixture",
    description="Visible character noise: leet, typo, masking or case mixing, one per word.",
)  # fmt: skip
# chain: respell by sound, then leetspeak the respelled words.
register_recipe(
    "phonetic_leet", steps=("phonetic", "leet"), mode="chain",
    description="Phonetic respelling followed by leetspeak in the same words.",
)  # fmt: skip
