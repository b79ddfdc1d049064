"""The linear programme in the kept fractions, solved exactly at its vertices, with multipliers.

At a fixed transmit power and clocks, (P1) at one split is a linear programme in the kept
fractions ``(ρ, ρ̃)``::

    maximise   w_d·ρ + w_s·ρ̃                          (kept parameters)
    subject to τ_d·ρ + τ_s·ρ̃ ≤ T                       (time left after the upload, s)
               ε_d·ρ + ε_s·ρ̃ ≤ E                       (energy left after the upload, J)
               ρ ∈ [ρ_lo, ρ_hi],  ρ̃ ∈ [ρ̃_lo, ρ̃_hi]

with ``w`` the parameters of a side, ``τ = a/f`` its seconds and ``ε = k·f²·a`` its joules per
unit of kept fraction. For a given ρ the best ρ̃ is the largest that fits, so the value is
concave piecewise linear in ρ and its maximum is at one of five breakpoints (the ends of the
feasible range of ρ, where a budget line meets ``ρ̃_hi``, and where the two budget lines cross).

:func:`solve_lp` solves it in plain floats and also returns the budgets' multipliers λ (per s)
and μ (per J): the joint solver's search (:mod:`coinfer.policies.joint_search`) reads from them
which way the optimum of (P1) lies along its family of points.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

#: What an LP's answer says about the family point it was solved at:
#:
#: * ``"optimum"``: an optimum; its multipliers tell which way the split's optimum lies;
#: * ``"infeasible"``: the lowest kept fractions miss a budget (:attr:`LpOptimum.way` says
#:   which);
#: * ``"kkt-point"``: the family point is a KKT point of (P1), the split's optimum (nothing
#:   binds, or a corner whose multipliers include the ratio Λ, or the LP prices time at
#:   exactly Λ).
#:
#: (Literal strings rather than an enum: they compare at the cost of an identity check, and the
#: search compares them in its innermost loop.)
LpStatus = Literal["optimum", "infeasible", "kkt-point"]

#: Which kept fractions the binding budgets set (the others are held at a bound): ``"none"``,
#: ``"device"`` (ρ; ρ̃ held), ``"server"`` (ρ̃; ρ held) or ``"both"``.
Free = Literal["none", "device", "server", "both"]


class LpOptimum(NamedTuple):
    """The answer of :func:`solve_lp`."""

    value: float  #: kept parameters ``w_d·ρ + w_s·ρ̃`` (−inf: infeasible)
    rho_device: float  #: ρ (nan: infeasible)
    rho_server: float  #: ρ̃ (nan: infeasible)
    time_price: float  #: λ, kept parameters per s of the time budget
    energy_price: float  #: μ, kept parameters per J of the energy budget
    status: LpStatus
    free: Free
    #: When infeasible, the way the ratio Λ should move: +1 if the lowest kept fractions miss
    #: the time budget (more speed helps), −1 if they miss the energy budget, 0 if both.
    way: int = 0


_NAN = math.nan
#: Builds an :class:`LpOptimum` from the tuple of all its fields: ``tuple.__new__`` skips the
#: argument handling of a NamedTuple's constructor, a third of a microsecond once per point of
#: the solver's search (about 2 % of a solve).
_new = tuple.__new__


def solve_lp(
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
) -> LpOptimum:
    """The LP in ``(ρ, ρ̃) = (x, y)`` at one family point, in plain floats: optimum and
    multipliers.

    ``w``, ``τ`` (s), ``ε`` (J) are per unit of the kept fraction (a side with no cycles has
    ``τ = ε = 0`` and is kept at its top); ``time_s`` and ``energy_j`` the budgets left (finite).
    Where the multipliers are not unique (a corner), those nearest to the ratio
    ``λ/μ = ratio`` (Λ, J/s) are returned, and the status is ``"kkt-point"`` if they
    reach it.
    """
    time_room = time_s - tau_d * x_lo - tau_s * y_lo
    energy_room = energy_j - eps_d * x_lo - eps_s * y_lo
    if time_room < 0.0 or energy_room < 0.0:
        way = (time_room < 0.0) - (energy_room < 0.0)
        return _new(LpOptimum, (-math.inf, _NAN, _NAN, 0.0, 0.0, "infeasible", "none", way))
    span_x, span_y = x_hi - x_lo, y_hi - y_lo
    free_d = tau_d <= 0.0 and eps_d <= 0.0  # a side with nothing to compute: kept at its top
    free_s = tau_s <= 0.0 and eps_s <= 0.0
    if free_d or free_s:
        return _one_side(
            w_d, w_s, tau_d, tau_s, eps_d, eps_s, time_room, energy_room, x_lo, x_hi, y_lo, y_hi
        )
    if tau_d * span_x + tau_s * span_y <= time_room and eps_d * span_x + eps_s * span_y <= (
        energy_room
    ):
        return _new(
            LpOptimum, (w_d * x_hi + w_s * y_hi, x_hi, y_hi, 0.0, 0.0, "kkt-point", "none", 0)
        )
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
    free: Free
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
            return _new(LpOptimum, (value, x, y, max(lam, 0.0), max(mu, 0.0), "optimum", "both", 0))
        if not (x_free or y_free):  # both at bounds and both budgets bind: a corner
            return _new(LpOptimum, (value, x, y, 0.0, 0.0, "kkt-point", "none", 0))
        # A corner: the multipliers with w = λ·τ + μ·ε on the free side form a segment, cut by
        # the sign the held fraction's bound needs. Take the one nearest to the ratio Λ.
        if x_free:
            w, tau, eps, free = w_d, tau_d, eps_d, "device"
            w_b, tau_b, eps_b, at_top, at_bottom = w_s, tau_s, eps_s, at_y_hi, at_y_lo
        else:
            w, tau, eps, free = w_s, tau_s, eps_s, "server"
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
            return _new(LpOptimum, (value, x, y, lam, (w - lam * tau) / eps, "kkt-point", free, 0))
        lam = lam_lo if lam < lam_lo else lam_hi
        return _new(
            LpOptimum, (value, x, y, lam, max((w - lam * tau) / eps, 0.0), "optimum", free, 0)
        )
    if tight_t or tight_e:
        # One budget binds: its multiplier prices the free fraction (a vertex has at most one
        # free with one budget binding); with both at bounds, at least w/cost of any fraction at
        # its bottom, zero if both are at their tops (the best value: a maximum).
        cost_d, cost_s = (tau_d, tau_s) if tight_t else (eps_d, eps_s)
        if x_free:
            price, free = w_d / cost_d, "device"
        elif y_free:
            price, free = w_s / cost_s, "server"
        else:
            price, free = 0.0, "none"
            if at_x_lo and span_x > 0.0:
                price = w_d / cost_d
            if at_y_lo and span_y > 0.0:
                price = max(price, w_s / cost_s)
            if price == 0.0:
                return _new(LpOptimum, (value, x, y, 0.0, 0.0, "kkt-point", "none", 0))
        if tight_t:
            return _new(LpOptimum, (value, x, y, price, 0.0, "optimum", free, 0))
        return _new(LpOptimum, (value, x, y, 0.0, price, "optimum", free, 0))
    # nothing binds: both at their tops
    return _new(LpOptimum, (value, x, y, 0.0, 0.0, "kkt-point", "none", 0))


def _one_side(
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
) -> LpOptimum:
    """:func:`solve_lp` when at least one side has nothing to compute (kept at its top);
    ``time_room`` and ``energy_room`` are what is left at the lowest kept fractions."""
    free: Free
    if tau_d <= 0.0 and eps_d <= 0.0:
        x = x_hi
        if tau_s <= 0.0 and eps_s <= 0.0:
            return _new(
                LpOptimum, (w_d * x_hi + w_s * y_hi, x_hi, y_hi, 0.0, 0.0, "kkt-point", "none", 0)
            )
        z_t, z_e, span = time_room / tau_s, energy_room / eps_s, y_hi - y_lo
        z = min(z_t, z_e, span)
        w, tau, eps, free = w_s, tau_s, eps_s, "server"
        y = y_lo + z
    else:
        y = y_hi
        z_t, z_e, span = time_room / tau_d, energy_room / eps_d, x_hi - x_lo
        z = min(z_t, z_e, span)
        w, tau, eps, free = w_d, tau_d, eps_d, "device"
        x = x_lo + z
    value = w_d * x + w_s * y
    if z >= span:
        return _new(LpOptimum, (value, x, y, 0.0, 0.0, "kkt-point", "none", 0))
    if z_t == z_e:  # a corner; the held side costs nothing: every multiplier pair works
        return _new(LpOptimum, (value, x, y, 0.0, 0.0, "kkt-point", free, 0))
    if z_t < z_e:
        return _new(LpOptimum, (value, x, y, w / tau, 0.0, "optimum", free, 0))
    return _new(LpOptimum, (value, x, y, 0.0, w / eps, "optimum", free, 0))
