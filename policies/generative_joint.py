"""The generative optimiser: mode, split, pruning, power and clock per generative request.

For a generative request (a prompt of ``P`` tokens, ``O`` tokens to generate) the optimiser
chooses the split ``l`` (hence the mode), the kept fractions ``ρ`` (device side) and ``ρ̃``
(server side), the transmit power ``p`` and the device clock ``f`` to maximise the kept
parameters ``ρ·N_dev(l) + ρ̃·N_srv(l)`` subject to the predicted time to first token, time per
output token, end-to-end latency and energy within their budgets (the scenario's ``slo`` and the
device group's ``deadline_s`` and ``energy_budget_j``) and the device side fitting the device's
memory. ``docs/policies.md`` (the generative optimiser) states the model with its formulas.

The prediction (:func:`predict`) is closed-form: the roofline step times of each side
(``docs/step-time.md``) with the engine's pruning and clock laws (``docs/generative.md``), the
server's steps timed with the batch it would join (the context's
:class:`~coinfer.policies.base.ServerBatch`), the Shannon rate of the band share the upload
would get now, and the downlink. Every term is the sum of a device part (in ``ρ, f``), an uplink
part (in ``p``) and a server part (in ``ρ̃``), each non-decreasing in its kept fraction. The
search (:class:`GenerativeOptimiser`) exploits that: per split, on grids of ``ρ``, ``f`` and
``p`` it finds, for every ``(p, f, ρ)``, the widest ``ρ̃`` of a grid whose server part fits in
what is left of each budget (a sorted search, vectorised), keeps the best point, then raises
``ρ̃`` and ``ρ`` by bisection as far as the budgets allow. Sums over the ``O − 1`` decode steps
are in closed form (a sum of the larger of two affine functions of the step), so a decision
costs the same whatever the output length.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from coinfer.emulator.model.generative import hidden_bits_per_token, token_id_bits
from coinfer.emulator.model.hardware import HardwareSpec
from coinfer.emulator.model.reference import distortion_bound
from coinfer.emulator.model.step_costs import SideCosts
from coinfer.emulator.model.step_time import RooflineStepTime, make_step_time_model
from coinfer.emulator.records import build
from coinfer.policies.base import IDLE_SERVER, Decision, PolicyContext, ServerBatch
from coinfer.policies.generative import SplitSides

#: Constraints, in this order in every array of the search.
CONSTRAINTS = ("ttft_s", "tpot_s", "e2e_s", "energy_j")


class Prediction(NamedTuple):
    """What the optimiser predicts a generative request costs (s, J); arrays broadcast."""

    ttft_s: np.ndarray  #: arrival to the first token at the device, s
    tpot_s: np.ndarray  #: mean time per output token after the first, s
    e2e_s: np.ndarray  #: arrival to the last token at the device, s
    energy_j: np.ndarray  #: device compute, uplink and the server's share, J


class _Parts(NamedTuple):
    """One side's (or the uplink's) contribution to each constraint: ``ttft``, the sum of the
    decode gaps (``O − 1`` of them), and energy."""

    first_s: np.ndarray
    decodes_s: np.ndarray
    energy_j: np.ndarray


def sum_of_max_affine(
    a1: np.ndarray, b1: np.ndarray, a2: np.ndarray, b2: np.ndarray, n: int
) -> np.ndarray:
    """``Σ_{j=1..n} max(a1 + b1·j, a2 + b2·j)`` in closed form; arrays broadcast.

    The difference ``d(j) = (a1 − a2) + (b1 − b2)·j`` changes sign at most once: the first line
    holds on a run of ``j`` at one end, the second on the rest, each summed as an arithmetic
    series.
    """
    a1, b1, a2, b2 = (np.asarray(x, dtype=float) for x in (a1, b1, a2, b2))
    if n <= 0:
        return np.zeros(np.broadcast(a1, b1, a2, b2).shape)
    da, db = a1 - a2, b1 - b2
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = -da / db  # d(j) >= 0 from here on (db > 0) or up to here (db < 0)
    up_lo = np.clip(np.ceil(cross), 1, n + 1)  # db > 0: line 1 on [up_lo, n]
    down_hi = np.clip(np.floor(cross), 0, n)  # db < 0: line 1 on [1, down_hi]
    flat = np.where(da >= 0, n, 0)  # db == 0: line 1 everywhere or nowhere
    lo1 = np.where(db > 0, up_lo, 1.0)
    hi1 = np.where(db > 0, n, np.where(db < 0, down_hi, flat))

    def series(a: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        count = np.maximum(hi - lo + 1, 0)
        total: np.ndarray = count * a + b * (lo + hi) * count / 2
        return total

    line1 = series(a1, b1, lo1, hi1)
    rest_lo = np.where(db > 0, 1.0, hi1 + 1)
    rest_hi = np.where(db > 0, lo1 - 1, n)
    result: np.ndarray = line1 + series(a2, b2, rest_lo, rest_hi)
    return result


def _clocked(power_w: float, idle_w: float, clock: np.ndarray) -> np.ndarray:
    """``P − (P − P_idle)·(1 − r³)``: the engine's power at clock fraction ``r``, W."""
    return np.where(clock == 1.0, power_w, power_w - (power_w - idle_w) * (1.0 - clock**3))


