"""Running a test against coinfer in Python, compiled twins or not (coinfer.emulator.compiled).

Inside :func:`in_python` every ``coinfer`` module is imported afresh, with
``COINFER_PURE_PYTHON=1``: the hot modules run from their source. Import what the test uses
inside the block: names imported before it belong to the other copy. On leaving, the modules
imported before come back, so later tests see them as they were.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from coinfer.emulator.compiled import PURE_PYTHON_VARIABLE


def _coinfer_modules() -> dict[str, object]:
    return {
        name: module
        for name, module in sys.modules.items()
        if name == "coinfer" or name.startswith("coinfer.")
    }


@contextmanager
def in_python() -> Iterator[None]:
    """coinfer imported afresh, every hot module in Python, for the block's duration."""
    before = _coinfer_modules()
    variable = os.environ.get(PURE_PYTHON_VARIABLE)
    for name in before:
        del sys.modules[name]
    os.environ[PURE_PYTHON_VARIABLE] = "1"
    try:
        yield
    finally:
        for name in _coinfer_modules():
            del sys.modules[name]
        sys.modules.update(before)  # type: ignore[arg-type]
        if variable is None:
            del os.environ[PURE_PYTHON_VARIABLE]
        else:
            os.environ[PURE_PYTHON_VARIABLE] = variable
