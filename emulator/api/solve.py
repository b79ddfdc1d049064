"""Solving one request in isolation: the policy's decision and what it costs (``coinfer solve``).

Every value defaults to the paper's setting (Lyu et al. 2025, Sec. VI, and the scenario
defaults): BERT (``bert-paper``) on ``paper-device`` and ``paper-server``, 500 m with the
log-distance path loss ``K0 = −30 dB`` at 1 m and ``α = 2.8`` (``g ≈ 2.77e-11``), ``B = 5 MHz``,
``N0 = 2e-19 W/Hz``, work scale 1, idle queues and no budgets. ::

    from coinfer.emulator.api.solve import Instance, solve

    result = solve(Instance(deadline_s=0.26, energy_budget_j=0.015), "fixed", {"split": 4})
    result.decision.predicted_latency_s, result.cost.upload_s, result.kept_fraction

The cost is recomputed with :func:`emulator.reference.co_inference_cost`, independently of what
the policy predicted, so a policy's prediction can be checked against the reference model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from coinfer.emulator.errors import InputError, Problem, validation_problems
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.families import member_profile
from coinfer.emulator.model.hardware import HardwareCatalog, HardwareSpec
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.model.quantization import Bits, resolve_bits, scaled_payload_bits
from coinfer.emulator.model.reference import (
    CoInferenceCost,
    co_inference_cost,
    distortion_bound,
    distortion_bound_per_side,
    kept_parameters,
    log_distance_gain,
)
from coinfer.emulator.randomness import stream
from coinfer.emulator.records import build
from coinfer.emulator.scenario.schema import Cell, DeviceGroup, LogDistancePathLoss
from coinfer.policies.base import Decision, PolicyContext, check_decision
from coinfer.policies.registry import make_policy
from coinfer.policies.setting import DeviceGroupSetting, PolicySetting

_PATHLOSS = LogDistancePathLoss()
_CELL = Cell(id="solve")

#: Hardware fields a setting ``device.FIELD=…`` / ``server.FIELD=…`` may change (numbers only).
HARDWARE_KEYS: tuple[str, ...] = tuple(
    name
    for name, info in HardwareSpec.model_fields.items()
    if name not in ("name", "kind", "description")
)


class Link(BaseModel):
    """The uplink of the solved request; defaults are the paper's (and the scenario's)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    distance_m: float = Field(
        default=DeviceGroup.model_fields["distance_m"].default,
        gt=0,
        description="device to access point distance, m",
    )
    k0_db: float = Field(default=_PATHLOSS.k0_db, description="path gain K0 at d0, dB")
    reference_distance_m: float = Field(
        default=_PATHLOSS.reference_distance_m, gt=0, description="reference distance d0, m"
    )
    exponent: float = Field(
        default=_PATHLOSS.exponent, gt=0, le=10, description="path-loss exponent α"
    )
    gain: float | None = Field(
        default=None,
        gt=0,
        description="uplink power gain g (linear); default: the path loss at distance_m",
    )
    bandwidth_hz: float = Field(default=_CELL.bandwidth_hz, gt=0, description="uplink band B, Hz")
    noise_psd_w_per_hz: float = Field(
        default=_CELL.noise_w_per_hz, gt=0, description="noise PSD N0, W/Hz"
    )

    @property
    def resolved_gain(self) -> float:
        """``gain`` if given, else ``K0·(d/d0)^(−α)`` (linear)."""
        if self.gain is not None:
            return self.gain
        return float(
            log_distance_gain(self.distance_m, self.k0_db, self.reference_distance_m, self.exponent)
        )


