"""Shared machinery of piecewise-constant, looping traces on a time grid.

A grid is ``n + 1`` edges in seconds, ``0 = e_0 < e_1 < ... < e_n = D``: interval ``i`` is
``[e_i, e_{i+1})`` and the trace repeats with period ``D``, so that time ``t`` (any real number)
falls in period ``k = floor(t / D)`` at offset ``r = t - k·D`` in ``[0, D)``.
"""

from __future__ import annotations

import bisect
import math
from array import array

import numpy as np
from numpy.typing import ArrayLike

from coinfer.emulator.errors import InputError


def frozen_array(values: ArrayLike, dtype: type = np.float64) -> np.ndarray:
    """A read-only 1-D copy of ``values``."""
    array: np.ndarray = np.array(values, dtype=dtype, copy=True).reshape(-1)
    array.setflags(write=False)
    return array


def check_edges(edges_s: ArrayLike, what: str) -> np.ndarray:
    """Validated, read-only grid edges: at least two, finite, ``e_0 = 0``, strictly increasing."""
    edges = frozen_array(edges_s)
    if edges.size < 2:
        raise InputError(f"{what}: got {edges.size} grid edges, expected at least 2")
    if not np.all(np.isfinite(edges)):
        raise InputError(f"{what}: got a non-finite grid edge, expected finite seconds")
    if edges[0] != 0.0:
        raise InputError(f"{what}: got first grid edge {float(edges[0])!r} s, expected 0")
    steps = np.diff(edges)
    if np.any(steps <= 0.0):
        bad = int(np.argmax(steps <= 0.0))
        raise InputError(
            f"{what}: grid edge {bad + 1} is {float(edges[bad + 1])!r} s after "
            f"{float(edges[bad])!r} s, "
            "expected strictly increasing times"
        )
    return edges


def edges_from_starts(times_s: ArrayLike, duration_s: float, what: str) -> np.ndarray:
    """Grid edges from interval start times (the first must be 0) and the total duration."""
    starts = np.asarray(times_s, dtype=float).reshape(-1)
    if starts.size and not duration_s > starts[-1]:
        raise InputError(
            f"{what}: got duration {duration_s!r} s, expected more than the last start time "
            f"{float(starts[-1])!r} s"
        )
    return check_edges(np.append(starts, duration_s), what)


def as_sequence(values: np.ndarray) -> array:
    """A compact sequence of Python floats (fast scalar indexing and :mod:`bisect`)."""
    sequence = array("d")
    sequence.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return sequence


def locate(edges: array, period: float, t: float) -> tuple[int, float, int]:
    """``(k, r, i)``: ``t = k·period + r`` with ``0 <= r < period``, ``r`` in interval ``i``.

    ``edges`` are the grid edges as from :func:`as_sequence`; rounding at the seam is settled
    towards the next period.
    """
    k = math.floor(t / period)
    r = t - k * period
    if r >= period:
        k, r = k + 1, 0.0
    elif r < 0.0:
        r = 0.0
    i = bisect.bisect_right(edges, r) - 1
    last = len(edges) - 2
    return k, r, (0 if i < 0 else last if i > last else i)


def intervals_at(edges: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Vectorised :func:`interval_at`."""
    index = np.searchsorted(edges, r, side="right") - 1
    return np.clip(index, 0, edges.size - 2)


def wrap_array(t: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`wrap`."""
    k = np.floor(t / period)
    r = t - k * period
    seam = r >= period
    k = np.where(seam, k + 1.0, k)
    r = np.clip(np.where(seam, 0.0, r), 0.0, None)
    return k, r


def weighted_quantiles(values: ArrayLike, weights: ArrayLike, qs: ArrayLike) -> np.ndarray:
    """Time-weighted quantiles of a piecewise-constant signal.

    For each ``q``, the smallest value ``v`` such that the signal is ``<= v`` for at least the
    fraction ``q`` of the (weighted) time. Exact for a step signal; no interpolation.
    """
    values = np.asarray(values, dtype=float)
    weights = np.asarray(weights, dtype=float)
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    total = cumulative[-1]
    targets = np.asarray(qs, dtype=float) * total
    index = np.searchsorted(cumulative, targets * (1.0 - 1e-12), side="left")
    return values[order][np.clip(index, 0, values.size - 1)]


class PeriodicGrid:
    """Shape of a trace on a looping grid of edges (a mixin: the class provides ``edges_s``)."""

    __slots__ = ()
    edges_s: np.ndarray

    @property
    def duration_s(self) -> float:
        """The period in seconds: the trace repeats after it."""
        return float(self.edges_s[-1])

    @property
    def num_intervals(self) -> int:
        """Number of constant intervals in one period."""
        return int(self.edges_s.size - 1)

    @property
    def times_s(self) -> np.ndarray:
        """Start time of each interval, in s."""
        return self.edges_s[:-1]

    @property
    def widths_s(self) -> np.ndarray:
        """Length of each interval, in s."""
        return np.diff(self.edges_s)
