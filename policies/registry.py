"""Finding policies by name: built-ins, installed plug-ins, and ``module:Class``.

A policy name resolves, in this order, to

1. a built-in policy (:data:`policies.builtin.BUILTIN_POLICY_CLASSES`, by their ``name``);
2. a policy another distribution registers in the entry point group ``coinfer.policies``
   (``name = "package.module:Class"``), imported only when that name is asked for;
3. ``module:Class``: the module is imported (from ``sys.path``, then from the current directory,
   as ``python -m`` would) and the class must be a concrete :class:`~coinfer.policies.base.Policy`.

A built-in name cannot be taken over by a plug-in. Every failure (an unknown name, a plug-in that
does not import, a class that is not a policy) is an :class:`~coinfer.emulator.errors.InputError`
naming what was asked for, so ``coinfer validate`` refuses it with exit status 2 before any run.
Nothing is cached: each call reads the installed entry points afresh.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import numpy as np

from coinfer.emulator.errors import InputError, unknown_name_error
from coinfer.policies.base import Policy
from coinfer.policies.builtin import BUILTIN_POLICY_CLASSES

#: The entry point group third-party distributions register policies in.
ENTRY_POINT_GROUP = "coinfer.policies"
#: The source reported for built-in policies (see :func:`policy_source`).
BUILTIN_SOURCE = "builtin"


def builtin_policies() -> dict[str, type[Policy]]:
    """Built-in policy classes by name, in the order of ``BUILTIN_POLICY_CLASSES``."""
    return {cls.name: cls for cls in BUILTIN_POLICY_CLASSES}


def _plugin_entry_points() -> dict[str, EntryPoint]:
    """Installed ``coinfer.policies`` entry points by name (built-in names and repeats skipped)."""
    builtin = builtin_policies()
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name not in builtin and point.name not in found:
            found[point.name] = point
    return found


def _distribution_name(point: EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    return dist.name if dist is not None else "an unknown distribution"


def _load_entry_point(point: EntryPoint) -> type[Policy]:
    where = (
        f"policy {point.name!r} (entry point {point.value!r} of distribution "
        f"{_distribution_name(point)!r})"
    )
    try:
        loaded = point.load()
    except Exception as err:
        raise InputError(
            f"{where} does not load: {type(err).__name__}: {err}", value=point.value
        ) from err
    cls = _checked_policy_class(loaded, where)
    if cls.name != point.name:
        raise InputError(
            f"{where} loads a policy named {cls.name!r}; expected its name attribute to equal "
            f"the entry point name {point.name!r}",
            value=cls.name,
            expected=point.name,
        )
    return cls


def _checked_policy_class(obj: Any, where: str) -> type[Policy]:
    """``obj`` if it is a concrete Policy subclass with a name, else an InputError."""
    if not (isinstance(obj, type) and issubclass(obj, Policy)):
        raise InputError(
            f"{where}: got {obj!r}, expected a subclass of coinfer.policies.base.Policy",
            value=obj,
            expected="a subclass of coinfer.policies.base.Policy",
        )
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        raise InputError(
            f"{where}: class {obj.__name__} is abstract (does not implement {missing})"
        )
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name:
        raise InputError(
            f"{where}: class {obj.__name__} has no name; expected a class attribute "
            "name = '...' (the name traces and summaries show)"
        )
    return obj


class _ModuleMissingError(Exception):
    """The module itself (not one it imports) was not found."""


def _import_module(module_name: str, where: str) -> ModuleType:
    """Import ``module_name`` from ``sys.path``, else from the current directory."""
    try:
        return _import_or_none(module_name, where)
    except _ModuleMissingError:
        pass
    here = os.getcwd()
    if here not in sys.path:
        sys.path.append(here)
        try:
            return _import_or_none(module_name, where)
        except _ModuleMissingError:
            pass
        finally:
            sys.path.remove(here)
    raise InputError(
        f"{where}: no module named {module_name!r} on the Python path or in the current "
        f"directory {here!r}"
    )


def _import_or_none(module_name: str, where: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        missing = err.name or ""
        if missing == module_name or module_name.startswith(missing + "."):
            raise _ModuleMissingError from None
        raise InputError(f"{where}: importing {module_name!r} failed: {err}") from err
    except Exception as err:
        raise InputError(
            f"{where}: importing {module_name!r} failed: {type(err).__name__}: {err}"
        ) from err


def _load_module_class(spec: str) -> type[Policy]:
    """The class named by ``module:Class`` (``Class`` may be dotted: ``Outer.Inner``)."""
    where = f"policy {spec!r}"
    module_name, _, attribute = spec.partition(":")
    parts = attribute.split(".")
    if not all(p.isidentifier() for p in module_name.split(".")) or not all(
        p.isidentifier() for p in parts
    ):
        raise InputError(
            f"{where}: expected module:Class with a dotted module path and a class name, "
            "e.g. my_policies:GreedyPower",
            value=spec,
            expected="module:Class",
        )
    obj: Any = _import_module(module_name, where)
    for index, part in enumerate(parts):
        try:
            obj = getattr(obj, part)
        except AttributeError as err:
            owner = ".".join([module_name, *parts[:index]])
            raise InputError(f"{where}: {owner!r} has no attribute {part!r}", value=spec) from err
    return _checked_policy_class(obj, where)


def policy_class(name: str) -> type[Policy]:
    """The policy class registered under ``name`` (or named by ``module:Class``)."""
    builtin = builtin_policies()
    if name in builtin:
        return builtin[name]
    plugins = _plugin_entry_points()
    if name in plugins:
        return _load_entry_point(plugins[name])
    if ":" in name:
        return _load_module_class(name)
    raise unknown_name_error(
        "policy", name, [*builtin, *plugins], alternative="module:Class naming a Policy subclass"
    )


def policy_source(name: str) -> str:
    """Where ``name`` comes from: ``builtin``, the distribution of its entry point, or its module.

    Raises :class:`InputError` like :func:`policy_class` for a name that resolves to nothing.
    """
    if name in builtin_policies():
        return BUILTIN_SOURCE
    point = _plugin_entry_points().get(name)
    if point is not None:
        return _distribution_name(point)
    return policy_class(name).__module__


def known_policies() -> dict[str, type[Policy]]:
    """Every policy found by name: the built-ins, then the installed plug-ins (loaded here)."""
    known = builtin_policies()
    for name, point in _plugin_entry_points().items():
        known[name] = _load_entry_point(point)
    return known


def make_policy(name: str, params: dict[str, Any], rng: np.random.Generator) -> Policy:
    """Build the named policy with validated parameters and its random stream."""
    return policy_class(name).from_params(params, rng)
