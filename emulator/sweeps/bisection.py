"""The largest load meeting a target, by bisection on a grid, several probes per round.

A *probe* evaluates the share of requests meeting their objectives (the attainment) at a load
factor ``x``. :func:`bisect_load` finds the largest ``x`` whose attainment reaches a target,
to a relative tolerance, calling ``evaluate`` on ``per_round`` load factors at a time (one
round: the probes run side by side, so a round costs one probe's wall time).

**The grid.** Every probed load factor is on the geometric grid ``x_k = anchor · (1 +
tolerance)^k`` (``k`` an integer; ``anchor`` is ``lo`` if given, else ``hi``, else 1), rounded
to 12 significant digits. The search is a search over ``k``: the answer's bracket is two
neighbours of the grid, ``[x_k, x_(k+1)]``, whose relative width is the tolerance; and which
points get probed does not change the answer when the attainment is monotone in the probed
points (a search with more probes per round probes the same grid, so it reuses the runs of the
points it shares with another).

**The rounds.** The first round probes the given ends (``lo`` and ``hi``, with ``per_round − 2``
points between them; ``lo`` alone: ``lo`` and ``per_round − 1`` doublings above it; ``hi``
alone: ``hi`` and halvings below it; neither: ``per_round`` powers of two around 1). Then:

* nothing missed the target yet: probe ``per_round`` doublings above the largest probed load
  (the grid point nearest to each doubling);
* something missed it, nothing below the smallest miss met it: probe halvings below the smallest
  probed load;
* else the bracket is ``[x_met, x_missed]`` (below): stop when they are neighbours on the grid,
  else probe ``per_round`` points spread evenly between them (a ``per_round + 1``-section; with
  one probe per round, bisection).

**Non-monotone attainment.** With finite samples the measured attainment is not exactly
monotone in the load. The bracket is always read off every probe so far: ``x_missed`` is the
smallest probed load that missed the target, and ``x_met`` the largest probed load below it that
met it; the answer is ``x_met``. A load above ``x_missed`` that met the target (noise) is
ignored; a miss below an earlier ``x_met`` (noise too) moves the bracket down to it. So the
answer is conservative: the search never reports a load above one that failed.

The doublings and halvings stop ``max_doublings`` doublings beyond the first round's points:
then the target was met at every probed load (status ``met-everywhere``: ``x`` is a lower bound)
or missed at every one (status ``missed-everywhere``: no goodput down there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from coinfer.emulator.errors import InputError

#: Significant digits of a grid point (so that it is the same number on every machine).
GRID_DIGITS = 12

Status = Literal["found", "met-everywhere", "missed-everywhere"]


@dataclass(frozen=True)
class LoadGrid:
    """Load factors ``x_k = anchor · ratio^k`` for integer ``k``."""

    anchor: float
    ratio: float  #: 1 + the relative tolerance

    def x(self, k: int) -> float:
        """The load factor at index ``k`` (12 significant digits)."""
        return float(f"{self.anchor * self.ratio**k:.{GRID_DIGITS}g}")

    def index_at_least(self, x: float) -> int:
        """The smallest ``k`` with ``x_k ≥ x`` (up to the grid's rounding)."""
        k = math.ceil(math.log(x / self.anchor) / math.log(self.ratio) - 1e-9)
        return k

    @property
    def doubling(self) -> int:
        """Grid steps in the grid point nearest to a doubling (at least one)."""
        return max(1, round(math.log(2.0) / math.log(self.ratio)))


@dataclass(frozen=True)
class Probe:
    """One evaluated load factor."""

    round: int  #: the round that probed it, from 1
    index: int  #: its index on the grid
    load_factor: float
    attainment: float  #: as ``evaluate`` returned it
    meets: bool  #: attainment ≥ target


@dataclass(frozen=True)
class Bisection:
    """The outcome of :func:`bisect_load`."""

    status: Status
    grid: LoadGrid
    target: float
    probes: tuple[Probe, ...]  #: in the order they were probed
    rounds: int
    met_index: int | None  #: the grid index of the answer (None: nothing met the target)
    missed_index: int | None  #: the smallest index that missed it (None: nothing did)

    @property
    def load_factor(self) -> float | None:
        """The answer: the largest probed load meeting the target below the smallest missing
        it (with ``met-everywhere``, the largest probed load, a lower bound); None when no
        probed load met it."""
        return None if self.met_index is None else self.grid.x(self.met_index)

    @property
    def bracket(self) -> tuple[float | None, float | None]:
        """``(x_met, x_missed)``; either is None when no probe met, or missed, the target."""
        missed = None if self.missed_index is None else self.grid.x(self.missed_index)
        return self.load_factor, missed


def bisect_load(
    evaluate: Callable[[Sequence[float]], Sequence[float]],
    target: float,
    *,
    per_round: int = 1,
    tolerance: float = 0.05,
    lo: float | None = None,
    hi: float | None = None,
    max_doublings: int = 10,
) -> Bisection:
    """The largest load factor whose attainment reaches ``target`` (see the module docstring).

    ``evaluate(xs)`` returns the attainment at each load factor of ``xs`` (in (0, 1], the
    share of requests meeting their objectives). ``tolerance``: the relative width of the final
    bracket. ``lo``, ``hi``: a bracket to start from (checked, and widened if wrong).
    Raises :class:`InputError` for a bad argument.
    """
    check_search(target, per_round, tolerance, lo, hi, max_doublings)
    anchor = lo if lo is not None else hi if hi is not None else 1.0
    grid = LoadGrid(anchor, 1.0 + tolerance)
    first = _first_round(grid, per_round, lo, hi)
    reach = grid.doubling * max_doublings
    limits = (min(first) - reach, max(first) + reach)
    attainments: dict[int, float] = {}
    probes: list[Probe] = []
    indices = first
    rounds = 0
    while True:
        rounds += 1
        xs = [grid.x(k) for k in indices]
        values = list(evaluate(xs))
        if len(values) != len(xs):
            raise ValueError(f"evaluate returned {len(values)} values for {len(xs)} loads")
        for k, x, value in zip(indices, xs, values, strict=True):
            attainments[k] = float(value)
            probes.append(Probe(rounds, k, x, float(value), bool(value >= target)))
        met, missed = _bracket(attainments, target)
        indices, status = _next(attainments, met, missed, grid, per_round, limits)
        if not indices:
            return Bisection(status, grid, target, tuple(probes), rounds, met, missed)


def check_search(
    target: float,
    per_round: int,
    tolerance: float,
    lo: float | None,
    hi: float | None,
    max_doublings: int,
) -> None:
    """Refuse bad arguments of :func:`bisect_load` (:class:`InputError` naming the argument)."""
    if not 0 < target <= 1:
        raise InputError(
            f"got {target}, expected a share in (0, 1]",
            argument="attainment",
            value=target,
            expected="a number in (0, 1]",
        )
    if not 0 < tolerance <= 1:
        raise InputError(
            f"got {tolerance}, expected a relative tolerance in (0, 1]",
            argument="tolerance",
            value=tolerance,
            expected="a number in (0, 1]",
        )
    if per_round < 1:
        raise InputError(
            f"got {per_round}, expected a positive integer",
            argument="per_round",
            value=per_round,
            expected="a positive integer",
        )
    if max_doublings < 1:
        raise ValueError(f"max_doublings: got {max_doublings}, expected a positive integer")
    for name, value in (("lo", lo), ("hi", hi)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputError(
                f"got {value}, expected a load factor > 0",
                argument=name,
                value=value,
                expected="a finite number > 0",
            )
    if lo is not None and hi is not None and hi <= lo * (1 + tolerance):
        raise InputError(
            f"got {hi} with lo {lo}, expected hi above lo × (1 + tolerance) = "
            f"{lo * (1 + tolerance):.6g}",
            argument="hi",
            value=hi,
            expected="a load factor above lo × (1 + tolerance)",
        )


def _first_round(grid: LoadGrid, per_round: int, lo: float | None, hi: float | None) -> list[int]:
    step = grid.doubling
    if lo is not None and hi is not None:
        top = grid.index_at_least(hi)
        return [0, top, *_spread(0, top, per_round - 2)]
    if lo is not None:
        return [step * i for i in range(per_round)]
    if hi is not None:
        return [-step * i for i in range(per_round)]
    return [step * j for j in range(-((per_round - 1) // 2), per_round // 2 + 1)]


def _spread(low: int, high: int, count: int) -> list[int]:
    """Up to ``count`` indices strictly between ``low`` and ``high``, evenly spread."""
    inside = high - low - 1
    if count <= 0 or inside <= 0:
        return []
    if inside <= count:
        return list(range(low + 1, high))
    picked = [low + round(i * (high - low) / (count + 1)) for i in range(1, count + 1)]
    return sorted(set(picked))


def _bracket(attainments: dict[int, float], target: float) -> tuple[int | None, int | None]:
    """(largest meeting index below the smallest missing one, the smallest missing one)."""
    missed = [k for k, a in attainments.items() if not a >= target]
    smallest_miss = min(missed) if missed else None
    met = [
        k
        for k, a in attainments.items()
        if a >= target and (smallest_miss is None or k < smallest_miss)
    ]
    return (max(met) if met else None), smallest_miss


def _next(
    attainments: dict[int, float],
    met: int | None,
    missed: int | None,
    grid: LoadGrid,
    per_round: int,
    limits: tuple[int, int],
) -> tuple[list[int], Status]:
    """The next round's indices (empty: stop) and the status so far."""
    step = grid.doubling
    if missed is None:  # met everywhere so far: double up
        top = max(attainments)
        ups = [top + step * i for i in range(1, per_round + 1) if top + step * i <= limits[1]]
        return ups, "met-everywhere"
    if met is None:  # missed at the bottom: halve down
        bottom = min(attainments)
        downs = [bottom - step * i for i in range(1, per_round + 1)]
        return [k for k in downs if k >= limits[0]], "missed-everywhere"
    return _spread(met, missed, per_round), "found"
