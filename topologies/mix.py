"""Mixtures of classes by proportion: exact counts and a random assignment to slots."""

from __future__ import annotations

import math

import numpy as np


def split_counts(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Counts adding up to ``total``, proportional to ``weights`` (largest remainder).

    Each class gets ``floor(total·w/Σw)``; the items left over go to the largest remainders,
    ties to the class listed first. ``{"phone": 3, "jetson": 1}`` over 10 gives 8 and 2.
    """
    if total < 0:
        raise ValueError(f"total: got {total}, expected >= 0")
    if not weights or any(not w > 0 for w in weights.values()):
        raise ValueError(f"weights: got {weights!r}, expected positive proportions")
    norm = math.fsum(weights.values())
    exact = {name: total * w / norm for name, w in weights.items()}
    counts = {name: math.floor(x) for name, x in exact.items()}
    left = total - sum(counts.values())
    order = sorted(
        weights, key=lambda name: (-(exact[name] - counts[name]), list(weights).index(name))
    )
    for name in order[:left]:
        counts[name] += 1
    return counts


def assign(rng: np.random.Generator, total: int, weights: dict[str, float]) -> list[str]:
    """A class for each of ``total`` slots: exactly :func:`split_counts` of each, shuffled."""
    labels = [name for name, count in split_counts(total, weights).items() for _ in range(count)]
    order = rng.permutation(len(labels))
    return [labels[i] for i in order]
