"""What the joint solver builds once per device class: the static part of a problem, cached.

A request's problem (P1) changes with its gain, band, work and budgets, but much of what the
solver needs depends only on the *static* fields (hardware, bounds, kept parameters per split):
the clock and power ranges searched, the power levels at the clock bounds, which splits upload
and on which sides they compute, and the arrays of the vectorised dual bound.
:class:`StaticPart` holds them; :class:`StaticCache` keeps one per device class, bounded.

Also here, shared by the solver's modules: the floors it searches from (as in the former grid
search, the clocks stay at or above 1e-3 of their top and the power at or above 1e-7 of
``P_max``; it only matters with no deadline) and the stand-ins that keep its arithmetic free of
inf and nan.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from coinfer.policies.problem import Problem

#: Lowest clock, as a fraction of the top, searched when a chip's lowest clock is 0.
LOWEST_CLOCK_FRACTION = 1e-3
#: Lowest transmit power, as a fraction of P_max, searched when no deadline bounds it below.
LOWEST_POWER_FRACTION = 1e-7
#: Stand-in for an infinite budget, s or J (keeps the arithmetic free of inf and nan).
HUGE = 1e30
#: Stand-in for a zero denominator.
TINY = 1e-300

#: What :meth:`StaticPart.key` returns: the static fields, hashable.
StaticKey = tuple[object, ...]


class StaticPart:
    """What a family (:class:`~coinfer.policies.joint_family.Family`) needs that depends only on
    the static fields of a problem. Units: W for powers and power levels ``k·f³``, Hz for
    clocks, J per cycle per Hz² for ``k``; kept fractions are plain numbers.

    Per split, ``code`` says what moves along the family: ``4·uploads + 2·computes on the
    device + computes on the server``.
    """

    def __init__(self, problem: Problem) -> None:
        self.p_hi = p_hi = max(problem.p_hi_w, 0.0)
        self.p_lo = min(max(problem.p_lo_w, p_hi * LOWEST_POWER_FRACTION), p_hi)
        self.k_d, self.k_s = k_d, k_s = problem.device_k, problem.server_k
        self.f_d_lo = max(problem.f_device_lo_hz, problem.f_device_hi_hz * LOWEST_CLOCK_FRACTION)
        self.f_d_hi = problem.f_device_hi_hz
        self.f_s_lo = max(problem.f_server_lo_hz, problem.f_server_hi_hz * LOWEST_CLOCK_FRACTION)
        self.f_s_hi = problem.f_server_hi_hz
        self.level_d_lo, self.level_d_hi = k_d * self.f_d_lo**3, k_d * self.f_d_hi**3
        self.level_s_lo, self.level_s_hi = k_s * self.f_s_lo**3, k_s * self.f_s_hi**3
        self.x_lo, self.x_hi = problem.rho_device_lo, problem.rho_device_hi
        self.y_lo, self.y_hi = problem.rho_server_lo, problem.rho_server_hi
        # what moves along the family: the power (splits that upload), either clock (splits
        # that compute on that side)
        self.p_moves = self.p_lo < self.p_hi
        self.d_moves = self.f_d_lo < self.f_d_hi
        self.s_moves = self.f_s_lo < self.f_s_hi
        self.sends: NDArray[np.bool_] = problem.payload_bits > 0.0
        self.code: NDArray[np.int_] = (
            4 * self.sends.astype(int)
            + 2 * (problem.device_cycles > 0.0)
            + (problem.server_cycles > 0.0).astype(int)
        )
        self.codes: list[int] = sorted(set(self.code.tolist()))
        # for the vectorised bound, both sides stacked on a leading axis (0: device, 1: server)
        self.params: NDArray[np.float64] = np.concatenate(
            (problem.device_params, problem.server_params)
        ).reshape(2, -1, 1)
        self.top: NDArray[np.float64] = (
            self.x_hi * problem.device_params + self.y_hi * problem.server_params
        )
        self.level_lo = np.array([self.level_d_lo, self.level_s_lo])[:, None, None]
        self.level_hi = np.array([self.level_d_hi, self.level_s_hi])[:, None, None]
        self.inverse_k = np.array([1.0 / k_d, 1.0 / k_s])[:, None, None]
        self.box_lo = np.array([self.x_lo, self.y_lo])[:, None, None]
        self.box_hi = np.array([self.x_hi, self.y_hi])[:, None, None]
        self.boxes_from_zero = self.x_lo == 0.0 and self.y_lo == 0.0
        self.boxes_to_one = self.x_hi == 1.0 and self.y_hi == 1.0

    @staticmethod
    def key(problem: Problem) -> StaticKey:
        """The fields :class:`StaticPart` is built from (two problems with the same key share
        one)."""
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


class StaticCache:
    """The static parts of the problems seen, at most ``size`` of them (all are dropped when it
    is full: a run sees a handful of device classes, and a sweep's next run others)."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._parts: dict[StaticKey, StaticPart] = {}

    def __len__(self) -> int:
        return len(self._parts)

    def get(self, problem: Problem) -> StaticPart:
        """The static part of ``problem``, built on first use of its device class."""
        key = StaticPart.key(problem)
        static = self._parts.get(key)
        if static is None:
            if len(self._parts) >= self.size:
                self._parts.clear()
            static = self._parts[key] = StaticPart(problem)
        return static
