"""The paper's baselines and the usual reference points, on the same problem and solver.

Each paper baseline optimises what it leaves free (paper section V): ``fixed-power`` (p = P_max),
``fixed-frequency`` (f = f_max, f̃ = f̃_max), ``prune-device-only`` (ρ̃ = 1),
``prune-server-only`` (ρ = 1), ``on-device`` (split L) and ``on-server`` (split 0). Beyond the
paper: ``no-pruning`` (ρ = ρ̃ = 1, the least energy meeting the deadline), ``min-latency``
(Neurosurgeon-style: no pruning, top clocks and power, the split with the least latency) and
``random``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import ConfigDict, Field

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.records import build
from coinfer.policies.base import Decision, Policy, PolicyContext
from coinfer.policies.generative import GenerativePlanner
from coinfer.policies.joint import JointParams, OptimisingPolicy
from coinfer.policies.prediction import predict
from coinfer.policies.problem import Problem, Solution

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class FixedPowerPolicy(OptimisingPolicy[JointParams]):
    """Transmit at P_max; split, pruning and clocks optimised."""

    name = "fixed-power"
    summary = "paper baseline: transmit power fixed at P_max, the rest optimised"
    optimises = "the clocks"

    def pin(self, problem: Problem, context: PolicyContext) -> Problem:
        return problem.pinned(p_lo_w=problem.p_hi_w)


class FixedFrequencyPolicy(OptimisingPolicy[JointParams]):
    """Both clocks at their top; split, pruning and power optimised."""

    name = "fixed-frequency"
    summary = "paper baseline: device and server clocks fixed at their top, the rest optimised"
    optimises = "the transmit power"

    def pin(self, problem: Problem, context: PolicyContext) -> Problem:
        return problem.pinned(
            f_device_lo_hz=problem.f_device_hi_hz, f_server_lo_hz=problem.f_server_hi_hz
        )


class PruneDeviceOnlyPolicy(OptimisingPolicy[JointParams]):
    """The server runs its part unpruned (ρ̃ = 1)."""

    name = "prune-device-only"
    summary = "paper baseline: only the device side is pruned (ρ̃ = 1), the rest optimised"

    def pin(self, problem: Problem, context: PolicyContext) -> Problem:
        return problem.pinned(rho_server_lo=1.0, rho_server_hi=1.0)


class PruneServerOnlyPolicy(OptimisingPolicy[JointParams]):
    """The device runs its part unpruned (ρ = 1)."""

    name = "prune-server-only"
    summary = "paper baseline: only the server side is pruned (ρ = 1), the rest optimised"

    def pin(self, problem: Problem, context: PolicyContext) -> Problem:
        return problem.pinned(rho_device_lo=1.0, rho_device_hi=1.0)


class _NoSplitParams(JointParams):
    """``joint`` parameters without ``splits`` (the policy fixes the split)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    splits: None = Field(default=None, description="fixed by the policy", exclude=True)


