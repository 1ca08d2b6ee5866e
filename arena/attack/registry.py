"""The strategy registry: an explicit name -> class table filled by a decorator.

Like peft's ``register_peft_method``, a name must be lowercase snake_case and unique; a
duplicate raises ``KeyError`` and a malformed name raises ``ValueError``. Nothing is looked up
by dotted string or built with ``eval``::

    @register_strategy("homoglyph", family="unicode", description="Swap letters for look-alikes.")
    @dataclass
    class HomoglyphStrategy(CharEditStrategy): ...

    strategy = get_strategy("homoglyph", scripts=("CYRILLIC",))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from arena.errors import ConfigError

if TYPE_CHECKING:
    from arena.attack.base import Strategy

#: The built-in families. The round loop can hold one out of training (see docs/attack.md).
FAMILIES: tuple[str, ...] = ("unicode", "char", "word", "llm")

_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_REGISTRY: dict[str, type[Strategy]] = {}


@dataclass(frozen=True)
class StrategyInfo:
    """One row of :func:`list_strategies`.

    ``families`` holds every family the strategy draws on: for a plain strategy it is
    ``{family}``; for a recipe it is the union over its steps (so a held-out family also
    excludes the recipes that use it).
    """

    name: str
    family: str
    description: str
    unit: str
    default_budget: int | None
    families: frozenset[str]
    kind: str  # "strategy" or "recipe"


def check_name(name: Any, what: str = "strategy name") -> str:
    """Return ``name`` if it is lowercase snake_case, else raise ``ValueError``."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"invalid {what} {name!r}: use lowercase snake_case (letters, digits, single underscores), "
            "e.g. 'homoglyph' or 'leet_invisible'"
        )
    return name


def register_strategy(
    name: str, *, family: str, description: str
) -> Callable[[type[Strategy]], type[Strategy]]:
    """Class decorator: register a :class:`~arena.attack.base.Strategy` subclass under ``name``.

    Sets ``cls.name``, ``cls.family`` and ``cls.description``. Raises ``ValueError`` for a
    malformed name/family or an empty or multi-line description, ``KeyError`` for a duplicate
    name and ``TypeError`` when the class is not a Strategy.
    """
    check_name(name)
    check_name(family, "family")
    if not isinstance(description, str) or not description.strip() or "\n" in description.strip():
        raise ValueError(f"strategy {name!r} needs a one-line description")
    if name in _REGISTRY:
        raise KeyError(f"strategy {name!r} is already registered (by {_REGISTRY[name].__qualname__})")

    def decorator(cls: type[Strategy]) -> type[Strategy]:
        from arena.attack.base import Strategy  # the base imports this module

        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise TypeError(f"@register_strategy({name!r}) must decorate a Strategy subclass, got {cls!r}")
        if name in _REGISTRY:  # registered between decorator creation and application
            raise KeyError(f"strategy {name!r} is already registered (by {_REGISTRY[name].__qualname__})")
        cls.name = name
        cls.family = family
        cls.description = description.strip()
        _REGISTRY[name] = cls
        return cls

    return decorator


def unregister_strategy(name: str) -> None:
    """Remove ``name`` from the registry (for tests that register throw-away strategies)."""
    del _REGISTRY[name]


def get_strategy_class(name: str) -> type[Strategy]:
    """The registered class for ``name``; ``ConfigError`` (a ``ValueError``) names the known ones."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(f"unknown strategy {name!r}; known strategies: {known}") from None


def get_strategy(name: str, **params: Any) -> Strategy:
    """Build the strategy registered as ``name`` with its keyword ``params``.

    Unknown strategies and unknown or invalid parameters raise :class:`~arena.errors.ConfigError`.
    """
    cls = get_strategy_class(name)
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad parameters for strategy {name!r}: {exc}") from None


def info(name: str) -> StrategyInfo:
    """The :class:`StrategyInfo` row of one registered strategy."""
    cls = get_strategy_class(name)
    return StrategyInfo(
        name=cls.name,
        family=cls.family,
        description=cls.description,
        unit=cls.unit,
        default_budget=cls.default_budget,
        families=frozenset(cls.families()),
        kind=cls.kind,
    )


def list_strategies(family: str | None = None) -> list[StrategyInfo]:
    """All registered strategies and recipes, sorted by (family, name); optionally one family."""
    rows = [info(name) for name in _REGISTRY]
    if family is not None:
        rows = [row for row in rows if family in row.families]
    return sorted(rows, key=lambda row: (row.family, row.name))


def strategy_names(
    *,
    include_families: Iterable[str] | None = None,
    exclude_families: Iterable[str] = (),
    kind: str | None = None,
) -> list[str]:
    """Registered names filtered by family (all of a recipe's families count) and kind.

    ``strategy_names(exclude_families={"unicode"})`` is what a round uses for training when the
    unicode family is held out: it drops homoglyph etc. *and* recipes such as ``leet_invisible``.
    """
    include = set(include_families) if include_families is not None else None
    exclude = set(exclude_families)
    names = []
    for row in list_strategies():
        if kind is not None and row.kind != kind:
            continue
        if row.families & exclude:
            continue
        if include is not None and not row.families <= include:
            continue
        names.append(row.name)
    return names
