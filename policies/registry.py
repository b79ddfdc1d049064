"""Finding policies by name: the ``coinfer.policies`` family of :mod:`coinfer.emulator.plugins`.

A policy name resolves, like every plug-in name, to

1. a policy registered in the entry point group ``coinfer.policies`` (``name =
   "package.module:Class"``): coinfer's own (declared in its ``pyproject.toml``) or another
   installed distribution's, imported only when that name is asked for;
2. ``module:Class``: the module is imported (from ``sys.path``, then from the current directory,
   as ``python -m`` would) and the class must be a concrete :class:`~coinfer.policies.base.Policy`.

A built-in name cannot be taken over by a plug-in. Every failure (an unknown name, a plug-in that
does not import, a class that is not a policy) is an :class:`~coinfer.emulator.errors.InputError`
naming what was asked for, so ``coinfer validate`` refuses it with exit status 2 before any run.
Installed entry points are read afresh whenever the installation may have changed (see
:mod:`coinfer.emulator.plugins`).
"""

from __future__ import annotations

import inspect
from importlib.metadata import EntryPoint
from typing import Any

import numpy as np

from coinfer.emulator.errors import InputError
from coinfer.emulator.plugins import BUILTIN_SOURCE, POLICIES
from coinfer.policies.base import Policy
from coinfer.policies.builtin import BUILTIN_POLICY_CLASSES

#: The entry point group distributions register policies in.
ENTRY_POINT_GROUP = POLICIES.group

__all__ = [
    "BUILTIN_SOURCE",
    "ENTRY_POINT_GROUP",
    "builtin_policies",
    "known_policies",
    "make_policy",
    "policy_class",
    "policy_source",
]


def _listing_order(name: str) -> tuple[int, str]:
    """Built-ins in the order of ``BUILTIN_POLICY_CLASSES`` (the order ``coinfer policies``
    shows), then by name."""
    order = [cls.name for cls in BUILTIN_POLICY_CLASSES]
    return (order.index(name) if name in order else len(order), name)


def builtin_policies() -> dict[str, type[Policy[Any]]]:
    """Built-in policy classes by name, in the order of ``BUILTIN_POLICY_CLASSES``."""
    return {
        name: policy_class(name) for name in sorted(POLICIES.builtin_names(), key=_listing_order)
    }


def _plugin_entry_points() -> dict[str, EntryPoint]:
    """Installed ``coinfer.policies`` entry points of other distributions by name."""
    builtin = set(POLICIES.builtin_names())
    return {name: point for name, point in POLICIES.entry_points().items() if name not in builtin}


def _checked_policy_class(
    cls: type[Policy[Any]], name: str, point: EntryPoint | None
) -> type[Policy[Any]]:
    """``cls`` if it is a concrete Policy with a name (equal to its entry point's), else an
    InputError naming it."""
    if point is not None:
        where = (
            f"policy {name!r} (entry point {point.value!r} of distribution "
            f"{POLICIES.source(name)!r})"
        )
    else:
        where = f"policy {name!r}"
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise InputError(
            f"{where}: class {cls.__name__} is abstract (does not implement {missing})"
        )
    policy_name = getattr(cls, "name", None)
    if not isinstance(policy_name, str) or not policy_name:
        raise InputError(
            f"{where}: class {cls.__name__} has no name; expected a class attribute "
            "name = '...' (the name traces and summaries show)"
        )
    if point is not None and policy_name != point.name:
        raise InputError(
            f"{where} loads a policy named {policy_name!r}; expected its name attribute to equal "
            f"the entry point name {point.name!r}"
        )
    return cls


def policy_class(name: str) -> type[Policy[Any]]:
    """The policy class registered under ``name`` (or named by ``module:Class``)."""
    cls = POLICIES.load(name)
    return _checked_policy_class(cls, name, POLICIES.entry_points().get(name))


def policy_source(name: str) -> str:
    """Where ``name`` comes from: ``builtin``, the distribution of its entry point, or its module.

    Raises :class:`InputError` like :func:`policy_class` for a name that resolves to nothing.
    """
    if name in POLICIES.entry_points():
        return POLICIES.source(name)
    return policy_class(name).__module__


def known_policies() -> dict[str, type[Policy[Any]]]:
    """Every policy found by name: the built-ins, then the installed plug-ins (loaded here)."""
    known = builtin_policies()
    for name in _plugin_entry_points():
        known[name] = policy_class(name)
    return known


def make_policy(name: str, params: dict[str, Any], rng: np.random.Generator) -> Policy[Any]:
    """Build the named policy with validated parameters and its random stream."""
    return policy_class(name).from_params(params, rng)
