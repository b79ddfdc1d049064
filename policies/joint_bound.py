"""The Lagrangian dual bound of every split at once, and where each split's optimum lies.

The dual bounds each split's optimum from above: for the multipliers ``μ·(Λ, 1)`` of the time
and energy budgets, the Lagrangian's maximum over the power and the clocks is at the family
point of ``Λ`` (:mod:`coinfer.policies.joint_family`) and over ``(ρ, ρ̃)`` at their bounds, which
leaves a convex piecewise-linear function of ``μ``, least at a breakpoint. (P1) is convex in the
upload and compute times, so the bound's least value over ``Λ`` is the split's optimum (strong
duality), reached at the optimum's own ``Λ``; it is −inf where the lowest kept fractions cannot
be paid for (infeasible).

:func:`dual_brackets` evaluates it in one numpy pass for every split on a grid of ``ln v`` over
the range where anything moves (the power, from the least that meets the deadline with nothing
to compute, and either clock) plus one point far below and one far above (``Λ → 0`` and
``Λ → ∞``): each split's upper bound, and the grid cell where it is least, which brackets that
split's optimal ``Λ``.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from coinfer.policies.joint_family import Family
from coinfer.policies.joint_static import TINY

_LN2 = math.log(2.0)
#: Distance in ln v of the grid's two extra points (Λ → 0 and Λ → ∞ for the dual bound).
_FAR = 200.0


class Brackets(NamedTuple):
    """The splits worth searching and where to search them (arrays indexed alike)."""

    rows: NDArray[np.int_]  #: rows of the usable splits in the problem's arrays
    log_v: NDArray[np.float64]  #: per split, the grid of s = ln v (v in W), (S, points + 2)
    upper: NDArray[np.float64]  #: an upper bound on each split's optimum (−inf: infeasible)
    cells: NDArray[np.int_]  #: the cell of ``log_v`` (1 … points) where the bound is least


def dual_brackets(family: Family, points: int) -> Brackets:
    """The splits worth searching, their grids over ``s = ln v`` and where to start.

    Per split, ``points`` values of ``s`` evenly spaced over the range where anything moves
    (the transmit power, for a split that uploads, from the least power meeting the deadline
    with nothing to compute; either clock, for a side that computes), plus one far below and
    one far above. The usable splits are those whose upload alone meets the deadline.
    """
    problem, static = family.problem, family.static
    # the range of v of each pattern of what moves (code 4·uploads + 2·device + server)
    p_lo, p_hi = family.p_lo, family.p_hi
    moving = []
    if static.d_moves:
        moving.append(
            (2, family.v_of_level(static.level_d_lo), family.v_of_level(static.level_d_hi))
        )
    if static.s_moves:
        moving.append(
            (1, family.v_of_level(static.level_s_lo), family.v_of_level(static.level_s_hi))
        )
    if static.p_moves:
        moving.append((4, p_lo, p_hi))
    anchor = p_hi if p_hi > 0.0 else 1.0
    lows, highs = [anchor] * 8, [anchor] * 8
    for code in static.codes:
        ends = [(low, high) for bit, low, high in moving if code & bit]
        if ends:
            lows[code] = min(low for low, _ in ends)
            highs[code] = max(high for _, high in ends)
    low = np.array(lows)[static.code]
    high = np.array(highs)[static.code]
    # the least power meeting the deadline with nothing to compute
    theta = problem.payload_bits
    deadline = problem.deadline_s
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if deadline > 0.0 and family.snr > 0.0:
            needed = (np.exp2(theta * (1.0 / (deadline * family.bandwidth))) - 1.0) * (
                (1.0 + 1e-9) / family.snr
            )
        else:
            needed = np.where(static.sends, np.inf, 0.0)
    usable = needed <= p_hi
    if static.p_moves:  # below that power nothing is feasible
        low = np.maximum(low, np.minimum(needed, high))
    log_lo = np.log(np.maximum(low, TINY))
    span = np.log(np.maximum(high, low)) - log_lo
    rows = np.nonzero(usable)[0] if not usable.all() else None
    if rows is not None:
        if len(rows) == 0:
            return Brackets(rows, np.empty((0, points + 2)), np.empty(0), np.empty(0, dtype=int))
        log_lo, span = log_lo[rows], span[rows]
    steps, offsets = _steps(points)
    log_v = log_lo[:, None] + span[:, None] * steps + offsets
    upper, cells = _least_bounds(family, rows, log_v)
    if rows is None:
        rows = np.arange(len(theta))
    return Brackets(rows, log_v, upper, cells)


def _least_bounds(
    family: Family, rows: NDArray[np.int_] | None, log_v: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.int_]]:
    """The dual bound at every ``s`` of splits ``rows`` (None: all): its least value per split
    (kept parameters) and the cell of ``log_v`` where it is reached."""
    problem, static = family.problem, family.static
    index = slice(None) if rows is None else rows
    theta = problem.payload_bits[index, None]
    # both sides stacked on a leading axis (0: device, 1: server)
    cycles = np.concatenate((problem.device_cycles[index], problem.server_cycles[index]))
    cycles = cycles.reshape(2, -1, 1)
    params = static.params if rows is None else static.params[:, rows]
    v = np.exp(log_v)
    y = family.c * v
    lam = ((1.0 + y) * np.log1p(y) - y) * (1.0 / family.c)  # Λ (rough for tiny y: harmless)
    p = np.minimum(np.maximum(v, family.p_lo), family.p_hi)
    upload = theta / np.maximum(np.log1p(family.snr * p) * (family.bandwidth / _LN2), TINY)
    # K = Λ·T' + E': the budgets left after the upload, weighted
    budget = (family.time_budget * lam + family.energy_budget) - (lam + p) * upload
    # per side, the Lagrangian cost of a unit of kept fraction: a·(Λ/f + k·f²) = a·(Λ + P)/f
    # with P = k·f³ the level, clipped to the chip's range
    level = np.minimum(np.maximum(0.5 * lam, static.level_lo), static.level_hi)
    cost = cycles * (lam + level) / np.cbrt(level * static.inverse_k)
    # The bound, a convex piecewise-linear function of μ, is least at a breakpoint
    # μ = q/C of one side, where the other side's term is max over its box of ρ·(q − μ·C).
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mu = params / cost
        rest = params[::-1] - mu * cost[::-1]
        if static.boxes_from_zero:
            rest = np.maximum(rest, 0.0)
            if not static.boxes_to_one:
                rest *= static.box_hi[::-1]
        else:
            rest = np.maximum(rest * static.box_lo[::-1], rest * static.box_hi[::-1])
        bound = mu * budget + rest
        bound = np.fmin(bound[0], bound[1])  # (a side with no cycles gives nan: skipped)
        least = budget
        if not static.boxes_from_zero:  # what the lows cost
            least = budget - (static.box_lo * cost).sum(axis=0)
    bound[least < 0.0] = -np.inf  # the lows do not fit: infeasible
    top = static.top if rows is None else static.top[rows]
    return np.minimum(bound.min(axis=1), top), bound[:, 1:-1].argmin(axis=1) + 1


@functools.lru_cache(maxsize=8)
def _steps(points: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Fractions of a split's range and offsets giving ``points`` values over it plus one far
    below and one far above."""
    steps = np.concatenate(([0.0], np.linspace(0.0, 1.0, max(points, 2)), [1.0]))
    offsets = np.zeros_like(steps)
    offsets[0], offsets[-1] = -_FAR, _FAR
    steps.flags.writeable = offsets.flags.writeable = False
    return steps, offsets
