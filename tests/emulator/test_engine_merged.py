"""Merged Poisson arrivals (``arrivals: {process: poisson, merged: true}``) and idle devices.

``n`` Poisson devices of rate ``λ`` are one Poisson process of rate ``n·λ`` whose arrivals pick
their device uniformly (superposition and thinning). A merged group runs as that one process
(:mod:`coinfer.emulator.engine.merged`): these tests prove the law, the exact arrival times of a
merged group of one device, that a device that sends nothing gets no run-time state, and that
common random numbers still hold across policies. The invariants (conservation, causality,
decomposition) of a merged scenario are in ``test_engine_invariants.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from coinfer.emulator.api.run import make_engine, simulate
from coinfer.emulator.deployment.build import build_deployment
from coinfer.emulator.deployment.replay import load_scenario_traces
from coinfer.emulator.engine.merged import MERGED_STREAM, merged_arrivals, merged_groups
from coinfer.emulator.errors import InputError
from coinfer.emulator.randomness import stream
from coinfer.emulator.scenario.schema import scenario_from_dict
from coinfer.emulator.trace.columns import TraceWriter


def scenario(count: int, rate_per_s: float, merged: bool = True, split: int = 4, **extra):
    """``count`` paper devices running BERT with (merged) Poisson arrivals, Rayleigh fading."""
    return scenario_from_dict(
        {
            "name": "merged",
            "requests": 100,
            "devices": [
                {
                    "name": "d",
                    "count": count,
                    "arrivals": {"process": "poisson", "rate_per_s": rate_per_s, "merged": merged},
                    "work": {"distribution": "exponential", "mean": 1.0},
                }
            ],
            "cells": [{"id": "c0", "sharing": "ps"}],
            "servers": [{"id": "s0", "workers": 4}],
            "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.01}},
            "policy": {"name": "fixed", "params": {"split": split}},
            **extra,
        }
    )


def test_the_merged_process_is_n_independent_poisson_processes():
    """Gaps exponential of mean 1/(n·λ) (Kolmogorov–Smirnov), devices picked uniformly
    (χ²), and each device's own gaps exponential of mean 1/λ: the law of n independent
    Poisson devices."""
    rate, devices = 0.5, range(3, 23)  # 20 devices, indices 3..22
    spec = build_deployment(scenario(30, rate), seed=1).devices[3]
    draws = merged_arrivals(spec, devices, np.random.default_rng(5))
    gaps, picks = map(np.array, zip(*(next(draws) for _ in range(40_000)), strict=True))
    total_rate = rate * len(devices)
    assert stats.kstest(gaps, stats.expon(scale=1 / total_rate).cdf).pvalue > 1e-3
    counts = np.bincount(picks - devices.start, minlength=len(devices))
    assert picks.min() >= devices.start and picks.max() < devices.stop
    assert stats.chisquare(counts).pvalue > 1e-3
    times = np.cumsum(gaps)
    own_gaps = np.diff(times[picks == 7])
    assert stats.kstest(own_gaps, stats.expon(scale=1 / rate).cdf).pvalue > 1e-3


def test_a_merged_device_alone_arrives_at_the_sums_of_its_streams_exponentials():
    """Bridge: a merged group of one device arrives at the cumulative sums of exponentials of
    mean 1/λ drawn from its group's stream (``merged-arrivals`` of device 0), in the block
    sizes 1, 2, 4, ... (each block: the gaps, then the device picks)."""
    rate = 2.0
    trace = simulate(scenario(1, rate, requests=20), seed=3).trace.sort_values("request_id")
    rng = stream(3, MERGED_STREAM, 0)
    expected: list[float] = []
    size = 1
    while len(expected) < 20:
        expected += rng.exponential(1 / rate, size).tolist()
        rng.integers(0, 1, size)
        size *= 2
    np.testing.assert_array_equal(trace["t_arrival"].to_numpy(), np.cumsum(expected[:20]))


def test_idle_devices_of_a_merged_group_get_no_run_time_state():
    """5,000 merged devices and 50 requests: only the devices that sent one have state (at
    most 50); with per-device processes every device has its state from the start."""
    for merged, expected in ((True, range(1, 51)), (False, range(5_000, 5_001))):
        case = scenario(5_000, 0.01, merged=merged, requests=50)
        engine = make_engine(case, 1, load_scenario_traces(case), TraceWriter({}, None))
        engine.run()
        made = sum(device is not None for device in engine._devices)
        assert made in expected, (merged, made)


def test_policies_on_one_seed_see_the_same_merged_arrivals():
    """Common random numbers hold for merged groups: split 4 and split 0 on the same seed see
    the same requests (device, arrival time, work scale) and the same gains."""
    first = simulate(scenario(50, 0.2, split=4, requests=300), seed=8).trace
    second = simulate(scenario(50, 0.2, split=0, requests=300), seed=8).trace
    first, second = first.sort_values("request_id"), second.sort_values("request_id")
    for column in ("device_id", "t_arrival", "work_scale", "gain"):
        np.testing.assert_array_equal(first[column].to_numpy(), second[column].to_numpy())
    assert not np.array_equal(first["latency_s"].to_numpy(), second["latency_s"].to_numpy())


def test_merged_and_per_device_runs_differ_only_in_their_draws():
    """The same scenario unmerged draws other arrival times (per-device streams), at the same
    rate: the mean arrival rates of both runs agree within 5 %."""
    merged = simulate(scenario(100, 0.1, requests=3000), seed=2).trace
    own = simulate(scenario(100, 0.1, merged=False, requests=3000), seed=2).trace
    assert not np.array_equal(merged["t_arrival"].to_numpy(), own["t_arrival"].to_numpy())
    rates = [3000 / t["t_arrival"].max() for t in (merged, own)]
    assert rates == pytest.approx([10.0, 10.0], rel=0.05)


def test_only_consecutive_devices_of_one_merged_group_are_merged():
    """Groups are merged one by one; a group without ``merged`` keeps per-device processes."""
    case = scenario_from_dict(
        {
            "name": "groups",
            "requests": 10,
            "devices": [
                {
                    "name": "a",
                    "count": 3,
                    "arrivals": {"process": "poisson", "rate_per_s": 1, "merged": True},
                },
                {"name": "b", "count": 2, "arrivals": {"process": "poisson", "rate_per_s": 1}},
                {
                    "name": "c",
                    "count": 4,
                    "arrivals": {"process": "poisson", "rate_per_s": 2, "merged": True},
                },
            ],
        }
    )
    assert merged_groups(build_deployment(case, seed=0).devices) == [range(0, 3), range(5, 9)]


def test_merged_is_refused_for_other_arrival_processes():
    """Only Poisson arrivals merge: ``merged`` on deterministic arrivals names the field."""
    with pytest.raises(InputError, match="merged"):
        scenario_from_dict(
            {
                "name": "bad",
                "requests": 10,
                "devices": [
                    {
                        "name": "d",
                        "arrivals": {"process": "deterministic", "interval_s": 1, "merged": True},
                    }
                ],
            }
        )


def test_the_engine_reads_simpys_clock_where_its_now_property_does():
    """The engine's hot paths read ``env._now`` (SimPy's ``now`` property returns it, without
    the call) and build events from SimPy's ``_ok`` and ``_value``: the two clocks agree at
    every event of a run, whatever the initial time."""
    import simpy

    def clocks(initial: float) -> list[tuple[float, float]]:
        env = simpy.Environment(initial_time=initial)
        seen: list[tuple[float, float]] = []

        def note(_: simpy.Event) -> None:
            seen.append((env.now, env._now))

        for delay in (0.25, 1.0, 3.0):
            env.timeout(delay).callbacks.append(note)
        env.run()
        return seen

    for initial in (0, 2.5):
        assert clocks(initial) == [(initial + d, initial + d) for d in (0.25, 1.0, 3.0)]
