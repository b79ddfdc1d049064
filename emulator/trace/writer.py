"""Writing a declared table: rows buffered flat, turned into columns, streamed to Parquet.

Rows are given as tuples (in the table's column order, built with
``build(table, name=value, ...)``), buffered one after the other in one flat list (``extend``:
no per-row object kept, and a column is one slice of it) and turned into columns every
``chunk_rows`` rows, so memory stays bounded however long the run: with an output path each
chunk is appended to a Parquet file as a row group; without one, chunks are kept as Arrow tables
for :meth:`TableWriter.table`. Categorical columns arrive as integer codes into label lists and
are stored dictionary-encoded (the only columns with Parquet dictionary pages): with all their
labels, or only with those a chunk uses when there are more labels than the chunk has rows.
A table of many small rows (one per generated token, say) may instead be appended a block of
rows at a time, one numpy array per column (:meth:`TableWriter.append_block`).
Columns that hold the same values for many rows (a device's budgets, a decision's distortion
and quality, say) may be given once as a *template* instead (:meth:`TableWriter.expand`): a row
then carries its template's index and the other columns, and the template columns are filled in
on flush, one Arrow ``take`` per column instead of one value per row and column.
Observers (:meth:`TableWriter.observe`) see every chunk as it is written: the run's summary is
accumulated that way, without reading the table back.

The Parquet file is written under a temporary name beside the output path and renamed to it by
:meth:`TableWriter.close` (:mod:`coinfer.emulator.output_files`): a run killed while writing
leaves the file of the previous run there, complete, or no file at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.output_files import partial_path
from coinfer.emulator.trace.table import Table

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class TableWriter:
    """Buffers rows of ``table`` and writes them in chunks.

    Categorical columns arrive as integer codes into the label lists given here (one list per
    categorical column, by name); they are dictionary-encoded on flush without building one
    string per row.
    """

    def __init__(
        self,
        table: Table,
        labels: dict[str, list[str]],
        path: str | Path | None = None,
        chunk_rows: int = 65_536,
    ) -> None:
        self.declaration = table
        self._schema = table.schema
        self.set_labels(labels)
        self._path = None if path is None else Path(path)
        self._chunk_rows = chunk_rows
        #: the buffered rows' values, row after row (column j of row i at i·width + j)
        self._flat: list[object] = []
        self._width = len(table.columns)
        self._blocks: list[tuple[np.ndarray, ...]] = []
        self._block_rows = 0
        self._tables: list[pa.Table] = []
        self._writer: pq.ParquetWriter | None = None
        self.rows_written = 0
        self._observers: list[Callable[[pa.Table], None]] = []
        #: the columns given by template (:meth:`expand`), their templates, and each
        #: template's index by its values
        self._expanded: tuple[str, ...] = ()
        self.templates: list[tuple[Any, ...]] = []
        self._template_index: dict[tuple[Any, ...], int] = {}
        #: add one row (a tuple in column order; with :meth:`expand`, its template's index,
        #: then the other columns in column order)
        self.append: Callable[[tuple[Any, ...]], None] = self._flat.extend

    @property
    def rows_appended(self) -> int:
        """Rows given so far: written or kept, and still buffered."""
        return self.rows_written + len(self._flat) // self._width + self._block_rows

    def use_table(self, table: Table) -> None:
        """Write ``table`` instead (only before the first row: ``RuntimeError`` after)."""
        if self._flat or self._blocks or self.rows_written or self._writer is not None:
            raise RuntimeError(f"use_table({table.name!r}) after rows were written")
        self.declaration = table
        self._schema = table.schema
        self._width = self._row_width()

    def expand(self, columns: tuple[str, ...]) -> None:
        """Rows appended from now on give ``columns`` through a template: each row is the
        index of its template (:meth:`template`, the values of ``columns`` in that order), then
        the table's other columns in column order. On flush each of ``columns`` is its
        templates' values taken at the rows' indices: the same table as rows given whole.
        Only before the first row (``RuntimeError`` after); ``KeyError`` for an unknown
        column."""
        if self._flat or self._blocks or self.rows_written or self._writer is not None:
            raise RuntimeError(f"expand({columns!r}) after rows were written")
        for name in columns:
            self.declaration.column(name)
        self._expanded = tuple(columns)
        self._width = self._row_width()

    def template(self, values: tuple[Any, ...]) -> int:
        """The index of the template ``values`` (the columns of :meth:`expand`, in that order),
        added if it is new; callers may keep the index for rows with the same values."""
        index = self._template_index.get(values)
        if index is None:
            if len(values) != len(self._expanded):
                raise ValueError(
                    f"a template of {len(values)} values for table {self.declaration.name!r}, "
                    f"expected one per expanded column ({', '.join(self._expanded)})"
                )
            index = self._template_index[values] = len(self.templates)
            self.templates.append(values)
        return index

    def full_row(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """``row`` as appended, with its template's values in place: every column, in column
        order."""
        if not self._expanded:
            return row
        template = dict(zip(self._expanded, self.templates[row[0]], strict=True))
        rest = iter(row[1:])
        return tuple(
            template[name] if name in template else next(rest)
            for name in self.declaration.field_names
        )

    def _row_width(self) -> int:
        """Values per appended row."""
        expanded = len(self._expanded)
        return len(self.declaration.columns) - expanded + (1 if expanded else 0)

    def set_labels(self, labels: dict[str, list[str]]) -> None:
        """Labels of the categorical columns (before the first flush)."""
        self._labels = {name: pa.array(values, pa.string()) for name, values in labels.items()}

    def observe(self, observer: Callable[[pa.Table], None]) -> None:
        """Call ``observer`` with every chunk of rows (an Arrow table) as it is written."""
        self._observers.append(observer)

    def maybe_flush(self) -> None:
        """Flush if the buffer holds a full chunk (call after appending)."""
        if len(self._flat) >= self._chunk_rows * self._width:
            self.flush()

    def append_block(self, columns: tuple[np.ndarray, ...]) -> None:
        """Add rows given as one array per column, in column order (no categorical column);
        rows appended one by one before are written first."""
        if self._flat:
            self.flush()
        self._blocks.append(columns)
        self._block_rows += len(columns[0])
        if self._block_rows >= self._chunk_rows:
            self._flush_blocks()

    def flush(self) -> None:
        """Turn buffered rows into one Arrow table and write or keep it."""
        if self._blocks:
            self._flush_blocks()
        flat = self._flat
        if not flat:
            return
        width = self._width
        if len(flat) % width:
            raise ValueError(
                f"{len(flat)} values buffered for table {self.declaration.name!r}, expected a "
                f"multiple of its {width} columns: a row of another width was appended"
            )
        expanded = self._expanded
        position = 1 if expanded else 0  # of the next column given by the rows
        indices = None
        if expanded:  # only the templates these rows use: a run may have many
            used, at = np.unique(np.asarray(flat[0::width], dtype=np.int64), return_inverse=True)
            templates = [self.templates[i] for i in used.tolist()]
            indices = pa.array(at.astype(np.int32))
        arrays = []
        for column in self.declaration.columns:
            if column.name in expanded:
                k = expanded.index(column.name)
                values = [template[k] for template in templates]
            else:
                values = flat[position::width]
                position += 1
            if column.categorical:
                array = self._categorical(column.name, np.asarray(values, dtype=np.int32))
            else:
                array = pa.array(values, column.dtype)
            arrays.append(array if column.name not in expanded else array.take(indices))
        flat.clear()
        self._keep(pa.Table.from_arrays(arrays, schema=self._schema))

    def _categorical(self, name: str, codes: np.ndarray) -> pa.DictionaryArray:
        """The chunk's column ``name`` from its codes: dictionary-encoded with the column's
        labels, or, when there are more labels than rows (the device ids of 1,000,000 devices,
        say), with only those the rows use, in label order: Parquet writes a row group's whole
        dictionary, used or not. The values are the same either way."""
        labels = self._labels.get(name)
        if labels is None:
            raise KeyError(f"no labels for the categorical column {name!r}")
        if len(labels) <= len(codes):
            return pa.DictionaryArray.from_arrays(pa.array(codes), labels)
        used, at = np.unique(codes, return_inverse=True)
        return pa.DictionaryArray.from_arrays(
            pa.array(at.astype(np.int32)), labels.take(pa.array(used))
        )

    def _flush_blocks(self) -> None:
        blocks = self._blocks
        self._blocks = []
        self._block_rows = 0
        arrays = []
        for index, column in enumerate(self.declaration.columns):
            if column.categorical:
                raise TypeError(f"append_block: column {column.name!r} is categorical")
            values = np.concatenate([block[index] for block in blocks])
            arrays.append(pa.array(values, column.dtype))
        self._keep(pa.Table.from_arrays(arrays, schema=self._schema))

    def _keep(self, table: pa.Table) -> None:
        self.rows_written += table.num_rows
        for observer in self._observers:
            observer(table)
        if self._path is None:
            self._tables.append(table)
            return
        self._open().write_table(table)

    def _open(self) -> pq.ParquetWriter:
        if self._writer is None:
            assert self._path is not None
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # dictionary pages for the categorical columns only: on the numeric ones Parquet's
            # dictionary attempt costs more time than zstd alone, for a larger file
            dictionary = [c.name for c in self.declaration.columns if c.categorical]
            self._writer = pq.ParquetWriter(
                partial_path(self._path),
                self._schema,
                compression="zstd",
                use_dictionary=dictionary,
            )
        return self._writer

    def close(self) -> None:
        """Flush what is left and close the Parquet file (an empty run still gets a file)."""
        self.flush()
        if self._path is not None:
            self._open().close()
            self._writer = None
            os.replace(partial_path(self._path), self._path)

    def table(self) -> pa.Table:
        """The whole table as one Arrow table (read back from the file if there is one)."""
        if self._path is not None:
            return pq.read_table(self._path)
        if not self._tables:
            return self._schema.empty_table()
        return pa.concat_tables(self._tables).combine_chunks()
