"""Finding policies: built-ins, entry points of installed distributions, and module:Class."""

import re
import sys

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

from coinfer.emulator.cli.main import main
from coinfer.emulator.errors import InputError
from coinfer.policies.base import Policy
from coinfer.policies.builtin import BUILTIN_POLICY_CLASSES
from coinfer.policies.fixed import FixedPolicy
from coinfer.policies.registry import (
    builtin_policies,
    known_policies,
    make_policy,
    policy_class,
    policy_source,
)
from tests.policies.contexts import context
from tests.policies.plugins import install_distribution, write_module
from tests.policies.plugins import policy_source as plugin_source

PAPER = "examples/scenarios/paper-single.yaml"


@pytest.fixture(autouse=True)
def repository_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)


# ---- built-ins ------------------------------------------------------------------------------


def test_builtin_names_are_unique_and_fixed_is_one():
    names = [cls.name for cls in BUILTIN_POLICY_CLASSES]
    assert len(names) == len(set(names))
    assert builtin_policies()["fixed"] is FixedPolicy
    assert policy_class("fixed") is FixedPolicy and policy_source("fixed") == "builtin"


@pytest.mark.parametrize("cls", BUILTIN_POLICY_CLASSES, ids=lambda cls: cls.name)
def test_every_builtin_has_a_one_line_summary_and_documented_parameters(cls):
    assert cls.summary and "\n" not in cls.summary
    assert issubclass(cls, Policy) and issubclass(cls.Params, BaseModel)
    undocumented = [n for n, f in cls.Params.model_fields.items() if not f.description]
    assert not undocumented, f"{cls.name}: parameters without a description: {undocumented}"
    assert cls.Params.model_config.get("extra") == "forbid"  # unknown parameters refused


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(InputError) as info:
        policy_class("oracle")
    message = str(info.value)
    assert message.startswith("unknown policy 'oracle'; expected one of: ")
    assert "fixed" in message and "module:Class" in message


def test_make_policy_validates_parameters():
    policy = make_policy("fixed", {"split": 3}, np.random.default_rng(0))
    assert policy.decide(context()).split == 3
    with pytest.raises(InputError, match="bogus"):
        make_policy("fixed", {"bogus": 1}, np.random.default_rng(0))


# ---- entry points ---------------------------------------------------------------------------


def test_an_installed_entry_point_is_found_by_name(monkeypatch, tmp_path):
    module = install_distribution(
        monkeypatch, tmp_path, "acme-policies", {"acme": "{module}:Plugged"}, plugin_source("acme")
    )
    assert module not in sys.modules  # listing names does not import the plug-in
    with pytest.raises(InputError, match=r"expected one of: .*acme"):
        policy_class("nope")
    assert module not in sys.modules
    cls = policy_class("acme")
    assert cls.__module__ == module and cls.name == "acme"
    assert policy_source("acme") == "acme-policies"
    assert known_policies()["acme"] is cls and "fixed" in known_policies()
    decision = make_policy("acme", {"rho_device": 0.5}, np.random.default_rng(0)).decide(context())
    assert decision.rho_device == 0.5 and decision.split == 12


def test_a_scenario_names_an_entry_point_policy(monkeypatch, tmp_path, capsys):
    install_distribution(
        monkeypatch, tmp_path, "acme-policies", {"acme": "{module}:Plugged"}, plugin_source("acme")
    )
    out = tmp_path / "run"
    status = main(["run", PAPER, "--set", "policy.name=acme", "--set", "policy.params={}",
                   "--set", "requests=3", "--out", str(out)])  # fmt: skip
    assert status == 0, capsys.readouterr().err
    trace = pd.read_parquet(out / "trace.parquet")
    assert (trace["policy"] == "acme").all() and (trace["split"] == 12).all()


def test_a_builtin_name_cannot_be_taken_over(monkeypatch, tmp_path):
    install_distribution(
        monkeypatch, tmp_path, "evil", {"fixed": "{module}:Plugged"}, plugin_source("fixed")
    )
    assert policy_class("fixed") is FixedPolicy
    assert known_policies()["fixed"] is FixedPolicy


