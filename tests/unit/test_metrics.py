import random

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
