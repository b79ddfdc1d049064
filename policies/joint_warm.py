"""A warm start for the joint solver, accepted only with a certificate of optimality.

The exact path of :class:`~coinfer.policies.joint_solver.JointSolver` spends most of a solve on
the dual bound of every split over a grid of ``s = ln v`` (:mod:`coinfer.policies.joint_bound`),
which orders the splits and brackets each one's optimum. Requests of one device usually share
their best split and lie close along its family, so :func:`warm_solve` skips that pass:

1. it refines the split of the device's previous decision
   (:func:`~coinfer.policies.joint_search.refine`) from a small grid around the previous
   decision's ``s``;
2. it evaluates, in plain floats, the Lagrangian dual bound of every usable split at the ``Λ``
   of the best point found (:func:`bounds_at`: the formulas of ``joint_bound._least_bounds``
   at one ``s``). By weak duality the bound at *any* ``Λ`` is an upper bound on a split's
   optimum, so if no split's bound exceeds the point's kept parameters by more than a
   relative :data:`CERTIFICATE_TOLERANCE`, the point is within that tolerance of the optimum
   of (P1);
3. a split whose bound is above it is refined in turn (highest bound first, as the exact path
   orders them) and step 2 repeats at the best point; a split already refined whose bound at
   its own point is no higher than that point is settled. If a refined split stays above, it
   returns None and the exact path runs.

What holds: the kept parameters of a warm decision are within a relative 1e-9 of the most
any point of (P1) keeps (the certificate), so within 1e-9 of the exact path's, and its point
is feasible; an infeasible problem has no finite point to certify and always goes the exact
way. ``tests/policies/test_joint_warm.py`` checks this against the exact path on hundreds of
random problems of every structure, chained so that each starts from another's solution. A
warm decision may pick another split only where two splits tie within that tolerance, and its
power and clocks may differ from the exact path's in the last digits (both stop refining
within ~1e-10 of the optimum in ``ln v``); so it is not the exact path's decision bit for bit,
and it depends on the device's previous decision through where the refinement starts (a run
stays a pure function of its scenario and seed). Hence ``joint``'s ``warm_start`` is off by
default: with it, a decision is no longer the exact solver's, and through the decision cache
(shared by the devices) a sharded run's rows equal the unsharded run's only up to those digits.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from coinfer.policies.joint_family import Family, SplitConstants
from coinfer.policies.joint_search import Found, refine
from coinfer.policies.joint_static import TINY, StaticPart
from coinfer.policies.problem import Problem

_LN2 = math.log(2.0)
#: Relative excess of any split's dual bound over the point found that still certifies it.
CERTIFICATE_TOLERANCE = 1e-9
#: Offsets in ln v of the warm grid around the previous decision's s (its middle point).
OFFSETS = (-16.0, -2.0, -0.5, 0.0, 0.5, 2.0, 16.0)
MIDDLE = OFFSETS.index(0.0)


class Hint(NamedTuple):
    """Where a device's previous decision was: its split point and ``s = ln v``."""

    split: int
    s: float


def warm_solve(family: Family, hint: Hint, tolerance: float, iterations: int) -> Found | None:
    """The certified best point of ``family``'s problem refined from ``hint``, or None (no
    certificate: solve it the exact way). ``tolerance`` and ``iterations``: :func:`refine`'s.

    The hint's split is refined first; then, while some split's bound at the best point found
    exceeds it, the split with the highest such bound is refined too (from the same place),
    as the exact path refines splits in the order of their bounds. A split refined to its own
    optimum (its bound at its own point no higher than that point, within the tolerance) needs
    no bound at the best point.
    """
    problem = family.problem
    splits = problem.splits.tolist()
    if hint.split not in splits or not math.isfinite(hint.s):
        return None
    columns = Columns.of(problem)
    usable = usable_rows(family)
    return certified_search(
        family, columns, usable, splits.index(hint.split), hint.s, tolerance, iterations
    )


class Columns(NamedTuple):
    """A problem's per-split numbers as lists of floats (rows like ``problem.splits``)."""

    payload_bits: list[float]  #: θ, bits
    device_params: list[float]  #: q
    server_params: list[float]  #: s
    device_cycles: list[float]  #: a_d, cycles
    server_cycles: list[float]  #: a_s, cycles
    top: list[float]  #: the most each split keeps (both fractions at their tops)

    @classmethod
    def of(cls, problem: Problem, static: StaticPart | None = None) -> Columns:
        """The columns of ``problem`` (``static``: its static part, for ``top``)."""
        top = (
            static.top
            if static is not None
            else problem.rho_device_hi * problem.device_params
            + problem.rho_server_hi * problem.server_params
        )
        return cls(
            problem.payload_bits.tolist(),
            problem.device_params.tolist(),
            problem.server_params.tolist(),
            problem.device_cycles.tolist(),
            problem.server_cycles.tolist(),
            top.tolist(),
        )

    def constants(self, row: int) -> SplitConstants:
        """The scalar constants of split row ``row`` (:meth:`SplitConstants.of`'s values)."""
        return SplitConstants(
            row,
            self.device_params[row],
            self.server_params[row],
            self.device_cycles[row],
            self.server_cycles[row],
            self.payload_bits[row],
        )


