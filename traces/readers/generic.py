"""Generic CSV traces: ``time,rate`` (s, bit/s), ``time,snr_db`` (s, dB) and arrival times (s).

Every file may start with a header line naming its columns; without one, the columns are taken
in the documented order. Values are plain numbers in SI units (seconds, bit/s) or dB.

* Capacity and SNR files: one row per change, ``time`` strictly increasing from 0; each value
  holds until the next row's time. The last value holds for ``duration_s`` minus its time: pass
  ``duration_s``, or by default it lasts as long as the interval before it (a uniform grid). The
  trace loops after ``duration_s``.
* Arrival files: one row per request, ``time`` in s (>= 0, nondecreasing, not shifted),
  optionally followed by ``input_tokens,output_tokens``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field

from coinfer.emulator.errors import InputError
from coinfer.traces.arrivals import ArrivalTrace
from coinfer.traces.capacity import LinkCapacityTrace
from coinfer.traces.provenance import Provenance
from coinfer.traces.readers._parse import (
    check_at_least,
    check_increasing,
    check_integers,
    existing_file,
    file_error,
    numeric_column,
    read_csv_strings,
)
from coinfer.traces.readers.base import FunctionReader, ReaderParams
from coinfer.traces.snr import SnrTrace

TIME_NAMES = ("time", "time_s")
RATE_NAMES = ("rate", "rate_bps", "capacity_bps")
SNR_NAMES = ("snr_db", "snr")
TOKEN_NAMES = ("input_tokens", "output_tokens")


def read_capacity_csv(
    path: str | Path, duration_s: float | None = None, provenance: Provenance | None = None
) -> LinkCapacityTrace:
    """Read ``time,rate`` rows (s, bit/s) as a looping :class:`LinkCapacityTrace`."""
    file = existing_file(path)
    frame, first = _table(file, [TIME_NAMES, RATE_NAMES])
    times = _grid_times(frame, file, first)
    rates = numeric_column(frame, 1, file, first, "a capacity in bit/s")
    check_at_least(rates, 0.0, file, first, "a capacity >= 0 bit/s")
    end = _duration(times, duration_s, file)
    origin = provenance or Provenance.user_file(file)
    return LinkCapacityTrace.from_rates(times, rates, end, origin)


def read_snr_csv(
    path: str | Path, duration_s: float | None = None, provenance: Provenance | None = None
) -> SnrTrace:
    """Read ``time,snr_db`` rows (s, dB) as a looping :class:`SnrTrace`."""
    file = existing_file(path)
    frame, first = _table(file, [TIME_NAMES, SNR_NAMES])
    times = _grid_times(frame, file, first)
    snr_db = numeric_column(frame, 1, file, first, "an SNR in dB")
    end = _duration(times, duration_s, file)
    return SnrTrace.from_samples(times, snr_db, end, provenance or Provenance.user_file(file))


def read_arrivals_csv(path: str | Path, provenance: Provenance | None = None) -> ArrivalTrace:
    """Read arrival times (s) and optional ``input_tokens,output_tokens`` per request."""
    file = existing_file(path)
    frame, first = _table(file, [TIME_NAMES], optional=[TOKEN_NAMES[:1], TOKEN_NAMES[1:]])
    times = numeric_column(frame, 0, file, first, "an arrival time in s")
    check_at_least(times, 0.0, file, first, "an arrival time >= 0 s")
    check_increasing(times, file, first, strict=False)
    tokens: list[np.ndarray | None] = [None, None]
    if frame.shape[1] == 3:
        for index in (1, 2):
            values = numeric_column(frame, index, file, first, "a whole number of tokens")
            check_integers(values, file, first, "a whole number of tokens")
            check_at_least(values, 0.0, file, first, "a number of tokens >= 0")
            tokens[index - 1] = values.astype(np.int64)
    origin = provenance or Provenance.user_file(file)
    return ArrivalTrace(times, tokens[0], tokens[1], origin)


def _table(
    file: Path,
    required: list[tuple[str, ...]],
    optional: list[tuple[str, ...]] | None = None,
) -> tuple[pd.DataFrame, int]:
    """The rows as strings with positional columns, and the line number of the first row.

    A first line whose first cell is not a number is a header: its names must match.
    """
    optional = optional or []
    frame = read_csv_strings(file, file, header=False)
    if frame.empty:
        raise InputError(f"{file}: the file is empty, expected CSV rows")
    allowed_widths = {len(required), len(required) + len(optional)}
    expected_names = ",".join(names[0] for names in [*required, *optional])
    first_cell = str(frame.iat[0, 0]).strip()
    first_line = 1
    if not _is_number(first_cell):
        header = [str(cell).strip().lower() for cell in frame.iloc[0]]
        header = [name for name in header if name]
        columns = [*required, *optional][: len(header)]
        if len(header) not in allowed_widths or any(
            name not in names for name, names in zip(header, columns, strict=True)
        ):
            raise file_error(file, 1, ",".join(header), f"a header {expected_names}")
        frame = frame.iloc[1:].reset_index(drop=True)
        first_line = 2
        if frame.empty:
            raise InputError(f"{file}: only a header, expected data rows")
    frame.columns = range(frame.shape[1])
    if frame.shape[1] not in allowed_widths:
        raise file_error(
            file, first_line, ",".join(frame.iloc[0].astype(str)), f"columns {expected_names}"
        )
    return frame, first_line


def _grid_times(frame: pd.DataFrame, file: Path, first_line: int) -> np.ndarray:
    times = numeric_column(frame, 0, file, first_line, "a time in s")
    if times[0] != 0.0:
        raise file_error(file, first_line, times[0], "the first time to be 0 s")
    check_increasing(times, file, first_line, strict=True)
    return times


def _duration(times: np.ndarray, duration_s: float | None, file: Path) -> float:
    if duration_s is not None:
        if not duration_s > times[-1]:
            raise InputError(
                f"{file}: got duration {duration_s!r} s, expected more than the last time "
                f"{float(times[-1])!r} s"
            )
        return float(duration_s)
    if times.size < 2:
        raise InputError(
            f"{file}: one row and no duration; pass duration_s (s) to say how long it lasts"
        )
    return float(times[-1] + (times[-1] - times[-2]))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _GridParams(ReaderParams):
    duration_s: float | None = Field(
        default=None, gt=0, description="length of the trace's loop, s (default: uniform grid)"
    )


class CapacityCsvReader(FunctionReader):
    """The ``capacity-csv`` reader (:func:`read_capacity_csv`)."""

    Params = _GridParams
    function = staticmethod(read_capacity_csv)


class SnrCsvReader(FunctionReader):
    """The ``snr-csv`` reader (:func:`read_snr_csv`)."""

    Params = _GridParams
    function = staticmethod(read_snr_csv)


class ArrivalsCsvReader(FunctionReader):
    """The ``arrivals-csv`` reader (:func:`read_arrivals_csv`)."""

    function = staticmethod(read_arrivals_csv)
