"""Small word lists the strategies share: stopwords, markup tokens, explicit insults.

The explicit-word lexicon (used by ``llm_rewrite`` to throw away paraphrases that still contain
an explicit insult) is ``better_profanity``'s word list when that package is installed (the
``peers`` extra), else the short built-in :data:`BUILTIN_EXPLICIT` list below.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

#: English function words: the default target heuristic attacks content words first.
STOPWORDS: frozenset[str] = frozenset(
    """a an the and or but if then so of to in on at by for with from as is are was were be been
    being am i me my we our you your he him his she her it its they them their this that these
    those there here what which who whom when where why how not no yes do does did done have has
    had will would can could should shall may might must just very too also all any some up down
    out over than only own same such into about again once u ur im dont""".split()
)

#: A short list of common explicit insults and profanity (fallback when better_profanity is absent).
BUILTIN_EXPLICIT: frozenset[str] = frozenset(
    """idiot idiots idiotic stupid stupidity moron morons moronic dumb dumbass fool fools foolish
    imbecile cretin retard retarded loser losers jerk jerks scum trash garbage pathetic ugly
    fuck fucking fucked fucker fuckers motherfucker shit shitty bullshit crap crappy damn
    ass asshole assholes arse bastard bastards bitch bitches dick dickhead cock prick pussy cunt
    twat wanker douche douchebag slut whore hoe piss pissed suck sucks sucker hell
    fag faggot nigger nigga""".split()
)

_MARKUP_RE = re.compile(r"^(?:@\w+|#\w+|https?://\S+|www\.\S+|URL)$", re.IGNORECASE)
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def is_markup(word: str) -> bool:
    """True for tokens not worth attacking: ``@user`` mentions, hashtags, URLs, TweetEval's ``URL``."""
    return bool(_MARKUP_RE.match(word.strip(".,!?;:()\"'")))


@lru_cache(maxsize=1)
def explicit_lexicon() -> frozenset[str]:
    """Lowercase explicit words: ``better_profanity``'s list if installed, else :data:`BUILTIN_EXPLICIT`.

    Only purely alphabetic entries of the better_profanity list are kept (its leet variants are
    irrelevant to checking an LLM's plain-text output); the built-in list is always included.
    """
    words = set(BUILTIN_EXPLICIT)
    try:
        text = resources.files("better_profanity").joinpath("profanity_wordlist.txt").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return frozenset(words)
    for line in text.splitlines():
        entry = line.strip().lower()
        if entry.isalpha():
            words.add(entry)
    return frozenset(words)


def explicit_words(text: str, lexicon: frozenset[str] | None = None) -> list[str]:
    """The explicit words (lowercased) that occur in ``text`` as whole words."""
    lex = explicit_lexicon() if lexicon is None else lexicon
    return [w for w in (m.group(0).lower() for m in _WORD_RE.finditer(text)) if w in lex]
