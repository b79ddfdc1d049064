"""The speculative decoding sweep, ``examples/sweeps/speculative-vs-load.yaml``: what it
compares, and a shortened run of it drawn as docs/edge-llm.md's figure (its full run is the
page's, with ``-m slow``)."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

from coinfer.emulator.sweeps.aggregate import collect
from coinfer.emulator.sweeps.executors import SerialExecutor
from coinfer.emulator.sweeps.plan import load_plan
from coinfer.emulator.sweeps.runner import run_sweep

ROOT = Path(__file__).resolve().parents[3]
SWEEP = ROOT / "examples" / "sweeps" / "speculative-vs-load.yaml"
FIGURE = ROOT / "examples" / "speculative_figure.py"
USERS, ALPHA = "devices.0.count", "devices.0.speculative.alpha"


def figure_module():
    spec = importlib.util.spec_from_file_location("speculative_figure", FIGURE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_on_server_and_three_speculative_policies_over_boards_and_acceptance_rates():
    plan = load_plan(SWEEP, [])
    series: dict[tuple[str, float | None], list[int]] = {}
    for config in plan.configurations:
        key = (config.policy, config.point.get(ALPHA))
        series.setdefault(key, []).append(config.point[USERS])
    assert set(series) == {("on-server", None)} | {
        (policy, alpha)
        for policy in (
            "speculative(draft_tokens=2)",
            "speculative(draft_tokens=4)",
            "speculative-adaptive",
        )
        for alpha in (0.6, 0.8)
    }
    assert all(users == [2, 16, 64, 128] for users in series.values())
    assert plan.seeds == (1, 2)


def test_a_shortened_run_of_the_sweep_draws_every_series_in_every_panel(tmp_path):
    """The fewest boards of each series at α = 0.8 on one seed, 4 s of arrivals at one request
    a second per board: the figure has the on-server line and the three speculative ones in
    each of its panels."""
    plan = load_plan(SWEEP, ["duration_s=4", "warmup_s=0", "devices.0.arrivals.rate_per_s=1"])
    kept = [c for c in plan.configurations if c.point[USERS] == 2 and c.point.get(ALPHA) != 0.6]
    ids = {c.config_id for c in kept}
    short = replace(
        plan,
        seeds=(1,),
        configurations=tuple(kept),
        runs=tuple(r for r in plan.runs if r.config_id in ids and r.seed == 1),
    )
    outcome = run_sweep(short, tmp_path, SerialExecutor(), progress=False)
    assert not outcome.failed
    aggregate = collect(outcome.store).aggregate
    assert (aggregate["generative.completed_mean"] > 0).all()
    figure = figure_module().draw(aggregate, tmp_path / "figure")
    assert [len(ax.containers) for ax in figure.axes] == [4, 4]  # a line per series
    assert (tmp_path / "figure.png").stat().st_size > 10_000