class _Roofline:
    """The roofline constants of one chip (the hardware's calibration)."""

    def __init__(self, model: RooflineStepTime, chip: HardwareSpec, side: SideCosts) -> None:
        cal = model.calibration(chip)
        self.peak = chip.peak_flops_per_s
        self.mfu_prefill = cal.mfu_prefill
        self.mfu_decode = cal.mfu_decode
        self.bandwidth = chip.memory_bandwidth_bytes_per_s * cal.bandwidth_efficiency
        self.overhead_s = cal.step_overhead_s + cal.layer_overhead_s * side.num_blocks


def device_parts(
    side: SideCosts,
    chip: HardwareSpec,
    roofline: RooflineStepTime,
    prompt: int,
    output: int,
    rho: np.ndarray,
    clock: np.ndarray,
) -> _Parts:
    """The device's steps alone at kept fraction ``rho`` and clock fraction ``clock``: its
    prefill, the sum of its ``O − 1`` decodes, and their energy (arrays broadcast)."""
    if side.num_blocks == 0:
        zero = np.zeros(np.broadcast(rho, clock).shape)
        return _Parts(zero, zero, zero)
    r = _Roofline(roofline, chip, side)
    s = side
    matrix = s.flops_per_token + s.flops_per_sequence  # per decode, at ρ = 1
    weights = s.weight_bytes_per_step + s.weight_bytes_per_token
    extra = s.activation_bytes_per_token + s.activation_bytes_per_sequence
    # prefill: P tokens at context 0
    flops = rho * (s.flops_per_token * prompt + s.flops_per_sequence) + (
        s.flops_per_token_per_position * prompt * prompt
    )
    data = (
        rho * (s.weight_bytes_per_step + s.weight_bytes_per_token * prompt)
        + s.kv_bytes_per_token * 2 * prompt
        + s.activation_bytes_per_token * prompt
        + s.activation_bytes_per_sequence
    )
    first = np.maximum(flops / (r.peak * clock * r.mfu_prefill), data / r.bandwidth) + r.overhead_s
    # decode j = 1..O-1 over P + j - 1 cached tokens: FLOPs and bytes affine in j
    speed = r.peak * clock * r.mfu_decode
    a_c = (rho * matrix + s.flops_per_token_per_position * prompt) / speed
    b_c = s.flops_per_token_per_position / speed + 0.0 * rho
    a_m = (rho * weights + s.kv_bytes_per_token * (prompt + 1) + extra) / r.bandwidth + 0.0 * clock
    b_m = np.full(np.shape(a_m), s.kv_bytes_per_token / r.bandwidth)
    n = output - 1
    decodes = sum_of_max_affine(a_c, b_c, a_m, b_m, n) + r.overhead_s * n
    energy = chip.pue * (
        _clocked(chip.phase_power_w("prefill"), chip.phase_power_w("idle"), clock) * first
        + _clocked(chip.phase_power_w("decode"), chip.phase_power_w("idle"), clock) * decodes
    )
    return _Parts(first, decodes, energy)


