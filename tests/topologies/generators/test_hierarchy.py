"""The device-edge-cloud generator: cells share edge servers, edge servers share a cloud."""

import pytest

from coinfer.emulator.errors import InputError
from coinfer.topologies.build import resolve_topology
from tests.topologies.helpers import scenario

TOPOLOGY = {
    "generator": "hierarchy",
    "cells": 5,
    "cells_per_server": 2,
    "devices_per_cell": 4,
    "cloud": "big",
    "backhaul": {"bandwidth_bps": 1e10, "latency_s": 0.001},
    "wan": {"bandwidth_bps": 1e9, "latency_s": 0.02},
}


def test_cells_share_edge_servers_and_the_edge_reaches_the_cloud():
    resolved = resolve_topology(scenario(TOPOLOGY), seed=1)
    deployment = resolved.deployment
    tiers = [(s.id, s.tier, s.hardware.name) for s in deployment.servers]
    assert tiers == [
        ("cloud", "cloud", "l4"),
        ("edge-0", "edge", "paper-server"),
        ("edge-1", "edge", "paper-server"),
        ("edge-2", "edge", "paper-server"),
    ]
    own = [deployment.servers[c.server].id for c in deployment.cells]
    assert own == ["edge-0", "edge-0", "edge-1", "edge-1", "edge-2"]  # ceil(5 / 2) = 3 edges
    wan = [(u, v) for (u, v) in resolved.topology.wired if "cloud" in (u, v)]
    assert len(wan) == 3 and len(deployment.devices) == 20
    route = resolved.routes["ap-0"][0]
    assert route.path == ("ap-0", "edge-0") and route.latency_s == 0.001


def test_with_dynamic_routing_the_cloud_is_a_candidate_over_the_wan():
    resolved = resolve_topology(scenario({**TOPOLOGY, "routing": "least-loaded"}), seed=1)
    routes = {r.server: r for r in resolved.routes["ap-0"]}
    assert next(iter(routes)) == "edge-0"
    cloud = routes["cloud"]
    assert cloud.path == ("ap-0", "edge-0", "cloud")
    assert cloud.latency_s == pytest.approx(0.021)
    assert cloud.s_per_bit == pytest.approx(1 / 1e10 + 1 / 1e9)


def test_the_cloud_class_must_be_a_server_class():
    with pytest.raises(InputError, match=r"topology.cloud: got server class 'gpu'"):
        scenario({**TOPOLOGY, "cloud": "gpu"})
