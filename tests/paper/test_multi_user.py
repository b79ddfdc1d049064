"""The multi-user study (docs/multi-user.md) on a small scale: its sweep file, the analysis and
the claims the write-up makes about the paper's design under load and fading."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from coinfer.emulator.sweeps.executors import SerialExecutor
from coinfer.emulator.sweeps.plan import load_plan
from coinfer.emulator.sweeps.runner import run_sweep
from examples.paper.figures import save
from examples.paper.multi_user import markdown, plot_channel, seed_means, study_table

METRICS = (
    "latency_p99_s",
    "deadline_met",
    "energy_per_request_j",
    "kept_fraction",
    "distortion_median",
    "energy_over_budget",
)
SWEEP = Path(__file__).resolve().parents[2] / "examples" / "paper" / "multi-user.yaml"
LIGHT, HEAVY = 0.025, 0.2  # requests/s per device (x 20 devices)


def test_the_sweep_file_is_the_documented_study():
    plan = load_plan(SWEEP)
    spec = yaml.safe_load(SWEEP.read_text(encoding="utf-8"))
    assert len(spec["policies"]) == 8
    assert spec["axes"]["channel.fading.law"] == ["none", "rayleigh"]
    assert len(plan.configurations) == 8 * 2 * len(spec["axes"]["devices.0.arrivals.rate_per_s"])


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """The study with 3 policies, 2 loads, 400 requests and one seed."""
    spec = yaml.safe_load(SWEEP.read_text(encoding="utf-8"))
    spec["scenario"]["requests"] = 400
    spec["axes"]["devices.0.arrivals.rate_per_s"] = [LIGHT, HEAVY]
    spec["policies"] = ["joint", "joint-queue-aware", "on-device"]
    spec["seeds"] = [1]
    directory = tmp_path_factory.mktemp("multi-user")
    small = directory / "small.yaml"
    small.write_text(yaml.safe_dump(spec), encoding="utf-8")
    run_sweep(load_plan(small), directory / "out", SerialExecutor(), progress=False)
    return study_table(directory / "out").set_index(["channel", "rate_per_device_per_s", "policy"])


def test_every_configuration_is_in_the_table(table):
    assert len(table) == 2 * 2 * 3
    assert (table["seeds"] == 1).all()


def test_joint_fills_the_server_and_misses_deadlines_even_at_light_load(table):
    light = table.loc[("none", LIGHT, "joint")]
    assert light["latency_p99_s"] > 0.35  # the server is held for most of T0 per request
    assert light["deadline_met"] < 0.95
    heavy = table.loc[("none", HEAVY, "joint")]
    assert heavy["server_utilisation"] > 0.9
    assert heavy["deadline_met"] < 0.2


def test_queue_aware_meets_deadlines_by_pruning(table):
    for channel in ("none", "rayleigh"):
        joint = table.loc[(channel, HEAVY, "joint")]
        aware = table.loc[(channel, HEAVY, "joint-queue-aware")]
        assert aware["deadline_met"] > 0.9 > 0.2 > joint["deadline_met"]
        assert aware["kept_fraction"] < joint["kept_fraction"] - 0.1


def test_every_policy_spends_its_energy_budget(table):
    assert table["energy_per_request_j"].between(0.0075, 0.0081).all()  # fading: a little over
    none = table.xs("none", level="channel")
    assert (none["energy_over_budget"] == 0.0).all()  # no fading: the prediction holds


def test_on_device_is_blind_to_the_server(table):
    for channel in ("none", "rayleigh"):
        device = table.loc[(channel, HEAVY, "on-device")]
        assert device["deadline_met"] > 0.9
        assert device["kept_fraction"] < 0.45


def test_figures_and_markdown(table, tmp_path):
    flat = table.reset_index()
    path = save(plot_channel(flat, "rayleigh", 0.35, 0.008), tmp_path / "rayleigh.png")
    assert path.stat().st_size > 10_000
    text = markdown(flat)
    assert text.count("\n") == len(flat) + 1


def test_the_lte_variant_is_a_valid_scenario_where_trace_replay_exists():
    """multi-user-lte.yaml needs ``devices.N.link_trace`` (trace replay, landed separately); its
    runs also need the Mahimahi trace file (the slow docs command reads ../shared/traces)."""
    from coinfer.emulator.scenario.schema import DeviceGroup, scenario_from_dict

    if "link_trace" not in DeviceGroup.model_fields:
        pytest.skip("this checkout's scenario schema has no trace replay (devices.N.link_trace)")
    spec = yaml.safe_load(SWEEP.with_name("multi-user-lte.yaml").read_text(encoding="utf-8"))
    scenario = scenario_from_dict(spec["scenario"])
    assert scenario.devices[0].link_trace.reference == "mahimahi/TMobile-LTE-short.up"
    assert len(spec["policies"]) == 8


def test_each_point_of_the_figures_carries_the_ci_over_seeds_inside_its_domain():
    """Two seeds of one configuration: the mean and the 95 % Student-t half-width (t_0.975,1 =
    12.706); a share's bar stays in [0, 1] on the figure."""
    import numpy as np

    frame = pd.DataFrame(
        {
            "policy": ["joint", "joint"],
            "channel": ["none", "none"],
            "rate_per_device_per_s": [0.1, 0.1],
            "offered_load_per_s": [2.0, 2.0],
            "deadline_met": [0.9, 1.0],
        }
    )
    keys = ["policy", "channel", "rate_per_device_per_s"]
    table = seed_means(frame, keys, ["offered_load_per_s", "deadline_met"])
    assert table["seeds"].tolist() == [2]
    assert table["deadline_met"].iloc[0] == pytest.approx(0.95)
    assert table["deadline_met_ci95"].iloc[0] == pytest.approx(12.7062047 * 0.05, rel=1e-6)
    for metric in set(METRICS) - {"deadline_met"}:
        table[metric], table[f"{metric}_ci95"] = 0.5, 0.1
    figure = plot_channel(table, "none", 0.35, 0.008)
    (bar,) = figure.axes[1].containers
    ends = np.array([segment[:, 1] for segment in bar.lines[2][0].get_segments()])
    assert ends.min() == pytest.approx(0.95 - 12.7062047 * 0.05, rel=1e-6) and ends.max() == 1.0


def test_missing_traces_exit_2_with_the_message_and_no_traceback(tmp_path, monkeypatch, capsys):
    """Without the LTE trace the study says which trace is missing and where it looked."""
    from examples.paper.multi_user import main

    monkeypatch.delenv("COINFER_TRACE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    lte = SWEEP.with_name("multi-user-lte.yaml")
    status = main([str(tmp_path / "sweep"), "--out", str(tmp_path / "o"), "--run", str(lte)])
    out, err = capsys.readouterr()
    assert status == 2 and not out
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "not found" in err and "--trace-dir" in err
