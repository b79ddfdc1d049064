"""Sums of floats that do not depend on the order or grouping of their terms.

A run's summary is accumulated chunk by chunk while its trace is written, and the summaries of
the shards of a run are merged afterwards; a mean must come out the same however the rows were
cut into chunks or shards. Floating-point addition is not associative, so :class:`ExactSum`
keeps the exact sum of everything added as a short list of floats whose exact total is the
exact total of the terms (a non-overlapping expansion, as ``math.fsum`` builds internally),
and :attr:`ExactSum.value` is that total rounded once: the correctly rounded sum. It equals
``math.fsum`` of all the terms at once, bit for bit, whatever the chunks, their order and how
accumulators were merged (:meth:`ExactSum.merge`).

Cost: a few passes of ``math.fsum`` over each chunk (about 30 ns per term and pass; two or
three passes for real data), and a handful of floats of memory.

Infinities and NaNs are summed apart, in ordinary arithmetic (any NaN, or infinities of both
signs, give NaN; otherwise the infinity): their result does not depend on the order either.
"""

from __future__ import annotations

import math
from itertools import chain

import numpy as np


def _expansion(finite: list[float]) -> list[float]:
    """Floats whose exact sum is the exact sum of ``finite``, largest first.

    Each term is ``math.fsum`` (correctly rounded) of what the terms before it leave of the
    exact sum; the remainder shrinks to at most half an ulp of the last term each time, and the
    exact sum is a multiple of the smallest subnormal, so this ends (two or three terms for
    data of similar magnitudes, at most about 40 in the worst case).
    """
    terms: list[float] = []
    while True:
        rest = math.fsum(chain(finite, [-t for t in terms]))
        if rest == 0.0:
            return terms
        terms.append(rest)


class ExactSum:
    """The exact sum of every value added, and how many there were."""

    __slots__ = ("_special", "_terms", "count")

    def __init__(self) -> None:
        self._terms: list[float] = []  # their exact sum is the exact sum of the finite values
        self._special = 0.0  # the infinities and NaNs, summed in ordinary arithmetic
        self.count = 0  #: values added

    def add(self, values: np.ndarray) -> None:
        """Add every value of ``values`` (any float array)."""
        values = np.asarray(values, dtype=float).ravel()
        if not len(values):
            return
        self.count += len(values)
        finite = np.isfinite(values)
        if not finite.all():
            self._special += float(values[~finite].sum())
            values = values[finite]
        self._terms = _expansion(self._terms + values.tolist())

    def merge(self, other: ExactSum) -> None:
        """Add everything ``other`` holds (``other`` is left as it was)."""
        self.count += other.count
        self._special += other._special
        self._terms = _expansion(self._terms + other._terms)

    @property
    def value(self) -> float:
        """The correctly rounded sum (0.0 for none; inf or NaN if such values were added)."""
        return math.fsum(self._terms) + self._special

    def mean(self) -> float:
        """``value / count`` (NaN for none)."""
        return self.value / self.count if self.count else float("nan")

    def __getstate__(self) -> tuple[list[float], float, int]:
        return self._terms, self._special, self.count

    def __setstate__(self, state: tuple[list[float], float, int]) -> None:
        self._terms, self._special, self.count = state
