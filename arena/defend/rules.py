"""The defender's learned layer: variant -> word rules mined from the attacker's successes.

    rules = RuleSet.load(folder)                        # OUT/models/round-3/rules.json (or empty)
    mined = mine_rules(pairs, canonicalizer)            # (attacked, original, strategy) of train evasions
    admitted, report = admit_rules(mined, clean_train, benign_perturbed, score, threshold)
    challenger_rules = rules.merged(admitted, round=3)

Each round, the attacked texts of the train-pool evasions are aligned word by word with their
originals (after the canonicaliser). Every changed span of at most :data:`MAX_SPAN` words gives a
candidate pair, e.g. ``iddiot -> idiot``, ``idi ot -> idiot``, ``stuipd -> stupid``. A candidate is
admitted only if

- it rewrites a non-word into a word that looks like it (``rapidfuzz`` ratio >= :data:`MIN_RATIO`):
  a paraphrase (``fool -> person``) is no rule. With ``rare_words`` (``retrain.rare_word_rules``), a
  token wordfreq counts but a spelling dictionary lacks (symspellpy's English list: ``shi``, ``sas``,
  ``teh``; not ``sin`` or ``sit``) is a non-word too, and such a rule is admitted only where no clean
  train text holds its variant;
- it changes under 0.1 % of the clean train tokens (``max_clean_share``);
- it raises the benign FPR on perturbed *train* texts by nothing: a rule that makes the champion
  flag a perturbed non-toxic train text it did not flag before is dropped.

Each admitted single-word target of at least :data:`FUZZY_MIN_LEN` letters (a word wordfreq
lists) whose variants are spelling edits also becomes a **fuzzy rule** (``~idiot``): any token
that wordfreq does not list at all and that lies within a small optimal-string-alignment distance
of it (1 edit up to 6 letters, 2 from 7; ``rapidfuzz``) is rewritten to it, so ``idoit``, ``idiiot`` and ``iidot`` all read ``idiot`` although only one of
them was ever mined. A fuzzy rule passes the same two admission tests (the clean train tokens it
would rewrite, and the perturbed benign train texts it would make the champion flag).

The rules are saved with the model (``rules.json`` in the defender folder), so a challenger is new
rules + new weights, the gate judges the pair, and a rollback restores both. They run after the
canonicaliser, in ``Defender.prepare``, everywhere the model runs. Pure Python; no torch.
"""

from __future__ import annotations

import difflib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from arena.defend.canonical import in_dictionary, in_lexicon, is_known, split_edges, word_key, zipf
from arena.errors import ModelError

RULES_FILE = "rules.json"
FORMAT = 1
#: Longest aligned span (in words) a rule may rewrite.
MAX_SPAN = 3
#: The variant must look like its target (rapidfuzz ``fuzz.ratio`` of the letters, 0-100).
MIN_RATIO = 60.0
#: Fuzzy rules: the shortest target, and the edit distance allowed by the token's length.
FUZZY_MIN_LEN = 4
FUZZY_PREFIX = "~"
#: rare_words: a variant wordfreq counts must be this many Zipf units rarer than its target (10 times):
#: ``shi`` 3.5 -> ``shit`` 5.5, ``sas`` 3.5 -> ``ass`` 5.0; not ``mins`` 3.9 -> ``minds`` 4.5.
RARE_GAP = 1.0


def fuzzy_distance(n: int) -> int:
    """Edits a fuzzy rule tolerates in a token of ``n`` letters (0 below :data:`FUZZY_MIN_LEN`)."""
    return 0 if n < FUZZY_MIN_LEN else 1 if n <= 6 else 2


@dataclass(frozen=True)
class Rule:
    """``variant`` (lowercase words, space-separated) is rewritten to ``target`` wherever it occurs."""

    variant: str
    target: str
    round: int = 0
    support: int = 1  # train evasions it was mined from
    strategy: str = ""  # the strategy of its first evasion
    fuzzy: bool = False  # variant is FUZZY_PREFIX + target: any non-word within fuzzy_distance of target

    @classmethod
    def fuzzy_of(cls, target: str, rnd: int = 0, support: int = 1, strategy: str = "") -> Rule:
        return cls(FUZZY_PREFIX + target, target, rnd, support, strategy, True)


