"""Adaptive strategy choice: Thompson sampling with an exploration floor.

Each arm (a strategy or recipe name) has a Beta(alpha, beta) posterior on its evasion success
rate. :meth:`ThompsonBandit.choose` draws one sample per arm and plays the highest, except
that with probability ``floor * len(arms)`` it plays an arm drawn uniformly, so every arm is
chosen with probability at least ``floor`` and no strategy starves (the defender changes
between rounds, so an arm that failed early may succeed later). The RNG is injected by seed and
its state is part of :meth:`to_dict`, so a resumed campaign continues the same sequence.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any


class ThompsonBandit:
    """Thompson sampling over named arms with Beta posteriors.

    Args:
        arms: arm names (unique, at least one).
        floor: minimum probability of choosing each arm (``floor * len(arms) <= 1``).
        prior: the Beta prior ``(alpha, beta)`` of every arm.
        seed: seed of the bandit's own ``random.Random``.
    """

    def __init__(
        self,
        arms: Sequence[str],
        *,
        floor: float = 0.02,
        prior: tuple[float, float] = (1.0, 1.0),
        seed: int = 0,
    ):
        arms = list(arms)
        if not arms or len(set(arms)) != len(arms):
            raise ValueError(f"arms must be a non-empty list of unique names, got {arms!r}")
        if not 0.0 <= floor or floor * len(arms) > 1.0:
            raise ValueError(f"floor must be in [0, 1/len(arms)] = [0, {1 / len(arms):.4f}], got {floor}")
        if prior[0] <= 0 or prior[1] <= 0:
            raise ValueError(f"prior parameters must be > 0, got {prior!r}")
        self.floor = float(floor)
        self.prior = (float(prior[0]), float(prior[1]))
        self.alpha = {arm: self.prior[0] for arm in arms}
        self.beta = {arm: self.prior[1] for arm in arms}
        self.pulls = {arm: 0 for arm in arms}
        self.rng = random.Random(seed)

    @property
    def arms(self) -> list[str]:
        return list(self.alpha)

    def add_arm(self, arm: str) -> None:
        """Add a new arm with the prior (e.g. a strategy registered after a resume)."""
        if arm in self.alpha:
            raise ValueError(f"arm {arm!r} already exists")
        if self.floor * (len(self.alpha) + 1) > 1.0:
            raise ValueError("cannot add an arm: floor * number of arms would exceed 1")
        self.alpha[arm], self.beta[arm], self.pulls[arm] = self.prior[0], self.prior[1], 0

    def choose(self) -> str:
        """The arm to play next (uniform with probability ``floor * arms``, else Thompson)."""
        arms = self.arms
        if self.rng.random() < self.floor * len(arms):
            arm = arms[self.rng.randrange(len(arms))]
        else:
            arm = max(arms, key=lambda a: self.rng.betavariate(self.alpha[a], self.beta[a]))
        self.pulls[arm] += 1
        return arm

    def update(self, arm: str, successes: int = 0, failures: int = 0) -> None:
        """Add observed evasion successes and failures to ``arm``'s posterior."""
        if arm not in self.alpha:
            raise KeyError(f"unknown arm {arm!r}; arms: {self.arms}")
        if successes < 0 or failures < 0:
            raise ValueError("successes and failures must be >= 0")
        self.alpha[arm] += successes
        self.beta[arm] += failures

    def record(self, arm: str, success: bool) -> None:
        """Add one outcome."""
        self.update(arm, successes=int(bool(success)), failures=int(not success))

    def mean(self, arm: str) -> float:
        """Posterior mean success rate of ``arm``."""
        return self.alpha[arm] / (self.alpha[arm] + self.beta[arm])

    def stats(self) -> dict[str, dict[str, float]]:
        """Per arm: pulls, alpha, beta, posterior mean."""
        return {
            a: {"pulls": self.pulls[a], "alpha": self.alpha[a], "beta": self.beta[a], "mean": self.mean(a)}
            for a in self.arms
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state, RNG included."""
        version, internal, gauss = self.rng.getstate()
        return {
            "floor": self.floor,
            "prior": list(self.prior),
            "arms": {
                a: {"alpha": self.alpha[a], "beta": self.beta[a], "pulls": self.pulls[a]} for a in self.arms
            },
            "rng_state": [version, list(internal), gauss],
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> ThompsonBandit:
        """Rebuild a bandit saved by :meth:`to_dict` (it continues the same random sequence)."""
        arms = state["arms"]
        bandit = cls(list(arms), floor=state["floor"], prior=tuple(state["prior"]))
        for a, row in arms.items():
            bandit.alpha[a], bandit.beta[a], bandit.pulls[a] = (
                float(row["alpha"]),
                float(row["beta"]),
                int(row["pulls"]),
            )
        if state.get("rng_state") is not None:
            version, internal, gauss = state["rng_state"]
            bandit.rng.setstate((version, tuple(internal), gauss))
        return bandit
