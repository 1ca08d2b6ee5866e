"""The val probe: how a round picks its challenger among candidates, on val texts only.

    probe = ValProbe(cfg, services, attacker, threshold_of, log)
    data = probe.build(splits["val"], baseline_version, train_strategies, seed)   # once, saved in state.json
    result = probe.measure(version, data)                  # ProbeResult: detection, FPR, clean F1
    name, notes = select_candidate(probe.measure(champion, data), [(name, result), ...], 0.01, 0.02)

The probe mirrors the gate's three numbers (attacked toxic detection, perturbed non-toxic FPR, clean
macro-F1) on the val split, so that a round can offer several candidates (new weights, blends,
FPR-matched operating points, rules only) and send the gate only the one that looks best where the
test split is never read. No Ray, no torch: it reaches models through ``services.scorer``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from arena.metrics import share


@dataclass
class ProbeResult:
    """One candidate on the val probe (val split only): detection of perturbed toxic val texts, FPR
    on perturbed non-toxic ones, macro-F1 on clean val texts, at the candidate's own threshold."""

    version: str
    detection: float
    fpr: float
    clean_f1: float
    # per attacked toxic probe item, whether it is flagged (the paired test of select_candidate); not saved
    hits: tuple[bool, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in vars(self).items() if k != "hits"}


class ValProbe:
    """Builds the probe once (:meth:`build`) and measures versions on it (:meth:`measure`), caching
    each version's scores, so that a threshold-moved candidate costs no second scoring pass."""

    def __init__(self, cfg, services, attacker, threshold_of: Callable[[str], float],
                 log: Callable[[str], None] | None = None) -> None:
        self.cfg, self.services, self.attacker = cfg, services, attacker
        self.threshold_of = threshold_of
        self.log = log or (lambda msg: None)
        self._results: dict[str, ProbeResult] = {}  # version (or version@threshold) -> its numbers
        self._scores: dict[str, list[float]] = {}  # version -> its scores of the probe's texts

    def build(self, val, version: str, strategies: Sequence[str], seed: int) -> dict[str, Any] | None:
        """Val texts only: ``campaign.val_probe_size`` toxic ones that ``version`` (the round-0
        champion) flags, attacked by every one of ``strategies`` as the frozen suite is (targeted at it,
        best of several candidates); ``campaign.val_probe_benign`` non-toxic ones, each perturbed by one
        strategy in turn; and ``campaign.val_probe_clean`` clean ones (null: all of val). The LLM
        strategies are left out (seconds per text on CPU). ``None`` when nothing can be built (the
        caller then does not pick)."""
        cc = self.cfg.campaign
        names = [n for n in strategies if "llm" not in self.attacker.family_sets[n]]
        if not names:
            self.log("val probe: no trained strategy other than the LLM; challengers are not pre-selected")
            return None
        rng = random.Random(seed * 7 + 5)
        rows = val.rows()
        tox = [(i, t) for i, t, y in rows if y == 1]
        scorer = self.services.scorer(version)
        scores = scorer.score([t for _, t in tox])
        thr = self.threshold_of(version)
        tox = [x for x, sc in zip(tox, scores, strict=True) if sc >= thr]
        ben = [(i, t) for i, t, y in rows if y == 0]
        if not tox or not ben:
            self.log("val probe: the val split lacks flagged toxic or non-toxic texts; challengers are not pre-selected")
            return None
        toxic = self.attacker.build_suite(rng.sample(tox, min(cc.val_probe_size, len(tox))), scorer, seed=seed + 5,
                                          targeted=True, desc="val probe", strategies=names, kind="val_probe", label=1)
        # benign: many texts, one strategy each (round robin), so that one text flipping moves the FPR
        # by 1/n and not by (strategies)/n as it would if every strategy rewrote the same few texts
        ben_pool = rng.sample(ben, min(cc.val_probe_benign, len(ben)))
        benign = self.attacker.attack(ben_pool, lambda k: names[k % len(names)], seed + 6, None, n=1,
                                      targeted=False)
        n_clean = len(rows) if cc.val_probe_clean is None else min(cc.val_probe_clean, len(rows))
        clean = rng.sample(rows, n_clean)
        return {"toxic": [x.attacked for x in toxic], "toxic_strategy": [x.strategy for x in toxic],
                "benign": [c.text for _, c, _ in benign if c is not None],
                "benign_strategy": [names[k % len(names)] for k, c, _ in benign if c is not None],
                "clean_texts": [t for _, t, _ in clean], "clean_labels": [y for *_, y in clean]}

    def measure(self, version: str, data: dict[str, Any], threshold: float | None = None) -> ProbeResult:
        """``version`` on the probe ``data`` at its own threshold, or at ``threshold`` (cached)."""
        from arena.metrics import classification_report

        version = str(version)
        key = version if threshold is None else f"{version}@{threshold:.4f}"
        if key not in self._results:
            thr = self.threshold_of(version) if threshold is None else threshold
            scores = self.scores(version, data)
            t, b = len(data["toxic"]), len(data["benign"])
            clean = classification_report(data["clean_labels"], scores[t + b :], thr) if data["clean_texts"] else {}
            hits = tuple(x >= thr for x in scores[:t])
            self._results[key] = ProbeResult(
                key, share(hits), share([x >= thr for x in scores[t : t + b]]),
                float(clean.get("macro_f1", 0.0)), hits)
        return self._results[key]

    def remember(self, version: str, result: ProbeResult) -> None:
        """Record ``result`` as ``version``'s own (a threshold-moved candidate registered as a version)."""
        self._results[str(version)] = ProbeResult(str(version), result.detection, result.fpr, result.clean_f1,
                                                  result.hits)

    def scores(self, version: str, data: dict[str, Any]) -> list[float]:
        """``version``'s scores of the probe's toxic, benign and clean texts, in that order (cached)."""
        version = str(version)
        if version not in self._scores:
            self._scores[version] = self.services.scorer(version).score(
                data["toxic"] + data["benign"] + data["clean_texts"])
        return self._scores[version]

    def fpr_matched_threshold(self, version: str, target_fpr: float, data: dict[str, Any]) -> float | None:
        """The lowest threshold, at or above ``version``'s own, at which its FPR on the probe's perturbed
        non-toxic texts is at most ``target_fpr`` (the champion's there); ``None`` when its own
        threshold already is. Val texts only: the gate's test-side numbers never see it."""
        t, b = len(data["toxic"]), len(data["benign"])
        return matched_threshold(self.scores(version, data)[t : t + b], target_fpr, self.threshold_of(version))


