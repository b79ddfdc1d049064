"""One plug-in mechanism for every family a user may extend.

A *family* is a kind of pluggable part: policies, server disciplines, uplink sharing, fading
laws, arrival processes, work laws, path-loss models, topology generators, trace readers,
placement policies, mobility models, link models. Each is a :class:`Family` declared in
:data:`FAMILIES` with

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

**Why the caches are safe.** Reading the installed entry points parses every distribution's
metadata (milliseconds), and a scenario's validation looks members up many times. So
:func:`_read_installed` is memoised on the state it reads: the current directory, ``sys.path``
(each entry with the modification time of its directory) and the finders on ``sys.meta_path``.
Installing or removing a distribution adds or removes a directory in a ``sys.path`` directory,
which changes that directory's modification time, so the next lookup reads afresh; this is the
key the standard library's own metadata lookup (``importlib.metadata.FastPath``) caches on. Only
editing an installed ``entry_points.txt`` in place, inside a running process, goes unnoticed
(reinstalling does not). :func:`_conformance` (whether a class implements its family's protocol)
and :func:`_protocol_members` are memoised on classes, whose attributes are fixed once defined.
These are pure functions of their keys, so no lookup ever depends on an earlier one.

**Why the families are declared here with their protocols as strings.** The scenario schema
(which validates a member's parameters) and the trace catalog sit low in the layering, while the
protocols name engine types; a ``module:Class`` reference, imported when a member is checked,
keeps one declaration per family at the bottom without an upward import (like the entry points
themselves, which name modules of every layer).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, distributions
from types import MappingProxyType, ModuleType
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator
from pydantic_core import (
    CoreSchema,
    InitErrorDetails,
    PydanticCustomError,
    ValidationError,
    core_schema,
)

from coinfer.emulator.errors import InputError
from coinfer.emulator.inputs import InputModel

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
        """Installed entry points by name: coinfer's own first, then other distributions' (a
        built-in name, or a name another distribution took first, is skipped)."""
        return dict(self._group().points)

    def builtin_names(self) -> list[str]:
        """The names coinfer itself registers (in the order its metadata lists them)."""
        return list(self._group().builtin)

    def names(self) -> list[str]:
        """Every registered name: the built-ins, then the installed plug-ins (none imported)."""
        return list(self._group().points)

    def _group(self) -> _Group:
        return _installed().get(self.group, _EMPTY)

    # ---- loading members ------------------------------------------------------------------

    def load(self, name: str) -> Any:
        """The member registered as ``name``, or named ``module:Class``, checked against the
        protocol. Raises :class:`InputError` naming the family, the name and the known names."""
        return self._load(name, self._group())

    def _load(self, name: str, group: _Group) -> Any:
        point = group.points.get(name)
        if point is not None:
            return self._load_entry_point(point, group)
        if ":" in name:
            return self._load_module_class(name, group.points)
        raise self.unknown(name, group.points)

    def load_many(self, names: Iterable[str]) -> dict[str, Any]:
        """:meth:`load` for each distinct name (a run's set-up: one lookup per name)."""
        return {name: self.load(name) for name in dict.fromkeys(names)}

    def params(self, name: str) -> type[BaseModel]:
        """The ``Params`` model of the member ``name`` (its typed parameters)."""
        return self.load(name).Params

    def known(self) -> dict[str, Any]:
        """Every registered member by name, loaded (a broken plug-in raises here)."""
        group = self._group()
        return {name: self._load_entry_point(point, group) for name, point in group.points.items()}

    def source(self, name: str) -> str:
        """Where ``name`` comes from: ``builtin``, the distribution of its entry point, or the
        module of a ``module:Class``."""
        group = self._group()
        if name in group.points:
            dist = group.distributions[name]
            return BUILTIN_SOURCE if dist == BUILTIN_DISTRIBUTION else dist
        return self.load(name).__module__

    def unknown(self, name: str, points: Iterable[str] | None = None) -> InputError:
        """The error for a name no member answers to."""
        expected = self.expected(points)
        return InputError(
            f"unknown {self.what} {name!r}; expected {expected}", value=name, expected=expected
        )

    def expected(self, points: Iterable[str] | None = None) -> str:
        """What a name of this family may be: the registered names, or ``module:Class``."""
        group = self._group()
        known = sorted(group.points if points is None else points)
        hint = ""
        if not group.builtin:
            hint = (
                f" (coinfer's own entry points of group {self.group} are missing: reinstall "
                "coinfer, e.g. pip install -e .)"
            )
        return (
            f"one of: {', '.join(known) or 'none'}{hint}; or module:Class naming "
            f"{self._protocol_phrase()}"
        )

    def is_known(self, name: str) -> bool:
        """Whether ``name`` is registered (``module:Class`` names are not)."""
        return name in self._group().points

    # ---- internals ------------------------------------------------------------------------

    def _known_note(self, points: Iterable[str]) -> str:
        return f" (known {self.plural}: {', '.join(sorted(points)) or 'none'})"

    def _protocol_phrase(self) -> str:
        protocol = self._protocol()
        if _is_protocol(protocol):
            return f"a class implementing {protocol.__module__}.{protocol.__qualname__}"
        return f"a subclass of {protocol.__module__}.{protocol.__qualname__}"

    def _protocol(self) -> type:
        module, _, qualname = self.protocol.partition(":")
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj

    def _load_entry_point(self, point: EntryPoint, group: _Group) -> Any:
        try:
            loaded = point.load()
        except Exception as err:
            raise InputError(
                f"{self._where(point, group)} does not load: {type(err).__name__}: {err}"
                f"{self._known_note(group.points)}"
            ) from err
        if isinstance(loaded, type) and _conformance(self, loaded) is None:
            return loaded  # the usual case, checked before
        return self.check(loaded, self._where(point, group))

    def _where(self, point: EntryPoint, group: _Group) -> str:
        return (
            f"{self.what} {point.name!r} (entry point {point.value!r} of distribution "
            f"{group.distributions.get(point.name, '?')!r})"
        )

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
        if isinstance(obj, type):
            problem = _conformance(self, obj)
        else:
            problem = f"got {obj!r}, expected {self._protocol_phrase()}"
        if problem is not None:
            raise InputError(f"{where}: {problem}")
        return obj


@functools.lru_cache(maxsize=1024)
def _conformance(family: Family, cls: type) -> str | None:
    """What keeps ``cls`` from being a member of ``family`` (None: nothing). Cached: a class's
    attributes are fixed once it is defined."""
    protocol = family._protocol()
    expected = f"{protocol.__module__}.{protocol.__qualname__}"
    if not _is_protocol(protocol):
        if not issubclass(cls, protocol):
            return f"got {cls!r}, expected a subclass of {expected}"
    else:
        missing = [m for m in _protocol_members(protocol) if not hasattr(cls, m)]
        if missing:
            return (
                f"class {cls.__name__} does not implement {expected} (missing {', '.join(missing)})"
            )
    params = getattr(cls, "Params", None)
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        return (
            f"class {cls.__name__} has no Params; expected a pydantic model of its parameters "
            "as the class attribute Params"
        )
    return None


# ---- scenario fields that name a member ---------------------------------------------------


class Registered:
    """Pydantic annotation of a field whose value names a member of ``family`` with its
    parameters: ``Annotated[Base, Registered(FAMILY)]``.

    The value is a mapping (or a model) whose ``family.key`` names the member (default: the
    base model's default for that field, or ``default(value)``); it is validated by the member's
    ``Params``, which must extend ``Base``. Errors name the field: an unknown name at
    ``<field>.<key>``, a bad parameter at ``<field>.<parameter>``. The value dumps as its own
    model, and the JSON schema lists every registered member's parameters.
    """

    def __init__(
        self,
        family: Family,
        default: Callable[[Any], str | None] | None = None,
        missing: str | None = None,
    ):
        self.family = family
        self.default = default
        self.missing = missing  #: what to expect when no name is given (default: the name)

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> CoreSchema:
        base = source
        family = self.family
        key = family.key

        def validate(value: Any) -> BaseModel:
            if isinstance(value, BaseModel):
                name = getattr(value, key, None)
                data: Any = {field: getattr(value, field) for field in value.model_fields_set}
                data.update(value.model_extra or {})
                if name is not None:
                    data[key] = name
            elif isinstance(value, Mapping):
                data = dict(value)
                name = data.get(key)
            else:
                raise PydanticCustomError(
                    "model_type",
                    "a mapping with the key {key} naming a {what}",
                    {"key": key, "what": family.what},
                )
            if name is None:
                name = self.default(value) if self.default is not None else None
                if name is None:
                    name = _field_default(base, key)
                if name is None and self.missing is not None:
                    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
                    message = f"got {shown}, expected {self.missing}"
                    raise _error_at(None, value, "value_error", message)
                if name is None:
                    raise _error_at(key, value, "missing", f"a {family.what} name")
            if not isinstance(name, str):
                raise _error_at(key, name, "string_type", f"a {family.what} name (a string)")
            params = _params_at(family, name)
            if not (isinstance(base, type) and issubclass(params, base)):
                raise _error_at(
                    key,
                    name,
                    "value_error",
                    f"{family.what} {name!r}: its Params ({params.__qualname__}) does not extend "
                    f"{getattr(base, '__qualname__', base)}",
                )
            if type(value) is params:
                return value
            if isinstance(value, BaseModel):
                return params.model_validate(data)
            return params.model_validate(value)

        return core_schema.no_info_plain_validator_function(
            validate, json_schema_input_schema=handler(source)
        )

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: Any) -> dict[str, Any]:
        params = dict.fromkeys(cls.Params for cls in self.family.known().values())
        members = [handler(model.__pydantic_core_schema__) for model in params]
        return {
            "anyOf": members,
            "description": f"a {self.family.what}: {self.family.key} names a registered one "
            f"(entry point group {self.family.group}) or module:Class; the other keys are its "
            "parameters",
        }