class RuleSet:
    """An ordered set of word rules, applied to whitespace tokens: fuzzy rules on single non-words
    that no exact rule names, then exact variants (longest first)."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self.rules: dict[str, Rule] = {}
        for r in rules:
            self.rules.setdefault(r.variant, r)
        self._index = {tuple(v.split()): r.target.split() for v, r in self.rules.items() if not r.fuzzy}
        self._max_n = max((len(k) for k in self._index), default=0)
        self._anchors = sorted({r.target for r in self.rules.values() if r.fuzzy})
        self._anchor_set = frozenset(self._anchors)
        self._fuzzy_cache: dict[str, str | None] = {}

    def __len__(self) -> int:
        return len(self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def fuzzy_target(self, key: str) -> str | None:
        """The fuzzy rule's target for a word key (a non-word near an anchor), else None."""
        if not self._anchors:
            return None
        hit = self._fuzzy_cache.get(key, "")
        if hit == "":
            hit = None if key in self._anchor_set else _nearest(key, self._anchors)
            if len(self._fuzzy_cache) < 200_000:
                self._fuzzy_cache[key] = hit
        return hit

    def __call__(self, text: str) -> str:
        if not self._index and not self._anchors:
            return text
        words = text.split()
        if not words:
            return text
        keys = [word_key(w) for w in words]
        changed = False
        if self._anchors:  # fuzzy rules first, on single non-words that no exact rule names
            for k, key in enumerate(keys):
                tag = "#" if key.startswith("#") else ""  # a hashtag's word too (#idoit -> #idiot)
                target = self.fuzzy_target(key[len(tag):]) if key and (key,) not in self._index else None
                if target is not None:
                    lead, _, tail = split_edges(words[k])
                    words[k], keys[k], changed = lead + tag + target + tail, tag + target, True
        out: list[str] = []
        k = 0
        while k < len(words):
            for n in range(min(self._max_n, len(words) - k), 0, -1):
                target = self._index.get(tuple(keys[k : k + n]))
                if target is not None and all(keys[k : k + n]):
                    lead = split_edges(words[k])[0]
                    tail = split_edges(words[k + n - 1])[2]
                    out.append(lead + " ".join(target) + tail)
                    k += n
                    changed = True
                    break
            else:
                out.append(words[k])
                k += 1
        return " ".join(out) if changed else text

    def merged(self, new: Iterable[Rule | dict[str, Any]]) -> RuleSet:
        """These rules plus ``new`` (Rules or their dicts; an existing variant keeps its first target)."""
        return RuleSet([*self.rules.values(), *(r if isinstance(r, Rule) else Rule(**r) for r in new)])

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "rules": [asdict(r) for r in self.rules.values()]}

    def save(self, folder: str | os.PathLike) -> Path | None:
        """Write ``folder/rules.json`` (nothing when empty; an older file is removed)."""
        path = Path(folder) / RULES_FILE
        if not self.rules:
            path.unlink(missing_ok=True)
            return None
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike) -> RuleSet:
        path = Path(folder) / RULES_FILE
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text())
            if data.get("format") != FORMAT:
                raise ModelError(f"{path}: rules format {data.get('format')!r} is not supported (expected {FORMAT})")
            return cls(Rule(**r) for r in data["rules"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ModelError(f"{path}: unreadable rules file: {exc}") from exc


def _nearest(key: str, anchors: Sequence[str]) -> str | None:
    """The anchor within :func:`fuzzy_distance` of the non-word ``key`` (closest, then first), or None."""
    d = fuzzy_distance(len(key))
    if not d or not key.isalpha() or in_lexicon(key):
        return None
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    hit = process.extractOne(key, anchors, scorer=OSA.distance, score_cutoff=d)
    return None if hit is None else hit[0]


# ---------------------------------------------------------------------------- mining
def _looks_alike(variant: str, target: str) -> bool:
    from rapidfuzz import fuzz

    return fuzz.ratio(variant.replace(" ", ""), target.replace(" ", "")) >= MIN_RATIO


def candidate_pairs(attacked: str, original: str, rare_words: bool = False) -> list[tuple[str, str]]:
    """(variant, target) spans where the (canonical) attacked text differs from its original (``rare_words``:
    see :func:`_rare_typo`)."""
    a = [word_key(w) for w in attacked.split()]
    o = [word_key(w) for w in original.split()]
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, o, autojunk=False).get_opcodes():
        if op != "replace" or not (0 < i2 - i1 <= MAX_SPAN and 0 < j2 - j1 <= MAX_SPAN):
            continue
        va, tg = a[i1:i2], o[j1:j2]
        spans = [([x], [y]) for x, y in zip(va, tg, strict=True)] if len(va) == len(tg) else [(va, tg)]
        for v_words, t_words in spans:  # equal-length changes are word-for-word pairs
            pair = _pair(v_words, t_words, rare_words)
            if pair:
                out.append(pair)
    return out


def _common_word(variant: str) -> bool:
    """A single-word variant wordfreq rates common (Zipf >= 3): only ``rare_words`` mines one (:func:`_rare_typo`),
    and admission then asks that no clean text holds it."""
    return " " not in variant and is_known(variant)


def _rare_typo(variant: str, target: str) -> bool:
    """A common single-word ``variant`` (:func:`_common_word`) that still reads as a typo of ``target``: no
    spelling dictionary holds it (``shi``, ``sas``, ``teh`` are common in wordfreq's counts, from names,
    abbreviations and typos) and it is :data:`RARE_GAP` Zipf units rarer than ``target`` (not ``mins -> minds``)."""
    return not in_dictionary(variant) and zipf(target) - zipf(variant) >= RARE_GAP


def _pair(va: list[str], tg: list[str], rare_words: bool = False) -> tuple[str, str] | None:
    if not all(va) or not all(tg):
        return None
    variant, target = " ".join(va), " ".join(tg)
    if variant == target or len(variant.replace(" ", "")) < 3:
        return None
    if all(is_known(w) for w in va) and not (rare_words and _common_word(variant) and _rare_typo(variant, target)):
        return None  # a rule rewrites non-words: "shit -> shut" would undo nothing and break clean text
    if not _looks_alike(variant, target):
        return None  # a paraphrase, not an obfuscation
    return variant, target


def mine_rules(evasions: Iterable[tuple[str, str, str]], prepare: Callable[[str], str] | None = None,
               rnd: int = 0, fuzzy: bool = True, rare_words: bool = False) -> list[Rule]:
    """Candidate rules from (attacked, original, strategy) triples, most supported first.

    ``prepare`` (the canonicaliser and the rules so far) runs on both texts first, so a rule is
    mined only for what the existing layers leave. A variant mined with two targets keeps the
    more frequent one. With ``fuzzy``, the :func:`fuzzy_candidates` of those rules follow them.
    With ``rare_words``, a variant may be a token wordfreq counts that no spelling dictionary holds
    (:func:`_rare_typo`): ``shi -> shit``, ``sas -> ass``.
    """
    prepare = prepare or (lambda t: t)
    counts: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], str] = {}
    for attacked, original, strategy in evasions:
        for pair in candidate_pairs(prepare(attacked), prepare(original), rare_words):
            counts[pair] += 1
            first.setdefault(pair, strategy)
    best: dict[str, tuple[str, int]] = {}
    for (variant, target), n in counts.most_common():
        best.setdefault(variant, (target, n))
    rules = [Rule(v, t, rnd, n, first[(v, t)]) for v, (t, n) in best.items()]
    if fuzzy:
        rules += fuzzy_candidates(rules, rnd)
    return rules