class OnDevicePolicy(OptimisingPolicy[_NoSplitParams]):
    """Everything on the device (split L, nothing uploaded); pruning and clock optimised. A
    generative request runs its prefill and every decode on the device
    (:mod:`coinfer.policies.generative`)."""

    name = "on-device"
    summary = (
        "paper baseline: the whole model on the device (split L), the rest optimised; "
        "generative requests generate on the device"
    )
    Params = _NoSplitParams
    forced_split = "device"
    optimises = "the device clock"
    own_generative = True

    def __init__(self, params: _NoSplitParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._generative = GenerativePlanner()

    def decide(self, context: PolicyContext) -> Decision:
        if context.generative:
            return self._generative.decide(context, context.model.last_split, "on-device")
        return super().decide(context)


class OnServerPolicy(OptimisingPolicy[_NoSplitParams]):
    """Everything on the server (split 0: the raw input is uploaded); the rest optimised. A
    generative request uploads its prompt's token ids and the server generates
    (:mod:`coinfer.policies.generative`)."""

    name = "on-server"
    summary = (
        "paper baseline: the whole model on the server (split 0), the rest optimised; "
        "generative requests generate on the server"
    )
    Params = _NoSplitParams
    forced_split = "server"
    own_generative = True

    def __init__(self, params: _NoSplitParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._generative = GenerativePlanner()

    def decide(self, context: PolicyContext) -> Decision:
        if context.generative:
            return self._generative.decide(context, 0, "on-server")
        return super().decide(context)


class NoPruningPolicy(OptimisingPolicy[JointParams]):
    """ρ = ρ̃ = 1; split, power and clocks spend the least energy that meets the deadline."""

    name = "no-pruning"
    summary = "no pruning (ρ = ρ̃ = 1): split, power and clocks with the least energy in T0"

    def pin(self, problem: Problem, context: PolicyContext) -> Problem:
        return problem.pinned(
            rho_device_lo=1.0, rho_device_hi=1.0, rho_server_lo=1.0, rho_server_hi=1.0
        )

    def solve(self, problem: Problem) -> Solution:
        return self.solver.least_energy(problem)


class MinLatencyParams(Policy.Params):
    """Parameters of ``min-latency``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    splits: list[int] | None = Field(
        default=None, description="split points it may choose (default: every split)"
    )


class MinLatencyPolicy(Policy[MinLatencyParams]):
    """Neurosurgeon-style: no pruning, top clocks and power, the split with the least latency.

    Budgets play no part in the choice; the decision is flagged infeasible when it misses one.
    """

    name: ClassVar[str] = "min-latency"
    summary: ClassVar[str] = (
        "Neurosurgeon-style: no pruning, top clocks and power, the split with least latency"
    )
    Params = MinLatencyParams

    def __init__(self, params: MinLatencyParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)

    def decide(self, context: PolicyContext) -> Decision:
        params: Any = self.params
        last = context.model.last_split
        splits = list(range(last + 1)) if params.splits is None else params.splits
        # a device always has a max_tx_power_w (HardwareSpec's validator; None is a server's)
        p: float = context.device.max_tx_power_w  # type: ignore[assignment]
        f, fs = context.device.f_max_hz, context.server.f_max_hz
        best = None
        for split in (s for s in splits if s <= last):
            latency, energy, distortion = predict(context, split, 1.0, 1.0, p, f, fs)
            if best is None or latency < best[1]:
                best = (split, latency, energy, distortion)
        if best is None:
            best = (last, *predict(context, last, 1.0, 1.0, p, f, fs))
        split, latency, energy, distortion = best
        feasible = latency <= context.deadline_s and energy <= context.energy_budget_j
        return build(
            Decision,
            split=split,
            rho_device=1.0,
            rho_server=1.0,
            tx_power_w=p,
            f_device_hz=f,
            f_server_hz=fs,
            predicted_latency_s=latency,
            predicted_energy_j=energy,
            predicted_distortion=distortion,
            feasible=feasible,
            admit=True,
            mode="",
            weight_bits_device=0,
            weight_bits_server=0,
            payload_bits_per_value=0,
            kv_cache_bits=0,
            model="",
        )


class RandomParams(Policy.Params):
    """Parameters of ``random``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rho_min: float = Field(default=0.0, ge=0.0, le=1.0, description="lowest kept fraction drawn")


class RandomPolicy(Policy[RandomParams]):
    """Uniform random split, kept fractions, power and clocks (from the policy's own stream)."""

    name: ClassVar[str] = "random"
    summary: ClassVar[str] = "uniform random split, pruning, power and clocks (a sanity floor)"
    Params = RandomParams

    def decide(self, context: PolicyContext) -> Decision:
        params: Any = self.params
        rng = self.rng
        device, server = context.device, context.server
        split = int(rng.integers(0, context.model.last_split + 1))
        rho, rho_s = rng.uniform(params.rho_min, 1.0, 2).tolist()
        # (0, P_max]; a device always has a max_tx_power_w (None is a server's)
        p = float(device.max_tx_power_w * (1.0 - rng.random()))  # type: ignore[operator]
        f = _uniform_clock(rng, device.f_min_hz, device.f_max_hz)
        fs = _uniform_clock(rng, server.f_min_hz, server.f_max_hz)
        latency, energy, distortion = predict(context, split, rho, rho_s, p, f, fs)
        feasible = latency <= context.deadline_s and energy <= context.energy_budget_j
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
            predicted_distortion=distortion,
            feasible=feasible,
            admit=True,
            mode="",
            weight_bits_device=0,
            weight_bits_server=0,
            payload_bits_per_value=0,
            kv_cache_bits=0,
            model="",
        )


def _uniform_clock(rng: np.random.Generator, low: float, high: float) -> float:
    """A clock uniform in [low, high], never 0."""
    return float(high - (high - low) * rng.random()) if high > low else float(high)
