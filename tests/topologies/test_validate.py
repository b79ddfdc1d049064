"""A topology that does not hold together is refused before the run, naming the node or edge."""

import pytest

from coinfer.emulator.api.run import prepare
from coinfer.emulator.errors import InputError
from tests.topologies.helpers import file_scenario, line_nodes, write_graph

RADIO = ("d-0", "ap", {})
WIRE = ("ap", "edge", {"bandwidth_bps": 1e9, "latency_s": 0.001})


def refused(tmp_path, nodes, edges, message, **changes):
    path = write_graph(tmp_path / "t.json", nodes, edges)
    with pytest.raises(InputError, match=message):
        prepare(file_scenario(path, **changes))


def test_a_well_formed_line_is_accepted(tmp_path):
    path = write_graph(tmp_path / "t.json", line_nodes(), [RADIO, WIRE])
    deployment, _ = prepare(file_scenario(path))
    assert [d.id for d in deployment.devices] == ["d-0"]
    assert deployment.devices[0].hardware.name == "paper-device"  # the group's default


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"edge": {"hardware": "paper-server", "kind": None}}, r"node 'edge': kind: missing"),
        ({"edge": {"kind": "router"}}, r"node 'edge': kind: got 'router', expected one of dev"),
        (
            {"edge": {"kind": "server", "hardware": "l4", "workers": "two"}},
            r"node 'edge' \(server\): workers: got 'two', expected",
        ),
        ({"edge": {"kind": "server"}}, r"node 'edge' \(server\): hardware: missing"),
        (
            {"edge": {"kind": "server", "hardwre": "l4", "hardware": "l4"}},
            r"node 'edge' \(server\): hardwre: unknown field 'hardwre' \(got 'l4'\)",
        ),
        (
            {"ap": {"kind": "access_point", "x_m": "here", "y_m": 0.0}},
            r"node 'ap' \(access_point\): x_m: got 'here'",
        ),
        (
            {"d-0": {"kind": "device", "x_m": 1.0, "y_m": 0.0, "hardware": "pixel"}},
            r"node 'd-0': hardware: unknown device class 'pixel'; expected one of: ",
        ),
        (
            {"edge": {"kind": "server", "hardware": "paper-device"}},
            r"node 'edge': hardware: hardware class 'paper-device' is a device, expected a server",
        ),
        (
            {"d-0": {"kind": "device", "x_m": 1.0, "y_m": 0.0, "group": "cars"}},
            r"node 'd-0' \(device\): group: got 'cars', expected one of the scenario's device "
            r"groups \['d'\]",
        ),
        (
            {"ap": {"kind": "access_point", "x_m": 0, "y_m": 0, "server": "gpu"}},
            r"access point 'ap': server: got 'gpu', expected one of \['edge'\]",
        ),
    ],
    ids=[
        "no-kind",
        "unknown-kind",
        "wrong-type",
        "missing-hardware",
        "unknown-attribute",
        "wrong-type-position",
        "unknown-hardware",
        "hardware-of-the-other-kind",
        "unknown-group",
        "unknown-own-server",
    ],
)
def test_bad_nodes_are_refused_naming_the_node(tmp_path, change, message):
    nodes = line_nodes()
    for node, attrs in change.items():
        nodes[node] = {k: v for k, v in attrs.items() if v is not None}
    refused(tmp_path, nodes, [RADIO, WIRE], message)


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        ([WIRE], r"device 'd-0' is unreachable: it has no wireless link to an access point"),
        ([RADIO], r"access point 'ap' reaches no server"),
        (
            [RADIO, ("ap", "edge", {"kind": "wireless"})],
            r"edge 'ap'-'edge': a wireless link joins a device and an access point; got "
            r"access_point and server",
        ),
        (
            [RADIO, WIRE, ("d-0", "edge", {"kind": "wired"})],
            r"edge 'd-0'-'edge': a device has only wireless links",
        ),
        (
            [RADIO, ("ap", "edge", {"latency_s": "fast"})],
            r"edge 'ap'-'edge' \(wired\): latency_s: got 'fast'",
        ),
        (
            [RADIO, ("ap", "edge", {"kind": "fibre"})],
            r"edge 'ap'-'edge': kind: got 'fibre', expected wireless or wired",
        ),
        ([RADIO, WIRE, ("ap", "ap", {})], r"edge 'ap'-'ap': a link must join two different"),
        (
            [("d-0", "ap", {"distance_m": -3}), WIRE],
            r"edge 'd-0'-'ap' \(wireless\): distance_m: got -3",
        ),
    ],
    ids=[
        "no-radio",
        "no-server",
        "wireless-between-infrastructure",
        "wired-device",
        "wrong-type",
        "unknown-edge-kind",
        "self-loop",
        "negative-distance",
    ],
)
def test_bad_edges_are_refused_naming_the_edge(tmp_path, edges, message):
    refused(tmp_path, line_nodes(), edges, message)


def test_a_radio_link_needs_a_length(tmp_path):
    nodes = line_nodes()
    nodes["d-0"] = {"kind": "device"}
    refused(tmp_path, nodes, [RADIO, WIRE], r"edge 'd-0'-'ap': distance_m: missing")
    nodes["d-0"] = {"kind": "device", "x_m": 0.0, "y_m": 0.0}
    refused(tmp_path, nodes, [RADIO, WIRE], r"edge 'd-0'-'ap': the device sits on the access")


def test_an_own_server_out_of_reach_is_refused(tmp_path):
    nodes = {**line_nodes(), "far": {"kind": "server", "hardware": "l4"}}
    nodes["ap"] = {**nodes["ap"], "server": "far"}
    refused(tmp_path, nodes, [RADIO, WIRE], r"access point 'ap': server 'far' is not reachable")


def test_a_device_without_position_may_give_its_distance_or_gain(tmp_path):
    nodes = line_nodes()
    nodes["d-0"] = {"kind": "device"}
    for link in ({"distance_m": 250.0}, {"gain_db": -100.0}):
        path = write_graph(tmp_path / "t.json", nodes, [("d-0", "ap", link), WIRE])
        (device,) = prepare(file_scenario(path))[0].devices
        if "gain_db" in link:
            assert device.mean_gain == pytest.approx(1e-10)
        else:
            assert device.distance_m == 250.0


def test_a_bad_class_in_a_generated_graph_names_the_node_and_the_class():
    from tests.topologies.helpers import scenario

    servers = [{"id": "gpu", "hardware": "l5"}]
    with pytest.raises(InputError, match=r"node 'edge-0' \(server class 'gpu'\): hardware: unk"):
        prepare(scenario({"generator": "paper"}, servers=servers))
    groups = [
        {"name": "car", "hardware": "tesla", "arrivals": {"process": "poisson", "rate_per_s": 1}}
    ]
    with pytest.raises(InputError, match=r"node 'car-0' \(device group 'car'\): hardware: unk"):
        prepare(scenario({"generator": "paper"}, devices=groups))
