"""The joint solver's search: each split's optimum along its family, splits in order of bounds.

Choosing the split. :func:`best_split` refines the splits in the order of their dual bounds
(:mod:`coinfer.policies.joint_bound`) until the best point found beats every bound left,
usually after one split.

Refining one split. :func:`refine` maximises ``h(s)``, the kept parameters along the split's
family (:mod:`coinfer.policies.joint_family`), in plain floats from the grid cell where the
split's dual bound is least, which brackets the optimum: Newton steps on the corner where a
second budget starts to bind (the usual maximum: one kept fraction at a bound, the other held
by both budgets), secant steps on ``h'`` for a smooth maximum, bisection as the safeguard. Each
point is a solved LP, so the answer is a real point; :func:`reported_solution` re-evaluates it
with :meth:`Problem.evaluate`.
"""

from __future__ import annotations

import math
from operator import attrgetter
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from coinfer.policies.joint_bound import Brackets
from coinfer.policies.joint_family import Family, FamilyPoint, LocalTerms, SplitConstants
from coinfer.policies.joint_lp import Free
from coinfer.policies.problem import Problem, Solution

_value = attrgetter("value")


class Found(NamedTuple):
    """The best point found, and its split."""

    split: SplitConstants
    point: FamilyPoint


def best_split(
    family: Family, brackets: Brackets, tolerance: float, iterations: int
) -> Found | None:
    """The best point over the splits of ``brackets`` (None if none was worth refining).

    ``tolerance`` and ``iterations`` are :func:`refine`'s. A split is refined only while its
    bound beats the best point found (by more than a relative 1e-9).
    """
    rows, log_v, upper, cells = brackets
    best: Found | None = None
    best_value = -math.inf
    for i in np.argsort(-upper).tolist():
        bound = upper[i]
        if bound <= best_value + 1e-9 * abs(best_value) or bound == -math.inf:
            break
        split = SplitConstants.of(family.problem, int(rows[i]))
        point = refine(family, split, log_v[i, 1:-1], int(cells[i]) - 1, tolerance, iterations)
        if point.value > best_value:
            best, best_value = Found(split, point), point.value
    return best


def refine(
    family: Family,
    split: SplitConstants,
    log_v: NDArray[np.float64],
    cell: int,
    tolerance: float,
    iterations: int,
) -> FamilyPoint:
    """Maximise h over the family of one split from cell ``cell`` of its grid ``log_v`` of
    ``s = ln v`` (where its dual bound is least), and return the best point evaluated.

    Keeps a bracket whose low end rises and whose high end falls (by the sign of
    ``λ − Λ·μ``; an infeasible point by which budget its lowest kept fractions miss). Each
    step is Newton's step on the corner of the piece of h with a kept fraction held at a
    bound (from the last point, else from the other end), or, when both ends have both
    fractions free, a secant step on h' (a smooth maximum); it bisects when neither lands
    inside the bracket or the bracket stops halving. Stops at a KKT point, when the bracket
    is below ~1e-10 in ``ln v``, when a smooth maximum promises less than ``tolerance``
    (relative), or after ``iterations`` points.
    """
    point = family.point(split, float(log_v[cell]))
    direction = point.direction
    if direction == 0:
        return point
    # The neighbouring cell on the way up normally turns the direction (the cell brackets
    # the optimum); where it does not (a flat bound, an infeasible cell), search the grid
    # cells further on that way by bisection (directions turn once along the grid).
    end = len(log_v) - 1 if direction > 0 else 0
    if cell == end:
        return point
    neighbour = family.point(split, float(log_v[cell + direction]))
    best = max(point, neighbour, key=_value)
    if neighbour.direction == direction:
        point, cell = neighbour, cell + direction
        if cell != end:
            neighbour = family.point(split, float(log_v[end]))
            best = max(best, neighbour, key=_value)
        if neighbour.direction == direction:
            return best  # the optimum is at the end of the range
        far = end
        while abs(far - cell) > 1:
            middle = (far + cell) // 2
            probe = family.point(split, float(log_v[middle]))
            best = max(best, probe, key=_value)
            if probe.direction == direction:
                point, cell = probe, middle
            else:
                neighbour, far = probe, middle
    if neighbour.direction == 0:
        return neighbour
    if direction > 0:
        low, high, last = point, neighbour, point
    else:
        low, high, last = neighbour, point, point
    scale = max(1.0, abs(low.s), abs(high.s))
    resolution = 1e-10 * scale  # bracket width at which to stop
    checkpoint, stalled = high.s - low.s, 0
    previous = high if last is low else low
    for _ in range(iterations):
        width = high.s - low.s
        if width <= resolution:
            break
        if width <= 0.5 * checkpoint:
            checkpoint, stalled = width, 0
        else:
            stalled += 1
        guess = math.nan
        if stalled < 5 and low.local is not None and high.local is not None:
            if low.free == "both" and high.free == "both":  # a smooth maximum: secant on h'
                one, two = (last, previous) if previous.free == "both" else (low, high)
                if one.slope != two.slope:
                    guess = one.s - one.slope * (one.s - two.s) / (one.slope - two.slope)
                    # what a quadratic model of h promises beyond `one`
                    gain = 0.5 * abs(one.slope * (guess - one.s))
                    if gain <= tolerance * abs(best.value) and one is best:
                        break
            else:  # a corner: Newton on ψ of the piece with a fraction held, from `last`
                other = high if last is low else low
                held = last.held() or other.held()
                if held is not None:
                    for start in (last, other):
                        guess = corner_step(start, *held)
                        if abs(guess - start.s) <= resolution:
                            # converged on the corner from one side: step just across it
                            guess = start.s + (0.5 if start is low else -0.5) * resolution
                            break
                        if low.s < guess < high.s:
                            break
            if not low.s < guess < high.s:
                guess = math.nan
        if math.isnan(guess):
            guess = 0.5 * (low.s + high.s)
        point = family.point(split, guess)
        if point.value > best.value:
            best = point
        direction = point.direction
        if direction == 0:
            break
        if direction > 0:
            low = point
        else:
            high = point
        previous, last = last, point
    return best


