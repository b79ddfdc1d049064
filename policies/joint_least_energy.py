"""The least energy that meets the deadline at pinned kept fractions (the ``no-pruning`` solve).

When the kept fractions are pinned, nothing is left to gain in parameters: the best clocks and
power are those spending the least energy within T0. For a given transmit power p, the least
compute energy in the time left runs both sides at a common power level ``P = k·f³`` with the
time budget met exactly (energy falls as time is allowed to grow), found by bisection on
``ln P``; p is searched on a log grid with zooms around the best point. The point is feasible
when that least energy is within E0.

The grid helpers here (the useful power range per split, the range of power levels, the clocks
at a level, log grids and their zooms) are shared with the former grid search of (P1), kept as a
test oracle (``tests/oracles/grid_search.py``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from coinfer.policies.joint_static import HUGE, LOWEST_CLOCK_FRACTION, LOWEST_POWER_FRACTION, TINY
from coinfer.policies.problem import BUDGET_MARGIN, Problem, Solution

Floats = NDArray[np.float64]


class PowerRange(NamedTuple):
    """Per split, the transmit powers worth searching, W (``low > high``: none is)."""

    low_w: Floats  #: the least power whose upload alone meets the deadline (floored)
    high_w: Floats  #: P_max


class LevelRange(NamedTuple):
    """The compute power levels ``P = k·f³`` worth searching, W (both chips' clock ranges)."""

    low_w: float
    high_w: float


class _LeastEnergy(NamedTuple):
    """Per (split, power): the least energy meeting the deadline and its power level."""

    energy_j: Floats  #: inf where the deadline cannot be met
    level_w: Floats


def least_energy(
    problem: Problem, power_points: int, power_zoom_points: int, zooms: int
) -> Solution:
    """The point of least energy meeting the deadline at the LOWEST kept fractions allowed.

    The power grid has ``power_points`` points per split (one if the power is pinned), then
    ``zooms`` rounds of ``power_zoom_points`` points around the best one. Infeasible when no
    split meets the deadline, or the least energy is above E0.
    """
    p_low, p_high = power_range(problem)
    rows = np.nonzero(p_low <= p_high)[0]
    if len(rows) == 0:
        return Solution.infeasible()
    power_points = 1 if problem.p_lo_w >= problem.p_hi_w else power_points
    log_p = log_grid(np.log(p_low[rows]), np.log(p_high[rows]), power_points)
    energy, level = _least_energy_at(problem, rows, log_p)
    for _ in range(zooms if power_points > 1 else 0):
        log_p = around(log_p, energy.argmin(axis=1), power_zoom_points)
        energy, level = _least_energy_at(problem, rows, log_p)
    if not np.isfinite(energy).any():
        return Solution.infeasible()
    flat = int(energy.argmin())
    i, j = np.unravel_index(flat, energy.shape)
    row = int(rows[i])
    p_w = float(np.exp(log_p[i, j]))
    f_d, f_s = clocks_at_level(problem, np.array(level[i, j]))
    if problem.payload_bits[row] <= 0.0:
        p_w = problem.p_hi_w
    return problem.solution_at(
        row, problem.rho_device_lo, problem.rho_server_lo, p_w, float(f_d), float(f_s)
    )


def _least_energy_at(problem: Problem, rows: NDArray[np.int_], log_p: Floats) -> _LeastEnergy:
    """Least total energy and its power level, per (split, p) of ``rows`` × ``log_p``."""
    p_w = np.exp(log_p)
    theta = problem.payload_bits[rows][:, None]
    upload_s = theta / np.maximum(problem.rate_bps(p_w), TINY)
    time_left = min(problem.deadline_s, HUGE) * (1.0 - BUDGET_MARGIN) - upload_s
    u_d = (problem.rho_device_lo * problem.device_cycles[rows])[:, None]
    u_s = (problem.rho_server_lo * problem.server_cycles[rows])[:, None]
    level_low, level_high = level_range(problem)

    def compute_time(level: Floats) -> Floats:
        f_d, f_s = clocks_at_level(problem, level)
        time: Floats = u_d / f_d + u_s / f_s
        return time

    low = np.full(p_w.shape, math.log(level_low))
    high = np.full(p_w.shape, math.log(level_high))
    meets_at_low = compute_time(np.exp(low)) <= time_left
    possible = compute_time(np.exp(high)) <= time_left
    for _ in range(60):  # bisection on log P: time falls as the level rises
        middle = 0.5 * (low + high)
        fits = compute_time(np.exp(middle)) <= time_left
        high = np.where(fits, middle, high)
        low = np.where(fits, low, middle)
    level = np.exp(np.where(meets_at_low, math.log(level_low), high))
    f_d, f_s = clocks_at_level(problem, level)
    energy = problem.device_k * f_d**2 * u_d + problem.server_k * f_s**2 * u_s + p_w * upload_s
    return _LeastEnergy(np.where(possible, energy, np.inf), level)


def clocks_at_level(problem: Problem, level_w: Floats) -> tuple[Floats, Floats]:
    """Clocks of the device and of the server at power level ``P`` W (``k·f³ = P``, clipped to
    each chip's range, floored at ``LOWEST_CLOCK_FRACTION`` of the top), Hz.

    (A plain pair: the bisection of the least energy calls this 60 times per zoom.)"""
    f_d = np.clip(
        np.cbrt(level_w / problem.device_k),
        max(problem.f_device_lo_hz, problem.f_device_hi_hz * LOWEST_CLOCK_FRACTION),
        problem.f_device_hi_hz,
    )
    f_s = np.clip(
        np.cbrt(level_w / problem.server_k),
        max(problem.f_server_lo_hz, problem.f_server_hi_hz * LOWEST_CLOCK_FRACTION),
        problem.f_server_hi_hz,
    )
    return f_d, f_s


def power_range(problem: Problem) -> PowerRange:
    """Per split, the lowest useful transmit power (meets the deadline with no compute,
    floored at ``LOWEST_POWER_FRACTION`` of P_max) and P_max, W."""
    p_hi = problem.p_hi_w
    theta = problem.payload_bits
    snr_per_w = problem.gain / (problem.bandwidth_hz * problem.noise_psd_w_per_hz)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        needed = (np.exp2(theta / (problem.deadline_s * problem.bandwidth_hz)) - 1.0) / snr_per_w
    needed = np.where(theta > 0.0, needed * (1.0 + 1e-9), 0.0)
    floor = max(problem.p_lo_w, p_hi * LOWEST_POWER_FRACTION)
    return PowerRange(np.maximum(needed, floor), np.full_like(needed, p_hi))


def level_range(problem: Problem) -> LevelRange:
    """Lowest and highest compute power level P worth searching over both chips, W."""
    lows, highs = [], []
    for k, lo, hi in (
        (problem.device_k, problem.f_device_lo_hz, problem.f_device_hi_hz),
        (problem.server_k, problem.f_server_lo_hz, problem.f_server_hi_hz),
    ):
        lows.append(k * max(lo, hi * LOWEST_CLOCK_FRACTION) ** 3)
        highs.append(k * hi**3)
    return LevelRange(min(lows), max(highs))


def log_grid(low: Floats, high: Floats, points: int) -> Floats:
    """Per row, ``points`` values evenly spaced from ``low`` to ``high`` (shape (S, points));
    one point: ``high``."""
    if points == 1:
        return high[:, None].copy()
    steps = np.linspace(0.0, 1.0, points)
    grid: Floats = low[:, None] + (high - low)[:, None] * steps[None, :]
    return grid


def around(grid: Floats, best: NDArray[np.int_], points: int) -> Floats:
    """Per row, ``points`` values from ``grid[best−1]`` to ``grid[best+1]`` (clamped)."""
    size = grid.shape[1]
    if size == 1:
        return grid
    rows = np.arange(len(grid))
    low = grid[rows, np.maximum(best - 1, 0)]
    high = grid[rows, np.minimum(best + 1, size - 1)]
    return log_grid(low, high, points)
