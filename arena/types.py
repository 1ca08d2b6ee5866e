"""Plain value types shared by the attacker, the defender and the round loop. No heavy imports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Scorer(Protocol):
    """The defender as the attacker sees it: black-box probabilities.

    ``score(texts)`` returns, for each text, the probability that it is toxic (label 1).
    """

    def score(self, texts: Sequence[str]) -> list[float]: ...


@dataclass(frozen=True)
class Candidate:
    """One rewrite proposed by a strategy, with its provenance.

    ``validity`` is filled in by the constraints (1.0 = meaning fully kept, 0.0 = lost);
    ``valid`` says whether it passed all of them. ``score`` is the defender's P(toxic), when known.
    """

    original: str
    text: str
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    validity: float | None = None
    valid: bool | None = None
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
