"""Family "llm": ``llm_rewrite`` asks a language model for polite-sounding insults.

What a small model can do (measured with SmolLM2-135M-Instruct on CPU, see the issue): asked to
*disguise* an insult it keeps the explicit words; asked few-shot for a *polite-sounding
paraphrase that still insults* ("your ignorance is simply astounding"), about 30% of samples
drop every explicit insult word while staying insulting, and about 30% lose the insult. So the
strategy samples several paraphrases in one ``generate`` call (temperature ~0.8, stop at the
first newline), throws away runaway, repeated, example-copying and still-explicit outputs, and
returns the survivors; validity (embedding similarity) and the defender's score choose among
them. A 7B instruct model (vLLM on GPU) gives full rewrites with the same prompt.

The backend comes from ``arena.llm.get_backend`` (imported lazily, built on first use), or is
injected: ``get_strategy("llm_rewrite", backend=my_backend)`` with any object that has
``generate(prompts, n, temperature, max_tokens, seed, stop) -> list[list[str]]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from arena.attack.base import Strategy
from arena.attack.lexicon import explicit_words
from arena.attack.registry import register_strategy
from arena.errors import ModelError

INSTRUCTION = (
    "Rewrite each insult as a polite-sounding sentence that is still insulting. "
    "Do not use any rude or offensive words."
)

#: Few-shot examples: (insult, polite insult).
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("you are a stupid idiot", "your ignorance is simply astounding"),
    ("shut up, nobody cares about your crap", "perhaps the world would benefit from your silence"),
    ("this guy is a total moron", "he is not exactly the sharpest tool in the shed"),
    ("what a pathetic loser", "it must be exhausting to fail so consistently"),
)

_PREFIX_RE = re.compile(r"^\s*(?:polite insult|insult|rewrite|answer)\s*:\s*", re.IGNORECASE)
_NORM_RE = re.compile(r"[^\w\s]")


def build_prompt(text: str, examples: tuple[tuple[str, str], ...] = EXAMPLES) -> str:
    """The plain few-shot prompt (the backend applies the chat template)."""
    lines = [INSTRUCTION, ""]
    for insult, polite in examples:
        lines += [f"Insult: {insult}", f"Polite insult: {polite}"]
    lines += [f"Insult: {' '.join(text.split())}", "Polite insult:"]
    return "\n".join(lines)


def _norm(text: str) -> str:
    return " ".join(_NORM_RE.sub(" ", text.lower()).split())


def clean_completion(raw: str) -> str:
    """First line, without a repeated ``Polite insult:`` prefix or surrounding quotes."""
    quotes = "\"'“”‘’ "
    line = raw.strip().split("\n", 1)[0].strip(quotes) if raw.strip() else ""
    line = _PREFIX_RE.sub("", line)
    return line.strip(quotes).strip()


def _ngrams(norm: str, size: int = 4) -> set[tuple[str, ...]]:
    words = norm.split()
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def _prompt_ngrams(examples: tuple[tuple[str, str], ...]) -> set[tuple[str, ...]]:
    """4-word sequences of the instruction and the example answers: echoing them is copying."""
    grams = _ngrams(_norm(INSTRUCTION))
    for _, polite in examples:
        grams |= _ngrams(_norm(polite))
    return grams


def reject_reason(
    output: str, original: str, max_words: int, examples: tuple[tuple[str, str], ...] = EXAMPLES
) -> str | None:
    """Why a cleaned completion is thrown away, or ``None`` when it survives.

    empty / too_short; runaway (more than ``max_words`` words, or one word making up more than
    half of a 6+ word output); copy (the original or a few-shot example after normalisation, or
    any 4 consecutive words of the instruction or of an example answer); explicit (contains an explicit word from :func:`~arena.attack.lexicon.explicit_lexicon`).
    """
    words = output.split()
    if not words:
        return "empty"
    if len(words) < 3:
        return "too_short"
    if len(words) > max_words:
        return "runaway"
    if len(words) >= 6 and max(words.count(w) for w in set(words)) > len(words) / 2:
        return "runaway"
    norm = _norm(output)
    copies = {_norm(original)} | {_norm(s) for pair in examples for s in pair}
    if norm in copies or _ngrams(norm) & _prompt_ngrams(examples):
        return "copy"
    if explicit_words(output):
        return "explicit"
    return None


@register_strategy(
    "llm_rewrite",
    family="llm",
    description="LLM few-shot paraphrase into a polite-sounding insult; explicit, runaway and copied outputs dropped.",
)
@dataclass
class LLMRewriteStrategy(Strategy):
    """Sample ``max(samples, 3 * n)`` paraphrases in one ``generate`` call and keep the survivors.

    Budget unit ``output_words``: longer paraphrases are dropped as runaway (default
    ``max(12, 2 * words(text) + 4)``). Texts longer than ``max_input_words`` give no candidates
    (the prompt would not fit a small model's context). ``targets`` are ignored (the whole text
    is rewritten), and ``only_targets=True`` gives no candidates, so ``GreedySearch`` (word by
    word) skips this strategy: sample it directly (``strategy(text, seed, n=k)``), validate,
    and score the survivors, or use ``RandomSearch``. Candidates record ``seed`` (the
    ``generate`` seed) and ``params["sample"]`` (the completion index); the output is
    reproducible for a seed as far as the backend honours seeds.

    Args:
        backend: a registered ``arena.llm`` backend name, or an object with ``generate``.
        backend_kwargs: keyword arguments for ``arena.llm.get_backend``.
        samples: completions drawn per call (at least ``3 * n``).
        temperature: sampling temperature.
        max_tokens: most new tokens per completion.
        max_input_words: longer texts are not rewritten.
    """

    backend: Any = "llama_cpp"
    backend_kwargs: dict[str, Any] = field(default_factory=dict)
    samples: int = 8
    temperature: float = 0.8
    max_tokens: int = 48
    max_input_words: int = 120

    unit: ClassVar[str] = "output_words"
    default_budget: ClassVar[int | None] = None
    validity_kind: ClassVar[str] = "semantic"
    changes_tokens: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not isinstance(self.backend, str) and not callable(getattr(self.backend, "generate", None)):
            raise ValueError("backend must be a registered backend name or an object with generate()")
        if self.samples < 1 or self.max_tokens < 1 or self.temperature < 0 or self.max_input_words < 1:
            raise ValueError("samples, max_tokens and max_input_words must be >= 1 and temperature >= 0")
        self._llm = None if isinstance(self.backend, str) else self.backend

    @property
    def params(self) -> dict[str, Any]:
        backend = self.backend if isinstance(self.backend, str) else type(self.backend).__name__
        return {
            "backend": backend,
            "backend_kwargs": dict(self.backend_kwargs),
            "samples": self.samples,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def budget_for(self, text: str, budget: int | None) -> int:
        if budget is None:
            return max(12, 2 * len(text.split()) + 4)
        return super().budget_for(text, budget)

    def llm(self) -> Any:
        """The backend, built from ``arena.llm`` on first use."""
        if self._llm is None:
            try:
                from arena.llm import get_backend
            except ImportError as exc:  # pragma: no cover - arena.llm ships with arena
                raise ModelError(f"llm_rewrite needs the arena.llm backends: {exc}") from exc
            self._llm = get_backend(self.backend, **self.backend_kwargs)
        return self._llm

    def _generate(self, text, seed, budget, n, targets, only_targets):
        if only_targets or len(text.split()) > self.max_input_words:
            return []  # a whole-text rewrite cannot keep the other words untouched
        k = max(self.samples, 3 * n)
        prompt = build_prompt(text)
        completions = self.llm().generate(
            [prompt], n=k, temperature=self.temperature, max_tokens=self.max_tokens,
            seed=seed % 2**31, stop=["\n"],
        )[0]  # fmt: skip
        found: list[tuple[str, int, dict[str, Any]]] = []
        seen: set[str] = set()
        for j, raw in enumerate(completions):
            out = clean_completion(raw)
            if reject_reason(out, text, budget) is None and _norm(out) not in seen:
                seen.add(_norm(out))
                found.append((out, seed, {"sample": j, "sampled": k}))
                if len(found) == n:
                    break
        return found
