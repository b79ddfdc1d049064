"""The Mooncake conversation trace (Qin et al., FAST 2025) as arrivals.

JSON lines ``{"timestamp": ms, "input_length": tokens, "output_length": tokens, "hash_ids":
[...]}``. Timestamps are milliseconds from the start and repeat; the file order is kept.
``hash_ids`` (512-token prefix blocks) are not used.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from coinfer.emulator.errors import InputError
from coinfer.traces.arrivals import ArrivalTrace
from coinfer.traces.provenance import Provenance
from coinfer.traces.readers._parse import existing_file, file_error
from coinfer.traces.readers.base import FunctionReader

FIELDS = ("timestamp", "input_length", "output_length")


def read_mooncake(path: str | Path, provenance: Provenance | None = None) -> ArrivalTrace:
    """Read a Mooncake JSON-lines trace: arrival times (s from the first), input and output
    tokens."""
    file = existing_file(path)
    rows: list[tuple[float, int, int]] = []
    numbers: list[int] = []
    with file.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            rows.append(_row(raw, number, file))
            numbers.append(number)
    if not rows:
        raise InputError(f"{file}: no requests, expected one JSON object a line")
    table = np.array(rows, dtype=float)
    millis = table[:, 0]
    order = np.diff(millis) < 0.0
    if order.any():
        row = int(np.argmax(order)) + 1
        raise file_error(
            file,
            numbers[row],
            _shown(millis[row]),
            f"nondecreasing timestamps (the request before has {_shown(millis[row - 1])})",
        )
    source = provenance or Provenance.user_file(file)
    return ArrivalTrace(
        (millis - millis[0]) / 1000.0,
        table[:, 1].astype(np.int64),
        table[:, 2].astype(np.int64),
        source.with_notes("Mooncake: timestamps in ms, file order kept"),
    )


def _row(raw: bytes, number: int, file: Path) -> tuple[float, int, int]:
    try:
        record = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        text = raw.decode("utf-8", "replace").strip()
        raise file_error(file, number, text, "one JSON object a line") from err
    if not isinstance(record, dict):
        raise file_error(file, number, record, "a JSON object")
    values = []
    for key in FIELDS:
        value = record.get(key)
        if value is None:
            raise file_error(file, number, record, f"a {key!r} field")
        valid = isinstance(value, int | float) and not isinstance(value, bool)
        if not valid or not math.isfinite(value) or value < 0:
            raise file_error(file, number, value, f"{key} as a number >= 0")
        if key != "timestamp" and value != int(value):
            raise file_error(file, number, value, f"{key} as a whole number of tokens")
        values.append(value)
    return float(values[0]), int(values[1]), int(values[2])


def _shown(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


class MooncakeReader(FunctionReader):
    """The ``mooncake`` reader (:func:`read_mooncake`)."""

    function = staticmethod(read_mooncake)
