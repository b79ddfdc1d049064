"""The per-request trace: one row per request, columnar, streamed to Parquet in chunks.

Rows are buffered as tuples and turned into columns every ``chunk_rows`` rows, so memory stays
bounded however long the run: with an output path each chunk is appended to a Parquet file as a
row group; without one, chunks are kept as Arrow tables for :meth:`TraceWriter.table`.

Rows appear in the order the requests' outcomes become known, which is not always the order
they leave the system: a request admitted to a FCFS server is written on admission, with its
(already known) future ``t_done``. Sort by ``t_done`` or ``request_id`` for a time order.
Categorical columns (ids, policy, model, status) are stored dictionary-encoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

#: Every column: name, Arrow type, unit and meaning. The first 34 are the required schema of
#: the engine issue; later columns are appended (never inserted) so positions stay stable.
COLUMNS: tuple[tuple[str, pa.DataType, str], ...] = (
    ("request_id", pa.int64(), "request number, in arrival order from 0"),
    ("device_id", pa.string(), "device that issued the request"),
    ("cell_id", pa.string(), "cell (access point) of the device"),
    ("server_id", pa.string(), "edge server that served (or dropped) the request"),
    ("policy", pa.string(), "policy that decided the request"),
    ("model", pa.string(), "model profile name"),
    ("split", pa.int16(), "split point l: blocks 1..l on the device"),
    ("rho_device", pa.float64(), "fraction of device-side parameters kept"),
    ("rho_server", pa.float64(), "fraction of server-side parameters kept"),
    ("tx_power_w", pa.float64(), "uplink transmit power, W"),
    ("f_device_hz", pa.float64(), "device clock, Hz"),
    ("f_server_hz", pa.float64(), "server clock, Hz"),
    ("payload_bits", pa.float64(), "bits uploaded (work-scaled θ(l)), bits"),
    ("t_arrival", pa.float64(), "arrival time, s"),
    ("t_done", pa.float64(), "time the request left the system (done, dropped or refused), s"),
    ("status", pa.string(), "completed, dropped (server full) or infeasible (refused)"),
    ("latency_s", pa.float64(), "t_done − t_arrival = sum of the latency components, s"),
    ("latency_device_queue_s", pa.float64(), "wait for the device's earlier requests, s"),
    ("latency_device_compute_s", pa.float64(), "device compute, s"),
    ("latency_uplink_s", pa.float64(), "upload, including any wait for the band (fifo), s"),
    ("latency_server_queue_s", pa.float64(), "wait for a server worker (fcfs), s"),
    ("latency_server_compute_s", pa.float64(), "server compute (ps: the shared sojourn), s"),
    ("latency_downlink_s", pa.float64(), "result download, s"),
    ("energy_device_compute_j", pa.float64(), "device compute energy, J"),
    ("energy_uplink_j", pa.float64(), "upload energy (power × transmit time), J"),
    ("energy_server_j", pa.float64(), "server compute energy, PUE included, J"),
    ("energy_device_j", pa.float64(), "device battery energy: compute + upload, J"),
    ("energy_total_j", pa.float64(), "device + server energy, J"),
    ("distortion_bound", pa.float64(), "rate-distortion bound D̂ of the pruned model"),
    ("predicted_latency_s", pa.float64(), "the policy's predicted latency, s"),
    ("predicted_energy_j", pa.float64(), "the policy's predicted total energy, J"),
    ("deadline_s", pa.float64(), "latency budget T0, s"),
    ("deadline_met", pa.bool_(), "completed within the latency budget"),
    ("energy_budget_j", pa.float64(), "energy budget E0, J"),
    ("work_scale", pa.float64(), "request work relative to the profile"),
    ("gain", pa.float64(), "uplink gain estimate the policy saw (linear)"),
    ("bandwidth_hz", pa.float64(), "bandwidth share the policy saw, Hz"),
    ("policy_feasible", pa.bool_(), "the policy found a point meeting both budgets"),
    ("warmup", pa.bool_(), "arrived during the warm-up (left out of summaries)"),
    (
        "latency_backhaul_s",
        pa.float64(),
        "wired path to the server (transfer, contention, latency) and the result's way back, s",
    ),
)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(name for name, _, _ in COLUMNS[:34])
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _, _ in COLUMNS)
_CATEGORICAL = {"device_id", "cell_id", "server_id", "policy", "model", "status"}
SCHEMA = pa.schema(
    [
        pa.field(name, pa.dictionary(pa.int32(), pa.string()) if name in _CATEGORICAL else kind)
        for name, kind, _ in COLUMNS
    ]
)


class TraceWriter:
    """Buffers rows (tuples in :data:`COLUMN_NAMES` order) and writes them in chunks.

    Categorical columns arrive as integer codes into the label lists given here; they are
    dictionary-encoded on flush without building one string per row.
    """

    def __init__(
        self,
        labels: dict[str, list[str]],
        path: str | Path | None = None,
        chunk_rows: int = 65_536,
    ) -> None:
        self.set_labels(labels)
        self._path = None if path is None else Path(path)
        self._chunk_rows = chunk_rows
        self._rows: list[tuple] = []
        self._tables: list[pa.Table] = []
        self._writer: pq.ParquetWriter | None = None
        self.rows_written = 0
        self.append = self._rows.append  #: add one row (a tuple in column order)

    def set_labels(self, labels: dict[str, list[str]]) -> None:
        """Labels of the categorical columns (before the first flush)."""
        self._labels = {name: pa.array(values, pa.string()) for name, values in labels.items()}

    def maybe_flush(self) -> None:
        """Flush if the buffer holds a full chunk (call after appending)."""
        if len(self._rows) >= self._chunk_rows:
            self.flush()

    def flush(self) -> None:
        """Turn buffered rows into one Arrow table and write or keep it."""
        if not self._rows:
            return
        columns = list(zip(*self._rows, strict=True))
        self._rows.clear()
        arrays = []
        for (name, kind, _), values in zip(COLUMNS, columns, strict=True):
            if name in _CATEGORICAL:
                codes = pa.array(np.asarray(values, dtype=np.int32))
                arrays.append(pa.DictionaryArray.from_arrays(codes, self._labels[name]))
            else:
                arrays.append(pa.array(values, kind))
        table = pa.Table.from_arrays(arrays, schema=SCHEMA)
        self.rows_written += table.num_rows
        if self._path is None:
            self._tables.append(table)
            return
        if self._writer is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._path, SCHEMA, compression="zstd")
        self._writer.write_table(table)

    def close(self) -> None:
        """Flush what is left and close the Parquet file (an empty run still gets a file)."""
        self.flush()
        if self._path is not None:
            if self._writer is None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                self._writer = pq.ParquetWriter(self._path, SCHEMA, compression="zstd")
            self._writer.close()
            self._writer = None

    def table(self) -> pa.Table:
        """The whole trace as one Arrow table (read back from the file if there is one)."""
        if self._path is not None:
            return pq.read_table(self._path)
        if not self._tables:
            return SCHEMA.empty_table()
        return pa.concat_tables(self._tables).combine_chunks()
