"""The warm start of ``joint`` without a :class:`~coinfer.policies.problem.Problem`: plain floats
from the request to the decision (``docs/policies.md``, "Warm start").

A warm solve on the request's problem (:mod:`coinfer.policies.joint_warm`) evaluates a handful
of family points and the dual bound of every split; around it, building the request's
:class:`Problem` (numpy arrays indexed by the splits), its family and static key, and reporting
the point cost more than the solve. Here:

* :class:`FastTable` holds what depends only on the model, the device and server classes, the
  allowed splits and the floor on the kept fractions (the static part, the per-split numbers
  as lists, the constants of the prediction), built once; :class:`Request` is one request's
  family (the same scalars as the family of its :class:`Problem`), its usable splits and its
  per-split numbers and dual bounds, computed on demand;
* :func:`fast_search` refines, of the splits the key's (device's) earlier decisions found
  optimal, the one whose dual bound is highest where the last optimum was, by
  :func:`corner_solve` (Newton's steps on the corner of the piece the split's last optimum was
  on, from that optimum's ``s``, evaluating the family's power and clocks but no LP), else by the
  exact path's refinement; then certifies the point with every usable split's dual bound at its
  ``Λ`` (:meth:`Request.above`), as :func:`~coinfer.policies.joint_warm.certified_search` does:
  the answer is within a relative :data:`~coinfer.policies.joint_warm.CERTIFICATE_TOLERANCE`
  of the optimum of (P1);
* :meth:`FastTable.report` is :func:`~coinfer.policies.joint_search.reported_solution` and
  :meth:`FastTable.predict` is :func:`~coinfer.policies.prediction.predict`, in plain floats,
  bit for bit (``tests/policies/test_joint_fast.py`` checks every piece against what it
  replaces, and the decisions against the exact path's).

A request without a start (its class's first), without a certificate, or infeasible returns
None: the caller solves it the exact way.
"""

from __future__ import annotations

import bisect
import math
from typing import NamedTuple

from coinfer.emulator.compiled import use_compiled
from coinfer.policies.base import PolicyContext
from coinfer.policies.joint_family import (
    SERIES_BELOW,
    Family,
    FamilyPoint,
    SplitConstants,
)
from coinfer.policies.joint_lp import Free
from coinfer.policies.joint_search import Found, corner_step, refine
from coinfer.policies.joint_static import TINY, StaticPart
from coinfer.policies.joint_warm import (
    CERTIFICATE_TOLERANCE,
    MIDDLE,
    OFFSETS,
    _value_of,
    ceiling_of,
)
from coinfer.policies.problem import Problem

use_compiled(__name__, __file__)  # its compiled build, if built from this source

_LN2 = math.log(2.0)
#: Builds a NamedTuple from the tuple of its fields (see :data:`coinfer.policies.joint_lp._new`).
_new = tuple.__new__
#: log2(sqrt(π·e)), as :mod:`coinfer.emulator.model.reference` computes it
_LOG2_SQRT_PI_E = 0.5 * math.log2(math.pi * math.e)


class Answer(NamedTuple):
    """A fast solve's point: the fields of :class:`~coinfer.policies.problem.Solution` (a
    NamedTuple: built without a frozen dataclass's per-field cost)."""

    feasible: bool
    row: int  #: the split's row in the table (``Solution.index``)
    split: int
    rho_device: float
    rho_server: float
    tx_power_w: float
    f_device_hz: float
    f_server_hz: float
    kept_params: float  #: ρ·q + ρ̃·s
    latency_s: float
    energy_j: float


