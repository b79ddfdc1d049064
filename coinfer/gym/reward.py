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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from coinfer.emulator.errors import InputError
from coinfer.emulator.model.profiles import ModelProfile

if TYPE_CHECKING:
    import pandas as pd


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


def trace_outcomes(trace: pd.DataFrame, models: Mapping[str, ModelProfile]) -> list[Outcome]:
    """Each row of a run's trace (``simulate(...).trace``, or an episode's) as an
    :class:`Outcome`; ``models``: the run's model profiles by name (:attr:`RequestEnv.models`)."""
    outcomes = []
    for row in trace.itertuples(index=False):
        model = models[row.model]
        table = model.split_table
        kept = (
            row.rho_device * table.device_params[row.split]
            + row.rho_server * (table.server_params[row.split])
        )
        outcomes.append(
            Outcome(
                request_id=int(row.request_id),
                status=str(row.status),
                t_arrival=float(row.t_arrival),
                t_done=float(row.t_done),
                latency_s=float(row.latency_s),
                deadline_s=float(row.deadline_s),
                deadline_met=bool(row.deadline_met),
                energy_total_j=float(row.energy_total_j),
                energy_device_j=float(row.energy_device_j),
                energy_budget_j=float(row.energy_budget_j),
                kept_fraction=float(kept) / model.total_params,
                distortion_bound=float(row.distortion_bound),
            )
        )
    return outcomes


def trace_rewards(
    trace: pd.DataFrame,
    models: Mapping[str, ModelProfile],
    reward: Callable[[Outcome], float] | None = None,
) -> np.ndarray:
    """The reward of every row of ``trace`` (default :class:`Reward`), in row order: how a
    policy's run scores on the environment's reward."""
    reward = reward or Reward()
    return np.array([reward(o) for o in trace_outcomes(trace, models)], dtype=np.float64)
