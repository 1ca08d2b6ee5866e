import pytest

from arena.config import GateConfig
from arena.gate import GateInput, decide, paired_bootstrap_ci

CFG = GateConfig()


def _inp(hits: int, n: int = 400, f1: float = 0.80, fpr: float = 0.05) -> GateInput:
    return GateInput([True] * hits + [False] * (n - hits), f1, fpr)


def test_promotes_a_clear_gain():
    champ, chall = _inp(240), _inp(340)
    d = decide(champ, chall, champ, CFG)
    assert d.promote and d.reasons == []
    assert d.detection_gain == pytest.approx(0.25)
    assert 0 < d.ci_low < 0.25 < d.ci_high


def test_rejects_f1_drop():
    d = decide(_inp(240), _inp(340, f1=0.785), _inp(240), CFG)
    assert not d.promote and any("macro-F1 drops" in r for r in d.reasons)


def test_f1_drop_checked_against_baseline_too():
    base = _inp(200, f1=0.80)
    champ = _inp(240, f1=0.795)
    chall = _inp(340, f1=0.788)  # -0.7 pt vs champion (ok), -1.2 pt vs baseline (not ok)
    d = decide(champ, chall, base, CFG)
    assert not d.promote and any("baseline" in r for r in d.reasons)


def test_rejects_fpr_rise():
    d = decide(_inp(240), _inp(340, fpr=0.08), _inp(240), CFG)
    assert not d.promote and any("FPR rises" in r for r in d.reasons)


def test_rejects_insignificant_gain():
    champ_hits = [i % 2 == 0 for i in range(400)]
    chall_hits = list(champ_hits)
    for i in (1, 3, 5, 7):  # four items gained ...
        chall_hits[i] = True
    for i in (0, 2):  # ... two lost: +0.5 point, within noise
        chall_hits[i] = False
    d = decide(GateInput(champ_hits, 0.8, 0.05), GateInput(chall_hits, 0.8, 0.05), GateInput(champ_hits, 0.8, 0.05), CFG)
    assert d.detection_gain == pytest.approx(2 / 400)
    assert not d.promote and d.ci_low <= 0 and any("not significant" in r for r in d.reasons)


def test_bootstrap_is_paired_and_deterministic():
    a = [True, False] * 100
    assert paired_bootstrap_ci(a, a) == (0.0, 0.0, 0.0)
    assert paired_bootstrap_ci(a, [True] * 200, seed=1) == paired_bootstrap_ci(a, [True] * 200, seed=1)
    with pytest.raises(ValueError):
        paired_bootstrap_ci([True], [True, False])
