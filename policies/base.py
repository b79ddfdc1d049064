"""The policy interface: an immutable context in, an immutable decision out.

A policy never reaches into the engine. For every request the engine builds a
:class:`PolicyContext` (what is observable at that moment) and calls ``policy.decide(context)``;
the policy returns a :class:`Decision` (split point, pruning ratios, transmit power, clocks, and
what it predicts the request will cost). The engine checks the decision against the hardware and
model bounds (:func:`check_decision`) and then emulates what actually happens, which may differ
from the prediction (queues, shared bandwidth, fading during the transfer).

Both types are ``NamedTuple``: immutable, and cheap enough to build once per request.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import (
    Any,
    ClassVar,
    Generic,
    NamedTuple,
    Protocol,
    Self,
    TypeVar,
    cast,
    runtime_checkable,
)

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.errors import InputError, input_error_from_validation
from coinfer.emulator.inputs import InputModel
from coinfer.emulator.model.families import member_profile, students_of
from coinfer.emulator.model.hardware import HardwareSpec
from coinfer.emulator.model.links import LinkModel
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.model.quantization import Bits, bits_problem
from coinfer.policies.setting import PolicySetting, check_parameters_fit

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class CandidateServer(NamedTuple):
    """One server a request may go to, at the decision time (SI units)."""

    id: str
    tier: str  #: "edge" or "cloud"
    hardware: HardwareSpec
    workers: int
    discipline: str  #: "fcfs" or "ps"
    queue_length: int  #: requests waiting (not in service)
    in_service: int  #: requests in service
    backlog_s: float  #: FCFS: wait a request arriving now would face, s (PS: 0)
    en_route: int  #: requests routed to this server and not there yet
    backhaul_latency_s: float  #: one-way propagation latency of the wired path, s
    backhaul_s_per_bit: float  #: sum of 1/bandwidth along the path, s/bit (0: ideal links)
    backhaul_transfers: int  #: transfers now on the path's links
    return_s: float  #: time to return the result over the path (0 without a downlink), s
    #: with a model cache (docs/early-exit-and-placement.md): how long the request would wait
    #: there for its model if it arrived now: 0 if the server holds it, else the rest of a load
    #: in progress or a whole load, s (0 without a model cache)
    model_cold_start_s: float = 0.0

    @property
    def load(self) -> float:
        """Requests per worker, counting those on their way."""
        return (self.queue_length + self.in_service + self.en_route) / self.workers

    def backhaul_s(self, bits: float) -> float:
        """Time to carry ``bits`` to this server if nothing else used the path, s."""
        return self.backhaul_latency_s + bits * self.backhaul_s_per_bit


class ServerBatch(NamedTuple):
    """A continuous-batching server's state when a generative request is decided (what the
    generative optimiser predicts with; ``docs/policies.md``)."""

    running_sequences: int  #: sequences holding KV blocks (prefilling or decoding)
    running_context_tokens: int  #: tokens cached by the running sequences, summed, tokens
    waiting_prefill_tokens: int  #: prompt tokens queued or running not yet prefilled, tokens
    widest_kept: float  #: largest kept fraction ρ̃ among the live sequences (0: none)
    free_kv_blocks: int  #: KV blocks not held by any sequence
    kv_block_tokens: int  #: tokens per KV block
    step_left_s: float = 0.0  #: time until the step under way ends, s (0: idle)


#: The state of an idle server (nothing running, nothing waiting).
IDLE_SERVER = ServerBatch(0, 0, 0, 0.0, 0, 0, 0.0)


class PolicyContext(NamedTuple):
    """What a policy may see when it decides one request (SI units)."""

    # Per request (what changes from one request to the next):
    request_id: int
    time_s: float  #: decision time (the request's arrival), s
    work_scale: float  #: this request's work relative to the profile (FLOPs and payload)
    gain: float  #: uplink power gain estimate (linear): current block or mean, per the scenario
    bandwidth_hz: float  #: bandwidth this upload would get if it started now, Hz
    uplink_active: int  #: uploads in progress in the cell
    device_queue_length: int  #: this device's earlier requests not yet done computing
    device_backlog_s: float  #: time until the device finishes its earlier requests, s
    server_queue_length: int  #: requests waiting at the server (not in service)
    server_in_service: int  #: requests in service at the server
    server_backlog_s: float  #: FCFS: wait a request arriving now would face, s (PS: 0)
    # Per device (fixed for the run):
    device_id: str
    scale_payload: bool  #: whether the work scale also scales the uploaded payload
    deadline_s: float  #: latency budget T0, s (inf: none)
    energy_budget_j: float  #: energy budget E0, J (inf: none)
    model: ModelProfile
    device: HardwareSpec
    server: HardwareSpec
    mean_gain: float  #: long-term mean gain (path loss × shadowing), linear
    cell_bandwidth_hz: float  #: the cell's whole uplink band, Hz
    noise_psd_w_per_hz: float  #: N0, W/Hz
    server_workers: int  #: parallel workers of the server
    server_discipline: str = "fcfs"  #: the server's discipline: "fcfs" or "ps"
    uplink_sharing: str = "fdma"  #: how the cell shares its band: "fdma", "ps" or "fifo"
    #: With a topology: the servers this request may use (the one described above first), with
    #: their load and wired path (see :mod:`emulator.candidates`); empty without a topology.
    candidate_servers: tuple[CandidateServer, ...] = ()
    #: A generative request (``docs/generative.md``): its prompt tokens; 0 for a one-pass request.
    prompt_tokens: int = 0
    #: A generative request: the tokens it will generate; 0 for a one-pass request.
    output_tokens: int = 0
    #: A generative request: the scenario's ``slo.ttft_s``, most time to first token, s (inf:
    #: none); inf for a one-pass request.
    ttft_budget_s: float = math.inf
    #: A generative request: the scenario's ``slo.tpot_s``, most mean time per output token
    #: after the first, s (inf: none); inf for a one-pass request.
    tpot_budget_s: float = math.inf
    #: A generative request: the rate of the downlink carrying its tokens back, bit/s (inf: no
    #: downlink, instant).
    downlink_rate_bps: float = math.inf
    #: A generative request sent to a continuous-batching server: that server's batch state at
    #: the decision time; None otherwise (one-pass requests: nothing is computed).
    server_batch: ServerBatch | None = None
    #: The cell's link model (``cells[i].link``, :mod:`emulator.model.links`): how fast an
    #: upload goes at a given SINR; None: Shannon, ``B·log2(1 + SINR)``.
    link: LinkModel | None = None

    @property
    def generative(self) -> bool:
        """Whether the request generates tokens (prompt and output tokens given)."""
        return self.output_tokens > 0

    @property
    def device_flops(self) -> np.ndarray:
        """Unpruned device FLOPs per split point for this request (work-scaled)."""
        return self.model.device_flops * self.work_scale

    @property
    def server_flops(self) -> np.ndarray:
        """Unpruned server FLOPs per split point for this request (work-scaled)."""
        return self.model.server_flops * self.work_scale


class Decision(NamedTuple):
    """What a policy decided for one request, and what it predicts that will cost."""

    split: int  #: split point l, 0 (all on server) .. model.last_split (all on device)
    rho_device: float  #: fraction of device-side parameters kept, [0, 1]
    rho_server: float  #: fraction of server-side parameters kept, [0, 1]
    tx_power_w: float  #: uplink transmit power p, W, in (0, P_max]
    f_device_hz: float  #: device clock f, Hz, in [f_min, f_max]
    f_server_hz: float  #: server clock f̃, Hz, in [f_min, f_max]
    predicted_latency_s: float  #: the policy's prediction of T, s
    predicted_energy_j: float  #: the policy's prediction of E (server included), J
    predicted_distortion: float  #: the policy's distortion bound D̂
    feasible: bool = True  #: False: the policy found no point meeting both budgets
    admit: bool = True  #: False: do not run the request (recorded as infeasible)
    #: Where the request runs: "on-device", "on-server" or "split" (see :data:`MODES`); "" (the
    #: default) derives it from the split: the last split point is on-device, 0 on-server, any
    #: other a split. Given, it must agree with the split (:func:`check_decision`).
    mode: str = ""
    #: Quantization (issue 21, ``docs/compact-models.md``): bits per weight on the device side,
    #: 0 (the default) for the model's own precision (its profile's ``weight_bits``).
    weight_bits_device: int = 0
    #: Bits per weight on the server side; 0: the model's own precision.
    weight_bits_server: int = 0
    #: Bits per value of the uploaded activation θ; 0: the profile's ``activation_bits``.
    payload_bits_per_value: int = 0
    #: Bits per value of the KV cache (generative requests); 0: the profile's
    #: ``activation_bits``.
    kv_cache_bits: int = 0
    #: Distillation (issue 21): the member of the model's family to run, e.g. a student; ""
    #: (the default) for the device's own model.
    model: str = ""


#: The execution modes of a request: everything on the device (split at the last point),
#: everything on the server (split 0), or cut at a layer in between; or speculative decoding
#: (split 0: the target on the server, a draft model on the device, ``docs/edge-llm.md``).
MODES: tuple[str, ...] = ("on-device", "on-server", "split", "speculative")


def mode_of_split(split: int, last_split: int) -> str:
    """The mode a split point means: ``on-device`` at ``last_split``, ``on-server`` at 0,
    ``split`` in between."""
    if split >= last_split:
        return "on-device"
    return "on-server" if split <= 0 else "split"


#: The parameter model of a policy (its ``Params``).
ParamsT = TypeVar("ParamsT", bound=BaseModel)


class PolicyError(InputError):
    """A policy returned a decision outside its bounds (names the policy and the field)."""


class Policy(ABC, Generic[ParamsT]):
    """Base class of every policy.

    Subclasses set ``name``, a one-line ``summary`` and ``Params``, a pydantic model of their
    typed, documented parameters (extending :class:`Policy.Params`), and name that model as the
    type parameter, for the type checker to know ``self.params``::

        class MyPolicy(Policy[MyParams]):
            Params = MyParams

    They implement :meth:`decide`. ``rng`` is the policy's own random stream (for randomised
    policies); it is the same for every policy on one seed.
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""

    class Params(InputModel):
        model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, params: ParamsT, rng: np.random.Generator) -> None:
        self.params: ParamsT = params
        self.rng = rng

    @classmethod
    def from_params(cls, params: dict[str, Any], rng: np.random.Generator) -> Self:
        """Validate ``params`` against :attr:`Params` and build the policy."""
        try:
            # Params is the model the class names as ParamsT (the type checker cannot tie them)
            typed = cast(ParamsT, cls.Params.model_validate(params))
        except ValidationError as err:
            invalid = input_error_from_validation(
                err, f"parameters of policy {cls.name!r}", model=cls.Params
            )
            raise invalid from err
        return cls(typed, rng)

    def check_setting(self, setting: PolicySetting) -> None:
        """Refuse, before the run, parameters that no request of ``setting`` could use (raise
        :class:`InputError`); by default the parameters :mod:`coinfer.policies.setting` knows
        by name (split points, power, clocks)."""
        check_parameters_fit(self.name, self.params, setting)

    @abstractmethod
    def decide(self, context: PolicyContext) -> Decision:
        """Choose split, ρ, ρ̃, p, f, f̃ for the request described by ``context``."""


