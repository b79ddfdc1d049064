"""Scenarios: loading YAML, overriding fields, and refusing bad input with the field named."""

import re
from pathlib import Path

import pytest

from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import apply_overrides, load_scenario, scenario_from_dict

EXAMPLES = sorted(Path(__file__).resolve().parents[2].glob("examples/scenarios/*.yaml"))


def minimal(**changes):
    data = {
        "requests": 10,
        "devices": [{"name": "d", "arrivals": {"process": "poisson", "rate_per_s": 1.0}}],
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_scenario_loads(path):
    scenario = load_scenario(path)
    assert scenario.devices and scenario.cells and scenario.servers


def test_defaults_are_the_papers_setting():
    scenario = scenario_from_dict(minimal())
    cell, server = scenario.cells[0], scenario.servers[0]
    assert (cell.bandwidth_hz, cell.noise_w_per_hz) == (5e6, 2e-19)
    assert server.hardware == "paper-server" and scenario.devices[0].hardware == "paper-device"
    assert scenario.devices[0].model == "bert-paper" and scenario.devices[0].distance_m == 500
    assert scenario.channel.pathloss.exponent == 2.8 and scenario.downlink is None


def test_noise_figure_gives_thermal_noise_plus_nf():
    cell = scenario_from_dict(minimal(cells=[{"id": "c", "noise_figure_db": 7}])).cells[0]
    # -174 dBm/Hz + 7 dB = -167 dBm/Hz = 10^(-19.7) W/Hz
    assert cell.noise_w_per_hz == pytest.approx(10 ** (-19.7))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cells": [{"id": "c", "bandwidth_hz": -5}]}, "cells[0].bandwidth_hz: got -5"),
        ({"requests": None}, "exactly one of duration_s and requests"),
        ({"duration_s": 10}, "exactly one of duration_s and requests"),
        ({"servers": [{"id": "s", "discipline": "lifo"}]}, "servers[0].discipline: got 'lifo'"),
        ({"cells": [{"id": "c", "server": "nowhere"}]}, "cells[0].server: got 'nowhere'"),
        ({"cells": [{"id": "c"}, {"id": "c"}]}, "duplicate cell id 'c'"),
        (
            {"servers": [{"id": "s", "discipline": "ps", "queue_capacity": 0}]},
            "servers[0]: queue_capacity=0 with discipline ps would admit nothing",
        ),
        (
            {"colour": "blue"},
            "colour: unknown field 'colour' (got 'blue'), expected one of the fields name, seed,",
        ),
    ],
)
def test_bad_scenarios_name_the_field(changes, message):
    with pytest.raises(InputError, match=re.escape(message)):
        scenario_from_dict(minimal(**changes))


@pytest.mark.parametrize(
    ("path", "field", "known"),
    [
        ("devices.0.arrivals.process", "devices[0].arrivals.process", "deterministic, poisson"),
        (
            "devices.0.work.distribution",
            "devices[0].work.distribution",
            "constant, empirical, exponential",
        ),
        (
            "cells.0.sharing",
            "cells[0].sharing",
            "fdma, fifo, pf, pf-window, pf-window-fd, ps, round-robin",
        ),
        ("servers.0.discipline", "servers[0].discipline", "continuous-batching, fcfs, ps"),
        ("channel.pathloss.model", "channel.pathloss.model", "38901, log-distance"),
        ("channel.fading.law", "channel.fading.law", "nakagami, none, rayleigh, rician"),
        ("topology.generator", "topology.generator", "disc, file, hexagonal"),
    ],
)
def test_a_name_that_is_not_registered_is_refused_naming_the_field_and_the_known_names(
    path, field, known
):
    """Every pluggable part is named by a registered name (docs/extending.md): an unknown one
    is refused at its field, with the registered names and the ``module:Class`` alternative."""
    data = apply_overrides(
        minimal(cells=[{"id": "c"}], servers=[{"id": "s"}]), [f"{path}=teleport"]
    )
    with pytest.raises(InputError) as caught:
        scenario_from_dict(data)
    message = str(caught.value)
    assert f"{field}: got 'teleport', expected one of: {known}" in message
    assert "or module:Class naming a class implementing coinfer." in message


def test_a_plugin_name_may_also_be_module_class():
    """``module:Class`` names the same built-in class an entry point does."""
    data = minimal(channel={"fading": {"law": "coinfer.emulator.engine.fading:RicianFading"}})
    fading = scenario_from_dict(data).channel.fading
    assert fading.law == "coinfer.emulator.engine.fading:RicianFading"
    with pytest.raises(InputError, match=r"channel.fading.law: fading law 'nowhere:Law': no "):
        scenario_from_dict(minimal(channel={"fading": {"law": "nowhere:Law"}}))


def test_overrides_address_fields_by_dotted_path():
    data = apply_overrides(
        minimal(), ["devices.0.count=20", "channel.fading.law=rayleigh", "seed=9"]
    )
    scenario = scenario_from_dict(data)
    assert scenario.devices[0].count == 20 and scenario.seed == 9
    assert scenario.channel.fading.law == "rayleigh"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [("devices.3.count=1", "got index '3', expected 0..0"), ("novalue", "expected dotted.path")],
)
def test_bad_overrides_are_refused(assignment, message):
    with pytest.raises(InputError, match=message):
        apply_overrides(minimal(), [assignment])


def test_relative_model_files_resolve_against_the_scenario(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "tiny.csv").write_text(
        "name,params,flops,activation_bits\ninput,0,0,800\nb1,10,1e6,400\nb2,10,1e6,200\n"
    )
    (tmp_path / "s.yaml").write_text(
        "requests: 5\ndevices:\n  - name: d\n    model: profiles/tiny.csv\n"
        "    arrivals: {process: poisson, rate_per_s: 1}\n"
    )
    scenario = load_scenario(tmp_path / "s.yaml")
    assert Path(scenario.devices[0].model) == (tmp_path / "profiles" / "tiny.csv").resolve()


def test_missing_and_malformed_files_are_refused(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_scenario(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="got a list at the top level"):
        load_scenario(tmp_path / "list.yaml")
