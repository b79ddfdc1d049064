"""What the agent sees and what it may do: the observation vector and the action mapping.

Both are built from the run's :class:`~coinfer.policies.setting.PolicySetting` (its device groups'
models and hardware, and the server hardware), so that the environment and a trained policy
(:mod:`coinfer.gym.policy`) read a request's :class:`~coinfer.policies.base.PolicyContext` the
same way. Neither needs gymnasium: the environment turns the bounds into ``spaces.Box``.

**Observation** (:class:`Observation`), one ``float32`` per feature, each clipped to its bounds
(:data:`FEATURES`; ``τ`` is the request's deadline T0, or 1 s without one):

====================  ===================================================  ===============
feature               value                                                bounds
====================  ===================================================  ===============
band_share            band this upload would get / the cell's whole band   [0, 1]
spectral_efficiency   log2(1 + P_max·g/(B·N0)) / 20, at top power          [0, 1]
fading_db             10·log10(g / mean gain) / 10 (tens of dB)            [−4, 2]
uplink_active         n/(n + 1), n uploads in progress in the cell         [0, 1]
device_queue          n/(n + 1), n earlier requests on the device          [0, 1]
device_backlog        device backlog / τ                                   [0, 4]
server_queue          x/(x + 1), x = waiting requests per server worker    [0, 1]
server_busy           requests in service / workers                        [0, 1]
server_backlog        FCFS wait a request arriving now would face / τ      [0, 4]
work_scale            log2(work scale) / 4                                 [−1, 1]
device_alone          whole model on the device, top clock, unpruned / τ   [0, 10]
server_alone          whole model on the server, top clock, unpruned / τ   [0, 10]
deadline              log10(T0 / 1 s) / 4 (no deadline: 1)                 [−1, 1]
energy_budget         log10(E0 / 1 J) / 4 (no budget: 1)                   [−1, 1]
since_last            x/(x + 1), x = time since the previous decision / τ  [0, 1]
model=NAME            1 for the request's model, else 0 (one per model)    [0, 1]
====================  ===================================================  ===============

**Action** (:class:`Actions`): split, ρ, ρ̃, p, f, f̃, and with ``admission`` a seventh number,
admit. Two scales:

* ``normalised`` (the default): each number in [−1, 1], ``v = (u + 1)/2`` in [0, 1] maps onto
  the request's own bounds: split ``round(v·L)`` of its model's last split point ``L``, ρ = v,
  ρ̃ = v, ``p = max(v, 0.001)·P_max``, ``f = f_low + v·(f_max − f_low)`` on each side, with
  ``f_low = max(f_min, 0.001·f_max)`` (a clock must be above 0); admitted when ``u ≥ 0``.
* ``si``: the values themselves, in SI units (split, 1, 1, W, Hz, Hz; admit ≥ 0.5), the box
  spanning every device group and server; each is clipped to the request's own bounds (a power
  or clock of 0 becomes its lowest value above, ``0.001·P_max`` and ``f_low``). A decision's
  values map back exactly (:meth:`Actions.action_of`), which is how a built-in policy's run is
  replayed through the environment.

Numbers outside the box are clipped to it first; the split is rounded half to even.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from coinfer.emulator.errors import InputError
from coinfer.emulator.model.hardware_spec import HardwareSpec
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.records import build, inline_builds
from coinfer.policies.base import Decision, PolicyContext
from coinfer.policies.prediction import StaticCost
from coinfer.policies.setting import PolicySetting

#: The fixed features: (name, low, high), in the order of the vector; one ``model=NAME``
#: feature per model of the run follows them.
FEATURES: tuple[tuple[str, float, float], ...] = (
    ("band_share", 0.0, 1.0),
    ("spectral_efficiency", 0.0, 1.0),
    ("fading_db", -4.0, 2.0),
    ("uplink_active", 0.0, 1.0),
    ("device_queue", 0.0, 1.0),
    ("device_backlog", 0.0, 4.0),
    ("server_queue", 0.0, 1.0),
    ("server_busy", 0.0, 1.0),
    ("server_backlog", 0.0, 4.0),
    ("work_scale", -1.0, 1.0),
    ("device_alone", 0.0, 10.0),
    ("server_alone", 0.0, 10.0),
    ("deadline", -1.0, 1.0),
    ("energy_budget", -1.0, 1.0),
    ("since_last", 0.0, 1.0),
)

#: The action's numbers, in order (``admit`` only with admission).
ACTION_FIELDS: tuple[str, ...] = (
    "split",
    "rho_device",
    "rho_server",
    "tx_power_w",
    "f_device_hz",
    "f_server_hz",
    "admit",
)

#: The scales of an action (see the module).
ACTION_SCALES: tuple[str, ...] = ("normalised", "si")

#: The lowest transmit power an action maps to, as a fraction of the device's P_max, and the
#: lowest clock, as a fraction of f_max where f_min is lower (a power or clock must be > 0).
MIN_FRACTION = 1e-3

#: Relative slack of the engine's bound check on power and clocks (``check_decision``): a value
#: within it is a valid decision and is kept as it is.
_SLACK = 1e-9

_LOG2 = math.log(2.0)


def _models(setting: PolicySetting) -> tuple[ModelProfile, ...]:
    """The distinct models of the setting's device groups, in group order."""
    seen: dict[str, ModelProfile] = {}
    for group in setting.groups:
        seen.setdefault(group.model.name, group.model)
    return tuple(seen.values())


