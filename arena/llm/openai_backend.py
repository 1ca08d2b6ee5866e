"""``openai``: any OpenAI-compatible chat server (Ollama, vLLM's server, llama-cpp-python's server).

Uses ``POST {base_url}/chat/completions`` through the standard library (no client package needed).
``n`` completions are asked for in one request; servers that ignore ``n`` (llama-cpp-python's, Ollama)
return fewer choices, and the backend then asks for the rest one by one with per-sample seeds and
remembers that the server does not support ``n``. Seeds are forwarded; whether they make sampling
reproducible is up to the server.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from arena.errors import ArenaError, ConfigError
from arena.llm.base import LLMBackend, register_backend, sample_seed

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"


@register_backend("openai")
class OpenAIBackend(LLMBackend):
    """OpenAI-compatible HTTP backend.

    Args:
        model: model name as the server knows it (``ollama list``; the path/alias for llama-cpp's server;
            the HF id for ``vllm serve``). Default: env ``OPENAI_MODEL``.
        base_url: API root ending in ``/v1``; default env ``OPENAI_BASE_URL`` or ``http://127.0.0.1:8000/v1``.
            Ollama: ``http://127.0.0.1:11434/v1``.
        api_key: bearer token; default env ``OPENAI_API_KEY`` (optional for local servers).
        timeout: seconds per HTTP request.
        system_prompt: optional system message put before every prompt.
    """

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0, system_prompt: str | None = None) -> None:
        self.model = model or os.environ.get("OPENAI_MODEL")
        if not self.model:
            raise ConfigError("the openai backend needs model=NAME (or env OPENAI_MODEL), "
                              "e.g. model='qwen2.5:0.5b' for Ollama")
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"openai backend: base_url must start with http:// or https://, got {self.base_url!r}")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if timeout <= 0:
            raise ConfigError(f"openai backend: timeout must be > 0 seconds, got {timeout!r}")
        self.timeout = float(timeout)
        self.system_prompt = system_prompt
        self.supports_n: bool | None = None  # unknown until the first request with n > 1

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=json.dumps(payload).encode("utf-8"), headers=headers,
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read()[:300].decode("utf-8", "replace") if e.fp else ""
            raise ArenaError(f"LLM server {self.url} answered HTTP {e.code} {e.reason}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ArenaError(f"cannot reach LLM server {self.url}: {reason} "
                             f"(is it running? check base_url)") from None
        try:
            data = json.loads(body)
            choices = data["choices"]
            assert isinstance(choices, list)
        except (ValueError, KeyError, TypeError, AssertionError):
            raise ArenaError(f"LLM server {self.url} returned no chat completion: {body[:300]!r}") from None
        return data

    def _request(self, prompt: str, *, n: int, temperature: float, max_tokens: int, seed: int,
                 stop: list[str]) -> list[str]:
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt is not None else []
        messages.append({"role": "user", "content": prompt})
        payload: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature,
                                   "max_tokens": max_tokens, "seed": seed, "n": n}
        if stop:
            payload["stop"] = stop
        choices = sorted(self._post(payload)["choices"], key=lambda c: c.get("index", 0))
        return [(c.get("message") or {}).get("content") or "" for c in choices]

    def _generate(self, prompts: list[str], *, n: int, temperature: float, max_tokens: int, seed: int,
                  stop: list[str]) -> list[list[str]]:
        kw = {"temperature": temperature, "max_tokens": max_tokens, "stop": stop}
        out = []
        for prompt in prompts:
            comps: list[str] = []
            if n > 1 and self.supports_n is not False:
                comps = self._request(prompt, n=n, seed=sample_seed(seed, prompt, 0), **kw)[:n]
                self.supports_n = len(comps) == n
                if not self.supports_n:
                    comps = []  # same results on the first call as on later ones: redo per sample
            for j in range(len(comps), n):  # one request per sample, each with its own seed
                got = self._request(prompt, n=1, seed=sample_seed(seed, prompt, j), **kw)
                if not got:
                    raise ArenaError(f"LLM server {self.url} returned an empty 'choices' list")
                comps.append(got[0])
            out.append(comps)
        return out

    def close(self) -> None:
        """Nothing to free: every request opens and closes its own connection."""
