"""The backhaul: a request's wired path to its server, exactly as the closed forms say.

One device 500 m from an access point running BERT cut after block 4 (payload θ = 24,576 bits),
no fading; the server sits behind wired links. Each hop costs θ/B (shared equally by the
transfers on it) plus its latency; the result's way back costs the latency plus R/B per hop.
"""

import pandas as pd
import pytest

from coinfer.emulator.api.run import simulate
from tests.topologies.helpers import file_scenario, line_nodes, write_graph

THETA = 24_576.0  # bits uploaded at split 4
B = 1e6  # bit/s
LATENCY = 0.002  # s


def trace(tmp_path, nodes, edges, devices=1, **changes):
    nodes = dict(nodes)
    device = nodes.pop("d-0")
    radio = []
    for k in range(devices):
        nodes[f"d-{k}"] = device
        radio.append((f"d-{k}", "ap", {}))
    path = write_graph(tmp_path / "t.json", nodes, radio + edges)
    result = simulate(file_scenario(path, **changes), seed=1)
    return result, result.trace.sort_values("request_id").reset_index(drop=True)


def test_one_hop_costs_payload_over_bandwidth_plus_latency(tmp_path):
    wired = [("ap", "edge", {"bandwidth_bps": B, "latency_s": LATENCY})]
    ideal = [("ap", "edge", {})]
    result, slow = trace(tmp_path, line_nodes(), wired)
    _, fast = trace(tmp_path, line_nodes(), ideal)
    expected = THETA / B + LATENCY
    assert slow["latency_backhaul_s"].to_numpy() == pytest.approx(expected, rel=1e-12)
    assert (fast["latency_backhaul_s"] == 0.0).all()
    pd.testing.assert_series_equal(
        slow["latency_s"] - expected, fast["latency_s"], check_exact=False, rtol=1e-12
    )
    for column in ("latency_uplink_s", "latency_server_compute_s", "energy_total_j"):
        pd.testing.assert_series_equal(slow[column], fast[column])
    # the link was busy θ/B per request
    span = result.stats.sim_end_s
    assert result.summary.link_utilisation == {"ap->edge": pytest.approx(50 * THETA / B / span)}


def test_transfers_on_one_link_share_its_bandwidth(tmp_path):
    """Two devices at the same distance upload together (fdma: equal shares, equal finish),
    then cross the link together at B/2 each: 2θ/B + latency; then one waits for the server."""
    wired = [("ap", "edge", {"bandwidth_bps": B, "latency_s": LATENCY})]
    _, rows = trace(tmp_path, line_nodes(), wired, devices=2)
    assert rows["latency_backhaul_s"].to_numpy() == pytest.approx(2 * THETA / B + LATENCY)
    pairs = rows.groupby("t_arrival")["latency_server_queue_s"].apply(sorted)
    assert all(waits[0] == 0.0 and waits[1] > 0.0 for waits in pairs)


def test_ideal_hops_add_only_latency_and_shared_hops_store_and_forward(tmp_path):
    nodes = {**line_nodes(), "sw": {"kind": "switch"}}
    wired = [
        ("ap", "sw", {"latency_s": 0.001}),  # ideal bandwidth: latency only
        ("sw", "edge", {"bandwidth_bps": B, "latency_s": LATENCY}),
    ]
    _, rows = trace(tmp_path, nodes, wired)
    assert rows["latency_backhaul_s"].to_numpy() == pytest.approx(0.001 + THETA / B + LATENCY)
    two_shared = [
        ("ap", "sw", {"bandwidth_bps": 2 * B, "latency_s": 0.001}),
        ("sw", "edge", {"bandwidth_bps": B, "latency_s": LATENCY}),
    ]
    _, rows = trace(tmp_path, nodes, two_shared)
    expected = THETA / (2 * B) + 0.001 + THETA / B + LATENCY
    assert rows["latency_backhaul_s"].to_numpy() == pytest.approx(expected, rel=1e-12)


def test_the_result_returns_over_the_path_with_a_downlink(tmp_path):
    wired = [("ap", "edge", {"bandwidth_bps": B, "latency_s": LATENCY})]
    downlink = {"result_bits": 8000, "rate_bps": 1e6}
    _, rows = trace(tmp_path, line_nodes(), wired, downlink=downlink)
    back = LATENCY + 8000 / B
    assert rows["latency_backhaul_s"].to_numpy() == pytest.approx(THETA / B + LATENCY + back)
    assert rows["latency_downlink_s"].to_numpy() == pytest.approx(8000 / 1e6)


def test_a_dropped_request_pays_only_the_way_there(tmp_path):
    wired = [("ap", "edge", {"bandwidth_bps": B, "latency_s": LATENCY})]
    nodes = line_nodes(queue_capacity=0)
    downlink = {"result_bits": 8000, "rate_bps": 1e6}
    _, rows = trace(tmp_path, nodes, wired, devices=3, downlink=downlink, requests=48)
    dropped = rows[rows["status"] == "dropped"]
    assert len(dropped) > 0
    assert dropped["latency_backhaul_s"].to_numpy() == pytest.approx(3 * THETA / B + LATENCY)
    assert (dropped[["latency_server_queue_s", "latency_downlink_s"]] == 0.0).all().all()
