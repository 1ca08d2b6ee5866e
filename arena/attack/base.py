"""The strategy interface: a template method in the style of TextAttack's ``Transformation``.

The public ``Strategy.__call__`` does the shared bookkeeping (seeding, budget, empty text,
de-duplication, provenance) and subclasses override one small hook:

* ``_transform(text, rng, budget, targets, only_targets) -> str`` returns one rewrite; or
* ``_edit_word`` / ``_edit_positions`` via the helpers :class:`WordRewriteStrategy` (budget
  in words) and :class:`CharEditStrategy` (budget in characters).

Seed contract: ``strategy(text, rng, ...)`` takes either an ``int`` seed or a
``random.Random`` (from which one 63-bit seed is drawn). Candidate ``i`` is produced by
``random.Random(derive_seed(seed, i))`` and records that derived seed, so
``strategy(text, candidate.seed, budget, n=1)`` (same params and targets) reproduces it exactly.
Strategies never touch the global ``random`` module.

Words are whitespace-separated tokens (``text.split()`` indices); ``targets`` are such indices.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from arena.attack.lexicon import STOPWORDS, explicit_lexicon, is_markup
from arena.types import Candidate

#: attempts per requested candidate before a strategy gives up on finding a new distinct rewrite
ATTEMPTS_PER_CANDIDATE = 3


def derive_seed(seed: int, index: int) -> int:
    """Seed of candidate ``index`` (``index`` 0 keeps ``seed``); a stable 63-bit hash otherwise."""
    if index == 0:
        return seed
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def resolve_seed(rng: random.Random | int) -> int:
    """An ``int`` is the seed itself; a ``random.Random`` gives one draw of 63 bits."""
    if isinstance(rng, random.Random):
        return rng.getrandbits(63)
    if isinstance(rng, int) and not isinstance(rng, bool):
        return rng
    raise TypeError(f"rng must be an int seed or a random.Random, got {type(rng).__name__}")


def letter_count(word: str) -> int:
    """Number of alphabetic characters in ``word``."""
    return sum(ch.isalpha() for ch in word)


class Words:
    """Whitespace tokenisation that keeps the whitespace, so :meth:`join` restores the text.

    ``words[i]`` is ``text.split()[i]``; assigning to it edits that word in place.
    """

    def __init__(self, text: str):
        self.pieces = re.split(r"(\s+)", text)
        self._index = [p for p in range(0, len(self.pieces), 2) if self.pieces[p]]

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, i: int) -> str:
        return self.pieces[self._index[i]]

    def __setitem__(self, i: int, word: str) -> None:
        self.pieces[self._index[i]] = word

    def merge_with_next(self, i: int) -> None:
        """Join word ``i`` and word ``i + 1``, dropping the whitespace between them."""
        left, right = self._index[i], self._index[i + 1]
        self.pieces[left] += self.pieces[right]
        for p in range(left + 1, right + 1):
            self.pieces[p] = ""

    def join(self) -> str:
        return "".join(self.pieces)


def salience_key(word: str) -> tuple[bool, bool, int]:
    """Default salience (sort ascending): explicit words (the insult lexicon) first, then content
    words before stopwords, longer before shorter."""
    core = "".join(ch for ch in word.lower() if ch.isalpha())
    return (core not in explicit_lexicon(), core in STOPWORDS, -len(core))


def choose_words(
    words: Words | Sequence[str],
    rng: random.Random,
    k: int,
    eligible: Callable[[str], bool],
    targets: Sequence[int] | None = None,
    only_targets: bool = False,
) -> list[int]:
    """Pick up to ``k`` eligible word indices.

    Valid, eligible ``targets`` come first, in their order. Unless ``only_targets``, the rest
    is filled from the default heuristic (:func:`salience_key`; markup such as ``@user`` and URLs
    is skipped): ``k`` are drawn at random from the best
    ``2k`` so that repeated calls with different seeds vary.
    """
    chosen: list[int] = []
    seen: set[int] = set()
    for t in targets or ():
        if isinstance(t, int) and 0 <= t < len(words) and t not in seen and eligible(words[t]):
            chosen.append(t)
            seen.add(t)
            if len(chosen) >= k:
                return chosen
    if only_targets or len(chosen) >= k:
        return chosen
    rest = [i for i in range(len(words)) if i not in seen and not is_markup(words[i]) and eligible(words[i])]
    need = k - len(chosen)
    ranked = sorted(rest, key=lambda i: (*salience_key(words[i]), i))
    pool = ranked[: 2 * need]
    picked = rng.sample(pool, need) if len(pool) > need else pool
    return chosen + sorted(picked)


class Strategy:
    """Base class of every attack strategy. Subclasses are dataclasses whose fields are params.

    Class attributes set by subclasses: ``unit`` ("chars", "words" or "output_words": what the
    budget counts), ``default_budget``, ``validity_kind`` ("edit" or "semantic": which
    constraint judges the output), ``changes_tokens`` (may add or remove whitespace, which
    shifts word indices). ``name``, ``family`` and ``description`` are set by
    :func:`~arena.attack.registry.register_strategy`.
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    description: ClassVar[str] = ""
    kind: ClassVar[str] = "strategy"
    unit: ClassVar[str] = "words"
    default_budget: ClassVar[int | None] = 2
    validity_kind: ClassVar[str] = "edit"
    changes_tokens: ClassVar[bool] = False

    @classmethod
    def families(cls) -> set[str]:
        """Families this strategy draws on (recipes override)."""
        return {cls.family}

    @property
    def params(self) -> dict[str, Any]:
        """The strategy's parameters (its dataclass fields shown in repr) for provenance."""
        if not dataclasses.is_dataclass(self):
            return {}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.repr}

    def budget_for(self, text: str, budget: int | None) -> int:
        """The effective budget: ``budget`` or the class default."""
        if budget is None:
            return int(self.default_budget or 1)
        if isinstance(budget, bool) or not isinstance(budget, int):
            raise TypeError(f"budget must be an int or None, got {budget!r}")
        return budget

    def __call__(
        self,
        text: str,
        rng: random.Random | int,
        budget: int | None = None,
        n: int = 1,
        targets: Sequence[int] | None = None,
        only_targets: bool = False,
    ) -> list[Candidate]:
        """Return up to ``n`` distinct rewrites of ``text`` (never the text itself).

        ``rng``: an ``int`` seed or a ``random.Random`` (one seed is drawn from it).
        ``budget``: how many units (``self.unit``) may be touched; ``None`` = default.
        ``targets``: word indices to attack first (e.g. from word importance); with
        ``only_targets`` no other word is touched. An empty or blank text, a budget < 1 or a
        text the strategy cannot change gives ``[]``.
        """
        if not isinstance(text, str):
            raise TypeError(
                f"{self.name or type(self).__name__}: text must be a str, got {type(text).__name__}"
            )
        seed = resolve_seed(rng)
        budget = self.budget_for(text, budget)
        target_list = [t for t in targets if isinstance(t, int)] if targets else None
        if n < 1 or budget < 1 or not text.strip():
            return []
        params = {**self.params, "budget": budget}
        if target_list:
            params["targets"] = target_list
            if only_targets:
                params["only_targets"] = True
        return [
            Candidate(original=text, text=out, strategy=self.name, params={**params, **extra}, seed=s)
            for out, s, extra in self._generate(text, seed, budget, n, target_list, only_targets)
        ]

    def _generate(
        self, text: str, seed: int, budget: int, n: int, targets: list[int] | None, only_targets: bool
    ) -> list[tuple[str, int, dict[str, Any]]]:
        """Draw rewrites with derived seeds until ``n`` distinct changed ones (bounded attempts)."""
        found: list[tuple[str, int, dict[str, Any]]] = []
        seen = {text}
        for i in range(ATTEMPTS_PER_CANDIDATE * n):
            s = derive_seed(seed, i)
            out = self._transform(text, random.Random(s), budget, targets, only_targets)
            if out not in seen:
                seen.add(out)
                found.append((out, s, {}))
                if len(found) == n:
                    break
        return found

    def _transform(
        self, text: str, rng: random.Random, budget: int, targets: list[int] | None, only_targets: bool
    ) -> str:
        """Return one rewrite of ``text`` touching at most ``budget`` units (the hook)."""
        raise NotImplementedError


