"""The paper's successive convex approximation (SCA) for (P1) at a fixed split: the reference.

(P1) at split ``l`` (see :mod:`policies.problem`) maximises the kept parameters ``q·ρ + s·ρ̃``
under a latency budget T0 and an energy budget E0. It is not convex in ``(ρ, ρ̃, f, f̃, p)``:
``ρ·a_d/f`` and ``k_d·f²·ρ·a_d`` are not convex, and neither is the upload energy ``p·θ/r(p)``
as a constraint (it is concave in p). The paper's algorithm, implemented here:

1. Substitute ``ρ' = 1/ρ`` (and ``ρ̃' = 1/ρ̃``) in the budgets: ``a_d/(ρ'·f)`` and
   ``k_d·a_d·f²/ρ'`` are convex in ``(ρ', f)``. The coupling ``ρ ≤ 1/ρ'`` is not; it is
   replaced by its tangent at the current point, ``ρ ≤ 2/ρ'_k − ρ'/ρ'_k²``, which lies below
   the convex ``1/ρ'``: every step point meets the true coupling. (A side effect worth
   knowing: the tangent caps each step at ``ρ ≤ 2·ρ_k``, so a kept fraction can at most double
   per step.)
2. Linearise the upload energy ``e_U(p) = p·θ/r(p)`` at the current ``p_k``. Its tangent
   over-estimates it because ``e_U`` is concave in p: with ``x = g·p/(B·N0)``,
   ``e_U ∝ x/ln(1+x)`` whose second derivative has the sign of ``2(x − ln(1+x)) − x·ln(1+x)``,
   negative for every x > 0 (it is 0 at x = 0 and its derivative is ``x/(1+x) − ln(1+x) < 0``).
   So the paper's claim holds: the step is conservative. (The upload delay ``θ/r(p)`` is
   convex in p and kept exact.)
3. Solve the convex step (:class:`_Step`: SLSQP with analytic gradients; ρ' is eliminated,
   since the budgets only shrink as it grows it sits where the tangent allows, which leaves
   the same step in fewer, better scaled variables); its feasible set lies inside the true
   one, so every iterate is feasible and the kept parameters never decrease. SLSQP sometimes
   stops short or a hair outside the step's budgets: the move is then halved until the true
   budgets hold (:func:`_advance`). Repeat until the step stops improving (:class:`ScaSettings`).

The paper gives no starting point. Here it is found by a phase 1 (:meth:`_Split.phase_one`):
at fixed kept fractions the least energy that meets the deadline is a convex problem in the
upload time ``t_U`` (with ``t_U`` as variable, ``e_U = t_U·(2^(θ/(B·t_U)) − 1)·B·N0/g`` is
convex) once the clocks take the closed-form energy-optimal split of the time left; that decides
feasibility exactly (at the least kept fractions) and, by bisection on a common fraction ``x`` of
the ratio ranges, gives the start: the largest ``ρ = ρ_lo + x·(ρ_hi − ρ_lo)`` on both sides that
is feasible, with its energy-optimal power and clocks.

Two limits of the method, and what is done about them: ρ' = 1/ρ cannot reach ρ = 0, so a free
ratio is kept above ``rho_floor`` and a side the SCA leaves there is finally tried switched
off (:func:`_switch_off`); and the SCA converges only linearly, sometimes creeping for hundreds
of steps (hence the large ``max_iterations``).

Every budget is shrunk by ``BUDGET_MARGIN`` so that the returned point, re-evaluated by
:meth:`Problem.evaluate`, meets the real budgets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from coinfer.policies.problem import BUDGET_MARGIN, Problem, Solution


@dataclass(frozen=True)
class ScaSettings:
    """Parameters of the SCA (the paper gives no starting point, threshold or budget).

    The iteration stops after ``max_iterations`` convex steps, or when a step improves the kept
    parameters by less than ``tolerance`` (relative) *and* changes no free kept fraction by more
    than ``ratio_tolerance`` (relative). The second condition matters: the tangent of
    ``ρ ≤ 1/ρ'`` caps each step at ``ρ_{k+1} ≤ 2·ρ_k``, so a kept fraction that is tiny (after
    an earlier step shrank it) can only double per step, while the kept parameters barely move;
    stopping on the objective alone would stop there.
    """

    tolerance: float = 1e-7  #: relative improvement of the kept parameters
    ratio_tolerance: float = 1e-4  #: relative change of ρ and ρ̃ in a step
    max_iterations: int = 1000  #: convex steps at most (the SCA can creep for hundreds)
    #: least ρ (and ρ̃) inside the SCA when ρ_lo = 0: ρ' = 1/ρ must stay finite. Costs at most
    #: this fraction of a side's parameters; feasibility is still decided at ρ_lo itself.
    rho_floor: float = 1e-6
    #: lowest clock, as a fraction of the top clock, when the hardware allows 0 (f > 0 needed)
    clock_floor: float = 1e-4
    #: lowest power, as a fraction of P_max, when p_lo = 0 (the model needs p > 0)
    power_floor: float = 1e-6
    #: bisection steps of the phase 1 on the common kept fraction of the start
    start_bisections: int = 40
    #: halvings of a step whose SLSQP answer misses the true budgets (or loses parameters)
    backtracks: int = 10
    #: :func:`solve_sca_all` skips splits whose upper bound cannot beat the best found so far
    prune_splits: bool = True
    #: after the SCA, try ρ = 0 for a side left at ``rho_floor`` (see :func:`_switch_off`)
    switch_off: bool = True


#: The default settings.
DEFAULTS = ScaSettings()

_LN2 = math.log(2.0)


@dataclass(frozen=True)
class _Side:
    """One compute side (device or server) of a split: what the SCA may vary on it.

    ``ratio_free``: ρ is a variable in ``[rho_lo, rho_hi]``; otherwise ρ is pinned to
    ``rho_lo`` (= ``rho_hi``). ``clock_free``: the clock is a variable in ``[f_lo, f_hi]``.
    A side that runs nothing (no cycles, or no parameters to keep and ρ_lo = 0) costs nothing
    and keeps its clock at ``f_hi``.
    """

    params: float  #: q or s, parameters on this side
    cycles: float  #: a_d or a_s, unpruned cycles
    k: float  #: η·φ, J per cycle per Hz²
    rho_lo: float
    rho_hi: float
    f_lo: float  #: clock floor used by the solver, Hz (> 0)
    f_hi: float
    ratio_free: bool

    @classmethod
    def of(
        cls,
        params: float,
        cycles: float,
        k: float,
        rho: tuple[float, float],
        clock: tuple[float, float],
        clock_floor: float,
    ) -> _Side | None:
        """The side, or None when its bounds cannot be met (it must compute but has no clock)."""
        rho_lo, rho_hi = max(float(rho[0]), 0.0), float(rho[1])
        f_lo, f_hi = float(clock[0]), float(clock[1])
        params, cycles = float(params), float(cycles)
        if not rho_hi >= rho_lo:
            return None
        if cycles <= 0.0:  # nothing to run: keep everything for free
            return cls(params, 0.0, k, rho_hi, rho_hi, f_hi, f_hi, False)
        if params <= 0.0 or rho_hi <= rho_lo or not f_hi > 0.0:
            if rho_lo > 0.0 and not f_hi > 0.0:
                return None
            # nothing to gain (or nothing to vary): the least work
            return cls(
                params, cycles, k, rho_lo, rho_lo, _clock_lo(f_lo, f_hi, clock_floor), f_hi, False
            )
        return cls(
            params, cycles, k, rho_lo, rho_hi, _clock_lo(f_lo, f_hi, clock_floor), f_hi, True
        )

    def ratio_at(self, fraction: float) -> float:
        """ρ at a fraction of the ratio range (pinned sides: their fixed ρ)."""
        return self.rho_lo + fraction * (self.rho_hi - self.rho_lo)

    @property
    def clock_free(self) -> bool:
        return self.cycles > 0.0 and self.f_hi > self.f_lo and (self.ratio_free or self.rho_lo > 0)


def _clock_lo(f_lo: float, f_hi: float, clock_floor: float) -> float:
    return min(max(f_lo, clock_floor * f_hi), f_hi)


@dataclass
class _Point:
    """A candidate decision at one split (ρ, ρ̃, p, f, f̃) with its kept parameters."""

    rho_d: float
    rho_s: float
    p: float
    f_d: float
    f_s: float
    kept: float = 0.0


class _Compute(NamedTuple):
    """The least compute energy of both sides in a given time, and the clocks that spend it."""

    energy_j: float
    f_device_hz: float
    f_server_hz: float


class _LeastEnergy(NamedTuple):
    """The phase 1's point at fixed kept fractions: the least energy meeting the deadline."""

    point: _Point
    energy_j: float  #: upload and compute, J


