"""Where each value of a built-in hardware class comes from, read from the catalog's own source.

The sources of :data:`~coinfer.emulator.model.hardware_catalog.BUILTIN_HARDWARE` are the comments
next to its values (``f_max_hz=1.41e9,  # NVIDIA: boost clock 1410 MHz``), written once, where
the value is. :func:`builtin_sources` reads them back from that module's text, so that
``coinfer hardware show`` prints each value with its source and the two can never disagree: a
value's source is the comment on its lines and the comment lines just above it; a value named
by a module constant (``pue=UPTIME_2023_PUE``) without a comment of its own takes the
constant's; a field the class leaves out is its default.
"""

from __future__ import annotations

import ast
import io
import tokenize
from functools import cache
from pathlib import Path

from coinfer.emulator.model import hardware_catalog

#: The source of a field the class leaves at its default.
DEFAULT = "default"
#: The source of a value given without a comment.
NOT_STATED = "not stated"


@cache
def builtin_sources() -> dict[str, dict[str, str]]:
    """For each built-in class name, each given field's source (see the module)."""
    text = Path(hardware_catalog.__file__).read_text(encoding="utf-8")
    comments = _comments(text)
    tree = ast.parse(text)
    constants = {
        target.id: comments[node.lineno]
        for node in tree.body
        if isinstance(node, ast.Assign) and node.lineno in comments
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    sources: dict[str, dict[str, str]] = {}
    for call in ast.walk(tree):
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "HardwareSpec"
        ):
            continue
        fields: dict[str, str] = {}
        previous_end = call.lineno
        for keyword in call.keywords:
            assert keyword.arg is not None and keyword.end_lineno is not None
            lines = range(previous_end + 1, keyword.end_lineno + 1)
            said = " ".join(comments[line] for line in lines if line in comments)
            if not said and isinstance(keyword.value, ast.Name):
                said = constants.get(keyword.value.id, "")
            fields[keyword.arg] = said or NOT_STATED
            previous_end = keyword.end_lineno
        name = next(k.value for k in call.keywords if k.arg == "name")
        assert isinstance(name, ast.Constant)
        sources[str(name.value)] = fields
    return sources


def _comments(text: str) -> dict[int, str]:
    """Each line's comment, without its ``#``."""
    found: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            found[token.start[0]] = token.string.lstrip("#").strip()
    return found
