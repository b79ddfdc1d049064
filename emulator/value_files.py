"""Reading a file of observed values (an empirical law's sample), with clear errors.

One value per row, or several columns with a header row naming them; blank lines and lines
starting with ``#`` are skipped. Used by the ``empirical`` work and token laws
(:class:`~coinfer.emulator.scenario.schema.EmpiricalWork`).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from coinfer.emulator.errors import InputError
from coinfer.emulator.text_files import read_text_lines


def read_values(path: Path, column: str | None, where: str) -> np.ndarray:
    """The values of the CSV file ``path`` (a read-only float64 array, every value > 0).

    ``column``: the header name of the column to read (None: the first column). Every problem
    raises :class:`InputError` naming ``where`` (the scenario field), the file and the row.
    """
    what = f"{where}: file {str(path)!r}"
    if not path.is_file():
        raise InputError(f"{what} does not exist", path=where, value=str(path))
    try:
        file_lines = read_text_lines(path, f"{where}: file")
    except InputError as err:
        raise InputError(err.message, path=where, value=str(path)) from err
    lines = [line for line in file_lines if line.strip() and not line.lstrip().startswith("#")]
    rows = list(csv.reader(lines))
    if not rows:
        raise InputError(f"{what} holds no values, expected one number per row", path=where)
    header = None
    if not _is_number(rows[0][0]):
        header = [name.strip() for name in rows[0]]
        rows = rows[1:]
    index = 0
    if column is not None:
        if header is None or column not in header:
            raise InputError(
                f"{what} has no column {column!r}; expected one of {header or 'no header'}",
                path=where,
                value=column,
            )
        index = header.index(column)
    values = []
    for number, row in enumerate(rows, start=2 if header else 1):
        text = row[index].strip() if index < len(row) else ""
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise InputError(
                f"{what} row {number}: got {text!r}, expected a finite number > 0",
                path=where,
                value=text,
            )
        values.append(value)
    if not values:
        raise InputError(f"{what} holds no values, expected one number per row", path=where)
    array = np.asarray(values, dtype=float)
    array.setflags(write=False)
    return array


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
