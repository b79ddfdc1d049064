"""``coinfer solve``: one decision in the paper's setting, its prediction and its breakdown."""

import json

import pytest

from coinfer.emulator.api.solve import Instance, solve
from coinfer.emulator.cli.main import build_parser, main
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.reference import log_distance_gain, uplink_rate_bps
from coinfer.policies.registry import builtin_policies
from tests.policies.plugins import write_module

BERT = ModelCatalog.builtin().get("bert-paper")
DECISION_FIELDS = {
    "split",
    "rho_device",
    "rho_server",
    "tx_power_w",
    "f_device_hz",
    "f_server_hz",
    "feasible",
    "predicted_latency_s",
    "predicted_energy_j",
    "distortion_bound",
    "kept_fraction",
    "device_energy_j",
}

#: A policy that searches ``splits`` and bounds ρ below by ``rho_min`` (what joint policies take).
SEARCHING_POLICY = """
from pydantic import Field

from coinfer.policies.base import Decision, Policy


class Searching(Policy):
    name = "searching"
    summary = "takes the first allowed split, keeps rho_min of each side"

    class Params(Policy.Params):
        splits: list[int] | None = Field(default=None, description="allowed split points")
        rho_min: float = Field(default=0.0, ge=0, le=1, description="lowest kept fraction")

    def decide(self, context):
        split = self.params.splits[0] if self.params.splits else 0
        rho = max(self.params.rho_min, 0.1)
        d, s = context.device, context.server
        return Decision(split, rho, rho, d.max_tx_power_w, d.f_max_hz, s.f_max_hz, 1.0, 1.0, 1.0)
"""

PLAIN_POLICY = """
from coinfer.policies.base import Decision, Policy


class Plain(Policy):
    name = "plain"

    def decide(self, context):
        d, s = context.device, context.server
        return Decision(0, 1.0, 1.0, d.max_tx_power_w, d.f_max_hz, s.f_max_hz, 1.0, 1.0, 1.0)
"""


