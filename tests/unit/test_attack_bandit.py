"""Thompson sampling: convergence in a synthetic environment, exploration floor, resume."""

from __future__ import annotations

import json
import random

import pytest

from arena.attack import ThompsonBandit


def play(bandit: ThompsonBandit, probs: dict[str, float], pulls: int, env_seed: int = 123) -> None:
    env = random.Random(env_seed)
    for _ in range(pulls):
        arm = bandit.choose()
        bandit.record(arm, env.random() < probs[arm])


def test_converges_to_the_best_arm():
    probs = {"weak": 0.1, "fair": 0.3, "strong": 0.7}
    bandit = ThompsonBandit(list(probs), floor=0.02, seed=0)
    play(bandit, probs, 2000)
    assert max(bandit.pulls, key=bandit.pulls.get) == "strong"
    assert bandit.pulls["strong"] > 1500
    assert abs(bandit.mean("strong") - 0.7) < 0.05
    assert sum(bandit.pulls.values()) == 2000


def test_floor_keeps_every_arm_pulled():
    probs = {"never": 0.0, "rarely": 0.01, "always": 1.0}
    bandit = ThompsonBandit(list(probs), floor=0.05, seed=1)
    play(bandit, probs, 2000)
    # each arm has probability >= 0.05 per pull: expected >= 100 pulls of 2000
    assert bandit.pulls["never"] >= 70 and bandit.pulls["rarely"] >= 70
    without = ThompsonBandit(list(probs), floor=0.0, seed=1)
    play(without, probs, 2000)
    assert without.pulls["never"] < bandit.pulls["never"]


def test_state_round_trips_through_json_and_continues_the_sequence():
    probs = {"a": 0.2, "b": 0.5}
    bandit = ThompsonBandit(list(probs), floor=0.1, seed=7)
    play(bandit, probs, 50)
    state = json.loads(json.dumps(bandit.to_dict()))
    resumed = ThompsonBandit.from_dict(state)
    assert resumed.stats() == bandit.stats()
    assert [bandit.choose() for _ in range(30)] == [resumed.choose() for _ in range(30)]


def test_batch_updates_and_new_arms():
    bandit = ThompsonBandit(["a"], floor=0.0, prior=(2.0, 2.0))
    bandit.update("a", successes=6, failures=2)
    assert bandit.mean("a") == pytest.approx(8 / 12)
    bandit.add_arm("b")
    assert bandit.mean("b") == 0.5 and bandit.arms == ["a", "b"]
    with pytest.raises(KeyError):
        bandit.update("zzz", 1)
    with pytest.raises(ValueError):
        bandit.add_arm("a")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"arms": []},
        {"arms": ["a", "a"]},
        {"arms": ["a", "b"], "floor": 0.6},
        {"arms": ["a"], "floor": -0.1},
        {"arms": ["a"], "prior": (0.0, 1.0)},
    ],
)
def test_bad_settings_raise(kwargs):
    arms = kwargs.pop("arms")
    with pytest.raises(ValueError):
        ThompsonBandit(arms, **kwargs)
