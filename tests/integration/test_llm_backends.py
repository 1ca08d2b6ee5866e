"""The real SmolLM2-135M GGUF through the llama_cpp backend, and the openai backend against
llama-cpp-python's own server on 127.0.0.1. Kept small (max_tokens <= 16, n = 2) so the default run stays fast.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from arena.errors import ArenaError
from arena.llm import default_gguf_path, get_backend

pytestmark = pytest.mark.llm
pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")

PROMPTS = ["Say hello to a friend.", "Name a fruit."]
SERVER_DEPS = ["uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings"]


@pytest.fixture(scope="module")
def llama():
    # one thread: on a busy 2-core machine llama.cpp's spinning threads slow down badly when oversubscribed
    from arena.llm.llama_cpp_backend import probe
    from arena.llm.models import default_gguf_path

    why = probe(str(default_gguf_path()))
    if why:  # a build that crashes even on one-token micro-batches: reported, not a crash of the test session
        pytest.skip(why)
    backend = get_backend("llama_cpp", n_threads=1, n_ctx=512)
    yield backend
    backend.close()


SAMPLING = {"n": 2, "max_tokens": 12, "temperature": 1.0}


@pytest.fixture(scope="module")
def first_run(llama):
    return llama.generate(PROMPTS, seed=123, **SAMPLING)


def test_llama_cpp_shape(llama, first_run):
    assert [len(c) for c in first_run] == [2, 2]
    assert all(isinstance(t, str) and t.strip() for comps in first_run for t in comps)
    assert llama.model_path == default_gguf_path()


def test_llama_cpp_is_deterministic_for_a_seed(llama, first_run):
    assert llama.generate(PROMPTS, seed=123, **SAMPLING) == first_run
    # completion j depends on (prompt, seed, j) only, not on the rest of the batch
    assert llama.generate(PROMPTS[1:], seed=123, **SAMPLING) == first_run[1:]
    assert llama.generate(PROMPTS[1:], seed=124, **SAMPLING) != first_run[1:]


def test_llama_cpp_respects_stop(llama):
    prompt = ["List three animals, one per line."]
    free = llama.generate(prompt, n=2, max_tokens=16, seed=7)
    stopped = llama.generate(prompt, n=2, max_tokens=16, seed=7, stop=["\n"])
    assert any("\n" in t for t in free[0]), free  # the stop string would occur without `stop`
    assert all("\n" not in t for t in stopped[0]) and all(t.strip() for t in stopped[0])
    # not asserted: that the stopped completion equals the free one cut at its first newline. With a
    # working llama-cpp-python 0.3.36 build (2026-12-02) completion 1 did and completion 0 did not
    # ('1. Monkflies' vs '1. A Tortoise...'), though a repeated call with the same arguments is identical
    # (test_llama_cpp_is_deterministic_for_a_seed): the same seed is not the same stream across stop settings.
    again = llama.generate(prompt, n=2, max_tokens=16, seed=7, stop=["\n"])
    assert again == stopped


def test_llama_cpp_counts_tokens(llama):
    assert 1 <= llama.count_tokens("hello world") <= 4


# --- openai backend against llama-cpp-python's server --------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    missing = [m for m in SERVER_DEPS if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"llama-cpp-python[server] dependencies missing: {missing}")
    from arena.llm.llama_cpp_backend import probe_settings

    settings, why = probe_settings(str(default_gguf_path()))
    if why:  # the server runs the same native build
        pytest.skip(why)
    port = _free_port()
    base = f"http://127.0.0.1:{port}/v1"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf_path()), "--host", "127.0.0.1",
           "--port", str(port), "--n_threads", "1", "--n_ctx", "512", "--model_alias", "smollm2"]
    for key, value in (settings or {}).items():  # a build that needs one-token micro-batches here
        cmd += [f"--{key}", str(value)]
    log = open(tmp_path_factory.mktemp("llama_server") / "server.log", "w+")  # a PIPE would fill up and block it
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log.read()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as r:
                    if json.load(r).get("data"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"llama_cpp.server was not ready within 90 s: {log.read()[-2000:]}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()  # this PID only
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def test_openai_backend_against_llama_cpp_server(llama_server):
    b = get_backend("openai", base_url=llama_server, model="smollm2", timeout=60)
    kw = {"n": 2, "max_tokens": 12, "temperature": 1.0, "stop": ["\n"]}
    a = b.generate(PROMPTS[:1], seed=11, **kw)
    assert [len(c) for c in a] == [2]
    assert all(isinstance(t, str) and t.strip() and "\n" not in t for comps in a for t in comps)
    assert b.supports_n is False  # llama-cpp-python's server returns one choice whatever n is
    assert b.generate(PROMPTS[:1], seed=11, **kw) == a  # the server honours per-request seeds


def test_openai_backend_unknown_route_is_a_clear_error(llama_server):
    b = get_backend("openai", base_url=llama_server + "/nope", model="smollm2", timeout=30)
    with pytest.raises(ArenaError, match=r"HTTP 404"):
        b.generate(["hi"], max_tokens=4)


# --- transformers' GGUF loader (same model file) -------------------------------------------------------

@pytest.mark.slow
def test_transformers_backend_loads_the_gguf():
    if importlib.util.find_spec("gguf") is None:
        pytest.skip("transformers' GGUF loader needs the gguf package (pip install gguf)")
    b = get_backend("transformers", n_threads=1)
    try:
        out = b.generate(PROMPTS, n=2, max_tokens=12, seed=3)
        assert [len(c) for c in out] == [2, 2]
        assert all(isinstance(t, str) and t.strip() for comps in out for t in comps)
        assert b.generate(PROMPTS, n=2, max_tokens=12, seed=3) == out
        stopped = b.generate(["List three animals, one per line."], n=2, max_tokens=16, seed=3, stop=["\n"])
        assert all("\n" not in t for t in stopped[0])
    finally:
        b.close()
