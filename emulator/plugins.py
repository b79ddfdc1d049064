"""One plug-in mechanism for every family a user may extend.

A *family* is a kind of pluggable part: policies, server disciplines, uplink sharing, fading
laws, arrival processes, work laws, path-loss models, topology generators, trace readers. Each
is a :class:`Family` declared in :data:`FAMILIES` with

* its name, which names the entry point group ``coinfer.<name>`` its members register in;
* the key of the scenario (or catalog) field whose value picks a member (``discipline``,
  ``law``, ...): the member's *registered name*;
* a small protocol every member implements (``module:Class``; imported only when a member is
  checked, so this module stays at the bottom of the layering).

A member is a class with a ``Params`` pydantic model (its typed parameters, extending the
family's base model). Built-in members and third-party ones are found the same way: by the
entry points of installed distributions (coinfer declares its own in ``pyproject.toml``), or
by a ``module:Class`` string naming the class directly. A name coinfer registers cannot be
taken over by another distribution. Every failure (an unknown name, an entry point that does
not import, a class that does not implement the protocol) is an
:class:`~coinfer.emulator.errors.InputError` naming the family, the name and the known names,
chained to the plug-in's own error.

Adding a family: declare it in :data:`FAMILIES` with its protocol, list its built-in members
under ``[project.entry-points."coinfer.<name>"]`` in ``pyproject.toml`` (then reinstall:
``pip install -e .``) and look members up with :meth:`Family.load`.

**The one cache.** Reading the installed entry points parses every distribution's metadata
(milliseconds), and a scenario's validation looks members up many times. :func:`_installed` is
therefore memoised on the state it reads: ``sys.path`` (each entry with the modification time
of its directory) and the metadata finders on ``sys.meta_path``. Installing or removing a
distribution adds or removes a directory in a ``sys.path`` directory, which changes that
directory's modification time, so the next lookup reads afresh; this is the key the standard
library's own metadata lookup caches on. Only editing an installed ``entry_points.txt`` in place,
inside a running process, goes unnoticed (reinstalling does not).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, distributions
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from coinfer.emulator.errors import InputError

#: The distribution whose entry points are the built-in members.
BUILTIN_DISTRIBUTION = "coinfer"
#: The source reported for built-in members (see :meth:`Family.source`).
BUILTIN_SOURCE = "builtin"
_GROUP_PREFIX = "coinfer."


@dataclass(frozen=True)
class Family:
    """One family of plug-ins (see the module docstring).

    ``name``: the entry point group is ``coinfer.<name>``; ``what``: a member in words (``server
    discipline``), used in messages; ``plural``: the same in the plural; ``key``: the scenario or
    catalog field that holds a member's registered name; ``protocol``: ``module:Class`` of the
    protocol (or base class) members implement.
    """

    name: str
    what: str
    plural: str
    key: str
    protocol: str

    @property
    def group(self) -> str:
        """The entry point group members register in."""
        return _GROUP_PREFIX + self.name

    # ---- finding names --------------------------------------------------------------------

    def entry_points(self) -> dict[str, EntryPoint]:
        """Installed entry points by name: coinfer's own first (in declaration order), then
        other distributions' (a built-in name, or a name seen before, is skipped)."""
        points = _installed().get(self.group, ())
        found = {p.name: p for p in points if _distribution(p) == BUILTIN_DISTRIBUTION}
        for point in points:
            if point.name not in found:
                found[point.name] = point
        return found

    def builtin_names(self) -> list[str]:
        """The names coinfer itself registers, in declaration order."""
        return [
            name
            for name, point in self.entry_points().items()
            if _distribution(point) == BUILTIN_DISTRIBUTION
        ]

    def names(self) -> list[str]:
        """Every registered name: the built-ins, then the installed plug-ins (none imported)."""
        return list(self.entry_points())

    # ---- loading members ------------------------------------------------------------------

    def load(self, name: str) -> Any:
        """The member registered as ``name``, or named ``module:Class``, checked against the
        protocol. Raises :class:`InputError` naming the family, the name and the known names."""
        points = self.entry_points()
        point = points.get(name)
        if point is not None:
            return self._load_entry_point(point, points)
        if ":" in name:
            return self._load_module_class(name, points)
        raise self.unknown(name, points)

    def params(self, name: str) -> type[BaseModel]:
        """The ``Params`` model of the member ``name`` (its typed parameters)."""
        return self.load(name).Params

    def known(self) -> dict[str, Any]:
        """Every registered member by name, loaded (a broken plug-in raises here)."""
        points = self.entry_points()
        return {name: self._load_entry_point(point, points) for name, point in points.items()}

    def source(self, name: str) -> str:
        """Where ``name`` comes from: ``builtin``, the distribution of its entry point, or the
        module of a ``module:Class``."""
        point = self.entry_points().get(name)
        if point is not None:
            dist = _distribution(point)
            return BUILTIN_SOURCE if dist == BUILTIN_DISTRIBUTION else dist
        return self.load(name).__module__

    def unknown(self, name: str, points: Iterable[str] | None = None) -> InputError:
        """The error for a name no member answers to."""
        known = sorted(self.entry_points() if points is None else points)
        listing = ", ".join(known) if known else "none"
        hint = ""
        if not any(n in self.builtin_names() for n in known):
            hint = (
                f" (coinfer's own entry points of group {self.group} are missing: reinstall "
                "coinfer, e.g. pip install -e .)"
            )
        return InputError(
            f"unknown {self.what} {name!r}; expected one of: {listing}{hint}; or module:Class "
            f"naming {self._protocol_phrase()}"
        )

    # ---- internals ------------------------------------------------------------------------

    def _known_note(self, points: Iterable[str]) -> str:
        return f" (known {self.plural}: {', '.join(sorted(points)) or 'none'})"

    def _protocol_phrase(self) -> str:
        protocol = self._protocol()
        if _is_protocol(protocol):
            return f"a class implementing {protocol.__module__}.{protocol.__qualname__}"
        return f"a {protocol.__qualname__} subclass"

    def _protocol(self) -> type:
        module, _, qualname = self.protocol.partition(":")
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj

    def _load_entry_point(self, point: EntryPoint, points: Iterable[str]) -> Any:
        where = (
            f"{self.what} {point.name!r} (entry point {point.value!r} of distribution "
            f"{_distribution(point)!r})"
        )
        try:
            loaded = point.load()
        except Exception as err:
            raise InputError(
                f"{where} does not load: {type(err).__name__}: {err}{self._known_note(points)}"
            ) from err
        return self.check(loaded, where)

    def _load_module_class(self, spec: str, points: Iterable[str]) -> Any:
        """The class named by ``module:Class`` (``Class`` may be dotted: ``Outer.Inner``)."""
        where = f"{self.what} {spec!r}"
        module_name, _, attribute = spec.partition(":")
        parts = attribute.split(".")
        if not all(p.isidentifier() for p in module_name.split(".")) or not all(
            p.isidentifier() for p in parts
        ):
            raise InputError(
                f"{where}: expected module:Class with a dotted module path and a class name, "
                f"e.g. my_package.module:MyClass{self._known_note(points)}"
            )
        obj: Any = _import_module(module_name, where, self._known_note(points))
        for index, part in enumerate(parts):
            try:
                obj = getattr(obj, part)
            except AttributeError as err:
                owner = ".".join([module_name, *parts[:index]])
                raise InputError(f"{where}: {owner!r} has no attribute {part!r}") from err
        return self.check(obj, where)

    def check(self, obj: Any, where: str) -> Any:
        """``obj`` if it is a class implementing the protocol with a ``Params`` model, else an
        InputError beginning with ``where``."""
        protocol = self._protocol()
        expected = f"{protocol.__module__}.{protocol.__qualname__}"
        if not _is_protocol(protocol):
            if not (isinstance(obj, type) and issubclass(obj, protocol)):
                raise InputError(f"{where}: got {obj!r}, expected a subclass of {expected}")
        elif not isinstance(obj, type):
            raise InputError(f"{where}: got {obj!r}, expected a class implementing {expected}")
        else:
            missing = sorted(m for m in _protocol_members(protocol) if not hasattr(obj, m))
            if missing:
                raise InputError(
                    f"{where}: class {obj.__name__} does not implement {expected} (missing "
                    f"{', '.join(missing)})"
                )
        params = getattr(obj, "Params", None)
        if not (isinstance(params, type) and issubclass(params, BaseModel)):
            raise InputError(
                f"{where}: class {obj.__name__} has no Params; expected a pydantic model of its "
                "parameters as the class attribute Params"
            )
        return obj