def select_candidate(champion: ProbeResult, candidates: Sequence[tuple[str, ProbeResult]],
                     max_clean_f1_drop: float, max_fpr_rise: float,
                     baseline: ProbeResult | None = None, reserve: float = 0.0,
                     min_lead_p: float | None = None) -> tuple[str, list[str]]:
    """Which of ``candidates`` (name, probe result) becomes the round's challenger, judged on the val probe.

    A candidate is admissible when it stays within the gate's clean-F1 and FPR limits on the probe
    against the champion and, as the gate also demands, against the round-0 ``baseline`` (when given):
    once a champion has spent part of the budget against round 0, a candidate that spends the rest
    twice over is not sent to a gate that must refuse it. Against round 0 the probe keeps ``reserve``
    of each limit unspent (the gate reads test, the probe val: room for the difference, and for the
    rounds still to come). A candidate other than the last that detects less than the champion on the
    probe is not admissible either: the gate demands a detection gain, and sending a probe loser
    instead of the smallest change only spends the round (a 100-text probe did that three rounds
    running, docs/retrain.md). The admissible one with the highest probe
    detection wins; among equal
    detection the lower FPR, then the higher clean F1 (a version at its FPR-matched threshold can
    detect exactly as much on the probe as at its own: then it is the safer of the two); then the
    first listed. With none admissible, the last listed (the smallest change) goes to the gate.

    With ``min_lead_p``, the winner must also lead the last listed candidate (the smallest change:
    the new rules on the champion's weights, or the champion itself) significantly on the probe's
    paired attacked items: a one-sided exact sign test on the items that exactly one of the two
    flags (:func:`sign_test_p`) must give p < ``min_lead_p``; otherwise the smallest change is sent,
    when it is admissible. A lead of a few items out of hundreds is what val noise alone produces.
    Returns the name and one line per candidate saying why.
    """
    if not candidates:
        raise ValueError("select_candidate needs at least one candidate")
    notes, admissible = [], []
    for k, (name, r) in enumerate(candidates):
        why = []
        if r.clean_f1 < champion.clean_f1 - max_clean_f1_drop:
            why.append(f"val F1 {r.clean_f1 - champion.clean_f1:+.4f}")
        if r.fpr > champion.fpr + max_fpr_rise:
            why.append(f"val FPR {r.fpr - champion.fpr:+.4f}")
        keep = 1.0 - reserve  # the share of the limits against round 0 the probe lets a candidate spend
        if baseline is not None and r.clean_f1 < baseline.clean_f1 - keep * max_clean_f1_drop:
            why.append(f"val F1 {r.clean_f1 - baseline.clean_f1:+.4f} vs round 0")
        if baseline is not None and r.fpr > baseline.fpr + keep * max_fpr_rise:
            why.append(f"val FPR {r.fpr - baseline.fpr:+.4f} vs round 0")
        if r.detection < champion.detection and k < len(candidates) - 1:
            why.append("detects less than the champion")  # the gate demands a gain: never worth sending
        notes.append(f"{name} v{r.version}: detection {r.detection - champion.detection:+.4f}, "
                     f"F1 {r.clean_f1 - champion.clean_f1:+.4f}, FPR {r.fpr - champion.fpr:+.4f}"
                     + (f" (outside the limits: {', '.join(why)})" if why else ""))
        if not why:
            admissible.append((name, r))
    if not admissible:
        return candidates[-1][0], notes
    best = max(admissible, key=lambda nr: (nr[1].detection, -nr[1].fpr, nr[1].clean_f1))  # max keeps the first of equals
    last = candidates[-1]
    if min_lead_p is not None and best[0] != last[0] and any(n == last[0] for n, _ in admissible):
        a, b = best[1].hits, last[1].hits
        if len(a) != len(b) or not a:
            notes.append(f"lead test skipped: {best[0]} and {last[0]} have no paired probe items")
            return best[0], notes
        more = sum(x and not y for x, y in zip(a, b, strict=True))
        fewer = sum(y and not x for x, y in zip(a, b, strict=True))
        p = sign_test_p(more, fewer)
        lead = f"{best[0]} leads {last[0]} on {more} paired items, trails on {fewer} (sign test p={p:.3f})"
        if p >= min_lead_p:
            notes.append(f"{lead}: not significant at {min_lead_p:g}, so {last[0]} (the smaller change) is sent")
            return last[0], notes
        notes.append(lead)
    return best[0], notes


