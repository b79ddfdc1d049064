"""How the command line reports errors: library arguments worded as its flags, and ``--debug``.

The library names the argument a bad value came through by its own name (an
:class:`~coinfer.emulator.errors.InputError`'s ``argument``: ``override devices.3: ...``); the
command line says which flag that was (``--set devices.3: ...``). Bad input is one line on stderr
and exit status 2; an unexpected error is one line and exit status 1. With ``coinfer --debug``
both also print the traceback, with the chain of causes (a plug-in's own exception, a file's
parse error).
"""

from __future__ import annotations

import sys
import traceback
from typing import TextIO

from coinfer.emulator.errors import InputError

EXIT_BAD_INPUT = 2
EXIT_INTERNAL_ERROR = 1
#: Interrupted by Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130
#: A command that did its work but some of it failed (a sweep with failed runs).
EXIT_PARTLY_FAILED = 3


class Printed(str):
    """What a command prints, with the exit status it ends with (0 unless given)."""

    exit_status: int

    def __new__(cls, text: str, exit_status: int = 0) -> Printed:
        printed = super().__new__(cls, text)
        printed.exit_status = exit_status
        return printed


#: The flag of each library argument an :class:`InputError` may name (``InputError.argument``).
FLAGS: dict[str, str] = {
    "override": "--set",  # scenario overrides: run, validate, compare, sweep
    "setting": "--set",  # solve's hardware, channel and request settings
    "policies": "--policies",
    "seeds": "--seeds",
    "workers": "--workers",
    "local_workers": "--dask-local",
    "address": "--scheduler",
    "shards": "--shards",
    "kind": "--kind",
    "where": "--where",
    "x": "--x",
    "latency": "--latency",
    "by": "--by",
    "style": "--style",
    "legend": "--legend",
    "label": "--label",
    "trace_dir": "--trace-dir",
    "out_dir": "--out",
    "force": "--force",
    "max_events": "--max-events",
    "overwrite": "--overwrite",
    # goodput
    "attainment": "--attainment",
    "ttft_s": "--ttft",
    "tpot_s": "--tpot",
    "tolerance": "--tolerance",
    "lo": "--lo",
    "hi": "--hi",
    "per_round": "--per-round",
}


def error_message(err: InputError) -> str:
    """The message of a bad-input error, naming the flag the value came through."""
    return err.worded(FLAGS)


def report_bad_input(err: InputError, *, debug: bool, stream: TextIO | None = None) -> int:
    """Print ``coinfer: error: MESSAGE`` (after the traceback with ``debug``); exit status 2."""
    stream = sys.stderr if stream is None else stream
    if debug:
        traceback.print_exception(err, file=stream)
    print(f"coinfer: error: {error_message(err)}", file=stream)
    return EXIT_BAD_INPUT


def report_internal_error(err: Exception, *, debug: bool, stream: TextIO | None = None) -> int:
    """Print one line naming the unexpected error (the traceback with ``debug``); status 1."""
    stream = sys.stderr if stream is None else stream
    if debug:
        traceback.print_exception(err, file=stream)
        hint = ""
    else:
        hint = " (run `coinfer --debug ...` for the traceback)"
    print(f"coinfer: internal error: {type(err).__name__}: {err}{hint}", file=stream)
    return EXIT_INTERNAL_ERROR
