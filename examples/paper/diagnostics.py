"""Why two of the paper's shapes do not come out, measured (policies asked directly, no engine).

* :func:`raw_input_sensitivity`: the proposed design fully on the server (split 0) against its
  best intermediate split, as the raw input θ(0) grows. An intermediate split beats the server
  only once θ(0) is many times one activation.
* :func:`feasibility_thresholds`: the tightest budget at which each policy still has a feasible
  point (bisection on T0 at the sweep's E0, and on E0 at the sweep's T0, split 4).
* :func:`rho_min_sensitivity`: what a floor ρ_min on both kept fractions (a **[project choice]**,
  default 0 as in the paper) does at the tightest budgets of each sweep.

Units: budgets in s and J, θ in bits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from coinfer.emulator.api.solve import Instance, solve
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.profiles import ModelProfile
from examples.paper.setting import BUDGET_SPLIT, EXACT, POLICIES, Study

#: Raw-input sizes tried, bits: token ids, one activation, ..., the full embedded sequence.
RAW_INPUT_BITS: tuple[float, ...] = (
    4_096,
    24_576,
    1e5,
    2e5,
    3e5,
    4e5,
    5e5,
    7e5,
    1e6,
    1.5e6,
    3_145_728,
)
RHO_MINS: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def kept(
    profile: ModelProfile,
    policy: str,
    split: int,
    deadline_s: float,
    energy_budget_j: float,
    rho_min: float = 0.0,
) -> float:
    """The policy's kept fraction at one split and budget pair (NaN if infeasible)."""
    instance = Instance(model=profile, deadline_s=deadline_s, energy_budget_j=energy_budget_j)
    params = {"splits": [split], "rho_min": rho_min, **EXACT}
    solution = solve(instance, policy, params)
    return solution.kept_fraction if solution.decision.feasible else math.nan


def with_raw_input(profile: ModelProfile, input_bits: float) -> ModelProfile:
    """``profile`` with another raw input size θ(0), bits."""
    return ModelProfile(**{**profile.model_dump(), "input_bits": float(input_bits)})


def raw_input_sensitivity(study: Study, sizes: Sequence[float] = RAW_INPUT_BITS) -> pd.DataFrame:
    """Per split-figure budget pair and θ(0): joint at split 0 and at its best intermediate
    split (which θ(0) does not change)."""
    base = ModelCatalog.builtin().get(study.model)
    inner = [s for s in study.splits if 0 < s < base.last_split]
    rows = []
    for deadline, energy in study.split_budgets:
        best = max(inner, key=lambda s: _nan_low(kept(base, "joint", s, deadline, energy)))
        best_kept = kept(base, "joint", best, deadline, energy)
        for bits in sizes:
            profile = with_raw_input(base, bits)
            rows.append(
                {
                    "study": study.key,
                    "deadline_s": deadline,
                    "energy_budget_j": energy,
                    "input_bits": float(bits),
                    "input_over_activation": float(bits) / float(base.payload_bits[1]),
                    "on_server_kept": kept(profile, "joint", 0, deadline, energy),
                    "best_intermediate_split": best,
                    "best_intermediate_kept": best_kept,
                }
            )
    return pd.DataFrame(rows)


def raw_input_threshold(study: Study, deadline_s: float, energy_budget_j: float) -> float:
    """The θ(0), bits, above which joint's best intermediate split beats split 0 (bisection)."""
    base = ModelCatalog.builtin().get(study.model)
    inner = [s for s in study.splits if 0 < s < base.last_split]
    target = max(_nan_low(kept(base, "joint", s, deadline_s, energy_budget_j)) for s in inner)

    def server_wins(bits: float) -> bool:
        value = kept(with_raw_input(base, bits), "joint", 0, deadline_s, energy_budget_j)
        return _nan_low(value) > target

    low, high = 1.0, 1e8
    if not server_wins(low):
        return 0.0
    for _ in range(60):
        middle = math.sqrt(low * high)
        low, high = (middle, high) if server_wins(middle) else (low, middle)
        if high / low < 1.001:
            break
    return high


def _nan_low(value: float) -> float:
    return -1.0 if math.isnan(value) else value


def _least(feasible_at, low: float, high: float) -> float:
    """Least budget in [low, high] at which ``feasible_at`` holds (NaN if not even at high)."""
    if not feasible_at(high):
        return math.nan
    if feasible_at(low):
        return low
    for _ in range(50):
        middle = 0.5 * (low + high)
        low, high = (low, middle) if feasible_at(middle) else (middle, high)
        if high - low <= 1e-6 * high:
            break
    return high


def feasibility_thresholds(study: Study) -> pd.DataFrame:
    """Per policy: the least T0 (at the delay sweep's E0) and the least E0 (at the energy
    sweep's T0) with a feasible point at split 4."""
    profile = ModelCatalog.builtin().get(study.model)
    e0_fixed, t0_fixed = study.delay.fixed, study.energy.fixed
    rows = []
    for policy in POLICIES:
        least_t0 = _least(
            lambda t, p=policy: not math.isnan(kept(profile, p, BUDGET_SPLIT, t, e0_fixed)),
            1e-4,
            10.0,
        )
        least_e0 = _least(
            lambda e, p=policy: not math.isnan(kept(profile, p, BUDGET_SPLIT, t0_fixed, e)),
            1e-7,
            10.0,
        )
        rows.append(
            {
                "study": study.key,
                "policy": policy,
                "least_deadline_s": least_t0,
                "at_energy_budget_j": e0_fixed,
                "least_energy_budget_j": least_e0,
                "at_deadline_s": t0_fixed,
            }
        )
    return pd.DataFrame(rows)


def rho_min_sensitivity(study: Study, rho_mins: Sequence[float] = RHO_MINS) -> pd.DataFrame:
    """Kept fraction (NaN: infeasible) of each policy at the tightest T0 and the tightest E0 of
    the study's sweeps, for each floor ρ_min on both kept fractions."""
    profile = ModelCatalog.builtin().get(study.model)
    tight_delay = study.delay.budgets(study.tightest_delay)
    tight_energy = study.energy.budgets(study.tightest_energy)
    rows = []
    for rho_min in rho_mins:
        for policy in POLICIES:
            rows.append(
                {
                    "study": study.key,
                    "rho_min": rho_min,
                    "policy": policy,
                    "kept_at_tightest_T0": kept(
                        profile, policy, BUDGET_SPLIT, *tight_delay, rho_min=rho_min
                    ),
                    "kept_at_tightest_E0": kept(
                        profile, policy, BUDGET_SPLIT, *tight_energy, rho_min=rho_min
                    ),
                }
            )
    return pd.DataFrame(rows)