def server_parts(
    side: SideCosts,
    chip: HardwareSpec,
    roofline: RooflineStepTime,
    prompt: int,
    output: int,
    kept: np.ndarray,
    batch: ServerBatch,
) -> _Parts:
    """The server's steps for this request at kept fraction ``kept`` joining ``batch``.

    Its prefill runs in one step with the prompt tokens waiting ahead (as one prompt of the
    widest kept fraction) and the running decodes; each of its decodes runs with the running
    decodes (their contexts as now, each of the widest fraction). The weights read are those of
    the widest member. Its energy is its share of each step by tokens, as the engine's. With
    an idle server this is the request alone: a batch of one.
    """
    if side.num_blocks == 0:
        zero = np.zeros(np.shape(kept))
        return _Parts(zero, zero, zero)
    r = _Roofline(roofline, chip, side)
    s = side
    others, context, queued = (
        batch.running_sequences,
        batch.running_context_tokens,
        batch.waiting_prefill_tokens,
    )
    w = batch.widest_kept
    widest = np.maximum(kept, w)
    matrix = s.flops_per_token + s.flops_per_sequence
    pos = s.flops_per_token_per_position
    kv = s.kv_bytes_per_token
    act = s.activation_bytes_per_token + s.activation_bytes_per_sequence
    others_decode_flops = w * others * matrix + pos * (context + others)
    others_bytes = kv * (context + 2 * others) + act * others
    # prefill step: the queued prompt tokens, this prompt, the running decodes
    queued_seqs = 1 if queued else 0
    prefill_flops = kept * (s.flops_per_token * prompt + s.flops_per_sequence) + pos * prompt**2
    if queued:
        prefill_flops = prefill_flops + (
            w * (s.flops_per_token * queued + s.flops_per_sequence) + pos * queued**2
        )
    tokens = prompt + queued + others
    data = (
        widest * (s.weight_bytes_per_step + s.weight_bytes_per_token * tokens)
        + kv * 2 * (prompt + queued)
        + s.activation_bytes_per_token * (prompt + queued)
        + s.activation_bytes_per_sequence * (1 + queued_seqs)
        + others_bytes
    )
    compute = prefill_flops / (r.peak * r.mfu_prefill) + others_decode_flops / (
        r.peak * r.mfu_decode
    )
    first = np.maximum(compute, data / r.bandwidth) + r.overhead_s
    # decode j = 1..O-1 beside the running decodes
    speed = r.peak * r.mfu_decode
    a_c = (kept * matrix + pos * prompt + others_decode_flops) / speed
    b_c = np.full(np.shape(a_c), pos / speed)
    a_m = (
        widest * (s.weight_bytes_per_step + s.weight_bytes_per_token * (others + 1))
        + kv * (prompt + 1)
        + act
        + others_bytes
    ) / r.bandwidth
    b_m = np.full(np.shape(a_m), kv / r.bandwidth)
    n = output - 1
    decodes = sum_of_max_affine(a_c, b_c, a_m, b_m, n) + r.overhead_s * n
    energy = chip.pue * (
        chip.phase_power_w("prefill") * first * (prompt / tokens)
        + chip.phase_power_w("decode") * decodes / (others + 1)
    )
    return _Parts(first, decodes, energy)


def uplink_parts(
    context: PolicyContext, split: int, power_w: np.ndarray, output: int
) -> tuple[_Parts, np.ndarray]:
    """The uploads at power ``power_w`` over the band share the request would get now (the
    prompt's ids or hidden vectors, then one hidden vector per decode in split mode), and the
    time a token takes on the downlink; the ``_Parts`` include that downlink time and, on the
    server, the wait for the end of the step under way when the prompt arrives before it
    (``max(U_0, step_left_s)``)."""
    model = context.model
    last = model.last_split
    down = token_id_bits(model) / context.downlink_rate_bps
    if split >= last:
        zero = np.zeros(np.shape(power_w))
        return _Parts(zero, zero, zero), zero
    bits = hidden_bits_per_token(model, split)
    band = context.bandwidth_hz  # Shannon: B·log2(1 + g·p/(B·N0)), as the uplink's
    rate = band * np.log2(1.0 + context.gain * power_w / (band * context.noise_psd_w_per_hz))
    prompt_s = context.prompt_tokens * bits / rate
    per_token = bits / rate if split > 0 else 0.0 * rate
    n = output - 1
    first = prompt_s + down
    batch = context.server_batch
    if split == 0 and batch is not None and batch.step_left_s > 0.0:
        # the prompt reaches a busy server: its prefill starts when the step under way ends
        first = np.maximum(prompt_s, batch.step_left_s) + down
    decodes = (per_token + (down if split > 0 else 0.0)) * n
    energy = power_w * (prompt_s + per_token * n)
    return _Parts(first, decodes, energy), np.full(np.shape(power_w), down)


