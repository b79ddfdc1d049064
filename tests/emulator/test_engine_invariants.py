"""Invariants every run must keep, checked on scenarios that exercise each engine path.

From ``docs/architecture.md`` ("Properties that the design must keep"):

* **conservation**: every arrival has exactly one trace row and one terminal status;
* **causality**: nothing finishes before it arrives, no stage takes negative time;
* **decomposition**: the seven latency components (the backhaul's is zero without a topology)
  add up to the end-to-end latency, the energy components to the device's and the total energy;
* **determinism**: a run is a pure function of (scenario, seed), down to the bytes of the trace;
* **paired comparisons**: two policies on the same scenario and seed see the same arrivals, the
  same work and the same channel (common random numbers).

The scenarios cover the three uplink disciplines, both server disciplines, one and several
workers, each fading law and none, a downlink, bounded queues that drop requests, several cells
and servers, and the three kinds of split (all on the server, cut, all on the device).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from coinfer.emulator.api.run import TRACE_FILE, simulate
from coinfer.emulator.scenario.schema import scenario_from_dict
from coinfer.emulator.trace.columns import COLUMN_NAMES
from tests.decomposition import ENERGY_COMPONENTS, LATENCY_COMPONENTS, assert_parts_add_up

DOWNLINK_S = 8000 / 1e6  # result_bits / rate_bps of the scenarios with a downlink


def group(name, count, rate_per_s, work=None, **extra):
    """A device group of paper devices running BERT with Poisson arrivals."""
    return {
        "name": name,
        "count": count,
        "model": "bert-paper",
        "arrivals": {"process": "poisson", "rate_per_s": rate_per_s},
        "work": work or {"distribution": "exponential", "mean": 1.0},
        "deadline_s": 0.3,
        "energy_budget_j": 0.5,
        **extra,
    }


def merged_group(name, count, rate_per_s, work=None):
    """:func:`group` with its Poisson arrivals merged into one process (``merged: true``)."""
    arrivals = {"process": "poisson", "rate_per_s": rate_per_s, "merged": True}
    return group(name, count, rate_per_s, work, arrivals=arrivals)


SCENARIOS = {
    # Shared band, one FCFS worker, no fading: the plainest busy cell.
    "ps-fcfs": {
        "requests": 2000,
        "devices": [group("d", 10, 0.5)],
        "cells": [{"id": "c0", "sharing": "ps", "server": "s0"}],
        "servers": [{"id": "s0"}],
        "policy": {"name": "fixed", "params": {"split": 4}},
    },
    # Static shares, a PS server with 2 workers, Rayleigh fading, a downlink, a warm-up, a
    # duration instead of a request count, log-normal work.
    "fdma-ps2-rayleigh-downlink": {
        "duration_s": 150.0,
        "warmup_s": 20.0,
        "devices": [group("d", 8, 1.0, {"distribution": "lognormal", "sigma": 0.5})],
        "cells": [{"id": "c0", "sharing": "fdma"}],
        "servers": [{"id": "s0", "discipline": "ps", "workers": 2}],
        "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.001}},
        "downlink": {"result_bits": 8000, "rate_bps": 1e6},
        "policy": {"name": "fixed", "params": {"split": 3, "rho_device": 0.7}},
    },
    # One upload at a time, a FCFS server that holds at most one waiting request (drops),
    # Nakagami fading, a downlink, constant work.
    "fifo-fcfs-drops-nakagami": {
        "requests": 3000,
        "devices": [group("d", 30, 1.0, {"distribution": "constant"})],
        "cells": [{"id": "c0", "sharing": "fifo"}],
        "servers": [{"id": "s0", "queue_capacity": 1}],
        "channel": {"fading": {"law": "nakagami", "m": 2.0, "coherence_time_s": 0.0005}},
        "downlink": {"result_bits": 8000, "rate_bps": 1e6},
        "policy": {"name": "fixed", "params": {"split": 4}},
    },
    # A PS server holding at most 3 requests (drops), Rician fading seen through its mean
    # (csi: mean), uniform work, reduced clocks and power.
    "ps-ps-drops-rician": {
        "requests": 3000,
        "devices": [group("d", 30, 1.0, {"distribution": "uniform", "low": 0.5, "high": 1.5})],
        "cells": [{"id": "c0", "sharing": "ps"}],
        "servers": [{"id": "s0", "discipline": "ps", "queue_capacity": 3}],
        "channel": {
            "fading": {"law": "rician", "k_factor": 3.0, "coherence_time_s": 0.002},
            "csi": "mean",
        },
        "policy": {
            "name": "fixed",
            "params": {"split": 4, "tx_power_w": 0.2, "f_device_hz": 0.9e9, "f_server_hz": 3e9},
        },
    },
    # Everything on the server (split 0): the raw input is uploaded, the device computes nothing;
    # two cells on two FCFS servers with 3 workers each, devices dropped over an annulus.
    "two-cells-split0": {
        "requests": 2000,
        "devices": [
            group("a", 10, 2.0, cell="c0", distance_m={"min_m": 50.0, "max_m": 800.0}),
            group("b", 5, 4.0, cell="c1"),
        ],
        "cells": [
            {"id": "c0", "sharing": "ps", "server": "s0"},
            {"id": "c1", "sharing": "fifo", "server": "s1", "bandwidth_hz": 2e6},
        ],
        "servers": [{"id": "s0", "workers": 3}, {"id": "s1", "workers": 3}],
        "policy": {"name": "fixed", "params": {"split": 0}},
    },
    # Everything on the device (the fixed policy's default split): nothing is uploaded, the
    # server is never used, the device queues its own requests (0.68 s each at 1.3 /s).
    "on-device": {
        "requests": 1500,
        "devices": [group("d", 5, 1.3, {"distribution": "constant"})],
        "downlink": {"result_bits": 8000, "rate_bps": 1e6},
        "policy": {"name": "fixed", "params": {}},
    },
    # Devices driving fast through a 7-cell city on narrow FIFO bands (docs/mobility.md):
    # uploads are caught by handovers, withdrawn, paused and restarted at the new cell, whose
    # own server takes them.
    "mobile": {
        "requests": 1500,
        "devices": [
            group(
                "car",
                1,
                2.0,
                mobility={"model": "gauss-markov", "mean_speed_m_per_s": 30.0, "memory": 0.9},
            )
        ],
        "topology": {
            "generator": "hexagonal",
            "rings": 1,
            "isd_m": 300,
            "devices_per_cell": 2,
            "access_point": {"bandwidth_hz": 2e5, "sharing": "fifo"},
        },
        "channel": {"shadowing_std_db": 4.0, "fading": {"law": "rayleigh"}},
        "handover": {"interruption_s": 0.05, "in_flight": "restart"},
        "policy": {"name": "fixed", "params": {"split": 4}},
    },
    # Two groups whose Poisson arrivals are merged (one process per group picks the device),
    # beside a group with its own per-device processes, Rayleigh fading, log-normal work.
    "merged-arrivals": {
        "requests": 2000,
        "devices": [
            merged_group("m", 40, 0.05, {"distribution": "lognormal", "sigma": 0.5}),
            group("p", 4, 0.5),
            merged_group("n", 200, 0.01, {"distribution": "constant"}),
        ],
        "cells": [{"id": "c0", "sharing": "ps"}],
        "servers": [{"id": "s0", "workers": 2}],
        "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.01}},
        "policy": {"name": "fixed", "params": {"split": 4}},
    },
}


@pytest.fixture(scope="module", params=list(SCENARIOS))
def run(request):
    scenario = scenario_from_dict({"name": request.param, **SCENARIOS[request.param]})
    return request.param, simulate(scenario, seed=4)


def test_the_trace_has_every_column(run):
    _, result = run
    assert list(result.trace.columns) == list(COLUMN_NAMES)


def test_conservation_every_arrival_has_exactly_one_row(run):
    """As many rows as arrivals; request ids are 0..N−1 without gap or repeat; every status is
    terminal; the summary counts every measured row once."""
    name, result = run
    trace = result.trace
    n = result.stats.requests
    assert len(trace) == n > 0
    if result.scenario.requests is not None:
        assert n == result.scenario.requests
    np.testing.assert_array_equal(np.sort(trace["request_id"].to_numpy()), np.arange(n))
    statuses = set(trace["status"].astype(str))
    assert statuses <= {"completed", "dropped", "infeasible"}
    summary = result.summary
    measured = int((~trace["warmup"]).sum())
    assert summary.requests == measured
    assert summary.completed + summary.dropped + summary.infeasible == measured
    if "drops" in name:
        assert summary.dropped > 0, "the scenario should overflow its server queue"
    else:
        assert statuses == {"completed"}


def test_request_ids_follow_arrival_order(run):
    """Request ids are handed out on arrival: sorted by id, arrival times never decrease."""
    _, result = run
    arrivals = result.trace.sort_values("request_id")["t_arrival"].to_numpy()
    assert (np.diff(arrivals) >= 0).all()
    assert arrivals[0] >= 0.0


def test_causality_nothing_ends_before_it_starts(run):
    """``t_arrival ≤ t_done``, every latency and energy component is non-negative, the warm-up
    flag marks exactly the arrivals before ``warmup_s``; with a duration, no arrival after it."""
    _, result = run
    trace = result.trace
    assert (trace["t_arrival"] <= trace["t_done"]).all()
    for column in [*LATENCY_COMPONENTS, "latency_s", *ENERGY_COMPONENTS, "energy_total_j"]:
        assert (trace[column] >= 0.0).all(), column
    assert (trace["warmup"] == (trace["t_arrival"] < result.scenario.warmup_s)).all()
    if result.scenario.duration_s is not None:
        assert trace["t_arrival"].max() <= result.scenario.duration_s
    assert result.stats.sim_end_s == pytest.approx(trace["t_done"].max(), rel=1e-15)


def test_decomposition_latency_and_energy_add_up(run):
    """``latency_s`` = sum of the seven components = ``t_done − t_arrival``; device energy =
    compute + upload; total energy = compute + upload + server (relative 1e-9): every total of
    the trace's declaration is the sum of its parts."""
    _, result = run
    trace = result.trace
    assert len(LATENCY_COMPONENTS) == 8 and len(ENERGY_COMPONENTS) == 3
    assert_parts_add_up(trace)
    np.testing.assert_allclose(
        trace["latency_s"], trace["t_done"] - trace["t_arrival"], rtol=1e-9, atol=1e-12
    )