class _Split:
    """(P1) at one split point, with the phase 1 and the SCA steps."""

    def __init__(
        self,
        problem: Problem,
        index: int,
        device: _Side,
        server: _Side,
        settings: ScaSettings,
    ) -> None:
        self.problem, self.index = problem, index
        self.rho_floor = settings.rho_floor
        power_floor = settings.power_floor
        self.bisections = settings.start_bisections
        self.device, self.server = device, server
        self.theta = float(problem.payload_bits[index])
        self.bandwidth = float(problem.bandwidth_hz)
        self.snr_per_w = float(problem.gain) / (self.bandwidth * float(problem.noise_psd_w_per_hz))
        self.p_hi = float(problem.p_hi_w)
        self.p_lo = min(max(float(problem.p_lo_w), power_floor * self.p_hi), self.p_hi)
        self.deadline = _shrunk(float(problem.deadline_s))
        self.budget = _shrunk(float(problem.energy_budget_j))

    # ---- upload ------------------------------------------------------------------------

    def upload_time(self, p: float) -> float:
        """θ/r(p), s (0 without payload, inf at zero rate)."""
        if self.theta <= 0.0:
            return 0.0
        rate = self.bandwidth * math.log2(1.0 + self.snr_per_w * p) if p > 0 else 0.0
        return self.theta / rate if rate > 0.0 else math.inf

    def upload_energy(self, p: float) -> float:
        """p·θ/r(p), J (concave in p)."""
        return 0.0 if self.theta <= 0.0 else p * self.upload_time(p)

    def upload_energy_slope(self, p: float) -> float:
        """d e_U / dp at p, J/W (for the tangent of step 2)."""
        x = self.snr_per_w * p
        log1p = math.log1p(x)
        rate = self.bandwidth * log1p / _LN2
        # e_U = θ·p/rate;  d/dp = θ/rate − θ·p·rate'/rate², rate' = B·γ/((1+x)·ln 2)
        return self.theta / rate * (1.0 - x / ((1.0 + x) * log1p))

    def power_for_time(self, t_upload: float) -> float:
        """The power whose upload takes ``t_upload`` s: r⁻¹(θ/t)."""
        return math.expm1(self.theta / (self.bandwidth * t_upload) * _LN2) / self.snr_per_w

    # ---- phase 1: least energy at fixed kept fractions ---------------------------------

    def compute_energy(self, rho_d: float, rho_s: float, time_left: float) -> _Compute | None:
        """Least compute energy, J, of both sides within ``time_left`` s, and the clocks.

        With cycles ``c`` and time ``t`` a side uses ``k·c³/t²``; the best split of the time
        is ``t_d/t_s = (k_d·c_d³ / k_s·c_s³)^(1/3)``, projected onto the clock bounds (a convex
        function of ``t_d`` along ``t_d + t_s = τ`` is minimised over an interval by clipping its
        free minimiser). Time beyond what the lowest clocks need is left idle. None when even
        the top clocks are too slow.
        """
        dev, srv = self.device, self.server
        c_d, c_s = rho_d * dev.cycles, rho_s * srv.cycles
        lo_d, hi_d = (c_d / dev.f_hi, c_d / dev.f_lo) if c_d > 0 else (0.0, 0.0)
        lo_s, hi_s = (c_s / srv.f_hi, c_s / srv.f_lo) if c_s > 0 else (0.0, 0.0)
        if time_left < (lo_d + lo_s) * (1 - 1e-12):
            return None
        tau = min(time_left, hi_d + hi_s)
        w_d = (dev.k * c_d**3) ** (1 / 3)
        w_s = (srv.k * c_s**3) ** (1 / 3)
        t_d = tau * w_d / (w_d + w_s) if w_d + w_s > 0 else 0.0
        t_d = min(max(t_d, lo_d, tau - hi_s), hi_d, max(tau - lo_s, lo_d))
        t_s = max(tau - t_d, lo_s)
        energy = 0.0
        f_d, f_s = dev.f_hi, srv.f_hi
        if c_d > 0:
            f_d = min(max(c_d / t_d, dev.f_lo), dev.f_hi)
            energy += dev.k * f_d**2 * c_d
        if c_s > 0:
            f_s = min(max(c_s / t_s, srv.f_lo), srv.f_hi)
            energy += srv.k * f_s**2 * c_s
        return _Compute(energy, f_d, f_s)

    def phase_one(self, rho_d: float, rho_s: float, deadline: float) -> _LeastEnergy | None:
        """Least-energy point meeting ``deadline`` at fixed ρ, ρ̃, and its energy (None: the
        deadline is out of reach).

        Minimises ``e_U(t_U) + E_compute(T0 − t_U)`` over the upload time ``t_U`` (convex: both
        terms are convex in t_U) with a bounded Brent search, after the powers bound t_U to
        ``[θ/r(p_hi), θ/r(p_lo)]``.
        """
        if self.theta <= 0.0:
            compute = self.compute_energy(rho_d, rho_s, deadline)
            if compute is None or not math.isfinite(compute.energy_j):
                return None
            point = _Point(rho_d, rho_s, self.p_hi, compute.f_device_hz, compute.f_server_hz)
            return _LeastEnergy(point, compute.energy_j)
        if not (self.p_hi > 0.0 and self.snr_per_w > 0.0):
            return None
        t_fast, t_slow = self.upload_time(self.p_hi), self.upload_time(self.p_lo)
        dev, srv = self.device, self.server
        least_compute_time = (rho_d * dev.cycles / dev.f_hi if dev.cycles > 0 else 0.0) + (
            rho_s * srv.cycles / srv.f_hi if srv.cycles > 0 else 0.0
        )
        t_slow = min(t_slow, deadline - least_compute_time)
        if not t_slow >= t_fast:
            return None

        def total(t_upload: float) -> float:
            compute = self.compute_energy(rho_d, rho_s, deadline - t_upload)
            energy = math.inf if compute is None else compute.energy_j
            return self.upload_energy(self.power_for_time(t_upload)) + energy

        if t_slow > t_fast:
            found = minimize_scalar(
                total,
                bounds=(t_fast, t_slow),
                method="bounded",
                options={"xatol": 1e-12 * t_slow},
            )
            candidates = [float(found.x), t_fast, t_slow]
        else:
            candidates = [t_fast]
        t_upload = min(candidates, key=total)
        if t_upload <= t_fast * (1 + 1e-12):
            p = self.p_hi
        else:
            # the inverse rate is exact, the rate (as Problem.evaluate computes it) rounds: nudge
            # the power up until the upload really fits in t_upload
            p, nudge = self.power_for_time(t_upload), 1e-12
            while self.upload_time(p) > t_upload and p < self.p_hi:
                p, nudge = p * (1 + nudge), nudge * 4
        p = min(max(p, self.p_lo), self.p_hi)
        compute = self.compute_energy(rho_d, rho_s, deadline - self.upload_time(p))
        if compute is None or not math.isfinite(compute.energy_j):
            return None
        point = _Point(rho_d, rho_s, p, compute.f_device_hz, compute.f_server_hz)
        return _LeastEnergy(point, compute.energy_j + self.upload_energy(p))

    # ---- the true model at a point -------------------------------------------------------

    def cost(self, point: _Point) -> tuple[float, float]:
        """(latency s, energy J) of a point, with the same terms as ``Problem.evaluate``."""
        dev, srv = self.device, self.server
        t_u = self.upload_time(point.p)
        latency = t_u
        energy = point.p * t_u if self.theta > 0 else 0.0
        if dev.cycles > 0 and point.rho_d > 0:
            latency += point.rho_d * dev.cycles / point.f_d
            energy += dev.k * point.f_d**2 * point.rho_d * dev.cycles
        if srv.cycles > 0 and point.rho_s > 0:
            latency += point.rho_s * srv.cycles / point.f_s
            energy += srv.k * point.f_s**2 * point.rho_s * srv.cycles
        return latency, energy

    def meets(self, point: _Point) -> bool:
        latency, energy = self.cost(point)
        return latency <= self.deadline and energy <= self.budget

    def kept(self, point: _Point) -> float:
        return point.rho_d * self.device.params + point.rho_s * self.server.params