class Request(BaseModel):
    """The solved request itself."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    work_scale: float = Field(
        default=1.0, gt=0, description="work relative to the profile (FLOPs and payload)"
    )


#: Every key :meth:`Instance.with_settings` accepts, by section (``coinfer solve --set``).
SET_KEYS: dict[str, tuple[str, ...]] = {
    "device": HARDWARE_KEYS,
    "server": HARDWARE_KEYS,
    "channel": tuple(Link.model_fields),
    "request": tuple(Request.model_fields),
}


@dataclass(frozen=True)
class Instance:
    """One request to solve: model, hardware, link and budgets (SI units)."""

    model: ModelProfile = field(default_factory=lambda: ModelCatalog.builtin().get("bert-paper"))
    device: HardwareSpec = field(
        default_factory=lambda: HardwareCatalog.builtin().get("paper-device", kind="device")
    )
    server: HardwareSpec = field(
        default_factory=lambda: HardwareCatalog.builtin().get("paper-server", kind="server")
    )
    link: Link = field(default_factory=Link)
    request: Request = field(default_factory=Request)
    deadline_s: float = math.inf  #: latency budget T0, s (inf: none)
    energy_budget_j: float = math.inf  #: energy budget E0, J (inf: none)

    def with_settings(self, assignments: list[str]) -> Instance:
        """This instance with ``section.field=value`` assignments applied in order.

        ``section`` is ``device``, ``server``, ``channel`` or ``request`` (see :data:`SET_KEYS`);
        values are numbers. Raises :class:`InputError` naming the key, the value and what was
        expected; its ``argument`` is ``setting`` (``setting device.pue=0.5: pue: got 0.5,
        expected ...``; the command line says ``--set``).
        """
        instance = self
        for assignment in assignments:
            key, sep, text = assignment.partition("=")
            key = key.strip()
            if not sep or not key:
                raise InputError(
                    f"got {assignment!r}, expected KEY=VALUE, e.g. device.f_max_hz=2e9",
                    argument="setting",
                    value=assignment,
                    expected="KEY=VALUE",
                )
            instance = instance._with(key, text.strip())
        return instance

    def _with(self, key: str, text: str) -> Instance:
        section, _, name = key.partition(".")
        if section not in SET_KEYS:
            expected = "device.FIELD, server.FIELD, channel.FIELD or request.FIELD"
            raise InputError(
                f"got key {key!r}, expected {expected}",
                argument="setting",
                path=key,
                value=key,
                expected=expected,
            )
        if name not in SET_KEYS[section]:
            expected = "one of: " + ", ".join(f"{section}.{k}" for k in SET_KEYS[section])
            raise InputError(
                f"got key {key!r}, expected {expected}",
                argument="setting",
                path=key,
                value=key,
                expected=expected,
            )
        value = _number(key, text)
        current: BaseModel = {
            "device": self.device,
            "server": self.server,
            "channel": self.link,
            "request": self.request,
        }[section]
        try:
            changed = type(current).model_validate({**current.model_dump(), name: value})
        except ValidationError as err:
            found = validation_problems(err)
            problems = [  # paths from the top (device.pue); a whole-model check is about key
                Problem(key, p.message, value, p.expected)
                if p.path is None
                else Problem(f"{section}.{p.path}", p.message, p.value, p.expected)
                for p in found
            ]
            raise InputError(
                "\n  ".join(p.message if p.path is None else str(p) for p in found),
                argument="setting",
                subject=f"{key}={text}",
                problems=problems,
            ) from err
        attribute = {"channel": "link"}.get(section, section)
        changes: dict[str, Any] = {attribute: changed}  # the model of that section
        return replace(self, **changes)


def _number(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError as err:
        raise InputError(
            f"got {text!r}, expected a number",
            argument="setting",
            subject=key,
            path=key,
            value=text,
            expected="a number",
        ) from err
    if not math.isfinite(value):
        raise InputError(
            f"got {text!r}, expected a finite number",
            argument="setting",
            subject=key,
            path=key,
            value=text,
            expected="a finite number",
        )
    return value


@dataclass(frozen=True)
class Solution:
    """A policy's decision for one :class:`Instance` and its cost under the reference model."""

    instance: Instance
    policy: str  #: the policy's name
    context: PolicyContext  #: what the policy saw
    decision: Decision  #: what it returned
    cost: CoInferenceCost  #: recomputed latency and energy, by stage
    kept_params: float  #: ρ·q(l) + ρ̃·s(l)
    distortion: float  #: distortion bound of the decision, recomputed
    model_run: str = ""  #: the model that runs: the instance's, or a student (issue 21)
    bits: Bits | None = None  #: the widths it runs with, resolved (issue 21)

    @property
    def kept_fraction(self) -> float:
        """``(ρ·q(l) + ρ̃·s(l)) / n``: the fraction of the model's parameters kept (of the
        model that runs)."""
        model = self.instance.model
        if self.model_run and self.model_run != model.name:
            return self.kept_params / member_profile(model, self.model_run).total_params
        return self.kept_params / model.total_params

    def to_dict(self) -> dict[str, Any]:
        """The decision, its predicted and recomputed costs and the setting (inf as None)."""
        d, cost, inst = self.decision, self.cost, self.instance
        latency, energy = float(cost.latency_s), float(cost.energy_j)
        payload = {
            "policy": self.policy,
            "split": int(d.split),
            "rho_device": float(d.rho_device),
            "rho_server": float(d.rho_server),
            "tx_power_w": float(d.tx_power_w),
            "f_device_hz": float(d.f_device_hz),
            "f_server_hz": float(d.f_server_hz),
            "feasible": bool(d.feasible),
            "admit": bool(d.admit),
            "predicted_latency_s": float(d.predicted_latency_s),
            "predicted_energy_j": float(d.predicted_energy_j),
            "distortion_bound": float(d.predicted_distortion),
            "kept_fraction": self.kept_fraction,
            "kept_params": self.kept_params,
            "device_energy_j": float(cost.device_energy_j),
            "model": self.model_run or inst.model.name,
            **({} if self.bits is None else self.bits._asdict()),
            "breakdown": {
                "device_compute_s": float(cost.device_compute_s),
                "upload_s": float(cost.upload_s),
                "server_compute_s": float(cost.server_compute_s),
                "latency_s": latency,
                "device_compute_j": float(cost.device_compute_j),
                "upload_j": float(cost.upload_j),
                "server_compute_j": float(cost.server_compute_j),
                "energy_j": energy,
                "rate_bps": float(cost.rate_bps),
                "distortion_bound": self.distortion,
                "meets_deadline": latency <= inst.deadline_s,
                "meets_energy_budget": energy <= inst.energy_budget_j,
            },
            "setting": {
                "model": inst.model.name,
                "device": inst.device.name,
                "server": inst.server.name,
                "deadline_s": inst.deadline_s,
                "energy_budget_j": inst.energy_budget_j,
                "work_scale": inst.request.work_scale,
                **inst.link.model_dump(),
                "gain": inst.link.resolved_gain,
                "gain_given": inst.link.gain is not None,
            },
        }
        return _finite(payload)


