"""Azure LLM inference traces 2023 (Patel et al., "Splitwise", ISCA 2024) as arrivals.

``AzureLLMInferenceTrace_{code,conv}.csv``: one request a row, ``TIMESTAMP`` (UTC, 100 ns
resolution, e.g. ``2023-11-16 18:17:03.9799600``), ``ContextTokens`` (prompt tokens) and
``GeneratedTokens`` (output tokens). Arrival times are in seconds from the first request; the
file order is kept (it is sorted by time).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from coinfer.emulator.errors import InputError
from coinfer.traces.arrivals import ArrivalTrace
from coinfer.traces.provenance import Provenance
from coinfer.traces.readers._parse import (
    check_at_least,
    check_integers,
    existing_file,
    file_error,
    numeric_column,
    read_csv_strings,
    require_columns,
)
from coinfer.traces.readers.base import FunctionReader

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
COLUMNS = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"]


def read_azure_llm(path: str | Path, provenance: Provenance | None = None) -> ArrivalTrace:
    """Read an Azure LLM 2023 trace: arrival times (s from 0), context and generated tokens."""
    file = existing_file(path)
    frame = read_csv_strings(file, file)
    require_columns(frame, COLUMNS, file)
    if frame.empty:
        raise InputError(f"{file}: no rows, expected one request a row")
    text = frame["TIMESTAMP"].str.strip()
    stamps = pd.to_datetime(text, format=TIMESTAMP_FORMAT, errors="coerce")
    if stamps.isna().any():
        row = int(np.argmax(stamps.isna().to_numpy()))
        raise file_error(file, row + 2, text.iloc[row], "a time like 2023-11-16 18:17:03.9799600")
    seconds = (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy()
    drops = np.diff(seconds) < 0.0
    if drops.any():
        row = int(np.argmax(drops)) + 1
        raise file_error(
            file,
            row + 2,
            text.iloc[row],
            f"nondecreasing timestamps (the line before has {text.iloc[row - 1]})",
        )
    tokens = {}
    for column in COLUMNS[1:]:
        values = numeric_column(frame, column, file, 2, "a whole number of tokens")
        check_integers(values, file, 2, "a whole number of tokens")
        check_at_least(values, 0.0, file, 2, "a number of tokens >= 0")
        tokens[column] = values.astype(np.int64)
    source = provenance or Provenance.user_file(file)
    return ArrivalTrace(
        seconds,
        tokens["ContextTokens"],
        tokens["GeneratedTokens"],
        source.with_notes(f"Azure LLM 2023: times from {stamps.iloc[0]} UTC"),
    )


class AzureLlmReader(FunctionReader):
    """The ``azure-llm`` reader (:func:`read_azure_llm`)."""

    function = staticmethod(read_azure_llm)