def test_each_stage_is_accounted_where_it_happened(run):
    """Stage by stage: the upload energy is the power times the time on air (never more than
    power × upload latency, equal to it unless a FIFO upload waited); a request that reaches the
    server and completes pays the downlink; a dropped request has no server stage; nothing is
    uploaded or served when the model runs entirely on the device; the deadline flag is
    "completed within the deadline"."""
    _, result = run
    trace = result.trace
    on_air_bound = trace["tx_power_w"] * trace["latency_uplink_s"]
    assert (trace["energy_uplink_j"] <= on_air_bound * (1 + 1e-9) + 1e-15).all()
    fifo_cells = [cell.id for cell in result.scenario.cells if cell.sharing == "fifo"]
    if result.scenario.topology is not None:
        fifo_cells = list(trace["cell_id"].unique())  # the mobile scenario's are all FIFO
    # a request caught by a handover pauses off the air (docs/mobility.md)
    never_waits = ~trace["cell_id"].isin(fifo_cells) & (trace["handovers"] == 0)
    np.testing.assert_allclose(
        trace.loc[never_waits, "energy_uplink_j"], on_air_bound[never_waits], rtol=1e-9, atol=1e-15
    )
    completed = trace["status"] == "completed"
    served = completed & (trace["latency_server_compute_s"] > 0)
    downlink = DOWNLINK_S if result.scenario.downlink is not None else 0.0
    np.testing.assert_allclose(trace.loc[served, "latency_downlink_s"], downlink, rtol=1e-12)
    dropped = trace["status"] == "dropped"
    for column in ("latency_server_queue_s", "latency_server_compute_s", "energy_server_j"):
        assert (trace.loc[dropped, column] == 0.0).all(), column
    assert (trace.loc[dropped, "latency_downlink_s"] == 0.0).all()
    if result.scenario.name == "on-device":
        for column in ("payload_bits", "latency_uplink_s", "energy_server_j", "energy_uplink_j"):
            assert (trace[column] == 0.0).all(), column
        assert (trace["latency_device_queue_s"] > 0).any()  # requests waited for their device
    else:
        assert (trace.loc[completed, "latency_server_compute_s"] > 0).all()
    met = completed & (trace["latency_s"] <= trace["deadline_s"])
    assert (trace["deadline_met"] == met).all()