class Observation:
    """Encodes a request's context as the observation vector (see the module).

    It remembers the time of the previous decision (``since_last``): one instance per run,
    :meth:`reset` between runs.
    """

    def __init__(self, setting: PolicySetting) -> None:
        self.models = tuple(model.name for model in _models(setting))
        self._model_index = {name: i for i, name in enumerate(self.models)}
        self.names: tuple[str, ...] = tuple(name for name, _, _ in FEATURES) + tuple(
            f"model={name}" for name in self.models
        )
        extra = len(self.models)
        self.low = np.array([low for _, low, _ in FEATURES] + [0.0] * extra, dtype=np.float32)
        self.high = np.array([high for _, _, high in FEATURES] + [1.0] * extra, dtype=np.float32)
        self._statics: dict[
            tuple[int, int, int, float, float], tuple[float, float, float, float, list[float]]
        ] = {}
        self._last_time_s: float | None = None

    @property
    def size(self) -> int:
        """Number of features."""
        return len(self.names)

    def reset(self) -> None:
        """Forget the previous decision (a new run starts)."""
        self._last_time_s = None

    def _static(self, context: PolicyContext) -> tuple[float, float, float, float, list[float]]:
        """What depends only on the request's device group and server, computed once: τ,
        P_max/N0, the two ``*_alone`` times per unit of work over τ, and the fixed tail of the
        vector (deadline, energy budget, then the model's one-hot)."""
        deadline, energy = context.deadline_s, context.energy_budget_j
        key = (id(context.model), id(context.device), id(context.server), deadline, energy)
        cached = self._statics.get(key)
        if cached is None:
            model, device, server = context.model, context.device, context.server
            tau = deadline if 0.0 < deadline < math.inf else 1.0
            p_max: float = device.max_tx_power_w  # type: ignore[assignment]  # a device has one
            device_s = float(model.split_table.device_flops[model.last_split]) / (
                device.flops_per_cycle * device.f_max_hz
            )
            server_s = float(model.split_table.server_flops[0]) / (
                server.flops_per_cycle * server.f_max_hz
            )
            one_hot = [0.0] * len(self.models)
            index = self._model_index.get(model.name)
            if index is not None:
                one_hot[index] = 1.0
            tail = [
                _clip(math.log10(deadline) / 4.0, -1.0, 1.0) if deadline < math.inf else 1.0,
                _clip(math.log10(energy) / 4.0, -1.0, 1.0)
                if 0.0 < energy < math.inf
                else (1.0 if energy else -1.0),
                *one_hot,
            ]
            cached = (tau, p_max / context.noise_psd_w_per_hz, device_s / tau, server_s / tau, tail)
            self._statics[key] = cached
        return cached

    def encode(self, context: PolicyContext) -> np.ndarray:
        """The observation of the request ``context`` describes (``float32``, within bounds)."""
        tau, p_over_n0, device_alone, server_alone, tail = self._static(context)
        band = context.bandwidth_hz
        gain = context.gain
        snr = p_over_n0 * gain / band if band > 0.0 else 0.0
        fading = gain / context.mean_gain if context.mean_gain > 0.0 else 1.0
        workers = context.server_workers or 1
        waiting = context.server_queue_length / workers
        now = context.time_s
        previous = self._last_time_s
        since = 0.0 if previous is None else (now - previous) / tau
        self._last_time_s = now
        work = context.work_scale
        uplink, queue = context.uplink_active, context.device_queue_length
        se = math.log1p(snr) / _LOG2 / 20.0
        fading_db = math.log10(fading) if fading > 0.0 else -4.0
        device_backlog = context.device_backlog_s / tau
        server_backlog = context.server_backlog_s / tau
        work_log = math.log2(work) / 4.0 if work > 0.0 else -1.0
        values = [
            band / context.cell_bandwidth_hz,
            se if se < 1.0 else 1.0,
            -4.0 if fading_db < -4.0 else 2.0 if fading_db > 2.0 else fading_db,
            uplink / (uplink + 1.0),
            queue / (queue + 1.0),
            device_backlog if device_backlog < 4.0 else 4.0,
            waiting / (waiting + 1.0),
            context.server_in_service / workers,
            server_backlog if server_backlog < 4.0 else 4.0,
            -1.0 if work_log < -1.0 else 1.0 if work_log > 1.0 else work_log,
            _clip(device_alone * work, 0.0, 10.0),
            _clip(server_alone * work, 0.0, 10.0),
            *tail[:2],
            since / (since + 1.0),
            *tail[2:],
        ]
        return np.array(values, dtype=np.float32)


