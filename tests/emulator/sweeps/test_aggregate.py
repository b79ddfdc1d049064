"""Aggregation: Student-t 95 % intervals checked by hand, one row per configuration."""

import math

import numpy as np
import pytest

from coinfer.emulator.api.intervals import t_interval
from coinfer.emulator.sweeps.aggregate import aggregate, results_table

# t(0.975, 3) and t(0.975, 1) from the tables
T3 = 3.182446305284263
T1 = 12.706204736174707


def test_t_interval_by_hand():
    # values 1, 2, 3, 4: mean 2.5, sample sd sqrt(5/3), n 4
    mean, half, n = t_interval([1.0, 2.0, 3.0, 4.0])
    assert (mean, n) == (2.5, 4)
    assert half == pytest.approx(T3 * math.sqrt(5 / 3) / 2, rel=1e-12)
    assert half == pytest.approx(2.0542, abs=1e-4)
    # two values 10, 14: sd 2*sqrt(2), half = t(0.975, 1) * 2*sqrt(2) / sqrt(2) = 2 t
    mean, half, n = t_interval([10.0, 14.0])
    assert (mean, n) == (12.0, 2) and half == pytest.approx(2 * T1, rel=1e-12)


def test_t_interval_leaves_out_nan_and_needs_two_values():
    assert t_interval([5.0, math.nan, 7.0])[2] == 2
    mean, half, n = t_interval([3.0])
    assert (mean, n) == (3.0, 1) and math.isnan(half)
    mean, half, n = t_interval([math.nan])
    assert n == 0 and math.isnan(mean) and math.isnan(half)
    assert t_interval([2.0, 2.0, 2.0])[1] == 0.0


def _plan():
    return {
        "name": "hand",
        "columns": ["policy", "devices.0.count"],
        "configurations": [
            {"config_id": "a", "policy": "fixed", "point": {"devices.0.count": 1}},
            {"config_id": "b", "policy": "fixed", "point": {"devices.0.count": 2}},
        ],
        "runs": [
            {"run_id": "a1", "config_id": "a", "seed": 1},
            {"run_id": "a2", "config_id": "a", "seed": 2},
            {"run_id": "a3", "config_id": "a", "seed": 3},
            {"run_id": "b1", "config_id": "b", "seed": 1},
            {"run_id": "b2", "config_id": "b", "seed": 2},
        ],
    }


def _ok(run_id, config, seed, latency, ratio):
    return {
        "run_id": run_id,
        "config_id": config,
        "seed": seed,
        "status": "ok",
        "wall_time_s": 0.1,
        "metrics": {"latency_mean_s": latency, "deadline_met_ratio": ratio},
        "latency_quantiles": [latency, latency],
    }


def test_aggregate_per_configuration_with_failures_and_missing_runs():
    records = {
        "a1": _ok("a1", "a", 1, 0.1, 1.0),
        "a2": _ok("a2", "a", 2, 0.2, 0.5),
        "a3": _ok("a3", "a", 3, 0.3, math.nan),
        "b1": {"run_id": "b1", "config_id": "b", "seed": 1, "status": "failed", "error": "E: x"},
        # b2 never ran
    }
    results = results_table(_plan(), records)
    assert list(results["status"]) == ["ok", "ok", "ok", "failed", "missing"]
    assert results.loc[3, "error"] == "E: x" and np.isnan(results.loc[3, "latency_mean_s"])
    table = aggregate(results, _plan())
    assert list(table["config_id"]) == ["a", "b"]
    assert list(table["devices.0.count"]) == [1.0, 2.0]
    assert list(table["runs"]) == [3, 0] and list(table["failed"]) == [0, 1]
    a = table.iloc[0]
    assert a["latency_mean_s_mean"] == pytest.approx(0.2)
    # sd of 0.1, 0.2, 0.3 is 0.1; t(0.975, 2) = 4.302652729911275
    assert a["latency_mean_s_ci95"] == pytest.approx(4.302652729911275 * 0.1 / math.sqrt(3))
    assert a["deadline_met_ratio_mean"] == 0.75  # the NaN seed is left out
    assert a["deadline_met_ratio_ci95"] == pytest.approx(T1 * math.sqrt(0.125) / math.sqrt(2))
    b = table.iloc[1]
    assert np.isnan(b["latency_mean_s_mean"]) and np.isnan(b["latency_mean_s_ci95"])
