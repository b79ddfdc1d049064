"""GraphML and node-link JSON: every generator's graph round-trips; broken files are refused."""

import json

import networkx as nx
import pytest

from coinfer.emulator.errors import InputError
from coinfer.topologies.build import resolve_topology, topology_graph
from coinfer.topologies.io import load_topology, save_topology
from tests.topologies.helpers import file_scenario, line_nodes, scenario, write_graph

GENERATED = {
    "paper": {"generator": "paper"},
    "disc": {"generator": "disc", "devices": 12},
    "hexagonal": {
        "generator": "hexagonal",
        "rings": 1,
        "devices_per_cell": 3,
        "inter_site": {"bandwidth_bps": 1e9, "latency_s": 0.001},
        "radio_range_m": 600,
    },
    "random-geometric": {"generator": "random-geometric", "devices": 15},
    "hierarchy": {"generator": "hierarchy", "cloud": "big", "devices_per_cell": 2},
}


def same_graph(a: nx.Graph, b: nx.Graph) -> None:
    assert list(a.nodes) == list(b.nodes)
    for node in a.nodes:
        assert a.nodes[node] == b.nodes[node], node
    assert {frozenset(e) for e in a.edges} == {frozenset(e) for e in b.edges}
    for u, v in a.edges:
        assert a.edges[u, v] == b.edges[u, v], (u, v)


@pytest.mark.parametrize("suffix", [".graphml", ".json"])
@pytest.mark.parametrize("name", list(GENERATED))
def test_every_generated_graph_round_trips_and_runs_the_same(tmp_path, name, suffix):
    """Saved and loaded back, the graph has the same nodes, edges and attributes (types
    included), and a scenario reading the file resolves to the same deployment."""
    generated = scenario(GENERATED[name])
    graph = topology_graph(generated, seed=3)
    path = save_topology(graph, tmp_path / f"topo{suffix}")
    loaded = load_topology(path)
    same_graph(graph, loaded)
    for node in graph.nodes:
        for key, value in graph.nodes[node].items():
            assert type(loaded.nodes[node][key]) is type(value), (node, key)
    routing = GENERATED[name].get("routing", "own")
    from_file = scenario({"file": str(path), "routing": routing}, servers=None)
    a = resolve_topology(generated, seed=3).deployment
    b = resolve_topology(from_file, seed=3).deployment
    assert a.devices == b.devices and a.cells == b.cells and a.links == b.links
    assert [s.id for s in a.servers] == [s.id for s in b.servers]


def test_a_json_file_with_links_instead_of_edges_loads(tmp_path):
    path = write_graph(tmp_path / "t.json", line_nodes(), [("d-0", "ap", {}), ("ap", "edge", {})])
    data = json.loads(path.read_text())
    data["links"] = data.pop("edges")
    path.write_text(json.dumps(data))
    assert set(load_topology(path).edges) == {("d-0", "ap"), ("ap", "edge")}


def graphml(nodes: str, edges: str) -> str:
    return (
        '<?xml version="1.0"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
        '<key id="k" for="node" attr.name="kind" attr.type="string"/>'
        f'<graph edgedefault="undirected">{nodes}{edges}</graph></graphml>'
    )


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "dup.graphml",
            graphml('<node id="a"/><node id="a"/>', ""),
            r"duplicate node id 'a'",
        ),
        (
            "dupedge.graphml",
            graphml('<node id="a"/><node id="b"/>', '<edge source="a" target="b"/>' * 2),
            r"duplicate edge 'a'-'b'",
        ),
        (
            "dup.json",
            json.dumps({"nodes": [{"id": "x"}, {"id": "x"}], "edges": []}),
            r"duplicate node id 'x'",
        ),
        (
            "dupedge.json",
            json.dumps(
                {
                    "nodes": [{"id": "x"}, {"id": "y"}],
                    "edges": [{"source": "x", "target": "y"}, {"source": "y", "target": "x"}],
                }
            ),
            r"duplicate edge 'x'-'y'",
        ),
        ("bad.graphml", "<graphml><node", r"not valid GraphML"),
        ("bad.json", "{nodes: ", r"not valid JSON"),
        ("list.json", "[]", r"expected node-link JSON"),
        ("noid.json", json.dumps({"nodes": [{"kind": "device"}]}), r"nodes\[0\] has no 'id'"),
        ("topo.gml", "", r"got suffix '.gml', expected one of .graphml, .json"),
    ],
)
def test_broken_files_are_refused_naming_the_problem(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_topology(path)


def test_a_missing_file_is_refused_before_the_run(tmp_path):
    with pytest.raises(InputError, match=r"topology file: .*nowhere.json.* does not exist"):
        resolve_topology(file_scenario(tmp_path / "nowhere.json"))


def test_infinite_values_cannot_be_saved(tmp_path):
    graph = nx.Graph()
    graph.add_node("a", kind="switch", x_m=float("inf"))
    with pytest.raises(InputError, match=r"node 'a': x_m=inf cannot be saved"):
        save_topology(graph, tmp_path / "t.graphml")
