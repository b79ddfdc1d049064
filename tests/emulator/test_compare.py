"""``coinfer compare`` and :mod:`emulator.compare`: policies on the same seeds, paired intervals.

The paired difference is the mean over seeds of ``metric(policy, seed) − metric(first, seed)``
with the Student-t 95 % interval of those differences; each policy's run on a seed is exactly
the run ``simulate`` gives for that policy and seed (common random numbers).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from coinfer.emulator.api.compare import METRICS, compare_policies
from coinfer.emulator.api.run import simulate
from coinfer.emulator.cli.main import main
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import PolicySpec, load_scenario
from tests.emulator.replay_fixtures import write_arrivals, write_capacity


@pytest.fixture
def scenario_file(tmp_path):
    """Six devices replaying a small arrival trace and a capacity trace, in one PS cell."""
    write_arrivals(
        tmp_path / "a.csv", [0.0, 0.4, 0.5, 1.7, 2.2], [90, 300, 12, 128, 700], [1, 2, 3, 4, 5]
    )
    write_capacity(tmp_path / "c.csv", [0.0, 0.3, 0.4], [12e6, 0.5e6, 30e6])
    path = tmp_path / "small.yaml"
    path.write_text(
        """\
name: small
seed: 3
duration_s: 20
devices:
  - name: d
    count: 6
    arrivals: {process: trace, file: a.csv, rate_scale: 0.5}
    link_trace: {kind: capacity, file: c.csv}
    deadline_s: 0.5
cells: [{id: c0, bandwidth_hz: 10.0e6, sharing: ps}]
servers: [{id: s0, workers: 1}]
policy: {name: fixed, params: {split: 4}}
""",
        encoding="utf-8",
    )
    return path


def test_each_run_is_the_policys_own_run_on_that_seed(scenario_file):
    """The values compared are the summaries of plain runs of each policy on each seed; the
    scenario's own policy keeps its parameters, the others run with their defaults."""
    scenario = load_scenario(scenario_file)
    comparison = compare_policies(scenario, ["fixed", "on-server"], seeds=[3, 4, 5])
    for seed_index, seed in enumerate((3, 4, 5)):
        fixed = simulate(scenario, seed).summary
        other = scenario.model_copy(update={"policy": PolicySpec(name="on-server")})
        on_server = simulate(other, seed).summary
        for name, *_ in METRICS:
            got = comparison.values[name]
            np.testing.assert_equal(got["fixed"][seed_index], getattr(fixed, name))
            np.testing.assert_equal(got["on-server"][seed_index], getattr(on_server, name))


def test_paired_difference_is_a_t_interval_of_the_per_seed_differences(scenario_file):
    scenario = load_scenario(scenario_file)
    comparison = compare_policies(scenario, ["fixed", "on-device"], seeds=[0, 1, 2, 3])
    name = "latency_p50_s"
    d = np.subtract(comparison.values[name]["on-device"], comparison.values[name]["fixed"])
    interval = comparison.difference("on-device", name)
    half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / math.sqrt(4)
    assert interval.mean == pytest.approx(d.mean())
    assert interval.half_width == pytest.approx(half)
    assert interval.n == 4
    same = comparison.difference("fixed", name)  # the first policy against itself
    assert same.mean == 0.0 and same.half_width == 0.0


def test_compare_cli_prints_means_and_differences(capsys, scenario_file):
    status = main(
        ["compare", str(scenario_file), "--policies", "fixed,on-device,on-server", "--seeds", "3"]
    )
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "3 policies x 3 seeds (seeds 3..5)" in out
    assert "paired difference from fixed (policy - fixed)" in out
    assert "on-device - fixed" in out and "on-server - fixed" in out
    for label in (
        "latency p50 (ms)",
        "latency p99 (ms)",
        "deadline met (%)",
        "energy per request (mJ)",
        "distortion (mean)",
    ):
        assert out.count(label) == 2, label


def test_compare_cli_json(capsys, scenario_file):
    status = main(
        [
            "compare",
            str(scenario_file),
            "--policies",
            "fixed,on-device",
            "--seeds",
            "2",
            "--seed",
            "7",
            "--set",
            "devices.0.count=3",
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert status == 0, err
    data = json.loads(out)
    assert data["seeds"] == [7, 8] and data["policies"] == ["fixed", "on-device"]
    assert data["baseline"] == "fixed"
    values = data["means"]["on-device"]["latency_p99_s"]["values"]
    base = data["means"]["fixed"]["latency_p99_s"]["values"]
    difference = data["differences"]["on-device"]["latency_p99_s"]
    assert difference["mean"] == pytest.approx(np.mean(np.subtract(values, base)))
    assert difference["low"] < difference["mean"] < difference["high"]


def exit_status(argv: list[str]) -> int:
    """``main``'s status, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--policies", "fixed"], "--policies: got 'fixed', expected at least two"),
        (["--policies", "fixed,fixed"], "--policies: 'fixed' given twice"),
        (["--policies", "fixed,nope"], "unknown policy 'nope'"),
        (["--policies", "fixed,joint", "--seeds", "0"], "--seeds: got 0, expected a positive"),
        (
            ["--policies", "fixed,joint", "--set", "devices.0.link_trace.file=nowhere.csv"],
            "devices[0].link_trace.file: nowhere.csv: no such file",
        ),
    ],
)
def test_compare_cli_refuses_bad_input_with_one_line(capsys, scenario_file, argv, message):
    assert exit_status(["compare", str(scenario_file), *argv]) == 2
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    assert message in err.strip().splitlines()[-1]  # argparse prints its usage above


def test_compare_refuses_policies_before_running(scenario_file):
    scenario = load_scenario(scenario_file)
    with pytest.raises(InputError, match="unknown policy 'nope'"):
        compare_policies(scenario, ["fixed", "nope"], seeds=[0])
