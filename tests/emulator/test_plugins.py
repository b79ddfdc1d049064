"""One plug-in mechanism for every family: entry points or ``module:Class``, checked alike.

The generic behaviour is shown on a family made up for the test (``greeters``, whose protocol
:class:`Greeter` is below); every real family is then checked to register its built-ins through
coinfer's own entry points, each implementing the family's protocol.
"""

from __future__ import annotations

import re
import sys
from typing import ClassVar, Protocol

import pytest
from pydantic import BaseModel

from coinfer.emulator.errors import InputError
from coinfer.emulator.plugins import BUILTIN_DISTRIBUTION, FAMILIES, Family
from tests.policies.plugins import install_distribution, write_module


class Greeter(Protocol):
    """The protocol of the test family: a class with ``Params`` and ``greet``."""

    Params: ClassVar[type[BaseModel]]

    def greet(self) -> str: ...


GREETERS = Family("test_greeters", "greeter", "greeters", "kind", f"{__name__}:Greeter")

GREETER_SOURCE = """
from pydantic import BaseModel


class Hello:
    class Params(BaseModel):
        loud: bool = False

    def greet(self):
        return "hello"


class Mute:
    class Params(BaseModel):
        pass


class NoParams:
    def greet(self):
        return "?"


def helper():
    return None
"""


def install_greeters(monkeypatch, tmp_path, points: dict[str, str], dist: str = "acme-greet"):
    return install_distribution(
        monkeypatch, tmp_path, dist, points, GREETER_SOURCE, group=GREETERS.group
    )


# ---- entry points -------------------------------------------------------------------------


def test_a_family_names_its_entry_point_group():
    assert GREETERS.group == "coinfer.test_greeters"
    assert FAMILIES["servers"].group == "coinfer.servers"


def test_an_entry_point_is_found_by_name_and_listing_imports_nothing(monkeypatch, tmp_path):
    module = install_greeters(monkeypatch, tmp_path, {"hello": "{module}:Hello"})
    assert GREETERS.names() == ["hello"]
    assert module not in sys.modules  # listing names does not import the plug-in
    cls = GREETERS.load("hello")
    assert cls().greet() == "hello" and GREETERS.params("hello") is cls.Params
    assert GREETERS.source("hello") == "acme-greet"
    assert GREETERS.known() == {"hello": cls}


def test_a_name_installed_later_in_the_process_is_found(monkeypatch, tmp_path):
    """Entry points are read again when ``sys.path`` changes or a directory on it does."""
    assert GREETERS.names() == []
    install_greeters(monkeypatch, tmp_path / "one", {"hello": "{module}:Hello"}, "acme-one")
    assert GREETERS.names() == ["hello"]
    # a second distribution written into a directory already on sys.path
    site = tmp_path / "one" / "site-acme-one"
    info = site / "acme_two-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-two\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{GREETERS.group}]\nmute = x:Mute\n")
    assert GREETERS.names() == ["hello", "mute"]


def test_the_first_distribution_of_a_name_wins(monkeypatch, tmp_path):
    install_greeters(monkeypatch, tmp_path / "a", {"hello": "{module}:Hello"}, "acme-a")
    install_greeters(monkeypatch, tmp_path / "b", {"hello": "{module}:Mute"}, "acme-b")
    assert GREETERS.source("hello") == "acme-b"  # prepended last: first on sys.path


def test_a_builtin_name_cannot_be_taken_over(monkeypatch, tmp_path):
    policies = FAMILIES["policies"]
    builtin = policies.load("fixed")
    install_distribution(
        monkeypatch, tmp_path, "evil", {"fixed": "{module}:Hello"}, GREETER_SOURCE, policies.group
    )
    assert policies.load("fixed") is builtin and policies.source("fixed") == "builtin"


# ---- failures name the family, the name and the known names ---------------------------------


def test_an_unknown_name_lists_the_known_ones(monkeypatch, tmp_path):
    install_greeters(monkeypatch, tmp_path, {"hello": "{module}:Hello", "mute": "{module}:Mute"})
    with pytest.raises(InputError) as info:
        GREETERS.load("howdy")
    message = str(info.value)
    assert message.startswith("unknown greeter 'howdy'; expected one of: hello, mute")
    assert "or module:Class naming a class implementing tests.emulator.test_plugins.Greeter" in (
        message
    )


def test_a_plugin_that_does_not_import_is_refused_with_its_own_error_chained(monkeypatch, tmp_path):
    install_greeters(monkeypatch, tmp_path, {"ok": "{module}:Hello", "bad": "no_such_mod:X"})
    with pytest.raises(InputError) as info:
        GREETERS.load("bad")
    message = str(info.value)
    assert message.startswith(
        "greeter 'bad' (entry point 'no_such_mod:X' of distribution 'acme-greet') does not "
        "load: ModuleNotFoundError: No module named 'no_such_mod'"
    )
    assert message.endswith("(known greeters: bad, ok)")
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


@pytest.mark.parametrize(
    ("attribute", "shown"),
    [
        ("Mute", "class Mute does not implement tests.emulator.test_plugins.Greeter (missing "
                 "greet)"),
        ("NoParams", "class NoParams does not implement tests.emulator.test_plugins.Greeter "
                     "(missing Params)"),
        ("helper", "expected a class implementing tests.emulator.test_plugins.Greeter"),
    ],
)  # fmt: skip
def test_a_class_that_does_not_implement_the_protocol_is_refused(
    monkeypatch, tmp_path, attribute, shown
):
    install_greeters(monkeypatch, tmp_path, {"it": "{module}:" + attribute})
    with pytest.raises(InputError, match="greeter 'it' .*" + re.escape(shown)):
        GREETERS.load("it")


def test_module_class_names_a_class_directly(monkeypatch, tmp_path):
    module = write_module(tmp_path, GREETER_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert GREETERS.load(f"{module}:Hello")().greet() == "hello"
    assert GREETERS.source(f"{module}:Hello") == module
    with pytest.raises(InputError) as info:
        GREETERS.load(f"{module}_absent:Hello")
    assert "greeter 'coinfer_test_" in str(info.value) and "no module named" in str(info.value)
    with pytest.raises(InputError, match="expected module:Class"):
        GREETERS.load("not a module:Hello")


def test_a_module_that_fails_to_import_is_chained(monkeypatch, tmp_path):
    module = write_module(tmp_path, "raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(InputError, match="RuntimeError: boom at import") as info:
        GREETERS.load(f"{module}:Hello")
    assert isinstance(info.value.__cause__, RuntimeError)


# ---- every real family ----------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES.values(), ids=lambda family: family.name)
def test_every_family_registers_its_builtins_through_coinfer_entry_points(family):
    """coinfer declares each family's built-ins in its pyproject.toml (installed metadata);
    each loads, implements the family's protocol and has a typed ``Params`` model."""
    names = family.builtin_names()
    assert names, f"no {family.group} entry points of {BUILTIN_DISTRIBUTION} (reinstall?)"
    for name in names:
        cls = family.load(name)
        assert issubclass(cls.Params, BaseModel)
        assert family.source(name) == "builtin"
