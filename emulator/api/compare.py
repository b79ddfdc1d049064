"""Paired comparison of policies: each policy on the same seeds, so on the same randomness.

Every policy runs the same scenario on the same seeds. A run is a pure function of (scenario,
seed) and every source of randomness has its own stream (:mod:`emulator.randomness`), so on one
seed all policies see the same arrivals, work, placements, channel and trace offsets (common
random numbers). The difference of a metric between a policy and the first one is then taken
seed by seed, and its mean gets a paired Student-t 95 % confidence interval over the seeds:
``mean(d) ± t(0.975, n − 1)·s(d)/√n`` with ``d_s = m(policy, s) − m(first, s)`` (a seed where
either value is undefined, NaN, is left out). Pairing removes the variation the policies share,
so the interval is much narrower than the difference of two unpaired means.

::

    from coinfer.emulator.api.compare import compare_policies
    from coinfer.emulator.scenario.schema import load_scenario

    comparison = compare_policies(load_scenario("s.yaml"), ["joint", "on-device"], seeds=[0, 1])
    comparison.difference("on-device", "latency_p99_s")  # mean, half-width, n
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coinfer.emulator.api.estimate import MAX_EVENTS
from coinfer.emulator.api.intervals import t_interval
from coinfer.emulator.api.run import prepare, simulate
from coinfer.emulator.deployment.replay import ScenarioTraces, load_scenario_traces
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import PolicySpec, Scenario

#: The compared metrics (fields of :class:`~coinfer.emulator.api.summary.Summary`, SI units), with
#: a label,
#: the factor to their display unit and that unit.
METRICS: tuple[tuple[str, str, float, str], ...] = (
    ("latency_p50_s", "latency p50", 1e3, "ms"),
    ("latency_p99_s", "latency p99", 1e3, "ms"),
    ("deadline_met_ratio", "deadline met", 100.0, "%"),
    ("energy_per_request_j", "energy per request", 1e3, "mJ"),
    ("distortion_mean", "distortion (mean)", 1.0, ""),
)


@dataclass(frozen=True)
class Interval:
    """A mean over seeds and the half-width of its 95 % confidence interval (NaN for n < 2)."""

    mean: float
    half_width: float
    n: int  #: seeds with a defined value

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def to_dict(self) -> dict[str, float | int]:
        return {
            "mean": self.mean,
            "ci95": self.half_width,
            "low": self.low,
            "high": self.high,
            "n": self.n,
        }


@dataclass(frozen=True)
class Comparison:
    """Each policy's metrics on each seed (``values[metric][policy]``, in seed order)."""

    scenario: str
    policies: tuple[str, ...]
    seeds: tuple[int, ...]
    values: dict[str, dict[str, tuple[float, ...]]]
    wall_time_s: float

    @property
    def baseline(self) -> str:
        """The policy the others are compared with: the first."""
        return self.policies[0]

    def mean(self, policy: str, metric: str) -> Interval:
        """Mean of ``metric`` over the seeds for ``policy``, with its 95 % CI."""
        return Interval(*t_interval(self.values[metric][policy]))

    def difference(self, policy: str, metric: str) -> Interval:
        """Mean paired difference ``policy − baseline`` of ``metric``, with its 95 % CI."""
        ours = np.asarray(self.values[metric][policy], dtype=float)
        theirs = np.asarray(self.values[metric][self.baseline], dtype=float)
        return Interval(*t_interval(ours - theirs))  # NaN in either: left out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per-seed values, per-policy means and paired differences (SI units)."""
        names = [name for name, *_ in METRICS]
        return {
            "scenario": self.scenario,
            "policies": list(self.policies),
            "baseline": self.baseline,
            "seeds": list(self.seeds),
            "wall_time_s": self.wall_time_s,
            "metrics": {
                name: {"label": label, "display_factor": factor, "display_unit": unit}
                for name, label, factor, unit in METRICS
            },
            "means": {
                policy: {
                    name: {
                        **self.mean(policy, name).to_dict(),
                        "values": list(self.values[name][policy]),
                    }
                    for name in names
                }
                for policy in self.policies
            },
            "differences": {
                policy: {name: self.difference(policy, name).to_dict() for name in names}
                for policy in self.policies[1:]
            },
        }


def policy_variant(scenario: Scenario, policy: str) -> Scenario:
    """``scenario`` decided by ``policy``: its own parameters if it is the scenario's policy,
    else the policy's defaults."""
    if policy == scenario.policy.name:
        return scenario
    return scenario.model_copy(update={"policy": PolicySpec(name=policy)})


def compare_policies(
    scenario: Scenario,
    policies: Sequence[str],
    seeds: Sequence[int],
    *,
    trace_dir: str | Path | None = None,
    traces: ScenarioTraces | None = None,
    progress: Callable[[str, int], None] | None = None,
    force: bool = False,
    max_events: float = MAX_EVENTS,
) -> Comparison:
    """Run every policy on every seed of ``scenario`` and collect the :data:`METRICS`.

    ``force`` and ``max_events``: as :func:`~coinfer.emulator.api.run.simulate`'s, for every run.

    The input traces are read once (``traces``, else from ``trace_dir``) and shared by every
    run. Every policy is checked before anything runs (an unknown name or bad parameters raise
    :class:`InputError`). ``progress(policy, seed)`` is called before each run.
    """
    policies = tuple(policies)
    if len(policies) < 2:
        raise InputError(
            f"got {list(policies)}, expected at least two policies",
            argument="policies",
            value=list(policies),
            expected="at least two policies",
        )
    repeated = sorted({p for p in policies if policies.count(p) > 1})
    if repeated:
        raise InputError(
            f"{repeated[0]!r} given twice, expected distinct policies",
            argument="policies",
            value=repeated[0],
            expected="distinct policies",
        )
    if not seeds:
        raise InputError(
            "got no seeds, expected at least one", argument="seeds", expected="at least one seed"
        )
    started = time.perf_counter()
    if traces is None:
        traces = load_scenario_traces(scenario, trace_dir)
    variants = {policy: policy_variant(scenario, policy) for policy in policies}
    for variant in variants.values():
        # refuse a bad policy, or a run beyond the machine, before any run
        prepare(variant, seeds[0], traces=traces, force=force, max_events=max_events)
    values: dict[str, dict[str, list[float]]] = {
        name: {policy: [] for policy in policies} for name, *_ in METRICS
    }
    for seed in seeds:
        for policy, variant in variants.items():
            if progress is not None:
                progress(policy, seed)
            summary = simulate(
                variant, seed, traces=traces, progress=False, force=force, max_events=max_events
            ).summary
            for name, *_ in METRICS:
                values[name][policy].append(float(getattr(summary, name)))
    return Comparison(
        scenario=scenario.name,
        policies=policies,
        seeds=tuple(int(seed) for seed in seeds),
        values={
            name: {policy: tuple(series) for policy, series in per_policy.items()}
            for name, per_policy in values.items()
        },
        wall_time_s=time.perf_counter() - started,
    )