# ---- the families -------------------------------------------------------------------------

POLICIES = Family("policies", "policy", "policies", "name", "coinfer.policies.base:Policy")
SERVERS = Family(
    "servers",
    "server discipline",
    "server disciplines",
    "discipline",
    "coinfer.emulator.engine.servers:ServerDiscipline",
)
SHARING = Family(
    "sharing",
    "uplink sharing",
    "uplink sharings",
    "sharing",
    "coinfer.emulator.engine.uplink:UplinkSharing",
)
FADING = Family(
    "fading", "fading law", "fading laws", "law", "coinfer.emulator.engine.fading:FadingLaw"
)
ARRIVALS = Family(
    "arrivals",
    "arrival process",
    "arrival processes",
    "process",
    "coinfer.emulator.engine.draws:ArrivalProcess",
)
WORK = Family(
    "work", "work law", "work laws", "distribution", "coinfer.emulator.engine.draws:WorkLaw"
)
PATHLOSS = Family(
    "pathloss",
    "path-loss model",
    "path-loss models",
    "model",
    "coinfer.emulator.deployment.pathloss:PathLossModel",
)
TOPOLOGIES = Family(
    "topologies",
    "topology generator",
    "topology generators",
    "generator",
    "coinfer.topologies.generators.common:TopologyGenerator",
)
TRACE_READERS = Family(
    "trace_readers",
    "trace reader",
    "trace readers",
    "reader",
    "coinfer.traces.readers.base:TraceReader",
)

