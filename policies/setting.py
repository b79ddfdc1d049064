"""Checking a policy's parameters against the run it will decide, before the run starts.

A parameter can be in range for its type and still impossible in a given run: ``split: 99`` for
a 12-block model, a transmit power above what a phone can send, a clock the server does not
have. :func:`check_parameters_fit` refuses these with one
:class:`~coinfer.emulator.errors.InputError` naming ``policy.params.FIELD``, the value and the
range of the device group or server it does not fit. It knows the parameters by their names,
for every policy (built-in or not): ``split`` and ``layer`` (a split point), ``splits`` (a list
of them), ``tx_power_w``, ``f_device_hz`` and ``f_server_hz``. A policy with more to check
overrides :meth:`~coinfer.policies.base.Policy.check_setting`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from coinfer.emulator.errors import InputError
from coinfer.emulator.model.hardware import HardwareSpec
from coinfer.emulator.model.profiles import ModelProfile

#: Relative slack on the hardware's bounds (as :func:`~coinfer.policies.base.check_decision`).
_SLACK = 1e-9


@dataclass(frozen=True)
class DeviceGroupSetting:
    """One device group of the run: what a policy's parameters must fit."""

    group: str
    model: ModelProfile
    hardware: HardwareSpec
    deadline_s: float = math.inf  #: the group's latency budget T0, s (inf: none)
    energy_budget_j: float = math.inf  #: the group's energy budget E0, J (inf: none)
    generative: bool = False  #: whether its requests generate tokens (``tokens`` given)


@dataclass(frozen=True)
class PolicySetting:
    """The device groups and server hardware a policy will decide for."""

    groups: tuple[DeviceGroupSetting, ...]
    servers: tuple[HardwareSpec, ...]
    slo_ttft_s: float = math.inf  #: the scenario's TTFT objective, s (inf: none)
    slo_tpot_s: float = math.inf  #: the scenario's TPOT objective, s (inf: none)

    @property
    def has_slo(self) -> bool:
        """Whether the scenario sets a TTFT or a TPOT objective (generative requests)."""
        return math.isfinite(self.slo_ttft_s) or math.isfinite(self.slo_tpot_s)


def check_parameters_fit(policy_name: str, params: Any, setting: PolicySetting) -> None:
    """Refuse a parameter of ``params`` (a policy's ``Params``) that no request of ``setting``
    could use (see the module)."""
    values = params.model_dump() if hasattr(params, "model_dump") else dict(params)

    def refuse(field: str, value: Any, expected: str) -> InputError:
        return InputError(
            f"policy {policy_name!r}: policy.params.{field}: got {value!r}, expected {expected}",
            path=f"policy.params.{field}",
            value=value,
            expected=expected,
        )

    for field in ("split", "layer", "splits"):
        given = values.get(field)
        if given is None:
            continue
        for split in given if isinstance(given, list | tuple) else [given]:
            for group in setting.groups:
                last = group.model.last_split
                if not 0 <= split <= last:
                    raise refuse(
                        field,
                        given,
                        f"split points in 0..{last} for model {group.model.name!r} "
                        f"(device group {group.group!r})",
                    )
    power = values.get("tx_power_w")
    if power is not None:
        for group in setting.groups:
            top = group.hardware.max_tx_power_w
            if top is not None and power > top * (1 + _SLACK):
                raise refuse(
                    "tx_power_w",
                    power,
                    f"a power in (0, {top:g}] W for hardware {group.hardware.name!r} "
                    f"(device group {group.group!r})",
                )
    _check_clock(
        values.get("f_device_hz"), "f_device_hz", [g.hardware for g in setting.groups], refuse
    )
    _check_clock(values.get("f_server_hz"), "f_server_hz", setting.servers, refuse)


def check_deadline_given(policy_name: str, setting: PolicySetting, *, optimised: str) -> None:
    """Refuse a device group without a latency budget (``deadline_s`` infinite, the default)
    for a policy that optimises ``optimised`` (e.g. ``transmit power and clocks``) against it.

    Without T0 such a problem has no optimum: every kept fraction is reached at some latency,
    and the upload and compute energies keep falling as the power and clocks fall, so the
    solver returns the smallest power it searches (about 1e-8 W) and a latency of minutes to
    hours. Raised as an :class:`InputError` naming the group and the missing budget.
    """
    for group in setting.groups:
        if math.isinf(group.deadline_s):
            expected = (
                "a finite latency budget T0 (the group's deadline_s, s; coinfer solve: --t0), "
                + (
                    "or an slo (ttft_s, tpot_s) for its generative requests, "
                    if group.generative
                    else ""
                )
                + "or a policy that does not optimise against it (min-latency, fixed, split)"
            )
            raise InputError(
                f"policy {policy_name!r} optimises {optimised} within the latency budget, and "
                f"device group {group.group!r} has none (deadline_s = inf, the default): its "
                "optimum would be a near-zero transmit power and an unbounded latency; "
                f"expected {expected}",
                path="deadline_s",
                value=group.deadline_s,
                expected=expected,
            )


def _check_clock(
    clock: Any,
    field: str,
    hardware: Iterable[HardwareSpec],
    refuse: Callable[[str, Any, str], InputError],
) -> None:
    if clock is None:
        return
    for spec in hardware:
        if not spec.f_min_hz * (1 - _SLACK) <= clock <= spec.f_max_hz * (1 + _SLACK):
            raise refuse(
                field,
                clock,
                f"a clock in [{spec.f_min_hz:g}, {spec.f_max_hz:g}] Hz for hardware {spec.name!r}",
            )