class FastTable:
    """What the fast path needs of one model on one device and server class, over given splits
    with a given floor on the kept fractions: built once, read per request. Units as in
    :class:`Problem` (FLOPs, bits, parameters; the per-request cycles are FLOPs × work / FLOPs
    per cycle)."""

    __slots__ = (
        "all_rows",
        "bound_constants",
        "device",
        "device_flops",
        "device_flops_per_cycle",
        "device_k",
        "device_params",
        "entropy_bits",
        "log2_gamma_term",
        "log2_n_less_constant",
        "model",
        "payload_bits",
        "row_data",
        "rows",
        "rows_by_payload",
        "server",
        "server_flops",
        "server_flops_per_cycle",
        "server_k",
        "server_params",
        "sorted_payloads",
        "splits",
        "starts",
        "static",
        "top",
        "total_params",
        "unit",
        "unit_cycles_d",
        "unit_cycles_s",
        "weight_bits",
    )

    def __init__(self, context: PolicyContext, splits: list[int], rho_min: float) -> None:
        model, device, server = context.model, context.device, context.server
        self.model, self.device, self.server = model, device, server
        #: the problem at unit work (its static fields are every request's)
        self.unit = unit = Problem.from_context(
            context._replace(work_scale=1.0), splits=splits, rho_min=rho_min
        )
        self.static = StaticPart(unit)
        self.splits: list[int] = unit.splits.tolist()
        #: row of each split point in the lists
        self.rows = {split: row for row, split in enumerate(self.splits)}
        self.device_params: list[float] = unit.device_params.tolist()
        self.server_params: list[float] = unit.server_params.tolist()
        self.device_flops: list[float] = model.device_flops[unit.splits].astype(float).tolist()
        self.server_flops: list[float] = model.server_flops[unit.splits].astype(float).tolist()
        self.payload_bits: list[float] = model.payload_bits[unit.splits].astype(float).tolist()
        self.device_flops_per_cycle = device.flops_per_cycle
        self.server_flops_per_cycle = server.flops_per_cycle
        self.all_rows = list(range(len(self.splits)))
        #: the split rows in the order of their payloads, and those payloads (for bisection)
        self.rows_by_payload = sorted(range(len(self.splits)), key=self.payload_bits.__getitem__)
        self.sorted_payloads = [self.payload_bits[row] for row in self.rows_by_payload]
        #: cycles per unit of work, per split
        self.unit_cycles_d = [flops / device.flops_per_cycle for flops in self.device_flops]
        self.unit_cycles_s = [flops / server.flops_per_cycle for flops in self.server_flops]
        self.top: list[float] = self.static.top.tolist()
        #: per split row, what its dual bound reads: θ at unit work (bits), cycles of each
        #: side per unit of work, q, s and the most it keeps
        self.row_data = list(
            zip(
                self.payload_bits,
                self.unit_cycles_d,
                self.unit_cycles_s,
                self.device_params,
                self.server_params,
                self.top,
                strict=True,
            )
        )
        # the reference model's constants (emulator.model.reference.co_inference_cost and
        # log2_distortion_bound), as it groups them
        self.device_k = device.pue * device.power_coeff_w_per_hz3
        self.server_k = server.pue * server.power_coeff_w_per_hz3
        n = self.total_params = float(model.total_params)
        self.weight_bits = float(model.weight_bits)
        self.entropy_bits = n * float(model.entropy_bits_per_param)
        log2_gamma_ratio = (math.lgamma(n / 2.0) - _LN2 - math.lgamma(n)) / _LN2
        self.log2_n_less_constant = math.log2(n) - _LOG2_SQRT_PI_E
        self.log2_gamma_term = log2_gamma_ratio / n
        static = self.static
        #: what :meth:`Request.above` reads of the static part: the power levels' and kept
        #: fractions' bounds, the chips' constants, and whether the fractions' boxes start at
        #: zero and are the unit boxes
        from_zero = static.x_lo == 0.0 and static.y_lo == 0.0
        self.bound_constants = (
            static.level_d_lo,
            static.level_d_hi,
            static.level_s_lo,
            static.level_s_hi,
            static.k_d,
            static.k_s,
            static.x_lo,
            static.x_hi,
            static.y_lo,
            static.y_hi,
            from_zero,
            from_zero and static.x_hi == 1.0 and static.y_hi == 1.0,
        )
        #: per key (device), where its previous solutions were
        self.starts: dict[object, Starts] = {}

    def predict(
        self,
        context: PolicyContext,
        split: int,
        rho_device: float,
        rho_server: float,
        tx_power_w: float,
        f_device_hz: float,
        f_server_hz: float,
    ) -> tuple[float, float, float]:
        """:func:`~coinfer.policies.prediction.predict` for a request on this table's model and
        hardware, in plain floats with the constants of the distortion bound computed once:
        latency (s), energy (J) and distortion bound, the same floats (the reference model's
        operations in the same order; tested bit for bit)."""
        table = self.model.split_table
        scale = context.work_scale
        payload = table.payload_bits[split]  # (floats: the split table's lists)
        theta = payload * scale if context.scale_payload else payload
        # emulator.model.reference.co_inference_cost on floats
        bandwidth = context.bandwidth_hz
        rate = bandwidth * math.log2(
            1.0 + context.gain * tx_power_w / (bandwidth * context.noise_psd_w_per_hz)
        )
        upload_s = 0.0 if theta <= 0.0 else theta / rate if rate > 0.0 else math.inf
        cycles_d = rho_device * (table.device_flops[split] * scale) / self.device_flops_per_cycle
        cycles_s = rho_server * (table.server_flops[split] * scale) / self.server_flops_per_cycle
        device_s = (
            0.0 if cycles_d <= 0.0 else cycles_d / f_device_hz if f_device_hz > 0.0 else math.inf
        )
        server_s = (
            0.0 if cycles_s <= 0.0 else cycles_s / f_server_hz if f_server_hz > 0.0 else math.inf
        )
        device_j = self.device_k * f_device_hz**2 * cycles_d
        server_j = self.server_k * f_server_hz**2 * cycles_s
        kept = rho_device * table.device_params[split] + rho_server * table.server_params[split]
        # emulator.model.reference.log2_distortion_bound with its constant terms computed once
        n = self.total_params
        log2_bound = (
            self.log2_n_less_constant
            - (kept * self.weight_bits - self.entropy_bits) / n
            + self.log2_gamma_term
        )
        return (
            device_s + upload_s + server_s,
            device_j + tx_power_w * upload_s + server_j,
            float(2.0**log2_bound),
        )

    def fits(self, context: PolicyContext) -> bool:
        """Whether ``context``'s request runs on this table's model and hardware."""
        return (
            context.model is self.model
            and context.device is self.device
            and context.server is self.server
        )

    def usable(self, family: Family, payload_scale: float, deadline_s: float) -> list[int]:
        """:func:`~coinfer.policies.joint_warm.usable_of` for the payloads times
        ``payload_scale`` (the same rows): the rows whose payload is clearly below (above) what
        the top power sends within the deadline are taken (left) without a power of two each,
        the few within a relative 1e-12 of it decided by ``usable_of``'s own test."""
        snr, p_hi = family.snr, family.p_hi
        if not (deadline_s > 0.0 and snr > 0.0):
            return [row for row, theta in enumerate(self.payload_bits) if theta <= 0.0]
        per_bit = 1.0 / (deadline_s * family.bandwidth)
        most = math.log2(1.0 + p_hi * snr / (1.0 + 1e-9))  # the largest exponent usable
        margin = 1e-12 * most + 1e-14  # far above the rounding of either test
        # (min as a conditional expression: the same floats, without the call)
        sure, never = most - margin, most + margin
        never = 1000.0 if never > 1000.0 else never
        unit = per_bit * payload_scale  # exponent per bit of unscaled payload
        if unit > 0.0 and math.isfinite(unit):
            # the payloads sorted: those clearly within (beyond) reach found by bisection
            # (1e-12: far above the rounding of the exponent's product)
            payloads, order = self.sorted_payloads, self.rows_by_payload
            reach = (1000.0 if sure > 1000.0 else sure) / unit * (1.0 - 1e-12)
            if payloads[-1] <= reach:
                return self.all_rows  # (the caller does not change it)
            within = bisect.bisect_right(payloads, reach)
            beyond = bisect.bisect_left(payloads, never / unit * (1.0 + 1e-12), within)
            rows = order[:within]
            for row in order[within:beyond]:
                theta = self.payload_bits[row] * payload_scale
                exponent = theta * per_bit
                if theta <= 0.0 or (
                    exponent < 1000.0 and (2.0**exponent - 1.0) * ((1.0 + 1e-9) / snr) <= p_hi
                ):
                    rows.append(row)
            rows.sort()
            return rows
        rows = []
        for row, payload in enumerate(self.payload_bits):
            theta = payload * payload_scale if payload_scale != 1.0 else payload
            if theta <= 0.0:
                rows.append(row)
                continue
            exponent = theta * per_bit
            if (exponent <= sure and exponent < 1000.0) or (
                exponent < never and (2.0**exponent - 1.0) * ((1.0 + 1e-9) / snr) <= p_hi
            ):
                rows.append(row)
        return rows

    def report(
        self,
        split: SplitConstants,
        point: FamilyPoint,
        gain: float,
        bandwidth_hz: float,
        noise_psd_w_per_hz: float,
        deadline_s: float,
        energy_budget_j: float,
    ) -> Answer:
        """:func:`~coinfer.policies.joint_search.reported_solution` of ``point`` of ``split``,
        in plain floats: kept fractions clipped, a side with nothing on it unpruned, the top
        power when nothing is sent, evaluated as :meth:`Problem.evaluate` does and feasible
        as :meth:`Problem.meets_budgets` says."""
        unit = self.unit
        row, theta, q, s = split.index, split.theta, split.q, split.s
        a_d, a_s = split.a_d, split.a_s
        # (min and max as conditional expressions: the same floats, without the calls)
        lo, hi, rho_d = unit.rho_device_lo, unit.rho_device_hi, point.rho_device
        rho_d = lo if lo > rho_d else rho_d
        rho_d = float(hi if hi < rho_d else rho_d)
        lo, hi, rho_s = unit.rho_server_lo, unit.rho_server_hi, point.rho_server
        rho_s = lo if lo > rho_s else rho_s
        rho_s = float(hi if hi < rho_s else rho_s)
        if q == 0.0 and a_d == 0.0:
            rho_d = unit.rho_device_hi
        if s == 0.0 and a_s == 0.0:
            rho_s = unit.rho_server_hi
        p = unit.p_hi_w if theta <= 0.0 else point.tx_power_w
        f_d, f_s = point.f_device_hz, point.f_server_hz
        upload_s = 0.0
        if theta > 0.0:  # (shannon_rate_bps, inlined)
            rate = bandwidth_hz * math.log2(1.0 + gain * p / (bandwidth_hz * noise_psd_w_per_hz))
            upload_s = theta / rate if rate > 0.0 else math.inf
        latency = (
            (rho_d * a_d / f_d if a_d > 0 else 0.0)
            + upload_s
            + (rho_s * a_s / f_s if a_s > 0 else 0.0)
        )
        energy = (
            unit.device_k * f_d**2 * rho_d * a_d
            + p * upload_s
            + unit.server_k * f_s**2 * rho_s * a_s
        )
        kept = rho_d * q + rho_s * s
        feasible = latency <= deadline_s * (1 + 1e-9) and energy <= energy_budget_j * (1 + 1e-9)
        return _new(
            Answer,
            (feasible, row, self.splits[row], rho_d, rho_s, p, f_d, f_s, kept, latency, energy),
        )