def solve_json(capsys, *argv):
    status = main(["solve", *argv, "--json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    return json.loads(out)


def refused(capsys, *argv):
    status = main(["solve", *argv])
    out, err = capsys.readouterr()
    assert status == 2 and not out and "Traceback" not in err
    return err


def test_the_default_policy_is_joint_and_the_default_setting_the_papers():
    args = build_parser().parse_args(["solve"])
    assert args.policy == "joint" and args.model == "bert-paper"
    assert (args.device, args.server) == ("paper-device", "paper-server")
    link = Instance().link
    assert link.resolved_gain == pytest.approx(2.77e-11, rel=2e-3)
    assert (link.distance_m, link.bandwidth_hz, link.noise_psd_w_per_hz) == (500, 5e6, 2e-19)


@pytest.mark.skipif("joint" not in builtin_policies(), reason="the joint policy is not built in")
def test_the_issue_example_solves_a_point_of_fig_4c(capsys):
    data = solve_json(capsys, "--model", "bert-paper", "--split", "4", "--t0", "0.24",
                      "--e0", "0.015")  # fmt: skip
    assert set(data) >= DECISION_FIELDS and data["split"] == 4 and data["feasible"]
    assert data["predicted_latency_s"] <= 0.24 * (1 + 1e-9)
    assert data["predicted_energy_j"] <= 0.015 * (1 + 1e-9)
    assert 0 < data["kept_fraction"] < 1


def test_fixed_at_split_4_matches_the_reference_model_by_hand(capsys):
    data = solve_json(capsys, "--policy", "fixed", "--split", "4", "--t0", "0.24", "--e0", "0.015")
    assert set(data) >= DECISION_FIELDS
    assert (data["split"], data["rho_device"], data["rho_server"]) == (4, 1.0, 1.0)
    assert (data["tx_power_w"], data["f_device_hz"], data["f_server_hz"]) == (0.5, 1e9, 4e9)
    parts = data["breakdown"]
    gain = float(log_distance_gain(500.0))
    rate = float(uplink_rate_bps(0.5, gain, 5e6, 2e-19))
    assert parts["device_compute_s"] == pytest.approx(BERT.device_flops[4] / (32 * 1e9))
    assert parts["server_compute_s"] == pytest.approx(BERT.server_flops[4] / (128 * 4e9))
    assert parts["upload_s"] == pytest.approx(BERT.payload_bits[4] / rate)
    assert parts["server_compute_j"] == pytest.approx(
        2 * 1e-28 * (4e9) ** 2 * BERT.server_flops[4] / 128
    )
    assert data["predicted_latency_s"] == pytest.approx(parts["latency_s"], rel=1e-12)
    assert data["predicted_energy_j"] == pytest.approx(parts["energy_j"], rel=1e-12)
    assert data["device_energy_j"] == pytest.approx(parts["device_compute_j"] + parts["upload_j"])
    assert data["predicted_latency_s"] == pytest.approx(0.2564, abs=1e-4)  # > T0 = 0.24 s
    assert not data["feasible"] and not parts["meets_deadline"]
    assert data["kept_fraction"] == 1.0
    assert data["setting"]["gain"] == pytest.approx(gain) and data["setting"]["deadline_s"] == 0.24


def test_kept_fraction_is_rho_q_plus_rho_s_over_n(capsys):
    data = solve_json(capsys, "--policy", "fixed", "--split", "6", "--param", "rho_device=0.5",
                      "--param", "rho_server=0.8")  # fmt: skip
    expected = (0.5 * BERT.device_params[6] + 0.8 * BERT.server_params[6]) / BERT.total_params
    assert data["kept_fraction"] == pytest.approx(expected)
    assert data["setting"]["deadline_s"] is None  # no budget by default
    assert data["feasible"]


def test_the_text_output_shows_the_decision_and_the_breakdown(capsys):
    assert main(["solve", "--policy", "fixed", "--split", "4", "--t0", "0.26"]) == 0
    out = capsys.readouterr().out
    head, decision, breakdown, _ = out.split("\n\n")
    assert "d = 500 m" in head and "T0 = 0.26 s" in head and "E0 = none" in head
    rows = dict(line.split(None, 1) for line in decision.splitlines()[2:])
    assert rows["split"] == "4" and rows["feasible"] == "yes" and rows["kept_fraction"] == "1"
    stages = [line.split("  ")[0] for line in breakdown.splitlines()[2:]]
    assert stages == ["device compute", "upload", "server compute", "total"]


G500 = float(log_distance_gain(500.0))


@pytest.mark.parametrize(
    ("setting", "field", "expected"),
    [
        ("device.f_max_hz=2e9", "f_device_hz", 2e9),
        (
            "server.pue=1.5",
            "breakdown.server_compute_j",
            1.5e-28 * 16e18 * BERT.server_flops[4] / 128,
        ),
        ("channel.distance_m=300", "setting.gain", float(log_distance_gain(300.0))),
        ("channel.exponent=3", "setting.gain", 1e-3 * 500.0**-3),
        ("channel.gain=1e-11", "setting.gain", 1e-11),
        (
            "channel.bandwidth_hz=10e6",
            "breakdown.rate_bps",
            float(uplink_rate_bps(0.5, G500, 10e6, 2e-19)),
        ),
        (
            "channel.noise_psd_w_per_hz=4e-19",
            "breakdown.rate_bps",
            float(uplink_rate_bps(0.5, G500, 5e6, 4e-19)),
        ),
        ("request.work_scale=2", "breakdown.device_compute_s", 2 * BERT.device_flops[4] / 32e9),
    ],
)
def test_set_changes_one_hardware_channel_or_request_number(capsys, setting, field, expected):
    data = solve_json(capsys, "--policy", "fixed", "--split", "4", "--set", setting)
    for key in field.split("."):
        data = data[key]
    assert data == pytest.approx(expected, rel=1e-12)


def test_split_becomes_splits_for_a_searching_policy_and_rho_min_its_bound(
    capsys, monkeypatch, tmp_path
):
    module = write_module(tmp_path, SEARCHING_POLICY)
    monkeypatch.syspath_prepend(str(tmp_path))
    policy = f"{module}:Searching"
    data = solve_json(capsys, "--policy", policy, "--split", "7", "--rho-min", "0.3")
    assert data["split"] == 7 and data["rho_device"] == 0.3 and data["policy"] == "searching"
    data = solve_json(capsys, "--policy", policy, "--param", "splits=[5, 6]")
    assert data["split"] == 5  # --split omitted: the policy's own list
    err = refused(capsys, "--policy", policy, "--split", "4", "--param", "splits=[5]")
    assert "--split 4 and --param splits=[5] both set splits; give one" in err


def test_split_and_rho_min_need_a_policy_that_takes_them(capsys, monkeypatch, tmp_path):
    module = write_module(tmp_path, PLAIN_POLICY)
    monkeypatch.syspath_prepend(str(tmp_path))
    err = refused(capsys, "--policy", f"{module}:Plain", "--split", "4")
    assert "--split: policy" in err and "takes no split or splits parameter" in err
    err = refused(capsys, "--policy", "fixed", "--rho-min", "0.5")
    assert "--rho-min: policy 'fixed' takes no rho_min parameter" in err


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (
            ["--set", "device.foo=1"],
            "got key 'device.foo', expected one of: device.f_min_hz",
        ),
        (["--set", "disk.size=1"], "--set: got key 'disk.size', expected device.FIELD"),
        (["--set", "device.pue"], "--set: got 'device.pue', expected KEY=VALUE"),
        (["--set", "device.pue=0.5"], "--set device.pue=0.5: pue: got 0.5, expected"),
        (["--set", "channel.gain=abc"], "--set channel.gain: got 'abc', expected a number"),
        (["--set", "channel.distance_m=inf"], "got 'inf', expected a finite number"),
        (["--set", "channel.bandwidth_hz=-1"], "bandwidth_hz: got -1.0, expected"),
        (["--set", "server.max_tx_power_w=1"], "max_tx_power_w is for devices only"),
        (["--model", "gpt-17"], "--model: unknown model 'gpt-17'; expected one of:"),
        (["--device", "paper-server"], "--device: hardware class 'paper-server' is a server"),
        (["--server", "h200"], "--server: unknown"),
        (["--split", "13"], "--split: got 13, expected a split point in 0..12 for model"),
        (
            ["--param", "bogus=1"],
            "bogus: unknown field 'bogus' (got 1), expected one of the fields",
        ),
        (["--param", "rho_device"], "--param: got 'rho_device', expected KEY=VALUE"),
        (["--param", "rho_device=2"], "rho_device: got 2, expected"),
        (["--param", "split=3", "--split", "4"], "--split 4 and --param split=3 both set split"),
    ],
)
def test_bad_input_exits_2_naming_the_flag_and_value(capsys, argv, shown):
    assert shown in refused(capsys, "--policy", "fixed", *argv)


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["--t0", "-1"], "argument --t0: got '-1', expected a positive number of seconds"),
        (["--e0", "x"], "argument --e0: got 'x', expected a positive number of joules"),
        (["--split", "-2"], "argument --split: got -2, expected a split point >= 0"),
        (["--rho-min", "1.5"], "argument --rho-min: got '1.5', expected a kept fraction in [0, 1]"),
        (["--seed", "a"], "argument --seed: got 'a', expected an integer >= 0"),
    ],
)
def test_bad_flag_values_are_refused_by_the_parser_with_exit_2(capsys, argv, shown):
    with pytest.raises(SystemExit) as exit_info:
        main(["solve", "--policy", "fixed", *argv])
    assert exit_info.value.code == 2 and shown in capsys.readouterr().err


def test_an_unknown_policy_exits_2(capsys):
    assert "unknown policy 'oracle'" in refused(capsys, "--policy", "oracle")


def test_solve_from_python_uses_the_same_setting():
    instance = Instance(deadline_s=0.26).with_settings(["channel.distance_m=300"])
    solution = solve(instance, "fixed", {"split": 4})
    assert solution.policy == "fixed" and solution.context.gain == pytest.approx(
        float(log_distance_gain(300.0))
    )
    assert solution.context.deadline_s == 0.26 and solution.context.server_queue_length == 0
    assert solution.decision.predicted_latency_s == pytest.approx(float(solution.cost.latency_s))


def test_docs_list_every_set_key_outside_the_hardware_fields():
    from pathlib import Path

    from coinfer.emulator.api.solve import SET_KEYS

    text = (Path(__file__).resolve().parents[2] / "docs" / "policies.md").read_text("utf-8")
    missing = [
        f"{section}.{key}"
        for section in ("channel", "request")
        for key in SET_KEYS[section]
        if f"`{section}.{key}`" not in text
    ]
    assert not missing, f"docs/policies.md does not list --set keys {missing}"
