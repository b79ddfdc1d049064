"""A brute-force reference for (P1): nested grids over power and device clock, the rest exact.

For a fixed split, transmit power ``p`` and clocks ``f``, ``f̃``, every term of (P1) is linear
in the kept fractions, so what is left is a two-variable linear program (LP)::

    maximise   q·ρ + s·ρ̃
    subject to (a_d/f)·ρ + (a_s/f̃)·ρ̃ ≤ T0 − θ/r(p)                 (time left for compute, s)
               (k_d·f²·a_d)·ρ + (k_s·f̃²·a_s)·ρ̃ ≤ E0 − p·θ/r(p)      (energy left, J)
               ρ_lo ≤ ρ ≤ ρ_hi,  ρ̃_lo ≤ ρ̃ ≤ ρ̃_hi

which :func:`best_ratios` solves exactly (vectorised over any number of LPs). How the rest is
searched, and why:

* Not a plain grid over ``(p, f, f̃)``: the optimum usually has a kept fraction at a bound (one
  side unpruned) with both budgets tight, where the LP value has a ridge in the clocks, and a
  grid loses linearly in its step there (about 1 % with a million points).
* So ``f̃`` is not gridded: for each ``(p, f)`` the best ``f̃`` is one of a few closed-form
  candidates (:func:`server_clock_candidates`, from the KKT conditions of the LP with ``f̃``
  free), and the LP is solved at each.
* The best kept parameters at a given ``(p, f)`` are a quasi-concave function of ``f`` (at fixed
  p, (P1) is convex in the cycles and times ``u = ρ·a``, ``t = u/f`` of the sides, and fixing
  ``f`` adds the linear constraint ``u = f·t``, so a point between two solutions is as good as
  the worse of them), and after maximising over ``f``, a quasi-concave function of ``p`` (in
  the upload time ``t_U``, (P1) is jointly convex: ``t_U·(2^(θ/(B·t_U)) − 1)`` is convex). A
  quasi-concave function's maximiser lies next to its best grid value, so :func:`maximise` can
  zoom in on it without missing it: ``p`` over the powers whose upload alone meets both budgets
  and ``f`` from the hardware floor (or ``GRID_FLOOR`` × top) to the top, both log-spaced, each
  on a grid and then on finer grids over the cells next to the best value.
* Splits are searched in decreasing order of an upper bound on their kept parameters and
  skipped once the bound cannot beat the best found (:func:`_upper_bound`).

Nothing here is clever beyond that on purpose: this is what the tests trust. It is a test
oracle, not part of the package (the policies never use it).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from coinfer.policies.problem import BUDGET_MARGIN, Problem, Solution

#: Lowest clock searched, as a fraction of the top clock (when the hardware's floor is lower).
GRID_FLOOR = 1e-4
#: Lowest power searched, as a fraction of P_max (when p_lo = 0: the paper's ``p > 0``).
POWER_FLOOR = 1e-6


#: Relative rounding slack of the LP's rows: a row short by less than this fraction of its
#: right-hand side counts as met with equality (far below ``BUDGET_MARGIN``).
_ROUNDING = 1e-12


def _room(left: np.ndarray, used: np.ndarray) -> np.ndarray:
    """``left − used``, with a rounding-size negative result counted as 0."""
    room = left - used
    return np.where(room >= -_ROUNDING * np.abs(left), np.maximum(room, 0.0), room)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` for ``den ≥ 0``, where ``x / 0`` is +inf for ``x ≥ 0`` and -inf below.

    Call it under ``np.errstate(divide="ignore", invalid="ignore")``.
    """
    if np.all(den > 0):
        return num / den
    return np.where(den > 0, num / den, np.where(num >= 0, np.inf, -np.inf))


