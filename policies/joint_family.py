"""The KKT family of (P1) at one split: one parameter fixes the power and both clocks.

Per split, (P1) is convex in the compute times ``t = ρ·a/f`` and the upload time
``t_U = θ/r(p)`` (paper section 6; as a function of ``t_U`` the upload energy
``t_U·(2^(θ/(B·t_U)) − 1)/c`` is convex, though it is concave in p). Let ``λ`` and ``μ`` be the
multipliers of the time and energy budgets and ``Λ = λ/μ`` (J/s). The KKT conditions fix
everything but the kept fractions as functions of ``Λ`` alone:

* each clock minimises ``Λ/f + k·f²`` (time and energy per cycle): ``k·f³ = Λ/2``, so both
  sides run at the same power level ``P = Λ/2`` unless a clock bound clips it;
* the transmit power minimises ``(Λ + p)·θ/r(p)``: ``r(p)/r'(p) − p = Λ``, that is
  ``Λ = ((1 + c·p)·ln(1 + c·p) − c·p)/c`` with ``c = g/(B·N0)``, clipped to the power range.

The family is indexed by a *virtual power* ``v`` (W): ``p = clip(v)`` and ``Λ(v)`` explicit, no
root finding; the search runs on ``s = ln v``. For a fixed ``Λ`` what is left is the linear
programme in ``(ρ, ρ̃)`` of :mod:`coinfer.policies.joint_lp`. Its value ``h(s)`` is a feasible
value, the optimum at the optimum's ``Λ``. By the envelope theorem ``dh/ds`` has the sign of
``λ_LP − Λ·μ_LP`` (the LP's own multipliers: as p and the clocks are stationary for ``Λ``, the
energy left falls ``Λ`` times as fast as the time left rises), so ``h`` rises while the LP prices
time above ``Λ`` and falls once it prices it below, and where the sign turns the point is a KKT
point of the convex problem: the split's optimum. :meth:`Family.point` evaluates one point, in
plain floats, with that sign and the local terms the search's Newton steps need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from coinfer.policies.joint_lp import Free, LpStatus, solve_lp
from coinfer.policies.joint_static import HUGE, StaticPart
from coinfer.policies.problem import BUDGET_MARGIN, Problem

_LN2 = math.log(2.0)
#: Builds a NamedTuple from the tuple of all its fields, without the argument handling of its
#: constructor (see :data:`coinfer.policies.joint_lp._new`).
_new = tuple.__new__
#: Below this ``c·v`` the family's Λ(v) is evaluated by its series (the closed form cancels).
SERIES_BELOW = 1e-3


def lambda_of(y: float) -> float:
    """``(1 + y)·ln(1 + y) − y`` for ``y = c·v ≥ 0`` (``c·Λ``), accurate for small ``y``."""
    if y < SERIES_BELOW:
        return y * y * (0.5 - y * (1.0 / 6.0 - y * (1.0 / 12.0 - y / 20.0)))
    return (1.0 + y) * math.log1p(y) - y


def virtual_power(z: float) -> float:
    """Inverse of :func:`lambda_of`: the ``y ≥ 0`` with ``(1 + y)·ln(1 + y) − y = z``."""
    if z <= 0.0:
        return 0.0
    # The function is convex and increasing: Newton's iterates stay above the root after the
    # first step and fall to it monotonically.
    y = math.sqrt(2.0 * z) if z < 1.0 else z / math.log1p(z) + 1.0
    for iteration in range(100):
        step = (lambda_of(y) - z) / math.log1p(y)
        if iteration and step <= 1e-14 * y:  # (rounding stops the monotone fall)
            break
        y -= step
    return y


@dataclass(slots=True)
class SplitConstants:
    """Constants of one split, as plain floats, for the scalar evaluation."""

    index: int  #: row in the problem's arrays
    q: float  #: parameters on the device
    s: float  #: parameters on the server
    a_d: float  #: unpruned device cycles
    a_s: float  #: unpruned server cycles
    theta: float  #: payload, bits

    @classmethod
    def of(cls, problem: Problem, row: int) -> SplitConstants:
        """The constants of split ``problem.splits[row]``."""
        return cls(
            row,
            float(problem.device_params[row]),
            float(problem.server_params[row]),
            float(problem.device_cycles[row]),
            float(problem.server_cycles[row]),
            float(problem.payload_bits[row]),
        )


class LocalTerms(NamedTuple):
    """The terms of a family point that Newton's step on a corner needs (per unit of ``s``)."""

    time_left_s: float  #: time budget left after the upload
    energy_left_j: float  #: energy budget left after the upload
    time_left_slope: float  #: its derivative along s, s
    energy_left_slope: float  #: its derivative along s, J
    tau_d: float  #: device seconds per unit of ρ
    tau_s: float  #: server seconds per unit of ρ̃
    eps_d: float  #: device joules per unit of ρ
    eps_s: float  #: server joules per unit of ρ̃
    g_d: float  #: d(ln f)/ds of the device clock
    g_s: float  #: d(ln f̃)/ds of the server clock


