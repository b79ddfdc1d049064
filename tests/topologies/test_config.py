"""The scenario's topology section: generators and files, checked before anything runs."""

import pytest

from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import load_scenario, scenario_from_dict
from tests.topologies.helpers import GROUPS, SERVERS, scenario


def data(topology, **changes):
    return {
        "requests": 10,
        "devices": GROUPS,
        "servers": SERVERS,
        "topology": topology,
        **changes,
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"topology": {"rings": 1}}, r"topology: got \{'rings': 1\}, expected a generator"),
        (
            {"topology": {"generator": "torus"}},
            r"topology.generator: got 'torus', expected one of: disc, file, hexagonal, hierarchy, "
            "paper, random-geometric",
        ),
        (
            {"topology": {"generator": "disc", "devics": 3}},
            r"topology.devics: unknown field 'devics' \(got 3\); did you mean 'devices'\?",
        ),
        (
            {"topology": {"generator": "disc", "radius_m": 5}},
            r"min_distance_m \(10\) must be below radius_m \(5\)",
        ),
        (
            {"topology": {"generator": "hexagonal", "device_mix": {"car": 1}}},
            r"topology.device_mix: got device group 'car', expected one of \['phone', 'cam'\]",
        ),
        (
            {"topology": {"generator": "hexagonal", "server_mix": {"gpu": 1}}},
            r"topology.server_mix: got server class 'gpu', expected one of \['small', 'big'\]",
        ),
        (
            {"topology": {"generator": "hexagonal", "device_mix": {"cam": 0}}},
            r"device_mix.cam: got 0",
        ),
        (
            {"topology": {"generator": "hierarchy"}},
            r"topology.cloud: missing",
        ),
        (
            {"topology": {"generator": "paper"}, "cells": [{"id": "c"}]},
            r"cells: not used with a topology",
        ),
        (
            {"topology": {"file": "t.json"}, "servers": SERVERS},
            r"servers: not used with a topology file",
        ),
        (
            {
                "topology": {"generator": "paper"},
                "devices": [{**GROUPS[0], "distance_m": 100}],
            },
            r"devices\[0\].distance_m: not used with a topology",
        ),
        (
            {"topology": {"generator": "paper"}, "devices": [{**GROUPS[0], "cell": "c"}]},
            r"devices\[0\].cell: not used with a topology",
        ),
        (
            {"topology": {"generator": "paper", "routing": "random"}},
            r"topology.routing: got 'random'",
        ),
    ],
    ids=[
        "no-generator",
        "unknown-generator",
        "unknown-parameter",
        "no-room",
        "unknown-group",
        "unknown-server-class",
        "zero-share",
        "no-cloud",
        "cells",
        "servers-with-file",
        "distance",
        "cell",
        "unknown-routing",
    ],
)
def test_bad_topology_sections_are_refused_naming_the_field(changes, message):
    base = data(None)
    base.update(changes)
    with pytest.raises(InputError, match=message):
        scenario_from_dict(base)


def test_a_file_is_relative_to_the_scenario(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "s.yaml").write_text(
        "requests: 5\n"
        "devices: [{name: d, arrivals: {process: poisson, rate_per_s: 1}}]\n"
        "topology: {file: city.graphml, routing: least-loaded}\n"
    )
    loaded = load_scenario(tmp_path / "sub" / "s.yaml")
    assert loaded.topology.file == str((tmp_path / "sub" / "city.graphml").resolve())
    assert loaded.topology.generator == "file" and loaded.topology.routing == "least-loaded"


def test_overrides_reach_the_topology():
    loaded = load_scenario(
        "examples/scenarios/hex-city.yaml", ["topology.rings=2", "topology.routing=own"]
    )
    assert loaded.topology.rings == 2 and loaded.topology.routing == "own"


def test_scenarios_without_topology_are_unchanged():
    assert scenario({"generator": "paper"}).topology.generator == "paper"
    plain = scenario_from_dict(
        {
            "requests": 1,
            "devices": [{"name": "d", "arrivals": {"process": "poisson", "rate_per_s": 1}}],
        }
    )
    assert plain.topology is None


@pytest.fixture(autouse=True)
def repository_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)
