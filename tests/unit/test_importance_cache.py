"""The campaign's word-importance cache (docs/profile.md): one delete-one pass per (version, text)."""

from __future__ import annotations

from types import SimpleNamespace

from arena.arena import Attacker
from arena.config import load_config


def test_importance_cache_is_per_defender_version():
    camp = Attacker(load_config(None), ["leet"])
    v1, v2 = SimpleNamespace(version="1"), SimpleNamespace(version="2")
    a = camp.importance_for(v1)
    a["text"] = "imp"
    assert camp.importance_for(SimpleNamespace(version="1")) is a  # same version: shared
    b = camp.importance_for(v2)
    assert b == {} and b is not a  # a new champion: fresh cache, the old one dropped
    assert camp.importance_for(v1) == {}
    unversioned = SimpleNamespace()  # e.g. a test scorer: no sharing across calls
    assert camp.importance_for(unversioned) is not camp.importance_for(unversioned)
