"""The fast exact solver of (P1): a vectorised search over (split, p, power level), exact LP inside.

Why this is exact. Write the problem in the clocks (paper section 6). For a FIXED transmit power
``p`` the upload takes ``θ/r(p)`` and ``p·θ/r(p)``, leaving ``T' = T0 − θ/r`` and
``E' = E0 − p·θ/r`` for computing. The KKT stationarity condition of each clock, on a side that
computes anything, is ``λ·ρ·a/f² = 2·μ·k·f·ρ·a`` (λ, μ the multipliers of the time and energy
budgets), that is ``k·f³ = λ/(2μ)``: **both sides run at the same power level**
``P = η·φ·f³ = η̃·φ̃·f̃³`` unless a clock bound clips it. So the optimum lies on the one-parameter
family of clock pairs ``f_i(P) = clip((P/k_i)^(1/3), f_lo_i, f_hi_i)``. For fixed clocks the
problem in ``(ρ, ρ̃)`` is a linear programme in two variables (time and energy are linear in ρ
and ρ̃): its optimum is at a vertex, found in closed form by evaluating five breakpoints.

What is searched. The kept-parameter value is a concave function of ``p`` (it is a concave,
non-decreasing function of ``(T', E')``, both concave in ``p``), and smooth and unimodal in the
power level in practice. The solver evaluates a coarse grid over (split, p, P) in one numpy
pass, then zooms in around the best cell of each competitive split a few times. Grids are
log-spaced: ``p`` from the least power meeting the deadline with nothing to compute up to
``P_max``; ``P`` between the lowest and highest power either chip can draw.

Tests compare it on hundreds of random instances with the paper's SCA (``policies.sca``) and a
brute-force dense grid (``policies.dense_grid``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from policies.problem import BUDGET_MARGIN, Problem, Solution

#: Lowest clock, as a fraction of the top, searched when a chip's lowest clock is 0.
_LOWEST_CLOCK_FRACTION = 1e-3
#: Lowest transmit power, as a fraction of P_max, searched when no deadline bounds it below.
_LOWEST_POWER_FRACTION = 1e-7


@dataclass(frozen=True)
class GridSizes:
    """Grid sizes of the search (defaults: accurate to ~1e-5 relative on the paper's problems)."""

    power_points: int = 16  #: coarse points over transmit power p
    level_points: int = 32  #: coarse points over the compute power level P
    power_zoom_points: int = 9  #: points of each zoomed p grid
    level_zoom_points: int = 25  #: points of each zoomed P grid
    zooms: int = 3  #: zoom rounds on p
    level_zooms: int = 4  #: zoom rounds on P, for every p
    level_zooms_warm: int = 3  #: zoom rounds on P from a bracket found at neighbouring p
    keep_splits_within: float = 0.02  #: splits refined: coarse value within this of the best


#: Stand-in for an infinite budget or a zero denominator (keeps the arithmetic free of inf/nan).
_HUGE = 1e30
_TINY = 1e-300


def _lp(
    w_d: np.ndarray,
    w_s: np.ndarray,
    tau_d: np.ndarray,
    tau_s: np.ndarray,
    eps_d: np.ndarray,
    eps_s: np.ndarray,
    time_s: np.ndarray,
    energy_j: np.ndarray,
    x_lo: float,
    x_hi: float,
    y_lo: float,
    y_hi: float,
    values_only: bool = False,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
    """Exact optimum of ``max w_d·x + w_s·y`` s.t. ``τ_d·x + τ_s·y ≤ T``, ``ε_d·x + ε_s·y ≤ E``,
    ``x ∈ [x_lo, x_hi]``, ``y ∈ [y_lo, y_hi]``, element-wise over broadcast arrays.

    Returns ``(x, y, value)`` with ``value = −inf`` where infeasible. For a given x the best y is
    the largest that fits; the value is then concave piecewise linear in x, so its maximum is at
    one of five breakpoints (the ends of the feasible x range, where a budget line meets
    ``y_hi``, and where the two budget lines cross), all evaluated at once on a leading axis.
    Budgets must be finite (use ``_HUGE``) and coefficients non-negative.
    """
    tau_d, tau_s = np.maximum(tau_d, _TINY), np.maximum(tau_s, _TINY)
    eps_d, eps_s = np.maximum(eps_d, _TINY), np.maximum(eps_s, _TINY)
    x_max = np.minimum(
        np.minimum((time_s - tau_s * y_lo) / tau_d, (energy_j - eps_s * y_lo) / eps_d), x_hi
    )
    det = tau_d * eps_s - eps_d * tau_s
    cross = (time_s * eps_s - energy_j * tau_s) / np.where(det != 0.0, det, _TINY)
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
    value = w_d * x + w_s * y
    if values_only:  # the search needs only the value: skip gathering x and y
        feasible = (x_max >= x_lo) & (y.max(axis=0) >= y_lo)
        return None, None, np.where(feasible, value.max(axis=0), -np.inf)
    best = value.argmax(axis=0)[None]
    x = np.take_along_axis(x, best, 0)[0]
    y = np.take_along_axis(y, best, 0)[0]
    value = np.take_along_axis(value, best, 0)[0]
    feasible = (x_max >= x_lo) & (y >= y_lo)
    return x, y, np.where(feasible, value, -np.inf)


class JointSolver:
    """Solves :class:`~policies.problem.Problem` instances; stateless apart from its grid sizes."""

    def __init__(self, sizes: GridSizes | None = None) -> None:
        self.sizes = sizes or GridSizes()

    # ---- the evaluated family ----------------------------------------------------------------

    @staticmethod
    def _clocks(problem: Problem, level_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Clocks of both sides at power level ``P`` (clipped to each chip's range), Hz."""
        f_d = np.clip(
            np.cbrt(level_w / problem.device_k),
            max(problem.f_device_lo_hz, problem.f_device_hi_hz * _LOWEST_CLOCK_FRACTION),
            problem.f_device_hi_hz,
        )
        f_s = np.clip(
            np.cbrt(level_w / problem.server_k),
            max(problem.f_server_lo_hz, problem.f_server_hi_hz * _LOWEST_CLOCK_FRACTION),
            problem.f_server_hi_hz,
        )
        return f_d, f_s

    def _evaluate(
        self,
        problem: Problem,
        rows: np.ndarray,
        p_w: np.ndarray,
        level_w: np.ndarray,
        values_only: bool = False,
    ) -> tuple[np.ndarray, ...]:
        """Best (ρ, ρ̃) and value at splits ``rows`` (shape (S,1,1)) × p (S,Np,1) × P (S,1|Np,Nk)."""
        theta = problem.payload_bits[rows]
        upload_s = theta / np.maximum(problem.rate_bps(p_w), _TINY)
        shrink = 1.0 - BUDGET_MARGIN
        time_left = min(problem.deadline_s, _HUGE) * shrink - upload_s
        energy_left = min(problem.energy_budget_j, _HUGE) * shrink - p_w * upload_s
        f_d, f_s = self._clocks(problem, level_w)
        a_d, a_s = problem.device_cycles[rows], problem.server_cycles[rows]
        x, y, value = _lp(
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
            values_only,
        )
        value = np.where((time_left >= 0.0) & (energy_left >= 0.0), value, -np.inf)
        return x, y, value, f_d, f_s

    # ---- ranges --------------------------------------------------------------------------------

    def _power_range(self, problem: Problem) -> tuple[np.ndarray, np.ndarray]:
        """Per split, the lowest useful transmit power (meets the deadline with no compute) and
        P_max, W. ``low > high`` marks a split whose upload alone misses the deadline."""
        p_hi = problem.p_hi_w
        theta = problem.payload_bits
        snr_per_w = problem.gain / (problem.bandwidth_hz * problem.noise_psd_w_per_hz)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            needed = (
                np.exp2(theta / (problem.deadline_s * problem.bandwidth_hz)) - 1.0
            ) / snr_per_w
        needed = np.where(theta > 0.0, needed * (1.0 + 1e-9), 0.0)
        floor = max(problem.p_lo_w, p_hi * _LOWEST_POWER_FRACTION)
        return np.maximum(needed, floor), np.full_like(needed, p_hi)

    def _level_range(self, problem: Problem) -> tuple[float, float]:
        """Lowest and highest compute power level P worth searching, W."""
        lows, highs = [], []
        for k, lo, hi in (
            (problem.device_k, problem.f_device_lo_hz, problem.f_device_hi_hz),
            (problem.server_k, problem.f_server_lo_hz, problem.f_server_hi_hz),
        ):
            lows.append(k * max(lo, hi * _LOWEST_CLOCK_FRACTION) ** 3)
            highs.append(k * hi**3)
        return min(lows), max(highs)

    # ---- search ------------------------------------------------------------------------------

    def solve(self, problem: Problem) -> Solution:
        """The point with the most kept parameters over every split of ``problem``."""
        sizes = self.sizes
        if len(problem.splits) == 0:
            return Solution.infeasible()
        p_low, p_high = self._power_range(problem)
        rows = np.nonzero(p_low <= p_high)[0]
        if len(rows) == 0:
            return Solution.infeasible()
        pinned_power = problem.p_lo_w >= problem.p_hi_w
        power_points = 1 if pinned_power else sizes.power_points

        # Coarse p grid, each point maximised exactly over the power level.
        log_p = _log_grid(np.log(p_low[rows]), np.log(p_high[rows]), power_points)  # (S, Np)
        value, log_level = self._best_level(problem, rows, log_p)  # (S, Np) each
        best_per_split = value.max(axis=1)
        top = best_per_split.max()
        if not np.isfinite(top):
            return Solution.infeasible()
        keep = np.isfinite(best_per_split)
        keep &= best_per_split >= top - abs(top) * sizes.keep_splits_within
        rows, log_p, value, log_level = rows[keep], log_p[keep], value[keep], log_level[keep]

        # Zoom on p (the value is unimodal in p once the level is optimised).
        level_low, level_high = self._level_range(problem)
        margin = (math.log(level_high) - math.log(level_low)) / (sizes.level_points - 1)
        for _ in range(sizes.zooms if power_points > 1 else 0):
            best = value.argmax(axis=1)
            # New p points lie between the neighbours of the best one: so does their best level
            # (it moves continuously with p), give or take one coarse step.
            around = np.stack(
                [
                    log_level[np.arange(len(rows)), np.clip(best + k, 0, log_p.shape[1] - 1)]
                    for k in (-1, 0, 1)
                ]
            )
            log_p = _around(log_p, best, sizes.power_zoom_points)
            low = np.broadcast_to((around.min(axis=0) - margin)[:, None], log_p.shape)
            high = np.broadcast_to((around.max(axis=0) + margin)[:, None], log_p.shape)
            value, log_level = self._best_level(problem, rows, log_p, (low, high))

        cell = value.argmax(axis=1)
        pick = np.arange(len(rows))
        split_pick = int(np.argmax(value[pick, cell]))
        j = int(cell[split_pick])
        return self._solution(
            problem,
            int(rows[split_pick]),
            float(np.exp(log_p[split_pick, j])),
            float(np.exp(log_level[split_pick, j])),
        )

    def _best_level(
        self,
        problem: Problem,
        rows: np.ndarray,
        log_p: np.ndarray,
        bracket: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """For every (split, p), the best value over the power level P and that log level.

        The value is unimodal in P (it peaks where the optimal vertex of the LP changes, often
        at a kink), so a grid and repeated zooms around the best point bracket the peak. With
        ``bracket`` (log-level bounds per (split, p), from neighbouring p already solved) the
        search starts there instead of on the whole range.
        """
        sizes = self.sizes
        level_low, level_high = self._level_range(problem)
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
                log_level = _around(flat, best, points).reshape(count, width, -1)
            _, _, value, _, _ = self._evaluate(
                problem, row_index, p_w, np.exp(log_level), values_only=True
            )
        best = value.argmax(axis=2)
        i, j = np.indices(best.shape)
        return value[i, j, best], log_level[i, j, best]

    def least_energy(self, problem: Problem) -> Solution:
        """The point of least energy meeting the deadline at the LOWEST kept fractions allowed.

        For policies whose pruning is pinned (``no-pruning``): kept parameters are fixed, so the
        best clocks and power are those spending the least energy within T0. For a given p the
        least compute energy in the time left runs both sides at a common power level with the
        time budget met exactly (energy falls as time is allowed to grow), found by bisection;
        p is searched on a grid with zooms. Feasible when that least energy is within E0.
        """
        sizes = self.sizes
        p_low, p_high = self._power_range(problem)
        rows = np.nonzero(p_low <= p_high)[0]
        if len(rows) == 0:
            return Solution.infeasible()
        power_points = 1 if problem.p_lo_w >= problem.p_hi_w else sizes.power_points
        log_p = _log_grid(np.log(p_low[rows]), np.log(p_high[rows]), power_points)
        energy, level = self._least_energy_at(problem, rows, log_p)
        for _ in range(sizes.zooms if power_points > 1 else 0):
            log_p = _around(log_p, energy.argmin(axis=1), sizes.power_zoom_points)
            energy, level = self._least_energy_at(problem, rows, log_p)
        if not np.isfinite(energy).any():
            return Solution.infeasible()
        flat = int(energy.argmin())
        i, j = np.unravel_index(flat, energy.shape)
        row = int(rows[i])
        p_w = float(np.exp(log_p[i, j]))
        f_d, f_s = self._clocks(problem, np.array(level[i, j]))
        rho, rho_s = problem.rho_device_lo, problem.rho_server_lo
        if problem.payload_bits[row] <= 0.0:
            p_w = problem.p_hi_w
        latency, used, kept = problem.evaluate(row, rho, rho_s, p_w, float(f_d), float(f_s))
        return Solution(
            feasible=problem.meets_budgets(latency, used),
            index=row,
            split=int(problem.splits[row]),
            rho_device=rho,
            rho_server=rho_s,
            tx_power_w=p_w,
            f_device_hz=float(f_d),
            f_server_hz=float(f_s),
            kept_params=kept,
            latency_s=latency,
            energy_j=used,
        )

    def _least_energy_at(
        self, problem: Problem, rows: np.ndarray, log_p: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Least total energy (inf if the deadline cannot be met) and its power level, per
        (split, p)."""
        p_w = np.exp(log_p)
        theta = problem.payload_bits[rows][:, None]
        upload_s = theta / np.maximum(problem.rate_bps(p_w), _TINY)
        time_left = min(problem.deadline_s, _HUGE) * (1.0 - BUDGET_MARGIN) - upload_s
        u_d = (problem.rho_device_lo * problem.device_cycles[rows])[:, None]
        u_s = (problem.rho_server_lo * problem.server_cycles[rows])[:, None]
        level_low, level_high = self._level_range(problem)

        def compute_time(level: np.ndarray) -> np.ndarray:
            f_d, f_s = self._clocks(problem, level)
            return u_d / f_d + u_s / f_s

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
        f_d, f_s = self._clocks(problem, level)
        energy = problem.device_k * f_d**2 * u_d + problem.server_k * f_s**2 * u_s + p_w * upload_s
        return np.where(possible, energy, np.inf), level

    def _solution(self, problem: Problem, row: int, p_w: float, level_w: float) -> Solution:
        rows = np.array([[[row]]])
        x, y, value, f_d, f_s = self._evaluate(
            problem, rows, np.array([[[p_w]]]), np.array([[[level_w]]])
        )
        if not np.isfinite(value.item()):
            return Solution.infeasible()
        rho_d = float(min(max(x.item(), problem.rho_device_lo), problem.rho_device_hi))
        rho_s = float(min(max(y.item(), problem.rho_server_lo), problem.rho_server_hi))
        # A side with nothing on it (split 0 / split L) reports its part as unpruned.
        if problem.device_params[row] == 0.0 and problem.device_cycles[row] == 0.0:
            rho_d = problem.rho_device_hi
        if problem.server_params[row] == 0.0 and problem.server_cycles[row] == 0.0:
            rho_s = problem.rho_server_hi
        f_device, f_server = float(f_d.item()), float(f_s.item())
        if problem.payload_bits[row] <= 0.0:
            p_w = problem.p_hi_w  # nothing to send: any power does; report the top
        latency, energy, kept = problem.evaluate(row, rho_d, rho_s, p_w, f_device, f_server)
        return Solution(
            feasible=problem.meets_budgets(latency, energy),
            index=row,
            split=int(problem.splits[row]),
            rho_device=rho_d,
            rho_server=rho_s,
            tx_power_w=p_w,
            f_device_hz=f_device,
            f_server_hz=f_server,
            kept_params=kept,
            latency_s=latency,
            energy_j=energy,
        )


def _log_grid(low: np.ndarray, high: np.ndarray, points: int) -> np.ndarray:
    """Per row, ``points`` values evenly spaced from ``low`` to ``high`` (shape (S, points))."""
    if points == 1:
        return high[:, None].copy()
    steps = np.linspace(0.0, 1.0, points)
    return low[:, None] + (high - low)[:, None] * steps[None, :]


def _around(grid: np.ndarray, best: np.ndarray, points: int) -> np.ndarray:
    """Per row, ``points`` values from ``grid[best−1]`` to ``grid[best+1]`` (clamped)."""
    size = grid.shape[1]
    if size == 1:
        return grid
    rows = np.arange(len(grid))
    low = grid[rows, np.maximum(best - 1, 0)]
    high = grid[rows, np.minimum(best + 1, size - 1)]
    return _log_grid(low, high, points)
