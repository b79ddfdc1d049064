"""A run stopped early (Ctrl-C or SIGTERM during ``coinfer run``) keeps what it finished.

``simulate(stop_on_signal=True)`` turns the first SIGINT or SIGTERM into
:meth:`Engine.stop`: the run ends at the simulated time the signal came, its trace holds exactly
the requests that had finished by then (the same rows as the full run's, up to that time), and
the sidecar and the result say which signal stopped it. From the command line: exit status 130
(SIGINT) or 143 (SIGTERM), no traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from coinfer.emulator.api.run import SIDECAR_FILE, TRACE_FILE, simulate
from coinfer.emulator.engine.core import Engine
from coinfer.emulator.scenario.schema import scenario_from_dict

STOP_AT_S = 40.0


def busy_cell(duration_s: float = 120.0) -> dict:
    return {
        "name": "busy",
        "seed": 3,
        "duration_s": duration_s,
        "devices": [
            {
                "name": "phone",
                "count": 20,
                "arrivals": {"process": "poisson", "rate_per_s": 1.0},
                "distance_m": 300,
            }
        ],
        "cells": [{"id": "ap", "bandwidth_hz": 20e6, "sharing": "ps", "server": "edge"}],
        "servers": [{"id": "edge", "workers": 2}],
        "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.01}},
        "policy": {"name": "fixed", "params": {"split": 4}},
    }


def signal_at(monkeypatch, at_s: float, signum: int) -> None:
    """Make every engine send ``signum`` to this process at simulated time ``at_s``."""
    start = Engine.start

    def start_then_signal(engine: Engine, devices=None) -> None:
        start(engine, devices)

        def raise_signal():
            yield engine.env.timeout(at_s)
            os.kill(os.getpid(), signum)

        engine.env.process(raise_signal())

    monkeypatch.setattr(Engine, "start", start_then_signal)


def finished_by(trace: pd.DataFrame, at_s: float) -> pd.DataFrame:
    return trace[trace["t_done"] <= at_s].sort_values("request_id").reset_index(drop=True)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_run_keeping_exactly_what_had_finished(monkeypatch, tmp_path, signum):
    scenario = scenario_from_dict(busy_cell())
    full = simulate(scenario).trace
    signal_at(monkeypatch, STOP_AT_S, signum)
    stopped = simulate(scenario, out_dir=tmp_path, stop_on_signal=True)
    name = signal.Signals(signum).name
    assert stopped.stopped_by == name
    assert stopped.stats.stopped_at_s == pytest.approx(STOP_AT_S)
    rows = pd.read_parquet(tmp_path / TRACE_FILE).sort_values("request_id")
    pd.testing.assert_frame_equal(
        rows.reset_index(drop=True), finished_by(full, STOP_AT_S), check_categorical=False
    )
    assert stopped.stats.requests == len(rows) < len(full)
    sidecar = json.loads((tmp_path / SIDECAR_FILE).read_text())
    assert sidecar["stopped_by"] == name and sidecar["stopped_at_s"] == pytest.approx(STOP_AT_S)
    assert signal.getsignal(signum) is not None  # the previous handler is back
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_run_not_asked_to_stop_on_signals_says_it_ran_to_its_end(tmp_path):
    result = simulate(scenario_from_dict(busy_cell(10.0)), out_dir=tmp_path)
    assert result.stopped_by is None and result.stats.stopped_at_s is None
    assert json.loads((tmp_path / SIDECAR_FILE).read_text())["stopped_by"] is None


@pytest.mark.parametrize(
    ("signum", "status"),
    [(signal.SIGINT, 130), pytest.param(signal.SIGTERM, 143, marks=pytest.mark.slow)],
)
def test_coinfer_run_stopped_by_a_signal_exits_128_plus_its_number(tmp_path, signum, status):
    scenario = tmp_path / "long.yaml"
    scenario.write_text(json.dumps(busy_cell(1e6)))  # JSON is YAML: hours of simulated time
    out = tmp_path / "run"
    coinfer = Path(sys.executable).with_name("coinfer")
    process = subprocess.Popen(
        [str(coinfer), "run", str(scenario), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (out / ".trace.parquet.partial").exists():  # the run has written its first rows
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == status
    assert "Traceback" not in stderr
    name = signal.Signals(signum).name
    assert f"STOPPED by {name}" in stdout
    sidecar = json.loads((out / SIDECAR_FILE).read_text())
    assert sidecar["stopped_by"] == name
    assert pd.read_parquet(out / TRACE_FILE).shape[0] == sidecar["requests"] > 0