def corner_step(point: FamilyPoint, free: Free, bound: float) -> float:
    """Newton's estimate of the ``s`` where both budgets bind with one kept fraction held at
    ``bound`` (nan if there is none).

    With ρ held (``free == "server"``; ρ̃ if ``"device"``), each budget alone allows a value ``z_T``,
    ``z_E`` of the other fraction; ``ψ = z_E − z_T`` is a smooth decreasing function of s
    (positive while time binds), and its root is where a piece of h with that fraction at its
    bound ends: the usual maximum, a corner of h.
    """
    local = point.local
    if local is None:
        return math.nan
    return corner_of(point.s, local, free, bound)


def corner_of(s: float, local: LocalTerms, free: Free, bound: float) -> float:
    """:func:`corner_step` from the local terms ``local`` of the family point at ``s``."""
    time_left, energy_left, dtime, denergy, t_d, t_s, e_d, e_s, g_d, g_s = local
    if free == "server":
        tb, eb, gb, tz, ez, gz = t_d, e_d, g_d, t_s, e_s, g_s
    else:
        tb, eb, gb, tz, ez, gz = t_s, e_s, g_s, t_d, e_d, g_d
    if tz <= 0.0 or ez <= 0.0:
        return math.nan
    z_t = (time_left - tb * bound) / tz
    z_e = (energy_left - eb * bound) / ez
    dz_t = (dtime + bound * tb * gb) / tz + z_t * gz
    dz_e = (denergy - 2.0 * bound * eb * gb) / ez - 2.0 * z_e * gz
    if dz_e == dz_t:
        return math.nan
    return s - (z_e - z_t) / (dz_e - dz_t)


def reported_solution(
    problem: Problem,
    index: int,
    rho_device: float,
    rho_server: float,
    tx_power_w: float,
    f_device_hz: float,
    f_server_hz: float,
) -> Solution:
    """A solver's point as reported: kept fractions clipped to their bounds, a side with
    nothing on it (split 0 / split L) unpruned, the top power when nothing is sent (any power
    does), evaluated with :meth:`Problem.evaluate`."""
    rho_d = float(min(max(rho_device, problem.rho_device_lo), problem.rho_device_hi))
    rho_s = float(min(max(rho_server, problem.rho_server_lo), problem.rho_server_hi))
    if problem.device_params[index] == 0.0 and problem.device_cycles[index] == 0.0:
        rho_d = problem.rho_device_hi
    if problem.server_params[index] == 0.0 and problem.server_cycles[index] == 0.0:
        rho_s = problem.rho_server_hi
    if problem.payload_bits[index] <= 0.0:
        tx_power_w = problem.p_hi_w
    return problem.solution_at(index, rho_d, rho_s, tx_power_w, f_device_hz, f_server_hz)
