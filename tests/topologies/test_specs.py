"""The node and edge specs: typed, documented, and turned into plain graph attributes."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from coinfer.emulator.plugins import TOPOLOGIES
from coinfer.topologies.specs import (
    EDGE_SPECS,
    NODE_SPECS,
    AccessPointNode,
    CloudNode,
    ServerNode,
    WiredLink,
    attributes,
)

DOC = (Path(__file__).resolve().parents[2] / "docs" / "topologies.md").read_text()


@pytest.mark.parametrize("spec", [*NODE_SPECS.values(), *EDGE_SPECS.values()])
def test_every_attribute_is_documented(spec):
    missing = [name for name in spec.model_fields if f"`{name}`" not in DOC]
    assert not missing, f"docs/topologies.md does not describe {spec.__name__} fields {missing}"


def test_every_generator_is_documented():
    names = TOPOLOGIES.builtin_names()
    assert "hexagonal" in names
    assert all(f"| `{name}` |" in DOC for name in names if name != "file")


def test_attributes_leave_out_what_is_not_set():
    node = ServerNode(hardware="l4", x_m=1.0, y_m=2.0)
    assert attributes(node) == {
        "kind": "server",
        "hardware": "l4",
        "workers": 1,
        "discipline": "fcfs",
        "x_m": 1.0,
        "y_m": 2.0,
    }
    assert CloudNode(hardware="h100").kind == "cloud"
    assert attributes(WiredLink()) == {"kind": "wired", "latency_s": 0.0}


def test_specs_refuse_contradictions():
    with pytest.raises(ValidationError, match="noise_psd_w_per_hz or noise_figure_db"):
        AccessPointNode(noise_psd_w_per_hz=1e-19, noise_figure_db=5)
    with pytest.raises(ValidationError, match="queue_capacity=0 with discipline ps"):
        ServerNode(hardware="l4", discipline="ps", queue_capacity=0)
    assert AccessPointNode().position is None and ServerNode(hardware="l4", x_m=0, y_m=1).position


def test_an_access_point_template_bounds_its_radio_fields_as_a_cell_does():
    """A generator stamps the template on cells: a value the template accepts must make a valid
    cell (else the run fails after validation, as the fuzz test found for a 1e30 Hz band)."""
    from coinfer.emulator.scenario.schema import Cell
    from coinfer.topologies.specs import AccessPointTemplate

    for name in ("bandwidth_hz", "noise_psd_w_per_hz", "noise_figure_db"):
        cell = Cell.model_fields[name]
        template = AccessPointTemplate.model_fields[name]
        assert cell.metadata == template.metadata, name