#: Every family, by name.
FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        POLICIES,
        SERVERS,
        SHARING,
        FADING,
        ARRIVALS,
        WORK,
        PATHLOSS,
        TOPOLOGIES,
        TRACE_READERS,
    )
}


# ---- reading the installed entry points ---------------------------------------------------


def _distribution(point: EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    return dist.name if dist is not None else "an unknown distribution"


def _path_state() -> tuple:
    """What the installed entry points depend on (see "The one cache" in the module docstring)."""
    state: list[tuple[str, int]] = []
    for entry in sys.path:
        try:
            state.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            state.append((entry, -1))
    return (os.getcwd(), tuple(state), tuple(id(finder) for finder in sys.meta_path))


def _installed() -> dict[str, tuple[EntryPoint, ...]]:
    """Entry points of the ``coinfer.*`` groups by group, for the current ``sys.path``."""
    return _read_installed(_path_state())


@functools.lru_cache(maxsize=16)
def _read_installed(state: tuple) -> dict[str, tuple[EntryPoint, ...]]:
    del state  # the cache key only
    groups: dict[str, list[EntryPoint]] = {}
    seen: set[str] = set()
    for dist in distributions():  # as importlib.metadata.entry_points(): first of a name wins
        name = getattr(dist, "_normalized_name", None) or _normalized(dist.metadata["Name"])
        if name in seen:
            continue
        seen.add(name)
        for point in dist.entry_points:
            if point.group.startswith(_GROUP_PREFIX):
                groups.setdefault(point.group, []).append(point)
    return {group: tuple(points) for group, points in groups.items()}


def _normalized(name: str | None) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "_", name or "").lower()


def _is_protocol(cls: type) -> bool:
    return bool(getattr(cls, "_is_protocol", False))


def _protocol_members(protocol: type) -> set[str]:
    """Public methods, properties and class variables a protocol declares (instance attributes
    set in ``__init__`` cannot be seen on a class, so they are not checked here)."""
    members: set[str] = set()
    for klass in protocol.__mro__:
        if not _is_protocol(klass) or klass.__module__ == "typing":
            continue
        for name, value in vars(klass).items():
            if name.startswith("_"):
                continue
            if inspect.isfunction(value) or isinstance(
                value, property | classmethod | staticmethod
            ):
                members.add(name)
        for name, annotation in getattr(klass, "__annotations__", {}).items():
            if "ClassVar" in str(annotation):
                members.add(name)
    return members


class _ModuleMissingError(Exception):
    """The module itself (not one it imports) was not found."""


def _import_module(module_name: str, where: str, note: str) -> ModuleType:
    """Import ``module_name`` from ``sys.path``, else from the current directory (as
    ``python -m`` would)."""
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
        f"directory {here!r}{note}"
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
