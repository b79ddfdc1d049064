"""Mahimahi link traces: one delivery opportunity for a 1500-byte packet per line.

Each line is a millisecond timestamp ``m`` (from the start of the trace) at which one MTU-sized
packet (1500 bytes = 12,000 bits) may cross the link; several packets in one millisecond repeat
the timestamp. ``mm-link`` replays the file in a loop whose period is the last timestamp ``P``
(ms): loop ``k`` delivers at ``k·P + m``. It refuses an empty file, an empty line, decreasing
timestamps and a last timestamp of 0; so does this reader.

Conversion: the opportunity at ``m`` becomes capacity in the millisecond *ending* at ``m``,
``[m - 1, m)`` ms, so that the ``P`` one-millisecond bins ``[0, P)`` hold every opportunity of
one period exactly once (an opportunity at ``m = 0`` coincides with ``P`` of the previous loop
and falls in the last bin). Bins are summed over ``bin_s`` (default 1 ms; the last bin is cut at
the period) and runs of equal capacity are merged. Bits per interval stay exact (whole packets ×
12,000), so the mean capacity is ``packets × 12,000 / (P / 1000)`` bit/s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import Field

from coinfer.emulator.errors import InputError
from coinfer.traces.capacity import LinkCapacityTrace
from coinfer.traces.provenance import Provenance
from coinfer.traces.readers._parse import decode_ascii_lines, existing_file, file_error
from coinfer.traces.readers.base import FunctionReader, ReaderParams

PACKET_BITS = 1500 * 8  # one MTU-sized packet


def read_mahimahi(
    path: str | Path, bin_s: float = 0.001, provenance: Provenance | None = None
) -> LinkCapacityTrace:
    """Read a Mahimahi trace file as a looping :class:`LinkCapacityTrace` (bit/s).

    ``bin_s``: the resolution of the capacity series, a whole number of milliseconds (s).
    """
    file = existing_file(path)
    bin_ms = _bin_ms(bin_s)
    lines = decode_ascii_lines(file.read_bytes(), file)
    if not lines:
        raise InputError(f"{file}: the file is empty, expected one millisecond timestamp a line")
    stamps = _timestamps(lines, file)
    period_ms = int(stamps[-1])
    if period_ms == 0:
        raise file_error(file, len(lines), lines[-1], "a last timestamp > 0 (the loop period)")
    # Opportunity at m -> the millisecond [m - 1, m); m = 0 -> the last millisecond [P - 1, P).
    millisecond = (stamps - 1) % period_ms
    bins = -(-period_ms // bin_ms)
    packets = np.bincount(millisecond // bin_ms, minlength=bins).astype(np.int64)
    ends_ms = np.minimum(np.arange(1, bins + 1, dtype=np.int64) * bin_ms, period_ms)
    widths_ms = np.diff(ends_ms, prepend=0)
    # Merge runs of equal capacity: packets_i / width_i == packets_j / width_j, in integers.
    change = np.ones(bins, dtype=bool)
    change[1:] = packets[1:] * widths_ms[:-1] != packets[:-1] * widths_ms[1:]
    starts = np.flatnonzero(change)
    merged_packets = np.add.reduceat(packets, starts)
    edges_ms = np.append(starts * bin_ms, period_ms)
    source = provenance or Provenance.user_file(file)
    notes = (
        f"Mahimahi: {stamps.size} packets of {PACKET_BITS} bits in a {period_ms} ms loop, "
        f"binned per {bin_ms} ms"
    )
    return LinkCapacityTrace(
        edges_ms / 1000.0, merged_packets * float(PACKET_BITS), source.with_notes(notes)
    )


def _bin_ms(bin_s: float) -> int:
    bin_ms = round(bin_s * 1000.0)
    if bin_ms < 1 or abs(bin_ms - bin_s * 1000.0) > 1e-9:
        raise InputError(f"bin: got {bin_s!r} s, expected a whole number of milliseconds >= 1")
    return bin_ms


def _timestamps(lines: list[str], source: Path) -> np.ndarray:
    """The timestamps as int64, refusing non-integers, negatives and decreasing values."""
    try:
        stamps = np.array(lines, dtype=np.int64)
    except (ValueError, OverflowError):
        stamps = np.array([_one(line, number, source) for number, line in enumerate(lines, 1)])
    if stamps.size and stamps.min() < 0:
        row = int(np.argmax(stamps < 0))
        raise file_error(source, row + 1, lines[row], "a nonnegative integer (milliseconds)")
    drops = np.diff(stamps) < 0
    if drops.any():
        row = int(np.argmax(drops)) + 1
        raise file_error(
            source,
            row + 1,
            lines[row],
            f"nondecreasing milliseconds (the line before has {lines[row - 1]})",
        )
    return stamps


def _one(line: str, number: int, source: Path) -> int:
    try:
        return int(line)
    except ValueError as err:
        raise file_error(source, number, line, "an integer (milliseconds)") from err


class MahimahiReader(FunctionReader):
    """The ``mahimahi`` reader (:func:`read_mahimahi`)."""

    class Params(ReaderParams):
        bin_s: float = Field(default=0.001, gt=0, description="resolution of the series, s")

    function = staticmethod(read_mahimahi)
