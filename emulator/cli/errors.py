"""How the command line reports errors: library arguments worded as its flags.

The library names the argument a bad value came through by its own name (an
:class:`~coinfer.emulator.errors.InputError`'s ``argument``: ``override devices.3: ...``); the
command line says which flag that was (``--set devices.3: ...``). Bad input is one message on
stderr and exit status 2.
"""

from __future__ import annotations

import sys
from typing import TextIO

from coinfer.emulator.errors import InputError

EXIT_BAD_INPUT = 2

#: The flag of each library argument an :class:`InputError` may name (``InputError.argument``).
FLAGS: dict[str, str] = {
    "override": "--set",  # scenario overrides: run, validate, compare, sweep
    "setting": "--set",  # solve's hardware, channel and request settings
    "policies": "--policies",
    "seeds": "--seeds",
    "workers": "--workers",
    "local_workers": "--dask-local",
    "address": "--scheduler",
    "kind": "--kind",
    "where": "--where",
    "x": "--x",
    "latency": "--latency",
    "by": "--by",
    "trace_dir": "--trace-dir",
}


def error_message(err: InputError) -> str:
    """The message of a bad-input error, naming the flag the value came through."""
    return err.worded(FLAGS)


def report_bad_input(err: InputError, *, stream: TextIO | None = None) -> int:
    """Print ``coinfer: error: MESSAGE``; exit status 2."""
    stream = sys.stderr if stream is None else stream
    print(f"coinfer: error: {error_message(err)}", file=stream)
    return EXIT_BAD_INPUT
