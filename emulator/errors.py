"""The one error type for bad input, and a formatter for pydantic's validation errors.

Bad input (a scenario, a profile file, a hardware file, a CLI value) is refused before any work
starts with one message naming the field, the value and what was expected. The message is for
people; the same facts are also fields of the error, for programs:

* ``path``: the offending field, e.g. ``devices[0].arrivals.rate_per_s`` (None if unknown);
* ``value``: the offending value as given (None if unknown, or the field is missing);
* ``expected``: what was expected, e.g. ``greater than 0`` or ``one of: a, b``;
* ``source``: the file the input came from (None for data built in Python);
* ``problems``: every problem found, each a :class:`Problem` (one for most errors);
* ``argument``: the argument of the library call the bad value came through, e.g.
  ``override`` (a ``dotted.path=value`` scenario override) or ``workers``;
* ``mentions``: other arguments the message mentions, each written between backquotes in it
  (``point `trace_dir` at a directory that holds it``).

Library messages name an ``argument`` by its library name (``override devices.3: ...``); a
front end words it, and the ``mentions``, its own way with :meth:`InputError.worded` (the
command line says ``--set devices.3: ...`` and ``point --trace-dir at ...``). The command line
turns :class:`InputError` into exit status 2 without a traceback (``coinfer --debug`` shows it,
with the chain of causes).
"""

from __future__ import annotations

import difflib
import reprlib
import types
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

#: The path shown for a problem of the whole input (not of one field).
ROOT = "<root>"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where, what was given and what was expected."""

    path: str | None  #: the offending field, e.g. ``devices[0].count``; None: the whole input
    message: str  #: what is wrong, e.g. ``got 0, expected greater than 0``
    value: Any = None  #: the offending value as given (None if unknown or missing)
    expected: str | None = None  #: what was expected, e.g. ``greater than 0``
    #: where the message says it is, if not ``path``: pydantic's location, which also names
    #: the member of a union (``devices[0].arrivals.poisson.rate_per_s``)
    shown_at: str | None = None

    def __str__(self) -> str:
        return f"{self.shown_at or self.path or ROOT}: {self.message}"


class InputError(ValueError):
    """Bad user input: the message names the field, the offending value and what was expected.

    ``str(err)`` is the message: the contexts added by :meth:`within` (outermost first), then
    ``ARGUMENT SUBJECT: `` when the input came through a named argument, then ``message``. The
    keyword fields are described in the module docstring; ``path``, ``value`` and ``expected``
    default to those of the first of ``problems``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        value: Any = None,
        expected: str | None = None,
        source: str | None = None,
        problems: Sequence[Problem] = (),
        argument: str | None = None,
        subject: str | None = None,
        mentions: Sequence[str] = (),
    ) -> None:
        first = problems[0] if problems else None
        self.message = message
        self.path = path if path is not None or first is None else first.path
        self.value = value if value is not None or first is None else first.value
        self.expected = expected if expected is not None or first is None else first.expected
        self.source = None if source is None else str(source)
        self.problems: tuple[Problem, ...] = tuple(problems) or (
            Problem(self.path, message, self.value, self.expected),
        )
        self.argument = argument
        self.subject = subject
        self.mentions = tuple(mentions)
        self.context: tuple[str, ...] = ()
        super().__init__(self.worded())

    def worded(self, arguments: Mapping[str, str] | None = None) -> str:
        """The message, with the ``argument`` and ``mentions`` named as ``arguments`` says.

        ``err.worded({"override": "--set"})`` says ``--set devices.3: ...`` where ``str(err)``
        says ``override devices.3: ...``; an argument not in ``arguments`` keeps its name.
        """
        arguments = arguments or {}
        name = self.argument
        if name is not None:
            name = arguments.get(name, name)
        head = " ".join(part for part in (name, self.subject) if part)
        body = f"{head}: {self.message}" if head else self.message
        text = ": ".join((*self.context, body))
        for mention in self.mentions:
            if mention in arguments:
                text = text.replace(f"`{mention}`", arguments[mention])
        return text

    def through(self, argument: str) -> Self:
        """This error, as come through the library argument ``argument`` (e.g. ``override``).

        Its message then starts with the argument's name (``override devices.3: ...``), which
        a front end may word its own way (:meth:`worded`). Returns the error itself (re-raise
        it with a bare ``raise``).
        """
        self.argument = argument
        self.args = (self.worded(),)
        return self

    def within(self, context: str, *, path: str | None = None) -> Self:
        """This error, its message prefixed by ``context`` (``"devices[1].model: ..."``).

        ``path``, the field the error is within, becomes the error's path; a path the error
        already had is taken as relative to it (``policy.params`` + ``split``), unless the
        error came from another file (its ``source``: the path is in that file). Returns the
        error itself (re-raise it: ``raise err.within(where)``, so its traceback and cause
        are kept).
        """
        self.context = (context, *self.context)
        if path is not None:
            if self.path is None:
                self.path = path
            elif self.source is None:
                self.path = _join(path, self.path)
        self.args = (self.worded(),)
        return self