def best_ratios(
    q: float,
    s: float,
    time_d: np.ndarray,
    time_s: np.ndarray,
    energy_d: np.ndarray,
    energy_s: np.ndarray,
    time_left: np.ndarray,
    energy_left: np.ndarray,
    rho_d: tuple[float, float],
    rho_s: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact solution of the LPs ``max q·ρ + s·ρ̃`` (arrays broadcast together).

    ``time_d`` / ``time_s`` are the seconds per unit of ρ / ρ̃ (``a/f``), ``energy_d`` /
    ``energy_s`` the joules per unit (``k·f²·a``), all ≥ 0; ``time_left`` / ``energy_left`` the
    right-hand sides (may be negative or inf); ``rho_d`` / ``rho_s`` the (lo, hi) boxes.
    Returns ``(ρ, ρ̃, value)``, with value = -inf where the LP is infeasible.

    Why it is exact: for a given ρ the best ρ̃ is ``m(ρ) = min(ρ̃_hi, (τ − α_d·ρ)/α_s,
    (ε − β_d·ρ)/β_s)``, so the LP is the maximum of the concave piecewise-linear function
    ``q·ρ + s·m(ρ)`` over the feasible ρ interval ``[ρ_lo, ρ_top]``; that maximum sits at an end
    of the interval or at a breakpoint (two of the three lines of ``m`` crossing), and all five
    are candidates.
    """
    lo_d, hi_d = rho_d
    lo_s, hi_s = rho_s
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        top = np.minimum(
            hi_d,
            np.minimum(
                _ratio(_room(time_left, time_s * lo_s), time_d),
                _ratio(_room(energy_left, energy_s * lo_s), energy_d),
            ),
        )
        cross = (time_left * energy_s - energy_left * time_s) / (
            time_d * energy_s - energy_d * time_s
        )
        candidates = np.stack(
            np.broadcast_arrays(
                lo_d,
                top,
                cross,
                _ratio(time_left - time_s * hi_s, time_d),
                _ratio(energy_left - energy_s * hi_s, energy_d),
            )
        )
        rho = np.where(np.isfinite(candidates), candidates, lo_d)
        rho = np.clip(rho, lo_d, np.maximum(top, lo_d))
        rho_s = np.minimum(
            hi_s,
            np.minimum(
                _ratio(_room(time_left, time_d * rho), time_s),
                _ratio(_room(energy_left, energy_d * rho), energy_s),
            ),
        )
        # a floor met up to rounding counts as met (then the ratio is lifted onto it)
        feasible = (top >= lo_d * (1 - _ROUNDING)) & (rho_s >= lo_s * (1 - _ROUNDING))
        rho_s = np.maximum(rho_s, lo_s)
        value = np.where(feasible, q * rho + s * rho_s, -np.inf)
    best = np.argmax(value, axis=0)[np.newaxis, np.newaxis]
    found = np.take_along_axis(np.stack(np.broadcast_arrays(rho, rho_s, value)), best, axis=1)
    return found[0, 0], found[1, 0], found[2, 0]


def _newton(fun, slope, x: np.ndarray, steps: int = 2) -> np.ndarray:
    """A few Newton steps on a root estimate (where they stay finite)."""
    for _ in range(steps):
        with np.errstate(divide="ignore", invalid="ignore"):
            better = x - fun(x) / slope(x)
        x = np.where(np.isfinite(better), better, x)
    return x


def _depressed_cubic_positive_root(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The largest real root of ``x³ + p·x + q = 0`` for ``q < 0`` (it is positive).

    Cardano's formula in a cancellation-free form (``x = u + v``, ``u·v = −p/3``), or the
    trigonometric form when there are three real roots, then polished by Newton steps.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        delta = (q / 2) ** 2 + (p / 3) ** 3
        u = np.cbrt(-q / 2 + np.sqrt(np.maximum(delta, 0.0)))
        v = -p / (3 * u)
        one_real = np.where(p >= 0, -q / (u * u + p / 3 + v * v), u + v)
        angle = np.arccos(np.clip(3 * q / (2 * p) * np.sqrt(-3 / p), -1.0, 1.0))
        three_real = 2 * np.sqrt(-p / 3) * np.cos(angle / 3)
        x = np.where(delta >= 0, one_real, three_real)
    return _newton(lambda x: x**3 + p * x + q, lambda x: 3 * x**2 + p, x)


def _two_positive_roots(b: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two positive roots of ``x³ + b·x² + d = 0`` (``b < 0 < d``), NaN when there are none.

    With ``x = y − b/3`` the cubic is ``y³ + p·y + q`` with ``p = −b²/3 < 0``; its three real
    roots are ``2·sqrt(−p/3)·cos((φ − 2πk)/3)``: k = 0 the largest, k = 1 the middle (the third is
    negative, as the product of the roots is ``−d < 0``).
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p = -(b**2) / 3
        q = 2 * b**3 / 27 + d
        ratio = 3 * q / (2 * p) * np.sqrt(-3 / p)
        angle = np.arccos(np.clip(ratio, -1.0, 1.0))
        scale = 2 * np.sqrt(-p / 3)
        roots = []
        for k in (0, 1):
            x = scale * np.cos((angle - 2 * np.pi * k) / 3) - b / 3
            x = _newton(lambda x: x**3 + b * x**2 + d, lambda x: 3 * x**2 + 2 * b * x, x)
            roots.append(np.where(np.abs(ratio) <= 1, x, np.nan))
    return roots[0], roots[1]


def server_clock_candidates(
    q: float,
    s: float,
    a_s: float,
    k_s: float,
    time_d: np.ndarray,
    energy_d: np.ndarray,
    time_left: np.ndarray,
    energy_left: np.ndarray,
    rho_d: tuple[float, float],
    rho_s: tuple[float, float],
    clock: tuple[float, float],
) -> list[np.ndarray]:
    """Server clocks (Hz) among which lies the best ``f̃`` of the LP for each given ``(p, f)``.

    With ``α = time_d = a_d/f``, ``β = energy_d = k_d·f²·a_d``, ``τ``, ``ε`` the budgets left, at
    the best point either ``f̃`` is at a bound, or it is interior and its stationarity gives
    ``λ = 2·μ·k_s·f̃³`` (λ, μ: multipliers of the time and energy rows), so both rows are tight
    (or neither is, and then any f̃ meeting the unpruned server works, among them the one of
    case a). Then, by which kept fractions sit at a bound:

    a. ρ at a bound r, ρ̃ free: ``s = 3·μ·k_s·a_s·f̃²`` and the two tight rows give
       ``f̃³ = (ε − r·β) / (k_s·(τ − r·α))``;
    b. ρ̃ at a bound b > 0, ρ free: the two tight rows give
       ``b·k_s·a_s·α·f̃³ + (τ·β − ε·α)·f̃ − b·a_s·β = 0`` (one positive root);
    c. both free: ``q = λ·α + μ·β`` and ``s = 3·μ·k_s·a_s·f̃²`` give
       ``2·s·k_s·α·f̃³ − 3·q·k_s·a_s·f̃² + s·β = 0`` (zero or two positive roots).

    Every candidate is clipped to ``clock`` = (lo, hi) (not-a-number: hi).
    """
    lo, hi = clock
    shape = np.broadcast(time_d, time_left).shape
    out = [np.full(shape, lo), np.full(shape, hi)]
    if a_s <= 0 or hi <= lo:
        return out[1:]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for r in rho_d:  # case a
            cube = (energy_left - r * energy_d) / (k_s * (time_left - r * time_d))
            out.append(np.where(cube > 0, np.cbrt(cube), np.nan))
        for b in rho_s:  # case b
            if b > 0:
                lead = b * k_s * a_s * time_d
                out.append(
                    _depressed_cubic_positive_root(
                        (time_left * energy_d - energy_left * time_d) / lead,
                        -b * a_s * energy_d / lead,
                    )
                )
        if q > 0 and s > 0:  # case c
            out.extend(
                _two_positive_roots(
                    -3.0 * q * a_s / (2.0 * s * time_d), energy_d / (2.0 * k_s * time_d)
                )
            )
    return [np.clip(np.where(np.isfinite(x), x, hi), lo, hi) for x in out]


def _shrunk(budget: float) -> float:
    """A budget with the solvers' relative safety margin taken off (inf stays inf)."""
    return budget * (1.0 - BUDGET_MARGIN) if budget > 0 else budget


def _power_range(
    problem: Problem, index: int, deadline: float, budget: float
) -> tuple[float, float] | None:
    """The interval of powers, W, whose upload alone meets both budgets, or None if empty."""
    theta = float(problem.payload_bits[index])
    p_hi = float(problem.p_hi_w)
    if theta <= 0.0:
        return (p_hi, p_hi)
    if not p_hi > 0.0:
        return None
    p_lo = min(max(float(problem.p_lo_w), POWER_FLOOR * p_hi), p_hi)
    snr_per_w = problem.gain / (problem.bandwidth_hz * problem.noise_psd_w_per_hz)
    if not snr_per_w > 0 or not deadline > 0:
        return None
    if math.isfinite(deadline):  # the power whose rate just meets the deadline: θ/r(p) = T0
        exponent = theta / (problem.bandwidth_hz * deadline) * math.log(2.0)
        if exponent > 700:
            return None
        p_lo = max(p_lo, math.expm1(exponent) / snr_per_w * (1 + 1e-12))
    if p_lo > p_hi:
        return None

    def upload_energy(p: float) -> float:
        return p * theta / float(problem.rate_bps(p))

    if upload_energy(p_lo) > budget:
        return None
    if upload_energy(p_hi) > budget:  # the upload energy grows with p: cut where it is E0
        p_hi = brentq(lambda p: upload_energy(p) - budget, p_lo, p_hi, xtol=1e-300, rtol=1e-14)
    return (p_lo, p_hi)


class _Split:
    """The exact best ``(ρ, ρ̃, f̃)`` at given ``(p, f)`` for one split point."""

    def __init__(self, problem: Problem, index: int, powers: tuple[float, float]) -> None:
        self.problem, self.index = problem, index
        self.deadline = _shrunk(problem.deadline_s)
        self.budget = _shrunk(problem.energy_budget_j)
        self.theta = float(problem.payload_bits[index])
        self.a_d = float(problem.device_cycles[index])
        self.a_s = float(problem.server_cycles[index])
        self.q = float(problem.device_params[index])
        self.s = float(problem.server_params[index])
        f_hi, fs_hi = problem.f_device_hi_hz, problem.f_server_hi_hz
        f_lo = max(problem.f_device_lo_hz, GRID_FLOOR * f_hi)
        fs_lo = max(problem.f_server_lo_hz, GRID_FLOOR * fs_hi)
        self.server_clock = (min(fs_lo, fs_hi), fs_hi)
        #: (lo, hi) of the searched power and device clock; a point when nothing varies
        self.power_range = powers
        self.clock_range = (min(f_lo, f_hi), f_hi) if self.a_d > 0 else (f_hi, f_hi)

    def evaluate(self, p: np.ndarray, f: np.ndarray):
        """``(kept, ρ, ρ̃, f̃)``, the best over ρ, ρ̃, f̃ at each ``(p, f)`` (-inf: infeasible)."""
        with np.errstate(all="ignore"):
            return self._evaluate(p, f)

    def _evaluate(self, p: np.ndarray, f: np.ndarray):
        pr = self.problem
        if self.theta > 0:
            upload_s = self.theta / pr.rate_bps(p)
            upload_j = p * upload_s
        else:
            upload_s = upload_j = np.zeros_like(p)
        time_left = self.deadline - upload_s
        energy_left = self.budget - upload_j
        # a side with no cycles costs nothing, whatever its clock (even 0)
        time_d = self.a_d / f if self.a_d > 0 else np.zeros_like(f)
        energy_d = pr.device_k * f**2 * self.a_d
        rho_d = (pr.rho_device_lo, pr.rho_device_hi)
        rho_s = (pr.rho_server_lo, pr.rho_server_hi)
        server_clock = np.stack(
            np.broadcast_arrays(
                *server_clock_candidates(
                    self.q,
                    self.s,
                    self.a_s,
                    pr.server_k,
                    time_d,
                    energy_d,
                    time_left,
                    energy_left,
                    rho_d,
                    rho_s,
                    self.server_clock,
                )
            )
        )
        rho, rho_sv, kept = best_ratios(
            self.q,
            self.s,
            time_d,
            self.a_s / server_clock if self.a_s > 0 else np.zeros_like(server_clock),
            energy_d,
            pr.server_k * server_clock**2 * self.a_s,
            time_left,
            energy_left,
            rho_d,
            rho_s,
        )
        best = np.argmax(kept, axis=0)[np.newaxis, np.newaxis]
        found = np.take_along_axis(np.stack([kept, rho, rho_sv, server_clock]), best, axis=1)
        return list(found[:, 0])

    def best_clock(self, p: np.ndarray, points: int, zoom_points: int, levels: int) -> np.ndarray:
        """For each power in ``p`` (1-D), the best device clock: rows (kept, ρ, ρ̃, f̃, f)."""
        lo, hi = self.clock_range
        if not (hi > lo > 0):
            return np.stack([*self.evaluate(p, np.full_like(p, hi)), np.full_like(p, hi)])

        def at(log_f: np.ndarray) -> np.ndarray:
            f = np.exp(log_f)
            return np.stack([*self.evaluate(p[:, np.newaxis], f), f])

        return maximise(at, math.log(lo), math.log(hi), len(p), points, zoom_points, levels)

    def best_power(self, points: int, zoom_points: int, levels: int) -> np.ndarray:
        """The best point of the split: (kept, ρ, ρ̃, f̃, f, p)."""
        lo, hi = self.power_range

        def at_power(p: np.ndarray) -> np.ndarray:
            found = self.best_clock(p, points, zoom_points, levels)
            return np.concatenate([found, p[np.newaxis]])

        if not hi > lo:
            return at_power(np.array([hi]))[:, 0]
        return maximise(
            lambda log_p: at_power(np.exp(log_p[0]))[:, np.newaxis, :],
            math.log(lo),
            math.log(hi),
            1,
            points,
            zoom_points,
            levels,
        )[:, 0]


def maximise(
    at,
    lo: float,
    hi: float,
    rows: int,
    points: int,
    zoom_points: int,
    levels: int,
) -> np.ndarray:
    """Maximise ``rows`` quasi-concave functions of one variable over ``[lo, hi]`` by grids.

    ``at(x)`` takes an array ``x`` of shape (rows, m) and returns an array (k, rows, m) whose
    row 0 is the function's values (-inf: infeasible) and the other rows what to carry along.
    A grid of ``points`` values is taken, then ``levels`` times a grid of ``zoom_points``
    values over the cells next to the best grid value(s). For a quasi-concave function the
    maximiser always lies there: a point between the best grid value and the maximiser is at
    least as good as the best grid value. Returns (k, rows), the best data per row.
    """
    low = np.full(rows, lo)
    high = np.full(rows, hi)
    best = None
    count = points
    rows_index = np.arange(rows)
    for _ in range(levels + 1):
        x = low[:, np.newaxis] + (high - low)[:, np.newaxis] * np.linspace(0.0, 1.0, count)
        data = at(x)
        values = data[0]
        top = values.max(axis=1)
        first = np.argmax(values == top[:, np.newaxis], axis=1)
        last = count - 1 - np.argmax((values == top[:, np.newaxis])[:, ::-1], axis=1)
        chosen = data[:, rows_index, first]
        if best is None:
            best = chosen
        else:
            better = chosen[0] > best[0]
            best = np.where(better, chosen, best)
        low = x[rows_index, np.maximum(first - 1, 0)]
        high = x[rows_index, np.minimum(last + 1, count - 1)]
        count = zoom_points
    return best


def _sides(problem: Problem, index: int):
    """(params, cycles, k, clock range searched, ratio range) of the device and the server."""
    for params, cycles, k, (f_lo, f_hi), rho in (
        (
            problem.device_params[index],
            problem.device_cycles[index],
            problem.device_k,
            (problem.f_device_lo_hz, problem.f_device_hi_hz),
            (problem.rho_device_lo, problem.rho_device_hi),
        ),
        (
            problem.server_params[index],
            problem.server_cycles[index],
            problem.server_k,
            (problem.f_server_lo_hz, problem.f_server_hi_hz),
            (problem.rho_server_lo, problem.rho_server_hi),
        ),
    ):
        yield float(params), float(cycles), k, (max(f_lo, GRID_FLOOR * f_hi), f_hi), rho


def _upper_bound(problem: Problem, index: int, powers: tuple[float, float]) -> float:
    """Kept parameters no point of the split can exceed (-inf: no point is feasible).

    The compute of both sides gets all the time the fastest upload leaves, ``T``, and all the
    energy the thriftiest upload leaves, ``E``. Then, each side alone keeps at most
    ``max over f of min(ρ_hi, T·f/a, E/(k·f²·a))``; and for any λ, μ ≥ 0 the sum over the
    sides of ``max over ρ, f of ρ·(params − a·(λ/f + μ·k·f²))``, plus ``λ·T + μ·E``, bounds
    the kept parameters (weak duality). The least of these over a grid of (λ, μ) is returned.
    """
    theta = float(problem.payload_bits[index])
    deadline, budget = _shrunk(problem.deadline_s), _shrunk(problem.energy_budget_j)
    time_left, energy_left = np.float64(deadline), np.float64(budget)
    if theta > 0:
        time_left -= theta / problem.rate_bps(powers[1])
        energy_left -= powers[0] * theta / problem.rate_bps(powers[0])
    sides = list(_sides(problem, index))
    alone = 0.0
    for params, cycles, k, (f_lo, f_hi), (rho_lo, rho_hi) in sides:
        rho = rho_hi
        if cycles > 0:
            # where min(T·f/a, E/(k·f²·a)) peaks: where the two meet, within the clock range
            f = np.clip(np.cbrt(energy_left / (k * time_left)), f_lo, f_hi)
            rho = min(rho_hi, time_left * f / cycles, energy_left / (k * f**2 * cycles))
        if not rho >= rho_lo:
            return -math.inf
        alone += params * rho
    # the dual bound, multipliers in units of all parameters per time / energy left
    total = sum(params for params, *_ in sides)
    scale = np.concatenate([[0.0], np.geomspace(1e-3, 1e2, 48)])
    lam = scale[:, np.newaxis] * total / time_left if np.isfinite(time_left) else np.zeros((1, 1))
    mu = (
        scale[np.newaxis, :] * total / energy_left if np.isfinite(energy_left) else np.zeros((1, 1))
    )
    dual = np.where(lam > 0, lam * time_left, 0.0) + np.where(mu > 0, mu * energy_left, 0.0)
    for params, cycles, k, (f_lo, f_hi), (rho_lo, rho_hi) in sides:
        if cycles <= 0:
            dual = dual + params * rho_hi
            continue
        f = np.clip(np.cbrt(lam / (2 * mu * k)), f_lo, f_hi)  # minimises λ/f + μ·k·f²
        gain = params - cycles * (lam / f + mu * k * f**2)
        dual = dual + np.where(gain > 0, rho_hi, rho_lo) * gain
    dual = dual[~np.isnan(dual)]
    return float(min(alone, dual.min())) if dual.size else float(alone)


def _solve_split(
    problem: Problem,
    index: int,
    powers: tuple[float, float],
    points: int,
    zoom_points: int,
    levels: int,
) -> Solution:
    split = _Split(problem, index, powers)
    kept, rho, rho_s, fs, f, p = (float(x) for x in split.best_power(points, zoom_points, levels))
    if not math.isfinite(kept):
        return Solution.infeasible()
    latency, energy, kept = problem.evaluate(index, rho, rho_s, p, f, fs)
    if not problem.meets_budgets(latency, energy):  # never expected: a last safety net
        return Solution.infeasible()
    return Solution(
        True, index, int(problem.splits[index]), rho, rho_s, p, f, fs, kept, latency, energy
    )


def solve_dense_grid(
    problem: Problem, points: int = 24, zoom_points: int = 17, levels: int = 5
) -> Solution:
    """Best feasible point of ``problem`` over every split, by nested grid searches.

    Per split: ``points`` log-spaced powers (over the range whose upload alone meets both
    budgets), and for each power ``points`` log-spaced device clocks, each with its exact best
    ``(ρ, ρ̃, f̃)``; then ``levels`` zooms of ``zoom_points`` values per axis over the cells next
    to the best one (each zoom divides the step by ``(zoom_points − 1)/2``; the defaults end
    with steps of about 2e-5 in log units, i.e. relative, and agree with much finer grids to
    about 1e-7 in kept parameters). Returns the split with the most kept parameters, or
    :meth:`Solution.infeasible` when no grid point meets both budgets (with ``BUDGET_MARGIN``
    taken off them). About 0.1–0.3 s for the 13 splits of BERT.
    """
    deadline, budget = _shrunk(problem.deadline_s), _shrunk(problem.energy_budget_j)
    candidates = []
    for index in range(len(problem.splits)):
        powers = _power_range(problem, index, deadline, budget)
        if powers is not None:
            with np.errstate(all="ignore"):
                bound = _upper_bound(problem, index, powers)
            candidates.append((bound, index, powers))
    best = Solution.infeasible()
    # most promising first; a split whose bound cannot beat the best so far is skipped
    for bound, index, powers in sorted(candidates, key=lambda c: (-c[0], c[1])):
        if bound * (1 + 1e-9) < best.kept_params:  # (a hair of slack for rounding)
            continue
        found = _solve_split(problem, index, powers, points, zoom_points, levels)
        if found.feasible and (
            found.kept_params > best.kept_params
            or (found.kept_params == best.kept_params and index < best.index)
        ):
            best = found
    return best