def certified_search(
    family: Family,
    columns: Columns,
    usable: list[int],
    row: int,
    start: float,
    tolerance: float,
    iterations: int,
) -> Found | None:
    """The search of :func:`warm_solve` on ``columns`` from split row ``row`` at ``s = start``
    over the ``usable`` rows (:func:`usable_rows`): the certified best point, or None."""
    if row not in usable or not math.isfinite(start):
        return None
    found: dict[int, Found] = {}
    settled: set[int] = set()  # refined rows whose own bound certifies their point
    while True:
        split = columns.constants(row)
        grid = [start + offset for offset in OFFSETS]
        point = refine(family, split, grid, MIDDLE, tolerance, iterations)  # type: ignore[arg-type]
        if not math.isfinite(point.value):
            return None
        found[row] = Found(split, point)
        if bounds_of(family, columns, point.s, [row])[0] <= ceiling_of(point.value):
            settled.add(row)
        best = max(found.values(), key=_value_of)
        ceiling = ceiling_of(best.point.value)
        above = [
            (bound, other)
            for bound, other in zip(
                bounds_of(family, columns, best.point.s, usable), usable, strict=True
            )
            if bound > ceiling and other not in settled
        ]
        if not above:
            return best
        row = max(above)[1]
        if row in found:  # refined, yet neither settled nor bounded: no certificate
            return None
        start = best.point.s


def ceiling_of(value: float) -> float:
    """The most any split's bound may exceed ``value`` by and still certify it."""
    return value + CERTIFICATE_TOLERANCE * abs(value)


def _value_of(found: Found) -> float:
    return found.point.value


def usable_rows(family: Family) -> list[int]:
    """Rows of the splits whose upload alone can meet the deadline at the top power (those the
    exact path searches; the others are infeasible)."""
    return usable_of(family, family.problem.payload_bits.tolist(), family.problem.deadline_s)


def usable_of(family: Family, payload_bits: list[float], deadline_s: float) -> list[int]:
    """:func:`usable_rows` for the payloads ``payload_bits`` (bits) and deadline (s)."""
    snr, p_hi = family.snr, family.p_hi
    rows = []
    for row, theta in enumerate(payload_bits):
        if theta <= 0.0:
            rows.append(row)  # nothing to send: needs no power
        elif deadline_s > 0.0 and snr > 0.0:
            exponent = theta * (1.0 / (deadline_s * family.bandwidth))
            if exponent < 1000.0 and (2.0**exponent - 1.0) * ((1.0 + 1e-9) / snr) <= p_hi:
                rows.append(row)
    return rows


def bounds_at(family: Family, s: float, rows: list[int]) -> list[float]:
    """The Lagrangian dual bound of each split of ``rows`` at ``s = ln v`` (the family point of
    ``Λ(v)``), in kept parameters; −inf where the lowest kept fractions cannot be paid for at
    that ``Λ`` (the split is infeasible). Each is an upper bound on its split's optimum.

    The formulas of ``joint_bound._least_bounds`` at one ``s``, in plain floats (a side that
    does not compute gives no breakpoint; with neither, the bound is the most kept).
    """
    return bounds_of(family, Columns.of(family.problem, family.static), s, rows)


def bounds_of(family: Family, columns: Columns, s: float, rows: list[int]) -> list[float]:
    """:func:`bounds_at` on the per-split numbers ``columns``."""
    static = family.static
    v = math.exp(s)
    c = family.c
    y = c * v
    lam = ((1.0 + y) * math.log1p(y) - y) * (1.0 / c)
    p = min(max(v, family.p_lo), family.p_hi)
    rate = max(math.log1p(family.snr * p) * (family.bandwidth / _LN2), TINY)
    base = family.time_budget * lam + family.energy_budget
    spend = (lam + p) / rate  # Lagrangian cost of one bit uploaded
    level_d = min(max(0.5 * lam, static.level_d_lo), static.level_d_hi)
    level_s = min(max(0.5 * lam, static.level_s_lo), static.level_s_hi)
    per_d = (lam + level_d) / math.cbrt(level_d / static.k_d)  # per device cycle
    per_s = (lam + level_s) / math.cbrt(level_s / static.k_s)  # per server cycle
    x_lo, x_hi, y_lo, y_hi = static.x_lo, static.x_hi, static.y_lo, static.y_hi
    thetas, q_d, q_s, a_d, a_s, top = columns
    bounds = []
    for row in rows:
        budget = base - spend * thetas[row]
        cost_d, cost_s = a_d[row] * per_d, a_s[row] * per_s
        if budget - (x_lo * cost_d + y_lo * cost_s) < 0.0:
            bounds.append(-math.inf)
            continue
        q, r = q_d[row], q_s[row]
        bound = top[row]
        if cost_d > 0.0:  # the breakpoint where ρ's price is zero: ρ̃ at its best bound
            mu = q / cost_d
            rest = r - mu * cost_s
            value = mu * budget + (rest * y_hi if rest > 0.0 else rest * y_lo)
            if value < bound:
                bound = value
        if cost_s > 0.0:
            mu = r / cost_s
            rest = q - mu * cost_d
            value = mu * budget + (rest * x_hi if rest > 0.0 else rest * x_lo)
            if value < bound:
                bound = value
        bounds.append(bound)
    return bounds
