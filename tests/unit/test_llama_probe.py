"""llama.cpp probe fallbacks (arena/llm/llama_cpp_backend.py): a native crash moves on to one-token
micro-batches; another failure, or a crash under every setting, is reported."""

from __future__ import annotations

import pytest


@pytest.fixture()
def backend_module(monkeypatch):
    from arena.llm import llama_cpp_backend as m

    m._probe_settings.cache_clear()
    monkeypatch.delenv("ARENA_LLAMA_PROBE", raising=False)
    yield m
    m._probe_settings.cache_clear()


def _fake(monkeypatch, m, outcomes: dict[str, str | None]):
    tried = []

    def fake_try(path, settings, timeout):
        key = ",".join(f"{k}={v}" for k, v in settings.items()) or "default"
        tried.append(key)
        return outcomes[key]

    monkeypatch.setattr(m, "_try", fake_try)
    return tried


def test_crash_falls_back_to_one_token_micro_batches(backend_module, monkeypatch):
    m = backend_module
    tried = _fake(monkeypatch, m, {"default": "llama.cpp crashed (SIGSEGV) ...", "n_ubatch=1": None})
    assert m.probe_settings("x.gguf") == ({"n_ubatch": 1}, None)
    assert m.probe("x.gguf") is None and tried == ["default", "n_ubatch=1"]  # cached: probed once


def test_a_working_build_keeps_the_defaults(backend_module, monkeypatch):
    m = backend_module
    tried = _fake(monkeypatch, m, {"default": None})
    assert m.probe_settings("y.gguf") == ({}, None) and tried == ["default"]


def test_other_failures_and_crashes_everywhere_are_reported(backend_module, monkeypatch):
    m = backend_module
    tried = _fake(monkeypatch, m, {"default": "llama.cpp failed (exit 1) on z.gguf: bad magic"})
    assert m.probe_settings("z.gguf") == (None, "llama.cpp failed (exit 1) on z.gguf: bad magic")
    assert tried == ["default"]  # not a crash: no point in smaller batches
    crash = "llama.cpp crashed (SIGSEGV) generating"
    _fake(monkeypatch, m, {"default": crash, "n_ubatch=1": crash})
    settings, why = m.probe_settings("w.gguf")
    assert settings is None and why.startswith("llama.cpp crashed")
    monkeypatch.setenv("ARENA_LLAMA_PROBE", "0")
    assert m.probe_settings("v.gguf") == ({}, None)
