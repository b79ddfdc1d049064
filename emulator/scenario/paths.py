"""File references in a scenario: which fields hold a path, and making them absolute.

A scenario names files (hardware and model files, a model profile, replayed trace files, a
topology graph) relative to the file it is written in. Those fields are marked in the schema
with ``json_schema_extra=FILE`` (always a path) or ``NAME_OR_FILE`` (a catalog name, or a path
if it ends in a profile suffix); :func:`file_fields` finds every marked field by walking the
schema, and :func:`resolve_files` makes the relative paths of raw scenario data absolute before
validation. A new file field thus needs only its mark: every reader of scenario data (a
scenario file, an inline sweep scenario, the values of a sweep) resolves it.

The mark also shows in the JSON schema (``coinfer schema --json``) as ``"x-coinfer-path"``.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from coinfer.emulator.errors import InputError
from coinfer.emulator.model.profile_files import PROFILE_SUFFIXES
from coinfer.emulator.plugins import Registered

#: The ``json_schema_extra`` key that marks a file field, and its two values.
MARK = "x-coinfer-path"
#: ``json_schema_extra`` of a field holding a path (or a list of paths) relative to its file.
FILE: dict[str, Any] = {MARK: "file"}
#: ``json_schema_extra`` of a field holding a catalog name, or a path ending in a profile suffix.
NAME_OR_FILE: dict[str, Any] = {MARK: "name-or-file"}
#: Stands for every item of a list (or every value of a mapping) in a :class:`FileField` path.
EVERY = "*"

FileKind = Literal["file", "name-or-file"]
_KINDS: dict[str, FileKind] = {"file": "file", "name-or-file": "name-or-file"}


@dataclass(frozen=True)
class FileField:
    """One file-valued field of a schema: its keys from the top and what it holds."""

    keys: tuple[str, ...]  #: e.g. ``("devices", "*", "link_trace", "file")``
    kind: FileKind  #: ``file``, or ``name-or-file`` (a path only with a profile suffix)

    @property
    def dotted(self) -> str:
        """The path as text: ``devices.*.link_trace.file``."""
        return ".".join(self.keys)


@functools.cache
def file_fields(model: type[BaseModel]) -> tuple[FileField, ...]:
    """Every file-valued field of ``model`` and of the models nested in it, in field order.

    Walks each field's type through optionals, unions (discriminated or not), ``Annotated``,
    tuples, lists and mappings (their items are :data:`EVERY`) into nested models.
    """
    found = dict.fromkeys(_walk(model, (), frozenset()))
    return tuple(found)


def _walk(
    annotation: Any, keys: tuple[str, ...], seen: frozenset[type[BaseModel]]
) -> Iterator[FileField]:
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *metadata = get_args(annotation)
        yield from _walk(base, keys, seen)
        for registered in (m for m in metadata if isinstance(m, Registered)):
            # a registered family: each member's own parameters may hold files
            for params in _member_params(registered):
                yield from _walk(params, keys, seen)
    elif origin is Union or origin is types.UnionType:
        for member in get_args(annotation):
            yield from _walk(member, keys, seen)
    elif origin in (tuple, list, set, frozenset) or _is_abc(origin, Sequence):
        for item in get_args(annotation):
            if item is not Ellipsis:
                yield from _walk(item, (*keys, EVERY), seen)
    elif origin is dict or _is_abc(origin, Mapping):
        args = get_args(annotation)
        if len(args) == 2:
            yield from _walk(args[1], (*keys, EVERY), seen)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:  # a recursive model: its fields are already being walked
            return
        for name, info in annotation.model_fields.items():
            key = (*keys, info.alias or name)
            extra = info.json_schema_extra
            mark = extra.get(MARK) if isinstance(extra, dict) else None
            kind = _KINDS.get(mark) if isinstance(mark, str) else None
            if kind is not None:
                yield FileField(key, kind)
            else:
                yield from _walk(info.annotation, key, seen | {annotation})
                for registered in (m for m in info.metadata if isinstance(m, Registered)):
                    for params in _member_params(registered):
                        yield from _walk(params, key, seen | {annotation})


def _member_params(registered: Registered) -> Iterator[type[BaseModel]]:
    """The parameter models of the family's members that load (a broken plug-in is refused
    where it is used, not here)."""
    family = registered.family
    for name in family.names():
        try:
            yield family.params(name)
        except InputError:
            continue


def _is_abc(origin: Any, abc: type) -> bool:
    return isinstance(origin, type) and issubclass(origin, abc) and origin is not str


def resolve_files(data: Any, base_dir: str | Path, model: type[BaseModel], *, at: str = "") -> Any:
    """``data`` with every relative path in a file field of ``model`` made absolute.

    ``data`` is raw input (mappings and lists, before validation) for ``model``, or, with
    ``at``, the value for the dotted path ``at`` of it (``devices.0.link_trace``: a value a
    sweep assigns there). Paths are taken relative to ``base_dir``; ``~`` is expanded.
    Mappings and lists are changed in place; values of the wrong type are left for validation
    to refuse. Returns the data (a new value when ``data`` itself is a path).
    """
    base = Path(base_dir).expanduser().resolve()
    at_keys = tuple(at.split(".")) if at else ()
    for field in file_fields(model):
        rest = _below(field.keys, at_keys)
        if rest is not None:
            data = _resolve(data, rest, field.kind, base)
    return data


def _below(keys: tuple[str, ...], at_keys: tuple[str, ...]) -> tuple[str, ...] | None:
    """The keys of a field below ``at_keys``, or None if the field is not under it.

    A path deeper than the field (``hardware_files.0``) addresses one of its paths: ``()``.
    """
    for key, at_key in zip(keys, at_keys, strict=False):
        if key != EVERY and key != at_key:
            return None
    if not all(index.isdigit() for index in at_keys[len(keys) :]):
        return None
    return keys[len(at_keys) :]


def _resolve(node: Any, keys: tuple[str, ...], kind: FileKind, base: Path) -> Any:
    if not keys:
        return _absolute(node, kind, base)
    key, rest = keys[0], keys[1:]
    if key == EVERY:
        if isinstance(node, list):
            node[:] = [_resolve(item, rest, kind, base) for item in node]
        elif isinstance(node, dict):
            for name in node:
                node[name] = _resolve(node[name], rest, kind, base)
        return node
    if isinstance(node, dict) and key in node:
        node[key] = _resolve(node[key], rest, kind, base)
    return node


def _absolute(value: Any, kind: FileKind, base: Path) -> Any:
    """A path made absolute (each one of a list); a name or a non-text value as it is."""
    if isinstance(value, list):
        return [_absolute(item, kind, base) for item in value]
    if not isinstance(value, str) or not value:
        return value
    if kind == "name-or-file" and not value.lower().endswith(PROFILE_SUFFIXES):
        return value
    return str((base / Path(value).expanduser()).resolve())
