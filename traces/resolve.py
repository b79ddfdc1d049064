"""Opening the trace a scenario refers to: a registered name or a file of a given kind.

A registered name (``mahimahi/Verizon-LTE-short.up``, ``azure-2023/conv``, ...) is looked up in
the registry and its file found in a trace directory (``--trace-dir``, ``$COINFER_TRACE_DIR``,
then the download cache: :mod:`traces.locate`); a file is read with the generic reader of its
kind (or the Mahimahi reader for a capacity file in that format). Anything wrong (an unknown
name, a trace of another kind, a missing file, a malformed line) is an
:class:`~coinfer.emulator.errors.InputError` saying what was expected and, for a missing file,
where it looked and how to fetch it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from coinfer.emulator.errors import InputError
from coinfer.traces.arrivals import ArrivalTrace
from coinfer.traces.capacity import LinkCapacityTrace
from coinfer.traces.locate import find_trace_file
from coinfer.traces.positions import PositionTrace
from coinfer.traces.readers.base import Trace
from coinfer.traces.registry import Kind, TraceRegistry, trace_reader
from coinfer.traces.snr import SnrTrace

FileFormat = Literal["csv", "mahimahi"]
_TYPES: dict[str, type[Trace]] = {
    "arrivals": ArrivalTrace,
    "capacity": LinkCapacityTrace,
    "snr": SnrTrace,
    "positions": PositionTrace,
}


def open_trace(
    kind: Kind,
    *,
    name: str | None = None,
    file: str | Path | None = None,
    file_format: FileFormat = "csv",
    trace_dir: str | Path | None = None,
    registry: TraceRegistry | None = None,
) -> Trace:
    """The ``kind`` trace registered as ``name``, or read from ``file`` (exactly one of them).

    ``trace_dir``: the directory searched first for a registered trace's file (then
    ``$COINFER_TRACE_DIR`` and the download cache); ``file_format``: how a capacity ``file`` is
    written (``csv``: ``time,rate``; ``mahimahi``: packet-delivery milliseconds).
    """
    if (name is None) == (file is None):
        raise ValueError("open_trace: give exactly one of name and file")
    if name is not None:
        registry = registry or TraceRegistry.builtin()
        entry = registry.get(name)
        if entry.kind != kind:
            raise InputError(
                f"trace {name!r} is of kind {entry.kind!r}, expected kind {kind!r} "
                "(`coinfer traces list` shows each trace's kind)"
            )
        trace = entry.load(find_trace_file(entry, trace_dir))
    else:
        assert file is not None  # exactly one of name and file (checked above)
        trace = _read_file(kind, Path(file), file_format)
    expected = _TYPES[kind]
    if not isinstance(trace, expected):  # a catalog entry whose reader disagrees with its kind
        raise InputError(f"trace {name or file}: read a {type(trace).__name__}, expected {kind}")
    return trace


def _read_file(kind: Kind, path: Path, file_format: FileFormat) -> Trace:
    """A user's file, read by the generic reader of its kind (``capacity-csv``, ``snr-csv``,
    ``arrivals-csv``) or, for another format, the registered reader of that name."""
    name = f"{kind}-csv" if file_format == "csv" else file_format
    return trace_reader(name, {}, str(path)).read(path, None)
