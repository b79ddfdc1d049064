"""The reward of a finished request: a function of its outcome (one trace row).

:class:`Outcome` is what the environment knows of a request once it has left the system, read
by name from its trace row; :class:`Reward` is the default reward function::

    reward = keep · kept_fraction · [deadline met]
             − late · [deadline missed]
             − over_energy · [energy_total_j > energy_budget_j]

where ``kept_fraction = (ρ·q(l) + ρ̃·s(l)) / n`` is the share of the model's parameters the
request ran with (the paper's objective), a request that was dropped or not admitted counts as
late, and the energy is the device's and the server's (the paper's E, which E0 bounds). Any
callable ``Outcome → float`` may replace it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from coinfer.emulator.errors import InputError


class Outcome(NamedTuple):
    """A finished request, as its trace row tells it (SI units)."""

    request_id: int
    status: str  #: "completed", "dropped" or "infeasible"
    t_arrival: float  #: arrival time, s
    t_done: float  #: time it left the system, s
    latency_s: float  #: t_done − t_arrival, s
    deadline_s: float  #: its latency budget T0, s (inf: none)
    deadline_met: bool  #: completed within T0
    energy_total_j: float  #: device and server energy, J
    energy_device_j: float  #: device energy (compute and upload), J
    energy_budget_j: float  #: its energy budget E0, J (inf: none)
    kept_fraction: float  #: (ρ·q(l) + ρ̃·s(l)) / n, share of the model's parameters kept
    distortion_bound: float  #: the distortion bound of the pruned model


@dataclass(frozen=True)
class Reward:
    """The default reward (see the module): weights of the kept fraction and of the two
    penalties."""

    keep: float = 1.0  #: weight of the kept fraction of a request that meets its deadline
    late: float = 1.0  #: penalty of a request that misses its deadline (or is not completed)
    over_energy: float = 1.0  #: penalty of a request whose energy exceeds its budget

    def __post_init__(self) -> None:
        for name in ("keep", "late", "over_energy"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InputError(
                    f"got {value!r}, expected a finite number",
                    argument=f"reward.{name}",
                    value=value,
                    expected="a finite number",
                )

    def __call__(self, outcome: Outcome) -> float:
        """The reward of ``outcome``."""
        reward = self.keep * outcome.kept_fraction if outcome.deadline_met else -self.late
        if outcome.energy_total_j > outcome.energy_budget_j:
            reward -= self.over_energy
        return float(reward)
