"""Drawing: every generator's deployment draws; nodes without a position are laid out."""

import pytest

from coinfer.topologies.build import resolve_topology
from coinfer.topologies.draw import draw_topology, positions
from tests.topologies.helpers import file_scenario, line_nodes, scenario, write_graph


@pytest.mark.parametrize(
    "topology",
    [
        {"generator": "paper"},
        {"generator": "hexagonal", "rings": 1, "devices_per_cell": 2, "radio_range_m": 600},
        {"generator": "hierarchy", "cloud": "big", "devices_per_cell": 2},
    ],
    ids=["paper", "hexagonal", "hierarchy"],
)
def test_draws_an_image(tmp_path, topology):
    path = draw_topology(resolve_topology(scenario(topology)), tmp_path / "t.svg")
    text = path.read_text()
    assert text.startswith("<?xml") and "ap-0" in text


def test_unplaced_nodes_get_a_layout_around_the_placed_ones(tmp_path):
    nodes = {**line_nodes(), "sw": {"kind": "switch"}}
    edges = [("d-0", "ap", {}), ("ap", "sw", {}), ("sw", "edge", {})]
    resolved = resolve_topology(file_scenario(write_graph(tmp_path / "t.json", nodes, edges)))
    xy = positions(resolved)
    assert xy["d-0"] == (500.0, 0.0) and xy["ap"] == (0.0, 0.0)
    assert set(xy) == {"d-0", "ap", "sw", "edge"}
    draw_topology(resolved, tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 1000
