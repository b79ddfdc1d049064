"""Speed work never changes a trace: golden traces of the engine's hot paths, row for row.

The engine's hot path (arrival, device, uplink processor sharing through the fading blocks,
server, trace row) is tuned for speed (issue 20). Each such change must leave every trace row
exactly as it was for the same scenario and seed: these tests run the scenarios of
``test_engine_invariants.py`` (every uplink and server discipline, each fading law, drops,
mobility, merged arrivals; cut to a few hundred requests) and the ``versus_simpy`` workload
(processor-sharing uplinks, Rayleigh block fading, an upload usually alone in its cell), and
compare their traces with ``assert_frame_equal`` (exact: ``check_exact=True``) against the
traces the engine wrote before that work (``tests/emulator/golden/*.parquet``, written by
``python -m tests.emulator.test_engine_golden`` at commit 831ea54, main just before the speed
work was merged: the quality columns and the mobile scenario's split-4 policy had come in
since the first golden files, written at f7da383).

A change that is meant to change traces (a new random consumer, a model fix) rewrites the
golden files with that command and says so in its commit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.scenario.schema import scenario_from_dict
from tests.emulator.test_engine_invariants import SCENARIOS

GOLDEN = Path(__file__).parent / "golden"
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
#: requests per golden run: enough for uploads to overlap, fading blocks to be crossed, queues
#: to build and (where the scenario has them) drops and handovers; few enough to stay fast
REQUESTS = 300


def versus_simpy(devices: int, merged: bool) -> dict:
    """The workload of ``benchmarks/versus_simpy.py`` (its model file included)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import versus_simpy as module
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module.scenario(devices, REQUESTS, merged)


def cases() -> dict[str, dict]:
    """Name → scenario dict, each cut to :data:`REQUESTS` requests."""
    found: dict[str, dict] = {}
    for name, spec in SCENARIOS.items():
        spec = {key: value for key, value in spec.items() if key not in ("duration_s", "warmup_s")}
        found[name] = {"name": name, **spec, "requests": REQUESTS}
    found["versus-simpy-100"] = versus_simpy(100, merged=False)
    found["versus-simpy-100-merged"] = versus_simpy(100, merged=True)
    return found


def trace(spec: dict) -> pd.DataFrame:
    """The trace of ``spec`` on seed 7, in memory."""
    return simulate(scenario_from_dict(spec), seed=7, progress=False).trace


@pytest.mark.parametrize("name", sorted(cases()))
def test_the_trace_is_the_golden_trace_row_for_row(name):
    """Same scenario, same seed: every column of every row equal to the last bit."""
    expected = pd.read_parquet(GOLDEN / f"{name}.parquet")
    pd.testing.assert_frame_equal(trace(cases()[name]), expected, check_exact=True)


def write_golden() -> None:
    """Rewrite the golden traces from this checkout's engine."""
    GOLDEN.mkdir(exist_ok=True)
    for name, spec in cases().items():
        trace(spec).to_parquet(GOLDEN / f"{name}.parquet")
        print(f"wrote {GOLDEN / name}.parquet")


if __name__ == "__main__":
    write_golden()
