"""Peer moderation tools behind the defender's interface: ``score(texts) -> list[float]`` = P(toxic).

    from arena.peers import load_peer
    peer = load_peer("alt-profanity-check")
    peer.score(["you are an idiot", "have a lovely day"])      # -> [0.99..., 0.04...]
    peer.threshold                                               # 0.5, as the defender's default

Two widely used off-the-shelf filters, so that ``arena eval`` can put the defender next to them:

* ``alt-profanity-check``: a linear SVM on bag-of-words (scikit-learn), ``predict_prob``.
* ``better-profanity``: a word list with character-variant matching; it answers yes or no, so its
  score is 1.0 (contains profanity) or 0.0 and its ROC-AUC is that of a single threshold.

Both are optional: ``pip install -e .[peers]``. They are imported when a peer is loaded, never by
``import arena``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable, Sequence
from typing import ClassVar

from arena.errors import ModelError

PEER_PREFIX = "peer:"
"""Model references starting with this prefix name a peer (``peer:better-profanity``)."""

EXTRA_HINT = "pip install -e .[peers]  (or: pip install 'content-arena[peers]')"


def _require(module: str, package: str):
    """Import ``module`` or raise :class:`ModelError` naming the pip package and the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ModelError(
            f"peer {package!r} needs the Python package {package!r} (module {module!r}), which is not "
            f"installed: {EXTRA_HINT}"
        ) from exc


class Peer:
    """A peer classifier. Subclasses set ``name``/``package``/``description`` and implement ``_score``."""

    name: ClassVar[str]
    package: ClassVar[str]
    description: ClassVar[str]
    threshold: float = 0.5

    def __init__(self) -> None:
        self.version = importlib.metadata.version(self.package)

    def score(self, texts: Sequence[str], batch_size: int = 1024) -> list[float]:
        """P(toxic) for each text (``batch_size`` is accepted for parity with the defender)."""
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if not texts:
            return []
        out: list[float] = []
        for start in range(0, len(texts), batch_size):
            out.extend(float(s) for s in self._score(texts[start : start + batch_size]))
        return out

    def predict(self, texts: Sequence[str]) -> list[int]:
        return [int(s >= self.threshold) for s in self.score(texts)]

    def _score(self, texts: list[str]) -> Sequence[float]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version!r})"


class AltProfanityCheck(Peer):
    name = "alt-profanity-check"
    package = "alt-profanity-check"
    description = "linear SVM on bag-of-words (scikit-learn); predict_prob"

    def __init__(self) -> None:
        self._predict_prob: Callable[[list[str]], Sequence[float]] = _require(
            "profanity_check", self.package
        ).predict_prob
        super().__init__()

    def _score(self, texts: list[str]) -> Sequence[float]:
        return self._predict_prob(texts)


class BetterProfanity(Peer):
    name = "better-profanity"
    package = "better-profanity"
    description = "word list with character-variant matching; contains_profanity -> 1.0 / 0.0"

    def __init__(self) -> None:
        # a private instance with the default word list: nobody else's add_censor_words leaks in
        self._filter = _require("better_profanity", self.package).Profanity()
        super().__init__()

    def _score(self, texts: list[str]) -> Sequence[float]:
        return [1.0 if self._filter.contains_profanity(t) else 0.0 for t in texts]


PEERS: dict[str, type[Peer]] = {cls.name: cls for cls in (AltProfanityCheck, BetterProfanity)}
"""Peers by name."""


def is_peer_ref(ref: str) -> bool:
    """Whether a model reference names a peer (``peer:NAME``)."""
    return str(ref).startswith(PEER_PREFIX)


def load_peer(name: str) -> Peer:
    """The peer called ``name`` (``peer:`` prefix optional). :class:`ModelError` if unknown or not installed."""
    key = name[len(PEER_PREFIX) :] if name.startswith(PEER_PREFIX) else name
    key = key.replace("_", "-")
    if key not in PEERS:
        raise ModelError(f"unknown peer {name!r}; known peers: {', '.join(PEER_PREFIX + k for k in PEERS)}")
    return PEERS[key]()