def _combine(
    context: PolicyContext, split: int, device: _Parts, server: _Parts, up: _Parts
) -> Prediction:
    """The constraints' values from the three parts (broadcast)."""
    n = context.output_tokens - 1
    wait = context.device_backlog_s if split > 0 else 0.0
    first = device.first_s + up.first_s + server.first_s + wait
    decodes = device.decodes_s + up.decodes_s + server.decodes_s
    tpot = decodes / n if n > 0 else 0.0 * decodes
    return Prediction(
        ttft_s=first,
        tpot_s=tpot,
        e2e_s=first + decodes,
        energy_j=device.energy_j + up.energy_j + server.energy_j,
    )


class Predictor:
    """:meth:`predict` of any candidate; the sides of each split are made once."""

    def __init__(self) -> None:
        roofline = make_step_time_model("roofline")
        assert isinstance(roofline, RooflineStepTime)
        self.roofline = roofline
        self.sides = SplitSides()

    def parts(
        self,
        context: PolicyContext,
        split: int,
        rho: np.ndarray,
        rho_server: np.ndarray,
        power_w: np.ndarray,
        clock: np.ndarray,
    ) -> tuple[_Parts, _Parts, _Parts]:
        """Device, server and uplink parts (arrays broadcast separately per part)."""
        device_side, server_side = self.sides.get(context.model, split)
        p, o = context.prompt_tokens, context.output_tokens
        batch = context.server_batch or IDLE_SERVER
        device = device_parts(device_side, context.device, self.roofline, p, o, rho, clock)
        server = server_parts(server_side, context.server, self.roofline, p, o, rho_server, batch)
        up, _ = uplink_parts(context, split, power_w, o)
        return device, server, up

    def predict(
        self,
        context: PolicyContext,
        split: int,
        rho: float | np.ndarray,
        rho_server: float | np.ndarray,
        power_w: float | np.ndarray,
        f_device_hz: float | np.ndarray,
    ) -> Prediction:
        """The prediction of one candidate (0-d arrays), or of many (arrays that broadcast)."""
        clock = np.minimum(np.asarray(f_device_hz, dtype=float) / context.device.f_max_hz, 1.0)
        parts = self.parts(
            context,
            split,
            np.asarray(rho, dtype=float),
            np.asarray(rho_server, dtype=float),
            np.asarray(power_w, dtype=float),
            clock,
        )
        return _combine(context, split, *parts)


def budgets(context: PolicyContext) -> np.ndarray:
    """The budget of each constraint (:data:`CONSTRAINTS`): TTFT, TPOT, e2e (the deadline),
    energy (inf: none)."""
    return np.array(
        [
            context.ttft_budget_s,
            context.tpot_budget_s,
            context.deadline_s,
            context.energy_budget_j,
        ]
    )


def meets(prediction: Prediction, limits: np.ndarray) -> bool:
    """Whether every constraint of ``prediction`` is within its budget."""
    return all(float(value) <= limit for value, limit in zip(prediction, limits, strict=True))


def device_keep_limit(context: PolicyContext, side: SideCosts) -> float:
    """The largest ρ whose pruned device side, with the KV cache of ``P + O`` tokens, fits in
    the device's memory (the engine's check); below 0: nothing fits; 1 for an empty side."""
    if side.num_blocks == 0:
        return 1.0
    kv = side.kv_bytes_per_token * (context.prompt_tokens + context.output_tokens)
    room = context.device.memory_bytes - kv
    if side.resident_weight_bytes <= 0.0:
        return 1.0 if room >= 0 else -1.0
    return min(room / side.resident_weight_bytes, 1.0)