def _shrunk(budget: float) -> float:
    """A budget with the solvers' relative safety margin taken off (inf stays inf)."""
    return budget * (1.0 - BUDGET_MARGIN) if budget > 0 else budget


class _Step:
    """The convex SCA step at the current point ``k``.

    The paper's step has variables ``(ρ, ρ̃, ρ', ρ̃', f, f̃, p)`` with the budgets written in
    ``ρ'`` and the tangent coupling ``ρ ≤ 2/ρ'_k − ρ'/ρ'_k²``. The budgets only shrink as ρ'
    grows and ρ' appears nowhere else, so at the step's optimum ρ' is the largest the coupling
    allows, ``ρ' = ρ'_k·(2 − z)`` with ``z = ρ/ρ_k``; substituting it leaves the same convex
    step in ``(z, z̃, f, f̃, p)`` (``1/((2 − z)·x)`` and ``x²/(2 − z)`` are convex for z < 2)::

        max  q·ρ_k·z + s·ρ̃_k·z̃
        s.t. t_d/((2 − z)·x_d) + θ/r(p_k·x_p) + t_s/((2 − z̃)·x_s)                ≤ T0
             e_d·x_d²/(2 − z) + e_U(p_k) + e_U'(p_k)·p_k·(x_p − 1) + e_s·x_s²/(2 − z̃) ≤ E0

    with ``f = f_k·x_d``, ``f̃ = f̃_k·x_s``, ``p = p_k·x_p`` and ``t``, ``e`` the current compute
    times and energies of the sides. Since ``z ≤ 1/(2 − z)``, each point of the step meets the
    true budgets. Every variable is scaled to 1 at the current point; the objective is divided
    by the current kept parameters. The kept fractions stay in ``[max(ρ_lo, rho_floor), ρ_hi]``
    and below ``2·ρ_k`` (the tangent's own cap).
    """

    def __init__(self, split: _Split, point: _Point) -> None:
        self.split, self.point = split, point
        dev, srv = split.device, split.server
        self.t = np.zeros(2)
        self.e = np.zeros(2)
        for i, (side, rho, f) in enumerate(
            ((dev, point.rho_d, point.f_d), (srv, point.rho_s, point.f_s))
        ):
            if side.cycles > 0 and rho > 0:
                self.t[i] = rho * side.cycles / f
                self.e[i] = side.k * f**2 * rho * side.cycles
        upload = split.theta > 0
        self.e_u = split.upload_energy(point.p) if upload else 0.0
        self.e_u_slope = split.upload_energy_slope(point.p) * point.p if upload else 0.0
        kept = split.kept(point)
        scale = kept if kept > 0 else 1.0
        rho_k = np.array([point.rho_d, point.rho_s])
        sides = (dev, srv)
        ratio_free = np.array([side.ratio_free for side in sides])
        #: the share of the current kept parameters of each side (0 when pinned)
        share = np.array(
            [
                side.params * r / scale if on else 0.0
                for side, r, on in zip(sides, rho_k, ratio_free, strict=True)
            ]
        )
        self.free = np.array(
            [*ratio_free, dev.clock_free, srv.clock_free, upload and split.p_hi > split.p_lo]
        )
        z_lo = [
            max(side.rho_lo, split.rho_floor) / r if on else 1.0
            for side, r, on in zip(sides, rho_k, ratio_free, strict=True)
        ]
        z_hi = [
            min(side.rho_hi / r, 2.0 - 1e-9) if on else 1.0
            for side, r, on in zip(sides, rho_k, ratio_free, strict=True)
        ]
        self.lower = np.array(
            [
                *z_lo,
                dev.f_lo / point.f_d if dev.clock_free else 1.0,
                srv.f_lo / point.f_s if srv.clock_free else 1.0,
                split.p_lo / point.p if point.p > 0 else 1.0,
            ]
        )
        self.upper = np.array(
            [
                *z_hi,
                dev.f_hi / point.f_d if dev.clock_free else 1.0,
                srv.f_hi / point.f_s if srv.clock_free else 1.0,
                split.p_hi / point.p if point.p > 0 else 1.0,
            ]
        )
        self.start = np.ones(5)
        self.objective_grad = -np.array([*share, 0.0, 0.0, 0.0])

    def full(self, free_values: np.ndarray) -> np.ndarray:
        """The five step variables (z, z̃, x_d, x_s, x_p) with the pinned ones at 1."""
        x = self.start.copy()
        x[self.free] = free_values
        return x

    def objective(self, v: np.ndarray) -> float:
        return float(self.objective_grad[self.free] @ v)

    def objective_jac(self, v: np.ndarray) -> np.ndarray:
        grad: np.ndarray = self.objective_grad[self.free]
        return grad

    def _parts(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The five step variables, ``2 − z`` per side and the two clock factors."""
        x = self.full(v)
        gap = 2.0 - x[:2]  # 2 − z per side
        return x, gap, x[2:4]

    def time_row(self, v: np.ndarray) -> float:
        x, gap, clock = self._parts(v)
        total = float(np.sum(self.t / (gap * clock))) + self.split.upload_time(self.point.p * x[4])
        return 1.0 - total / self.split.deadline

    def time_jac(self, v: np.ndarray) -> np.ndarray:
        x, gap, clock = self._parts(v)
        split = self.split
        g = np.zeros(5)
        g[:2] = -self.t / (gap**2 * clock)
        g[2:4] = self.t / (gap * clock**2)
        if split.theta > 0:
            p = self.point.p * x[4]
            snr = split.snr_per_w * p
            rate = split.bandwidth * math.log1p(snr) / _LN2
            d_rate = split.bandwidth * split.snr_per_w / ((1.0 + snr) * _LN2)
            g[4] = split.theta * d_rate / rate**2 * self.point.p
        jac: np.ndarray = g[self.free] / split.deadline
        return jac

    def energy_row(self, v: np.ndarray) -> float:
        x, gap, clock = self._parts(v)
        total: float = (
            float(np.sum(self.e * clock**2 / gap)) + self.e_u + self.e_u_slope * (x[4] - 1.0)
        )
        return 1.0 - total / self.split.budget

    def energy_jac(self, v: np.ndarray) -> np.ndarray:
        _, gap, clock = self._parts(v)
        g = np.zeros(5)
        g[:2] = -self.e * clock**2 / gap**2
        g[2:4] = -2.0 * self.e * clock / gap
        g[4] = -self.e_u_slope
        jac: np.ndarray = g[self.free] / self.split.budget
        return jac

    def solve(self) -> np.ndarray | None:
        """The step's optimum as the five scaled variables (None: SLSQP gave nothing usable).

        SLSQP may stop short of the optimum or slightly outside the step's budgets; the caller
        backtracks towards the current point (see :func:`_advance`).
        """
        if not self.free.any():
            return None
        constraints = []
        if math.isfinite(self.split.deadline):
            constraints.append({"type": "ineq", "fun": self.time_row, "jac": self.time_jac})
        if math.isfinite(self.split.budget):
            constraints.append({"type": "ineq", "fun": self.energy_row, "jac": self.energy_jac})
        lower, upper = self.lower[self.free], self.upper[self.free]
        with np.errstate(all="ignore"):
            found = minimize(
                self.objective,
                np.clip(self.start[self.free], lower, upper),
                jac=self.objective_jac,
                bounds=list(zip(lower, upper, strict=True)),
                constraints=constraints,
                method="SLSQP",
                options={"maxiter": 200, "ftol": 1e-15},
            )
        x = self.full(np.clip(np.asarray(found.x, dtype=float), lower, upper))
        return x if np.all(np.isfinite(x)) else None

    def point_at(self, x: np.ndarray) -> _Point:
        """The decision at scaled variables ``x``."""
        point = self.point
        return _Point(
            float(point.rho_d * x[0]),
            float(point.rho_s * x[1]),
            float(point.p * x[4]),
            float(point.f_d * x[2]),
            float(point.f_s * x[3]),
        )


def _advance(split: _Split, point: _Point, backtracks: int) -> _Point | None:
    """One SCA step from ``point``: the step's optimum, or the first point on the way back to
    ``point`` (halving the move up to ``backtracks`` times) that meets the true budgets, after
    :func:`_repair`, and keeps at least as many parameters. None if there is none."""
    step = _Step(split, point)
    target = step.solve()
    if target is None:
        return None
    move = target - step.start
    for _ in range(backtracks + 1):
        found = _repair(split, step.point_at(step.start + move))
        if found is not None:
            found.kept = split.kept(found)
            if found.kept >= point.kept:
                return found
        move = move / 2.0
    return None


def _repair(split: _Split, point: _Point) -> _Point | None:
    """``point`` if it meets the budgets, else the same clocks and power with the free ratios
    pulled back towards their floor just enough (time and energy are affine in the ratios at
    fixed clocks); None if even the floor does not fit."""
    if split.meets(point):
        return point
    dev, srv = split.device, split.server
    floor = _Point(
        max(dev.rho_lo, split.rho_floor) if dev.ratio_free else point.rho_d,
        max(srv.rho_lo, split.rho_floor) if srv.ratio_free else point.rho_s,
        point.p,
        point.f_d,
        point.f_s,
    )
    t0, e0 = split.cost(floor)
    t1, e1 = split.cost(point)
    if t0 > split.deadline or e0 > split.budget:
        return None
    share = 1.0
    if t1 > split.deadline:
        share = min(share, (split.deadline - t0) / (t1 - t0))
    if e1 > split.budget:
        share = min(share, (split.budget - e0) / (e1 - e0))
    share *= 1.0 - 1e-12
    repaired = _Point(
        floor.rho_d + share * (point.rho_d - floor.rho_d),
        floor.rho_s + share * (point.rho_s - floor.rho_s),
        point.p,
        point.f_d,
        point.f_s,
    )
    return repaired if split.meets(repaired) else None


def _start(split: _Split) -> _Point | None:
    """Phase 1: the start point, or None if no point meets both budgets.

    Feasibility is decided at the least kept fractions with the true budgets; the start is the
    largest common fraction ``x`` of the ratio ranges whose least-energy point meets the
    (margin-shrunk) budgets, found by bisection.
    """
    dev, srv = split.device, split.server
    problem = split.problem
    least = split.phase_one(dev.rho_lo, srv.rho_lo, float(problem.deadline_s))
    if least is None or not least.energy_j <= problem.energy_budget_j:
        return None

    def at(fraction: float) -> _Point | None:
        # a hair inside the deadline, so that rounding cannot push the latency over it
        deadline = split.deadline * (1 - 1e-12)
        found = split.phase_one(dev.ratio_at(fraction), srv.ratio_at(fraction), deadline)
        if found is None or found.energy_j > split.budget or not split.meets(found.point):
            return None
        return found.point

    best = at(0.0)
    if best is None:  # feasible only inside the safety margin: the least point itself
        return least.point
    top = at(1.0)
    if top is not None:
        return top
    lo, hi = 0.0, 1.0
    for _ in range(split.bisections):
        mid = 0.5 * (lo + hi)
        point = at(mid)
        if point is None:
            hi = mid
        else:
            lo, best = mid, point
    return best


def _solution(split: _Split, point: _Point) -> Solution:
    problem, index = split.problem, split.index
    rho_d, rho_s, p, f_d, f_s = (
        float(x) for x in (point.rho_d, point.rho_s, point.p, point.f_d, point.f_s)
    )
    latency, energy, kept = problem.evaluate(index, rho_d, rho_s, p, f_d, f_s)
    if not problem.meets_budgets(latency, energy):  # never expected: a last safety net
        return Solution.infeasible()
    return Solution(
        feasible=True,
        index=index,
        split=int(problem.splits[index]),
        rho_device=rho_d,
        rho_server=rho_s,
        tx_power_w=p,
        f_device_hz=f_d,
        f_server_hz=f_s,
        kept_params=kept,
        latency_s=latency,
        energy_j=energy,
    )


def solve_sca(problem: Problem, index: int, settings: ScaSettings = DEFAULTS) -> Solution:
    """The paper's SCA for (P1) at split ``problem.splits[index]`` (``index``: position in
    ``problem.splits``).

    Returns the last iterate (feasible, with ``BUDGET_MARGIN`` kept inside both budgets), or
    :meth:`Solution.infeasible` when no point meets both budgets. Never raises on odd numbers:
    a computation that fails is reported as infeasible.
    """
    try:
        return _solve_sca(problem, index, settings)
    except (ValueError, ZeroDivisionError, OverflowError, FloatingPointError):
        return Solution.infeasible()


def _side(problem: Problem, index: int, device: bool, settings: ScaSettings) -> _Side | None:
    if device:
        return _Side.of(
            problem.device_params[index],
            problem.device_cycles[index],
            float(problem.device_k),
            (problem.rho_device_lo, problem.rho_device_hi),
            (problem.f_device_lo_hz, problem.f_device_hi_hz),
            settings.clock_floor,
        )
    return _Side.of(
        problem.server_params[index],
        problem.server_cycles[index],
        float(problem.server_k),
        (problem.rho_server_lo, problem.rho_server_hi),
        (problem.f_server_lo_hz, problem.f_server_hi_hz),
        settings.clock_floor,
    )


def _solve_sca(problem: Problem, index: int, settings: ScaSettings) -> Solution:
    device = _side(problem, index, True, settings)
    server = _side(problem, index, False, settings)
    if device is None or server is None:
        return Solution.infeasible()
    split = _Split(problem, index, device, server, settings)
    point = _start(split)
    if point is None:
        return Solution.infeasible()
    point = _iterate(split, point, settings)
    if settings.switch_off:
        point = _switch_off(split, point, settings)
    return _solution(split, point)


def _free_ratios(split: _Split) -> list[tuple[_Side, str]]:
    return [
        (side, name)
        for side, name in ((split.device, "rho_d"), (split.server, "rho_s"))
        if side.ratio_free
    ]


def _iterate(split: _Split, point: _Point, settings: ScaSettings) -> _Point:
    """The SCA iterations from a feasible ``point`` (returned as is when there is nothing to
    vary, or when a free kept fraction is below the floor the SCA's ρ' = 1/ρ needs)."""
    point.kept = split.kept(point)
    free = _free_ratios(split)
    if not free:  # nothing to gain: the least-energy point is as good as any
        return point
    if any(getattr(point, name) < max(side.rho_lo, settings.rho_floor) for side, name in free):
        return point
    for _ in range(settings.max_iterations):
        found = _advance(split, point, settings.backtracks)
        if found is None:
            break
        improvement = (found.kept - point.kept) / point.kept if point.kept > 0 else math.inf
        moved = max(abs(getattr(found, name) / getattr(point, name) - 1.0) for _, name in free)
        point = found
        if improvement < settings.tolerance and moved < settings.ratio_tolerance:
            break
    return point


def _switch_off(split: _Split, point: _Point, settings: ScaSettings) -> _Point:
    """Try ρ = 0 for a side the SCA left at ``rho_floor`` (allowed when ρ_lo = 0).

    The substitution ρ' = 1/ρ cannot reach ρ = 0, and a side kept at the floor still costs
    time and energy (much of it at a high clock floor). This switches such a side off, runs the
    SCA again on the other side from there, and keeps whichever is better.
    """
    best = point
    for side, name in _free_ratios(split):
        if side.rho_lo > 0 or getattr(point, name) > 2 * settings.rho_floor:
            continue
        off = replace(side, rho_lo=0.0, rho_hi=0.0, ratio_free=False)
        is_device = name == "rho_d"
        trial_split = _Split(
            split.problem,
            split.index,
            off if is_device else split.device,
            split.server if is_device else off,
            settings,
        )
        trial = replace(point, **{name: 0.0})
        if not trial_split.meets(trial):
            continue
        trial = _iterate(trial_split, trial, settings)
        if trial.kept > best.kept:
            best = trial
    return best


def upper_bound(problem: Problem, index: int, settings: ScaSettings = DEFAULTS) -> float:
    """Kept parameters no point at split ``index`` can exceed (-inf: surely infeasible).

    Each side alone, given all the time the fastest upload leaves and all the energy the
    thriftiest upload meeting the deadline leaves, keeps at most
    ``max over f of min(ρ_hi, T·f/a, E/(k·f²·a))`` (the two meet at ``f³ = E/(k·T)``).
    """
    try:
        device = _side(problem, index, True, settings)
        server = _side(problem, index, False, settings)
        if device is None or server is None:
            return -math.inf
        split = _Split(problem, index, device, server, settings)
        time_left, energy_left = split.deadline, split.budget
        if split.theta > 0:
            if not (split.p_hi > 0 and split.snr_per_w > 0):
                return -math.inf
            thrifty = split.p_lo
            if math.isfinite(split.deadline):
                thrifty = max(thrifty, split.power_for_time(split.deadline))
            time_left -= split.upload_time(split.p_hi)
            energy_left -= split.upload_energy(min(thrifty, split.p_hi))
        if not (time_left >= 0 and energy_left >= 0):
            return -math.inf
        bound = 0.0
        for side in (device, server):
            rho = side.rho_hi
            if side.cycles > 0 and side.ratio_free:
                if time_left == 0 or energy_left == 0:
                    rho = 0.0
                elif math.isfinite(time_left) or math.isfinite(energy_left):
                    f = (energy_left / (side.k * time_left)) ** (1 / 3) if side.k > 0 else math.inf
                    f = min(max(f, side.f_lo), side.f_hi)
                    rho = min(
                        rho,
                        time_left * f / side.cycles,
                        energy_left / (side.k * f**2 * side.cycles),
                    )
            if rho < side.rho_lo:
                return -math.inf
            bound += side.params * rho
        return bound
    except (ValueError, ZeroDivisionError, OverflowError):
        return math.inf  # no bound: the split is solved


def solve_sca_all(problem: Problem, settings: ScaSettings = DEFAULTS) -> Solution:
    """:func:`solve_sca` at every split of ``problem``; the feasible one keeping the most
    parameters (ties: the first), or :meth:`Solution.infeasible` if none is feasible.

    With ``settings.prune_splits`` the splits are solved in decreasing order of
    :func:`upper_bound` and a split whose bound cannot beat the best found so far is skipped:
    it could not have won, so the answer is the same, only faster.
    """
    order: Sequence[int] = range(len(problem.splits))
    bounds = [math.inf] * len(order)
    if settings.prune_splits:
        bounds = [upper_bound(problem, index, settings) for index in order]
        order = sorted(order, key=lambda index: (-bounds[index], index))
    best = Solution.infeasible()
    for index in order:
        bound = bounds[index]
        if bound * (1 + 1e-9) < best.kept_params:  # (a hair of slack for rounding)
            continue
        found = solve_sca(problem, index, settings)
        if found.feasible and (
            found.kept_params > best.kept_params
            or (found.kept_params == best.kept_params and index < best.index)
        ):
            best = found
    return best
