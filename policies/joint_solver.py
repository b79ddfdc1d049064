"""The fast exact solver of (P1): one parameter per split, an exact LP on it, a dual bound.

Why one parameter is enough. Per split, (P1) is convex in the compute times ``t = ρ·a/f`` and
the upload time ``t_U = θ/r(p)`` (paper section 6; as a function of ``t_U`` the upload energy
``t_U·(2^(θ/(B·t_U)) − 1)/c`` is convex, though it is concave in p). Let ``λ`` and ``μ`` be the
multipliers of the time and energy budgets and ``Λ = λ/μ``. The KKT conditions fix everything
but the kept fractions as functions of ``Λ`` alone:

* each clock minimises ``Λ/f + k·f²`` (time and energy per cycle): ``k·f³ = Λ/2``, so both
  sides run at the same power level ``P = Λ/2`` unless a clock bound clips it;
* the transmit power minimises ``(Λ + p)·θ/r(p)``: ``r(p)/r'(p) − p = Λ``, that is
  ``Λ = ((1 + c·p)·ln(1 + c·p) − c·p)/c`` with ``c = g/(B·N0)``, clipped to the power range.

For a fixed ``Λ`` what is left is a linear programme in ``(ρ, ρ̃)``, solved exactly at five
breakpoints. Its value ``h(Λ)`` is a feasible value, the optimum at the optimum's ``Λ``. By the
envelope theorem ``dh/dΛ`` has the sign of ``λ_LP − Λ·μ_LP`` (the LP's own multipliers: as p and
the clocks are stationary for ``Λ``, the energy left falls ``Λ`` times as fast as the time left
rises), so ``h`` rises while the LP prices time above ``Λ`` and falls once it prices it below,
and where the sign turns the point is a KKT point of the convex problem: the split's optimum.

Choosing the split. The Lagrangian dual bounds each split's optimum from above: for the
multipliers ``μ·(Λ, 1)`` the Lagrangian's maximum over power and clocks is at the family point of
``Λ`` and over ``(ρ, ρ̃)`` at their bounds, a convex piecewise-linear function of ``μ``, least
at a breakpoint. Its least value over ``Λ`` is the split's optimum (strong duality), reached at
the optimum's ``Λ``; it is −inf where the lowest kept fractions cannot be paid for (infeasible).

What is computed. The family is indexed by a *virtual power* ``v`` (``p = clip(v)`` and ``Λ(v)``
explicit: no root finding). (1) One numpy pass evaluates the dual bound for every split on a
grid of ``ln v`` over the range where anything moves (the power, from the least that meets the
deadline with nothing to compute, and either clock) plus ``Λ → 0`` and ``Λ → ∞``: each split's
upper bound, and the grid cell where it is least, which brackets that split's optimal ``Λ``.
(2) Splits are refined in the order of their bounds until the best point found beats every
bound left (usually after one split). The refinement maximises ``h`` in plain floats from the
bracket: Newton steps on the corner where a second budget starts to bind (the usual maximum:
one kept fraction at a bound, the other held by both budgets), secant steps on ``h'`` for a
smooth maximum, bisection as the safeguard. Each point is a solved LP, so the answer is a real
point; it is re-evaluated with :meth:`Problem.evaluate` (budgets shrunk by ``BUDGET_MARGIN``).
What depends only on the static fields (hardware, bounds, kept parameters per split) is built
once per device class and kept by the solver.

Like the former search, the solver keeps the clocks at or above 1e-3 of their top and the power
at or above 1e-7 of ``P_max`` (it only matters with no deadline). That search, grids and zooms
over ``(split, p, P)``, is kept as :meth:`JointSolver.solve_grid` (slow, for cross-checks).
``tests/policies/test_joint_solver.py`` compares the solver with a fine run of it and with the
dual bound computed independently.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from coinfer.policies.problem import BUDGET_MARGIN, Problem, Solution

#: Lowest clock, as a fraction of the top, searched when a chip's lowest clock is 0.
_LOWEST_CLOCK_FRACTION = 1e-3
#: Lowest transmit power, as a fraction of P_max, searched when no deadline bounds it below.
_LOWEST_POWER_FRACTION = 1e-7


@dataclass(frozen=True)
class GridSizes:
    """Search sizes. :meth:`JointSolver.solve` uses the last three; the former search
    (:meth:`JointSolver.solve_grid`) the first eight; :meth:`JointSolver.least_energy` the
    power grid (``power_points``, ``power_zoom_points``, ``zooms``)."""

    power_points: int = 16  #: coarse points over transmit power p
    level_points: int = 32  #: coarse points over the compute power level P
    power_zoom_points: int = 9  #: points of each zoomed p grid
    level_zoom_points: int = 25  #: points of each zoomed P grid
    zooms: int = 3  #: zoom rounds on p
    level_zooms: int = 4  #: zoom rounds on P, for every p
    level_zooms_warm: int = 3  #: zoom rounds on P from a bracket found at neighbouring p
    keep_splits_within: float = 0.02  #: splits refined: coarse value within this of the best
    family_points: int = 24  #: points per split of the grid of the dual bound
    refine_tolerance: float = 1e-11  #: relative gain at which a smooth maximum is taken
    refine_iterations: int = 60  #: most evaluations of the refinement of one split


#: Stand-in for an infinite budget or a zero denominator (keeps the arithmetic free of inf/nan).
_HUGE = 1e30
_TINY = 1e-300
_LN2 = math.log(2.0)
#: Distance in ln v of the grid's two extra points (Λ → 0 and Λ → ∞ for the dual bound).
_FAR = 200.0
#: Below this ``c·v`` the family's Λ(v) is evaluated by its series (the closed form cancels).
_SERIES_BELOW = 1e-3


# ---- the family: virtual power v -> (Λ, p, clocks) ----------------------------------------


def _lambda_of(y: float) -> float:
    """``(1 + y)·ln(1 + y) − y`` for ``y = c·v ≥ 0`` (``c·Λ``), accurate for small ``y``."""
    if y < _SERIES_BELOW:
        return y * y * (0.5 - y * (1.0 / 6.0 - y * (1.0 / 12.0 - y / 20.0)))
    return (1.0 + y) * math.log1p(y) - y


def _virtual_power(z: float) -> float:
    """Inverse of :func:`_lambda_of`: the ``y ≥ 0`` with ``(1 + y)·ln(1 + y) − y = z``."""
    if z <= 0.0:
        return 0.0
    # The function is convex and increasing: Newton's iterates stay above the root after the
    # first step and fall to it monotonically.
    y = math.sqrt(2.0 * z) if z < 1.0 else z / math.log1p(z) + 1.0
    for iteration in range(100):
        step = (_lambda_of(y) - z) / math.log1p(y)
        if iteration and step <= 1e-14 * y:  # (rounding stops the monotone fall)
            break
        y -= step
    return y


@dataclass
class _Split:
    """Constants of one split, as plain floats, for the scalar refinement."""

    index: int  #: row in the problem's arrays
    q: float  #: parameters on the device
    s: float  #: parameters on the server
    a_d: float  #: unpruned device cycles
    a_s: float  #: unpruned server cycles
    theta: float  #: payload bits


class _Static:
    """What a family needs that depends only on the static fields of a problem (hardware,
    bounds, kept parameters per split): built once per device class and kept by the solver."""

    def __init__(self, problem: Problem) -> None:
        self.p_hi = p_hi = max(problem.p_hi_w, 0.0)
        self.p_lo = min(max(problem.p_lo_w, p_hi * _LOWEST_POWER_FRACTION), p_hi)
        self.k_d, self.k_s = k_d, k_s = problem.device_k, problem.server_k
        self.f_d_lo = max(problem.f_device_lo_hz, problem.f_device_hi_hz * _LOWEST_CLOCK_FRACTION)
        self.f_d_hi = problem.f_device_hi_hz
        self.f_s_lo = max(problem.f_server_lo_hz, problem.f_server_hi_hz * _LOWEST_CLOCK_FRACTION)
        self.f_s_hi = problem.f_server_hi_hz
        self.level_d_lo, self.level_d_hi = k_d * self.f_d_lo**3, k_d * self.f_d_hi**3
        self.level_s_lo, self.level_s_hi = k_s * self.f_s_lo**3, k_s * self.f_s_hi**3
        self.x_lo, self.x_hi = problem.rho_device_lo, problem.rho_device_hi
        self.y_lo, self.y_hi = problem.rho_server_lo, problem.rho_server_hi
        # what moves along the family: the power (splits that upload), either clock (splits
        # that compute on that side); per split a code 4·uploads + 2·device + server
        self.p_moves = self.p_lo < self.p_hi
        self.d_moves = self.f_d_lo < self.f_d_hi
        self.s_moves = self.f_s_lo < self.f_s_hi
        self.sends = problem.payload_bits > 0.0
        self.code = (
            4 * self.sends.astype(int)
            + 2 * (problem.device_cycles > 0.0)
            + (problem.server_cycles > 0.0).astype(int)
        )
        self.codes = sorted(set(self.code.tolist()))
        # for the vectorised bound, both sides stacked on a leading axis (0: device, 1: server)
        self.params = np.concatenate((problem.device_params, problem.server_params)).reshape(
            2, -1, 1
        )
        self.top = self.x_hi * problem.device_params + self.y_hi * problem.server_params
        self.level_lo = np.array([self.level_d_lo, self.level_s_lo])[:, None, None]
        self.level_hi = np.array([self.level_d_hi, self.level_s_hi])[:, None, None]
        self.inverse_k = np.array([1.0 / k_d, 1.0 / k_s])[:, None, None]
        self.box_lo = np.array([self.x_lo, self.y_lo])[:, None, None]
        self.box_hi = np.array([self.x_hi, self.y_hi])[:, None, None]
        self.boxes_from_zero = self.x_lo == 0.0 and self.y_lo == 0.0
        self.boxes_to_one = self.x_hi == 1.0 and self.y_hi == 1.0

    @staticmethod
    def key(problem: Problem) -> tuple:
        """What :class:`_Static` is built from."""
        return (
            problem.device_params.tobytes(),
            problem.server_params.tobytes(),
            (problem.payload_bits > 0.0).tobytes(),
            (problem.device_cycles > 0.0).tobytes(),
            (problem.server_cycles > 0.0).tobytes(),
            problem.device_k,
            problem.server_k,
            problem.f_device_lo_hz,
            problem.f_device_hi_hz,
            problem.f_server_lo_hz,
            problem.f_server_hi_hz,
            problem.p_lo_w,
            problem.p_hi_w,
            problem.rho_device_lo,
            problem.rho_device_hi,
            problem.rho_server_lo,
            problem.rho_server_hi,
        )


class _Family:
    """The family of one problem: the map from ``s = ln v`` to a point of (P1) and its LP."""

    def __init__(self, problem: Problem, static: _Static) -> None:
        self.problem = problem
        self.static = static
        bandwidth, noise = problem.bandwidth_hz, problem.noise_psd_w_per_hz
        snr = problem.gain / (bandwidth * noise) if bandwidth > 0 and noise > 0 else 0.0
        self.snr = snr if math.isfinite(snr) else 0.0
        #: c of the parametrisation (any positive value describes the family when c = 0).
        self.c = self.snr if self.snr > 0.0 else 1.0
        self.bandwidth = bandwidth
        shrink = 1.0 - BUDGET_MARGIN
        self.time_budget = min(problem.deadline_s, _HUGE) * shrink
        self.energy_budget = min(problem.energy_budget_j, _HUGE) * shrink
        # (the scalars of the static part, at hand for the scalar evaluation)
        self.p_lo, self.p_hi = static.p_lo, static.p_hi
        self.k_d, self.k_s = static.k_d, static.k_s
        self.f_d_lo, self.f_d_hi = static.f_d_lo, static.f_d_hi
        self.f_s_lo, self.f_s_hi = static.f_s_lo, static.f_s_hi
        self.x_lo, self.x_hi = static.x_lo, static.x_hi
        self.y_lo, self.y_hi = static.y_lo, static.y_hi

    # ---- ranges ----------------------------------------------------------------------------

    def _v_of_level(self, level: float) -> float:
        """Virtual power whose Λ is twice the power level ``level``."""
        return _virtual_power(self.c * 2.0 * level) / self.c

    def coarse(self, points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The splits worth searching, their grids over ``s = ln v`` and where to start.

        Per split, ``points`` values of ``s`` evenly spaced over the range where anything moves
        (the transmit power, for a split that uploads, from the least power meeting the
        deadline with nothing to compute; either clock, for a side that computes), plus one far
        below and one far above (Λ → 0 and Λ → ∞). Returns the rows of the usable splits (the
        upload alone meets the deadline), ``s`` (S, points + 2), an upper bound on each split's
        optimum (−inf: certainly infeasible) and the cell of ``s`` (1 … points) where the bound
        is least.

        The bound is the Lagrangian dual: for multipliers ``λ = Λ·μ`` of the time and energy
        budgets, the Lagrangian's maximum over the upload time and the clocks is at the family
        point of ``Λ``, and over ``(ρ, ρ̃)`` at their bounds, which leaves a convex
        piecewise-linear function of ``μ``, minimised at a breakpoint. (P1) is convex in the
        upload and compute times, so the bound's minimum over Λ is the optimum, reached at the
        optimum's own Λ: the cell brackets it.
        """
        problem, static = self.problem, self.static
        # the range of v of each pattern of what moves (code 4·uploads + 2·device + server)
        p_lo, p_hi = self.p_lo, self.p_hi
        moving = []
        if static.d_moves:
            moving.append(
                (2, self._v_of_level(static.level_d_lo), self._v_of_level(static.level_d_hi))
            )
        if static.s_moves:
            moving.append(
                (1, self._v_of_level(static.level_s_lo), self._v_of_level(static.level_s_hi))
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
            if deadline > 0.0 and self.snr > 0.0:
                needed = (np.exp2(theta * (1.0 / (deadline * self.bandwidth))) - 1.0) * (
                    (1.0 + 1e-9) / self.snr
                )
            else:
                needed = np.where(static.sends, np.inf, 0.0)
        usable = needed <= p_hi
        if static.p_moves:  # below that power nothing is feasible
            low = np.maximum(low, np.minimum(needed, high))
        log_lo = np.log(np.maximum(low, _TINY))
        span = np.log(np.maximum(high, low)) - log_lo
        rows = np.nonzero(usable)[0] if not usable.all() else None
        if rows is not None:
            if len(rows) == 0:
                return rows, np.empty((0, points + 2)), np.empty(0), np.empty(0, dtype=int)
            log_lo, span = log_lo[rows], span[rows]
        steps, offsets = _steps(points)
        log_v = log_lo[:, None] + span[:, None] * steps + offsets
        upper, cells = self._bounds(rows, log_v)
        if rows is None:
            rows = np.arange(len(theta))
        return rows, log_v, upper, cells

    def _bounds(self, rows: np.ndarray | None, log_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The dual bound of :meth:`coarse` at every ``s`` of splits ``rows`` (None: all): its
        least value per split and the (family) cell where it is reached."""
        problem, static = self.problem, self.static
        index = slice(None) if rows is None else rows
        theta = problem.payload_bits[index, None]
        # both sides stacked on a leading axis (0: device, 1: server)
        cycles = np.concatenate((problem.device_cycles[index], problem.server_cycles[index]))
        cycles = cycles.reshape(2, -1, 1)
        params = static.params if rows is None else static.params[:, rows]
        v = np.exp(log_v)
        y = self.c * v
        lam = ((1.0 + y) * np.log1p(y) - y) * (1.0 / self.c)  # Λ (rough for tiny y: harmless)
        p = np.minimum(np.maximum(v, self.p_lo), self.p_hi)
        upload = theta / np.maximum(np.log1p(self.snr * p) * (self.bandwidth / _LN2), _TINY)
        # K = Λ·T' + E': the budgets left after the upload, weighted
        budget = (self.time_budget * lam + self.energy_budget) - (lam + p) * upload
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

    # ---- one point (plain floats) ---------------------------------------------------------

    def point(self, split: _Split, s: float) -> _Point:
        """The family point at ``s = ln v`` of ``split``: the LP's optimum and ``dh/ds``."""
        v = math.exp(s)
        c = self.c
        y = c * v
        lam = _lambda_of(y) / c
        dlam = v * math.log1p(y)  # dΛ/ds
        # transmit power and the budgets left for computing
        p_hi, p_lo = self.p_hi, self.p_lo
        if v >= p_hi:
            p, dp = p_hi, 0.0
        elif v <= p_lo:
            p, dp = p_lo, 0.0
        else:
            p, dp = v, v
        theta = split.theta
        if theta > 0.0:
            snr = self.snr
            rate = self.bandwidth * math.log2(1.0 + snr * p)
            if rate <= 0.0:
                return _Point(s, -math.inf, 1.0, _INFEASIBLE, p)
            upload = theta / rate
            time_left = self.time_budget - upload
            energy_left = self.energy_budget - p * upload
            # d(upload)/dp = −θ·r'/r², r' = B·c/((1 + c·p)·ln 2)
            dupload = -upload / rate * (self.bandwidth * snr / ((1.0 + snr * p) * _LN2)) * dp
            dtime = -dupload
            denergy = -(upload * dp + p * dupload)
        else:
            time_left, energy_left, dtime, denergy = self.time_budget, self.energy_budget, 0.0, 0.0
        # clocks at the common level P = Λ/2, clipped
        level = 0.5 * lam
        f_d, df_d = _clipped_clock(level, self.k_d, self.f_d_lo, self.f_d_hi, dlam, lam)
        f_s, df_s = _clipped_clock(level, self.k_s, self.f_s_lo, self.f_s_hi, dlam, lam)
        # the LP in (ρ, ρ̃): coefficients per unit ρ and their derivatives along s
        a_d, a_s = split.a_d, split.a_s
        t_d, t_s = a_d / f_d, a_s / f_s
        e_d, e_s = self.k_d * f_d * f_d * a_d, self.k_s * f_s * f_s * a_s
        value, x, y_s, lam_t, mu_e, state, free = _lp_point(
            split.q,
            split.s,
            t_d,
            t_s,
            e_d,
            e_s,
            time_left,
            energy_left,
            self.x_lo,
            self.x_hi,
            self.y_lo,
            self.y_hi,
            lam,
        )
        if state == _INFEASIBLE:  # x holds which budget the lows miss
            return _Point(s, value, x, state, p)
        out = _Point(s, value, 0.0, state, p, f_d, f_s, x, y_s, free)
        if state == _FLAT:
            return out
        # Along s: dτ = −τ·g and dε = 2·ε·g with g = d(ln f)/ds on each side.
        g_d, g_s = df_d / f_d, df_s / f_s
        time_slope = dtime + x * t_d * g_d + y_s * t_s * g_s  # d(time left − time used)/ds
        energy_slope = denergy - 2.0 * (x * e_d * g_d + y_s * e_s * g_s)
        # envelope theorem: dh/ds = λ·d(time left − used)/ds + μ·d(energy left − used)/ds,
        # and as p and the clocks are stationary for Λ, d(energy …)/ds = −Λ·d(time …)/ds: h
        # rises while the LP prices time above Λ (λ > Λ·μ). That sign still tells the way where
        # nothing moves (all clipped: h is flat but the point is not a KKT point).
        out.slope = lam_t * time_slope + mu_e * energy_slope
        out.lead = lam_t - lam * mu_e
        if out.lead == 0.0:
            out.state = _FLAT
        out.local = (time_left, energy_left, dtime, denergy, t_d, t_s, e_d, e_s, g_d, g_s)
        return out


def _corner(point: _Point, free: int, bound: float) -> float:
    """Newton's estimate of where both budgets bind with one kept fraction held at ``bound``.

    With ρ held (``free == 2``; ρ̃ if ``free == 1``), each budget alone allows a value ``z_T``,
    ``z_E`` of the other fraction; ``ψ = z_E − z_T`` is a smooth decreasing function of s
    (positive while time binds), and its root is where a piece of h with that fraction at its
    bound ends: the usual maximum, a corner of h.
    """
    time_left, energy_left, dtime, denergy, t_d, t_s, e_d, e_s, g_d, g_s = point.local
    if free == 2:
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
    return point.s - (z_e - z_t) / (dz_e - dz_t)


# LP states: an optimum (with the multipliers that tell the way), infeasible, and a KKT point of
# (P1) (nothing binds, or a corner whose multipliers include the ratio Λ).
_OK, _INFEASIBLE, _FLAT = 0, 1, 3


def _value(point: _Point) -> float:
    return point.value


class _Point:
    """One evaluated family point: value ``h`` (kept parameters), slope ``dh/ds`` and where."""

    __slots__ = (
        "f_d",
        "f_s",
        "free",
        "lead",
        "local",
        "p",
        "rho_d",
        "rho_s",
        "s",
        "slope",
        "state",
        "value",
    )

    def __init__(
        self,
        s: float,
        value: float,
        slope: float,
        state: int,
        p: float,
        f_d: float = math.nan,
        f_s: float = math.nan,
        rho_d: float = math.nan,
        rho_s: float = math.nan,
        free: int = 0,
    ) -> None:
        self.s, self.value, self.slope, self.state = s, value, slope, state
        self.p, self.f_d, self.f_s, self.rho_d, self.rho_s = p, f_d, f_s, rho_d, rho_s
        self.free = free  #: which kept fractions are strictly inside their bounds (1: ρ, 2: ρ̃)
        self.lead = slope  #: λ − Λ·μ of the LP: its sign is the way to the optimum
        #: budgets left, their slopes, the LP's coefficients and the clocks' log-slopes
        self.local: tuple[float, ...] = ()

    @property
    def held(self) -> tuple[int, float]:
        """``(free, bound)`` of a piece with one kept fraction at a bound (else ``(0, nan)``)."""
        if self.free == 2:
            return 2, self.rho_d
        if self.free == 1:
            return 1, self.rho_s
        return 0, math.nan

    @property
    def direction(self) -> int:
        """+1 if ``h`` rises with s here (or s is too low to be feasible), −1 if it falls (or
        s is too high), 0 if this is a maximum or undecided."""
        if self.state == _INFEASIBLE:
            return int(self.slope)  # set to ±1 by the LP when the side is known
        if self.state == _FLAT:
            return 0
        return 1 if self.lead > 0.0 else -1 if self.lead < 0.0 else 0


# ---- the linear programme in (ρ, ρ̃) ---------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _steps(points: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractions of a split's range and offsets giving ``points`` values over it plus one far
    below and one far above."""
    steps = np.concatenate(([0.0], np.linspace(0.0, 1.0, max(points, 2)), [1.0]))
    offsets = np.zeros_like(steps)
    offsets[0], offsets[-1] = -_FAR, _FAR
    steps.flags.writeable = offsets.flags.writeable = False
    return steps, offsets


def _lp_point(
    w_d: float,
    w_s: float,
    tau_d: float,
    tau_s: float,
    eps_d: float,
    eps_s: float,
    time_s: float,
    energy_j: float,
    x_lo: float,
    x_hi: float,
    y_lo: float,
    y_hi: float,
    ratio: float,
) -> tuple[float, float, float, float, float, int, int]:
    """The LP in ``(ρ, ρ̃)`` at one family point, in plain floats: optimum and multipliers.

    ``w``, ``τ``, ``ε`` are per unit of the kept fraction (a side with no cycles has ``τ = ε = 0``
    and is kept at its top). Returns ``(value, x, y, λ, μ, state, free)`` with ``free`` telling
    which of x (1), y (2) or both (3) are strictly inside their bounds; when infeasible, ``x``
    holds +1 if the time at the lows is missed (more speed helps), −1 if the energy is, 0 if
    both. Where the multipliers are not unique (a corner), those nearest to the ratio
    ``λ/μ = ratio`` (Λ) are returned, and the state is ``_FLAT`` if they reach it: then the
    point is a KKT point of (P1).
    """
    time_room = time_s - tau_d * x_lo - tau_s * y_lo
    energy_room = energy_j - eps_d * x_lo - eps_s * y_lo
    if time_room < 0.0 or energy_room < 0.0:
        side = (time_room < 0.0) - (energy_room < 0.0)
        return -math.inf, float(side), 0.0, 0.0, 0.0, _INFEASIBLE, 0
    span_x, span_y = x_hi - x_lo, y_hi - y_lo
    free_d = tau_d <= 0.0 and eps_d <= 0.0  # a side with nothing to compute: kept at its top
    free_s = tau_s <= 0.0 and eps_s <= 0.0
    if free_d or free_s:
        return _lp_one_side(
            w_d, w_s, tau_d, tau_s, eps_d, eps_s, time_room, energy_room, x_lo, x_hi, y_lo, y_hi
        )
    if tau_d * span_x + tau_s * span_y <= time_room and eps_d * span_x + eps_s * span_y <= (
        energy_room
    ):
        return w_d * x_hi + w_s * y_hi, x_hi, y_hi, 0.0, 0.0, _FLAT, 0
    u_top = min(time_room / tau_d, energy_room / eps_d, span_x)
    det = tau_d * eps_s - eps_d * tau_s
    best_value, best_u, best_z = -math.inf, 0.0, 0.0
    for u in (
        0.0,
        u_top,
        (time_room - tau_s * span_y) / tau_d,
        (energy_room - eps_s * span_y) / eps_d,
        (time_room * eps_s - energy_room * tau_s) / det if det != 0.0 else 0.0,
    ):
        u = min(max(u, 0.0), u_top)
        z = min((time_room - tau_d * u) / tau_s, (energy_room - eps_d * u) / eps_s, span_y)
        value = w_d * u + w_s * z
        if value > best_value:
            best_value, best_u, best_z = value, u, z
    u, z = best_u, best_z
    x, y = x_lo + u, y_lo + z
    value = w_d * x + w_s * y
    # Which constraints hold the optimum, and the budgets' multipliers. (The optimum is built
    # from the constraint lines: those that hold it do so up to a few ulps of their terms.)
    slop_u = 1e-14 * max(
        span_x, (time_room + tau_s * span_y) / tau_d, (energy_room + eps_s * span_y) / eps_d
    )
    slop_z = 1e-14 * max(span_y, (time_room + tau_d * u) / tau_s, (energy_room + eps_d * u) / eps_s)
    at_x_lo, at_x_hi = u <= slop_u, u >= span_x - slop_u
    at_y_lo, at_y_hi = z <= slop_z, z >= span_y - slop_z
    x_free, y_free = not (at_x_lo or at_x_hi), not (at_y_lo or at_y_hi)
    used_t, used_e = tau_d * u + tau_s * z, eps_d * u + eps_s * z
    tight_t = time_room - used_t <= 1e-12 * (time_room + used_t)
    tight_e = energy_room - used_e <= 1e-12 * (energy_room + used_e)
    if tight_t and tight_e:
        if x_free and y_free and det != 0.0:  # the budget lines cross: w = λ·τ + μ·ε, both sides
            lam = (w_d * eps_s - w_s * eps_d) / det
            mu = (tau_d * w_s - tau_s * w_d) / det
            return value, x, y, max(lam, 0.0), max(mu, 0.0), _OK, 3
        if not (x_free or y_free):  # both at bounds and both budgets bind: a corner
            return value, x, y, 0.0, 0.0, _FLAT, 0
        # A corner: the multipliers with w = λ·τ + μ·ε on the free side form a segment, cut by
        # the sign the held fraction's bound needs. Take the one nearest to the ratio Λ.
        if x_free:
            w, tau, eps, free = w_d, tau_d, eps_d, 1
            w_b, tau_b, eps_b, at_top, at_bottom = w_s, tau_s, eps_s, at_y_hi, at_y_lo
        else:
            w, tau, eps, free = w_s, tau_s, eps_s, 2
            w_b, tau_b, eps_b, at_top, at_bottom = w_d, tau_d, eps_d, at_x_hi, at_x_lo
        lam_lo, lam_hi = 0.0, w / tau
        # the held fraction's reduced value along the segment: c0 − λ·c1
        c0, c1 = w_b - w * eps_b / eps, tau_b - tau * eps_b / eps
        if at_top and not at_bottom:  # needs c0 − λ·c1 ≥ 0
            if c1 > 0.0:
                lam_hi = min(lam_hi, c0 / c1)
            elif c1 < 0.0:
                lam_lo = max(lam_lo, c0 / c1)
        elif at_bottom and not at_top:  # needs c0 − λ·c1 ≤ 0
            if c1 > 0.0:
                lam_lo = max(lam_lo, c0 / c1)
            elif c1 < 0.0:
                lam_hi = min(lam_hi, c0 / c1)
        if lam_lo > lam_hi:  # (rounding)
            lam_lo = lam_hi = 0.5 * (lam_lo + lam_hi)
        lam = ratio * w / (eps + ratio * tau)  # the multipliers in ratio Λ
        if lam_lo <= lam <= lam_hi:
            return value, x, y, lam, (w - lam * tau) / eps, _FLAT, free
        lam = lam_lo if lam < lam_lo else lam_hi
        return value, x, y, lam, max((w - lam * tau) / eps, 0.0), _OK, free
    if tight_t or tight_e:
        # One budget binds: its multiplier prices the free fraction (a vertex has at most one
        # free with one budget binding); with both at bounds, at least w/cost of any fraction at
        # its bottom, zero if both are at their tops (the best value: a maximum).
        cost_d, cost_s = (tau_d, tau_s) if tight_t else (eps_d, eps_s)
        if x_free:
            price, free = w_d / cost_d, 1
        elif y_free:
            price, free = w_s / cost_s, 2
        else:
            price, free = 0.0, 0
            if at_x_lo and span_x > 0.0:
                price = w_d / cost_d
            if at_y_lo and span_y > 0.0:
                price = max(price, w_s / cost_s)
            if price == 0.0:
                return value, x, y, 0.0, 0.0, _FLAT, 0
        if tight_t:
            return value, x, y, price, 0.0, _OK, free
        return value, x, y, 0.0, price, _OK, free
    return value, x, y, 0.0, 0.0, _FLAT, 0  # nothing binds: both at their tops


def _lp_one_side(
    w_d: float,
    w_s: float,
    tau_d: float,
    tau_s: float,
    eps_d: float,
    eps_s: float,
    time_room: float,
    energy_room: float,
    x_lo: float,
    x_hi: float,
    y_lo: float,
    y_hi: float,
) -> tuple[float, float, float, float, float, int, int]:
    """:func:`_lp_point` when at least one side has nothing to compute (kept at its top)."""
    if tau_d <= 0.0 and eps_d <= 0.0:
        x = x_hi
        if tau_s <= 0.0 and eps_s <= 0.0:
            return w_d * x_hi + w_s * y_hi, x_hi, y_hi, 0.0, 0.0, _FLAT, 0
        z_t, z_e, span = time_room / tau_s, energy_room / eps_s, y_hi - y_lo
        z = min(z_t, z_e, span)
        w, tau, eps, free = w_s, tau_s, eps_s, 2
        y = y_lo + z
    else:
        y = y_hi
        z_t, z_e, span = time_room / tau_d, energy_room / eps_d, x_hi - x_lo
        z = min(z_t, z_e, span)
        w, tau, eps, free = w_d, tau_d, eps_d, 1
        x = x_lo + z
    value = w_d * x + w_s * y
    if z >= span:
        return value, x, y, 0.0, 0.0, _FLAT, 0
    if z_t == z_e:  # a corner; the held side costs nothing: every multiplier pair works
        return value, x, y, 0.0, 0.0, _FLAT, free
    if z_t < z_e:
        return value, x, y, w / tau, 0.0, _OK, free
    return value, x, y, 0.0, w / eps, _OK, free


class JointSolver:
    """Solves :class:`~coinfer.policies.problem.Problem` instances. Apart from its sizes it keeps
    only what depends on the static fields of the problems it has seen (a bounded cache)."""

    def __init__(self, sizes: GridSizes | None = None) -> None:
        self.sizes = sizes or GridSizes()
        self._statics: dict[tuple, _Static] = {}

    def _static_of(self, problem: Problem) -> _Static:
        """The static part of ``problem``'s family, built once per device class."""
        key = _Static.key(problem)
        static = self._statics.get(key)
        if static is None:
            if len(self._statics) >= 64:
                self._statics.clear()
            static = self._statics[key] = _Static(problem)
        return static

    # ---- the one-parameter search ------------------------------------------------------------

    def solve(self, problem: Problem) -> Solution:
        """The point with the most kept parameters over every split of ``problem``."""
        if len(problem.splits) == 0:
            return Solution.infeasible()
        family = _Family(problem, self._static_of(problem))
        rows, log_v, upper, cells = family.coarse(self.sizes.family_points)
        # Refine the splits in order of their bounds, until no bound beats the best found.
        best: tuple[_Point, _Split] | None = None
        best_value = -math.inf
        for i in np.argsort(-upper).tolist():
            bound = upper[i]
            if bound <= best_value + 1e-9 * abs(best_value) or bound == -math.inf:
                break
            split = self._split(problem, int(rows[i]))
            point = self._refine(family, split, log_v[i, 1:-1], int(cells[i]) - 1)
            if point.value > best_value:
                best, best_value = (point, split), point.value
        if best is None:
            return Solution.infeasible()
        return self._solution(problem, best[1], best[0])

    @staticmethod
    def _split(problem: Problem, row: int) -> _Split:
        return _Split(
            row,
            float(problem.device_params[row]),
            float(problem.server_params[row]),
            float(problem.device_cycles[row]),
            float(problem.server_cycles[row]),
            float(problem.payload_bits[row]),
        )

    def _refine(self, family: _Family, split: _Split, log_v: np.ndarray, cell: int) -> _Point:
        """Maximise h over the family of one split from cell ``cell`` of its grid ``log_v``
        (where its dual bound is least), and return the best point evaluated.

        Keeps a bracket whose low end rises and whose high end falls (by the sign of
        ``λ − Λ·μ``; an infeasible point by which budget its lowest kept fractions miss). Each
        step is Newton's step on the corner of the piece of h with a kept fraction held at a
        bound (from the last point, else from the other end), or, when both ends have both
        fractions free, a secant step on h' (a smooth maximum); it bisects when neither lands
        inside the bracket or the bracket stops halving. Stops at a KKT point, when the bracket
        is below ~1e-10 in ``ln v``, or when a smooth maximum promises no more.
        """
        sizes = self.sizes
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
        tolerance = sizes.refine_tolerance
        scale = max(1.0, abs(low.s), abs(high.s))
        resolution = 1e-10 * scale  # bracket width at which to stop
        checkpoint, stalled = high.s - low.s, 0
        previous = high if last is low else low
        for _ in range(sizes.refine_iterations):
            width = high.s - low.s
            if width <= resolution:
                break
            if width <= 0.5 * checkpoint:
                checkpoint, stalled = width, 0
            else:
                stalled += 1
            guess = math.nan
            if stalled < 5 and low.local and high.local:
                if low.free == 3 and high.free == 3:  # a smooth maximum: secant steps on h'
                    one, two = (last, previous) if previous.free == 3 else (low, high)
                    if one.slope != two.slope:
                        guess = one.s - one.slope * (one.s - two.s) / (one.slope - two.slope)
                        # what a quadratic model of h promises beyond `one`
                        gain = 0.5 * abs(one.slope * (guess - one.s))
                        if gain <= tolerance * abs(best.value) and one is best:
                            break
                else:  # a corner: Newton on ψ of the piece with a fraction held, from `last`
                    free, bound = last.held
                    if not free:
                        free, bound = (high if last is low else low).held
                    for end in (last, high if last is low else low):
                        guess = _corner(end, free, bound)
                        if abs(guess - end.s) <= resolution:
                            # converged on the corner from one side: step just across it
                            guess = end.s + (0.5 if end is low else -0.5) * resolution
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

    def _solution(self, problem: Problem, split: _Split, point: _Point) -> Solution:
        row = split.index
        if not math.isfinite(point.value):
            return Solution.infeasible()
        rho_d = float(min(max(point.rho_d, problem.rho_device_lo), problem.rho_device_hi))
        rho_s = float(min(max(point.rho_s, problem.rho_server_lo), problem.rho_server_hi))
        # A side with nothing on it (split 0 / split L) reports its part as unpruned.
        if problem.device_params[row] == 0.0 and problem.device_cycles[row] == 0.0:
            rho_d = problem.rho_device_hi
        if problem.server_params[row] == 0.0 and problem.server_cycles[row] == 0.0:
            rho_s = problem.rho_server_hi
        p_w = point.p
        if problem.payload_bits[row] <= 0.0:
            p_w = problem.p_hi_w  # nothing to send: any power does; report the top
        latency, energy, kept = problem.evaluate(row, rho_d, rho_s, p_w, point.f_d, point.f_s)
        return Solution(
            feasible=problem.meets_budgets(latency, energy),
            index=row,
            split=int(problem.splits[row]),
            rho_device=rho_d,
            rho_server=rho_s,
            tx_power_w=p_w,
            f_device_hz=point.f_d,
            f_server_hz=point.f_s,
            kept_params=kept,
            latency_s=latency,
            energy_j=energy,
        )

    # ---- the former grid search (solve_grid) and least_energy ------------------------------

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
        x, y, value = _lp_grid(
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

    def solve_grid(self, problem: Problem) -> Solution:
        """:meth:`solve` by the former search: grids and zooms over (split, p, P), slow.

        For a fixed p the optimum lies on the family of clock pairs at a common power level P;
        the value is searched on a grid over p and, for every p, over P, with zooms around the
        best cells. Kept as an independent cross-check of :meth:`solve`."""
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
        return self._grid_solution(
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

    def _grid_solution(self, problem: Problem, row: int, p_w: float, level_w: float) -> Solution:
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


def _lp_grid(
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


def _clipped_clock(
    level_w: float, k: float, lo_hz: float, hi_hz: float, dlam: float, lam: float
) -> tuple[float, float]:
    """Clock at power level P (``k·f³ = P``) clipped to [lo, hi], and its derivative along the
    search (``f ∝ Λ^(1/3)`` inside the range, constant when clipped)."""
    f_hz = math.cbrt(level_w / k)
    if f_hz <= lo_hz:
        return lo_hz, 0.0
    if f_hz >= hi_hz:
        return hi_hz, 0.0
    return f_hz, f_hz * dlam / (3.0 * lam)
