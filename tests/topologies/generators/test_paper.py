"""The paper generator: one device, one access point, one server; the paper's numbers exactly."""

import pandas as pd
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.model.reference import log_distance_gain
from coinfer.emulator.scenario.schema import load_scenario_data, scenario_from_dict
from coinfer.topologies.build import resolve_topology
from tests.topologies.helpers import scenario


def test_one_device_at_the_distance_one_ap_one_server():
    resolved = resolve_topology(scenario({"generator": "paper", "distance_m": 300}), seed=1)
    graph = resolved.graph
    kinds = sorted(data["kind"] for _, data in graph.nodes(data=True))
    assert kinds == ["access_point", "device", "server"]
    (device,) = resolved.deployment.devices
    assert device.distance_m == 300.0 and device.mean_gain == log_distance_gain(300.0)
    assert resolved.deployment.cells[0].routes[0].links == (0,)
    assert resolved.deployment.links[0].latency_s == 0.0  # the paper's ideal backhaul


def test_the_paper_generator_gives_exactly_the_classic_paper_trace():
    """The paper scenario written with ``topology: {generator: paper}`` instead of one cell and
    one server gives the same trace, value for value (only the node names differ), and no
    backhaul."""
    data = load_scenario_data("examples/scenarios/paper-single.yaml")
    classic = simulate(scenario_from_dict(data), seed=1).trace
    data.pop("cells")
    data["devices"][0].pop("distance_m")
    data["servers"] = [{"id": "edge", "hardware": "paper-server"}]
    data["topology"] = {
        "generator": "paper",
        "distance_m": 500,
        "access_point": {"bandwidth_hz": 5e6, "noise_psd_w_per_hz": 2e-19, "sharing": "fdma"},
    }
    topo = simulate(scenario_from_dict(data), seed=1).trace
    same = [c for c in classic.columns if c not in ("device_id", "cell_id", "server_id")]
    pd.testing.assert_frame_equal(classic[same], topo[same])
    assert (topo["latency_backhaul_s"] == 0.0).all()
    assert set(topo["server_id"].astype(str)) == {"edge-0"}


@pytest.fixture(autouse=True)
def repository_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)
