"""``coinfer topology show|stats|export`` on the example scenarios."""

import json

import pytest

from coinfer.emulator.cli.main import main
from coinfer.topologies.io import load_topology

HEX = "examples/scenarios/hex-city.yaml"
EDGE_CLOUD = "examples/scenarios/edge-cloud.yaml"


@pytest.fixture(autouse=True)
def repository_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_show_draws_a_png(capsys, tmp_path):
    status, out, _ = run_cli(capsys, "topology", "show", HEX, "-o", str(tmp_path / "city.png"))
    assert status == 0 and "84 devices, 7 cells, 7 servers" in out
    assert (tmp_path / "city.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stats_prints_counts_and_spreads(capsys):
    status, out, _ = run_cli(capsys, "topology", "stats", EDGE_CLOUD)
    assert status == 0
    assert "access_point 6, cloud 1, server 3, device 60" in out
    assert "own server latency ms" in out and "device distance m" in out


def test_stats_json(capsys):
    status, out, _ = run_cli(capsys, "topology", "stats", HEX, "--json", "--seed", "2")
    stats = json.loads(out)
    assert status == 0 and stats["seed"] == 2
    assert stats["devices_by_group"] == {"phone": 63, "jetson": 21}
    assert stats["servers_by_hardware"] == {"l4 (edge)": 5, "a100 (edge)": 2}
    assert 0 < stats["device_distance_m"]["min"] <= stats["device_distance_m"]["max"]


def test_export_writes_a_graph_a_scenario_can_load(capsys, tmp_path):
    out_file = tmp_path / "city.graphml"
    status, _, _ = run_cli(
        capsys, "topology", "export", HEX, "-o", str(out_file), "--set", "topology.rings=0"
    )
    assert status == 0
    graph = load_topology(out_file)
    assert sum(1 for _, k in graph.nodes(data="kind") if k == "access_point") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["topology", "stats", "examples/scenarios/busy-cell.yaml"],
            "topology: missing, expected a topology section",
        ),
        (["topology", "show", HEX, "-o", "city.txt"], "--out: got 'city.txt', expected a file"),
        (
            ["topology", "stats", HEX, "--set", "topology.server_mix.gpu=1"],
            "topology.server_mix: got server class 'gpu'",
        ),
        (["topology", "export", HEX, "-o", "city.gml"], "got suffix '.gml'"),
    ],
)
def test_bad_input_exits_2_with_one_message(capsys, argv, message):
    status, out, err = run_cli(capsys, *argv)
    assert status == 2 and message in err and "Traceback" not in err and not out


def test_validate_and_run_accept_topology_scenarios(capsys, tmp_path):
    status, out, _ = run_cli(capsys, "validate", EDGE_CLOUD)
    assert status == 0 and "60 devices, 6 cells, 4 servers" in out
    status, out, _ = run_cli(
        capsys, "run", EDGE_CLOUD, "--set", "duration_s=3", "--out", str(tmp_path), "--json"
    )
    summary = json.loads(out)
    assert status == 0 and summary["completed"] > 0 and summary["link_utilisation"]