@dataclass(slots=True)
class FamilyPoint:
    """One evaluated family point: value ``h`` (kept parameters), slope ``dh/ds`` and where."""

    s: float  #: ln v, v the virtual power in W
    value: float  #: kept parameters (−inf: infeasible)
    status: LpStatus
    #: +1 if ``h`` rises with s here (or s is too low to be feasible), −1 if it falls (or s is
    #: too high), 0 if this is a maximum or undecided
    direction: int
    tx_power_w: float
    f_device_hz: float = math.nan
    f_server_hz: float = math.nan
    rho_device: float = math.nan
    rho_server: float = math.nan
    free: Free = "none"  #: which kept fractions the budgets set (the others at a bound)
    slope: float = 0.0  #: dh/ds
    local: LocalTerms | None = None  #: for Newton's step (None: at a KKT point, or infeasible)

    def held(self) -> tuple[Free, float] | None:
        """``(free, bound)`` of a piece of h with one kept fraction held at a bound (the other
        set by the budgets), else None."""
        if self.free == "server":
            return "server", self.rho_device
        if self.free == "device":
            return "device", self.rho_server
        return None


class Family:
    """The family of one problem: the map from ``s = ln v`` to a point of (P1) and its LP.

    Built per request from the problem and its static part; the budgets are shrunk by
    ``BUDGET_MARGIN`` (and an infinite one replaced by ``HUGE``).
    """

    __slots__ = (
        "bandwidth",
        "c",
        "energy_budget",
        "f_d_hi",
        "f_d_lo",
        "f_s_hi",
        "f_s_lo",
        "k_d",
        "k_s",
        "p_hi",
        "p_lo",
        "problem",
        "snr",
        "static",
        "time_budget",
        "x_hi",
        "x_lo",
        "y_hi",
        "y_lo",
    )

    def __init__(self, problem: Problem, static: StaticPart) -> None:
        self.problem = problem
        self._set(
            static,
            problem.gain,
            problem.bandwidth_hz,
            problem.noise_psd_w_per_hz,
            problem.deadline_s,
            problem.energy_budget_j,
        )

    def _set(
        self,
        static: StaticPart,
        gain: float,
        bandwidth: float,
        noise: float,
        deadline_s: float,
        energy_budget_j: float,
    ) -> None:
        """Set the family's scalars from a problem's static part and per-request numbers
        (units as in :class:`Problem`; :class:`~coinfer.policies.joint_fast.Request` sets its
        own from the request's numbers)."""
        self.static = static
        snr = gain / (bandwidth * noise) if bandwidth > 0 and noise > 0 else 0.0
        self.snr = snr if math.isfinite(snr) else 0.0  #: g/(B·N0), per W
        #: c of the parametrisation, per W (any positive value describes the family when c = 0).
        self.c = self.snr if self.snr > 0.0 else 1.0
        self.bandwidth = bandwidth
        shrink = 1.0 - BUDGET_MARGIN
        # (min as a conditional expression: the same floats, without the call)
        self.time_budget = (HUGE if deadline_s > HUGE else deadline_s) * shrink
        self.energy_budget = (HUGE if energy_budget_j > HUGE else energy_budget_j) * shrink
        # (the scalars of the static part, at hand for the scalar evaluation)
        self.p_lo, self.p_hi = static.p_lo, static.p_hi
        self.k_d, self.k_s = static.k_d, static.k_s
        self.f_d_lo, self.f_d_hi = static.f_d_lo, static.f_d_hi
        self.f_s_lo, self.f_s_hi = static.f_s_lo, static.f_s_hi
        self.x_lo, self.x_hi = static.x_lo, static.x_hi
        self.y_lo, self.y_hi = static.y_lo, static.y_hi

    def v_of_level(self, level_w: float) -> float:
        """Virtual power, W, whose Λ is twice the power level ``level_w``."""
        return virtual_power(self.c * 2.0 * level_w) / self.c

    def point(self, split: SplitConstants, s: float) -> FamilyPoint:
        """The family point at ``s = ln v`` of ``split``: the LP's optimum and ``dh/ds``."""
        v = math.exp(s)
        c = self.c
        y = c * v
        lam = lambda_of(y) / c
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
            if rate <= 0.0:  # no rate: only more power could help
                return FamilyPoint(s, -math.inf, "infeasible", 1, p)
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
        f_d, df_d = clipped_clock(level, self.k_d, self.f_d_lo, self.f_d_hi, dlam, lam)
        f_s, df_s = clipped_clock(level, self.k_s, self.f_s_lo, self.f_s_hi, dlam, lam)
        # the LP in (ρ, ρ̃): coefficients per unit ρ and their derivatives along s
        a_d, a_s = split.a_d, split.a_s
        t_d, t_s = a_d / f_d, a_s / f_s
        e_d, e_s = self.k_d * f_d * f_d * a_d, self.k_s * f_s * f_s * a_s
        value, x, y_s, lam_t, mu_e, status, free, way = solve_lp(
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
        if status == "infeasible":
            return FamilyPoint(s, value, status, way, p)
        if status == "kkt-point":
            return FamilyPoint(s, value, status, 0, p, f_d, f_s, x, y_s, free)
        # Along s: dτ = −τ·g and dε = 2·ε·g with g = d(ln f)/ds on each side.
        g_d, g_s = df_d / f_d, df_s / f_s
        time_slope = dtime + x * t_d * g_d + y_s * t_s * g_s  # d(time left − time used)/ds
        energy_slope = denergy - 2.0 * (x * e_d * g_d + y_s * e_s * g_s)
        # envelope theorem: dh/ds = λ·d(time left − used)/ds + μ·d(energy left − used)/ds,
        # and as p and the clocks are stationary for Λ, d(energy …)/ds = −Λ·d(time …)/ds: h
        # rises while the LP prices time above Λ (λ > Λ·μ). That sign still tells the way where
        # nothing moves (all clipped: h is flat but the point is not a KKT point).
        slope = lam_t * time_slope + mu_e * energy_slope
        lead = lam_t - lam * mu_e
        if lead == 0.0:
            status, direction = "kkt-point", 0
        else:
            direction = 1 if lead > 0.0 else -1
        local = _new(
            LocalTerms, (time_left, energy_left, dtime, denergy, t_d, t_s, e_d, e_s, g_d, g_s)
        )
        return FamilyPoint(s, value, status, direction, p, f_d, f_s, x, y_s, free, slope, local)


def clipped_clock(
    level_w: float, k: float, lo_hz: float, hi_hz: float, dlam: float, lam: float
) -> tuple[float, float]:
    """Clock, Hz, at power level P (``k·f³ = P``) clipped to [lo, hi], and its derivative along
    the search, Hz (``f ∝ Λ^(1/3)`` inside the range, constant when clipped)."""
    f_hz = math.cbrt(level_w / k)
    if f_hz <= lo_hz:
        return lo_hz, 0.0
    if f_hz >= hi_hz:
        return hi_hz, 0.0
    return f_hz, f_hz * dlam / (3.0 * lam)
