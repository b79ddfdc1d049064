"""Link capacity over time: piecewise constant, looping, integrated exactly.

A :class:`LinkCapacityTrace` holds a grid of ``n`` intervals (edges in seconds, the first at 0,
the last at the period ``D``) and the bits each interval can carry. The capacity in interval
``i`` is ``bits_i / (e_{i+1} - e_i)`` bit/s. The trace repeats with period ``D``.

The cumulative capacity ``F(t)`` (bits deliverable in ``[0, t]``) is::

    F(t) = k·B + C_i + (r - e_i) · bits_i / (e_{i+1} - e_i),    t = k·D + r,  r in [0, D)

with ``B`` the bits of one period and ``C_i`` the bits before interval ``i``. ``F`` is
continuous and nondecreasing everywhere, including at the seam ``t = k·D`` (where
``F = k·B`` from both sides), so ``bits_between(t0, t1) = F(t1) - F(t0)`` is additive across
loops, and ``time_to_send(t0, b)`` (the earliest ``t`` with ``F(t) - F(t0) >= b``) is its exact
inverse wherever the capacity is positive. Interval bits are kept as given (e.g. whole packets of
12,000 bits), so integrating whole intervals is exact.
"""

from __future__ import annotations

import bisect
import math
from array import array
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike

from coinfer.emulator.errors import InputError
from coinfer.traces.piecewise import (
    PeriodicGrid,
    as_sequence,
    check_edges,
    edges_from_starts,
    frozen_array,
    intervals_at,
    locate,
    wrap_array,
)
from coinfer.traces.provenance import Provenance

_ANONYMOUS = Provenance(source="(in memory)")
_ROUNDING = 64 * 2.0**-52  # relative rounding noise tolerated by time_to_send (about 1.4e-14)


