"""docs/writing-a-policy.md: its policy is the example file, and it runs from a scenario."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from coinfer.emulator.cli.main import main
from coinfer.emulator.scenario.schema import load_scenario
from coinfer.policies.registry import make_policy, policy_class
from tests.policies.contexts import context
from tests.policies.plugins import install_distribution

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "writing-a-policy.md"
POLICY_FILE = ROOT / "examples" / "policies" / "my_policy.py"
SCENARIO = "examples/policies/custom-policy.yaml"
NAME = "examples.policies.my_policy:GreedyPowerPolicy"


@pytest.fixture(autouse=True)
def repository_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def fenced(language: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def test_the_doc_shows_the_example_file_whole():
    assert POLICY_FILE.read_text(encoding="utf-8") in fenced("python")
    assert len(POLICY_FILE.read_text(encoding="utf-8").splitlines()) <= 35


def test_the_doc_shows_the_scenarios_policy_block():
    shown = yaml.safe_load(fenced("yaml")[0])["policy"]
    assert shown == load_scenario(SCENARIO).policy.model_dump()
    assert shown["name"] == NAME


def test_the_doc_entry_point_block_registers_the_class_under_its_name():
    toml = fenced("toml")[0]
    assert '[project.entry-points."coinfer.policies"]' in toml
    assert toml.split("\n")[1].split(" = ")[0] == policy_class(NAME).name


def test_the_policy_picks_the_lowest_power_that_meets_the_deadline():
    policy = make_policy(NAME, {"split": 4, "levels": 64}, np.random.default_rng(0))
    decision = policy.decide(context(deadline_s=0.26))
    assert decision.feasible and decision.predicted_latency_s <= 0.26
    assert decision.tx_power_w < 0.5 / 4 and decision.f_device_hz == 1e9
    lower = policy.decide(context(deadline_s=0.26, gain=2.77e-11 * 4)).tx_power_w
    assert lower < decision.tx_power_w  # a better channel needs less power
    hopeless = policy.decide(context(deadline_s=0.2))
    assert hopeless.tx_power_w == 0.5 and not hopeless.feasible


def test_the_example_scenario_runs_through_the_cli(capsys, tmp_path):
    status = main(["run", SCENARIO, "--out", str(tmp_path)])
    _, err = capsys.readouterr()
    assert status == 0, err
    trace = pd.read_parquet(tmp_path / "trace.parquet")
    assert len(trace) == 50 and (trace["policy"] == "greedy-power").all()
    assert (trace["split"] == 4).all() and (trace["status"] == "completed").all()
    assert trace["tx_power_w"].max() <= 0.5 and trace["tx_power_w"].nunique() > 3  # fading
    met = (trace["latency_s"] <= 0.26).mean()
    assert 0.3 < met < 0.8  # "about half" miss by a few ms, as the doc says
    assert trace["latency_s"].max() < 0.3


def test_bad_parameters_of_the_example_are_refused_by_validate(capsys):
    status = main(["validate", SCENARIO, "--set", "policy.params.levels=0"])
    _, err = capsys.readouterr()
    assert status == 2 and "levels: got 0" in err


def test_the_entry_point_way_runs_the_policy_by_its_short_name(capsys, monkeypatch, tmp_path):
    install_distribution(monkeypatch, tmp_path, "my-policies", {"greedy-power": NAME})
    status = main(["run", SCENARIO, "--set", "policy.name=greedy-power", "--set", "requests=5",
                   "--out", str(tmp_path / "run")])  # fmt: skip
    assert status == 0, capsys.readouterr().err
    trace = pd.read_parquet(tmp_path / "run" / "trace.parquet")
    assert (trace["policy"] == "greedy-power").all()
    status = main(["policies", "--json"])
    assert status == 0 and '"source": "my-policies"' in capsys.readouterr().out