def _join(outer: str, inner: str) -> str:
    """``outer`` then ``inner`` (``devices[0]`` + ``count``, or ``+ [2].count``)."""
    if inner == ROOT:
        return outer
    return outer + inner if inner.startswith("[") else f"{outer}.{inner}"


def unknown_name_error(
    kind: str, name: str, known: Iterable[str], *, alternative: str | None = None
) -> InputError:
    """Error for a name that is not in a catalog, listing the known names.

    ``alternative``: another accepted form, e.g. ``module:Class naming a Policy subclass``.
    """
    expected = "one of: " + ", ".join(sorted(known))
    if alternative is not None:
        expected += f"; or {alternative}"
    message = f"unknown {kind} {name!r}; expected {expected}"
    return InputError(message, value=name, expected=expected)


def location(loc: Sequence[str | int]) -> str:
    """A pydantic location as a field path: ``("devices", 0, "count")`` -> ``devices[0].count``.

    The empty location (the whole input) is ``<root>``.
    """
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or ROOT


def field_location(model: type[BaseModel], loc: Sequence[str | int]) -> tuple[str | int, ...]:
    """A pydantic location of ``model`` without the labels it gives the members of unions.

    ``("devices", 0, "arrivals", "poisson", "rate_per_s")`` -> ``("devices", 0, "arrivals",
    "rate_per_s")``. The walk follows ``model``'s fields; from where it can no longer follow
    them (a field of ``dict[str, Any]``), the rest of ``loc`` is kept as it is.
    """
    kept: list[str | int] = []
    current: Any = model
    index = 0
    while index < len(loc):
        item = loc[index]
        members = _members(current)
        if len(members) > 1:  # ``item`` labels the union's member; the next item is its field
            after = loc[index + 1] if index + 1 < len(loc) else None
            current = next((m for m in members if _is_model(m) and after in m.model_fields), None)
            index += 1
            if current is None:  # e.g. an unknown field: keep the rest, without the label
                return (*kept, *loc[index:])
            continue
        current = members[0] if members else None
        origin, args = get_origin(current), get_args(current)
        if _is_model(current) and isinstance(item, str) and item in current.model_fields:
            current = current.model_fields[item].annotation
        elif isinstance(item, int) and origin in (tuple, list) and args:
            current = args[0]
        elif origin is dict and len(args) == 2:
            current = args[1]
        else:
            return (*kept, *loc[index:])
        kept.append(item)
        index += 1
    return tuple(kept)