class GenerativeOptimiser:
    """Decides generative requests (module docstring); ``joint`` hands them here.

    ``splits``: the split points to consider (None: every one); ``rho_min``: the floor of both
    kept fractions; ``admit_infeasible``: whether a request with no feasible point runs
    (best-effort, flagged infeasible) or is dropped; ``keep_levels``, ``power_levels``,
    ``clock_levels``: the grids of the search (kept fractions in ``[rho_min, 1]``, powers
    geometric in ``[P_max/100, P_max]``, clocks in ``[max(f_min, f_max/levels), f_max]``).
    """

    def __init__(
        self,
        splits: list[int] | None = None,
        rho_min: float = 0.0,
        admit_infeasible: bool = False,
        keep_levels: int = 51,
        power_levels: int = 8,
        clock_levels: int = 6,
    ) -> None:
        self.splits = splits
        self.rho_min = rho_min
        self.admit_infeasible = admit_infeasible
        self.keep = np.linspace(rho_min, 1.0, keep_levels)
        self.power_levels = power_levels
        self.clock_levels = clock_levels
        self.predictor = Predictor()

    def powers_w(self, context: PolicyContext) -> np.ndarray:
        """The transmit powers searched, W."""
        top = context.device.max_tx_power_w
        assert top is not None
        return np.geomspace(top / 100.0, top, self.power_levels)

    def clocks(self, context: PolicyContext) -> np.ndarray:
        """The device clock fractions ``f/f_max`` searched."""
        device = context.device
        low = max(device.f_min_hz / device.f_max_hz, 1.0 / self.clock_levels)
        return np.linspace(low, 1.0, self.clock_levels)

    def candidate_splits(self, context: PolicyContext) -> list[int]:
        """The split points considered for ``context``'s model."""
        last = context.model.last_split
        if self.splits is None:
            return list(range(last + 1))
        return [split for split in self.splits if split <= last] or [min(self.splits)]

    def decide(self, context: PolicyContext) -> Decision:
        """The decision for the generative request of ``context``."""
        limits = budgets(context)
        best: tuple[float, int, float, float, float, float] | None = None
        fallback: tuple[float, int, float, float, float, float] | None = None
        for split in self.candidate_splits(context):
            found = self._search(context, split, limits)
            if found is None:
                continue
            kept, violation, point = found
            if kept is not None and (best is None or kept > best[0]):
                best = (kept, split, *point)
            if fallback is None or violation < fallback[0]:
                fallback = (violation, split, *point)
        if best is not None:
            _, split, rho, rho_s, p, clock = best
            rho, rho_s = self._raise(context, split, limits, rho, rho_s, p, clock)
            return self._decision(context, split, rho, rho_s, p, clock, limits)
        assert fallback is not None  # split 0 always fits the device
        _, split, rho, rho_s, p, clock = fallback
        return self._decision(context, split, rho, rho_s, p, clock, limits)

    def _search(
        self, context: PolicyContext, split: int, limits: np.ndarray
    ) -> tuple[float | None, float, tuple[float, float, float, float]] | None:
        """The best grid point of ``split``: ``(kept parameters or None if no point is
        feasible, least violation, (ρ, ρ̃, p, r))``; None if the device side never fits."""
        model = context.model
        last = model.last_split
        device_side, _ = self.predictor.sides.get(model, split)
        rho_cap = device_keep_limit(context, device_side)
        if rho_cap < self.rho_min:
            return None
        table = model.split_table
        n_dev = float(table.device_params[split])
        n_srv = float(table.server_params[split])
        keep = self.keep
        one = np.ones(1)
        rho = keep if split > 0 else one  # an empty side keeps everything (nothing to prune)
        rho_s = keep if split < last else one
        powers = self.powers_w(context) if split < last else self.powers_w(context)[-1:]
        clocks = self.clocks(context) if split > 0 else one
        device, server, up = self.predictor.parts(
            context, split, rho[None, :], rho_s, powers, clocks[:, None]
        )
        n = context.output_tokens - 1
        scale = 1.0 / n if n > 0 else 0.0
        wait = context.device_backlog_s if split > 0 else 0.0

        def stack(part: _Parts, is_device: bool) -> np.ndarray:
            first, decodes, energy = part
            extra = wait if is_device else 0.0
            return np.stack(
                np.broadcast_arrays(first + extra, decodes * scale, first + extra + decodes, energy)
            )

        dev = stack(device, True)  # (4, F, K)
        srv = np.maximum.accumulate(stack(server, False), axis=1)  # (4, M), non-decreasing
        upl = stack(up, False)  # (4, G)
        slack = limits[:, None, None, None] - upl[:, :, None, None] - dev[:, None, :, :]
        # widest server grid index meeting each constraint, per (p, f, ρ): (G, F, K)
        index = np.min(
            [np.searchsorted(srv[x], slack[x], side="right") - 1 for x in range(4)], axis=0
        )
        fits = (rho <= rho_cap)[None, None, :]
        ok = (index >= 0) & fits
        kept = None
        point: tuple[float, float, float, float]
        if ok.any():
            value = np.where(ok, rho[None, None, :] * n_dev + rho_s[index] * n_srv, -np.inf)
            g, i, k = np.unravel_index(int(np.argmax(value)), value.shape)
            kept = float(value[g, i, k])
            point = (
                float(rho[k]),
                float(rho_s[index[g, i, k]]),
                float(powers[g]),
                float(clocks[i]),
            )
        # least violation at the narrowest kept fractions: the largest value / budget
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (upl[:, :, None] + dev[:, None, :, 0] + srv[:, None, None, 0]) / limits[
                :, None, None
            ]
        ratio = np.where(np.isfinite(limits)[:, None, None], ratio, 0.0)
        worst = ratio.max(axis=0)  # (G, F)
        g, i = np.unravel_index(int(np.argmin(worst)), worst.shape)
        violation = float(worst[g, i])
        if kept is None:
            point = (float(rho[0]), float(rho_s[0]), float(powers[g]), float(clocks[i]))
        return kept, violation, point

    def _raise(
        self,
        context: PolicyContext,
        split: int,
        limits: np.ndarray,
        rho: float,
        rho_s: float,
        p: float,
        clock: float,
    ) -> tuple[float, float]:
        """Raise ρ̃, then ρ, by bisection as far as every budget (and the memory) allows."""
        model = context.model
        last = model.last_split
        f = clock * context.device.f_max_hz
        step = float(self.keep[1] - self.keep[0]) if len(self.keep) > 1 else 0.0

        def feasible(a: float, b: float) -> bool:
            return meets(self.predictor.predict(context, split, a, b, p, f), limits)

        if split < last and rho_s < 1.0:
            rho_s = _bisect_up(lambda x: feasible(rho, x), rho_s, min(rho_s + step, 1.0))
        if split > 0 and rho < 1.0:
            cap = device_keep_limit(context, self.predictor.sides.get(model, split)[0])
            high = min(rho + step, 1.0, cap)
            if high > rho:
                rho = _bisect_up(lambda x: feasible(x, rho_s), rho, high)
        return rho, rho_s

    def _decision(
        self,
        context: PolicyContext,
        split: int,
        rho: float,
        rho_s: float,
        p: float,
        clock: float,
        limits: np.ndarray,
    ) -> Decision:
        model = context.model
        f = clock * context.device.f_max_hz if clock < 1.0 else context.device.f_max_hz
        prediction = self.predictor.predict(context, split, rho, rho_s, p, f)
        feasible = meets(prediction, limits)
        table = model.split_table
        kept = rho * float(table.device_params[split]) + rho_s * float(table.server_params[split])
        distortion = float(
            distortion_bound(
                kept, model.total_params, float(model.weight_bits), model.entropy_bits_per_param
            )
        )
        decision: Decision = build(
            Decision,
            split=split,
            rho_device=rho,
            rho_server=rho_s,
            tx_power_w=p,
            f_device_hz=f,
            f_server_hz=context.server.f_max_hz,
            predicted_latency_s=float(prediction.e2e_s),
            predicted_energy_j=float(prediction.energy_j),
            predicted_distortion=distortion,
            feasible=feasible,
            admit=feasible or self.admit_infeasible,
            mode="",
            weight_bits_device=0,
            weight_bits_server=0,
            payload_bits_per_value=0,
            kv_cache_bits=0,
            model="",
        )
        return decision


def _bisect_up(
    feasible: Callable[[float], bool], low: float, high: float, iterations: int = 30
) -> float:
    """The largest ``x`` in ``[low, high]`` with ``feasible(x)`` (``feasible(low)`` holds and
    feasibility is monotone), to ``(high − low)/2^iterations``."""
    if feasible(high):
        return high
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        if feasible(middle):
            low = middle
        else:
            high = middle
    return low


__all__ = [
    "CONSTRAINTS",
    "GenerativeOptimiser",
    "Prediction",
    "Predictor",
    "budgets",
    "device_keep_limit",
    "meets",
    "sum_of_max_affine",
]