def sign_test_p(more: int, fewer: int) -> float:
    """One-sided exact sign test: the probability of ``more`` or more successes in ``more + fewer``
    fair coin flips (the discordant pairs of two paired classifiers; 1.0 when there are none)."""
    n = more + fewer
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(more, n + 1)) / 2**n


def matched_threshold(benign_scores: Sequence[float], target_fpr: float, own: float) -> float | None:
    """The lowest threshold ``>= own`` (on a 1e-4 grid) at which at most ``target_fpr`` of
    ``benign_scores`` are flagged (``score >= threshold``); ``None`` when ``own`` already keeps to it.

    A challenger that learned the evasions scores everything a little higher, perturbed non-toxic
    text included; moving its operating point up until its false-positive rate on the val probe equals
    the champion's compares the two at the same FPR, as a ROC comparison would.
    """
    n = len(benign_scores)
    if n == 0 or share([s >= own for s in benign_scores]) <= target_fpr:
        return None
    allowed = int(math.floor(target_fpr * n + 1e-9))  # flags permitted at the target rate
    ranked = sorted(benign_scores, reverse=True)
    if allowed >= n:
        return None
    # strictly above the (allowed+1)-th highest score, so that only the top `allowed` stay flagged
    thr = math.floor(ranked[allowed] * 1e4) / 1e4 + 1e-4
    return round(max(thr, own), 6) if thr <= 1.0 else None
