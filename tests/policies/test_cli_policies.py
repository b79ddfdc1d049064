"""``coinfer policies``: one line per policy, JSON with sources and parameters, ``show``."""

import json
import re
from pathlib import Path

import pytest

from coinfer.emulator.cli.main import main
from coinfer.policies.builtin import BUILTIN_POLICY_CLASSES
from coinfer.policies.registry import known_policies
from tests.policies.plugins import install_distribution, policy_source, write_module

ROOT = Path(__file__).resolve().parents[2]


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_the_table_has_one_line_per_policy_with_its_summary(capsys):
    status, out, _ = run_cli(capsys, "policies")
    assert status == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["name", "summary"]
    policies = known_policies()
    assert len(lines) == 2 + len(policies)
    for line, (name, cls) in zip(lines[2:], policies.items(), strict=True):
        assert line.startswith(name + " ") and line.endswith(cls.summary)


def test_json_gives_name_summary_source_and_typed_parameters(capsys):
    status, out, _ = run_cli(capsys, "policies", "--json")
    assert status == 0
    entries = {entry["name"]: entry for entry in json.loads(out)}
    assert set(entries) == set(known_policies())
    fixed = entries["fixed"]
    assert fixed["source"] == "builtin" and fixed["summary"]
    parameters = {p["name"]: p for p in fixed["parameters"]}
    assert parameters["rho_device"] == {
        "name": "rho_device",
        "type": "number",
        "default": 1.0,
        "required": False,
        "description": "device kept fraction ρ",
        "constraints": {"minimum": 0, "maximum": 1},
    }
    assert parameters["split"]["type"] == "integer | null"
    assert parameters["split"]["default"] is None
    assert parameters["tx_power_w"]["constraints"] == {"exclusiveMinimum": 0}


def test_show_prints_the_parameters_of_one_policy(capsys):
    status, out, _ = run_cli(capsys, "policies", "show", "fixed")
    assert status == 0
    head, table = out.split("\n\n", 1)
    assert head.startswith("fixed (builtin): ")
    rows = {line.split()[0]: line for line in table.splitlines()[2:]}
    assert "rho_device" in rows and "[≥ 0, ≤ 1]" in rows["rho_device"]
    assert rows["split"].split()[1:4] == ["integer", "|", "null"]


def test_show_accepts_module_class_and_reports_its_module(capsys, monkeypatch, tmp_path):
    module = write_module(tmp_path, policy_source("mine"))
    monkeypatch.syspath_prepend(str(tmp_path))
    status, out, _ = run_cli(capsys, "policies", "show", f"{module}:Plugged", "--json")
    assert status == 0
    entry = json.loads(out)
    assert entry["name"] == "mine" and entry["source"] == module
    assert [p["name"] for p in entry["parameters"]] == ["rho_device"]


def test_an_installed_plugin_is_listed_with_its_distribution(capsys, monkeypatch, tmp_path):
    install_distribution(
        monkeypatch, tmp_path, "acme-policies", {"acme": "{module}:Plugged"}, policy_source("acme")
    )
    status, out, _ = run_cli(capsys, "policies", "--json")
    assert status == 0
    entries = {entry["name"]: entry for entry in json.loads(out)}
    assert entries["acme"]["source"] == "acme-policies"
    assert entries["acme"]["summary"] == "a plug-in policy for tests"
    status, out, _ = run_cli(capsys, "policies")
    assert any(line.startswith("acme ") for line in out.splitlines())


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["policies", "show", "oracle"], "unknown policy 'oracle'; expected one of: "),
        (["policies", "show", "nomodule:X"], "no module named 'nomodule'"),
    ],
)
def test_bad_names_exit_2(capsys, argv, shown):
    status, _, err = run_cli(capsys, *argv)
    assert status == 2 and shown in err and "Traceback" not in err


def test_a_broken_plugin_stops_the_listing_naming_it(capsys, monkeypatch, tmp_path):
    install_distribution(monkeypatch, tmp_path, "acme-bad", {"broken": "no_such_module:X"})
    status, _, err = run_cli(capsys, "policies")
    assert status == 2
    assert "policy 'broken' (entry point 'no_such_module:X' of distribution 'acme-bad')" in err


def test_docs_policies_covers_every_builtin_and_its_parameters():
    text = (ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    for cls in BUILTIN_POLICY_CLASSES:
        assert re.search(rf"^#+ `{re.escape(cls.name)}`", text, re.MULTILINE), (
            f"docs/policies.md has no section for policy {cls.name!r}"
        )
        missing = [name for name in cls.Params.model_fields if f"`{name}`" not in text]
        assert not missing, f"docs/policies.md does not describe {cls.name} parameters {missing}"
