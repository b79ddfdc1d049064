"""``coinfer run``, ``validate`` and ``schema`` from the command line."""

import json
import shutil
import subprocess

import pandas as pd
import pyarrow.parquet as pq
import pytest

from coinfer.emulator.cli.main import main
from coinfer.emulator.trace.columns import REQUIRED_COLUMNS

PAPER = "examples/scenarios/paper-single.yaml"


@pytest.fixture(autouse=True)
def repository_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_run_prints_a_summary_and_writes_trace_and_sidecar(capsys, tmp_path):
    status, out, _ = run_cli(capsys, "run", PAPER, "--out", str(tmp_path))
    assert status == 0
    assert "latency p50 / p95 / p99" in out and "deadline met" in out
    trace = pq.read_table(tmp_path / "trace.parquet").to_pandas()
    assert len(trace) == 100 and set(REQUIRED_COLUMNS) <= set(trace.columns)
    sidecar = json.loads((tmp_path / "run.json").read_text())
    assert sidecar["seed"] == 1 and sidecar["scenario"]["name"] == "paper-single"
    assert {"coinfer", "simpy", "numpy", "python"} <= set(sidecar["versions"])
    assert sidecar["wall_time_s"] > 0 and sidecar["summary"]["completed"] == 100


def test_run_json_seed_and_overrides(capsys, tmp_path):
    status, out, _ = run_cli(
        capsys,
        "run",
        PAPER,
        "--out",
        str(tmp_path),
        "--seed",
        "5",
        "--set",
        "requests=20",
        "--set",
        "policy.params.split=12",
        "--json",
    )
    assert status == 0
    summary = json.loads(out)
    assert summary["seed"] == 5 and summary["requests"] == 20
    trace = pd.read_parquet(tmp_path / "trace.parquet")
    assert (trace["split"] == 12).all() and (trace["payload_bits"] == 0).all()


def test_validate_checks_without_running(capsys, tmp_path):
    status, out, _ = run_cli(capsys, "validate", PAPER)
    assert status == 0 and "valid. 1 devices, 1 cells, 1 servers" in out


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("cells.0.bandwidth_hz=-1", "cells[0].bandwidth_hz: got -1"),
        ("devices.0.hardware=h200", "unknown device class 'h200'"),
        ("policy.name=oracle", "unknown policy 'oracle'; expected one of: distill-only, fixed"),
        ("policy.params.rho_device=1.5", "rho_device: got 1.5"),
    ],
)
def test_bad_scenarios_exit_2_naming_the_field(capsys, override, message):
    status, _, err = run_cli(capsys, "validate", PAPER, "--set", override)
    assert status == 2 and message in err and "Traceback" not in err


def test_a_policy_parameter_out_of_bounds_is_refused_before_the_run(capsys, tmp_path):
    """``split: 40`` cannot apply to a 12-block model: refused before the run, nothing written
    (a decision out of bounds at run time is refused too: tests/policies/test_base.py)."""
    out = tmp_path / "run"
    status, _, err = run_cli(
        capsys, "run", PAPER, "--out", str(out), "--set", "policy.params.split=40"
    )
    assert status == 2
    assert (
        "policy 'fixed': policy.params.split: got 40, expected split points in 0..12 for model "
        "'bert-paper' (device group 'phone')"
    ) in err
    assert not out.exists()


def test_schema_lists_every_field_with_units(capsys):
    status, out, _ = run_cli(capsys, "schema")
    assert status == 0
    for field in ("cells.bandwidth_hz", "devices.deadline_s", "channel.fading.coherence_time_s"):
        assert field in out
    status, out, _ = run_cli(capsys, "schema", "--json")
    assert "properties" in json.loads(out)


def test_console_script_refuses_a_bad_file_with_exit_2(tmp_path):
    script = shutil.which("coinfer")
    assert script
    bad = tmp_path / "bad.yaml"
    bad.write_text("requests: 5\ndevices: []\n")
    result = subprocess.run([script, "run", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "devices: got [], expected" in result.stderr


GENERATIVE = """\
name: chat
requests: 30
slo: {ttft_s: 0.5, tpot_s: 0.05}
devices:
  - name: phone
    count: 3
    hardware: jetson-agx-orin
    model: llama-3-8b
    arrivals: {process: poisson, rate_per_s: 0.5}
    tokens:
      prompt: {distribution: uniform, low: 50, high: 200}
      output: {distribution: constant, value: 12}
servers: [{id: edge, hardware: a100, discipline: continuous-batching, scheduler: sarathi}]
policy: {name: on-server}
"""


def test_run_of_generative_requests_reports_tokens_and_writes_the_token_table(capsys, tmp_path):
    scenario = tmp_path / "chat.yaml"
    scenario.write_text(GENERATIVE, encoding="utf-8")
    out_dir = tmp_path / "out"
    status, out, _ = run_cli(capsys, "run", str(scenario), "--out", str(out_dir), "--token-trace")
    assert status == 0
    assert "TTFT p50 / p90 / p99" in out and "SLO attainment" in out
    tokens = pd.read_parquet(out_dir / "tokens.parquet")
    assert len(tokens) == 30 * 12 and tokens["token_index"].max() == 12
    sidecar = json.loads((out_dir / "run.json").read_text())
    assert sidecar["summary"]["generative"]["completed"] == 30
    status, out, _ = run_cli(capsys, "run", str(scenario), "--out", str(tmp_path / "j"), "--json")
    assert json.loads(out)["generative"]["tokens_per_s"] > 0
    assert not (tmp_path / "j" / "tokens.parquet").exists()
