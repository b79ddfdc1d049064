"""Sums of floats that do not depend on the order or grouping of their terms.

A run's summary is accumulated chunk by chunk while its trace is written, and the summaries of
the shards of a run are merged afterwards; a mean must come out the same however the rows were
cut into chunks or shards. Floating-point addition is not associative, so :class:`ExactSum`
keeps the exact sum of everything added as a short list of floats whose exact total is the
exact total of the terms (a non-overlapping expansion, as ``math.fsum`` builds internally),
and :attr:`ExactSum.value` is that total rounded once: the correctly rounded sum. It equals
``math.fsum`` of all the terms at once, bit for bit, whatever the chunks, their order and how
accumulators were merged (:meth:`ExactSum.merge`).

Cost: one vectorised pass over each chunk (:func:`_scaled_sum`: every float is an integer
times a power of two, summed exactly per power of two with numpy, about 10 ns per term) and
Python integer arithmetic per distinct binary exponent; a handful of floats of memory. The
terms are the ones ``math.fsum`` passes over the chunk would give (:func:`_expansion`, kept
for merging), bit for bit.

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


#: values per ``numpy.bincount``: their high parts (below 2**27 in magnitude) and low parts
#: (below 2**26) then sum to less than 2**53, exactly, in float64
_BLOCK = 1 << 20
_LOW_BITS = 26


def _scaled_sum(values: np.ndarray) -> tuple[int, int]:
    """``(n, s)``, integers with ``n·2**s`` the exact sum of the finite floats ``values``.

    ``numpy.frexp`` writes each value as ``m·2**e`` with ``m·2**53`` an integer (subnormals
    and zero included); per exponent ``e`` the integers are summed exactly (split in a high
    and a low part, each summed by ``numpy.bincount`` in float64 without rounding, see
    :data:`_BLOCK`), and the per-exponent sums are joined in Python integers.
    """
    mantissas, exponents = np.frexp(values)
    ints = (mantissas * 9007199254740992.0).astype(np.int64)  # m·2**53, exact
    lowest = int(exponents.min())
    offsets = exponents - lowest
    high = (ints >> _LOW_BITS).astype(float)  # floor: ints = high·2**26 + low, 0 <= low
    low = (ints & ((1 << _LOW_BITS) - 1)).astype(float)
    width = int(offsets.max()) + 1
    high_sums = np.zeros(width, dtype=object)  # Python integers
    low_sums = np.zeros(width, dtype=object)
    for start in range(0, len(values), _BLOCK):
        block = slice(start, start + _BLOCK)
        counted = np.bincount(offsets[block], weights=high[block], minlength=width)
        high_sums += counted.astype(np.int64).astype(object)
        counted = np.bincount(offsets[block], weights=low[block], minlength=width)
        low_sums += counted.astype(np.int64).astype(object)
    total = 0
    for offset in np.flatnonzero((high_sums != 0) | (low_sums != 0)).tolist():
        total += ((int(high_sums[offset]) << _LOW_BITS) + int(low_sums[offset])) << offset
    return total, lowest - 53


def _terms_of(n: int, s: int) -> list[float]:
    """The terms :func:`_expansion` gives for terms of exact sum ``n·2**s``: each the correctly
    rounded value of what the terms before it leave (Python's int-to-float conversion and int
    true division round correctly, to nearest even, as ``math.fsum`` does)."""
    terms: list[float] = []
    while n:
        term = float(n << s) if s >= 0 else n / (1 << -s)
        terms.append(term)
        numerator, denominator = term.as_integer_ratio()  # a power-of-two denominator
        # term is a multiple of 2**s (a rounding of a multiple of 2**s to a coarser grid, or
        # exact): term·2**-s is an integer
        if s >= 0:
            n -= numerator >> s
        else:
            n -= (numerator << -s) // denominator
    return terms


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
        if self._terms:
            values = np.concatenate((np.array(self._terms), values))
        self._terms = _terms_of(*_scaled_sum(values))

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
