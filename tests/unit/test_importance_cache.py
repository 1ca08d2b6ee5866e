"""The campaign's word-importance cache (docs/profile.md): one delete-one pass per (version, text)."""

from __future__ import annotations

from types import SimpleNamespace

from arena.arena import Campaign


def test_importance_cache_is_per_defender_version():
    camp = SimpleNamespace()
    v1, v2 = SimpleNamespace(version="1"), SimpleNamespace(version="2")
    a = Campaign._importance_for(camp, v1)
    a["text"] = "imp"
    assert Campaign._importance_for(camp, SimpleNamespace(version="1")) is a  # same version: shared
    b = Campaign._importance_for(camp, v2)
    assert b == {} and b is not a  # a new champion: fresh cache, the old one dropped
    assert Campaign._importance_for(camp, v1) == {}
    unversioned = SimpleNamespace()  # e.g. a test scorer: no sharing across calls
    assert Campaign._importance_for(camp, unversioned) is not Campaign._importance_for(camp, unversioned)
