"""5Gophers per-second TCP throughput (Narayanan et al., WWW 2020) as link capacity.

The mobility files (``walking-trace.csv``; ``car-driving-trace-{1,2}.csv``) hold one row per
second: ``seq_num`` is the 1 Hz index and the throughput is in Mbit/s (``throughput_mbps`` in the
walking trace; one ``<Carrier>_throughput_mbps`` column per carrier in the driving traces). The
measured throughput of 8 parallel TCP connections is replayed as the link's capacity.

Sample ``seq_num = s`` holds for ``[s - s_0, s - s_0 + 1)`` s after the first sample ``s_0``;
missing seconds (the driving traces skip ``seq_num`` 35-40) hold the previous value, and the
trace loops after its last second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

from coinfer.emulator.errors import InputError
from coinfer.traces.capacity import LinkCapacityTrace
from coinfer.traces.provenance import Provenance
from coinfer.traces.readers._parse import (
    check_at_least,
    check_increasing,
    check_integers,
    existing_file,
    numeric_column,
    read_csv_strings,
    require_columns,
)
from coinfer.traces.readers.base import FunctionReader, ReaderParams

MBPS = 1e6
SEQ_COLUMN = "seq_num"


def read_5gophers(
    path: str | Path,
    column: str = "throughput_mbps",
    provenance: Provenance | None = None,
) -> LinkCapacityTrace:
    """Read one throughput column (Mbit/s) of a 5Gophers per-second CSV as capacity (bit/s)."""
    file = existing_file(path)
    frame = read_csv_strings(file, file)
    require_columns(frame, [SEQ_COLUMN, column], file)
    if frame.empty:
        raise InputError(f"{file}: no rows, expected one row per second")
    seconds = numeric_column(frame, SEQ_COLUMN, file, 2, "a whole number of seconds")
    check_integers(seconds, file, 2, "a whole number of seconds (seq_num)")
    check_increasing(seconds, file, 2, strict=True, what="seq_num")
    mbps = numeric_column(frame, column, file, 2, "a throughput in Mbit/s")
    check_at_least(mbps, 0.0, file, 2, "a throughput >= 0 Mbit/s")
    times = seconds - seconds[0]
    gaps = int(np.sum(np.diff(times) > 1.0))
    source = provenance or Provenance.user_file(file)
    notes = f"5Gophers {column}: {times.size} one-second samples, {gaps} gap(s) held"
    return LinkCapacityTrace.from_rates(
        times, mbps * MBPS, float(times[-1] + 1.0), source.with_notes(notes)
    )


class FiveGophersReader(FunctionReader):
    """The ``5gophers`` reader (:func:`read_5gophers`)."""

    class Params(ReaderParams):
        column: str = Field(default="throughput_mbps", description="throughput column, Mbit/s")

    function = staticmethod(read_5gophers)
