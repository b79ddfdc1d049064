"""The one error type for bad input, and a formatter for pydantic's validation errors.

Bad input (a scenario, a profile file, a hardware file, a CLI value) is refused before any work
starts with one message naming the field, the value and what was expected. The command line turns
:class:`InputError` into exit status 2 without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import ValidationError


class InputError(ValueError):
    """Bad user input: the message names the field, the offending value and what was expected."""


def unknown_name_error(kind: str, name: str, known: Iterable[str]) -> InputError:
    """Error for a name that is not in a catalog, listing the known names."""
    listing = ", ".join(sorted(known))
    return InputError(f"unknown {kind} {name!r}; expected one of: {listing}")


def _location(loc: Sequence[str | int]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "<root>"


def input_error_from_validation(err: ValidationError, source: str) -> InputError:
    """Turn a pydantic ``ValidationError`` into one readable :class:`InputError`.

    ``source`` names where the data came from (a file name or a catalog entry). Each problem is
    reported as ``field: got VALUE, expected WHAT``.
    """
    lines = []
    for problem in err.errors(include_url=False):
        field = _location(problem.get("loc", ()))
        kind = problem.get("type", "")
        message = str(problem.get("msg", "a valid value"))
        if kind == "missing":
            lines.append(f"{field}: missing, expected a value (this field is required)")
            continue
        if kind == "value_error":
            # Our own validators: their message already names the value and what was expected.
            lines.append(f"{field}: {message.removeprefix('Value error, ')}")
            continue
        shown = repr(problem.get("input"))
        if len(shown) > 60:
            shown = shown[:57] + "..."
        lines.append(f"{field}: got {shown}, expected {message}")
    head = f"invalid {source}: " if len(lines) == 1 else f"invalid {source}:\n  "
    return InputError(head + "\n  ".join(lines))