class Request(Family):
    """One request on a :class:`FastTable`: its family (it is one, without a
    :class:`Problem`), which splits can meet the deadline, and the per-split numbers and dual
    bounds the search asks for, computed on demand."""

    __slots__ = ("payload_scale", "table", "usable", "work_scale")

    def __init__(
        self,
        table: FastTable,
        gain: float,
        bandwidth_hz: float,
        noise_psd_w_per_hz: float,
        work_scale: float,
        scale_payload: bool,
        deadline_s: float,
        energy_budget_j: float,
    ) -> None:
        self.table = table
        self._set(table.static, gain, bandwidth_hz, noise_psd_w_per_hz, deadline_s, energy_budget_j)
        self.work_scale = work_scale
        #: what the work scale does to the payload (the work scale, or 1)
        self.payload_scale = work_scale if scale_payload else 1.0
        self.usable = table.usable(self, self.payload_scale, deadline_s)

    def constants(self, row: int) -> SplitConstants:
        """Split row ``row``'s numbers for this request, as :meth:`Problem.from_context` and
        :meth:`SplitConstants.of` compute them (the same floats)."""
        table, work = self.table, self.work_scale
        payload = table.payload_bits[row]
        return SplitConstants(
            row,
            table.device_params[row],
            table.server_params[row],
            table.device_flops[row] * work / table.device_flops_per_cycle,
            table.server_flops[row] * work / table.server_flops_per_cycle,
            payload * work if self.payload_scale != 1.0 else payload,
        )

    def above(self, s: float, rows: list[int], ceiling: float) -> list[tuple[float, int]]:
        """The splits of ``rows`` whose dual bound at ``s = ln v`` exceeds ``ceiling`` (kept
        parameters), as ``(bound, row)``: :func:`~coinfer.policies.joint_warm.bounds_of`
        with the work scale applied to the per-split terms instead of the per-split numbers
        (equal within rounding, tested to a relative 1e-12). ``ceiling = -inf``: every split
        that is feasible at that ``Λ`` (the others' bound is −inf)."""
        (
            level_d_lo,
            level_d_hi,
            level_s_lo,
            level_s_hi,
            k_d,
            k_s,
            x_lo,
            x_hi,
            y_lo,
            y_hi,
            from_zero,
            unit_boxes,
        ) = self.table.bound_constants
        v = math.exp(s)
        c = self.c
        y = c * v
        lam = ((1.0 + y) * math.log1p(y) - y) * (1.0 / c)
        # (min and max as conditional expressions: the same floats, without the calls)
        p_lo, p_hi = self.p_lo, self.p_hi
        p = p_lo if p_lo > v else v
        p = p_hi if p_hi < p else p
        rate = math.log1p(self.snr * p) * (self.bandwidth / _LN2)
        rate = TINY if rate < TINY else rate
        base = self.time_budget * lam + self.energy_budget
        spend = (lam + p) / rate * self.payload_scale  # per bit of the unscaled payload
        level = 0.5 * lam
        level_d = level_d_lo if level_d_lo > level else level
        level_d = level_d_hi if level_d_hi < level_d else level_d
        level_s = level_s_lo if level_s_lo > level else level
        level_s = level_s_hi if level_s_hi < level_s else level_s
        work = self.work_scale
        per_d = (lam + level_d) / math.cbrt(level_d / k_d) * work  # per unit cycle
        per_s = (lam + level_s) / math.cbrt(level_s / k_s) * work
        data = self.table.row_data
        found: list[tuple[float, int]] = []
        append = found.append
        for row in rows:
            theta, cycles_d, cycles_s, q, r, bound = data[row]
            if bound <= ceiling:  # the most it keeps: its bound can be no higher
                continue
            budget = base - spend * theta
            if from_zero and budget < 0.0:
                continue  # −inf: nothing can be paid for
            cost_d, cost_s = cycles_d * per_d, cycles_s * per_s
            if not from_zero and budget - (x_lo * cost_d + y_lo * cost_s) < 0.0:
                continue  # −inf: the lowest kept fractions cannot be paid for
            # the least of the split's top and the value at each side's breakpoint (with
            # fractions in [0, 1], rest·1 is rest and rest·0 adds nothing: the same floats)
            if cost_d > 0.0:
                mu = q / cost_d
                rest = r - mu * cost_s
                if unit_boxes:
                    value = mu * budget + rest if rest > 0.0 else mu * budget
                else:
                    value = mu * budget + (rest * y_hi if rest > 0.0 else rest * y_lo)
                if value < bound:
                    if value <= ceiling:
                        continue
                    bound = value
            if cost_s > 0.0:
                mu = r / cost_s
                rest = q - mu * cost_d
                if unit_boxes:
                    value = mu * budget + rest if rest > 0.0 else mu * budget
                else:
                    value = mu * budget + (rest * x_hi if rest > 0.0 else rest * x_lo)
                if value < bound:
                    if value <= ceiling:
                        continue
                    bound = value
            append((bound, row))
        return found


