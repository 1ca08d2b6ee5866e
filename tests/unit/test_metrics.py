import random

import numpy as np
import pytest

from arena.metrics import classification_report, macro_f1, per_class, rate, roc_auc


def test_against_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = random.Random(0)
    y = [rng.randint(0, 1) for _ in range(500)]
    s = [min(1.0, max(0.0, 0.3 * yi + rng.random() * 0.7)) for yi in y]
    s[:50] = [0.5] * 50  # ties
    pred = [int(v >= 0.5) for v in s]
    assert macro_f1(y, pred) == pytest.approx(sk.f1_score(y, pred, average="macro"))
    assert roc_auc(y, s) == pytest.approx(sk.roc_auc_score(y, s))
    pc = per_class(y, pred)
    assert pc["toxic"]["precision"] == pytest.approx(sk.precision_score(y, pred))
    assert pc["not_toxic"]["recall"] == pytest.approx(sk.recall_score(y, pred, pos_label=0))


def test_edge_cases():
    assert roc_auc([1, 1], [0.2, 0.9]) is None
    assert rate([]) is None and rate([True, False]) == 0.5
    rep = classification_report([0, 1, 1], [0.1, 0.9, 0.4])
    assert rep["accuracy"] == pytest.approx(2 / 3)
    assert rep["per_class"]["toxic"]["recall"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        classification_report([], [])
    with pytest.raises(ValueError):
        per_class([0, 1], [0])


def test_best_threshold_picks_the_val_optimum():
    from arena.metrics import best_threshold

    # toxic texts score 0.3..0.45, benign 0.0..0.2: 0.5 misses every toxic text, ~0.21-0.30 separates them
    y = [1] * 10 + [0] * 30
    s = [0.3 + 0.015 * i for i in range(10)] + [0.2 * i / 29 for i in range(30)]
    assert macro_f1(y, [int(v >= 0.5) for v in s]) < 0.5
    thr, f1 = best_threshold(y, s)
    assert 0.2 < thr <= 0.3 and f1 == pytest.approx(1.0)
    # ties go to the threshold nearest 0.5
    assert best_threshold([0, 1], [0.0, 1.0])[0] == 0.5
    with pytest.raises(ValueError):
        best_threshold([], [])
    with pytest.raises(ValueError):
        best_threshold([1], [0.2, 0.3])
    with pytest.raises(ValueError, match="unknown threshold rule"):
        best_threshold(y, s, rule="max")


def test_best_threshold_matches_macro_f1_at_every_grid_point():
    from arena.metrics import _macro_f1_grid

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    s = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1)
    grid = np.round(0.05 + 0.01 * np.arange(91), 2)
    want = [macro_f1(y.tolist(), (s >= g).astype(int).tolist()) for g in grid]
    assert _macro_f1_grid(y, s, grid) == pytest.approx(want, abs=1e-12)


def test_one_se_rule_keeps_0_5_on_a_flat_curve_and_moves_for_a_real_gain():
    from arena.metrics import best_threshold

    # a noisy, nearly flat curve: the arg-max wanders off 0.5, the one-SE rule stays
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    s = np.clip(0.5 + (y - 0.5) * 0.25 + rng.normal(0, 0.2, 600), 0, 1)
    arg, f_arg = best_threshold(y, s)
    one, f_one = best_threshold(y, s, rule="one_se")
    assert arg != 0.5 and one == 0.5 and f_one <= f_arg
    assert best_threshold(y, s, rule="one_se") == (one, f_one)  # seeded: reproducible
    # a model whose scores all sit below 0.5: the gain is far beyond the noise, so both rules move
    yy = [1] * 100 + [0] * 300
    ss = [0.3 + 0.001 * i for i in range(100)] + [0.2 * i / 299 for i in range(300)]
    assert 0.2 < best_threshold(yy, ss, rule="one_se")[0] <= 0.3