def fuzzy_candidates(rules: Iterable[Rule], rnd: int = 0) -> list[Rule]:
    """A fuzzy rule per single-word target whose mined variants include a spelling edit of it
    (within :func:`fuzzy_distance`), supported by those variants' evasions."""
    from rapidfuzz.distance import OSA

    support: Counter[str] = Counter()
    first: dict[str, str] = {}
    for r in rules:
        v, t = r.variant, r.target
        if r.fuzzy or " " in v or " " in t or len(t) < FUZZY_MIN_LEN or not (v.isalpha() and t.isalpha()) or (
                not in_lexicon(t)):  # an original's own misspelling ("croocked") is no anchor
            continue
        if OSA.distance(v, t) <= fuzzy_distance(len(v)):
            support[t] += r.support
            first.setdefault(t, r.strategy)
    return [Rule.fuzzy_of(t, rnd, n, first[t]) for t, n in support.most_common()]


def _spans(keys: list[str]) -> Iterable[str]:
    """Every 1..MAX_SPAN-word span of ``keys`` (word keys) that a rule could match."""
    for n in range(1, MAX_SPAN + 1):
        for k in range(len(keys) - n + 1):
            if all(keys[k : k + n]):
                yield " ".join(keys[k : k + n])


def ngram_counts(texts: Iterable[str]) -> tuple[Counter[str], int]:
    """Counts of 1..MAX_SPAN-word spans (as rules see them) and the total number of words."""
    counts: Counter[str] = Counter()
    total = 0
    for t in texts:
        keys = [word_key(w) for w in t.split()]
        total += len(keys)
        counts.update(_spans(keys))
    return counts, total


