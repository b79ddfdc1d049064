"""Association: nearest access point, or strongest mean gain."""

import pytest

from coinfer.topologies.build import resolve_topology
from tests.topologies.helpers import file_scenario, write_graph


def graph(tmp_path, shadowing_near_db):
    """``d-0`` 100 m from ``near`` and 200 m from ``far``; ``near``'s link shadowed."""
    nodes = {
        "d-0": {"kind": "device", "x_m": 100.0, "y_m": 0.0},
        "near": {"kind": "access_point", "x_m": 0.0, "y_m": 0.0},
        "far": {"kind": "access_point", "x_m": 300.0, "y_m": 0.0},
        "edge": {"kind": "server", "hardware": "paper-server"},
    }
    edges = [
        ("d-0", "near", {"shadowing_db": shadowing_near_db}),
        ("d-0", "far", {"shadowing_db": 0.0}),
        ("near", "edge", {}),
        ("far", "edge", {}),
    ]
    return write_graph(tmp_path / "t.json", nodes, edges)


@pytest.mark.parametrize(
    ("shadowing_db", "nearest", "strongest"),
    [(0.0, "near", "near"), (-12.0, "near", "far"), (-6.0, "near", "near")],
)
def test_nearest_and_strongest(tmp_path, shadowing_db, nearest, strongest):
    """Path loss exponent 2.8: doubling the distance costs 8.4 dB, so 12 dB of shadowing on the
    near link makes the far one stronger, 6 dB does not."""
    path = graph(tmp_path, shadowing_db)
    for rule, expected in (("nearest", nearest), ("strongest", strongest)):
        resolved = resolve_topology(file_scenario(path, topology={"association": rule}))
        assert resolved.association == {"d-0": expected}
        (device,) = resolved.deployment.devices
        assert resolved.deployment.cells[device.cell].id == expected
        assert device.mean_gain == resolved.gains[("d-0", expected)]
        assert device.distance_m == (100.0 if expected == "near" else 200.0)
