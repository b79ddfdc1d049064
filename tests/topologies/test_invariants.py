"""The engine's invariants hold on every generated topology (and on a file): conservation,
causality, decomposition of latency (backhaul included) and energy, determinism."""

import numpy as np
import pytest

from coinfer.emulator.api.run import TRACE_FILE, simulate
from coinfer.emulator.trace.columns import COLUMN_NAMES
from tests.decomposition import ENERGY_COMPONENTS, LATENCY_COMPONENTS, assert_parts_add_up
from tests.topologies.helpers import scenario

WIRED = {"bandwidth_bps": 2e6, "latency_s": 0.002}  # slow enough to be shared

TOPOLOGIES = {
    "paper": {"generator": "paper", "backhaul": WIRED},
    "disc-fdma": {
        "generator": "disc",
        "devices": 12,
        "backhaul": WIRED,
        "access_point": {"sharing": "fdma", "bandwidth_hz": 10e6},
    },
    "hexagonal-least-loaded": {
        "generator": "hexagonal",
        "rings": 1,
        "devices_per_cell": 3,
        "radio_range_m": 600,
        "association": "strongest",
        "routing": "least-loaded",
        "backhaul": WIRED,
        "inter_site": {"bandwidth_bps": 1e6, "latency_s": 0.001},
    },
    "random-geometric-fifo": {
        "generator": "random-geometric",
        "devices": 20,
        "access_points": 3,
        "servers": 2,
        "backhaul": WIRED,
        "access_point": {"sharing": "fifo"},
        "routing": "least-loaded",
    },
    "hierarchy-policy": {
        "generator": "hierarchy",
        "cells": 4,
        "cells_per_server": 2,
        "devices_per_cell": 4,
        "cloud": "big",
        "server_mix": {"small": 1},
        "routing": "policy",
        "wan": {"bandwidth_bps": 1e6, "latency_s": 0.02},
    },
}
CHANGES = {
    "hierarchy-policy": {
        "policy": {"name": "tests.topologies.routing_policies:CloudFirst", "params": {"split": 4}}
    },
    "random-geometric-fifo": {"servers": [{"id": "tiny", "queue_capacity": 0}]},
}


def topology_scenario(name):
    return scenario(
        TOPOLOGIES[name],
        name=name,
        channel={"shadowing_std_db": 4, "fading": {"law": "rayleigh", "coherence_time_s": 0.01}},
        downlink={"result_bits": 8000, "rate_bps": 1e6},
        **CHANGES.get(name, {}),
    )


@pytest.fixture(scope="module", params=list(TOPOLOGIES))
def run(request):
    return request.param, simulate(topology_scenario(request.param), seed=4)


def test_conservation_one_terminal_row_per_arrival(run):
    name, result = run
    trace = result.trace
    assert list(trace.columns) == list(COLUMN_NAMES)
    assert len(trace) == result.stats.requests == 400
    np.testing.assert_array_equal(np.sort(trace["request_id"].to_numpy()), np.arange(400))
    assert set(trace["status"].astype(str)) <= {"completed", "dropped", "infeasible"}
    if name == "random-geometric-fifo":
        assert (trace["status"] == "dropped").any()  # queue_capacity 0 drops


def test_causality_and_non_negative_stages(run):
    _, result = run
    trace = result.trace
    assert (trace["t_arrival"] <= trace["t_done"]).all()
    for column in [*LATENCY_COMPONENTS, *ENERGY_COMPONENTS]:
        assert (trace[column] >= 0.0).all(), column


def test_decomposition_includes_the_backhaul(run):
    name, result = run
    trace = result.trace
    assert "latency_backhaul_s" in LATENCY_COMPONENTS
    assert_parts_add_up(trace)
    np.testing.assert_allclose(
        trace["latency_s"], trace["t_done"] - trace["t_arrival"], rtol=1e-9, atol=1e-12
    )
    served = trace["status"] == "completed"
    # every completed request crossed at least one 2 ms link there and back
    minimum = 0.002 if name != "hierarchy-policy" else 0.0005
    assert (trace.loc[served, "latency_backhaul_s"] >= 2 * minimum).all()
    links = result.summary.link_utilisation
    assert all(0.0 <= value <= 1.0 + 1e-12 for value in links.values())
    assert sum(links.values()) > 0.0


def test_requests_go_where_the_routing_sends_them(run):
    name, result = run
    trace = result.trace
    if name == "hierarchy-policy":  # the policy sends everything to the cloud
        assert set(trace["server_id"].astype(str)) == {"cloud"}
    elif result.scenario.topology.routing == "least-loaded":
        assert trace["server_id"].nunique() > 1
    else:  # own: one server per cell
        assert (trace.groupby("cell_id", observed=True)["server_id"].nunique() == 1).all()


@pytest.mark.parametrize("name", list(TOPOLOGIES))
def test_same_seed_same_bytes(tmp_path, name):
    first = simulate(topology_scenario(name), seed=9, out_dir=tmp_path / "a")
    second = simulate(topology_scenario(name), seed=9, out_dir=tmp_path / "b")
    assert (tmp_path / "a" / TRACE_FILE).read_bytes() == (tmp_path / "b" / TRACE_FILE).read_bytes()
    assert first.stats == second.stats