#: Newton steps on a corner tried before the bracketing refinement takes over.
NEWTON_STEPS = 8
#: Width in ``s = ln v`` (relative to max(1, |s|)) at which Newton's steps have converged.
NEWTON_RESOLUTION = 1e-10
#: A Newton step on a corner (:func:`corner_solve`) this small (relative, as above) is the last.
LAST_STEP = 1e-6
#: Farthest Newton's steps may go from their start in ``s = ln v`` (the warm grid's reach).
NEWTON_REACH = 16.0


class Starts:
    """Where one key's (device's) previous solutions were: the split row of the last decision
    and, per split row, the ``s = ln v`` of that split's last optimum (nan: none yet)."""

    __slots__ = ("known", "pieces", "row", "s")

    def __init__(self, row: int, rows: int) -> None:
        self.row = row
        self.s = [math.nan] * rows
        #: per split row, the piece of h its last optimum was the corner of: which kept
        #: fraction the budgets set and the bound the other was held at (None: not a corner)
        self.pieces: list[tuple[Free, float] | None] = [None] * rows
        self.known: list[int] = []  #: the rows whose ``s`` is known, in the order learnt

    def place(self, row: int, s: float) -> None:
        """Remember that split row ``row``'s last optimum was at ``s = ln v``."""
        if math.isnan(self.s[row]):
            self.known.append(row)
        self.s[row] = s

    def learn(self, row: int, point: FamilyPoint, family: Family) -> None:
        """Remember the optimum ``point`` of split row ``row`` of ``family``'s problem."""
        self.place(row, point.s)
        held = point.held()
        if held is not None:  # the held fraction is at one of its bounds (the LP's, rounded)
            free, value = held
            low, high = (
                (family.x_lo, family.x_hi) if free == "server" else (family.y_lo, family.y_hi)
            )
            self.pieces[row] = (free, low if abs(value - low) < abs(value - high) else high)


