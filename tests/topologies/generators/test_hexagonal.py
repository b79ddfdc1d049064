"""The hexagonal generator: R rings of cells an inter-site distance apart, a server per site."""

from collections import Counter

import numpy as np
import pytest

from coinfer.topologies.build import resolve_topology
from tests.topologies.helpers import scenario


@pytest.mark.parametrize("rings", [0, 1, 2])
def test_sites_cells_and_devices(rings):
    topology = {"generator": "hexagonal", "rings": rings, "isd_m": 400, "devices_per_cell": 5}
    resolved = resolve_topology(scenario(topology), seed=3)
    cells = 1 + 3 * rings * (rings + 1)
    deployment = resolved.deployment
    assert len(deployment.cells) == cells and len(deployment.servers) == cells
    assert len(deployment.devices) == 5 * cells
    # nearest association puts every device in the hexagon it was dropped in
    assert Counter(d.cell for d in deployment.devices) == {i: 5 for i in range(cells)}
    for cell in deployment.cells:  # each site's own server is its own, one hop away
        assert deployment.servers[cell.server].id == cell.id.replace("ap", "edge")
        assert len(cell.routes) == 1


def test_inter_site_links_join_neighbouring_servers():
    topology = {
        "generator": "hexagonal",
        "rings": 1,
        "devices_per_cell": 2,
        "inter_site": {"bandwidth_bps": 1e9, "latency_s": 0.001},
        "routing": "least-loaded",
    }
    resolved = resolve_topology(scenario(topology), seed=3)
    between = [
        (u, v)
        for (u, v) in resolved.topology.wired
        if u.startswith("edge") and v.startswith("edge")
    ]
    assert len(between) == 12  # 6 spokes from the centre + 6 around the ring
    for cell in resolved.deployment.cells:  # every server is reachable, own first
        assert len(cell.routes) == 7 and cell.routes[0].server == cell.server
        latencies = [r.latency_s for r in cell.routes[1:]]
        assert latencies == sorted(latencies)


def test_radio_range_adds_links_and_strongest_gain_can_pick_a_neighbour():
    topology = {
        "generator": "hexagonal",
        "rings": 1,
        "devices_per_cell": 30,
        "radio_range_m": 600,
        "association": "strongest",
    }
    data = scenario(topology, channel={"shadowing_std_db": 8})
    resolved = resolve_topology(data, seed=5)
    links = [len(aps) for aps in resolved.topology.radio.values()]
    assert min(links) >= 1 and max(links) > 1
    best = {
        d: max(aps, key=lambda ap, d=d: resolved.gains[(d, ap)])
        for d, aps in resolved.topology.radio.items()
    }
    assert resolved.association == best
    nearest = {
        d: min(aps, key=lambda ap, d=d: resolved.distances_m[(d, ap)])
        for d, aps in resolved.topology.radio.items()
    }
    assert sum(best[d] != nearest[d] for d in best) > 0  # shadowing moves some devices


def test_server_classes_are_mixed_by_proportion():
    topology = {"generator": "hexagonal", "rings": 1, "server_mix": {"small": 5, "big": 2}}
    servers = resolve_topology(scenario(topology), seed=1).deployment.servers
    assert Counter(s.hardware.name for s in servers) == {"paper-server": 5, "l4": 2}
    big = [s for s in servers if s.hardware.name == "l4"]
    assert all(s.workers == 2 and s.discipline == "ps" for s in big)
    default = resolve_topology(scenario({"generator": "hexagonal", "rings": 1}), seed=1)
    assert Counter(s.hardware.name for s in default.deployment.servers) == {
        "paper-server": 4,
        "l4": 3,
    }


def test_sites_are_an_isd_apart():
    resolved = resolve_topology(scenario({"generator": "hexagonal", "isd_m": 300}), seed=1)
    xy = np.array([spec.position for spec in resolved.topology.access_points.values()])
    apart = np.hypot(*(xy[1:] - xy[0]).T)
    np.testing.assert_allclose(apart, 300.0)
