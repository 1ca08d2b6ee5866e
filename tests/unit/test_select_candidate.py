"""arena.probe.select_candidate: which candidate the val probe sends to the gate."""

from arena.probe import ProbeResult, select_candidate


def _r(version, detection, fpr=0.10, clean_f1=0.77):
    return ProbeResult(version, detection, fpr, clean_f1)


def test_a_probe_loser_is_not_sent_in_place_of_the_smallest_change():
    """Seed 1 of the 100-text probe, rounds 5-7: the rules-only candidate was outside the round-0 reserve,
    and a blend that detected less than the champion was sent instead; now the smallest change goes."""
    champion, baseline = _r("13", 0.930, fpr=0.110), _r("1", 0.900, fpr=0.100)
    blend_fpr = _r("20", 0.918, fpr=0.110)   # inside every limit, but detects 1.2 points less
    rules = _r("19", 0.931, fpr=0.117)       # +1.7 FPR vs round 0: outside the reserve of half the +2
    name, notes = select_candidate(champion, [("blend0.5@fpr", blend_fpr), ("rules", rules)],
                                   max_clean_f1_drop=0.01, max_fpr_rise=0.02, baseline=baseline, reserve=0.5)
    assert name == "rules"
    assert "detects less than the champion" in notes[0]


def test_a_probe_gain_inside_the_limits_is_still_sent():
    champion = _r("13", 0.930)
    weights, rules = _r("20", 0.950), _r("19", 0.932)
    name, _ = select_candidate(champion, [("weights", weights), ("rules", rules)],
                               max_clean_f1_drop=0.01, max_fpr_rise=0.02)
    assert name == "weights"