@pytest.mark.parametrize(
    ("entry", "value", "shown"),
    [
        ("broken", "{module}_missing:Plugged", "does not load: ModuleNotFoundError"),
        ("absent", "{module}:Nope", "does not load: AttributeError"),
        ("notapolicy", "{module}:helper", "expected a subclass of coinfer.policies.base.Policy"),
        ("misnamed", "{module}:Plugged", "loads a policy named 'acme'; expected its name"),
    ],
)
def test_a_broken_entry_point_is_refused_naming_it(
    monkeypatch, tmp_path, capsys, entry, value, shown
):
    install_distribution(monkeypatch, tmp_path, "acme-bad", {entry: value}, plugin_source("acme"))
    with pytest.raises(InputError) as info:
        policy_class(entry)
    message = str(info.value)
    assert f"policy {entry!r} (entry point" in message and "'acme-bad'" in message
    assert shown in message
    with pytest.raises(InputError, match=re.escape(shown)):
        known_policies()
    status = main(["validate", PAPER, "--set", f"policy.name={entry}"])
    _, err = capsys.readouterr()
    assert status == 2 and shown in err and "Traceback" not in err


# ---- module:Class ---------------------------------------------------------------------------


def test_module_class_imports_the_class(monkeypatch, tmp_path):
    module = write_module(tmp_path, plugin_source("mine"))
    monkeypatch.syspath_prepend(str(tmp_path))
    cls = policy_class(f"{module}:Plugged")
    assert cls.name == "mine" and policy_source(f"{module}:Plugged") == module
    assert make_policy(f"{module}:Plugged", {}, np.random.default_rng(0)).decide(context())


def test_module_class_falls_back_to_the_current_directory(monkeypatch, tmp_path):
    module = write_module(tmp_path, plugin_source("here"))
    monkeypatch.chdir(tmp_path)
    path_before = list(sys.path)
    assert policy_class(f"{module}:Plugged").name == "here"
    assert sys.path == path_before


BAD_MODULES = {
    "abstract": (
        "from coinfer.policies.base import Policy\nclass Half(Policy):\n    name = 'half'\n"
    ),
    "nameless": (
        "from coinfer.policies.base import Policy\nclass Anon(Policy):\n"
        "    def decide(self, context):\n        return None\n"
    ),
    "raises": "raise RuntimeError('boom at import')\n",
    "needs": "import coinfer_no_such_dependency\n",
}


@pytest.mark.parametrize(
    ("source", "attribute", "shown"),
    [
        (None, "Plugged", "no module named"),
        ("", "Plugged", "has no attribute 'Plugged'"),
        ("helper = 1\n", "helper", "got 1, expected a subclass of coinfer.policies.base.Policy"),
        (BAD_MODULES["abstract"], "Half", "class Half is abstract (does not implement decide)"),
        (BAD_MODULES["nameless"], "Anon", "class Anon has no name"),
        (BAD_MODULES["raises"], "X", "RuntimeError: boom at import"),
        (BAD_MODULES["needs"], "X", "No module named 'coinfer_no_such_dependency'"),
    ],
)
def test_a_bad_module_class_is_refused_naming_it(monkeypatch, tmp_path, source, attribute, shown):
    monkeypatch.syspath_prepend(str(tmp_path))
    module = "coinfer_test_absent_module" if source is None else write_module(tmp_path, source)
    spec = f"{module}:{attribute}"
    with pytest.raises(InputError) as info:
        policy_class(spec)
    assert str(info.value).startswith(f"policy {spec!r}: ") and shown in str(info.value)


@pytest.mark.parametrize("spec", ["a b:C", ":C", "mod:", "mod:C-D"])
def test_a_malformed_module_class_is_refused(spec):
    with pytest.raises(InputError, match="expected module:Class"):
        policy_class(spec)


# ---- validation before the run ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "shown"),
    [
        (
            "policy.params.bogus=1",
            "bogus: unknown field 'bogus' (got 1), expected one of the fields",
        ),
        ("policy.params.split=-1", "split: got -1"),
        ("policy.name=nomodule:Nope", "policy 'nomodule:Nope': no module named 'nomodule'"),
    ],
)
def test_validate_refuses_bad_policies_with_exit_2(capsys, override, shown):
    status = main(["validate", PAPER, "--set", override])
    _, err = capsys.readouterr()
    assert status == 2 and shown in err and "Traceback" not in err
