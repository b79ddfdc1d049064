"""Helpers shared by the trace readers: opening files and refusing bad values by line.

Every refusal is an :class:`~coinfer.emulator.errors.InputError` whose message names the file, the
line (1-based, counting the header) and the value, and says what was expected.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from coinfer.emulator.errors import InputError


def file_error(source: object, line: int, value: object, expected: str) -> InputError:
    """``FILE, line N: got VALUE, expected WHAT`` (the error's ``path`` is ``line N``)."""
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return InputError(
        f"{source}, line {line}: got {shown}, expected {expected}",
        path=f"line {line}",
        value=value,
        expected=expected,
        source=str(source),
    )


def existing_file(path: str | Path) -> Path:
    """``path`` as a :class:`Path`, refused unless it is a readable file."""
    file = Path(path)
    if not file.is_file():
        what = "a directory" if file.is_dir() else "no such file"
        raise InputError(
            f"{file}: {what}, expected a trace file", source=str(file), expected="a trace file"
        )
    return file


def read_csv_strings(
    handle: IO[bytes] | str | Path, source: object, header: bool = True
) -> pd.DataFrame:
    """Every cell of a CSV file as a string (no missing-value guessing, blank lines kept)."""
    try:
        frame = pd.read_csv(
            handle,
            header=0 if header else None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError as err:
        raise InputError(f"{source}: the file is empty, expected CSV rows") from err
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        reason = " ".join(str(err).split())
        raise InputError(f"{source}: not a valid CSV file ({reason})") from err
    return frame.fillna("")  # short rows: their missing cells are empty strings


def require_columns(frame: pd.DataFrame, columns: list[str], source: object) -> None:
    """Refuse a table that lacks any of ``columns``, naming what is there."""
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns))
        raise InputError(f"{source}, line 1: missing column(s) {', '.join(missing)}; found {found}")


def numeric_column(
    frame: pd.DataFrame,
    column: object,
    source: object,
    first_line: int,
    expected: str,
    missing: str | None = None,
) -> np.ndarray:
    """The column as floats; a cell equal to ``missing`` becomes NaN, any other non-number
    (or non-finite number) is refused with its line."""
    cells = frame[column].astype(str).str.strip()
    values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if missing is not None:
        bad &= (cells != missing).to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise file_error(source, row + first_line, cells.iloc[row], expected)
    return values


def check_at_least(
    values: np.ndarray, minimum: float, source: object, first_line: int, expected: str
) -> None:
    """Refuse the first value below ``minimum`` (NaN is left alone)."""
    bad = values < minimum
    if bad.any():
        row = int(np.argmax(bad))
        raise file_error(source, row + first_line, _number(values[row]), expected)


def check_integers(values: np.ndarray, source: object, first_line: int, expected: str) -> None:
    """Refuse the first value that is not a whole number."""
    bad = values != np.round(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise file_error(source, row + first_line, _number(values[row]), expected)


def check_increasing(
    values: np.ndarray, source: object, first_line: int, strict: bool, what: str = "time"
) -> None:
    """Refuse the first value that does not come after (``strict``) or with its predecessor."""
    steps = np.diff(values)
    bad = steps <= 0.0 if strict else steps < 0.0
    if bad.any():
        row = int(np.argmax(bad)) + 1
        order = "increasing" if strict else "nondecreasing"
        raise file_error(
            source,
            row + first_line,
            _number(values[row]),
            f"{order} {what}s (the line before has {_number(values[row - 1])})",
        )


def decode_ascii_lines(raw: bytes, source: object) -> list[str]:
    """Lines of an ASCII text file; a final newline does not make an extra empty line."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise file_error(source, line, raw[err.start : err.start + 1], "ASCII text") from err
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def open_bytes(raw: bytes) -> IO[bytes]:
    """A binary file object over ``raw`` (for pandas)."""
    return io.BytesIO(raw)


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)