def check_decision(policy_name: str, decision: Decision, context: PolicyContext) -> None:
    """Refuse a decision outside the model's or the hardware's bounds (raises PolicyError).

    The common case (a valid decision) is one chain of comparisons; the reason is worked out
    only when it fails.
    """
    device, server = context.device, context.server
    split = decision.split
    p, f, fs = decision.tx_power_w, decision.f_device_hz, decision.f_server_hz
    if (
        (split.__class__ is int or isinstance(split, np.integer))
        and 0 <= split <= context.model.last_split
        and 0.0 <= decision.rho_device <= 1.0
        and 0.0 <= decision.rho_server <= 1.0
        # max_tx_power_w is None only for a server (HardwareSpec's validator): a device has one
        and 0.0 < p <= device.max_tx_power_w * (1 + 1e-9)  # type: ignore[operator]
        and f > 0.0
        and device.f_min_hz * (1 - 1e-9) <= f <= device.f_max_hz * (1 + 1e-9)
        and fs > 0.0
        and server.f_min_hz * (1 - 1e-9) <= fs <= server.f_max_hz * (1 + 1e-9)
        and decision.predicted_latency_s >= 0.0
        and decision.predicted_energy_j >= 0.0
        and decision.predicted_distortion >= 0.0
        and (
            (not decision.mode or decision.mode == mode_of_split(split, context.model.last_split))
            or _speculative_ok(decision)
        )
        and not decision.model
    ):
        if not (
            decision.weight_bits_device
            or decision.weight_bits_server
            or decision.payload_bits_per_value
            or decision.kv_cache_bits
        ):
            return
        _check_compact(policy_name, decision, context)
        return
    if decision.model:
        _check_compact(policy_name, decision, context)
        return
    raise PolicyError(
        f"policy {policy_name!r} returned {_first_violation(decision, context)} for request "
        f"{context.request_id}"
    )


