"""Family "word": rewrites at the level of whole words.

Word split / merge, phonetic respelling (``phuck`` -> ``fuk``, ``you`` -> ``u``) and emoji for
words or letters. Budget unit: words touched (a merge touches two).
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from typing import ClassVar

from arena.attack.base import Strategy, WordRewriteStrategy, Words, choose_words, letter_count
from arena.attack.registry import register_strategy

_CORE_RE = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)


def split_core(word: str) -> tuple[str, str, str]:
    """``"(idiot!"`` -> ``("(", "idiot", "!")``: leading/trailing non-word characters apart."""
    m = _CORE_RE.match(word)
    assert m is not None  # the pattern matches every string
    return m.group(1), m.group(2), m.group(3)


def match_case(template: str, word: str) -> str:
    """Give ``word`` the case pattern of ``template`` (ALL CAPS, Capitalised or as is)."""
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


@register_strategy(
    "split_merge",
    family="word",
    description="Split a word with a space (idi ot) or merge it with the next (youidiot).",
)
@dataclass
class SplitMergeStrategy(Strategy):
    """Split salient words in two, or glue them to the following word.

    Args:
        mode: "split", "merge" or "mixed" (one of the possible operations per word).
    """

    mode: str = "mixed"
    unit: ClassVar[str] = "words"
    changes_tokens: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.mode not in ("split", "merge", "mixed"):
            raise ValueError(f"mode must be 'split', 'merge' or 'mixed', got {self.mode!r}")

    @staticmethod
    def _gaps(word: str) -> list[int]:
        return [k for k in range(1, len(word)) if word[k - 1].isalpha() and word[k].isalpha()]

    def _transform(self, text, rng, budget, targets, only_targets):
        words = Words(text)
        allowed = set(targets or ()) if only_targets else None
        touched: set[int] = set()
        left = budget
        for i in choose_words(words, rng, budget, lambda w: letter_count(w) >= 2, targets, only_targets):
            if left < 1 or i in touched:
                continue
            ops = []
            if self.mode != "merge" and self._gaps(words[i]):
                ops.append("split")
            nxt = i + 1
            if (
                self.mode != "split"
                and left >= 2
                and nxt < len(words)
                and nxt not in touched
                and (allowed is None or nxt in allowed)
            ):
                ops.append("merge")
            if not ops:
                continue
            if rng.choice(ops) == "split":
                k = rng.choice(self._gaps(words[i]))
                words[i] = words[i][:k] + " " + words[i][k:]
                touched.add(i)
                left -= 1
            else:
                words.merge_with_next(i)
                touched.update((i, nxt))
                left -= 2
        return words.join()


#: Whole-word respellings (text-speak).
WORD_RESPELLINGS: dict[str, str] = {
    "you": "u", "your": "ur", "you're": "ur", "youre": "ur", "are": "r", "why": "y", "see": "c", "be": "b",
    "okay": "k", "please": "plz", "the": "da", "because": "cuz", "people": "ppl", "what": "wut",
    "with": "wit", "that": "dat", "this": "dis", "love": "luv", "enough": "enuf", "night": "nite",
    "though": "tho", "through": "thru", "fuck": "fuk", "fucking": "fukin", "shit": "sht",
}  # fmt: skip

#: Sound-preserving spelling rules, applied to the lowercase word.
PHONETIC_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), repl)
    for pattern, repl in (
        (r"ph", "f"),
        (r"ck", "k"),
        (r"ou", "u"),
        (r"([b-df-hj-np-tv-z])\1", r"\1"),  # doubled consonants: asshole -> ashole
        (r"ight", "ite"),
        (r"qu", "kw"),
        (r"c(?=[aou])", "k"),
        (r"(?<=\w\w)er\b", "a"),
        (r"(?<=[a-z]{2})s\b", "z"),
        (r"th", "d"),
        (r"oo", "u"),
        (r"ee", "i"),
        (r"x", "ks"),
        (r"\bwh", "w"),
        (r"tion\b", "shun"),
        (r"ea", "ee"),
        (r"u(?=[bdpt][aeiouy])", "oo"),  # stupid -> stoopid
        (r"(?<=[a-z]{2})y\b", "ee"),
        (r"ing\b", "in"),
    )
)


@register_strategy(
    "phonetic", family="word", description="Respell words by sound (phuck->fuk, you->u, stupid->stoopid)."
)
@dataclass
class PhoneticStrategy(WordRewriteStrategy):
    """Apply a random non-empty subset of the matching :data:`PHONETIC_RULES` to each touched word
    (or its :data:`WORD_RESPELLINGS` entry)."""

    def _options(self, core: str) -> list[str]:
        low = core.lower()
        options = [WORD_RESPELLINGS[low]] if low in WORD_RESPELLINGS else []
        options += [repl for pat, repl in PHONETIC_RULES if pat.search(low)]
        return options

    def _eligible(self, word: str) -> bool:
        core = split_core(word)[1]
        return letter_count(core) >= 2 and bool(self._options(core))

    def _edit_word(self, word: str, rng: random.Random) -> str:
        lead, core, tail = split_core(word)
        low = core.lower()
        if low in WORD_RESPELLINGS and rng.random() < 0.5:
            return lead + match_case(core, WORD_RESPELLINGS[low]) + tail
        rules = [(pat, repl) for pat, repl in PHONETIC_RULES if pat.search(low)]
        if not rules:
            return lead + match_case(core, WORD_RESPELLINGS[low]) + tail
        subset = [rule for rule in rules if rng.random() < 0.5] or [rng.choice(rules)]
        out = self._apply_rules(low, subset)
        if out == low:  # two rules undid each other (oo -> u -> oo): one rule alone always changes
            out = self._apply_rules(low, subset[:1])
        return lead + match_case(core, out) + tail

    @staticmethod
    def _apply_rules(word: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
        for pat, repl in rules:
            word = pat.sub(repl, word)
        return word


#: A small emoji lexicon for whole words.
WORD_EMOJI: dict[str, str] = {
    "shit": "💩", "crap": "💩", "poop": "💩", "ass": "🍑", "butt": "🍑", "pig": "🐷", "pigs": "🐷",
    "clown": "🤡", "clowns": "🤡", "fool": "🤡", "snake": "🐍", "rat": "🐀", "rats": "🐀", "dog": "🐕",
    "monkey": "🐒", "cow": "🐄", "trash": "🗑️", "garbage": "🗑️", "kill": "🔪", "die": "💀", "dead": "💀",
    "gun": "🔫", "hell": "🔥", "devil": "😈", "evil": "😈", "brain": "🧠", "hate": "😡", "angry": "😡",
    "love": "❤️", "money": "💰", "dick": "🍆", "cock": "🐓", "donkey": "🫏", "vomit": "🤮", "sick": "🤢",
    "stupid": "🤪", "idiot": "🤪", "liar": "🤥", "lie": "🤥", "lies": "🤥", "cry": "😭", "laugh": "😂",
}  # fmt: skip


def letter_emoji(ch: str) -> str:
    """An ASCII letter as its negative squared letter symbol (``o`` -> ``🅾``)."""
    return unicodedata.lookup(f"NEGATIVE SQUARED LATIN CAPITAL LETTER {ch.upper()}")


@register_strategy(
    "emoji",
    family="word",
    description="Replace a word by an emoji (shit->💩) or one letter by a letter emoji (🅾).",
)
@dataclass
class EmojiStrategy(WordRewriteStrategy):
    """Swap whole words found in :data:`WORD_EMOJI`; other words get one letter as a letter emoji.

    Args:
        letters: also replace single ASCII letters in words without a word emoji.
    """

    letters: bool = True
    # a symbol replaces a word: the edit count says nothing about the meaning, similarity does
    validity_kind: ClassVar[str] = "semantic"

    def _eligible(self, word: str) -> bool:
        core = split_core(word)[1]
        if core.lower() in WORD_EMOJI:
            return True
        return self.letters and letter_count(word) >= 3 and any(ch.isascii() and ch.isalpha() for ch in core)

    def _edit_word(self, word: str, rng: random.Random) -> str:
        lead, core, tail = split_core(word)
        if core.lower() in WORD_EMOJI:
            return lead + WORD_EMOJI[core.lower()] + tail
        k = rng.choice([k for k, ch in enumerate(word) if ch.isascii() and ch.isalpha()])
        return word[:k] + letter_emoji(word[k]) + word[k + 1 :]
