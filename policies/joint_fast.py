"""The warm start of ``joint`` without a :class:`~coinfer.policies.problem.Problem`: plain floats
from the request to the solution.

A warm solve (:mod:`coinfer.policies.joint_warm`) evaluates a handful of family points and the
dual bound of every split once or twice, a few tens of microseconds in plain floats; around it,
building the request's :class:`Problem` (numpy arrays indexed by the splits), its
:class:`~coinfer.policies.joint_family.Family` and static key, and reporting the point with
:meth:`Problem.evaluate` cost more than the solve. Here what depends only on the model, the
device and server classes, the allowed splits and the floor on the kept fractions is built once
(:class:`FastTable`: the static part, the per-split numbers as lists); per request only the
work-scaled cycles and payloads (three list comprehensions), the family's scalars and the
search remain.

What it computes is what :func:`~coinfer.policies.joint_warm.warm_solve` computes on the
request's :class:`Problem`: the same per-split numbers (the same float operations in the same
order), the same family points, the same refinement from the same start, the same certificate;
and :meth:`FastTable.report` is :func:`~coinfer.policies.joint_search.reported_solution` in
plain floats. ``tests/policies/test_joint_fast.py`` checks both bit for bit. A request without a
start (its device's first) or without a certificate returns None: the caller solves it the exact
way.
"""

from __future__ import annotations

import math

from coinfer.emulator.model.reference import shannon_rate_bps
from coinfer.policies.base import PolicyContext
from coinfer.policies.joint_family import Family, FamilyPoint, SplitConstants
from coinfer.policies.joint_search import Found, corner_step, refine
from coinfer.policies.joint_static import StaticPart
from coinfer.policies.joint_warm import MIDDLE, OFFSETS, Columns, bounds_of, ceiling_of, usable_of
from coinfer.policies.problem import Problem, Solution

_LN2 = math.log(2.0)
#: log2(sqrt(π·e)), as :mod:`coinfer.emulator.model.reference` computes it
_LOG2_SQRT_PI_E = 0.5 * math.log2(math.pi * math.e)