def _check_compact(policy_name: str, decision: Decision, context: PolicyContext) -> None:
    """:func:`check_decision` of a decision that quantizes or runs another member of the model's
    family (issue 21): the member must be one, the split and the bounds must hold for the model
    that runs, and each bit width must be one that model and the hardware take."""
    model = context.model
    if context.generative and (decision.model or decision.weight_bits_server):
        field = "model" if decision.model else "weight_bits_server"
        default = "''" if decision.model else "0"
        raise PolicyError(
            f"policy {policy_name!r} returned {field}={getattr(decision, field)!r} for "
            f"generative request {context.request_id}, expected {field}={default}: "
            "a continuous-batching server serves one model at one precision for every sequence "
            "(docs/compact-models.md)"
        )
    if decision.model and decision.model != model.name:
        students = students_of(model.name)
        if decision.model not in students:
            expected = ", ".join(students) or "none: it has no family"
            raise PolicyError(
                f"policy {policy_name!r} returned model={decision.model!r}, expected '' or a "
                f"student of {model.name!r} ({expected}) for request {context.request_id}"
            )
        model = member_profile(model, decision.model)
        context = context._replace(model=model)
    given = Bits(
        decision.weight_bits_device,
        decision.weight_bits_server,
        decision.payload_bits_per_value,
        decision.kv_cache_bits,
    )
    check_decision(
        policy_name,
        decision._replace(
            model="",
            weight_bits_device=0,
            weight_bits_server=0,
            payload_bits_per_value=0,
            kv_cache_bits=0,
        ),
        context,
    )
    problem = bits_problem(given, model, decision.split, context.device, context.server)
    if problem is not None:
        raise PolicyError(
            f"policy {policy_name!r} returned {problem} for request {context.request_id}"
        )


