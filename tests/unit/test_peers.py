"""arena.peers: the real alt-profanity-check and better-profanity behind the defender's score() interface."""

from __future__ import annotations

import subprocess
import sys

import pytest

from arena.errors import ModelError
from arena.peers import PEERS, AltProfanityCheck, BetterProfanity, is_peer_ref, load_peer

PROFANE = ["fuck you, you piece of shit", "what a bitch"]
CLEAN = ["have a lovely day", "the meeting moved to thursday", "thanks for the help with my homework"]


@pytest.fixture(scope="module", params=sorted(PEERS))
def peer(request):
    return load_peer(request.param)


def test_registry_and_refs():
    assert set(PEERS) == {"alt-profanity-check", "better-profanity"}
    assert isinstance(load_peer("peer:alt-profanity-check"), AltProfanityCheck)
    assert isinstance(load_peer("better_profanity"), BetterProfanity)  # pip's underscore spelling
    assert is_peer_ref("peer:better-profanity") and not is_peer_ref("champion")


def test_scores_are_probabilities_in_order(peer):
    scores = peer.score(PROFANE + CLEAN)
    assert len(scores) == len(PROFANE) + len(CLEAN)
    assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in scores)
    assert all(s >= peer.threshold for s in scores[: len(PROFANE)]), scores
    assert all(s < peer.threshold for s in scores[len(PROFANE) :]), scores
    assert peer.predict(PROFANE + CLEAN) == [1] * len(PROFANE) + [0] * len(CLEAN)
    assert peer.threshold == 0.5
    assert peer.version and peer.name in repr(peer)


def test_batching_does_not_change_scores(peer):
    texts = PROFANE + CLEAN
    assert peer.score(texts, batch_size=2) == peer.score(texts)


def test_empty_and_non_string_input(peer):
    assert peer.score([]) == []
    assert len(peer.score([12345, ""])) == 2


def test_better_profanity_is_binary_and_catches_variants():
    bp = load_peer("better-profanity")
    assert bp.score(["sh1t happens", "f*ck", "hello there"]) == [1.0, 1.0, 0.0]


def test_alt_profanity_check_is_graded():
    scores = load_peer("alt-profanity-check").score(CLEAN)
    assert len(set(scores)) == len(CLEAN)  # real probabilities, not 0/1
    assert all(0.0 < s < 0.5 for s in scores)


def test_unknown_peer_lists_known_ones():
    with pytest.raises(ModelError, match="unknown peer 'perspective'.*peer:alt-profanity-check.*peer:better-profanity"):
        load_peer("perspective")


@pytest.mark.parametrize("name,module", [("alt-profanity-check", "profanity_check"),
                                         ("better-profanity", "better_profanity")])
def test_missing_package_names_the_extra(monkeypatch, name, module):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(ModelError, match=r"pip install -e \.\[peers\]") as info:
        load_peer(name)
    assert name in str(info.value)


def test_peers_are_imported_lazily():
    code = ("import sys, arena, arena.cli, arena.evaluate, arena.peers; "
            "print(','.join(m for m in ('profanity_check', 'better_profanity', 'sklearn', 'torch', 'ray') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
