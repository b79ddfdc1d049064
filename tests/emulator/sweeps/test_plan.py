"""Sweep files and their expansion: grids, explicit points, policies, seeds, clear refusals."""

import pytest

from coinfer.emulator.errors import InputError
from coinfer.emulator.sweeps.plan import load_plan
from coinfer.emulator.sweeps.spec import load_sweep, sweep_from_dict
from tests.emulator.sweeps.helpers import SCENARIO, plan_of, sweep_data, write_sweep


def test_grid_times_policies_times_seeds_in_a_fixed_order():
    data = sweep_data(axes={"devices.0.arrivals.rate_per_s": [1.0, 4.0], "devices.0.count": [2, 5]})
    plan = plan_of(data)
    assert plan.columns == ("policy", "devices.0.arrivals.rate_per_s", "devices.0.count")
    assert plan.seeds == (1, 2, 3)
    assert len(plan.configurations) == 2 * 2 * 2 and len(plan.runs) == 8 * 3
    first = plan.configurations[:4]
    assert [c.policy for c in first] == ["fixed"] * 4
    assert [
        (c.point["devices.0.arrivals.rate_per_s"], c.point["devices.0.count"]) for c in first
    ] == [
        (1.0, 2),
        (1.0, 5),
        (4.0, 2),
        (4.0, 5),
    ]
    assert plan.configurations[4].policy == "min-latency"
    assert plan.configurations[1].scenario.devices[0].count == 5
    assert [r.seed for r in plan.runs[:4]] == [1, 2, 3, 1]
    assert len({r.run_id for r in plan.runs}) == len(plan.runs)


def test_explicit_points_and_policy_parameters_as_axes():
    data = sweep_data(
        axes=None,
        policies=None,
        points=[
            {"policy.params.split": 2, "cells.0.bandwidth_hz": 5.0e6},
            {"policy.params.split": 6, "cells.0.bandwidth_hz": 20.0e6},
            {"policy.name": "min-latency", "policy.params": {}},
        ],
    )
    plan = plan_of(data)
    assert [c.policy for c in plan.configurations] == [
        "fixed(split=2)",
        "fixed(split=6)",
        "min-latency",
    ]
    assert plan.configurations[1].scenario.cells[0].bandwidth_hz == 20e6
    assert plan.configurations[1].scenario.policy.params == {"split": 6}
    assert "policy.params.split" in plan.columns and "policy.name" in plan.columns


def test_set_applies_to_every_run_and_seeds_default_to_the_scenario_seed():
    data = sweep_data(seeds=None, set={"requests": 10, "seed": 9})
    plan = plan_of(data)
    assert plan.seeds == (9,)
    assert all(c.scenario.requests == 10 for c in plan.configurations)
    assert plan_of(sweep_data(seeds={"start": 5, "count": 3})).seeds == (5, 6, 7)


def test_a_sweep_file_with_a_relative_base_and_its_name_from_the_stem(tmp_path):
    scenario = tmp_path / "scenarios" / "tiny.yaml"
    scenario.parent.mkdir()
    write_sweep(scenario.parent, SCENARIO, "tiny.yaml")
    sweeps = tmp_path / "sweeps"
    sweeps.mkdir()
    path = write_sweep(
        sweeps, sweep_data(name=None, scenario=None, base="../scenarios/tiny.yaml"), "load.yaml"
    )
    assert load_sweep(path).name == "load"
    plan = load_plan(path)
    assert plan.name == "load" and len(plan.runs) == 12


def test_inline_scenario_files_are_relative_to_the_sweep_file(tmp_path):
    import shutil

    shutil.copy("examples/profiles/tiny-split.csv", tmp_path / "tiny-split.csv")
    scenario = {
        **SCENARIO,
        "devices": [{**SCENARIO["devices"][0], "model": "tiny-split.csv"}],
        "policy": {"name": "fixed", "params": {"split": 2}},  # the tiny model has splits 0..3
    }
    path = write_sweep(tmp_path, sweep_data(scenario=scenario, policies=None, axes=None))
    plan = load_plan(path)
    assert plan.configurations[0].scenario.devices[0].model == str(tmp_path / "tiny-split.csv")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"base": "x.yaml"}, "give exactly one of base (a scenario file) and scenario (inline)"),
        ({"axes": {"devices.0.count": []}}, "axes.devices.0.count: got an empty list"),
        ({"axes": {"seed": [1, 2]}}, "the seed is not an axis"),
        ({"seeds": [1, 1]}, "seeds: got [1, 1], expected no repeats"),
        ({"points": [{"devices.0.arrivals.rate_per_s": 3}]}, "also an axis"),
        ({"axes": {"devices..count": [1]}}, "expected a dotted path"),
        (
            {"colour": "blue"},
            "colour: unknown field 'colour' (got 'blue'), expected one of the fields name, base,",
        ),
    ],
)
def test_bad_sweep_files_are_refused_naming_the_field(changes, message):
    with pytest.raises(InputError) as caught:
        plan_of(sweep_data(**changes))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"axes": {"devices.3.count": [1, 2]}},
            "configuration 0 (policy fixed, devices.3.count=1): devices.3: got index '3', "
            "expected 0..0",
        ),
        ({"axes": {"devices.0.count": [0]}}, "devices[0].count: got 0, expected"),
        ({"policies": ["oracle"]}, "unknown policy 'oracle'"),
        ({"policies": [{"name": "fixed", "params": {"split": -1}}]}, "split: got -1"),
        ({"axes": {"devices.0.hardware": ["h200"]}}, "unknown device class 'h200'"),
    ],
)
def test_bad_configurations_are_refused_before_anything_runs(changes, message):
    with pytest.raises(InputError) as caught:
        plan_of(sweep_data(**changes))
    assert message in str(caught.value)


def test_two_points_that_resolve_to_the_same_scenario_are_refused():
    data = sweep_data(axes={"devices.0.arrivals.rate_per_s": [2.0, 2]})
    with pytest.raises(InputError, match="resolves to the same scenario as configuration 0"):
        plan_of(data)


def test_a_top_level_list_is_refused():
    with pytest.raises(InputError, match="got a list at the top level, expected a mapping"):
        sweep_from_dict([1, 2])
