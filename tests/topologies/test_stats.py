"""Counts and spreads of a resolved topology."""

import pytest

from coinfer.topologies.build import resolve_topology
from coinfer.topologies.stats import stats_tables, topology_stats
from tests.topologies.helpers import scenario


def test_stats_of_a_hierarchy():
    topology = {
        "generator": "hierarchy",
        "cells": 4,
        "cells_per_server": 2,
        "devices_per_cell": 5,
        "cloud": "big",
        "backhaul": {"latency_s": 0.001},
    }
    stats = topology_stats(resolve_topology(scenario(topology), seed=1))
    assert stats["nodes"] == {"access_point": 4, "cloud": 1, "server": 2, "device": 20}
    assert stats["links"] == {"wired": 6, "wireless": 20}
    assert stats["devices_by_group"] == {"phone": 15, "cam": 5}
    assert stats["servers_by_hardware"] == {"l4 (cloud)": 1, "paper-server (edge)": 2}
    assert stats["devices_per_cell"]["mean"] == 5
    assert stats["own_server_latency_ms"]["max"] == pytest.approx(1.0)
    assert stats["degree"]["server"] == {"min": 3, "mean": 3, "p50": 3, "p95": 3, "max": 3}
    assert 10 <= stats["device_distance_m"]["min"] <= stats["device_distance_m"]["max"] <= 200
    text = stats_tables(stats)
    assert "devices by group" in text and "phone 15" in text and "cam 5" in text
    assert "spread" in text and "device gain db" in text
