"""What a decision is predicted to cost under the reference model, from a policy's context.

Every policy predicts with this one function, which calls :mod:`emulator.reference`: the same
formulas the engine uses to emulate, so prediction and emulation cannot drift apart. On a cell
with a link model (``context.link``, e.g. NR) the upload goes at that model's rate, plus the
HARQ delay of its last block, as the engine's uplink has it; on a Shannon cell at
``B·log2(1 + SINR)``, computed exactly as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, cast

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.model.profiles import SplitTable
from coinfer.emulator.model.reference import (
    CoInferenceCost,
    co_inference_cost,
    distortion_bound,
    shannon_rate_bps,
)
from coinfer.policies.base import PolicyContext

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class Prediction(NamedTuple):
    """Predicted latency (s), energy (J, server included) and distortion bound of a decision."""

    latency_s: float
    energy_j: float
    distortion: float


def predict(
    context: PolicyContext,
    split: int,
    rho_device: float,
    rho_server: float,
    tx_power_w: float,
    f_device_hz: float,
    f_server_hz: float,
) -> Prediction:
    """Latency, energy and distortion bound of one decision with no queueing, at the context's
    gain and bandwidth share (the paper's model, applied to this request)."""
    model = context.model
    table = model.split_table
    cost = decision_cost(
        context,
        table,
        split,
        request_payload_bits(context, table, split),
        rho_device,
        rho_server,
        tx_power_w,
        f_device_hz,
        f_server_hz,
    )
    kept = rho_device * table.device_params[split] + rho_server * table.server_params[split]
    distortion = distortion_bound(
        float(kept), model.total_params, float(model.weight_bits), model.entropy_bits_per_param
    )
    # The cost's fields are float | ndarray; scalar arguments give floats (numpy's float64 for
    # the table entries), which a cast per decision would only re-state.
    return Prediction(
        cost.device_compute_s + cost.upload_s + cost.server_compute_s,  # type: ignore[arg-type]
        cost.device_compute_j + cost.upload_j + cost.server_compute_j,  # type: ignore[arg-type]
        distortion,
    )


def request_payload_bits(context: PolicyContext, table: SplitTable, split: int) -> float:
    """The bits the request uploads at ``split`` (scaled by its work where the device group
    says so), at the model's own activation width."""
    payload = float(table.payload_bits[split])
    return payload * context.work_scale if context.scale_payload else payload


def decision_cost(
    context: PolicyContext,
    table: SplitTable,
    split: int,
    payload_bits: float,
    rho_device: float,
    rho_server: float,
    tx_power_w: float,
    f_device_hz: float,
    f_server_hz: float,
) -> CoInferenceCost:
    """The paper's cost of running ``table``'s model split at ``split``, uploading
    ``payload_bits``, on the context's hardware, gain and bandwidth share (no queueing)."""
    device, server = context.device, context.server
    scale = context.work_scale
    cost = co_inference_cost(
        device_flops=table.device_flops[split] * scale,
        server_flops=table.server_flops[split] * scale,
        payload_bits=payload_bits,
        rho_device=float(rho_device),
        rho_server=float(rho_server),
        tx_power_w=float(tx_power_w),
        f_device_hz=float(f_device_hz),
        f_server_hz=float(f_server_hz),
        gain=context.gain,
        bandwidth_hz=context.bandwidth_hz,
        noise_psd_w_per_hz=context.noise_psd_w_per_hz,
        device_flops_per_cycle=device.flops_per_cycle,
        device_power_coeff=device.power_coeff_w_per_hz3,
        device_pue=device.pue,
        server_flops_per_cycle=server.flops_per_cycle,
        server_power_coeff=server.power_coeff_w_per_hz3,
        server_pue=server.pue,
    )
    if context.link is None:
        return cost
    rate = context.link.rate_bps(
        float(tx_power_w), context.gain, context.bandwidth_hz, context.noise_psd_w_per_hz
    )
    upload_s = link_upload_s(context, float(tx_power_w), payload_bits, rate)
    return cost._replace(upload_s=upload_s, upload_j=float(tx_power_w) * upload_s, rate_bps=rate)


def link_upload_s(
    context: PolicyContext, tx_power_w: float, payload_bits: float, rate: float
) -> float:
    """Time to upload ``payload_bits`` at ``rate`` on the context's link model, with the HARQ
    delay of the last block after the bits are on air (as the engine's uplink), s."""
    if payload_bits <= 0.0:
        return 0.0
    if not rate > 0.0:
        return math.inf
    assert context.link is not None
    harq_s = context.link.harq_delay_s(
        tx_power_w, context.gain, context.bandwidth_hz, context.noise_psd_w_per_hz
    )
    return payload_bits / rate + harq_s


@dataclass(frozen=True, slots=True)
class StaticCost:
    """The part of a prediction that depends only on the model, hardware and decision.

    Compute delays and energies scale linearly with a request's work, so they are computed once
    per unit of work; only the upload (current gain and band) is evaluated per request. Policies
    that keep a decision fixed across requests use this to predict in about a microsecond.
    """

    compute_s: float  #: device + server compute delay per unit of work, s
    compute_j: float  #: device + server compute energy per unit of work, J
    payload_bits: float  #: θ(l) at unit work, bits
    distortion: float  #: distortion bound of the pruned model

    @classmethod
    def of(
        cls,
        context: PolicyContext,
        split: int,
        rho_device: float,
        rho_server: float,
        f_device_hz: float,
        f_server_hz: float,
    ) -> StaticCost:
        """Evaluate the static part for ``context``'s model and hardware."""
        unit = context._replace(work_scale=1.0, gain=0.0)
        _, _, distortion = predict(
            unit, split, rho_device, rho_server, 1.0, f_device_hz, f_server_hz
        )
        table = context.model.split_table
        device, server = context.device, context.server
        cost = co_inference_cost(
            device_flops=table.device_flops[split],
            server_flops=table.server_flops[split],
            payload_bits=0.0,
            rho_device=float(rho_device),
            rho_server=float(rho_server),
            tx_power_w=1.0,
            f_device_hz=float(f_device_hz),
            f_server_hz=float(f_server_hz),
            gain=1.0,
            bandwidth_hz=1.0,
            noise_psd_w_per_hz=1.0,
            device_flops_per_cycle=device.flops_per_cycle,
            device_power_coeff=device.power_coeff_w_per_hz3,
            device_pue=device.pue,
            server_flops_per_cycle=server.flops_per_cycle,
            server_power_coeff=server.power_coeff_w_per_hz3,
            server_pue=server.pue,
        )
        return cls(
            # scalar arguments: float fields (see predict)
            compute_s=cast(float, cost.device_compute_s + cost.server_compute_s),
            compute_j=cast(float, cost.device_compute_j + cost.server_compute_j),
            payload_bits=table.payload_bits[split],
            distortion=float(distortion),
        )

    def predict(self, context: PolicyContext, tx_power_w: float) -> tuple[float, float]:
        """Predicted (latency s, energy J) for ``context``'s work, gain and band."""
        scale = context.work_scale
        payload = self.payload_bits * scale if context.scale_payload else self.payload_bits
        if context.link is None:
            rate = shannon_rate_bps(
                tx_power_w, context.gain, context.bandwidth_hz, context.noise_psd_w_per_hz
            )
            # upload_delay_s, inlined for the per-request path
            upload_s = 0.0 if payload <= 0.0 else payload / rate if rate > 0.0 else math.inf
        else:
            rate = context.link.rate_bps(
                tx_power_w, context.gain, context.bandwidth_hz, context.noise_psd_w_per_hz
            )
            upload_s = link_upload_s(context, tx_power_w, payload, rate)
        return (
            self.compute_s * scale + upload_s,
            self.compute_j * scale + tx_power_w * upload_s,
        )
