"""LLM backends behind one interface (used by the attacker's ``llm_rewrite`` strategy).

    from arena.llm import get_backend
    llm = get_backend("llama_cpp")                 # CPU default: SmolLM2-135M-Instruct GGUF
    llm.generate(["Say hi"], n=2, max_tokens=16, seed=0, stop=["\\n"])   # -> [["Hi!", "Hello!"]]
    llm.close()

Backends: ``llama_cpp`` (CPU), ``vllm`` (GPU), ``openai`` (any OpenAI-compatible server: Ollama,
``vllm serve``, llama-cpp-python's server), ``transformers`` (fallback). Importing this package loads
no model and imports neither torch, vllm nor llama_cpp; each backend imports its library on first use.
See docs/llm.md.
"""

from arena.llm import llama_cpp_backend, openai_backend, transformers_backend, vllm_backend  # noqa: F401  (register)
from arena.llm.base import LLMBackend, get_backend, list_backends, register_backend, sample_seed
from arena.llm.models import default_gguf_path

__all__ = ["LLMBackend", "default_gguf_path", "get_backend", "list_backends", "register_backend", "sample_seed"]
