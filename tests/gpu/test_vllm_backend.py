"""vLLM backend on a CUDA GPU. Needs `pip install "content-arena[gpu]"` and a model available offline:
env ARENA_VLLM_MODEL (a local folder or a hub id already in the HF cache), default
HuggingFaceTB/SmolLM2-135M-Instruct from the cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from arena.llm import get_backend

pytestmark = pytest.mark.gpu

MODEL = os.environ.get("ARENA_VLLM_MODEL", "HuggingFaceTB/SmolLM2-135M-Instruct")


def _model_available(model: str) -> bool:
    if Path(model).is_dir():
        return True
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model, "config.json"), str)


@pytest.fixture(scope="module")
def vllm_backend():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    pytest.importorskip("vllm", reason='vLLM not installed: pip install "content-arena[gpu]"')
    if not _model_available(MODEL):
        pytest.skip(f"{MODEL} is neither a local folder nor in the HF cache (set ARENA_VLLM_MODEL)")
    backend = get_backend("vllm", model=MODEL, gpu_memory_utilization=0.3, max_model_len=1024)
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