class HostsMember(InputModel):
    """A model one of whose fields names a member of :attr:`member_family` (a cell's
    ``sharing``, a server's ``discipline``), with the member's parameters as extra fields beside
    it; they are validated by the member's ``Params`` (see :func:`validate_extras`)."""

    model_config = ConfigDict(frozen=True, extra="allow")
    member_family: ClassVar[Family]
    _member_params: BaseModel | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _validate_member(self) -> Self:
        family = self.member_family
        self._member_params = validate_extras(self, family, getattr(self, family.key))
        return self

    @property
    def member_params(self) -> BaseModel:
        """The named member's parameters (its ``Params`` model)."""
        assert self._member_params is not None
        return self._member_params


def validate_extras(model: BaseModel, family: Family, name: str) -> BaseModel:
    """The ``Params`` of the member ``name`` from ``model``'s extra fields (a member's
    parameters given beside the fields of the model that names it, such as a server's
    discipline parameters). The extras are replaced by the validated parameters (so that the
    model dumps them with their defaults). Raises pydantic's ValidationError naming the field."""
    params = _params_at(family, name)
    clash = sorted(set(params.model_fields) & set(type(model).model_fields))
    if clash:
        raise _error_at(
            family.key,
            name,
            "value_error",
            f"{family.what} {name!r}: its Params reuse the field names {clash} of "
            f"{type(model).__name__}; expected other names",
        )
    extras = model.__pydantic_extra__
    if not extras and not params.model_fields:  # the usual case: a member without parameters
        return params()
    validated = params.model_validate(dict(extras or {}))
    if extras is not None:
        extras.clear()
        extras.update(validated.model_dump())
    return validated