def _finite(value: Any) -> Any:
    """JSON has no inf or NaN: write them as None (recursively)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value


def context_for(instance: Instance) -> PolicyContext:
    """The :class:`~coinfer.policies.base.PolicyContext` of request 0 at time 0, all queues idle."""
    gain = instance.link.resolved_gain
    return build(
        PolicyContext,
        request_id=0,
        time_s=0.0,
        work_scale=instance.request.work_scale,
        gain=gain,
        bandwidth_hz=instance.link.bandwidth_hz,
        uplink_active=0,
        device_queue_length=0,
        device_backlog_s=0.0,
        server_queue_length=0,
        server_in_service=0,
        server_backlog_s=0.0,
        device_id="device-0",
        scale_payload=True,
        deadline_s=instance.deadline_s,
        energy_budget_j=instance.energy_budget_j,
        model=instance.model,
        device=instance.device,
        server=instance.server,
        mean_gain=gain,
        cell_bandwidth_hz=instance.link.bandwidth_hz,
        noise_psd_w_per_hz=instance.link.noise_psd_w_per_hz,
        server_workers=1,
        server_discipline="fcfs",
        uplink_sharing="fdma",
        candidate_servers=(),
        prompt_tokens=0,
        output_tokens=0,
        ttft_budget_s=math.inf,
        tpot_budget_s=math.inf,
        downlink_rate_bps=math.inf,
        server_batch=None,
        link=None,  # Shannon
    )


def solve(instance: Instance, policy: str, params: dict[str, Any], seed: int = 0) -> Solution:
    """Ask policy ``policy`` (with ``params``) for a decision on ``instance`` and cost it.

    The policy gets the random stream a run on ``seed`` would give it. Raises
    :class:`InputError` for an unknown policy, bad parameters or a decision out of bounds.
    """
    built = make_policy(policy, params, stream(seed, "policy"))
    built.check_setting(
        PolicySetting(
            (
                DeviceGroupSetting(
                    "device",
                    instance.model,
                    instance.device,
                    deadline_s=instance.deadline_s,
                    energy_budget_j=instance.energy_budget_j,
                ),
            ),
            (instance.server,),
        )
    )
    context = context_for(instance)
    decision = built.decide(context)
    check_decision(built.name, decision, context)
    model, device, server, link = instance.model, instance.device, instance.server, instance.link
    if decision.model and decision.model != model.name:  # a student of its family (issue 21)
        model = member_profile(model, decision.model)
    bits = resolve_bits(
        model,
        decision.weight_bits_device,
        decision.weight_bits_server,
        decision.payload_bits_per_value,
        decision.kv_cache_bits,
    )
    split, scale = int(decision.split), instance.request.work_scale
    cost = co_inference_cost(
        device_flops=float(model.device_flops[split]) * scale,
        server_flops=float(model.server_flops[split]) * scale,
        payload_bits=scaled_payload_bits(
            float(model.payload_bits[split]) * scale,
            bits.payload_bits_per_value,
            model.activation_bits,
        ),
        rho_device=float(decision.rho_device),
        rho_server=float(decision.rho_server),
        tx_power_w=float(decision.tx_power_w),
        f_device_hz=float(decision.f_device_hz),
        f_server_hz=float(decision.f_server_hz),
        gain=context.gain,
        bandwidth_hz=link.bandwidth_hz,
        noise_psd_w_per_hz=link.noise_psd_w_per_hz,
        device_flops_per_cycle=device.flops_per_cycle,
        device_power_coeff=device.power_coeff_w_per_hz3,
        device_pue=device.pue,
        server_flops_per_cycle=server.flops_per_cycle,
        server_power_coeff=server.power_coeff_w_per_hz3,
        server_pue=server.pue,
    )
    kept = float(
        kept_parameters(
            float(decision.rho_device),
            float(decision.rho_server),
            float(model.device_params[split]),
            float(model.server_params[split]),
        )
    )
    if bits.weight_bits_device == bits.weight_bits_server:
        distortion = float(
            distortion_bound(
                kept,
                model.total_params,
                float(bits.weight_bits_device),
                model.entropy_bits_per_param,
            )
        )
    else:
        distortion = distortion_bound_per_side(
            float(decision.rho_device),
            float(decision.rho_server),
            float(model.device_params[split]),
            float(model.server_params[split]),
            bits.weight_bits_device,
            bits.weight_bits_server,
            model.entropy_bits_per_param,
        )
    return Solution(
        instance, built.name, context, decision, cost, kept, distortion, model.name, bits
    )
