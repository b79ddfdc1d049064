"""The ``fixed`` policy: every value comes from the scenario (the baseline of baselines)."""

from __future__ import annotations

import numpy as np
from pydantic import ConfigDict, Field

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.model.quantization import resolve_bits
from coinfer.emulator.records import build, inline_builds
from coinfer.policies.base import Decision, Policy, PolicyContext
from coinfer.policies.compact import predict_compact
from coinfer.policies.generative import GenerativePlanner
from coinfer.policies.prediction import StaticCost

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class FixedParams(Policy.Params):
    """Parameters of the ``fixed`` policy; an omitted power or clock means the hardware's top."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    split: int | None = Field(
        default=None, ge=0, description="split point l (default: the model's last, on-device)"
    )
    rho_device: float = Field(default=1.0, ge=0, le=1, description="device kept fraction ρ")
    rho_server: float = Field(default=1.0, ge=0, le=1, description="server kept fraction ρ̃")
    tx_power_w: float | None = Field(
        default=None, gt=0, description="transmit power p, W (default: the device's P_max)"
    )
    f_device_hz: float | None = Field(
        default=None, gt=0, description="device clock f, Hz (default: its f_max)"
    )
    f_server_hz: float | None = Field(
        default=None, gt=0, description="server clock f̃, Hz (default: its f_max)"
    )
    weight_bits_device: int = Field(
        default=0, ge=0, le=64, description="bits per device-side weight (0: the model's own)"
    )
    weight_bits_server: int = Field(
        default=0, ge=0, le=64, description="bits per server-side weight (0: the model's own)"
    )
    payload_bits_per_value: int = Field(
        default=0, ge=0, le=64, description="bits per uploaded activation value (0: own)"
    )
    kv_cache_bits: int = Field(
        default=0, ge=0, le=64, description="bits per KV-cache value (0: the model's own)"
    )


class FixedPolicy(Policy[FixedParams]):
    """Runs every request with the same split, pruning, power and clocks (a generative request
    too, the server at its top clock: :mod:`coinfer.policies.generative`).

    The values depend only on the model and the hardware, so they are resolved once per
    (model, device class, server class) and the prediction is split into its static part (both
    computes, per unit of work) and the upload, which depends on the current gain and band.
    """

    name = "fixed"
    summary = "split, pruning, power and clocks fixed by the scenario (defaults: top values)"
    Params = FixedParams

    def __init__(self, params: FixedParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._static: dict[tuple[int, int, int], tuple[Decision, StaticCost | None]] = {}
        self._planner = GenerativePlanner()
        #: the widths of every decision (issue 21); all 0: the model's own
        self._widths = {
            "weight_bits_device": params.weight_bits_device,
            "weight_bits_server": params.weight_bits_server,
            "payload_bits_per_value": params.payload_bits_per_value,
            "kv_cache_bits": params.kv_cache_bits,
        }
        self._quantized = any(self._widths.values())
        if self._quantized:
            self.decide = self._decide_with_widths  # type: ignore[method-assign]

    def _decide_with_widths(self, context: PolicyContext) -> Decision:
        """:meth:`decide` at the parameters' widths, predicted at them (one-pass requests)."""
        decision = FixedPolicy.decide(self, context)
        widths = self.params
        decision = decision._replace(
            weight_bits_device=widths.weight_bits_device,
            weight_bits_server=widths.weight_bits_server,
            payload_bits_per_value=widths.payload_bits_per_value,
            kv_cache_bits=widths.kv_cache_bits,
        )
        if context.generative or not 0 <= decision.split <= context.model.last_split:
            return decision  # generative: predicted at the model's own widths
        bits = resolve_bits(context.model, *self._widths.values())
        latency, energy, distortion = predict_compact(
            context,
            context.model,
            decision.split,
            decision.rho_device,
            decision.rho_server,
            decision.tx_power_w,
            decision.f_device_hz,
            decision.f_server_hz,
            bits,
        )
        return decision._replace(
            predicted_latency_s=latency,
            predicted_energy_j=energy,
            predicted_distortion=distortion,
            feasible=latency <= context.deadline_s and energy <= context.energy_budget_j,
        )

    @inline_builds  # the decision, built by name, compiled to a tuple (once per request)
    def decide(self, context: PolicyContext) -> Decision:
        key = (id(context.model), id(context.device), id(context.server))
        cached = self._static.get(key)
        if cached is None:
            cached = self._static[key] = self._resolve(context)
        decision, static = cached
        if context.generative:  # at its own values; the server at its top clock
            return self._planner.decide(
                context,
                decision.split,
                "",
                decision.rho_device,
                decision.rho_server,
                decision.tx_power_w,
                decision.f_device_hz,
            )
        if static is None:  # split out of range: the engine's bound check names it
            return decision
        latency, energy = static.predict(context, decision.tx_power_w)
        feasible = latency <= context.deadline_s and energy <= context.energy_budget_j
        return build(
            Decision,
            split=decision.split,
            rho_device=decision.rho_device,
            rho_server=decision.rho_server,
            tx_power_w=decision.tx_power_w,
            f_device_hz=decision.f_device_hz,
            f_server_hz=decision.f_server_hz,
            predicted_latency_s=latency,
            predicted_energy_j=energy,
            predicted_distortion=decision.predicted_distortion,
            feasible=feasible,
            admit=True,
            mode="",
            weight_bits_device=0,
            weight_bits_server=0,
            payload_bits_per_value=0,
            kv_cache_bits=0,
            model="",
        )

    def _resolve(self, context: PolicyContext) -> tuple[Decision, StaticCost | None]:
        params = self.params
        split = context.model.last_split if params.split is None else params.split
        p = params.tx_power_w if params.tx_power_w is not None else context.device.max_tx_power_w
        f = params.f_device_hz if params.f_device_hz is not None else context.device.f_max_hz
        fs = params.f_server_hz if params.f_server_hz is not None else context.server.f_max_hz
        rho, rho_s = params.rho_device, params.rho_server
        decision = build(
            Decision,
            split=split,
            rho_device=rho,
            rho_server=rho_s,
            tx_power_w=p,
            f_device_hz=f,
            f_server_hz=fs,
            predicted_latency_s=0.0,  # the prediction is made per request (decide)
            predicted_energy_j=0.0,
            predicted_distortion=0.0,
            feasible=True,
            admit=True,
            mode="",
            weight_bits_device=0,
            weight_bits_server=0,
            payload_bits_per_value=0,
            kv_cache_bits=0,
            model="",
        )
        if split > context.model.last_split:
            return decision, None
        static = StaticCost.of(context, split, rho, rho_s, f, fs)
        return decision._replace(predicted_distortion=static.distortion), static
