"""Records declared once, built by name, stored as tuples: no code depends on a field's position.

A *record kind* is an ordered set of named fields: a ``NamedTuple`` class (the policy's context
and decision) or a declared table such as the trace (:class:`coinfer.emulator.trace.table.Table`,
whose rows are plain tuples in column order). :func:`build` makes one record from keyword
arguments and refuses a missing or an unknown field::

    build(Decision, split=4, rho_device=1.0, ...)   # every field, by name, in any order

Hot paths (the engine builds a context and a trace row per request) decorate the function with
:func:`inline_builds`: once, when the module is imported, every ``build(Kind, name=value, ...)``
call in the function's source is checked against the kind's fields and rewritten into the tuple
in field order, which is what one would write by hand for speed, but generated from the
declaration. A field added to a declaration and not given then fails the import, with the file,
the line and the field. Without the source (a frozen interpreter, say) the function is kept as it
is and ``build`` checks every call at run time: the two give the same records.

A rewritten call evaluates its values in field order, not in the order they are written: give
values without side effects.
"""

from __future__ import annotations
import __future__

import ast
import copy
import functools
import inspect
import types
from collections.abc import Callable
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R", bound=tuple[Any, ...])

_FUTURE_FLAGS = functools.reduce(
    lambda flags, name: flags | getattr(__future__, name).compiler_flag,
    __future__.all_feature_names,
    0,
)


class RecordError(TypeError):
    """A record built without some of its fields, or with fields it does not have."""


def field_names(kind: object) -> tuple[str, ...]:
    """The fields of a record kind, in order: a ``NamedTuple`` class's ``_fields``, or the
    ``field_names`` of a declared table."""
    if isinstance(kind, type) and issubclass(kind, tuple):
        fields = getattr(kind, "_fields", None)
        if isinstance(fields, tuple):
            return fields
    names = getattr(kind, "field_names", None)
    if isinstance(names, tuple):
        return names
    raise RecordError(f"{kind!r} is not a record kind (a NamedTuple class or a declared table)")


def _kind_name(kind: object) -> str:
    return getattr(kind, "__name__", None) or getattr(kind, "name", None) or repr(kind)


def _is_named_tuple(kind: object) -> bool:
    return isinstance(kind, type) and issubclass(kind, tuple)


def _check_fields(kind: object, names: tuple[str, ...], given: Any, where: str = "") -> None:
    """Raise :class:`RecordError` unless ``given`` holds exactly the fields ``names``."""
    known = set(names)
    missing = [name for name in names if name not in given]
    unknown = [name for name in given if name not in known]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown {', '.join(unknown)}")
        prefix = f"{where}: " if where else ""
        raise RecordError(
            f"{prefix}build({_kind_name(kind)}) must give every field by name: "
            f"{'; '.join(problems)}"
        )


@overload
def build(kind: type[R], /, **values: Any) -> R: ...
@overload
def build(kind: object, /, **values: Any) -> tuple[Any, ...]: ...
def build(kind: Any, /, **values: Any) -> Any:
    """One record of ``kind`` from every one of its fields, by name (a tuple in field order, of
    the ``NamedTuple`` class itself for a ``NamedTuple`` kind)."""
    names = field_names(kind)
    _check_fields(kind, names, values)
    ordered = tuple(values[name] for name in names)
    return tuple.__new__(kind, ordered) if _is_named_tuple(kind) else ordered