def _members(annotation: Any) -> list[Any]:
    """The types a value of ``annotation`` may have (``Annotated`` and ``None`` left out)."""
    if get_origin(annotation) is Annotated:
        return _members(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _members(arg)]
    return [] if annotation is type(None) else [annotation]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def validation_problems(
    err: ValidationError, model: type[BaseModel] | None = None
) -> list[Problem]:
    """Each problem of a pydantic ``ValidationError``: ``field: got VALUE, expected WHAT``.

    With the ``model`` validated, each problem's ``path`` leaves out the labels pydantic gives
    the members of unions (the message still shows pydantic's location). Two kinds of
    pydantic's reports are consequences, not problems, and are left out: a list or tuple "too
    short after validation" because one of its items failed (that item's problem is reported),
    and, where a field may take several forms (a number or a mapping), the forms the value did
    not even have the type of, when another form's problem says more.
    """
    found: list[tuple[Problem, str]] = []
    for problem in err.errors(include_url=False):
        loc = problem.get("loc", ())
        shown_at = location(loc) if loc else None
        field = location(field_location(model, loc)) if model is not None and loc else shown_at
        at = {"shown_at": shown_at} if shown_at != field else {}
        kind = str(problem.get("type", ""))
        message = str(problem.get("msg", "a valid value"))
        if kind == "missing":
            expected = "a value (this field is required)"
            found.append(
                (Problem(field, f"missing, expected {expected}", None, expected, **at), kind)
            )
            continue
        value = problem.get("input")
        if kind == "extra_forbidden" and loc:
            known, exact = _fields_at(model, loc[:-1]) if model is not None else ((), False)
            unknown = str(loc[-1])
            found.append((_unknown_field(field, unknown, value, known, exact, at), kind))
            continue
        if kind == "value_error":
            # Our own validators: their message already names the value and what was expected.
            text = message.removeprefix("Value error, ")
            found.append((Problem(field, text, value, text, **at), kind))
            continue
        shown = short_repr(value)
        found.append(
            (Problem(field, f"got {shown}, expected {message}", value, message, **at), kind)
        )
    return _causes_only(_typos_explain_missing(found))


def _unknown_field(
    field: str | None,
    unknown: str,
    value: Any,
    known: Sequence[str],
    exact: bool,
    at: dict[str, str | None],
) -> Problem:
    """The problem of a field the model does not have: the known field it is closest to
    (``difflib``), if one is close, else the known fields (if ``exact``: they are the
    model's)."""
    close = difflib.get_close_matches(unknown, known, n=1, cutoff=0.6)
    if close:
        expected = f"did you mean {close[0]!r}?"
        message = f"unknown field {unknown!r} (got {short_repr(value)}); {expected}"
    elif known and exact:
        expected = "one of the fields " + ", ".join(known)
        message = f"unknown field {unknown!r} (got {short_repr(value)}), expected {expected}"
    else:
        expected = "no such field"
        message = f"unknown field {unknown!r} (got {short_repr(value)})"
    return Problem(field, message, value, expected, **at)


def _typos_explain_missing(found: list[tuple[Problem, str]]) -> list[tuple[Problem, str]]:
    """``found`` without a required field's "missing" when a misspelling of it beside it is
    reported (``arivals`` given: "did you mean 'arrivals'?" says it all)."""
    meant = {
        _join(_parent(problem.path), problem.expected.split("'")[1])
        for problem, kind in found
        if kind == "extra_forbidden"
        and problem.path is not None
        and problem.expected is not None
        and problem.expected.startswith("did you mean")
    }
    return [(p, kind) for p, kind in found if not (kind == "missing" and p.path in meant)]


def _parent(path: str) -> str:
    """``devices[0].arivals`` -> ``devices[0]``; a top-level field -> ``<root>``."""
    head, dot, _ = path.rpartition(".")
    return head if dot else ROOT


def _fields_at(model: type[BaseModel], loc: Sequence[str | int]) -> tuple[tuple[str, ...], bool]:
    """The fields of the model found at pydantic location ``loc`` of ``model`` (union labels
    included), and whether they are exactly its fields; a field naming a registered member
    (an arrival process, a fading law) gives every member's fields, not exactly; () where the
    walk cannot tell."""
    current: Any = model
    for item in loc:
        members = [m for m in _members(current) if _is_model(m)]
        if len(members) > 1:  # item is the label of the union member
            current = next((m for m in members if _label_of(m) == item), None)
            if current is None:
                return (), False
            continue
        if members and isinstance(item, str) and item in members[0].model_fields:
            info = members[0].model_fields[item]
            family = _registered_family([*info.metadata, info.annotation])
            if family is not None:  # a registered member's parameters: any member's
                params = {cls.Params for cls in family.known().values()}
                return tuple(dict.fromkeys(f for p in params for f in p.model_fields)), False
            current = info.annotation
            continue
        plain = _members(current)
        args = get_args(plain[0]) if len(plain) == 1 else ()
        origin = get_origin(plain[0]) if len(plain) == 1 else None
        if isinstance(item, int) and origin in (tuple, list) and args:
            current = args[0]
        elif origin is dict and len(args) == 2:
            current = args[1]
        else:
            return (), False
    models = [m for m in _members(current) if _is_model(m)]
    if len(models) != 1:
        return (), False
    own = tuple(models[0].model_fields)
    family = getattr(models[0], "member_family", None)
    if family is not None:  # a member's parameters sit beside the model's fields: any member's
        params = {cls.Params for cls in family.known().values()}
        return tuple(dict.fromkeys([*own, *(f for p in params for f in p.model_fields)])), False
    return own, True


