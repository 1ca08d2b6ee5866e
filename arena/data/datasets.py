"""Built-in datasets by name: list, describe, and load (fetching on first use)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from arena.data.fetch import dataset_dir, fetch_dataset, get_spec, is_cached
from arena.data.specs import DATASETS


def list_datasets() -> list[str]:
    """Names of the built-in datasets, in registry order."""
    return list(DATASETS)


def describe(name: str, *, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """A plain-dict summary of dataset ``name`` for the CLI (``arena data list``).

    Keys: ``name``, ``task``, ``description``, ``splits`` (rows per split, e.g.
    ``{"train": 11916, "val": 1324, "test": 860}``), ``total`` (rows),
    ``upstream`` (URL of the pinned folder, or None when only a mirror can provide it),
    ``license``, ``files`` (list of ``{"name", "sha256", "url"}``; url None without upstream),
    ``cache_path`` (str) and ``cached`` (all files present with the right digest).
    """
    spec = get_spec(name)
    return {
        "name": spec.name,
        "task": spec.task,
        "description": spec.description,
        "splits": dict(spec.sizes),
        "total": sum(spec.sizes.values()),
        "upstream": spec.upstream.url if spec.upstream else None,
        "license": spec.license,
        "files": [
            {
                "name": f.name,
                "sha256": f.sha256,
                "url": spec.upstream.file_url(f.name) if spec.upstream else None,
            }
            for f in spec.files
        ],
        "cache_path": str(dataset_dir(name, cache_dir)),
        "cached": is_cached(name, cache_dir=cache_dir),
    }


def load_dataset(
    name: str,
    *,
    cache_dir: str | Path | None = None,
    mirror: str | Path | None = None,
    progress: bool = True,
) -> pa.Table:
    """Load built-in dataset ``name`` (all splits) as a :data:`~arena.data.table.TEXT_SCHEMA` table.

    Fetches the files first if the cache lacks them (see :func:`~arena.data.fetch.fetch_dataset`).
    """
    folder = fetch_dataset(name, cache_dir=cache_dir, mirror=mirror, progress=progress)
    return get_spec(name).reader(folder)