class WordRewriteStrategy(Strategy):
    """A strategy that rewrites up to ``budget`` whole words, one at a time (unit: words).

    Subclasses implement ``_eligible(word)`` and ``_edit_word(word, rng) -> str``.
    """

    unit: ClassVar[str] = "words"
    default_budget: ClassVar[int | None] = 2

    def _eligible(self, word: str) -> bool:
        return letter_count(word) >= 2

    def _edit_word(self, word: str, rng: random.Random) -> str:
        raise NotImplementedError

    def _transform(self, text, rng, budget, targets, only_targets):
        words = Words(text)
        for i in choose_words(words, rng, budget, self._eligible, targets, only_targets):
            words[i] = self._edit_word(words[i], rng)
        return words.join()


class CharEditStrategy(Strategy):
    """A strategy that makes up to ``budget`` single-character edits (unit: chars).

    Edits are spread one per chosen word (salient words first); when fewer words are eligible
    than the budget allows, further edits go round-robin into the same words. Subclasses
    implement ``_positions(word) -> list[int]`` (editable character indices) and
    ``_apply(word, positions, rng) -> str`` (edit exactly those positions).
    """

    unit: ClassVar[str] = "chars"
    default_budget: ClassVar[int | None] = 2

    def _positions(self, word: str) -> list[int]:
        raise NotImplementedError

    def _apply(self, word: str, positions: list[int], rng: random.Random) -> str:
        raise NotImplementedError

    def _transform(self, text, rng, budget, targets, only_targets):
        words = Words(text)
        chosen = choose_words(words, rng, budget, lambda w: bool(self._positions(w)), targets, only_targets)
        if not chosen:
            return text
        quota = {i: 0 for i in chosen}
        available = {i: len(self._positions(words[i])) for i in chosen}
        left = budget
        while left > 0:
            progressed = False
            for i in chosen:
                if left > 0 and quota[i] < available[i]:
                    quota[i] += 1
                    left -= 1
                    progressed = True
            if not progressed:
                break
        for i in chosen:
            positions = self._positions(words[i])
            picked = sorted(rng.sample(positions, quota[i]))
            words[i] = self._apply(words[i], picked, rng)
        return words.join()