def _params_at(family: Family, name: str) -> type[BaseModel]:
    """The ``Params`` of ``name``, or a ValidationError at the family's key field."""
    group = family._group()
    if name not in group.points and ":" not in name:
        message = f"got {name!r}, expected {family.expected(group.points)}"
        raise _error_at(family.key, name, "value_error", message)
    try:
        return family._load(name, group).Params
    except InputError as err:
        raise _error_at(family.key, name, "value_error", str(err)) from err


def _field_default(model: Any, name: str) -> Any:
    field = getattr(model, "model_fields", {}).get(name)
    if field is None or field.is_required():
        return None
    return field.get_default(call_default_factory=True)


def _error_at(key: str | None, value: Any, kind: str, message: str) -> ValidationError:
    """A pydantic ValidationError at field ``key`` (None: the value itself; a ``value_error``
    carries ``message``)."""
    if kind == "value_error":
        error_type: Any = PydanticCustomError("value_error", "{message}", {"message": message})
    elif kind == "missing":
        error_type = "missing"
    else:
        error_type = PydanticCustomError(kind, "{message}", {"message": message})
    loc = () if key is None else (key,)
    details: InitErrorDetails = {"type": error_type, "loc": loc, "input": value}
    return ValidationError.from_exception_data("plug-in", [details])


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
PLACEMENT = Family(
    "placement",
    "placement policy",
    "placement policies",
    "policy",
    "coinfer.emulator.engine.model_cache:PlacementPolicy",
)
MOBILITY = Family(
    "mobility",
    "mobility model",
    "mobility models",
    "model",
    "coinfer.emulator.engine.mobility:MobilityModel",
)
LINKS = Family(
    "links", "link model", "link models", "model", "coinfer.emulator.model.links:LinkModel"
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
        PLACEMENT,
        MOBILITY,
        LINKS,
    )
}


