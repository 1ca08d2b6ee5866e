"""The backend contract: ``generate(prompts, n, temperature, max_tokens, seed, stop)``.

Every backend subclasses :class:`LLMBackend` and implements only ``_generate``; the public
``generate`` validates the arguments, resolves seeds, truncates at stop strings and checks the
shape of the result (template method, as in TextAttack's ``Transformation.__call__``).

Seeds: ``seed=None`` draws a fresh random seed per call. For a given ``seed``, completion ``j``
of prompt ``p`` is sampled with :func:`sample_seed` ``(seed, p, j)``, so the same prompt with the same
seed gives the same completions wherever it sits in the batch (on backends that honour seeds; see
``docs/llm.md`` for which do).
"""

from __future__ import annotations

import hashlib
import inspect
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from arena.errors import ArenaError, ConfigError

_SEED_MAX = 2**31 - 1


def sample_seed(seed: int, prompt: str, index: int) -> int:
    """A well-mixed 31-bit seed for completion ``index`` of ``prompt`` in a call made with ``seed``.

    The prompt is mixed in so that different prompts sharing a seed do not follow the same random path
    (with near-identical few-shot prompts, completion j of every prompt would otherwise look alike), and
    seeds ``s`` and ``s + 1`` share no completions (as ``seed + index`` would).
    """
    digest = hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return random.Random(f"arena-llm:{seed}:{digest}:{index}").randint(0, _SEED_MAX)


def truncate_at_stop(text: str, stop: Sequence[str] | None) -> str:
    """Cut ``text`` before the earliest occurrence of any non-empty stop string (stops are excluded)."""
    if not stop:
        return text
    cut = len(text)
    for s in stop:
        pos = text.find(s) if s else -1
        if pos != -1:
            cut = min(cut, pos)
    return text[:cut]


class LLMBackend(ABC):
    """A text generator that applies the model's chat template to plain user messages.

    Subclasses load their model lazily (on the first ``generate``) and free it in ``close``.
    Usable as a context manager: ``with get_backend("llama_cpp") as llm: ...``.
    """

    #: registry key, set by :func:`register_backend`
    name: str = ""

    def generate(
        self,
        prompts: list[str],
        n: int = 1,
        temperature: float = 0.8,
        max_tokens: int = 48,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> list[list[str]]:
        """Return ``n`` completions for each prompt: ``result[i][j]`` is completion ``j`` of ``prompts[i]``.

        Args:
            prompts: user-message texts; the backend wraps each in the model's chat template.
            n: completions per prompt (>= 1).
            temperature: sampling temperature (>= 0; 0 means greedy).
            max_tokens: most new tokens per completion (>= 1).
            seed: makes sampling reproducible on backends that support it; None = random.
            stop: strings that end a completion; they are not included in the output.
        """
        if isinstance(prompts, str):
            raise ConfigError("generate() takes a list of prompts, got a single str; wrap it: [prompt]")
        prompts = list(prompts)
        if not all(isinstance(p, str) for p in prompts):
            raise ConfigError("generate(): every prompt must be a str")
        if not isinstance(n, int) or n < 1:
            raise ConfigError(f"generate(): n must be an int >= 1, got {n!r}")
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise ConfigError(f"generate(): max_tokens must be an int >= 1, got {max_tokens!r}")
        if temperature < 0:
            raise ConfigError(f"generate(): temperature must be >= 0, got {temperature!r}")
        if seed is not None and (not isinstance(seed, int) or seed < 0):
            raise ConfigError(f"generate(): seed must be a non-negative int or None, got {seed!r}")
        stop = [s for s in (stop or []) if s]
        if not prompts:
            return []
        if seed is None:
            seed = random.SystemRandom().randint(0, _SEED_MAX)
        out = self._generate(prompts, n=n, temperature=float(temperature), max_tokens=max_tokens, seed=seed,
                             stop=stop)
        if len(out) != len(prompts) or any(len(c) != n for c in out):
            shape = [len(c) for c in out]
            raise ArenaError(f"{self.name or type(self).__name__} backend returned {shape} completions "
                             f"for {len(prompts)} prompts x n={n}")
        return [[truncate_at_stop(str(t), stop) for t in comps] for comps in out]

    @abstractmethod
    def _generate(self, prompts: list[str], *, n: int, temperature: float, max_tokens: int, seed: int,
                  stop: list[str]) -> list[list[str]]:
        """Backend-specific generation; arguments are already validated and ``seed`` is set."""

    @abstractmethod
    def close(self) -> None:
        """Free the model (a later ``generate`` loads it again); a no-op when nothing is loaded."""

    def __enter__(self) -> LLMBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


B = TypeVar("B", bound=type[LLMBackend])
_REGISTRY: dict[str, type[LLMBackend]] = {}


def register_backend(name: str) -> Callable[[B], B]:
    """Class decorator: register a backend under a lowercase snake_case ``name`` (no duplicates)."""
    if not name or not name.replace("_", "").isalnum() or name != name.lower():
        raise ConfigError(f"backend name must be lowercase snake_case, got {name!r}")

    def deco(cls: B) -> B:
        if name in _REGISTRY:
            raise ConfigError(f"LLM backend {name!r} is already registered ({_REGISTRY[name].__name__})")
        if not (isinstance(cls, type) and issubclass(cls, LLMBackend)):
            raise ConfigError(f"@register_backend({name!r}) must decorate an LLMBackend subclass")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def list_backends() -> list[str]:
    """Names of the registered backends, sorted."""
    return sorted(_REGISTRY)


def get_backend(name: str = "llama_cpp", **kwargs: Any) -> LLMBackend:
    """Build the backend registered as ``name`` with its keyword arguments (no model is loaded yet)."""
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown LLM backend {name!r}; valid names: {', '.join(list_backends())}") from None
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as e:
        raise ConfigError(f"LLM backend {name!r}: bad arguments {sorted(kwargs)}: {e}") from None
    return cls(**kwargs)