class FastTable:
    """What the fast path needs of one model on one device and server class, over given splits
    with a given floor on the kept fractions: built once, read per request. Units as in
    :class:`Problem` (FLOPs, bits, parameters; the per-request cycles are FLOPs × work / FLOPs
    per cycle)."""

    __slots__ = (
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
        "rows",
        "server",
        "server_flops",
        "server_flops_per_cycle",
        "server_k",
        "server_params",
        "splits",
        "starts",
        "static",
        "top",
        "total_params",
        "unit",
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
        self.top: list[float] = self.static.top.tolist()
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
        payload = float(table.payload_bits[split])
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
            - (float(kept) * self.weight_bits - self.entropy_bits) / n
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

    def columns(self, work_scale: float, scale_payload: bool) -> Columns:
        """The per-split numbers of a request with this work scale (as
        :meth:`Problem.from_context` computes them)."""
        fpc_d, fpc_s = self.device_flops_per_cycle, self.server_flops_per_cycle
        payload = self.payload_bits
        return Columns(
            [theta * work_scale for theta in payload] if scale_payload else payload,
            self.device_params,
            self.server_params,
            [flops * work_scale / fpc_d for flops in self.device_flops],
            [flops * work_scale / fpc_s for flops in self.server_flops],
            self.top,
        )

    def report(
        self,
        columns: Columns,
        row: int,
        point: FamilyPoint,
        gain: float,
        bandwidth_hz: float,
        noise_psd_w_per_hz: float,
        deadline_s: float,
        energy_budget_j: float,
    ) -> Solution:
        """:func:`~coinfer.policies.joint_search.reported_solution` of ``point`` at split row
        ``row``, in plain floats: kept fractions clipped, a side with nothing on it unpruned,
        the top power when nothing is sent, evaluated as :meth:`Problem.evaluate` does and
        feasible as :meth:`Problem.meets_budgets` says."""
        unit = self.unit
        theta = columns.payload_bits[row]
        q, s = columns.device_params[row], columns.server_params[row]
        a_d, a_s = columns.device_cycles[row], columns.server_cycles[row]
        rho_d = float(min(max(point.rho_device, unit.rho_device_lo), unit.rho_device_hi))
        rho_s = float(min(max(point.rho_server, unit.rho_server_lo), unit.rho_server_hi))
        if q == 0.0 and a_d == 0.0:
            rho_d = unit.rho_device_hi
        if s == 0.0 and a_s == 0.0:
            rho_s = unit.rho_server_hi
        p = unit.p_hi_w if theta <= 0.0 else point.tx_power_w
        f_d, f_s = point.f_device_hz, point.f_server_hz
        upload_s = 0.0
        if theta > 0.0:
            rate = shannon_rate_bps(p, gain, bandwidth_hz, noise_psd_w_per_hz)
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
        return Solution(
            feasible, row, self.splits[row], rho_d, rho_s, p, f_d, f_s, kept, latency, energy
        )


#: Newton steps on a corner tried before the bracketing refinement takes over.
NEWTON_STEPS = 8
#: Width in ``s = ln v`` (relative to max(1, |s|)) at which Newton's steps have converged.
NEWTON_RESOLUTION = 1e-10


class Starts:
    """Where one key's (device's) previous solutions were: the split row of the last decision
    and, per split row, the ``s = ln v`` of that split's last optimum (nan: none yet)."""

    __slots__ = ("row", "s")

    def __init__(self, row: int, rows: int) -> None:
        self.row = row
        self.s = [math.nan] * rows


def newton_refine(family: Family, split: SplitConstants, start: float) -> FamilyPoint | None:
    """The split's optimum by Newton's steps on the corner of ``h`` from ``s = start``
    (:func:`~coinfer.policies.joint_search.corner_step`, each step inside the bracket the
    directions of the points seen keep), or None when they do not settle: a smooth maximum,
    an infeasible point, a step out of the bracket, or :data:`NEWTON_STEPS` steps (then
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
        if not low < guess < high:
            return None
        point = family.point(split, guess)
    return None


def fast_search(
    family: Family,
    columns: Columns,
    usable: list[int],
    starts: Starts,
    tolerance: float,
    iterations: int,
) -> Found | None:
    """The certified best point over the ``usable`` split rows, searched from ``starts`` (and
    updating them), or None (no certificate: solve it the exact way).

    The split of the last decision is refined first, by :func:`newton_refine` from where its
    optimum last was (else by :func:`~coinfer.policies.joint_search.refine` on the warm
    grid). Then every usable split's dual bound at the ``Λ`` of the best point found is
    compared with it (:func:`~coinfer.policies.joint_warm.bounds_of`): a split whose bound is
    above it by more than a relative :data:`~coinfer.policies.joint_warm.CERTIFICATE_TOLERANCE`
    is bounded at the ``s`` of its own last optimum moved as far as the first split's moved
    (the bound at any ``Λ`` is an upper bound), and refined only if that does not bound it
    either (from that ``s``); a refined split is settled when its
    bound at its own point certifies that point. As in
    :func:`~coinfer.policies.joint_warm.certified_search`, the answer is certified within
    that tolerance of the optimum of (P1).
    """
    found: dict[int, Found] = {}
    settled: set[int] = set()  # refined rows whose own bound certifies their point
    row = starts.row
    known = [other for other in usable if not math.isnan(starts.s[other])]
    if len(known) > 1:  # first the split whose bound is highest where the last optimum was
        bounds = bounds_of(family, columns, starts.s[row], known)
        row = known[max(range(len(known)), key=bounds.__getitem__)]
    best: Found | None = None
    shift = 0.0  # how far the first split's optimum moved from its last one
    while True:
        split = columns.constants(row)
        start = starts.s[row] + shift
        if math.isnan(start):
            start = best.point.s if best is not None else math.nan
        if math.isnan(start):
            return None
        point = newton_refine(family, split, start)
        if point is None:
            grid = [start + offset for offset in OFFSETS]
            point = refine(family, split, grid, MIDDLE, tolerance, iterations)  # type: ignore[arg-type]
        if not math.isfinite(point.value):
            return None
        if best is None:
            shift = point.s - start
        starts.s[row] = point.s
        found[row] = Found(split, point)
        if best is None or point.value > best.point.value:
            best = found[row]
        ceiling = ceiling_of(best.point.value)
        bounds = bounds_of(family, columns, best.point.s, usable)
        if best.split.index == row:  # its own bound at its own point is among those
            own, own_ceiling = bounds[usable.index(row)], ceiling
        else:
            own = bounds_of(family, columns, point.s, [row])[0]
            own_ceiling = ceiling_of(point.value)
        if own <= own_ceiling:
            settled.add(row)
        above = []
        for bound, other in zip(bounds, usable, strict=True):
            if bound > ceiling and other not in settled:
                own = starts.s[other] + shift
                if (
                    other not in found
                    and not math.isnan(own)
                    and bounds_of(family, columns, own, [other])[0] <= ceiling
                ):
                    continue  # bounded at the Λ of its own last optimum
                above.append((bound, other))
        if not above:
            starts.row = best.split.index
            return best
        row = max(above)[1]
        if row in found:  # refined, yet neither settled nor bounded: no certificate
            return None


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
) -> Solution | None:
    """The certified solution of the request searched from ``starts`` (which it updates), or
    None: no certificate (solve it the exact way). ``tolerance``, ``iterations``:
    :func:`~coinfer.policies.joint_search.refine`'s."""
    family = Family.of_request(
        table.static, gain, bandwidth_hz, noise_psd_w_per_hz, deadline_s, energy_budget_j
    )
    columns = table.columns(work_scale, scale_payload)
    usable = usable_of(family, columns.payload_bits, deadline_s)
    if starts.row not in usable:
        return None
    found = fast_search(family, columns, usable, starts, tolerance, iterations)
    if found is None or not math.isfinite(found.point.value):
        return None
    return table.report(
        columns,
        found.split.index,
        found.point,
        gain,
        bandwidth_hz,
        noise_psd_w_per_hz,
        deadline_s,
        energy_budget_j,
    )
