"""Input canonicaliser: a rule-based defence that runs in front of the classifier.

Three steps, each switchable (``defender.canonicalizer`` in the config):

1. **strip_invisible** — drop format characters (Unicode category Cf: zero-width space/joiners,
   word joiner, soft hyphen, bidi embeddings/overrides/isolates, BOM) and variation selectors.
2. **nfkc** — compatibility normalisation (fullwidth, mathematical alphanumerics, ligatures) and
   removal of combining marks after NFKD (so stacked diacritics fall away).
3. **skeleton** — map characters that are confusable with a Latin/ASCII letter to that letter,
   in the spirit of the UTS #39 skeleton, using the Unicode confusables data shipped by the
   ``confusable-homoglyphs`` package (no hand-typed tables).

Pure standard library plus that package's data; no torch.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

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


def strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


@lru_cache(maxsize=1)
def _skeleton_table() -> dict[int, str]:
    """Map every character confusable with a single ASCII letter or digit to that character."""
    try:
        from confusable_homoglyphs import confusables
    except ImportError:  # pragma: no cover - dependency of the package
        return {}
    data = confusables._get_confusables_data() if hasattr(confusables, "_get_confusables_data") else None
    if data is None:  # older/newer layouts: fall back to the module-level loader
        from confusable_homoglyphs.utils import load

        data = load("confusables.json")
    table: dict[int, str] = {}
    for ascii_ch, entries in data.items():
        if len(ascii_ch) != 1 or not ascii_ch.isascii() or not ascii_ch.isalnum():
            continue
        for entry in entries:
            glyph = entry.get("c", "")
            if len(glyph) == 1 and not glyph.isascii():
                table.setdefault(ord(glyph), ascii_ch.lower())
    return table


def skeleton(text: str) -> str:
    table = _skeleton_table()
    return text.translate(table) if table else text


class Canonicalizer:
    """Callable text -> canonical text, configured like ``CanonicalizerConfig``."""

    def __init__(self, nfkc: bool = True, strip_invisible: bool = True, skeleton: bool = True) -> None:
        self.nfkc = nfkc
        self.strip = strip_invisible
        self.skel = skeleton

    @classmethod
    def from_config(cls, cfg) -> Canonicalizer | None:
        if cfg is None or not getattr(cfg, "enabled", False):
            return None
        return cls(nfkc=cfg.nfkc, strip_invisible=cfg.strip_invisible, skeleton=cfg.skeleton)

    def __call__(self, text: str) -> str:
        if self.strip:
            text = strip_invisible(text)
        if self.nfkc:
            text = strip_marks(unicodedata.normalize("NFKC", text))
        if self.skel:
            text = skeleton(text)
        return text

    def to_dict(self) -> dict[str, bool]:
        return {"enabled": True, "nfkc": self.nfkc, "strip_invisible": self.strip, "skeleton": self.skel}
