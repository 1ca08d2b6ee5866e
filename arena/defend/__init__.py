"""The defender: transformer classifier, LoRA/QLoRA/full training, canonicaliser.

Heavy modules (torch, transformers, peft) load only when a name below is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from arena.defend.canonical import Canonicalizer

__all__ = ["Canonicalizer", "Defender", "DefenderSpec", "TrainResult", "train_defender", "default_base_model"]

_LAZY = {
    "Defender": "arena.defend.classifier",
    "DefenderSpec": "arena.defend.classifier",
    "default_base_model": "arena.defend.classifier",
    "TrainResult": "arena.defend.train",
    "train_defender": "arena.defend.train",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'arena.defend' has no attribute {name!r}")
