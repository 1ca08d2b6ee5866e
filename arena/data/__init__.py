"""Datasets as one table type: fetch (checksummed, cached, mirror-able), load, split.

Every loader returns a ``pyarrow.Table`` with :data:`TEXT_SCHEMA` (id, text, label, split);
label 1 = toxic / offensive / hateful. See ``docs/data.md``.

    from arena.data import load_dataset, split_of
    table = load_dataset("tweeteval_offensive")      # fetched once into ~/.cache/content-arena
    test = split_of(table, "test")
"""

from arena.data.datasets import describe, list_datasets, load_dataset
from arena.data.fetch import CACHE_ENV, MIRROR_ENV, default_cache_dir, fetch_dataset
from arena.data.formats import load_jigsaw, load_olid, load_tweeteval
from arena.data.generic import load_table
from arena.data.specs import DATASETS, DatasetSpec, FileSpec
from arena.data.table import SPLITS, TEXT_SCHEMA, split_of, split_sizes, table_info

__all__ = [
    "CACHE_ENV",
    "DATASETS",
    "MIRROR_ENV",
    "SPLITS",
    "TEXT_SCHEMA",
    "DatasetSpec",
    "FileSpec",
    "default_cache_dir",
    "describe",
    "fetch_dataset",
    "list_datasets",
    "load_dataset",
    "load_jigsaw",
    "load_olid",
    "load_table",
    "load_tweeteval",
    "split_of",
    "split_sizes",
    "table_info",
]
