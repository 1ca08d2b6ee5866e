"""Padding-aware scoring batches (arena.defend.classifier.length_batches)."""

from __future__ import annotations

import random

import pytest

from arena.defend.classifier import length_batches


def _waste(lengths, batch):
    longest = max(lengths[i] for i in batch)
    return 1 - sum(lengths[i] for i in batch) / (longest * len(batch))


@pytest.mark.parametrize("seed", range(5))
def test_every_index_once_in_size_and_waste_limits(seed):
    rng = random.Random(seed)
    lengths = [rng.randint(3, 64) for _ in range(rng.randint(1, 300))]
    batches = length_batches(lengths, 32, 0.2)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(1 <= len(b) <= 32 for b in batches)
    assert all(_waste(lengths, b) <= 0.2 + 1e-9 for b in batches)
    longest = [max(lengths[i] for i in b) for b in batches]
    assert longest == sorted(longest, reverse=True)  # longest first, each batch one length band


def test_without_a_waste_limit_only_the_size_splits():
    lengths = [64, 3] * 40
    batches = length_batches(lengths, 32)
    assert [len(b) for b in batches] == [32, 32, 16]
    assert len(length_batches(lengths, 32, 0.2)) > 3  # the limit separates short from long texts


def test_edge_cases():
    assert length_batches([], 8, 0.2) == []
    assert length_batches([0, 0, 5], 8, 0.2) == [[2], [0, 1]]
    with pytest.raises(ValueError, match="max_batch"):
        length_batches([1, 2], 0)
