"""Family "unicode": attacks that keep the rendered text (almost) identical.

Homoglyphs, invisible characters, bidi reordering and combining diacritics, after Boucher et
al. 2022, "Bad Characters: Imperceptible NLP Attacks". Homoglyphs come from the Unicode
confusables data shipped by the ``confusable_homoglyphs`` package.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from arena.attack.base import CharEditStrategy, WordRewriteStrategy
from arena.attack.registry import register_strategy

ZWSP, ZWNJ, ZWJ, WORD_JOINER, SOFT_HYPHEN = "\u200b", "\u200c", "\u200d", "\u2060", "\u00ad"
LRO, RLO, PDF = "\u202d", "\u202e", "\u202c"
LRM, RLM = "\u200e", "\u200f"

#: Scripts whose look-alikes render in common fonts and survive NFKC normalisation.
DEFAULT_SCRIPTS: tuple[str, ...] = ("CYRILLIC", "GREEK", "ARMENIAN")


@lru_cache(maxsize=8)
def homoglyph_table(scripts: tuple[str, ...] | None = DEFAULT_SCRIPTS) -> dict[str, tuple[str, ...]]:
    """Map each character to its single-code-point look-alike *letters* from the confusables data.

    With ``scripts`` (names as in the Unicode character name's first word, e.g. "CYRILLIC"),
    only look-alikes from those scripts that NFKC/NFKD leave unchanged are kept (so a
    canonicaliser running NFKC does not undo the attack for free); ``None`` keeps every
    single-code-point look-alike letter (mathematical, fullwidth, ...).
    """
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[str, tuple[str, ...]] = {}
    for char, entries in confusables_data.items():
        if len(char) != 1 or not char.isalnum():
            continue
        options = []
        for entry in entries:
            glyph = entry["c"]
            if (
                len(glyph) != 1
                or glyph == char
                or glyph.isascii()
                or unicodedata.category(glyph) not in ("Ll", "Lu", "Lo")
            ):
                continue
            if scripts is not None:
                if unicodedata.normalize("NFKD", glyph) != glyph:  # NFKC/NFKD would fold it away
                    continue
                if unicodedata.name(glyph, "").split(" ")[0] not in scripts:
                    continue
            options.append(glyph)
        if options:
            table[char] = tuple(options)
    return table


@register_strategy(
    "homoglyph",
    family="unicode",
    description="Swap letters for look-alikes from the Unicode confusables data.",
)
@dataclass
class HomoglyphStrategy(CharEditStrategy):
    """Replace up to ``budget`` characters with a confusable (e.g. Latin ``o`` -> Cyrillic ``о``).

    Args:
        scripts: scripts to draw look-alikes from; ``None`` = any single-code-point letter.
    """

    scripts: tuple[str, ...] | None = DEFAULT_SCRIPTS

    def __post_init__(self) -> None:
        if self.scripts is not None:
            self.scripts = tuple(s.upper() for s in self.scripts)
        self._table = homoglyph_table(self.scripts)

    def _positions(self, word: str) -> list[int]:
        return [k for k, ch in enumerate(word) if ch in self._table]

    def _apply(self, word: str, positions: list[int], rng: random.Random) -> str:
        chars = list(word)
        for k in positions:
            chars[k] = rng.choice(self._table[chars[k]])
        return "".join(chars)


@register_strategy(
    "invisible",
    family="unicode",
    description="Insert zero-width characters (ZWSP, ZWNJ, ZWJ, word joiner, soft hyphen) inside words.",
)
@dataclass
class InvisibleStrategy(CharEditStrategy):
    """Insert up to ``budget`` invisible characters between two letters of salient words.

    Args:
        chars: the invisible characters to draw from.
    """

    chars: str = ZWSP + ZWNJ + ZWJ + WORD_JOINER + SOFT_HYPHEN

    def __post_init__(self) -> None:
        if not self.chars:
            raise ValueError("chars must not be empty")

    def _positions(self, word: str) -> list[int]:
        # gap k = between word[k-1] and word[k], both letters
        return [k for k in range(1, len(word)) if word[k - 1].isalpha() and word[k].isalpha()]

    def _apply(self, word: str, positions: list[int], rng: random.Random) -> str:
        out, last = [], 0
        for k in positions:
            out.append(word[last:k])
            out.append(rng.choice(self.chars))
            last = k
        out.append(word[last:])
        return "".join(out)


def _direction(ch: str) -> str:
    bidi = unicodedata.bidirectional(ch)
    return "rtl" if bidi in ("R", "AL") else "ltr" if bidi == "L" else "other"


@register_strategy(
    "bidi",
    family="unicode",
    description="Store a word (or a letter pair) reversed inside a bidi override so it renders unchanged.",
)
@dataclass
class BidiStrategy(WordRewriteStrategy):
    """Bidi reordering (Boucher et al. 2022): ``idiot`` -> ``RLO + "toidi" + PDF + LRM``.

    The right-to-left override makes the reversed letters display in the original order, while
    the stored code points differ. Right-to-left words get a left-to-right override instead. Each
    run is closed by PDF and a mark of the word's own direction (LRM; RLM after an LRO): without
    it, UAX #9 gives a space between two overridden words their direction and the words swap
    places on screen (``RLO ruoy PDF  RLO sa PDF s`` displays ``as yours``, not ``your ass``).

    Args:
        span: "word" reverses the word's whole letter run, "pair" two adjacent letters,
            "mixed" picks one per word.
    """

    span: str = "mixed"

    def __post_init__(self) -> None:
        if self.span not in ("word", "pair", "mixed"):
            raise ValueError(f"span must be 'word', 'pair' or 'mixed', got {self.span!r}")

    @staticmethod
    def _letter_run(word: str) -> tuple[int, int]:
        """The longest run of letters in ``word`` as (start, end)."""
        best, start = (0, 0), None
        for k, ch in enumerate(word + " "):
            if ch.isalpha() and start is None:
                start = k
            elif not ch.isalpha() and start is not None:
                if k - start > best[1] - best[0]:
                    best = (start, k)
                start = None
        return best

    def _eligible(self, word: str) -> bool:
        start, end = self._letter_run(word)
        run = word[start:end]
        return len(run) >= 2 and len({_direction(ch) for ch in run}) == 1

    def _edit_word(self, word: str, rng: random.Random) -> str:
        start, end = self._letter_run(word)
        span = self.span if self.span != "mixed" else rng.choice(("word", "pair"))
        if span == "pair":
            start = rng.randrange(start, end - 1)
            end = start + 2
        segment = word[start:end]
        rtl = _direction(segment[0]) == "rtl"
        return word[:start] + (LRO if rtl else RLO) + segment[::-1] + PDF + (RLM if rtl else LRM) + word[end:]


def _default_marks() -> str:
    """Combining Diacritical Marks block, minus the grapheme joiner and the double-width marks."""
    marks = []
    for code in range(0x0300, 0x0370):
        ch = chr(code)
        name = unicodedata.name(ch, "")
        if unicodedata.combining(ch) and "DOUBLE" not in name and "GRAPHEME JOINER" not in name:
            marks.append(ch)
    return "".join(marks)


@register_strategy(
    "diacritics", family="unicode", description="Stack combining diacritical marks on letters (zalgo-lite)."
)
@dataclass
class DiacriticsStrategy(CharEditStrategy):
    """Add up to ``budget`` combining marks, each after a letter of a salient word.

    Args:
        marks: the combining marks to draw from (default: the Combining Diacritical Marks block
            U+0300-U+036F without the grapheme joiner and the double-width marks).
    """

    marks: str = ""
    _DEFAULT: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if not self.marks:
            if not DiacriticsStrategy._DEFAULT:
                DiacriticsStrategy._DEFAULT = _default_marks()
            self._marks = DiacriticsStrategy._DEFAULT
        else:
            self._marks = self.marks

    def _positions(self, word: str) -> list[int]:
        return [k for k, ch in enumerate(word) if ch.isalpha()]

    def _apply(self, word: str, positions: list[int], rng: random.Random) -> str:
        chars = list(word)
        for k in positions:
            chars[k] = chars[k] + rng.choice(self._marks)
        return "".join(chars)