def _speculative_ok(decision: Decision) -> bool:
    """Whether ``decision`` is a valid speculative one: split 0 (the target on the server),
    unpruned; the policy chooses the draft tokens per round
    (:class:`~coinfer.policies.speculative.DraftChooser`)."""
    return (
        decision.mode == "speculative"
        and decision.split == 0
        and decision.rho_device == 1.0
        and decision.rho_server == 1.0
    )


def _first_violation(decision: Decision, context: PolicyContext) -> str:
    """``field=value, expected ...`` for the first field of ``decision`` out of bounds."""
    split = decision.split
    last = context.model.last_split
    if not isinstance(split, (int, np.integer)) or isinstance(split, bool):
        return f"split={split!r}, expected an integer in 0..{last}"
    if not 0 <= split <= last:
        return f"split={split!r}, expected an integer in 0..{last}"
    for field in ("rho_device", "rho_server"):
        value = getattr(decision, field)
        if not 0.0 <= value <= 1.0:
            return f"{field}={value!r}, expected a kept fraction in [0, 1]"
    device, server = context.device, context.server
    p = decision.tx_power_w
    if not 0.0 < p <= device.max_tx_power_w * (1 + 1e-9):  # type: ignore[operator]  # see above
        return f"tx_power_w={p!r}, expected a power in (0, {device.max_tx_power_w:g}] W"
    for field, spec in (("f_device_hz", device), ("f_server_hz", server)):
        f = getattr(decision, field)
        if not (f > 0 and spec.f_min_hz * (1 - 1e-9) <= f <= spec.f_max_hz * (1 + 1e-9)):
            return (
                f"{field}={f!r}, expected a clock in [{spec.f_min_hz:g}, {spec.f_max_hz:g}] Hz, "
                "above 0"
            )
    for field in ("predicted_latency_s", "predicted_energy_j", "predicted_distortion"):
        value = getattr(decision, field)
        if not value >= 0.0:
            return f"{field}={value!r}, expected a non-negative number (inf allowed)"
    mode = decision.mode
    if mode == "speculative":
        if split != 0:
            return (
                f"mode='speculative' with split={split}, expected split 0 (the target on the "
                "server)"
            )
        return (
            f"rho_device={decision.rho_device!r}, rho_server={decision.rho_server!r}, "
            "expected 1, 1 (speculative decoding runs unpruned)"
        )
    if mode not in ("", *MODES):
        return f"mode={mode!r}, expected one of {', '.join(MODES)} (or '': from the split)"
    derived = mode_of_split(split, last)
    if mode and mode != derived:
        return (
            f"mode={mode!r} with split={split}, expected mode {derived!r} for that split (the "
            f"last split {last} is on-device, 0 on-server, any other a split)"
        )
    return "a decision that failed the bound check"


@runtime_checkable
class ServerChooser(Protocol):
    """A policy that picks the server (``routing: policy``).

    ``choose_server`` gets the request's context (its ``server`` fields describe the cell's own
    server, ``candidate_servers[0]``) and returns an index into ``context.candidate_servers``;
    ``decide`` is then called with the context of the chosen server.
    """

    def choose_server(self, context: PolicyContext) -> int: ...
