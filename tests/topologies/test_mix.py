"""Mixtures by proportion: exact counts (largest remainder) and a seeded shuffle."""

from collections import Counter

import numpy as np
import pytest

from coinfer.topologies.mix import assign, split_counts


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (10, {"phone": 3, "jetson": 1}, {"phone": 8, "jetson": 2}),  # 7.5 / 2.5: tie to first
        (7, {"a": 1, "b": 1}, {"a": 4, "b": 3}),
        (84, {"phone": 0.75, "jetson": 0.25}, {"phone": 63, "jetson": 21}),
        (7, {"l4": 5, "a100": 2}, {"l4": 5, "a100": 2}),
        (0, {"a": 1}, {"a": 0}),
        (5, {"a": 0.2, "b": 0.3, "c": 0.5}, {"a": 1, "b": 2, "c": 2}),  # ties: first listed
    ],
)
def test_counts_are_proportional_and_add_up(total, weights, expected):
    assert split_counts(total, weights) == expected


def test_every_class_is_within_one_of_its_exact_share():
    rng = np.random.default_rng(0)
    for _ in range(200):
        weights = {f"c{i}": float(w) for i, w in enumerate(rng.random(rng.integers(1, 6)) + 0.01)}
        total = int(rng.integers(0, 500))
        counts = split_counts(total, weights)
        assert sum(counts.values()) == total
        norm = sum(weights.values())
        for name, w in weights.items():
            assert abs(counts[name] - total * w / norm) < 1.0


def test_assignment_has_exact_counts_in_a_seeded_random_order():
    first = assign(np.random.default_rng(5), 40, {"a": 3, "b": 1})
    again = assign(np.random.default_rng(5), 40, {"a": 3, "b": 1})
    other = assign(np.random.default_rng(6), 40, {"a": 3, "b": 1})
    assert Counter(first) == {"a": 30, "b": 10}
    assert first == again and first != other


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match="positive"):
        split_counts(3, {"a": 0.0})
