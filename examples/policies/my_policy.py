"""A custom policy: no pruning, top clocks, and the lowest transmit power meeting the deadline."""

import numpy as np
from pydantic import Field

from coinfer.policies.base import Decision, Policy, PolicyContext
from coinfer.policies.prediction import predict


class GreedyPowerPolicy(Policy):
    name = "greedy-power"
    summary = "fixed split, top clocks, lowest transmit power that meets the deadline"

    class Params(Policy.Params):
        split: int = Field(default=4, ge=0, description="split point l")
        levels: int = Field(default=16, ge=1, description="power levels tried, up to P_max")

    def decide(self, context: PolicyContext) -> Decision:
        split = min(self.params.split, context.model.last_split)
        f, f_server, p_max = (
            context.device.f_max_hz,
            context.server.f_max_hz,
            context.device.max_tx_power_w,
        )
        for p in np.linspace(p_max / self.params.levels, p_max, self.params.levels):
            latency, energy, distortion = predict(context, split, 1.0, 1.0, p, f, f_server)
            if latency <= context.deadline_s:
                break  # the lowest power that meets the deadline (else: P_max)
        feasible = latency <= context.deadline_s and energy <= context.energy_budget_j
        return Decision(
            split, 1.0, 1.0, float(p), f, f_server, latency, energy, distortion, feasible
        )
