"""Routing: shortest wired paths, the own server, and the run-time rules (own, least loaded, the
policy's choice), with the candidate servers policies see."""

import pytest

from coinfer.emulator.api.run import prepare, simulate
from coinfer.emulator.errors import InputError
from coinfer.policies.base import PolicyError
from coinfer.topologies.build import resolve_topology
from tests.topologies import routing_policies
from tests.topologies.helpers import file_scenario, line_nodes, write_graph

RADIO = ("ap", "d-0", {})


def two_server_graph(tmp_path, devices=1):
    """``devices`` devices 500 m east of ``ap``; ``edge`` (paper server) 1 ms away, ``far``
    (an L4) 10 ms away over 1 Gb/s links."""
    nodes = line_nodes()
    nodes.pop("d-0")
    nodes["far"] = {"kind": "server", "hardware": "l4"}
    edges = [
        ("ap", "edge", {"latency_s": 0.001, "bandwidth_bps": 1e9}),
        ("ap", "far", {"latency_s": 0.01, "bandwidth_bps": 1e9}),
    ]
    for k in range(devices):
        nodes[f"d-{k}"] = {"kind": "device", "x_m": 500.0, "y_m": 0.0}
        edges.append((f"d-{k}", "ap", {}))
    return write_graph(tmp_path / "two.json", nodes, edges)


def run(path, routing, policy="fixed", requests=40):
    scenario = file_scenario(
        path,
        requests=requests,
        topology={"routing": routing},
        policy={"name": policy, "params": {"split": 0}},
    )
    return simulate(scenario, seed=1).trace.sort_values("request_id")


# ---- static routing --------------------------------------------------------------------


def test_paths_are_shortest_by_latency_then_fewest_hops(tmp_path):
    nodes = {
        **line_nodes(),
        "s1": {"kind": "switch"},
        "s2": {"kind": "switch"},
        "cloud": {"kind": "cloud", "hardware": "h100"},
    }
    edges = [
        ("d-0", "ap", {}),
        ("ap", "s1", {"latency_s": 0.001}),
        ("s1", "edge", {"latency_s": 0.001}),
        ("ap", "edge", {"latency_s": 0.005}),  # direct but slower
        ("ap", "s2", {}),
        ("s2", "cloud", {}),
        ("ap", "cloud", {}),  # as fast as through s2, one hop
    ]
    path = write_graph(tmp_path / "t.json", nodes, edges)
    resolved = resolve_topology(file_scenario(path, topology={"routing": "least-loaded"}))
    routes = {r.server: r for r in resolved.routes["ap"]}
    assert routes["edge"].path == ("ap", "s1", "edge") and routes["edge"].latency_s == 0.002
    assert routes["cloud"].path == ("ap", "cloud") and routes["cloud"].latency_s == 0.0
    # the own server is the nearest *edge* server even when the cloud is nearer
    assert [r.server for r in resolved.routes["ap"]] == ["edge", "cloud"]


def test_an_access_point_may_name_its_own_server(tmp_path):
    nodes = line_nodes()
    nodes["far"] = {"kind": "server", "hardware": "l4"}
    nodes["ap"] = {**nodes["ap"], "server": "far"}
    edges = [("d-0", "ap", {}), ("ap", "edge", {}), ("ap", "far", {"latency_s": 0.01})]
    path = write_graph(tmp_path / "t.json", nodes, edges)
    deployment = resolve_topology(file_scenario(path)).deployment
    assert deployment.servers[deployment.cells[0].server].id == "far"


# ---- run-time rules ----------------------------------------------------------------------


def test_own_routing_keeps_every_request_on_the_cells_server(tmp_path):
    trace = run(two_server_graph(tmp_path, devices=2), "own")
    assert set(trace["server_id"].astype(str)) == {"edge"}
    assert trace["latency_backhaul_s"].min() >= 0.001


def test_least_loaded_counts_requests_on_their_way(tmp_path):
    """Two devices arrive together every second: the first request goes to the own server
    (a tie), the second to the other one, because the first is already on its way."""
    trace = run(two_server_graph(tmp_path, devices=2), "least-loaded")
    by_time = trace.groupby("t_arrival")["server_id"].apply(lambda s: sorted(s.astype(str)))
    assert all(servers == ["edge", "far"] for servers in by_time)


def test_the_policy_chooses_and_decides_for_its_choice(tmp_path):
    routing_policies.SEEN.clear()
    routing_policies.CHOSEN_FROM.clear()
    trace = run(
        two_server_graph(tmp_path), "policy", "tests.topologies.routing_policies:LastServer"
    )
    assert set(trace["server_id"].astype(str)) == {"far"}
    chosen_from, decided = routing_policies.CHOSEN_FROM[0], routing_policies.SEEN[0]
    # choose_server sees the own server first and described by the context ...
    assert [c.id for c in chosen_from.candidate_servers] == ["edge", "far"]
    assert chosen_from.server.name == "paper-server"
    # ... decide sees the chosen one first and described by the context
    assert [c.id for c in decided.candidate_servers] == ["far", "edge"]
    assert decided.server.name == "l4" and decided.server_workers == 1
    far, edge = decided.candidate_servers
    assert (far.backhaul_latency_s, edge.backhaul_latency_s) == (0.01, 0.001)
    assert far.backhaul_s_per_bit == 1e-9 and far.tier == "edge"
    assert far.backhaul_s(1e6) == pytest.approx(0.011)


def test_the_context_of_a_topology_lists_only_the_own_server_under_own_routing(tmp_path):
    routing_policies.SEEN.clear()
    run(two_server_graph(tmp_path), "own", "tests.topologies.routing_policies:Recorder", 3)
    assert [[c.id for c in ctx.candidate_servers] for ctx in routing_policies.SEEN] == [
        ["edge"]
    ] * 3


def test_a_choice_out_of_range_stops_the_run_naming_the_policy(tmp_path):
    with pytest.raises(PolicyError, match=r"policy 'out-of-range' returned server choice 99"):
        run(two_server_graph(tmp_path), "policy", "tests.topologies.routing_policies:OutOfRange")


def test_routing_by_a_policy_that_cannot_choose_is_refused_before_the_run(tmp_path):
    scenario = file_scenario(two_server_graph(tmp_path), topology={"routing": "policy"})
    with pytest.raises(InputError, match=r"topology.routing: got 'policy', but policy 'fixed'"):
        prepare(scenario)
