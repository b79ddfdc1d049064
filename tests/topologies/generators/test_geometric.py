"""The random geometric generator: APs, servers and devices uniform in a square."""

import math

import numpy as np

from coinfer.topologies.build import resolve_topology
from tests.topologies.helpers import scenario

TOPOLOGY = {
    "generator": "random-geometric",
    "area_m": 1000,
    "access_points": 6,
    "servers": 3,
    "devices": 60,
    "radio_range_m": 250,
    "wired_range_m": 400,
    "backhaul": {"bandwidth_bps": 1e9, "latency_s": 0.0001},
}


def test_counts_and_every_device_reaches_a_server():
    resolved = resolve_topology(scenario(TOPOLOGY), seed=9)
    deployment = resolved.deployment
    assert (len(deployment.devices), len(deployment.cells), len(deployment.servers)) == (60, 6, 3)
    xy = np.array([s.position for s in resolved.topology.devices.values()])
    assert xy.min() >= 0 and xy.max() <= 1000
    for device in deployment.devices:
        assert device.distance_m >= 10.0  # min_distance_m
        assert deployment.cells[device.cell].routes


def test_wired_links_follow_the_ranges_and_carry_propagation_latency():
    resolved = resolve_topology(scenario(TOPOLOGY), seed=9)
    topology = resolved.topology
    position = {n: s.position for n, s in {**topology.access_points, **topology.servers}.items()}
    for ap, spec in topology.access_points.items():
        to_servers = {s: math.dist(spec.position, position[s]) for s in topology.servers}
        wired = {v for (u, v) in topology.wired if u == ap} | {
            u for (u, v) in topology.wired if v == ap
        }
        nearest = min(to_servers, key=to_servers.get)
        assert wired == {nearest} | {s for s, d in to_servers.items() if d <= 400}
    for (u, v), link in topology.wired.items():
        expected = 0.0001 + math.dist(position[u], position[v]) / 2e8
        assert math.isclose(link.latency_s, expected, rel_tol=1e-12)
        assert link.bandwidth_bps == 1e9


def test_radio_links_reach_the_nearest_ap_and_those_in_range():
    resolved = resolve_topology(scenario(TOPOLOGY), seed=9)
    topology = resolved.topology
    for device, spec in topology.devices.items():
        lengths = {
            ap: math.dist(spec.position, a.position) for ap, a in topology.access_points.items()
        }
        nearest = min(lengths, key=lengths.get)
        expected = {nearest} | {ap for ap, d in lengths.items() if d <= 250}
        assert set(topology.radio[device]) == expected
        assert resolved.association[device] == nearest