@dataclass(frozen=True, eq=False)
class LinkCapacityTrace(PeriodicGrid):
    """Capacity in bit/s, piecewise constant on a time grid in seconds, looping at its end.

    ``edges_s``: ``n + 1`` grid edges in s (``0`` first, the period ``duration_s`` last);
    ``interval_bits``: bits each of the ``n`` intervals can carry (>= 0). Build one from rates
    with :meth:`from_rates`.
    """

    edges_s: np.ndarray
    interval_bits: np.ndarray
    provenance: Provenance = _ANONYMOUS
    _cumulative: np.ndarray = field(init=False, repr=False)
    _widths: np.ndarray = field(init=False, repr=False)
    _scalar: tuple[array, array, array, array] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        what = f"capacity trace {self.provenance.source}"
        edges = check_edges(self.edges_s, what)
        bits = frozen_array(self.interval_bits)
        if bits.size != edges.size - 1:
            raise InputError(
                f"{what}: got {bits.size} interval bit counts for {edges.size - 1} intervals, "
                "expected one per interval"
            )
        if not np.all(np.isfinite(bits)) or np.any(bits < 0.0):
            bad = int(np.argmax(~np.isfinite(bits) | (bits < 0.0)))
            raise InputError(
                f"{what}: interval {bad} carries {float(bits[bad])!r} bits, expected a finite "
                "number >= 0"
            )
        cumulative = frozen_array(np.concatenate(([0.0], np.cumsum(bits))))
        object.__setattr__(self, "edges_s", edges)
        object.__setattr__(self, "interval_bits", bits)
        object.__setattr__(self, "_cumulative", cumulative)
        widths = frozen_array(np.diff(edges))
        object.__setattr__(self, "_widths", widths)
        # Plain float sequences for the scalar lookups (several times faster than numpy).
        scalar = tuple(as_sequence(a) for a in (edges, bits, cumulative, widths))
        object.__setattr__(self, "_scalar", scalar)

    @classmethod
    def from_rates(
        cls,
        times_s: ArrayLike,
        rates_bps: ArrayLike,
        duration_s: float,
        provenance: Provenance = _ANONYMOUS,
    ) -> LinkCapacityTrace:
        """A trace from interval start times (s, the first 0), rates (bit/s) and the period (s)."""
        what = f"capacity trace {provenance.source}"
        edges = edges_from_starts(times_s, duration_s, what)
        rates = np.asarray(rates_bps, dtype=float).reshape(-1)
        if rates.size != edges.size - 1:
            raise InputError(
                f"{what}: got {rates.size} rates for {edges.size - 1} intervals, expected one "
                "per interval"
            )
        return cls(edges, rates * np.diff(edges), provenance)

    @classmethod
    def constant(
        cls, rate_bps: float, duration_s: float = 1.0, provenance: Provenance = _ANONYMOUS
    ) -> LinkCapacityTrace:
        """A constant capacity of ``rate_bps`` bit/s (one interval of ``duration_s`` s)."""
        return cls.from_rates([0.0], [rate_bps], duration_s, provenance)

    # ---- shape ------------------------------------------------------------------------------

    @property
    def widths_s(self) -> np.ndarray:
        """Length of each interval, in s."""
        return self._widths

    @property
    def rates_bps(self) -> np.ndarray:
        """Capacity of each interval, in bit/s."""
        return self.interval_bits / self._widths

    @property
    def period_bits(self) -> float:
        """Bits one period can carry."""
        return float(self._cumulative[-1])

    @property
    def mean_bps(self) -> float:
        """Time-average capacity over one period, in bit/s."""
        return self.period_bits / self.duration_s

    # ---- lookups (scalars, for the engine's hot path) -----------------------------------------

    def capacity_at(self, t: float) -> float:
        """Capacity at time ``t`` (s, any real; the trace loops), in bit/s."""
        edges, bits, _, widths = self._scalar
        _, _, i = locate(edges, edges[-1], t)
        return bits[i] / widths[i]

    def interval_end_s(self, t: float) -> float:
        """End of the constant-capacity interval that holds ``t`` (s): the next rate change."""
        edges = self._scalar[0]
        period = edges[-1]
        k, _, i = locate(edges, period, t)
        return k * period + edges[i + 1]

    def cumulative_bits(self, t: float) -> float:
        """``F(t)``: bits deliverable in ``[0, t]`` (negative for ``t < 0``); continuous."""
        edges, bits, cumulative, widths = self._scalar
        k, r, i = locate(edges, edges[-1], t)
        within = r - edges[i]
        width = widths[i]
        fraction = 0.0 if within <= 0.0 else 1.0 if within >= width else within / width
        return k * cumulative[-1] + cumulative[i] + bits[i] * fraction

    def bits_between(self, t0: float, t1: float) -> float:
        """Bits the link can carry in ``[t0, t1]`` (s); ``t1 >= t0``."""
        if t1 < t0:
            raise ValueError(f"bits_between: got t1={t1!r} < t0={t0!r}, expected t1 >= t0")
        return max(self.cumulative_bits(t1) - self.cumulative_bits(t0), 0.0)

    def time_to_send(self, t0: float, bits: float) -> float:
        """Earliest time ``t >= t0`` (s) by which ``bits`` can be carried from ``t0``.

        ``inf`` when the link never carries anything. The inverse of :meth:`bits_between`:
        ``bits_between(t0, time_to_send(t0, b)) == b`` up to rounding. A target within rounding
        noise (about 1e-14 of the cumulative bit count) of a point where the capacity drops to
        zero is taken as that point, so that noise never moves the answer past the idle stretch.
        """
        if bits < 0.0:
            raise ValueError(f"time_to_send: got bits={bits!r}, expected >= 0")
        if bits == 0.0:
            return float(t0)
        edges, interval_bits, cumulative, widths = self._scalar
        period_bits = cumulative[-1]
        if period_bits <= 0.0:
            return math.inf
        period = edges[-1]
        target = self.cumulative_bits(t0) + bits
        k = math.ceil(target / period_bits) - 1
        r = target - k * period_bits  # in (0, B] up to rounding
        if r <= 0.0:
            k, r = k - 1, r + period_bits
        elif r > period_bits:
            k, r = k + 1, r - period_bits
        # cumulative[i] < r <= cumulative[i + 1], so interval i carries bits.
        i = bisect.bisect_left(cumulative, r) - 1
        i = min(max(i, 0), len(interval_bits) - 1)
        if r - cumulative[i] <= _ROUNDING * (abs(target) + period_bits):
            # The target is a breakpoint of F up to rounding noise: answer the earliest time F
            # reaches the breakpoint, so that noise never pushes it past a stretch of zero
            # capacity (F is flat there).
            j = bisect.bisect_left(cumulative, cumulative[i])
            if j == 0:  # the start of a period: reached at the end of the previous one's bits
                k, j = k - 1, bisect.bisect_left(cumulative, period_bits)
            t = k * period + edges[j]
        else:
            fraction = (r - cumulative[i]) / interval_bits[i]
            fraction = 0.0 if fraction < 0.0 else 1.0 if fraction > 1.0 else fraction
            t = k * period + edges[i] + fraction * widths[i]
        return t if t > t0 else float(t0)

    # ---- vectorised ---------------------------------------------------------------------------

    def cumulative_bits_array(self, t: ArrayLike) -> np.ndarray:
        """Vectorised :meth:`cumulative_bits`."""
        times = np.asarray(t, dtype=float)
        k, r = wrap_array(times, self.duration_s)
        i = intervals_at(self.edges_s, r)
        within = np.clip(r - self.edges_s[i], 0.0, self._widths[i])
        partial = self.interval_bits[i] * (within / self._widths[i])
        return k * self.period_bits + self._cumulative[i] + partial

    def capacity_at_array(self, t: ArrayLike) -> np.ndarray:
        """Vectorised :meth:`capacity_at`."""
        _, r = wrap_array(np.asarray(t, dtype=float), self.duration_s)
        return self.rates_bps[intervals_at(self.edges_s, r)]

    def window_rates_bps(self, window_s: float) -> np.ndarray:
        """Average capacity over consecutive windows of ``window_s`` s covering one period.

        The last window is cut at the period (a period shorter than the window is one window).
        """
        if not window_s > 0.0:
            raise InputError(f"window: got {window_s!r} s, expected a positive number")
        count = max(1, math.ceil(self.duration_s / window_s - 1e-9))
        edges = np.minimum(np.arange(count + 1) * window_s, self.duration_s)
        edges[-1] = self.duration_s
        cumulative = self.cumulative_bits_array(edges)
        cumulative[-1] = self.period_bits
        return np.diff(cumulative) / np.diff(edges)

    # ---- derived traces ---------------------------------------------------------------------

    def scaled(self, rate: float = 1.0, time: float = 1.0) -> LinkCapacityTrace:
        """A copy with capacities × ``rate`` and the time axis stretched × ``time``."""
        if not (rate >= 0.0 and math.isfinite(rate)):
            raise InputError(f"rate scale: got {rate!r}, expected a finite number >= 0")
        if not (time > 0.0 and math.isfinite(time)):
            raise InputError(f"time scale: got {time!r}, expected a finite positive number")
        notes = f"scaled: rate x{rate:g}, time x{time:g}"
        return replace(
            self,
            edges_s=self.edges_s * time,
            interval_bits=self.interval_bits * (rate * time),
            provenance=self.provenance.with_notes(notes),
        )