def _clip(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


@dataclass(frozen=True)
class _Bounds:
    """The box of an action: low and high per number."""

    low: np.ndarray
    high: np.ndarray


class Actions:
    """Maps an action to a decision and a decision back to an action (see the module)."""

    def __init__(
        self, setting: PolicySetting, scale: str = "normalised", admission: bool = False
    ) -> None:
        if scale not in ACTION_SCALES:
            raise InputError(
                f"got {scale!r}, expected one of {', '.join(ACTION_SCALES)}",
                argument="actions",
                value=scale,
                expected=f"one of {', '.join(ACTION_SCALES)}",
            )
        self.scale = scale
        self.admission = admission
        self.names = ACTION_FIELDS if admission else ACTION_FIELDS[:-1]
        self.bounds = self._box(setting)
        self._size = self.size
        self._low: list[float] = self.bounds.low.tolist()
        self._high: list[float] = self.bounds.high.tolist()
        self._static: dict[tuple[object, ...], StaticCost] = {}

    @property
    def size(self) -> int:
        """Numbers in an action."""
        return len(self.names)

    def _box(self, setting: PolicySetting) -> _Bounds:
        n = self.size
        if self.scale == "normalised":
            return _Bounds(np.full(n, -1.0), np.full(n, 1.0))
        devices: Sequence[HardwareSpec] = [group.hardware for group in setting.groups]
        servers = setting.servers
        low = [
            0.0,
            0.0,
            0.0,
            0.0,
            min(d.f_min_hz for d in devices),
            min(s.f_min_hz for s in servers),
        ]
        high = [
            float(max(group.model.last_split for group in setting.groups)),
            1.0,
            1.0,
            max(float(d.max_tx_power_w or 0.0) for d in devices),
            max(d.f_max_hz for d in devices),
            max(s.f_max_hz for s in servers),
        ]
        if self.admission:
            low.append(0.0)
            high.append(1.0)
        return _Bounds(np.array(low), np.array(high))

    @inline_builds  # the decision, built by name, compiled to a tuple (once per step)
    def decision(self, action: object, context: PolicyContext) -> Decision:
        """The decision ``action`` means for the request of ``context``, with the reference
        model's prediction (no queueing) at the context's gain and band, as ``fixed`` makes it:
        feasible when it predicts both budgets met."""
        try:
            values: list[float] | None = np.asarray(action, dtype=np.float64).reshape(-1).tolist()
        except (TypeError, ValueError):
            values = None
        if values is None or len(values) != self._size or not all(math.isfinite(x) for x in values):
            raise InputError(
                f"got {action!r}, expected {self.size} finite numbers ({', '.join(self.names)})",
                argument="action",
                value=action,
                expected=f"{self.size} finite numbers",
            )
        u = [
            low if x < low else high if x > high else x
            for x, low, high in zip(values, self._low, self._high, strict=True)
        ]
        model, device, server = context.model, context.device, context.server
        last = model.last_split
        p_max: float = device.max_tx_power_w  # type: ignore[assignment]  # a device has one
        if self.scale == "normalised":
            v = [(x + 1.0) / 2.0 for x in u]
            split = round(v[0] * last)
            rho, rho_s = v[1], v[2]
            p = max(v[3], MIN_FRACTION) * p_max
            f_low, fs_low = _clock_low(device), _clock_low(server)
            f = f_low + v[4] * (device.f_max_hz - f_low)
            fs = fs_low + v[5] * (server.f_max_hz - fs_low)
            admit = u[6] >= 0.0 if self.admission else True
        else:
            split = round(min(u[0], last))
            rho, rho_s = u[1], u[2]
            p = _within(u[3], 0.0, p_max) if u[3] > 0.0 else MIN_FRACTION * p_max
            f = _within(u[4], device.f_min_hz, device.f_max_hz) if u[4] > 0.0 else 0.0
            fs = _within(u[5], server.f_min_hz, server.f_max_hz) if u[5] > 0.0 else 0.0
            f = f if f > 0.0 else _clock_low(device)  # f_min may be 0: a clock must be above
            fs = fs if fs > 0.0 else _clock_low(server)
            admit = u[6] >= 0.5 if self.admission else True
        key = (id(model), id(device), id(server), split, rho, rho_s, f, fs)
        static = self._static.get(key)
        if static is None:
            if len(self._static) >= 4096:
                self._static.clear()
            static = self._static[key] = StaticCost.of(context, split, rho, rho_s, f, fs)
        latency, energy = static.predict(context, p)
        return build(
            Decision,
            split=split,
            rho_device=rho,
            rho_server=rho_s,
            tx_power_w=p,
            f_device_hz=f,
            f_server_hz=fs,
            predicted_latency_s=latency,
            predicted_energy_j=energy,
            predicted_distortion=static.distortion,
            feasible=latency <= context.deadline_s and energy <= context.energy_budget_j,
            admit=admit,
            mode="",
            weight_bits_device=0,
            weight_bits_server=0,
            payload_bits_per_value=0,
            kv_cache_bits=0,
            model="",
        )

    def action_of(self, decision: Decision, context: PolicyContext) -> np.ndarray:
        """The action that means ``decision`` for the request of ``context`` (its inverse:
        exact on the ``si`` scale; on ``normalised`` up to rounding)."""
        values = [
            float(decision.split),
            float(decision.rho_device),
            float(decision.rho_server),
            float(decision.tx_power_w),
            float(decision.f_device_hz),
            float(decision.f_server_hz),
        ]
        if self.scale == "normalised":
            device, server = context.device, context.server
            p_max: float = device.max_tx_power_w  # type: ignore[assignment]  # a device has one
            fractions = [
                values[0] / context.model.last_split if context.model.last_split else 0.0,
                values[1],
                values[2],
                values[3] / p_max,
                _fraction(values[4], _clock_low(device), device.f_max_hz),
                _fraction(values[5], _clock_low(server), server.f_max_hz),
            ]
            values = [2.0 * v - 1.0 for v in fractions]
            if self.admission:
                values.append(1.0 if decision.admit else -1.0)
        elif self.admission:
            values.append(1.0 if decision.admit else 0.0)
        return np.array(values, dtype=np.float64)


def _clock_low(spec: HardwareSpec) -> float:
    """The lowest clock an action maps to: f_min, or 0.001·f_max where f_min is lower, Hz."""
    return max(spec.f_min_hz, MIN_FRACTION * spec.f_max_hz)


def _within(value: float, low: float, high: float) -> float:
    """``value`` clipped to [low, high], kept as it is within the engine's slack of a bound."""
    if value < low * (1 - _SLACK):
        return low
    if value > high * (1 + _SLACK):
        return high
    return value


def _fraction(value: float, low: float, high: float) -> float:
    """Where ``value`` lies in [low, high], 0..1 (0 for an empty range)."""
    return (value - low) / (high - low) if high > low else 0.0
