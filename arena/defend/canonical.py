"""Input canonicaliser: the deterministic first layer of the defender.

It undoes what a renderer or a reader undoes for free, so the classifier does not have to learn
each obfuscation from examples. Every step is switchable (``defender.canonicalizer`` in the
config) and saved with the model in ``defender.json``; the same object runs in ``arena train``,
campaign scoring, Serve, ONNX and ``arena eval`` (all of them call ``Defender.prepare``).

Steps, in order:

1. **bidi** — text that carries explicit bidi controls (embeddings, overrides, isolates) is put
   into display order with the Unicode Bidirectional Algorithm (UAX #9, ``python-bidi``), so
   ``RLO + "toidi" + PDF`` reads ``idiot``. Text without such controls is never reordered.
2. **strip_invisible** — format characters (category Cf: zero-width space/joiners, word joiner,
   soft hyphen, bidi controls, BOM), variation selectors and Hangul fillers are dropped.
3. **nfkc** — compatibility normalisation (fullwidth, mathematical alphanumerics, ligatures,
   circled letters), then combining marks on Latin, Greek and Cyrillic letters are removed (so
   stacked diacritics fall away while Devanagari or Arabic vowel signs stay).
4. **skeleton** — characters confusable with an ASCII letter or digit become that character
   (the UTS #39 confusables data of ``confusable-homoglyphs``), in words that mix them with
   ASCII letters or in texts that are mostly ASCII letters: a Russian sentence stays Russian.
5. **emoji** — letter symbols (``🅾``, ``🇦``) become their letter (from their Unicode names) and
   emoji become words (``emoji.demojize``: ``💩`` -> `` pile of poo ``); MiniLM's vocabulary
   has no emoji, so without this step each is ``[UNK]``.
6. **join_separated** — a run of 3+ single letters split by one repeated separator
   (``f.u.c.k``, ``i-d-i-o-t``, ``s_t_u_p_i_d``) is joined; split by spaces (``f u c k``) only when
   it has 4+ letters (``i m a`` stays). **segment_joined** (its own flag): letters joined from
   spaces are cut back into the words they most likely spell, by unigram probability (wordfreq),
   when the run held several (``o f l i r s`` -> ``of lirs``, read by step 13 as ``of liars``).
   **join_edges** (its own flag): a spaced run may carry punctuation before its first letter or after
   its last, which stays in place (``a l i a r.`` -> ``a liar.``, not ``alia r.``), and three
   spaced letters are joined when they spell an explicit or strongly negative word (``a s s``).
   **spaced_runs** (its own flag): a spaced run whose cut into words is poor (a piece that is no
   word: ``fc king``) and whose whole reads as an explicit or strongly negative word (as written,
   without some vowels, or from four letters misspelt or by sound) is joined and kept whole, three
   letters included (``s h t`` -> ``sht``, read by step 11 as ``shit``; ``f c k i n g`` -> ``fcking``);
   a cut into common words stays (``i d o i t`` -> ``i do it``, ``w e a r e`` -> ``we are``, not
   ``whore``). Step 9 then takes no letter of a run of three or more lone letters for a stray letter
   of the word beside it (``u-n-g-r-a-t-e-f-u-u-l b a t`` keeps ``b a t``, not ``ungratefuulb a t``).
7. **squeeze** — runs of 3+ equal letters are cut to two, and to one when only that is a known
   word (``stuuuupid`` -> ``stupid``, ``soooo`` -> ``so``, ``yesss`` -> ``yess``).
8. **deobfuscate** — a token that is not a known word but holds leet digits/symbols or masks
   (``1d10t``, ``$hit``, ``f*ck``, ``st*pid``) becomes the most frequent known word it can spell
   (for masks, explicit words first: ``sh**`` is ``shit``), and stays as it is when none matches;
   numbers with a unit (``1st``, ``10am``), mentions, hashtags and links are left alone. Known words come from ``wordfreq``'s English list
   (shipped inside its wheel). Two refinements, each its own flag: **deobfuscate_pieces** reads the
   letters before an apostrophe clitic or a run of dots on their own (``whor3's``, ``l0sers...see``),
   and **leet_at** reads a lowercase token that starts with ``@`` as leet when that spells an explicit
   word (``@ss``); any other stays a mention (``@Nal``, a reply's ``@nal:``). **deobfuscate_listed**
   (its own flag): where no known word matches, a rarer word wordfreq lists (Zipf 2.4-3) does
   (``ug1ier``, ``p*nks``, ``sat@nist``), for a token of 3+ letters with no mask at either end (``*once*``
   is emphasis) and no number in it (``AR15``).
9. **merge_fragments** — a word broken by a stray space (``treaso n``; ``use less`` stays) is put back
   together when the two pieces are letters, at least one of them is no word (not in wordfreq's
   list) and the joined piece is a known word, or, when one piece is a lone letter that is no
   word, a misspelling step 13 can read (``sueles s`` -> ``sueless`` -> ``useless``).
   **merge_harmful** (its own flag): two pieces wordfreq lists are joined too when the join is an
   explicit or strongly negative word and one piece is a fragment (``sh it``, ``as s``, ``LIA R``;
   ``my pen is`` stays: :func:`_fragment`).
10. **split_merged** — a token of 6+ letters that is no word (not in wordfreq's list, nor given
   :data:`SPELL_KEEP_ZIPF`) and that is glued from known words (``youidiot``, ``STUPIDPEOPLE``) is
   cut back into them: the likeliest reading of :func:`segment_letters` in which every piece is a
   listed word as written (``a``/``i``; two letters only if common), against the whole read as one
   misspelt word (``somthing`` stays whole for step 13). Names in CamelCase, mentions and hashtags stay.
11. **devowel** — an explicit word with (some of) its vowels dropped, the commonest human
   obfuscation (``fck``, ``sht``, ``btch``, ``stpd``, ``fcking``), becomes that word: a token of
   3+ ASCII letters that is no explicit word, that wordfreq gives less than
   :data:`DEVOWEL_KEEP_ZIPF` (``shi``, ``cnt`` stay), and that deleting only vowels from an
   explicit word (better_profanity's list) spells; the most frequent such word wins. It changes
   0.002% of clean train tokens (6 of 11,916 tweets) and no val token (bench/canonical_share.py).
12. **phonetic** — a letters-only token of 3+ letters that is no word (not in wordfreq's list) and
   that *sounds* like an explicit word (better_profanity's list) or a strongly negative one (VADER,
   see step 13) becomes it: the same Metaphone and NYSIIS codes (``jellyfish``), few enough edits
   apart (:func:`sounds_like`): ``phuk`` -> ``fuck``, ``kunt`` -> ``cunt``, ``stoopid`` -> ``stupid``
   (which spelling alone reads as ``stooped``). Capitalised tokens wordfreq gives
   :data:`PHONETIC_NAME_ZIPF` or more stay unless better_profanity lists them (names: ``Corsi``,
   ``Kemi``; but also ``Stoopid``), as do acronyms of 4 capitals or fewer. Leet that spelt no known
   word in step 8 is read through its letter readings: ``$t00p1d`` -> ``stoopid`` -> ``stupid``.
   It runs after the learned rules, so ``spell=False`` (what rule mining reads) is what the rules see.

   - **leet_spell** (its own flag) — leet whose letter readings neither spell nor sound like a word is
     put through steps 13 and 11: ``Id1otz`` -> ``Idiots``, ``des7royin`` -> ``destroying``, ``Kow@rd``
     -> ``Coward``, ``sh7`` -> ``shit`` (the phonetic respellings of ``-s`` as ``-z`` and ``-ing`` as ``-in``,
     then leet); capitalised leet is read too (``Stoop1d`` -> ``Stupid``). Mentions behind punctuation
     (``.@USER``), numbers (``11yrs``) and numbers glued to a known word (``any1``, ``4ever``) stay.

   - **phonetic_listed** (its own flag) — a token better_profanity lists as a variant but wordfreq
     rates rare (below :data:`MIN_ZIPF`) is read by sound too, though wordfreq lists it, as an explicit
     word at least :data:`LISTED_MIN_GAP` Zipf units commoner: ``fuk`` (2.6) -> ``fuck`` (5.4); not
     ``seamen`` -> ``semen`` or ``sadist`` -> ``saddest``.
13. **spell** — a letters-only token of 4+ letters that is no word (see below) becomes the
   most frequent known word within 1 edit (2 from 9 letters; Damerau/OSA edits: insertion,
   deletion, substitution, transposition), found with ``symspellpy``'s symmetric-delete index
   over wordfreq's known words: ``soiety`` -> ``society``, ``stupdi`` -> ``stupid``. Words
   wordfreq lists often enough to be vocabulary (:data:`SPELL_KEEP_ZIPF`: ``lol``, ``maga``,
   ``scalise``), mixed-case names (``QAnon``), acronyms of 4 capitals or fewer, mentions, hashtags and links are left alone;
   the case of the token is kept. This is the word-recognition defence of Pruthi et al. (ACL 2019,
   "Combating adversarial misspellings with robust word recognition") with a lexicon in place of
   their learned recogniser. Three refinements, each its own flag (folders saved before them keep
   the older reading):

   - **spell_swapped_case** — a capitalised word whose first two letters were swapped carries its
     capital second (``dIiots``, ``rTaitor``); such a token (lowercase first letter, the only
     capital second) is read as its lowercase form instead of being kept as a name.
   - **spell_negative** — where several known words are equally near, the explicit ones come first
     (as before), then the strongly negative ones (VADER's human-rated valence at most
     :data:`NEGATIVE_VALENCE`: ``coard`` -> ``coward``, not ``board``; ``sahme`` -> ``shame``, not
     ``same``), then the most frequent. A moderation layer reads an ambiguous misspelling in its
     harmful sense, as step 8 does for masks (``btich`` is ``bitch``, not ``ditch``).
   - **spell_pieces** — a token whose letters carry an apostrophe clitic (``'s``, ``'re``, ``'ll``,
     ``'ve``, ``'d``, ``'m``; not ``n't``) or run into the next word through two or more dots is
     spelt piece by piece: ``hwore's`` -> ``whore's``, ``religoins...but`` -> ``religions...but``.

Clean text passes (almost) unchanged: :func:`changed_token_share` measures it (docs/retrain.md).
Pure Python plus the data those packages ship; no torch, nothing downloaded.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

#: The steps in the order they run; each is a flag of :class:`Canonicalizer`.
STEPS: tuple[str, ...] = ("bidi", "strip_invisible", "nfkc", "skeleton", "emoji", "join_separated",
                          "segment_joined", "squeeze", "deobfuscate", "merge_fragments", "merge_harmful",
                          "split_merged", "devowel", "phonetic", "spell", "spell_swapped_case", "spell_negative",
                          "spell_pieces", "phonetic_listed", "join_edges", "deobfuscate_pieces", "leet_at",
                          "leet_spell", "deobfuscate_listed", "spaced_runs")
#: Flags that refine another step rather than run on their own (they do nothing with it off).
REFINES: dict[str, str] = {"segment_joined": "join_separated", "spell_swapped_case": "spell",
                           "spell_negative": "spell", "merge_harmful": "merge_fragments", "spell_pieces": "spell",
                           "phonetic_listed": "phonetic", "join_edges": "join_separated",
                           "deobfuscate_pieces": "deobfuscate", "leet_at": "deobfuscate",
                           "leet_spell": "phonetic", "deobfuscate_listed": "deobfuscate",
                           "spaced_runs": "join_separated"}
#: Defender folders saved before a step existed load with it off (their behaviour is kept).
LEGACY_OFF: frozenset[str] = frozenset({"bidi", "emoji", "join_separated", "segment_joined", "squeeze",
                                        "deobfuscate", "merge_fragments", "merge_harmful", "split_merged",
                                        "devowel", "phonetic", "spell", "spell_swapped_case", "spell_negative",
                                        "spell_pieces", "phonetic_listed", "join_edges",
                                        "deobfuscate_pieces", "leet_at", "leet_spell", "deobfuscate_listed",
                                        "spaced_runs"})

_EXTRA_INVISIBLE = {"\u034f", "\u115f", "\u1160", "\u3164", "\uffa0", "\u180e"}


def _is_invisible(ch: str) -> bool:
    if ch in _EXTRA_INVISIBLE:
        return True
    cp = ord(ch)
    if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:  # variation selectors
        return True
    return unicodedata.category(ch) == "Cf"


def strip_invisible(text: str) -> str:
    return "".join(ch for ch in text if not _is_invisible(ch))


# ---------------------------------------------------------------------------- 1. bidi
def resolve_bidi(text: str) -> str:
    """Display order (UAX #9) of a text with explicit bidi controls; other texts are returned as is.

    Only the controls make the stored order differ from what a reader sees in a left-to-right
    context, so text without them (including plain Arabic or Hebrew) is never reordered. Each
    line is resolved on its own, with the paragraph direction taken from its first strong letter.
    The attacker's validity rule reads the same display order (:func:`arena.attack.constraints.display_order`).
    """
    from arena.attack.constraints import display_order

    return display_order(text, rtl_letters=False)


# ---------------------------------------------------------------------------- 3. marks
def _folds_marks(base: str) -> bool:
    """Latin, Greek and Cyrillic letters (and ASCII) lose their combining marks; other scripts keep them."""
    return ord(base) < 0x0530 or 0x1D00 <= ord(base) < 0x2000 or 0x2C60 <= ord(base) < 0x2C80 or (
        0xA640 <= ord(base) < 0xA800)


def strip_marks(text: str) -> str:
    """Drop combining marks that sit on Latin, Greek or Cyrillic letters (``ï̸̈d̃ïȍt`` -> ``idiot``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    out: list[str] = []
    base = " "
    for ch in decomposed:
        if unicodedata.combining(ch):
            if _folds_marks(base):
                continue
        else:
            base = ch
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


# ---------------------------------------------------------------------------- 4. skeleton
@lru_cache(maxsize=1)
def _skeleton_table() -> dict[int, str]:
    """Map every non-ASCII character confusable with a single ASCII letter or digit to it."""
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[int, str] = {}
    for ascii_ch, entries in confusables_data.items():
        if len(ascii_ch) != 1 or not ascii_ch.isascii() or not ascii_ch.isalnum():
            continue
        for entry in entries:
            glyph = entry.get("c", "")
            if len(glyph) == 1 and not glyph.isascii():
                table.setdefault(ord(glyph), ascii_ch.lower())
    return table


def skeleton(text: str) -> str:
    """Confusables to ASCII in mixed words, or everywhere in a mostly-ASCII text."""
    table = _skeleton_table()
    if not table or text.isascii():
        return text
    letters = [ch for ch in text if ch.isalpha()]
    if letters and sum(ch.isascii() for ch in letters) * 2 > len(letters):
        return text.translate(table)
    return re.sub(r"\S+", lambda m: m.group().translate(table) if any(
        c.isascii() and c.isalpha() for c in m.group()) else m.group(), text)


# ---------------------------------------------------------------------------- 5. emoji
_LETTER_NAME = re.compile(r"(?:LATIN (?:CAPITAL|SMALL) LETTER|SYMBOL LETTER) ([A-Z])$")


@lru_cache(maxsize=4096)
def _letter_symbol(ch: str) -> str | None:
    """The ASCII letter a letter *symbol* stands for (``🅾`` -> ``o``), from its Unicode name."""
    if ch.isascii() or unicodedata.category(ch) != "So":
        return None
    m = _LETTER_NAME.search(unicodedata.name(ch, ""))
    return m.group(1).lower() if m else None


def emoji_to_words(text: str) -> str:
    """Letter symbols to letters, then emoji to space-separated words (``emoji.demojize``)."""
    if text.isascii():
        return text
    text = "".join(_letter_symbol(ch) or ch for ch in text)
    import emoji

    if not emoji.emoji_count(text):
        return text
    words = emoji.demojize(text, delimiters=("\x00", "\x00"))
    parts = words.split("\x00")  # odd positions are emoji names
    for k in range(1, len(parts), 2):
        parts[k] = " " + parts[k].replace("_", " ").strip() + " "
    return re.sub(r"  +", " ", "".join(parts)).strip()


# ---------------------------------------------------------------------------- the lexicon
#: A word is "known" when its wordfreq Zipf frequency in English is at least this (3 = once per
#: million words): common words and insults are, random letter strings and most typos are not.
MIN_ZIPF = 3.0


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, float]:
    """English words (letters only) with their Zipf frequency, from the data inside ``wordfreq``."""
    from wordfreq import top_n_list, zipf_frequency

    return {w: zipf_frequency(w, "en") for w in top_n_list("en", 60000) if w.isalpha() and w.isascii()}


def is_known(word: str) -> bool:
    """``word`` (any case) is a common English word (wordfreq Zipf >= :data:`MIN_ZIPF`)."""
    return _lexicon().get(word.lower(), 0.0) >= MIN_ZIPF


def _zipf(low: str) -> float:
    """wordfreq's Zipf frequency of ``low`` in English (its full list, not only :func:`_lexicon`)."""
    from wordfreq import zipf_frequency

    return zipf_frequency(low, "en")


def zipf(word: str) -> float:
    """wordfreq's Zipf frequency of ``word`` (any case) in English: log10 of its count per billion words."""
    return _zipf(word.lower())


def _explicit() -> frozenset[str]:
    """The explicit words (better_profanity's list, else a short built-in one; see arena.attack.lexicon)."""
    from arena.attack.lexicon import explicit_lexicon

    return explicit_lexicon()


@lru_cache(maxsize=1)
def _dictionary() -> frozenset[str]:
    """symspellpy's English spelling dictionary (82,765 words: SCOWL's word list with Google's counts),
    read as data from inside its wheel."""
    from importlib.resources import files

    text = files("symspellpy").joinpath("frequency_dictionary_en_82_765.txt").read_text(encoding="utf-8")
    return frozenset(line.split(" ", 1)[0] for line in text.splitlines() if line.strip())


def in_dictionary(word: str) -> bool:
    """``word`` (any case) is in a spelling dictionary: ``sin``, ``sham``, ``faking``, ``shia`` are; tokens
    wordfreq counts from names, abbreviations and typos (``shi``, ``sas``, ``teh``, ``tis``) are not."""
    return word.lower() in _dictionary()


def in_lexicon(word: str) -> bool:
    """``word`` (any case) is in wordfreq's English list at all (Zipf >= 2.4: ``idiom``, ``loons``)."""
    return word.lower() in _lexicon()


@lru_cache(maxsize=64)
def _by_length(n: int, rare: bool = False) -> list[str]:
    """Known words of ``n`` letters (``rare``: the words wordfreq lists below them, Zipf < :data:`MIN_ZIPF`),
    most frequent first."""
    lex = _lexicon()
    return sorted((w for w, z in lex.items() if len(w) == n and (z < MIN_ZIPF) == rare), key=lambda w: -lex[w])


# ---------------------------------------------------------------------------- 6. separators
_SEP_CHARS = r"._\-~*|/+·•"
_SEP_RUN = re.compile(
    rf"(?<![^\W_])([^\W_])(?P<sep>[{_SEP_CHARS}]+)(?:[^\W_](?P=sep)){{1,}}[^\W_](?![^\W_])")
_SPACE_RUN = re.compile(r"(?<!\S)[^\W\d_](?: [^\W\d_]){2,}(?!\S)")
#: join_edges: the same run with edge punctuation before its first letter or after its last (``l i a r.``,
#: ``S h i t...``, ``(i l l e g a l l y).``), which stays where it was.
_SPACE_RUN_EDGES = re.compile(r"(?<!\S)([\"'`“‘(\[]*)([^\W\d_](?: [^\W\d_]){2,})(?=[\"'`”’)\],;:.!?]*(?!\S))")


def join_separated(text: str, *, segment: bool = False, edges: bool = False, runs: bool = False) -> str:
    """Join single letters split by a repeated separator (``f.u.c.k``) or, 4+ of them, by spaces (``f u c k``).

    With ``segment``, letters joined from spaces are cut back into words where the run held more
    than one (see :func:`segment_letters`): ``o f l i a r s`` -> ``of liars``, not ``ofliars``.
    With ``edges`` (join_edges), a spaced run may carry edge punctuation (quotes, brackets, ``,;:.!?``:
    ``l i a r.``; not leet or mask symbols), and a run of three letters is joined when it spells a word
    better_profanity or VADER's strongly negative list holds (``a s s``; ``i m a`` stays).
    With ``runs`` (spaced_runs), a run whose cut is poor and whose whole reads as such a word
    (:func:`_reads_whole`) is joined, three letters too, and not segmented: ``s h t`` -> ``sht``,
    ``f c k i n g`` -> ``fcking`` (not ``fc king``); ``i d o i t`` -> ``i do it`` and ``a l i a r`` ->
    ``a liar`` either way."""
    def _join(m: re.Match) -> str:
        joined = m.group().replace(m.group("sep"), "")
        return joined if any(c.isalpha() for c in joined) else m.group()  # 1.2.3 stays a version

    def _join_spaces(m: re.Match) -> str:
        lead, run = (m.group(1), m.group(2)) if edges else ("", m.group())
        word = run.replace(" ", "")
        whole = runs and _reads_whole(word)
        if len(word) < 4 and not (edges and _is_harmful(word.lower())) and not whole:
            return m.group()  # "i m a" stays: 3-letter joins are too often words
        return lead + (word if whole or not segment else segment_letters(word))

    text = _SEP_RUN.sub(_join, text)
    return (_SPACE_RUN_EDGES if edges else _SPACE_RUN).sub(_join_spaces, text) if " " in text else text


def _reads_whole(word: str) -> bool:
    """spaced_runs: the letters of a spaced run read as one insult rather than as the words they cut into.

    Only where the cut is poor (a piece of it is a :func:`_fragment`: ``fc king``, ``s h t``), no piece of it
    is an insult itself (``a liar``), and the whole is an insult as written, without some vowels, or, from
    four letters, misspelt or by sound (``fcking``). A cut into common words stays (``i do it``, ``we are``,
    ``more on``, ``as sole``): spelt-out phrases would otherwise read as insults (``whore``, ``moron``)."""
    low = word.lower()
    reading = harmful_reading(low) if len(low) >= 4 else (
        low if _is_harmful(low) else _devowel_reading(low))
    if reading is None:
        return False
    pieces = segment_letters(low).split(" ")
    return any(_fragment(p) for p in pieces) and not any(_is_harmful(p) for p in pieces)


#: segment_letters: a piece read through a misspelling pays this many Zipf units (10^-3) per edit.
SEGMENT_EDIT_COST = 3.0
#: pieces at most.
SEGMENT_MAX_PIECES = 4
#: a two-letter piece must be this common a word (``of``, ``is``, ``an`` are; ``uc``, ``kn``, ``hw`` are not).
SEGMENT_MIN_ZIPF_2 = 4.0


def _piece_cost(piece: str, whole: bool, strict: bool = False) -> float | None:
    """-log10 P(piece) in Zipf units (wordfreq), a misspelt piece through its nearest known word; None: no word.

    The whole string may be any word wordfreq lists; a piece of a cut must be a known word (two
    letters: a common one; one letter: ``a`` or ``i``) or, unless ``strict``, a misspelling of one.
    ``strict`` (step 10) also asks more of a two-letter piece (:data:`SPLIT_MIN_ZIPF_2`)."""
    low = piece.lower()
    z = _lexicon().get(low)
    if len(low) <= 2 and not whole:
        min_z = SPLIT_MIN_ZIPF_2 if strict else SEGMENT_MIN_ZIPF_2
        return 9.0 - z if z is not None and (low in ("a", "i") or len(low) == 2 and z >= min_z) else None
    if z is not None and (whole or z >= MIN_ZIPF):
        return 9.0 - z
    if strict and not whole:
        return None
    near = _nearest_word(low)
    if near is None:
        return None
    return 9.0 - _lexicon()[near[0]] + SEGMENT_EDIT_COST * near[1]


@lru_cache(maxsize=16384)
def segment_letters(word: str, strict: bool = False) -> str:
    """Letters that a space run joined (``arremoronns``), as the words they most likely spell.

    The reading with the highest unigram probability (wordfreq's Zipf frequencies, as the
    ``wordsegment`` package scores a split, with its English counts in place of Google's) over the
    whole string and its cuts into up to :data:`SEGMENT_MAX_PIECES` pieces, each a listed word, ``a``
    or ``i``, or a misspelling of a known word (step 13's reader) at :data:`SEGMENT_EDIT_COST` per
    edit: ``youareanidiot`` -> ``you are an idiot``, ``oflirs`` -> ``of lirs`` (read later as ``of
    liars``), ``isabatant`` -> ``is a batant``. A string no reading covers stays whole (the spelling
    step may still read it). ``strict``: every piece of a cut is a known word as written (the whole
    string may still be read as one misspelt word)."""
    n = len(word)
    # best[k][j]: (cost, cut points) of word[:j] in exactly k pieces
    best: list[dict[int, tuple[float, tuple[int, ...]]]] = [{0: (0.0, ())}]
    for _ in range(SEGMENT_MAX_PIECES):
        nxt: dict[int, tuple[float, tuple[int, ...]]] = {}
        for i, (cost, cuts) in best[-1].items():
            for j in range(i + 1, n + 1):
                c = _piece_cost(word[i:j], whole=i == 0 and j == n, strict=strict)
                if c is not None and (j not in nxt or cost + c < nxt[j][0]):
                    nxt[j] = (cost + c, cuts + (j,))
        best.append(nxt)
    readings = [b[n] for b in best[1:] if n in b]
    if not readings:
        return word
    _, cuts = min(readings)
    pieces, start = [], 0
    for j in cuts:
        pieces.append(word[start:j])
        start = j
    return " ".join(pieces)


# ---------------------------------------------------------------------------- 7. repeats
_REPEAT = re.compile(r"([^\W\d_])\1{2,}")
_DOUBLE = re.compile(r"([^\W\d_])\1")


def squeeze(text: str) -> str:
    """Runs of 3+ equal letters to two, or to one where only that spells a known word."""
    if not _REPEAT.search(text):
        return text
    return re.sub(r"\S+", lambda m: _squeeze_token(m.group()) if _REPEAT.search(m.group()) else m.group(), text)


@lru_cache(maxsize=65536)
def _squeeze_token(token: str) -> str:
    if token[0] in "@#" or len({c.lower() for c in token if c.isalpha()}) < 2:
        return token  # mentions, hashtags, KKK, xxx, zzz
    two = _REPEAT.sub(r"\1\1", token)
    if is_known(split_edges(two)[1]):
        return two
    one = _REPEAT.sub(r"\1", token)
    if is_known(split_edges(one)[1]):
        return one
    return two


# ---------------------------------------------------------------------------- 8. leet and masks
#: What a digit or symbol inside a word can stand for (the inverse of common leetspeak) ...
LEET_LETTERS: dict[str, str] = {
    "0": "o", "1": "il", "3": "e", "4": "a", "5": "s", "6": "gb", "7": "t", "8": "b", "9": "g", "2": "z",
    "@": "a", "$": "s", "!": "i", "|": "il", "+": "t", "€": "e", "£": "l", "¡": "i", "(": "c", "<": "c",
}  # fmt: skip
#: ... and the symbols that mask a letter (``f*ck``): any one letter.
MASKS = "*#%?"
_EDGE = "\"'`“”‘’()[]{}<>,;:.!?"


#: numbers with a unit or an ordinal: 1st, 10am, 5k, 90s, 2nd
_NUMBER_UNIT = re.compile(r"[\d.,/:]+(?:st|nd|rd|th|s|am|pm|k|m|h|x|g|kg|km|mb|gb|p|mph)", re.IGNORECASE)


#: deobfuscate_pieces, spell_pieces: letters that run into the next word through dots (``religoins...but``) or carry an
#: apostrophe clitic (``hwore's``, ``Taht’s``) are read piece by piece; ``n't`` keeps a word whole.
_PIECE_SEP = re.compile(r"(\.{2,}|…+|['’](?=(?:s|re|ll|ve|d|m)(?:$|\.{2,}|…)))", re.IGNORECASE)


def _by_pieces(core: str, read: Callable[[str], str]) -> str | None:
    """``core`` with each piece :data:`_PIECE_SEP` cuts it into passed through ``read``; None when it cuts none."""
    parts = _PIECE_SEP.split(core)
    if len(parts) == 1:
        return None
    return "".join(p if k % 2 else read(p) for k, p in enumerate(parts))


def split_edges(token: str) -> tuple[str, str, str]:
    """(leading punctuation, core, trailing punctuation) of a whitespace token."""
    start, end = 0, len(token)
    while start < end and token[start] in _EDGE:
        start += 1
    while end > start and token[end - 1] in _EDGE:
        end -= 1
    return token[:start], token[start:end], token[end:]


def deobfuscate(text: str, *, pieces: bool = False, at: bool = False, listed: bool = False) -> str:
    """Tokens with leet characters or masks become the known word they spell (if one does); leet that
    spells none may still sound like one (step 12 reads ``$t00p1d``, after the learned rules).

    ``pieces`` (deobfuscate_pieces): a token's letters before an apostrophe clitic or a run of dots are
    read on their own (``whor3's``, ``l0sers...see``, as :data:`_PIECE_SEP` cuts them). ``at`` (leet_at):
    a lowercase token that starts with ``@`` and a letter, and ends in no colon, is read as leet when
    that spells an explicit word (``@ss``, ``@sshole``); any other stays a mention (``@user``, ``@re``,
    ``@Nal``, a reply's ``@nal:``). ``listed`` (deobfuscate_listed): where no common word matches, a rarer
    word wordfreq lists does (``ug1ier``, ``p*nks``, ``sat@nist``: :func:`_spell`)."""
    return re.sub(r"\S+", lambda m: _deobfuscate_token(m.group(), pieces, at, listed), text)


#: phonetic: a leet token with more letter readings than this is not read by sound.
MAX_LEET_READINGS = 64


def _leet_readings(core: str) -> list[str]:
    """The letters-only readings of a leet token (no masks), up to :data:`MAX_LEET_READINGS`."""
    low = core.lower()
    if any(c in MASKS for c in low) or not all(c.isalpha() or c in LEET_LETTERS for c in low):
        return []
    options = [c if c.isalpha() else LEET_LETTERS[c] for c in low]
    count = 1
    for o in options:
        count *= len(o)
    if count > MAX_LEET_READINGS:
        return []
    return ["".join(p) for p in itertools.product(*options)]


@lru_cache(maxsize=131072)
def _deobfuscate_token(token: str, pieces: bool = False, at: bool = False, listed: bool = False) -> str:
    if at and token[:1] == "@" and len(token) >= 3 and token[1:2].isalpha() and token[1:] == token[1:].lower() \
            and not token.endswith(":"):  # @Nal, @nus: (reply to) a handle, not leet
        lead, core, tail = split_edges(token)
        word = _spell(core) if core[:1] == "@" else None
        if word is not None and word in _explicit():
            return lead + _with_case(core[1:], word) + tail
    if token.isalpha() or len(token) < 3 or not any(c.isalpha() for c in token) or token[0] in "@#" or (
            "://" in token or token.lower().startswith("www.")):
        return token  # plain words, mentions, hashtags and links are left alone
    lead, core, tail = split_edges(token)
    if pieces and (read := _by_pieces(core, lambda p: _deobfuscate_token(p, listed=listed))) is not None:
        return lead + read + tail
    if is_known(core) or core.isdigit() or _NUMBER_UNIT.fullmatch(core):
        return token
    # leet symbols at the edges (``$hit``, ``idio7``, ``!diot``) belong to the word: try the widest core first
    cores = list(_cores(token, lead, tail))
    for rare in (False, True) if listed else (False,):  # common words first, at every core
        for lo, hi in cores:
            if rare and not _rare_guard(token[lo:hi]):
                continue
            word = _spell(token[lo:hi], rare)
            if word is not None:
                return token[:lo] + word + token[hi:]
    return token


#: two digits in a row: a number (``AR15``, ``11yrs``), not leet; deobfuscate_listed and leet_spell leave it alone.
_NUMBER = re.compile(r"\d\d")


def _rare_guard(core: str) -> bool:
    """deobfuscate_listed reads ``core`` as a rarer word only when it holds 3+ letters, no mask at either end
    (``*once``, ``Milo*``, ``*INHALES*`` are emphasis) and no number (two digits in a row: ``AR15``)."""
    return sum(c.isalpha() for c in core) >= 3 and core[0] not in MASKS and core[-1] not in MASKS and not _NUMBER.search(
        core)


def _sound_guard(core: str) -> bool:
    """A leet token step 12 may read by sound: about as many letters as symbols, all lowercase (or
    ALL CAPS with 5+ characters: ``RINO!``, ``HIM@`` stay), edge punctuation not read as letters."""
    letters = [c for c in core if c.isalpha()]
    if len(letters) < 2 or len(letters) == len(core) or 2 * len(letters) < len(core) - 1:
        return False
    word = "".join(letters)
    return word == word.lower() or word.isupper() and len(core) >= 5


def _cores(token: str, lead: str, tail: str) -> Iterable[tuple[int, int]]:
    starts = [len(lead)] + ([0] if lead and all(c in LEET_LETTERS or c in MASKS for c in lead) else [])
    ends = [len(token) - len(tail)] + ([len(token)] if tail and all(c in LEET_LETTERS for c in tail) else [])
    seen = set()
    for lo in sorted(set(starts)):
        for hi in sorted(set(ends), reverse=True):
            if (lo, hi) not in seen and hi - lo >= 3:
                seen.add((lo, hi))
                yield lo, hi


@lru_cache(maxsize=65536)
def _spell(core: str, rare: bool = False) -> str | None:
    """The most frequent known word ``core`` spells with leet read as letters and masks as any letter;
    ``rare``: the most frequent word wordfreq lists below the known words (:data:`MIN_ZIPF`) instead
    (``uglier`` 2.9, ``punks`` 3.0, ``satanist`` 2.4; the list ends near Zipf 2.4)."""
    low = core.lower()
    if not any(c.isalpha() for c in low) or not all(c.isalpha() or c in LEET_LETTERS or c in MASKS for c in low):
        return None
    if all(c.isalpha() for c in low):
        return None
    if sum(c.isalpha() for c in low) < 2 or sum(c.isalpha() for c in low) * 2 < len(low) - 1:
        return None  # mostly symbols: a number, a price, an emoticon
    parts = []
    for c in low:
        if c.isalpha():
            parts.append(re.escape(c))
        else:
            options = LEET_LETTERS.get(c, "") + ("a-z" if c in MASKS else "")
            parts.append(f"[{options}]" if options else re.escape(c))
    pattern = re.compile("".join(parts))
    # masks hide profanity (sh** is shit, not show): the explicit words are tried first
    first = _explicit_by_length(len(low)) if any(c in MASKS for c in low) and not rare else []
    # only words with the token's letters where it has them can match: the shortest such list, in frequency order
    index = _by_letter(len(low), rare)
    words = min((index.get((i, c), []) for i, c in enumerate(low) if c.isalpha()), key=len)
    for w in itertools.chain(first, words):
        if pattern.fullmatch(w):
            return w
    return None


@lru_cache(maxsize=128)
def _by_letter(n: int, rare: bool) -> dict[tuple[int, str], list[str]]:
    """(position, letter) -> the words of :func:`_by_length` (known, or ``rare``) of ``n`` letters
    with that letter there, most frequent first: :func:`_spell` matches its pattern against the shortest list
    its letters pick instead of every word of that length (the same first match, a fraction of the regex calls)."""
    out: dict[tuple[int, str], list[str]] = {}
    for w in _by_length(n, rare):
        for i, c in enumerate(w):
            out.setdefault((i, c), []).append(w)
    return out


@lru_cache(maxsize=64)
def _explicit_by_length(n: int) -> list[str]:
    """Explicit words of ``n`` letters (better_profanity's list, else a short built-in one), most frequent first."""
    from arena.attack.lexicon import explicit_lexicon

    lex = _lexicon()
    return sorted((w for w in explicit_lexicon() if len(w) == n and w in lex), key=lambda w: -lex[w])


# ---------------------------------------------------------------------------- 9. broken words
def _spell_distance(n: int) -> int:
    """Edits allowed when correcting a word of ``n`` letters: none below 4, 1 up to 8, 2 from 9."""
    return 0 if n < 4 else 1 if n <= 8 else 2


def merge_fragments(text: str, *, harmful: bool = False, runs: bool = False) -> str:
    """Two letter pieces split by one space, one of them no word, joined when that spells a (near) known word.

    Where two joins overlap (``is sueles s``), the one nearer to a known word wins (``sueless`` is
    one edit from ``useless``, ``issueles`` two from ``issues``); then the leftmost. With ``runs``
    (spaced_runs), a letter of a run of three or more lone letters is part of that spaced run, not a stray
    letter of the word on its other side (``ungrateful b a t`` stays; without it, ``ungratefulb a t``).
    """
    if " " not in text:
        return text
    toks = text.split(" ")
    # spaced_runs: the tokens in a run of three or more lone letters (the runs join_separated reads)
    in_run: list[bool] = [] if runs else [False] * len(toks)
    if runs:
        for lone, group in itertools.groupby(len(c) == 1 and c.isalpha() for c in (split_edges(t)[1] for t in toks)):
            n = len(list(group))
            in_run += [lone and n >= 3] * n
    joins = sorted((d, k, w) for k in range(len(toks) - 1)
                   if (m := _merge_pair(toks[k], toks[k + 1], harmful, in_run=(in_run[k], in_run[k + 1])))
                   for d, w in [m])
    if not joins:
        return text
    taken: dict[int, str] = {}
    for _, k, w in joins:
        if k not in taken and k + 1 not in taken:
            taken[k], taken[k + 1] = w, ""
    out = [taken.get(k, t) for k, t in enumerate(toks)]
    return " ".join(t for k, t in enumerate(out) if not (k in taken and t == ""))


#: the one-letter words of English, and chat's "u": a lone one of them is a word, not a fragment
_WORD_LETTERS = frozenset("aiu")


def _fragment(piece: str) -> bool:
    """A piece no reader takes for a word by itself: a lone letter other than ``a``/``i``/``u``, two letters
    that are no common word (``sh``, ``su``, ``cl``; :data:`SPLIT_MIN_ZIPF_2`), or 3+ letters that are no
    known word (``hel``, ``lia``, ``ame``)."""
    low = piece.lower()
    if len(low) == 1:
        return low not in _WORD_LETTERS
    if len(low) == 2:
        return _lexicon().get(low, 0.0) < SPLIT_MIN_ZIPF_2
    return not is_known(low)


def _merge_pair(a: str, b: str, harmful: bool = False,
                in_run: tuple[bool, bool] = (False, False)) -> tuple[int, str] | None:
    """(edits from a known word, joined token) when ``a b`` is one broken word, else None.

    ``harmful`` (merge_harmful): two listed pieces are joined too when the join is an explicit or strongly
    negative word and one piece is a :func:`_fragment` (``sh it``, ``as s``, ``LIA R``; not ``pen is``).
    ``in_run``: whether ``a`` and ``b`` are each a letter of a spaced run (three or more lone letters), which is
    then no stray letter of the other piece."""
    if not a or not b or a[0] in "@#" or b[0] in "@#":
        return None
    lead, left, mid = split_edges(a)
    mid2, right, tail = split_edges(b)
    if mid or mid2 or not (left.isalpha() and right.isalpha() and left.isascii() and right.isascii()):
        return None
    if harmful and (_fragment(left) or _fragment(right)) and _is_harmful((left + right).lower()):
        return 0, lead + left + right + tail  # (any known join would read "a GE", "in CA" as "aGE", "inCA")
    if in_lexicon(left) and in_lexicon(right):
        return None  # two words stay two words ("is use", "a fool")
    word = left + right
    if is_known(word):
        return 0, lead + word + tail
    stray = min(left, right, key=len).lower()  # "sueles s": a lone letter that is no word by itself
    run_a, run_b = in_run
    if len(stray) == 1 and (run_a if len(left) <= len(right) else run_b):
        return None  # "ungrateful b a t": the b begins a spaced run
    if len(stray) == 1 and stray not in _WORD_LETTERS and len(word) >= 5 and (
            near := _nearest_word(word.lower())) is not None:
        return near[1], lead + word + tail
    return None


# ---------------------------------------------------------------------------- 10. merged words
#: split_merged: a token of fewer letters is never cut (``isit``, ``noone``, ``alot`` are read whole).
SPLIT_MIN_LETTERS = 6
#: split_merged: a two-letter piece must be this common (``of``, ``is``, ``an``, ``to``, ``ok``; not ``lo``,
#: ``oz``, ``er``, ``im``, which would cut ``loozer`` into ``lo oz er``).
SPLIT_MIN_ZIPF_2 = 5.0


def split_merged(text: str) -> str:
    """A non-word glued from known words (``youidiot``, ``STUPIDPEOPLE``) is cut back into them (step 10)."""
    return re.sub(r"\S+", lambda m: _split_merged_token(m.group()), text)


@lru_cache(maxsize=131072)
def _split_merged_token(token: str) -> str:
    if len(token) < SPLIT_MIN_LETTERS or token[0] in "@#" or "://" in token:
        return token
    lead, core, tail = split_edges(token)
    if len(core) < SPLIT_MIN_LETTERS or not (core.isalpha() and core.isascii()):
        return token
    if core[1:] != core[1:].lower() and not core.isupper():
        return token  # CamelCase names and hashtag-like words (GunBroker) keep their spelling
    low = core.lower()
    if in_lexicon(low):
        return token
    if _zipf(low) >= SPELL_KEEP_ZIPF:
        return token  # vocabulary wordfreq lists (``libtards``, ``trumpers``)
    if _reads_as_harmful(low) or _edits_to_known(low) == 1:
        return token  # ``ashole`` is ``asshole`` misspelt (step 13), ``loozer`` is ``loser`` (12), not ``as hole``;
        # a typo one edit from a word (``Unfortunatemy``) is that word, not two
    pieces = segment_letters(low, strict=True).split(" ")
    if len(pieces) < 2 or not any(_is_harmful(p) for p in pieces):
        return token  # compounds and names (``facepalming``, ``Truthfeed``) stay whole
    if core.isupper():
        pieces = [p.upper() for p in pieces]
    elif core[0].isupper():
        pieces[0] = pieces[0][0].upper() + pieces[0][1:]
    return lead + " ".join(pieces) + tail


@lru_cache(maxsize=131072)
def _edits_to_known(low: str) -> int | None:
    """Edits from a lowercase non-word to the nearest known word (at most 2), whatever wordfreq gives the
    token itself; None when none is that near."""
    from symspellpy import Verbosity

    found = [x.distance for x in _symspell().lookup(low, Verbosity.CLOSEST, max_edit_distance=2) if x.distance > 0]
    return min(found) if found else None


def _is_harmful(word: str) -> bool:
    """An explicit word (better_profanity's list) or a strongly negative one (VADER)."""
    return word in _explicit() or word in negative_words()


def _reads_as_harmful(low: str) -> bool:
    """The lowercase non-word ``low`` is a misspelling (nearest words) or a respelling by sound of an
    explicit or strongly negative word: a moderation layer reads it so rather than as a glued pair."""
    return _misread_harmful(low) is not None


def _misread_harmful(low: str) -> str | None:
    """The explicit or strongly negative word the lowercase non-word ``low`` misspells (nearest words) or
    sounds like, or None."""
    near = _nearest_word(low, True)
    if near is not None and _is_harmful(near[0]):
        return near[0]
    return sounds_like(low)


@lru_cache(maxsize=65536)
def harmful_reading(low: str) -> str | None:
    """The explicit or strongly negative word a lowercase string of letters reads as, or None: the word itself,
    the word without some of its vowels (step 11's test: ``sht``, ``fcking``), a misspelling of it or a
    respelling by sound (:func:`_misread_harmful`: ``idoit``, ``assole``)."""
    if not (low.isalpha() and low.isascii()):
        return None
    if in_lexicon(low):
        return low if _is_harmful(low) else None
    return _devowel_reading(low) or _misread_harmful(low)


# ---------------------------------------------------------------------------- 13. misspellings (the lexicon index)
@lru_cache(maxsize=1)
def _symspell():
    """symspellpy's symmetric-delete index over wordfreq's known words (Zipf >= MIN_ZIPF), counts from Zipf."""
    from symspellpy import SymSpell

    index = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    for w, z in _lexicon().items():
        if z >= MIN_ZIPF and len(w) >= 2:
            index.create_dictionary_entry(w, int(10 ** z))
    return index


#: A token wordfreq's full English list (320k entries) gives at least this Zipf frequency (about 60
#: per billion words) is vocabulary: names, slang and inflections (``centrists``, ``scalise``,
#: ``grok``, ``shud``) stay. Below it are typos and rare obfuscations (``soiety`` 0, ``idoit`` 1.0,
#: ``fcuk`` 1.6). Chosen by reading the corrections on clean *train* tweets.
SPELL_KEEP_ZIPF = 1.8


#: spell_negative: a word whose VADER valence (the mean of ten human ratings, -4..+4) is at most this is
#: "strongly negative" (``coward`` -2.0, ``liar`` -2.3, ``shame`` -2.1, ``evil`` -3.4; not ``bored`` -1.1
#: or ``sore`` -1.5). -2 is VADER's own boundary between moderately and strongly negative ratings.
NEGATIVE_VALENCE = -2.0


@lru_cache(maxsize=1)
def negative_words() -> frozenset[str]:
    """Single words (letters only) VADER's lexicon rates at most :data:`NEGATIVE_VALENCE`; the file ships
    inside the ``vaderSentiment`` wheel (read as data, the module is not run)."""
    from importlib.resources import files

    out = set()
    for line in files("vaderSentiment").joinpath("vader_lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0].isalpha() and parts[0].isascii():
            try:
                if float(parts[1]) <= NEGATIVE_VALENCE:
                    out.add(parts[0].lower())
            except ValueError:
                continue
    return frozenset(out)


@lru_cache(maxsize=131072)
def _nearest_word(low: str, negative: bool = False) -> tuple[str, int] | None:
    """(the known word a lowercase non-word ``low`` is a misspelling of, its edit distance), or None.

    Among the nearest words: explicit ones first, then (``negative``) strongly negative ones, then
    the most frequent."""
    d = _spell_distance(len(low))
    if not d or in_lexicon(low):
        return None
    if _zipf(low) >= SPELL_KEEP_ZIPF:
        return None
    from symspellpy import Verbosity

    from arena.attack.lexicon import explicit_lexicon

    found = [x for x in _symspell().lookup(low, Verbosity.CLOSEST, max_edit_distance=d) if x.distance > 0]
    if not found:
        return None
    # as for masks: where a profanity is one of the nearest words, the text is read as that word
    # (``btich`` is ``bitch``, not ``ditch``); else the most frequent of the nearest
    explicit = explicit_lexicon()
    best = next((x for x in found if x.term in explicit), None)
    if best is None and negative:
        neg = negative_words()
        best = next((x for x in found if x.term in neg), None)
    best = best or found[0]
    return best.term, best.distance


# ---------------------------------------------------------------------------- 11. dropped vowels
#: A vowel-less token wordfreq gives at least this Zipf frequency is a word or abbreviation of its
#: own (``shi`` 3.5, ``smh`` 3.5, ``cnt`` 2.7: "can't", "count") and stays; ``fck`` (2.3),
#: ``sht`` (2.1), ``fcking`` (2.1) do not.
DEVOWEL_KEEP_ZIPF = 2.5
_VOWELS = frozenset("aeiou")


def _consonants(word: str) -> str:
    return word[0] + "".join(c for c in word[1:] if c not in _VOWELS)


@lru_cache(maxsize=1)
def _explicit_by_consonants() -> dict[str, list[str]]:
    """First letter + consonants -> the explicit words (in wordfreq's list) with them, most frequent first."""
    from arena.attack.lexicon import explicit_lexicon

    lex = _lexicon()
    out: dict[str, list[str]] = {}
    for w in sorted((w for w in explicit_lexicon() if w in lex and w.isalpha() and w.isascii()),
                    key=lambda w: -lex[w]):
        out.setdefault(_consonants(w), []).append(w)
    return out


def _drops_vowels_of(token: str, word: str) -> bool:
    """``token`` is ``word`` with one or more of its vowels (never its first letter) deleted."""
    if len(token) >= len(word) or token[0] != word[0]:
        return False
    k = 1
    for c in word[1:]:
        if k < len(token) and token[k] == c:
            k += 1
        elif c not in _VOWELS:
            return False
    return k == len(token)


def _devowel_reading(low: str) -> str | None:
    """The explicit word a rare lowercase string is without some of its vowels (step 11's test), or None."""
    if _zipf(low) >= DEVOWEL_KEEP_ZIPF:
        return None
    words = [w for w in _explicit_by_consonants().get(_consonants(low), []) if _drops_vowels_of(low, w)]
    return words[0] if words else None


def devowel_words(text: str) -> str:
    """Explicit words written without some of their vowels become the word (see step 11)."""
    return re.sub(r"\S+", lambda m: _devowel_token(m.group()), text)


@lru_cache(maxsize=131072)
def _devowel_token(token: str) -> str:
    if len(token) < 3 or token[0] in "@#" or "://" in token:
        return token
    lead, core, tail = split_edges(token)
    if len(core) < 3 or not (core.isalpha() and core.isascii()):
        return token
    if core[1:] != core[1:].lower() and not core.isupper() or core.isupper() and len(core) < 5:
        return token  # names and acronyms, as in step 13
    low = core.lower()
    from arena.attack.lexicon import explicit_lexicon

    if low in explicit_lexicon():
        return token
    found = _devowel_reading(low)
    if found is None:
        return token
    word = found.upper() if core.isupper() else found[0].upper() + found[1:] if core[0].isupper() else found
    return lead + word + tail


# ---------------------------------------------------------------------------- 12. respelt by sound
#: A capitalised token is read by sound only when wordfreq gives it less than this (``Sukerz`` 0) or
#: better_profanity lists it as a variant (``Phuk``); names wordfreq gives more (``Vigano`` 1.4,
#: ``Corsi`` 2.4, ``Kemi`` 2.3) stay, and so do capitalised respellings such as ``Stoopid`` (2.2).
PHONETIC_NAME_ZIPF = 1.0


#: phonetic_listed: a token better_profanity lists and wordfreq also lists is read as an explicit word only
#: when wordfreq gives that word this many Zipf units more (100 times as frequent): ``fuk`` 2.6 ->
#: ``fuck`` 5.4; not ``seamen`` 2.9 -> ``semen`` 3.4, ``teat`` 2.5 -> ``tit`` 3.5, ``toots`` 2.6 -> ``tits``
#: 4.0, which better_profanity lists too but are words; nor into a strongly negative word (``sadist`` ->
#: ``saddest``, ``hooters`` -> ``haters``).
LISTED_MIN_GAP = 2.0


#: The most edits (Damerau-Levenshtein) between a token and the harmful word it sounds like (``phuk`` is
#: three from ``fuck``); a token of 3 letters may be one away at most (``dik``; not ``kam`` -> ``cum``).
PHONETIC_MAX_EDITS = 3


def _sound_keys(word: str) -> tuple[str, str]:
    """Two phonetic codes of a lowercase word (``jellyfish``): Metaphone (Philips 1990) and NYSIIS (Taft 1970)."""
    import jellyfish

    return "m:" + jellyfish.metaphone(word), "n:" + jellyfish.nysiis(word)


@lru_cache(maxsize=1)
def _harmful_by_sound() -> dict[str, list[str]]:
    """Metaphone code -> known explicit words (better_profanity's list) and strongly negative words (VADER,
    see :data:`NEGATIVE_VALENCE`) of 3+ letters with that code, explicit first, then most frequent.

    Only words wordfreq knows (:func:`is_known`) are targets: the list's own variants (``phuk``,
    ``fook``) are what a token is read *from*, not into."""
    lex = _lexicon()
    explicit = _explicit()
    words = {w for w in explicit | negative_words() if len(w) >= 3 and w.isascii() and is_known(w)}
    out: dict[str, list[str]] = {}
    for w in sorted(words, key=lambda w: (w not in explicit, -lex.get(w, 0.0), w)):
        out.setdefault(_sound_keys(w)[0], []).append(w)
    return out


@lru_cache(maxsize=131072)
def sounds_like(low: str, listed: bool = False) -> str | None:
    """The explicit or strongly negative word a lowercase non-word sounds like (``phuk`` -> ``fuck``,
    ``stoopid`` -> ``stupid``, ``kunt`` -> ``cunt``), or None.

    The same Metaphone *and* NYSIIS codes (:func:`_sound_keys`; one code alone reads ``grop`` as
    ``crap`` and ``Vigano`` as ``vagina``) and at most :data:`PHONETIC_MAX_EDITS` edits apart (one
    for a 3-letter token: ``dik``, not ``kam`` -> ``cum``), and no more than one edit farther than the
    nearest known word step 13 would read (``stoopid`` is two from ``stupid``, one from ``stooped``;
    ``nedia`` is ``media``, not ``nude``); of several, the nearest, then explicit before negative,
    then the most frequent.
    Words wordfreq lists (down to Zipf 2.4) are left alone: its rare listed words are words (``totes``,
    ``utters``, ``heil`` would read as ``tits``, ``uterus``, ``hell``). With ``listed`` (phonetic_listed),
    so are they unless better_profanity lists them and wordfreq rates them rare (below
    :data:`MIN_ZIPF`), and then only as an explicit word :data:`LISTED_MIN_GAP` Zipf units commoner
    (``fuk`` 2.6 -> ``fuck`` 5.4; ``seamen``, ``teat``, ``sadist`` stay)."""
    if len(low) < 3 or not (low.isalpha() and low.isascii()):
        return None
    variant = in_lexicon(low)  # only with listed: a listed variant wordfreq also lists (``fuk``)
    if variant and not (listed and low in _explicit() and not is_known(low)):
        return None
    import jellyfish

    keys = _sound_keys(low)
    limit = PHONETIC_MAX_EDITS if len(low) > 3 else 1
    near = _edits_to_known(low)
    if near is not None:  # a typo of a known word (``nedia``) is not read as a farther insult
        limit = min(limit, near + 1)
    found = [w for w in _harmful_by_sound().get(keys[0], ())
             if w != low and _sound_keys(w) == keys and jellyfish.damerau_levenshtein_distance(low, w) <= limit]
    if variant:  # a listed word may be a word (``seamen``, ``sadist``, ``teat``): only a far commoner explicit word
        found = [w for w in found if w in _explicit() and _zipf(w) - _zipf(low) >= LISTED_MIN_GAP]
    if not found:
        return None
    return min(found, key=lambda w: jellyfish.damerau_levenshtein_distance(low, w))  # stable: list order breaks ties


def phonetic_words(text: str, *, listed: bool = False, leet_spell: bool = False) -> str:
    """Non-words that sound like an explicit or strongly negative word become it (see step 12); with
    ``leet_spell``, leet whose letters misspell or devowel a word becomes that word."""
    return re.sub(r"\S+", lambda m: _phonetic_token(m.group(), listed, leet_spell), text)


@lru_cache(maxsize=131072)
def _phonetic_token(token: str, listed: bool = False, leet_spell: bool = False) -> str:
    if len(token) < 3 or token[0] in "@#" or "://" in token:
        return token
    lead, core, tail = split_edges(token)
    if not core.isascii():
        return token
    if not core.isalpha():  # leet that spelt no known word in step 8: its letter readings
        spelt = leet_spell and _leet_word(core)
        guard = _sound_guard(core) or spelt and _capitalised(core) and _sound_guard(core.lower())
        if guard and not _NUMBER_UNIT.fullmatch(core):  # 10th, 5k, 90s stay numbers
            readings = _leet_readings(core)
            for reading in readings:
                word = sounds_like(reading, listed)
                if word is not None:
                    return lead + _with_case(core, word) + tail
            word = _leet_misspelt(tuple(readings)) if spelt else None
            if word is not None:
                return lead + _with_case(core, word) + tail
        return token
    low = core.lower()
    if core != low and not (core.isupper() and len(core) >= 5) and not (
            core[0].isupper() and core[1:].islower() and (_zipf(low) < PHONETIC_NAME_ZIPF or low in _explicit())):
        return token  # names sound like insults too often (Vigano, Corsi, Kemi: wordfreq lists them); acronyms
    word = sounds_like(low, listed)
    if word is None:
        return token
    return lead + _with_case(core, word) + tail


def _leet_word(core: str) -> bool:
    """leet_spell reads this leet token: no mention or hashtag after edge punctuation (``.@USER``), no number
    (two digits in a row: ``11yrs``, ``TW055``) and no number glued to a known word (``any1``, ``4ever``,
    ``2destroy``, ``3days``)."""
    rest = core.strip("0123456789")
    return core[:1] not in ("@", "#") and not _NUMBER.search(core) and not (len(rest) >= 3 and is_known(rest))


def _capitalised(core: str) -> bool:
    """``Id1otz``, ``Kow@rd``: a capital first letter, every other letter lowercase."""
    letters = [c for c in core if c.isalpha()]
    return len(letters) >= 2 and letters[0].isupper() and "".join(letters[1:]).islower()


@lru_cache(maxsize=65536)
def _leet_misspelt(readings: tuple[str, ...]) -> str | None:
    """leet_spell: the word a leet token's letter readings misspell (``idiotz`` -> ``idiots``, ``destroyin`` ->
    ``destroying``, ``koward`` -> ``coward``) or write without vowels (``sht`` -> ``shit``), or None.

    The letters of ``Id1otz``, ``des7royin`` or ``sh7`` are read as step 8 reads leet, but phonetic respelling
    (``-z`` for ``-s``, ``-in`` for ``-ing``) or a typo leaves no known word, so neither step 8 nor the
    spelling step (letters only) reads them. Each reading is put through step 13's reader
    (:func:`_nearest_word`, harmful words first among the nearest) and step 11's (a devowelled explicit
    word); of all candidates the nearest wins (a devowelled word counts its dropped vowels as edits), then
    explicit before strongly negative before other words, then the most frequent."""
    best: tuple[int, int, float, str] | None = None
    explicit, negative = _explicit(), negative_words()
    for reading in readings:
        found: list[tuple[str, int]] = []
        near = _nearest_word(reading, True)
        if near is not None:
            found.append(near)
        dev = _devowel_token(reading)
        if dev != reading:
            found.append((dev, len(dev) - len(reading)))
        for word, dist in found:
            key = (dist, 0 if word in explicit else 1 if word in negative else 2, -_zipf(word), word)
            if best is None or key < best:
                best = key
    return best[3] if best is not None else None


def _with_case(core: str, word: str) -> str:
    """``word`` with the case pattern of ``core`` (ALL CAPS, Capitalised or lowercase)."""
    return word.upper() if core.isupper() else word[0].upper() + word[1:] if core[0].isupper() else word


def spell_words(text: str, *, swapped_case: bool = False, negative: bool = False, pieces: bool = False) -> str:
    """Letters-only tokens that are no word become the known word they misspell (see step 13)."""
    return re.sub(r"\S+", lambda m: _spell_token(m.group(), swapped_case, negative, pieces), text)


def _swapped_capital(core: str) -> bool:
    """``dIiots``: a lowercase first letter and one capital, the second (a capitalised word's first two letters swapped)."""
    return len(core) >= 4 and core[0].islower() and core[1].isupper() and core[2:] == core[2:].lower()


@lru_cache(maxsize=131072)
def _spell_token(token: str, swapped_case: bool = False, negative: bool = False, pieces: bool = False) -> str:
    if len(token) < 4 or token[0] in "@#" or "://" in token:
        return token
    lead, core, tail = split_edges(token)
    if pieces and not core.isalpha() and (
            read := _by_pieces(core, lambda p: _spell_token(p, swapped_case, negative))) is not None:
        return lead + read + tail
    if not (core.isalpha() and core.isascii()):
        return token
    swapped = swapped_case and _swapped_capital(core)
    if core[1:] != core[1:].lower() and not core.isupper() and not swapped:
        return token  # QAnon, GunBroker: names and hashtag-like words keep their spelling
    if core.isupper() and len(core) < 5:
        return token  # SPLC, COTUS: acronyms
    near = _nearest_word(core.lower(), negative)
    if near is None:
        return token
    word = near[0]
    if core.isupper():
        word = word.upper()
    elif core[0].isupper() or swapped:
        word = word[0].upper() + word[1:]
    return lead + word + tail


# ---------------------------------------------------------------------------- the pipeline
class Canonicalizer:
    """Callable text -> canonical text, configured like ``CanonicalizerConfig`` (one flag a step)."""

    def __init__(self, nfkc: bool = True, strip_invisible: bool = True, skeleton: bool = True,
                 bidi: bool = True, emoji: bool = True, join_separated: bool = True,
                 segment_joined: bool = True, squeeze: bool = True,
                 deobfuscate: bool = True, merge_fragments: bool = True, merge_harmful: bool = True,
                 split_merged: bool = True,
                 devowel: bool = True, phonetic: bool = True,
                 spell: bool = True, spell_swapped_case: bool = True, spell_negative: bool = True,
                 spell_pieces: bool = True, phonetic_listed: bool = True, join_edges: bool = True,
                 deobfuscate_pieces: bool = True, leet_at: bool = True, leet_spell: bool = True,
                 deobfuscate_listed: bool = True, spaced_runs: bool = True) -> None:
        self.flags = {"bidi": bidi, "strip_invisible": strip_invisible, "nfkc": nfkc, "skeleton": skeleton,
                      "emoji": emoji, "join_separated": join_separated, "segment_joined": segment_joined,
                      "squeeze": squeeze, "deobfuscate": deobfuscate, "merge_fragments": merge_fragments,
                      "merge_harmful": merge_harmful, "split_merged": split_merged, "devowel": devowel,
                      "phonetic": phonetic, "spell": spell, "spell_swapped_case": spell_swapped_case,
                      "spell_negative": spell_negative, "spell_pieces": spell_pieces,
                      "phonetic_listed": phonetic_listed, "join_edges": join_edges,
                      "deobfuscate_pieces": deobfuscate_pieces, "leet_at": leet_at,
                      "leet_spell": leet_spell, "deobfuscate_listed": deobfuscate_listed,
                      "spaced_runs": spaced_runs}

    @classmethod
    def from_config(cls, cfg) -> Canonicalizer | None:
        if cfg is None or not getattr(cfg, "enabled", False):
            return None
        return cls(**{k: bool(getattr(cfg, k)) for k in STEPS})

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> Canonicalizer | None:
        """From a saved ``defender.json`` entry; steps it does not name (older folders) stay off."""
        if not spec or not spec.get("enabled", True):
            return None
        unknown = set(spec) - set(STEPS) - {"enabled"}
        if unknown:
            from arena.errors import ModelError

            raise ModelError(f"defender.json canonicalizer: unknown steps {sorted(unknown)} (known: {list(STEPS)})")
        return cls(**{k: bool(spec.get(k, k not in LEGACY_OFF)) for k in STEPS})

    def __call__(self, text: str, rules: Callable[[str], str] | None = None, *, spell: bool = True) -> str:
        """Steps 1-10, then ``rules`` (the defender's learned layer), then steps 11-13 (``spell=False`` stops before them).

        The learned rules run before the generic spelling step: a mined ``folo -> fool`` (or the
        fuzzy ``~fool``) must win over the most frequent word one edit away (``solo``).
        """
        f = self.flags
        if f["bidi"]:
            text = resolve_bidi(text)
        if f["strip_invisible"]:
            text = strip_invisible(text)
        if f["nfkc"]:
            text = strip_marks(unicodedata.normalize("NFKC", text))
        if f["skeleton"]:
            text = skeleton(text)
        if f["emoji"]:
            text = emoji_to_words(text)
        if f["join_separated"]:
            text = join_separated(text, segment=f["segment_joined"], edges=f["join_edges"], runs=f["spaced_runs"])
        if f["squeeze"]:
            text = squeeze(text)
        if f["deobfuscate"]:
            text = deobfuscate(text, pieces=f["deobfuscate_pieces"], at=f["leet_at"], listed=f["deobfuscate_listed"])
        if f["merge_fragments"]:
            text = merge_fragments(text, harmful=f["merge_harmful"], runs=f["spaced_runs"] and f["join_separated"])
        if f["split_merged"]:
            text = split_merged(text)
        if rules is not None:
            text = rules(text)
        if f["devowel"] and spell:
            text = devowel_words(text)
        if f["phonetic"] and spell:
            text = phonetic_words(text, listed=f["phonetic_listed"], leet_spell=f["leet_spell"])
        if f["spell"] and spell:
            text = spell_words(text, swapped_case=f["spell_swapped_case"], negative=f["spell_negative"],
                               pieces=f["spell_pieces"])
        return text

    def many(self, texts: Sequence[str]) -> list[str]:
        return [self(t) for t in texts]

    def to_dict(self) -> dict[str, bool]:
        return {"enabled": True, **self.flags}


def word_key(word: str) -> str:
    """A whitespace token as the rules and the change measurements see it: edge punctuation off, lowercase."""
    return split_edges(word)[1].lower()


def tokens(text: str) -> list[str]:
    """The non-empty :func:`word_key` of each whitespace token of ``text``."""
    return [k for k in map(word_key, text.split()) if k]


def changed_token_share(originals: Sequence[str], transformed: Sequence[str]) -> float:
    """Share of the original texts' word tokens that ``transformed`` does not keep (case-insensitive).

    Aligned per text with ``difflib`` (a token counts as kept when it is matched unchanged), so a
    joined run of separated letters counts as every letter changed, and a recovered leet word as one.
    """
    import difflib

    total = changed = 0
    for a, b in zip(originals, transformed, strict=True):
        ta, tb = tokens(a), tokens(b)
        total += len(ta)
        if ta == tb:
            continue
        kept = sum(blk.size for blk in difflib.SequenceMatcher(None, ta, tb, autojunk=False).get_matching_blocks())
        changed += len(ta) - kept
    return changed / total if total else 0.0
