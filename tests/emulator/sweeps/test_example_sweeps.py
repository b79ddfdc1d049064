"""The example sweep of generative requests, ``examples/sweeps/llm-modes-vs-load.yaml``: what it
compares, and a shortened run of it drawn as its figures (its full run is docs/generative.md's,
with ``-m slow``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from coinfer.emulator.sweeps.aggregate import collect
from coinfer.emulator.sweeps.executors import SerialExecutor
from coinfer.emulator.sweeps.plan import load_plan
from coinfer.emulator.sweeps.plots import PlotOptions, plot
from coinfer.emulator.sweeps.runner import run_sweep

ROOT = Path(__file__).resolve().parents[3]
SWEEP = ROOT / "examples" / "sweeps" / "llm-modes-vs-load.yaml"
TRACES = ROOT.parent / "shared" / "traces"
LOAD = "devices.0.arrivals.rate_scale"
BASE_LOAD = 0.005  # the scenario's own rate_scale (llm-chat-cell.yaml)


@pytest.fixture(scope="module")
def plan():
    if not TRACES.is_dir():
        pytest.skip(f"the real traces are absent (expected at {TRACES})")
    # shortened to a few requests per run; not validated here (each validation reads the trace)
    return load_plan(SWEEP, ["duration_s=8", "warmup_s=2"], validate=False)


def test_the_modes_are_on_server_and_split_after_blocks_3_and_9_each_over_a_range_of_loads(plan):
    loads: dict[str, list[float]] = {}
    for config in plan.configurations:
        loads.setdefault(config.policy, []).append(config.point[LOAD])
    assert list(loads) == ["on-server", "split(layer=3)", "split(layer=9)"]
    for policy, values in loads.items():
        assert values == sorted(values) and len(values) >= 3, policy
        assert min(values) < BASE_LOAD <= max(values), policy  # light load to the scenario's
    assert max(loads["on-server"]) > max(max(v) for p, v in loads.items() if p != "on-server")
    assert plan.seeds == (1, 2, 3)


def test_a_shortened_run_of_the_sweep_draws_one_curve_per_mode(plan, tmp_path):
    """The lightest load of each mode on one seed, 8 s of arrivals: the token figures."""
    kept = []
    for policy in ("on-server", "split(layer=3)", "split(layer=9)"):
        kept += [c for c in plan.configurations if c.policy == policy][:1]
    ids = {c.config_id for c in kept}
    short = replace(
        plan,
        seeds=(1,),
        configurations=tuple(kept),
        runs=tuple(r for r in plan.runs if r.config_id in ids and r.seed == 1),
    )
    outcome = run_sweep(short, tmp_path, SerialExecutor(), progress=False, trace_dir=TRACES)
    assert not outcome.failed
    tables = collect(outcome.store)
    assert (tables.aggregate["generative.completed_mean"] > 0).all()
    figure = plot("tokens", tables, outcome.store, PlotOptions())
    for ax in figure.axes:
        assert len(ax.containers) == 3  # one curve per mode in each panel
    energy = plot("token-energy", tables, outcome.store, PlotOptions())
    assert [len(ax.containers) for ax in energy.axes] == [3, 3]