def test_utilisations_are_fractions(run):
    """Every server's and every cell's utilisation (time-averaged fraction of workers busy, of
    the band on air) lies in [0, 1]: no resource is used more than once over."""
    _, result = run
    summary = result.summary
    for name, value in {**summary.server_utilisation, **summary.cell_utilisation}.items():
        assert 0.0 <= value <= 1.0 + 1e-12, (name, value)


def test_device_compute_is_first_come_first_served_per_device(run):
    """Each device computes its requests one at a time in arrival order: a request starts when
    it arrives or when the device's previous request finishes, whichever is later."""
    _, result = run
    trace = result.trace.sort_values("request_id")
    start = trace["t_arrival"] + trace["latency_device_queue_s"]
    finish = start + trace["latency_device_compute_s"]
    for _, rows in pd.DataFrame({"d": trace["device_id"], "s": start, "f": finish}).groupby(
        "d", observed=True
    ):
        s, f = rows["s"].to_numpy(), rows["f"].to_numpy()
        expected_start = np.maximum(
            trace.loc[rows.index, "t_arrival"].to_numpy(), np.r_[0.0, f[:-1]]
        )
        np.testing.assert_allclose(s, expected_start, rtol=0, atol=1e-9)


# ---- determinism and common random numbers --------------------------------------------------