def corner_solve(
    family: Family, split: SplitConstants, start: float, free: Free, bound: float
) -> FamilyPoint | None:
    """The corner of the piece of ``h`` with the kept fraction other than ``free`` held at
    ``bound``, by Newton's steps on ψ from ``s = start``, each evaluating the first half of
    :meth:`Family.point` (power, clocks, the budgets left and their slopes: the same floats)
    but no LP, as a point: the held fraction at ``bound``, the free one the most both budgets
    allow; or, as soon as a point keeps everything within both budgets, that point (nothing
    keeps more). None if the power gives no rate, the steps do not settle within
    :data:`NEWTON_STEPS` or :data:`NEWTON_REACH`, or the free fraction leaves its range. The
    point is a candidate only: the caller's certificate (its dual bound at the point) decides
    whether it is the split's optimum."""
    x_lo, x_hi, y_lo, y_hi = family.x_lo, family.x_hi, family.y_lo, family.y_hi
    c, snr, bandwidth = family.c, family.snr, family.bandwidth
    p_lo, p_hi, k_d, k_s = family.p_lo, family.p_hi, family.k_d, family.k_s
    f_d_lo, f_d_hi, f_s_lo, f_s_hi = family.f_d_lo, family.f_d_hi, family.f_s_lo, family.f_s_hi
    time_budget, energy_budget = family.time_budget, family.energy_budget
    q, r, a_d, a_s, theta = split.q, split.s, split.a_d, split.a_s, split.theta
    held_server = free == "server"  # ρ held at ``bound``, ρ̃ set by the budgets
    held_top = bound == (x_hi if held_server else y_hi)
    free_top = y_hi if held_server else x_hi
    exp, log1p, log2, cbrt = math.exp, math.log1p, math.log2, math.cbrt
    ln2, bandwidth_snr = (
        _LN2,
        bandwidth * snr,
    )  # (B·c: the product the slope of the rate starts with)
    s, last = start, False
    for _ in range(NEWTON_STEPS):
        # Family.point's first half, inlined (lambda_of and clipped_clock too)
        v = exp(s)
        y = c * v
        log1p_y = log1p(y)
        if y < SERIES_BELOW:
            lam = y * y * (0.5 - y * (1.0 / 6.0 - y * (1.0 / 12.0 - y / 20.0))) / c
        else:
            lam = ((1.0 + y) * log1p_y - y) / c
        dlam = v * log1p_y
        if v >= p_hi:
            p, dp = p_hi, 0.0
        elif v <= p_lo:
            p, dp = p_lo, 0.0
        else:
            p, dp = v, v
        if theta > 0.0:
            gained = 1.0 + snr * p
            rate = bandwidth * log2(gained)
            if rate <= 0.0:
                return None
            upload = theta / rate
            time_left = time_budget - upload
            energy_left = energy_budget - p * upload
            dupload = -upload / rate * (bandwidth_snr / (gained * ln2)) * dp
            dtime = -dupload
            denergy = -(upload * dp + p * dupload)
        else:
            time_left, energy_left, dtime, denergy = time_budget, energy_budget, 0.0, 0.0
        level = 0.5 * lam
        f_d = cbrt(level / k_d)
        if f_d <= f_d_lo:
            f_d, g_d = f_d_lo, 0.0
        elif f_d >= f_d_hi:
            f_d, g_d = f_d_hi, 0.0
        else:
            g_d = f_d * dlam / (3.0 * lam) / f_d
        f_s = cbrt(level / k_s)
        if f_s <= f_s_lo:
            f_s, g_s = f_s_lo, 0.0
        elif f_s >= f_s_hi:
            f_s, g_s = f_s_hi, 0.0
        else:
            g_s = f_s * dlam / (3.0 * lam) / f_s
        # the held side's seconds, joules and clock slope per unit, and the free side's
        if held_server:
            tb, eb, gb = a_d / f_d, k_d * f_d * f_d * a_d, g_d
            tz, ez, gz = a_s / f_s, k_s * f_s * f_s * a_s, g_s
        else:
            tb, eb, gb = a_s / f_s, k_s * f_s * f_s * a_s, g_s
            tz, ez, gz = a_d / f_d, k_d * f_d * f_d * a_d, g_d
        if tz <= 0.0 or ez <= 0.0:
            return None
        # the free fraction under each budget (z_T, z_E); ψ = z_E − z_T and its slope along
        # s (joint_search.corner_of, inlined)
        z_t = (time_left - tb * bound) / tz
        z_e = (energy_left - eb * bound) / ez
        z = z_t if z_t < z_e else z_e
        if held_top and z >= free_top:  # everything kept fits: the most any point keeps
            return FamilyPoint(s, q * x_hi + r * y_hi, "kkt-point", 0, p, f_d, f_s, x_hi, y_hi)
        if last:
            break
        dz_t = (dtime + bound * tb * gb) / tz + z_t * gz
        dz_e = (denergy - 2.0 * bound * eb * gb) / ez - 2.0 * z_e * gz
        if dz_e == dz_t:
            return None
        guess = s - (z_e - z_t) / (dz_e - dz_t)
        if not abs(guess - start) <= NEWTON_REACH:  # (also nan)
            return None
        step = abs(guess - s)
        scale = abs(guess)
        scale = scale if scale > 1.0 else 1.0
        if step <= NEWTON_RESOLUTION * scale:
            break
        # Newton's steps converge quadratically: after a step below LAST_STEP the next one
        # would be below NEWTON_RESOLUTION, so the point it lands on is the corner's
        last = step <= LAST_STEP * scale
        s = guess
    else:
        return None
    x, y = (bound, z) if held_server else (z, bound)
    if not (x_lo <= x <= x_hi and y_lo <= y <= y_hi):
        return None
    return FamilyPoint(s, q * x + r * y, "kkt-point", 0, p, f_d, f_s, x, y, free)