def _registered_family(annotations: Sequence[Any]) -> Any:
    """The plug-in family of a field's ``Registered`` annotation (duck-typed: anything with a
    ``family``; also inside ``Annotated[...] | None``), or None."""
    stack = list(annotations)
    while stack:
        item = stack.pop()
        if hasattr(item, "family"):
            return item.family
        stack.extend(getattr(item, "__metadata__", ()))
        stack.extend(get_args(item) if get_origin(item) in (Union, types.UnionType) else ())
        if get_origin(item) is Annotated:
            stack.append(get_args(item)[0])
    return None


def _label_of(member: type[BaseModel]) -> str:
    """The label pydantic gives ``member`` of a union: its discriminator's value (a field
    with a one-value ``Literal`` default), else the class name."""
    for field in member.model_fields.values():
        if isinstance(field.default, str) and get_origin(field.annotation) is Literal:
            return field.default
    return member.__name__


def _causes_only(found: list[tuple[Problem, str]]) -> list[Problem]:
    """``found`` without the reports that only follow from another one (see
    :func:`validation_problems`)."""
    paths = [problem.path or ROOT for problem, _ in found]

    def has_inner(path: str) -> bool:
        return any(other.startswith((path + "[", path + ".")) for other in paths)

    kept = [
        (problem, kind)
        for (problem, kind), path in zip(found, paths, strict=True)
        if not (kind in ("too_short", "too_long") and has_inner(path))
    ]
    by_path: dict[str | None, list[tuple[Problem, str]]] = {}
    for problem, kind in kept:
        by_path.setdefault(problem.path, []).append((problem, kind))
    result = []
    for problem, kind in kept:
        forms = by_path[problem.path]
        if (
            len(forms) > 1
            and _wrong_type(kind)
            and any(not _wrong_type(other) for _, other in forms)
        ):
            continue  # another form of this field says what is wrong with the value
        result.append(problem)
    alone = Counter(problem.path for problem in result)
    return [
        replace(problem, shown_at=None) if alone[problem.path] == 1 else problem
        for problem in result
    ]


def _wrong_type(kind: str) -> bool:
    """Whether a pydantic error type says the value is not of the expected type at all."""
    return kind.endswith(("_type", "_parsing", "_class_type")) or kind in (
        "model_attributes_type",
        "dataclass_type",
    )


def _short_repr() -> reprlib.Repr:
    shortener = reprlib.Repr()  # keyword arguments only from Python 3.12
    shortener.maxlevel = 2
    shortener.maxlist = shortener.maxtuple = shortener.maxdict = shortener.maxset = 4
    shortener.maxstring = shortener.maxother = 50
    return shortener


_SHORT = _short_repr()


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` of at most ``limit`` characters, computed without formatting the whole of
    a huge or deeply nested value; a NumPy scalar shows as its Python number (``5.0``, not
    ``np.float64(5.0)``)."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        value = item()
    shown = _SHORT.repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def input_error_from_validation(
    err: ValidationError,
    source: str,
    *,
    file: str | None = None,
    model: type[BaseModel] | None = None,
) -> InputError:
    """Turn a pydantic ``ValidationError`` into one readable :class:`InputError`.

    ``source`` names where the data came from (a file name or a catalog entry); ``file`` is the
    file it was read from, if any (the error's ``source`` field); ``model``, the model
    validated, gives paths without pydantic's union labels. Each problem is reported as
    ``field: got VALUE, expected WHAT`` and kept in the error's ``problems``. Raise the result
    ``from err``, so that ``coinfer --debug`` shows pydantic's own report.
    """
    problems = validation_problems(err, model)
    lines = [str(problem) for problem in problems]
    head = f"invalid {source}: " if len(lines) == 1 else f"invalid {source}:\n  "
    return InputError(head + "\n  ".join(lines), source=file, problems=problems)
