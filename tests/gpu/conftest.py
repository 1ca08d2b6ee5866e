"""GPU tests (marker ``gpu``). A missing CUDA device, library or model skips a test, except under
``make gpu-check`` (env ``ARENA_REQUIRE_GPU=1``), where it fails it: there every GPU test must run."""

from __future__ import annotations

import importlib.util
import os

import pytest


@pytest.fixture(scope="session")
def unavailable():
    """``unavailable(reason)``: skip the test, or fail it when ARENA_REQUIRE_GPU=1."""

    def _unavailable(reason: str) -> None:
        if os.environ.get("ARENA_REQUIRE_GPU") == "1":
            pytest.fail(f"{reason} (ARENA_REQUIRE_GPU=1: make gpu-check runs every GPU test)", pytrace=False)
        pytest.skip(reason)

    return _unavailable


@pytest.fixture(scope="session")
def cuda(unavailable):
    """torch with a usable CUDA device (else ``unavailable``)."""
    if importlib.util.find_spec("torch") is None:
        unavailable("torch is not installed")
    import torch

    if not torch.cuda.is_available():
        unavailable(f"no CUDA device visible to torch {torch.__version__} (CUDA {torch.version.cuda})")
    return torch