# ---- reading the installed entry points ---------------------------------------------------


@dataclass(frozen=True)
class _Group:
    """The installed entry points of one group, as :meth:`Family.entry_points` orders them."""

    points: Mapping[str, EntryPoint]  #: by name: coinfer's first, then others' (first wins)
    distributions: Mapping[str, str]  #: name -> the distribution that registers it
    builtin: tuple[str, ...]  #: the names coinfer registers


_EMPTY = _Group(MappingProxyType({}), MappingProxyType({}), ())


def _path_state() -> tuple:
    """What the installed entry points depend on (see "The one cache" in the module docstring)."""
    state: list[tuple[str, int]] = []
    for entry in sys.path:
        try:
            state.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            state.append((entry, -1))
    return (os.getcwd(), tuple(state), tuple(id(finder) for finder in sys.meta_path))


def _installed() -> Mapping[str, _Group]:
    """Entry points of the ``coinfer.*`` groups by group, for the current ``sys.path``."""
    return _read_installed(_path_state())


@functools.lru_cache(maxsize=16)
def _read_installed(state: tuple) -> Mapping[str, _Group]:
    del state  # the cache key only
    found: dict[str, list[tuple[EntryPoint, str]]] = {}
    seen: set[str] = set()
    for dist in distributions():  # as importlib.metadata.entry_points(): first of a name wins
        name = getattr(dist, "_normalized_name", None) or _normalized(dist.metadata["Name"])
        if name in seen:
            continue
        seen.add(name)
        points = [p for p in dist.entry_points if p.group.startswith(_GROUP_PREFIX)]
        if points:
            dist_name = dist.metadata["Name"] or name
            for point in points:
                found.setdefault(point.group, []).append((point, dist_name))
    groups = {}
    for group, pairs in found.items():
        builtin = {p.name: (p, d) for p, d in pairs if d == BUILTIN_DISTRIBUTION}
        ordered = dict(builtin)
        for point, dist_name in pairs:
            ordered.setdefault(point.name, (point, dist_name))
        groups[group] = _Group(
            MappingProxyType({n: p for n, (p, _) in ordered.items()}),
            MappingProxyType({n: d for n, (_, d) in ordered.items()}),
            tuple(builtin),
        )
    return MappingProxyType(groups)


def _normalized(name: str | None) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "_", name or "").lower()


def _is_protocol(cls: type) -> bool:
    return bool(getattr(cls, "_is_protocol", False))


@functools.cache
def _protocol_members(protocol: type) -> tuple[str, ...]:
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
    return tuple(sorted(members))


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