class _Inliner(ast.NodeTransformer):
    """Rewrites ``build(Kind, name=value, ...)`` calls into tuples in the kind's field order."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.namespace = function.__globals__
        self.filename = function.__code__.co_filename
        self.rewritten = 0

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        callee = node.func
        if not (isinstance(callee, ast.Name) and self.namespace.get(callee.id) is build):
            return node
        where = f"{self.filename}:{node.lineno}"
        kind_node = node.args[0] if len(node.args) == 1 else None
        if (
            not isinstance(kind_node, ast.Name)
            or kind_node.id not in self.namespace
            or any(keyword.arg is None for keyword in node.keywords)
        ):
            raise RecordError(
                f"{where}: an inlined build() takes a module-level record kind and every field "
                "as name=value"
            )
        kind = self.namespace[kind_node.id]
        names = field_names(kind)
        given = {keyword.arg: keyword.value for keyword in node.keywords}
        _check_fields(kind, names, given, where)
        values = ast.Tuple([given[name] for name in names], ast.Load())
        new: ast.expr
        if _is_named_tuple(kind):
            new = ast.Call(
                ast.Attribute(ast.Name("tuple", ast.Load()), "__new__", ast.Load()),
                [kind_node, values],
                [],
            )
        else:
            new = values
        self.rewritten += 1
        return ast.copy_location(new, node)


def inline_builds(function: F) -> F:
    """``function`` with each ``build(Kind, ...)`` call replaced by the tuple it makes, checked
    against the declaration now (see the module docstring).

    ``function`` is a module-level function or a method, without closure; its kinds and
    ``build`` itself are module-level names, imported before it is defined. The original is
    kept as ``__wrapped__``.
    """
    try:
        lines, first_line = inspect.getsourcelines(function)
    except (OSError, TypeError):  # no source: build() checks each call at run time
        return function
    if function.__closure__:
        raise RecordError(f"inline_builds: {function.__qualname__} has a closure")
    source = "".join(lines)
    offset = first_line - 1
    owners = function.__qualname__.split(".")[:-1]
    if lines[0][:1].isspace():  # a method: compile it in its class (name mangling, indent)
        if len(owners) != 1:
            raise RecordError(
                f"inline_builds: {function.__qualname__} is neither a module-level function "
                "nor a method"
            )
        source = f"class {owners[0]}:\n{source}"
        offset -= 1
    tree = ast.parse(source)
    ast.increment_lineno(tree, offset)
    definition = tree.body[0]
    if isinstance(definition, ast.ClassDef):
        definition = definition.body[0]
    assert isinstance(definition, ast.FunctionDef) and definition.name == function.__name__
    definition.decorator_list = []
    inliner = _Inliner(function)
    inliner.visit(definition)
    if not inliner.rewritten:
        raise RecordError(f"inline_builds: {function.__qualname__} calls no build()")
    ast.fix_missing_locations(tree)
    module = compile(
        tree,
        function.__code__.co_filename,
        "exec",
        flags=function.__code__.co_flags & _FUTURE_FLAGS,
        dont_inherit=True,
    )
    code = _find_code(module, function.__code__.co_qualname)
    if code is None:  # pragma: no cover - the tree holds the function compiled above
        raise RecordError(f"inline_builds: {function.__qualname__} not found after compiling")
    rewritten = types.FunctionType(
        code, function.__globals__, function.__name__, function.__defaults__, None
    )
    rewritten.__kwdefaults__ = function.__kwdefaults__
    return functools.update_wrapper(rewritten, function)  # type: ignore[return-value]


def _find_code(code: types.CodeType, qualname: str) -> types.CodeType | None:
    """The code object of the function ``qualname`` inside ``code`` (a module or a class)."""
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            if constant.co_qualname == qualname:
                return constant
            found = _find_code(constant, qualname)
            if found is not None:
                return found
    return None


def inline_source(source: bytes, namespace: dict[str, Any], filename: str) -> str:
    """A module's ``source`` with what :func:`inline_builds` does at import done in the text:
    every ``build(Kind, ...)`` call of a decorated function replaced by its tuple, and the
    decorator by a comment, each on the lines it held (tracebacks keep their line numbers).

    ``namespace`` is the module's, once imported (its kinds and ``build``). The build compiles
    the result (setup.py and :mod:`coinfer.emulator.compiled`); a source without a decorated
    function comes back as it is.
    """
    tree = ast.parse(source)
    offsets = [0, 0]  # the byte offset of every line's start (line numbers from 1)
    for line in source.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))

    def span(node: ast.expr, start_col: int) -> tuple[int, int]:
        assert node.end_lineno is not None and node.end_col_offset is not None
        return offsets[node.lineno] + start_col, offsets[node.end_lineno] + node.end_col_offset

    code = types.SimpleNamespace(co_filename=filename)
    inliner = _Inliner(types.SimpleNamespace(__globals__=namespace, __code__=code))  # type: ignore[arg-type]
    edits: list[tuple[int, int, bytes]] = []
    for definition in ast.walk(tree):
        if not isinstance(definition, ast.FunctionDef):
            continue
        decorators = [
            node
            for node in definition.decorator_list
            if isinstance(node, ast.Name) and namespace.get(node.id) is inline_builds
        ]
        if not decorators:
            continue
        for node in decorators:  # "@inline_builds" becomes a comment of the same length
            start, end = span(node, node.col_offset - 1)
            edits.append((start, end, b"#" + b" " * (end - start - 1)))
        found = 0
        for call in ast.walk(definition):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and namespace.get(call.func.id) is build
            ):
                new = inliner.visit(copy.deepcopy(call))
                assert call.end_lineno is not None
                text = "(" + ast.unparse(new) + "\n" * (call.end_lineno - call.lineno) + ")"
                edits.append((*span(call, call.col_offset), text.encode()))
                found += 1
        if not found:
            raise RecordError(f"inline_builds: {filename}: {definition.name} calls no build()")
    inlined = bytearray(source)
    for start, end, replacement in sorted(edits, reverse=True):
        inlined[start:end] = replacement
    return inlined.decode()
