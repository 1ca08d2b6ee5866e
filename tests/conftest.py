"""Test session setup: offline hub, the data mirror, a private cache, and no stray Ray/MLflow telemetry."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("ARENA_DATA_MIRROR") or REPO.parent / "shared" / "data")

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
if MIRROR.is_dir():
    os.environ.setdefault("ARENA_DATA_MIRROR", str(MIRROR))


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Datasets fetched during the session land in a fresh cache, never the user's."""
    old = os.environ.get("ARENA_CACHE_DIR")
    os.environ["ARENA_CACHE_DIR"] = str(tmp_path_factory.mktemp("arena-cache"))
    yield
    if old is None:
        os.environ.pop("ARENA_CACHE_DIR", None)
    else:
        os.environ["ARENA_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def mirror() -> Path:
    if not MIRROR.is_dir():
        pytest.skip(f"data mirror not found at {MIRROR} (set ARENA_DATA_MIRROR)")
    return MIRROR


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def load_bench():
    """Load a script of bench/ (``bench/<name>.py``, not a package) as a fresh module, for its unit tests."""

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(f"{name}_under_test", REPO / "bench" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
