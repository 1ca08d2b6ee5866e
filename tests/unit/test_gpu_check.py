"""bench/gpu_check.py (`make gpu-check`) on a CPU machine: whatever stage fails, it writes its JSON and
the one-line summary and exits non-zero. The GPU itself is faked; nothing here needs CUDA or vLLM."""

from __future__ import annotations

import json
import shutil
import sys
from types import SimpleNamespace

import pytest

from arena.errors import ModelError


@pytest.fixture
def gpu_check(load_bench):
    return load_bench("gpu_check")


def test_without_a_gpu_it_still_writes_the_json(gpu_check, tmp_path, capsys, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "gpu_check.json"
    assert gpu_check.main(["--out", str(out), "--run", str(tmp_path / "run")]) == 2
    result = json.loads(out.read_text())
    assert result["ok"] is False and "needs a CUDA GPU" in result["errors"]["gpu"]
    assert "gpu-check on no GPU" in capsys.readouterr().out


def test_failed_stages_are_recorded_and_a_campaign_timeout_is_caught(gpu_check, tmp_path, capsys, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda i: SimpleNamespace(name="Fake H100", total_memory=80 * 2**30))
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: "/fake/nvidia-smi" if name == "nvidia-smi"
                        else real_which(name, *a, **k))
    monkeypatch.setenv("ARENA_VLLM_MODEL", "/models/x.gguf")
    monkeypatch.setenv("ARENA_VLLM_TOKENIZER", "/models/x-hf")

    def vllm_fails(model, kwargs):
        assert kwargs == {"gpu_memory_utilization": 0.2, "max_model_len": 1024, "enforce_eager": True,
                          "tokenizer": "/models/x-hf"}  # configs/gpu.yaml's engine kwargs + the tokenizer
        raise ModelError("vLLM could not load '/models/x.gguf': no plugin")

    commands = []
    real_run = gpu_check.run_campaign

    def campaign_hangs(cmd, env, timeout, log):
        commands.append(cmd)
        hang = [sys.executable, "-c", "import time; print('campaign started', flush=True); time.sleep(120)"]
        return real_run(hang, env, 1.0, log)  # the real timeout path: its process group is stopped

    monkeypatch.setattr(gpu_check, "vllm_throughput", vllm_fails)
    monkeypatch.setattr(gpu_check, "run_campaign", campaign_hangs)
    out = tmp_path / "gpu_check.json"
    assert gpu_check.main(["--out", str(out), "--run", str(tmp_path / "run"), "--timeout", "5"]) == 1

    result = json.loads(out.read_text())
    assert result["ok"] is False and result["gpu"]["name"] == "Fake H100"
    assert result["errors"]["vllm"].startswith("ModelError: vLLM could not load")
    assert result["errors"]["campaign"].startswith("timed out after 125 s")
    assert result["campaign"]["timed_out"] and "campaign started" in result["campaign"]["log_tail"]
    assert result["vllm"] is None and result["campaign"]["rounds"] == []
    cmd = " ".join(commands[0])
    assert "--set attack.llm.model=/models/x.gguf" in cmd and "--set attack.llm.engine_kwargs.tokenizer=/models/x-hf" in cmd
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("gpu-check on Fake H100") and "FAILED: vllm: ModelError" in line and "campaign: timed out" in line