def admit_rules(candidates: Sequence[Rule], clean_texts: Sequence[str], benign_perturbed: Sequence[str],
                score: Callable[[list[str]], list[float]] | None, threshold: float, *,
                base: RuleSet | None = None, max_clean_share: float = 0.001) -> tuple[list[Rule], dict[str, int]]:
    """The candidates that pass both admission tests (see the module docstring), and a count report.

    ``clean_texts`` and ``benign_perturbed`` are already prepared by the layers in front (the
    canonicaliser and ``base``, the champion's rules). ``score`` is the champion's P(toxic); None
    skips the FPR test (unit tests).
    """
    base = base or RuleSet()
    counts, total = ngram_counts(clean_texts)
    limit = max_clean_share * max(1, total)
    fuzzy_hits = _fuzzy_clean_counts([r.target for r in candidates if r.fuzzy], counts)

    def clean_ok(r: Rule) -> bool:
        if r.fuzzy:
            return fuzzy_hits[r.target] < limit
        if _common_word(r.variant):  # mined with rare_words: no clean text may hold it
            return counts[r.variant] == 0
        return counts[r.variant] * len(r.variant.split()) < limit

    kept = [r for r in candidates if r.variant not in base.rules and clean_ok(r)]
    report = {"candidates": len(candidates), "clean_rejected": len(candidates) - len(kept), "fpr_rejected": 0}
    if kept and score is not None and benign_perturbed:
        trial = RuleSet(kept)
        after = [trial(t) for t in benign_perturbed]
        touched = [k for k, (a, b) in enumerate(zip(benign_perturbed, after, strict=True)) if a != b]
        if touched:
            before_s = score([benign_perturbed[k] for k in touched])
            after_s = score([after[k] for k in touched])
            bad: set[str] = set()
            for k, s0, s1 in zip(touched, before_s, after_s, strict=True):
                if s1 >= threshold > s0:  # the rules made the champion flag a benign text
                    bad.update(_fired(trial, benign_perturbed[k]))
            report["fpr_rejected"] = len(bad)
            kept = [r for r in kept if r.variant not in bad]
    report["admitted"] = len(kept)
    return kept, report


def _fuzzy_clean_counts(targets: Sequence[str], counts: Counter[str]) -> Counter[str]:
    """Per fuzzy target, how many clean word tokens (``counts``: unigrams and longer spans) it would rewrite."""
    out: Counter[str] = Counter()
    if not targets:
        return out
    import numpy as np
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    words = [w for w in counts if " " not in w and fuzzy_distance(len(w)) and w.isalpha() and not in_lexicon(w)]
    if not words:
        return out
    dist = process.cdist(words, list(targets), scorer=OSA.distance, score_cutoff=2, dtype=np.int32)
    limits = np.array([fuzzy_distance(len(w)) for w in words])[:, None]
    weights = np.array([counts[w] for w in words])[:, None]
    hit = (dist <= limits) & (np.array(words, dtype=object)[:, None] != np.array(targets, dtype=object)[None, :])
    for t, n in zip(targets, (hit * weights).sum(axis=0), strict=True):
        out[t] = int(n)
    return out


def _fired(rules: RuleSet, text: str) -> set[str]:
    """Variants of ``rules`` that match somewhere in ``text`` (fuzzy ones as ``~target``)."""
    keys = [word_key(w) for w in text.split()]
    fired = {v for v in _spans(keys) if v in rules.rules}
    fired |= {FUZZY_PREFIX + t for t in (rules.fuzzy_target(k.removeprefix("#")) for k in keys if k) if t is not None}
    return fired
