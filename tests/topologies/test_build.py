"""From a topology to the engine's deployment: groups, hardware per node, cells and routes."""

from coinfer.topologies.build import resolve_topology
from tests.topologies.helpers import file_scenario, scenario, write_graph


def test_a_device_node_may_override_its_groups_hardware(tmp_path):
    nodes = {
        "a": {"kind": "device", "x_m": 100.0, "y_m": 0.0},
        "b": {"kind": "device", "x_m": 0.0, "y_m": 80.0, "hardware": "jetson-orin-nano"},
        "ap": {"kind": "access_point", "x_m": 0.0, "y_m": 0.0, "bandwidth_hz": 1e7},
        "gpu": {"kind": "server", "hardware": "l4", "workers": 3, "discipline": "ps"},
    }
    edges = [("a", "ap", {}), ("b", "ap", {}), ("ap", "gpu", {"latency_s": 0.001})]
    path = write_graph(tmp_path / "t.json", nodes, edges)
    deployment = resolve_topology(file_scenario(path)).deployment
    a, b = deployment.devices
    assert (a.id, a.group, a.hardware.name, a.distance_m) == ("a", "d", "paper-device", 100.0)
    assert (b.hardware.name, b.distance_m, b.index) == ("jetson-orin-nano", 80.0, 1)
    (cell,) = deployment.cells
    assert (cell.id, cell.bandwidth_hz, cell.num_devices, cell.sharing) == ("ap", 1e7, 2, "ps")
    (server,) = deployment.servers
    assert (server.id, server.workers, server.discipline, server.tier) == ("gpu", 3, "ps", "edge")
    (link,) = deployment.links
    assert (link.id, link.latency_s, link.bandwidth_bps) == ("ap->gpu", 0.001, float("inf"))
    assert cell.routes[0].links == (0,) and deployment.routing == "own"


def test_cells_are_access_points_and_their_noise_comes_from_the_template():
    topology = {"generator": "disc", "devices": 3, "access_point": {"noise_figure_db": 7}}
    (cell,) = resolve_topology(scenario(topology)).deployment.cells
    assert cell.noise_psd_w_per_hz == 10 ** ((-174 + 7 - 30) / 10)
    assert cell.num_devices == 3


def test_the_deployment_is_a_pure_function_of_scenario_and_seed():
    data = scenario(
        {"generator": "random-geometric", "devices": 30}, channel={"shadowing_std_db": 6}
    )
    first = resolve_topology(data, seed=3).deployment
    again = resolve_topology(data, seed=3).deployment
    other = resolve_topology(data, seed=4).deployment
    assert first.devices == again.devices and first.cells == again.cells
    assert [d.mean_gain for d in first.devices] != [d.mean_gain for d in other.devices]
