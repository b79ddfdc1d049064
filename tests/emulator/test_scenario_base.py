"""Scenario inheritance (issue 16, point 8): ``base: OTHER.yaml`` in any scenario file.

The base is read first and the file's own fields merged into it by path: mappings key by key,
anything else (lists included) replaced. Paths are relative to the file that holds them; a
chain of bases that comes back to a file is refused.
"""

import json

import pytest
import yaml

from coinfer.emulator.api.run import simulate
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import load_scenario, merge_scenario_data

BASE = {
    "name": "base",
    "seed": 3,
    "requests": 4,
    "hardware_files": ["lab.yaml"],  # relative to the base's folder
    "devices": [
        {"name": "a", "hardware": "rpi", "arrivals": {"process": "poisson", "rate_per_s": 2}},
        {"name": "b", "arrivals": {"process": "poisson", "rate_per_s": 1}},
    ],
    "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.01}},
    "policy": {"name": "fixed", "params": {"split": 4, "rho_device": 0.5}},
}
LAB = {
    "hardware": [
        {
            "name": "rpi",
            "kind": "device",
            "f_min_hz": 1.5e9,
            "f_max_hz": 2.4e9,
            "flops_per_cycle": 32,
            "power_coeff_w_per_hz3": 5.0e-28,
            "memory_bandwidth_bytes_per_s": 17e9,
            "memory_bytes": 8e9,
            "max_tx_power_w": 0.1,
        }
    ]
}


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def base(tmp_path):
    write(tmp_path / "common" / "lab.yaml", LAB)
    return write(tmp_path / "common" / "base.yaml", BASE)


def test_mappings_merge_by_path_and_lists_are_replaced():
    merged = merge_scenario_data(
        {"channel": {"fading": {"law": "rayleigh", "m": 1}}, "devices": [1, 2], "seed": 1},
        {"channel": {"fading": {"m": 2}}, "devices": [3]},
    )
    assert merged == {"channel": {"fading": {"law": "rayleigh", "m": 2}}, "devices": [3], "seed": 1}


def test_a_mapping_naming_another_member_replaces_the_bases_whole():
    """Another policy does not inherit the base policy's parameters, another fading law not
    the base law's; the scenario's own ``name`` is no such key (the root is always merged)."""
    base = {
        "name": "base",
        "seed": 2,
        "policy": {"name": "fixed", "params": {"split": 4}},
        "channel": {"fading": {"law": "rician", "k_factor": 3.0}, "shadowing_std_db": 4},
    }
    changes = {
        "name": "child",
        "policy": {"name": "joint"},
        "channel": {"fading": {"law": "rayleigh"}},
    }
    assert merge_scenario_data(base, changes) == {
        "name": "child",
        "seed": 2,
        "policy": {"name": "joint"},
        "channel": {"fading": {"law": "rayleigh"}, "shadowing_std_db": 4},
    }


def test_a_file_changes_its_base_and_keeps_the_rest(tmp_path, base):
    child = write(
        tmp_path / "child.yaml",
        {
            "base": "common/base.yaml",
            "name": "child",
            "channel": {"fading": {"coherence_time_s": 0.02}},
            "policy": {"params": {"rho_device": 0.8}},
        },
    )
    scenario = load_scenario(child)
    assert scenario.name == "child" and scenario.seed == 3 and scenario.requests == 4
    assert scenario.channel.fading.law == "rayleigh"
    assert scenario.channel.fading.coherence_time_s == 0.02
    assert scenario.policy.params == {"split": 4, "rho_device": 0.8}
    assert [g.name for g in scenario.devices] == ["a", "b"]
    # the base's hardware file is found beside the base, not beside the child
    assert scenario.hardware_files == (str(tmp_path / "common" / "lab.yaml"),)


def test_a_list_given_replaces_the_bases_whole(tmp_path, base):
    only = {"name": "c", "arrivals": {"process": "deterministic", "interval_s": 1.0}}
    child = write(tmp_path / "child.yaml", {"base": "common/base.yaml", "devices": [only]})
    assert [g.name for g in load_scenario(child).devices] == ["c"]


def test_bases_chain_and_overrides_come_last(tmp_path, base):
    middle = write(tmp_path / "mid" / "middle.yaml", {"base": "../common/base.yaml", "seed": 9})
    top = write(tmp_path / "top.yaml", {"base": "mid/middle.yaml", "requests": 6})
    scenario = load_scenario(top, ["requests=7"])
    assert (scenario.seed, scenario.requests, scenario.name) == (9, 7, "base")
    assert middle.is_file()


def test_the_sidecar_holds_the_resolved_scenario(tmp_path, base):
    child = write(
        tmp_path / "child.yaml",
        {"base": "common/base.yaml", "name": "child", "channel": {"fading": {"m": 2.0}}},
    )
    simulate(load_scenario(child), out_dir=tmp_path / "run")
    written = json.loads((tmp_path / "run" / "run.json").read_text())["scenario"]
    assert written["name"] == "child" and written["requests"] == 4
    assert written["channel"]["fading"]["law"] == "rayleigh"
    assert written["channel"]["fading"]["m"] == 2.0
    assert "base" not in written


def test_a_cycle_of_bases_is_refused_naming_it(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "sub" / "b.yaml"
    write(a, {"base": "sub/b.yaml", "name": "a"})
    write(b, {"base": "../a.yaml", "name": "b"})
    with pytest.raises(InputError, match="is a cycle") as refused:
        load_scenario(a)
    assert refused.value.path == "base"
    assert f"{a} -> {b} -> {a}" in str(refused.value)


def test_a_file_that_is_its_own_base_is_refused(tmp_path):
    me = write(tmp_path / "me.yaml", {"base": "me.yaml"})
    with pytest.raises(InputError, match="is a cycle"):
        load_scenario(me)


@pytest.mark.parametrize(("value", "message"), [("nowhere.yaml", "does not exist"), (3, "got 3")])
def test_a_missing_or_bad_base_is_refused_naming_the_field(tmp_path, value, message):
    child = write(tmp_path / "child.yaml", {"base": value})
    with pytest.raises(InputError, match=message) as refused:
        load_scenario(child)
    assert refused.value.path == "base"
