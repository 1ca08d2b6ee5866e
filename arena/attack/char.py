"""Family "char": visible character-level obfuscation a human reads through.

Leetspeak, separators inside words, typos (Pruthi et al. 2019: swap / delete / duplicate),
masking (``f*ck``) and case mixing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from arena.attack.base import CharEditStrategy, WordRewriteStrategy, letter_count
from arena.attack.registry import register_strategy

#: The small leet map (the only hand-typed substitution table of the attacker).
LEET: dict[str, str] = {
    "a": "4@", "b": "8", "e": "3", "g": "9", "i": "1!", "l": "1", "o": "0", "s": "5$", "t": "7", "z": "2",
}  # fmt: skip


@register_strategy(
    "leet", family="char", description="Leetspeak: replace letters with look-alike digits/symbols (1d10t)."
)
@dataclass
class LeetStrategy(CharEditStrategy):
    """Replace up to ``budget`` letters with leet characters from :data:`LEET`."""

    def _positions(self, word: str) -> list[int]:
        return [k for k, ch in enumerate(word) if ch.lower() in LEET]

    def _apply(self, word: str, positions: list[int], rng: random.Random) -> str:
        chars = list(word)
        for k in positions:
            chars[k] = rng.choice(LEET[chars[k].lower()])
        return "".join(chars)


@register_strategy(
    "separators",
    family="char",
    description="Put separators between the letters of a word (i.d.i.o.t, i d i o t).",
)
@dataclass
class SeparatorsStrategy(WordRewriteStrategy):
    """Insert one separator (drawn per word) between every pair of adjacent letters.

    Args:
        separators: the separators to draw from (a space one changes the word count).
    """

    separators: tuple[str, ...] = (".", " ", "_", "-")
    changes_tokens: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self.separators = tuple(self.separators)
        if not self.separators or not all(isinstance(s, str) and s for s in self.separators):
            raise ValueError("separators must be a non-empty list of non-empty strings")

    def _eligible(self, word: str) -> bool:
        return any(word[k - 1].isalpha() and word[k].isalpha() for k in range(1, len(word)))

    def _edit_word(self, word: str, rng: random.Random) -> str:
        sep = rng.choice(self.separators)
        out = [word[0]]
        for k in range(1, len(word)):
            if word[k - 1].isalpha() and word[k].isalpha():
                out.append(sep)
            out.append(word[k])
        return "".join(out)


@register_strategy(
    "typos",
    family="char",
    description="One typo per word: swap two adjacent letters, drop or double a letter.",
)
@dataclass
class TyposStrategy(WordRewriteStrategy):
    """Pruthi et al. 2019 style typos, one per touched word.

    Args:
        ops: the typo kinds to draw from: "swap", "delete", "duplicate".
    """

    ops: tuple[str, ...] = ("swap", "delete", "duplicate")

    def __post_init__(self) -> None:
        self.ops = tuple(self.ops)
        bad = set(self.ops) - {"swap", "delete", "duplicate"}
        if not self.ops or bad:
            raise ValueError(f"ops must be drawn from swap/delete/duplicate, got {self.ops!r}")

    def _eligible(self, word: str) -> bool:
        return letter_count(word) >= 3

    def _edit_word(self, word: str, rng: random.Random) -> str:
        letters = [k for k, ch in enumerate(word) if ch.isalpha()]
        swaps = [k for k in letters[:-1] if word[k + 1].isalpha() and word[k + 1] != word[k]]
        options = [op for op in self.ops if op != "swap" or swaps]
        op = rng.choice(options)
        if op == "swap":
            k = rng.choice(swaps)
            return word[:k] + word[k + 1] + word[k] + word[k + 2 :]
        k = rng.choice(letters[1:])  # keep the first letter: words stay readable
        if op == "delete":
            return word[:k] + word[k + 1 :]
        return word[: k + 1] + word[k] + word[k + 1 :]


@register_strategy(
    "masking", family="char", description="Mask inner letters of a word with a symbol (f*ck, id**t)."
)
@dataclass
class MaskingStrategy(WordRewriteStrategy):
    """Replace inner vowels (else an inner consonant) of each touched word with ``mask``.

    Args:
        mask: the masking character.
        max_masked: at most this many letters masked per word.
    """

    mask: str = "*"
    max_masked: int = 1

    def __post_init__(self) -> None:
        if not self.mask or self.max_masked < 1:
            raise ValueError("mask must be non-empty and max_masked >= 1")

    def _eligible(self, word: str) -> bool:
        return letter_count(word) >= 3

    def _edit_word(self, word: str, rng: random.Random) -> str:
        letters = [k for k, ch in enumerate(word) if ch.isalpha()]
        inner = letters[1:-1]
        vowels = [k for k in inner if word[k].lower() in "aeiouy"]
        pool = vowels or inner
        picked = set(rng.sample(pool, min(self.max_masked, len(pool))))
        return "".join(self.mask if k in picked else ch for k, ch in enumerate(word))


@register_strategy(
    "case_mix", family="char", description="Randomly mix upper and lower case inside words (iDiOt)."
)
@dataclass
class CaseMixStrategy(WordRewriteStrategy):
    """Flip the case of each cased letter with probability ``p`` (at least one per word)."""

    p: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.p <= 1.0:
            raise ValueError(f"p must be in (0, 1], got {self.p}")

    @staticmethod
    def _cased(word: str) -> list[int]:
        return [
            k
            for k, ch in enumerate(word)
            if len(ch.swapcase()) == 1 and ch.swapcase() != ch and ch.swapcase().swapcase() == ch
        ]

    def _eligible(self, word: str) -> bool:
        return len(self._cased(word)) >= 2

    def _edit_word(self, word: str, rng: random.Random) -> str:
        cased = self._cased(word)
        flips = {k for k in cased if rng.random() < self.p} or {rng.choice(cased)}
        return "".join(ch.swapcase() if k in flips else ch for k, ch in enumerate(word))
