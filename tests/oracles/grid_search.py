"""The joint solver's former search of (P1), kept as a test oracle: grids and zooms, slow.

For a fixed transmit power p the optimum of (P1) lies on the family of clock pairs at a common
power level ``P = k·f³`` (W), and at fixed ``(p, P)`` what is left is a linear programme in the
kept fractions, solved exactly at its five breakpoints (:func:`lp_values`, :func:`lp_optimum`,
vectorised). :func:`solve_grid` searches the value on a grid over p and, for every p, over P,
with zooms around the best cells. It shares with the shipped solver only the reporting
convention and the grid helpers of :mod:`coinfer.policies.joint_least_energy`, not its method:
``tests/policies/test_joint_solver.py`` checks the solver against a fine run of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from coinfer.policies.joint_least_energy import (
    around,
    clocks_at_level,
    level_range,
    log_grid,
    power_range,
)
from coinfer.policies.joint_search import reported_solution
from coinfer.policies.joint_static import HUGE, TINY
from coinfer.policies.problem import BUDGET_MARGIN, Problem, Solution

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class GridSearchSizes:
    """Sizes of the search (the defaults were the solver's before it was replaced)."""

    power_points: int = 16  #: coarse points over transmit power p
    level_points: int = 32  #: coarse points over the compute power level P
    power_zoom_points: int = 9  #: points of each zoomed p grid
    level_zoom_points: int = 25  #: points of each zoomed P grid
    zooms: int = 3  #: zoom rounds on p
    level_zooms: int = 4  #: zoom rounds on P, for every p
    level_zooms_warm: int = 3  #: zoom rounds on P from a bracket found at neighbouring p
    keep_splits_within: float = 0.02  #: splits refined: coarse value within this of the best


DEFAULT_SIZES = GridSearchSizes()


def solve_grid(problem: Problem, sizes: GridSearchSizes = DEFAULT_SIZES) -> Solution:
    """The point with the most kept parameters over every split, by grids and zooms.

    Splits whose best coarse value is within ``keep_splits_within`` (relative) of the best are
    zoomed on; the value is unimodal in p once the level is optimised.
    """
    if len(problem.splits) == 0:
        return Solution.infeasible()
    p_low, p_high = power_range(problem)
    rows = np.nonzero(p_low <= p_high)[0]
    if len(rows) == 0:
        return Solution.infeasible()
    pinned_power = problem.p_lo_w >= problem.p_hi_w
    power_points = 1 if pinned_power else sizes.power_points

    # Coarse p grid, each point maximised exactly over the power level.
    log_p = log_grid(np.log(p_low[rows]), np.log(p_high[rows]), power_points)  # (S, Np)
    value, log_level = _best_level(problem, sizes, rows, log_p)  # (S, Np) each
    best_per_split = value.max(axis=1)
    top = best_per_split.max()
    if not np.isfinite(top):
        return Solution.infeasible()
    keep = np.isfinite(best_per_split)
    keep &= best_per_split >= top - abs(top) * sizes.keep_splits_within
    rows, log_p, value, log_level = rows[keep], log_p[keep], value[keep], log_level[keep]

    # Zoom on p (the value is unimodal in p once the level is optimised).
    level_low, level_high = level_range(problem)
    margin = (math.log(level_high) - math.log(level_low)) / (sizes.level_points - 1)
    for _ in range(sizes.zooms if power_points > 1 else 0):
        best = value.argmax(axis=1)
        # New p points lie between the neighbours of the best one: so does their best level
        # (it moves continuously with p), give or take one coarse step.
        neighbours = np.stack(
            [
                log_level[np.arange(len(rows)), np.clip(best + k, 0, log_p.shape[1] - 1)]
                for k in (-1, 0, 1)
            ]
        )
        log_p = around(log_p, best, sizes.power_zoom_points)
        low = np.broadcast_to((neighbours.min(axis=0) - margin)[:, None], log_p.shape)
        high = np.broadcast_to((neighbours.max(axis=0) + margin)[:, None], log_p.shape)
        value, log_level = _best_level(problem, sizes, rows, log_p, (low, high))

    cell = value.argmax(axis=1)
    pick = np.arange(len(rows))
    split_pick = int(np.argmax(value[pick, cell]))
    j = int(cell[split_pick])
    return _grid_solution(
        problem,
        int(rows[split_pick]),
        float(np.exp(log_p[split_pick, j])),
        float(np.exp(log_level[split_pick, j])),
    )


class _BestLevel(NamedTuple):
    """Per (split, p): the best value over the power level P and that ln P."""

    value: Floats
    log_level: Floats


def _best_level(
    problem: Problem,
    sizes: GridSearchSizes,
    rows: NDArray[np.int_],
    log_p: Floats,
    bracket: tuple[Floats, Floats] | None = None,
) -> _BestLevel:
    """For every (split, p), the best value over the power level P and that log level.

    The value is unimodal in P (it peaks where the optimal vertex of the LP changes, often
    at a kink), so a grid and repeated zooms around the best point bracket the peak. With
    ``bracket`` (log-level bounds per (split, p), from neighbouring p already solved) the
    search starts there instead of on the whole range.
    """
    level_low, level_high = level_range(problem)
    count, width = log_p.shape
    points = sizes.level_zoom_points
    if level_low >= level_high:
        log_level = np.full((count, width, 1), math.log(level_high))
        zooms = 0
    elif bracket is None:
        log_level = np.linspace(math.log(level_low), math.log(level_high), sizes.level_points)
        log_level = np.broadcast_to(log_level, (count, width, sizes.level_points))
        zooms = sizes.level_zooms
    else:
        low, high = bracket
        steps = np.linspace(0.0, 1.0, points)
        log_level = low[..., None] + (high - low)[..., None] * steps
        zooms = sizes.level_zooms_warm
    p_w = np.exp(log_p)[:, :, None]
    row_index = rows[:, None, None]
    value = np.empty(0)
    for round_ in range(zooms + 1):
        if round_:
            flat = log_level.reshape(count * width, -1)
            best = value.reshape(count * width, -1).argmax(axis=1)
            log_level = around(flat, best, points).reshape(count, width, -1)
        value = lp_values(_lp_of(problem, row_index, p_w, np.exp(log_level)))
    best = value.argmax(axis=2)
    i, j = np.indices(best.shape)
    return _BestLevel(value[i, j, best], log_level[i, j, best])


class Lp(NamedTuple):
    """The LPs in the kept fractions at splits × powers × power levels (arrays broadcast)."""

    w_d: Floats  #: parameters on the device
    w_s: Floats  #: parameters on the server
    tau_d: Floats  #: device seconds per unit of ρ
    tau_s: Floats  #: server seconds per unit of ρ̃
    eps_d: Floats  #: device joules per unit of ρ
    eps_s: Floats  #: server joules per unit of ρ̃
    time_s: Floats  #: time left after the upload (margin taken off)
    energy_j: Floats  #: energy left after the upload (margin taken off)
    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float


def _lp_of(problem: Problem, rows: NDArray[np.int_], p_w: Floats, level_w: Floats) -> Lp:
    """The LPs at splits ``rows`` (shape (S,1,1)) × p (S,Np,1) × P (S,1|Np,Nk) W; a power whose
    upload alone misses a budget gets a negative budget left (infeasible)."""
    theta = problem.payload_bits[rows]
    upload_s = theta / np.maximum(problem.rate_bps(p_w), TINY)
    shrink = 1.0 - BUDGET_MARGIN
    time_left = min(problem.deadline_s, HUGE) * shrink - upload_s
    energy_left = min(problem.energy_budget_j, HUGE) * shrink - p_w * upload_s
    f_d, f_s = clocks_at_level(problem, level_w)
    a_d, a_s = problem.device_cycles[rows], problem.server_cycles[rows]
    return Lp(
        problem.device_params[rows],
        problem.server_params[rows],
        a_d / f_d,
        a_s / f_s,
        problem.device_k * f_d**2 * a_d,
        problem.server_k * f_s**2 * a_s,
        time_left,
        energy_left,
        problem.rho_device_lo,
        problem.rho_device_hi,
        problem.rho_server_lo,
        problem.rho_server_hi,
    )


class _Vertices(NamedTuple):
    x: Floats  #: ρ at the five breakpoints, on a leading axis
    y: Floats  #: the best ρ̃ at each
    value: Floats  #: the kept parameters at each
    x_max: Floats  #: the largest ρ that fits with ρ̃ at its bottom


def _vertices(lp: Lp) -> _Vertices:
    """The five breakpoints of the LP's value as a function of ρ (ρ̃ the largest that fits).

    Budgets must be finite (use ``HUGE``) and coefficients non-negative.
    """
    w_d, w_s, tau_d, tau_s, eps_d, eps_s, time_s, energy_j, x_lo, x_hi, y_lo, y_hi = lp
    tau_d, tau_s = np.maximum(tau_d, TINY), np.maximum(tau_s, TINY)
    eps_d, eps_s = np.maximum(eps_d, TINY), np.maximum(eps_s, TINY)
    x_max = np.minimum(
        np.minimum((time_s - tau_s * y_lo) / tau_d, (energy_j - eps_s * y_lo) / eps_d), x_hi
    )
    det = tau_d * eps_s - eps_d * tau_s
    cross = (time_s * eps_s - energy_j * tau_s) / np.where(det != 0.0, det, TINY)
    x_max, cross = np.broadcast_arrays(x_max, cross)
    x = np.stack(
        (
            x_max,
            (time_s - tau_s * y_hi) / tau_d + 0.0 * x_max,
            (energy_j - eps_s * y_hi) / eps_d + 0.0 * x_max,
            np.where(det != 0.0, cross, x_lo),
        )
    )
    x = np.clip(x, x_lo, np.maximum(x_max, x_lo))
    x = np.concatenate((np.full((1, *x_max.shape), x_lo), x))
    y = np.minimum(np.minimum((time_s - tau_d * x) / tau_s, (energy_j - eps_d * x) / eps_s), y_hi)
    return _Vertices(x, y, w_d * x + w_s * y, x_max)


def _budgets_left(lp: Lp) -> NDArray[np.bool_]:
    """Where the upload alone leaves both budgets non-negative."""
    fits: NDArray[np.bool_] = (lp.time_s >= 0.0) & (lp.energy_j >= 0.0)
    return fits


def lp_values(lp: Lp) -> Floats:
    """The LPs' optimal values (−inf where infeasible), element-wise: ``max w_d·x + w_s·y``
    s.t. ``τ_d·x + τ_s·y ≤ T``, ``ε_d·x + ε_s·y ≤ E``, ``x ∈ [x_lo, x_hi]``,
    ``y ∈ [y_lo, y_hi]`` (the search needs only the value: x and y are not gathered)."""
    _, y, value, x_max = _vertices(lp)
    feasible = (x_max >= lp.x_lo) & (y.max(axis=0) >= lp.y_lo)
    values = np.where(feasible, value.max(axis=0), -np.inf)
    return np.where(_budgets_left(lp), values, -np.inf)


class LpOptima(NamedTuple):
    """The LPs' optima: kept fractions and value (−inf where infeasible)."""

    rho_device: Floats
    rho_server: Floats
    value: Floats


def lp_optimum(lp: Lp) -> LpOptima:
    """The LPs' optima (the best of the five breakpoints), element-wise."""
    x, y, value, x_max = _vertices(lp)
    best = value.argmax(axis=0)[None]
    x = np.take_along_axis(x, best, 0)[0]
    y = np.take_along_axis(y, best, 0)[0]
    value = np.take_along_axis(value, best, 0)[0]
    feasible = (x_max >= lp.x_lo) & (y >= lp.y_lo)
    value = np.where(feasible, value, -np.inf)
    return LpOptima(x, y, np.where(_budgets_left(lp), value, -np.inf))


def _grid_solution(problem: Problem, row: int, p_w: float, level_w: float) -> Solution:
    """The point of split ``row`` at power ``p_w`` W and power level ``level_w`` W."""
    lp = _lp_of(problem, np.array([[[row]]]), np.array([[[p_w]]]), np.array([[[level_w]]]))
    x, y, value = lp_optimum(lp)
    if not np.isfinite(value.item()):
        return Solution.infeasible()
    f_d, f_s = clocks_at_level(problem, np.array([[[level_w]]]))
    return reported_solution(
        problem, row, x.item(), y.item(), p_w, float(f_d.item()), float(f_s.item())
    )