def busy_scenario(split: int):
    """Ten devices with Poisson arrivals, exponential work and Rayleigh fading on a PS cell."""
    return scenario_from_dict(
        {
            "name": "busy",
            "requests": 1500,
            "devices": [group("d", 10, 1.0)],
            "cells": [{"id": "c0", "sharing": "ps"}],
            "servers": [{"id": "s0", "workers": 2}],
            "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.001}},
            "downlink": {"result_bits": 8000, "rate_bps": 1e6},
            "policy": {"name": "fixed", "params": {"split": split}},
        }
    )


def test_same_seed_gives_byte_identical_traces(tmp_path):
    """Two runs of the same scenario and seed write Parquet traces with identical bytes, and
    identical data frames."""
    first = simulate(busy_scenario(4), seed=21, out_dir=tmp_path / "a")
    second = simulate(busy_scenario(4), seed=21, out_dir=tmp_path / "b")
    assert (tmp_path / "a" / TRACE_FILE).read_bytes() == (tmp_path / "b" / TRACE_FILE).read_bytes()
    pd.testing.assert_frame_equal(first.trace, second.trace)


def test_different_seeds_give_different_runs():
    """Another seed draws other arrivals, work and fading."""
    first = simulate(busy_scenario(4), seed=21).trace.sort_values("request_id")
    second = simulate(busy_scenario(4), seed=22).trace.sort_values("request_id")
    for column in ("t_arrival", "work_scale", "gain", "latency_s"):
        assert not np.array_equal(first[column].to_numpy(), second[column].to_numpy()), column


def test_policies_compared_on_one_seed_see_the_same_randomness():
    """Common random numbers: split 4 and split 6 on the same scenario and seed see the same
    requests (device, arrival time, work scale) and the same channel (the gain each request saw
    on arrival), while what they measure differs."""
    split4 = simulate(busy_scenario(4), seed=21).trace.sort_values("request_id")
    split6 = simulate(busy_scenario(6), seed=21).trace.sort_values("request_id")
    for column in ("device_id", "t_arrival", "work_scale", "gain"):
        np.testing.assert_array_equal(split4[column].to_numpy(), split6[column].to_numpy())
    assert not np.array_equal(split4["latency_s"].to_numpy(), split6["latency_s"].to_numpy())


@pytest.mark.parametrize(
    ("work", "law"),
    [
        ({"distribution": "exponential", "mean": 2.0}, stats.expon(scale=2.0)),
        ({"distribution": "uniform", "low": 0.5, "high": 1.5}, stats.uniform(0.5, 1.0)),
        (
            {"distribution": "lognormal", "mean": 1.0, "sigma": 0.5},
            stats.lognorm(s=0.5, scale=math.exp(-0.125)),
        ),
    ],
    ids=["exponential", "uniform", "lognormal"],
)
def test_work_scales_follow_their_law(work, law):
    """The per-request work scales are draws of the configured law: Kolmogorov–Smirnov test and
    the mean within 3.3 standard errors (the log-normal is parametrised by its mean: ``μ = ln m −
    σ²/2``). Everything runs on the device, so the run is cheap."""
    scenario = scenario_from_dict(
        {
            "name": "work",
            "requests": 5000,
            "devices": [group("d", 50, 0.01, work)],
            "policy": {"name": "fixed", "params": {}},
        }
    )
    scales = simulate(scenario, seed=8).trace["work_scale"].to_numpy()
    assert stats.kstest(scales, law.cdf).pvalue > 0.001
    assert abs(scales.mean() - law.mean()) < 3.3 * law.std() / math.sqrt(len(scales))