def newton_refine(family: Family, split: SplitConstants, start: float) -> FamilyPoint | None:
    """The split's optimum by Newton's steps on the corner of ``h`` from ``s = start``
    (:func:`~coinfer.policies.joint_search.corner_step`, each step inside the bracket the
    directions of the points seen keep), or None when they do not settle: a smooth maximum,
    an infeasible point, a step out of the bracket or beyond :data:`NEWTON_REACH`, or
    :data:`NEWTON_STEPS` steps (then
    :func:`~coinfer.policies.joint_search.refine` searches)."""
    point = family.point(split, start)
    low, high = -math.inf, math.inf
    for _ in range(NEWTON_STEPS):
        direction = point.direction
        if direction == 0:
            return point
        if point.local is None:
            return None
        held = point.held()
        if held is None:
            return None
        if direction > 0:
            low = point.s
        else:
            high = point.s
        guess = corner_step(point, *held)
        if abs(guess - point.s) <= NEWTON_RESOLUTION * max(1.0, abs(guess)):
            return point
        if not low < guess < high or abs(guess - start) > NEWTON_REACH:
            return None
        point = family.point(split, guess)
    return None


def fast_search(
    request: Request, starts: Starts, tolerance: float, iterations: int
) -> Found | None:
    """The certified best point over the request's usable split rows, searched from
    ``starts`` (and updating them), or None (no certificate: solve it the exact way).

    The splits whose optimum has been found before are ranked by their dual bound where the
    last decision's optimum was (:meth:`Request.bounds`), and the highest is refined first,
    by :func:`newton_refine` from where its own optimum last was (else by
    :func:`~coinfer.policies.joint_search.refine` on the warm grid). Then every usable
    split's dual bound at the ``Λ`` of the best point found is compared with it: a split
    whose bound is above it by more than a relative
    :data:`~coinfer.policies.joint_warm.CERTIFICATE_TOLERANCE` is bounded at the ``s`` of
    its own last optimum moved as far as the first split's moved (the bound at any ``Λ`` is
    an upper bound), and refined only if that does not bound it either (from that ``s``); a
    refined split is settled when its bound at its own point certifies that point. As in
    :func:`~coinfer.policies.joint_warm.certified_search`, the answer is certified within
    that tolerance of the optimum of (P1).
    """
    family, usable, above_at = request, request.usable, request.above
    found: dict[int, Found] = {}
    settled: set[int] = set()  # refined rows whose own bound certifies their point
    cornered: set[int] = set()  # rows whose point is corner_solve's candidate
    row = starts.row
    known = starts.known
    if len(known) > 1:  # first the split whose bound is highest where the last optimum was
        ranked = above_at(
            starts.s[row],
            known if usable is request.table.all_rows else [o for o in known if o in usable],
            -math.inf,
        )
        if ranked:  # the highest bound, the lower row among equal ones (max by _first_bound)
            top, row = ranked[0]
            for bound, other in ranked:
                if bound > top or (bound == top and other < row):
                    top, row = bound, other
    best: Found | None = None
    shift = 0.0  # how far the first split's optimum moved from its last one
    while True:
        split = request.constants(row)
        start = starts.s[row] + shift
        if start != start:  # (nan)
            start = best.point.s if best is not None else math.nan
            if start != start:
                return None
        point = None
        piece = starts.pieces[row]
        if piece is not None and row not in found:
            free, held = piece
            point = corner_solve(family, split, start, free, held)
            if point is not None:
                cornered.add(row)
        if point is None:
            cornered.discard(row)
            point = newton_refine(family, split, start)
        if point is None:
            grid = [start + offset for offset in OFFSETS]
            point = refine(family, split, grid, MIDDLE, tolerance, iterations)  # type: ignore[arg-type]
        if not math.isfinite(point.value):
            return None
        if best is None:
            shift = point.s - start
        if row in cornered:  # on the piece it was on: only where it is moved
            starts.s[row] = point.s
        else:
            starts.learn(row, point, family)
        found[row] = this = _new(Found, (split, point))
        if best is None or point.value > best.point.value:
            best = this
        best_point = best.point
        value = best_point.value
        ceiling = value + CERTIFICATE_TOLERANCE * abs(value)  # (ceiling_of, inlined)
        above = above_at(best_point.s, usable, ceiling)
        if best is this:  # its own bound at its own point is among those
            if not above or all(other != row for _, other in above):
                settled.add(row)
        elif not above_at(point.s, [row], ceiling_of(point.value)):
            settled.add(row)
        if above:
            above = [(bound, other) for bound, other in above if other not in settled]
        if above:  # bounded at the Λ of its own last optimum (moved as the first one moved)?
            above = [
                (bound, other)
                for bound, other in above
                if other in found
                or math.isnan(starts.s[other])
                or above_at(starts.s[other] + shift, [other], ceiling)
            ]
        if not above:
            starts.row = best.split.index
            return best
        row = max(above)[1]
        if row in found:
            if row not in cornered:  # refined, yet neither settled nor bounded
                return None
            # a corner that is not the split's optimum: refine it
            del found[row]
            if best.split.index == row:
                best = max(found.values(), key=_value_of) if found else None
            starts.pieces[row] = None


def fast_solve(
    table: FastTable,
    starts: Starts,
    gain: float,
    bandwidth_hz: float,
    noise_psd_w_per_hz: float,
    work_scale: float,
    scale_payload: bool,
    deadline_s: float,
    energy_budget_j: float,
    tolerance: float,
    iterations: int,
) -> Answer | None:
    """The certified solution of the request searched from ``starts`` (which it updates), or
    None: no certificate (solve it the exact way). ``tolerance``, ``iterations``:
    :func:`~coinfer.policies.joint_search.refine`'s."""
    request = Request(
        table,
        gain,
        bandwidth_hz,
        noise_psd_w_per_hz,
        work_scale,
        scale_payload,
        deadline_s,
        energy_budget_j,
    )
    if starts.row not in request.usable:
        return None
    found = fast_search(request, starts, tolerance, iterations)
    if found is None or not math.isfinite(found.point.value):
        return None
    return table.report(
        found.split,
        found.point,
        gain,
        bandwidth_hz,
        noise_psd_w_per_hz,
        deadline_s,
        energy_budget_j,
    )
