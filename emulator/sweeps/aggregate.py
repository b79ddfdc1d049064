"""Tables of a sweep: one row per run, and mean ± 95 % confidence interval per configuration.

The confidence interval of a metric over the ``n`` seeds of a configuration is Student's t:
``mean ± t(0.975, n − 1) · s / √n`` with ``s`` the sample standard deviation (``ddof = 1``);
seeds where the metric is undefined (NaN: no completed request, say) are left out, and with fewer
than two values the half-width is NaN. The aggregate table has, per configuration (in the sweep's
order), its id, policy label and varied values, ``runs`` (finished), ``failed``, and for each
metric ``M`` the columns ``M_mean`` and ``M_ci95`` (the half-width). It depends only on the runs'
summaries, so it is the same whichever executor ran them, in whatever order.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from coinfer.emulator.api.intervals import t_interval
from coinfer.emulator.output_files import write_bytes_atomically
from coinfer.emulator.sweeps.plan import format_value
from coinfer.emulator.sweeps.store import (
    AGGREGATE_CSV,
    AGGREGATE_PARQUET,
    RESULTS_FILE,
    SweepStore,
)

QUANTILES_COLUMN = "latency_quantiles"
_IDENTITY = ("run_id", "config_id", "seed")


def results_table(plan: Mapping[str, Any], records: Mapping[str, Mapping[str, Any] | None]):
    """One row per planned run (plan order): identity, varied values, status, metrics.

    ``records`` maps run ids to their summary or failure record (None: not run yet, status
    ``missing``). The latency sketch is the list column ``latency_quantiles``.
    """
    configs = {c["config_id"]: c for c in plan["configurations"]}
    columns = list(plan["columns"])
    rows: list[dict[str, Any]] = []
    metric_names: dict[str, None] = {}
    for run in plan["runs"]:
        config = configs[run["config_id"]]
        record = records.get(run["run_id"]) or {}
        row: dict[str, Any] = {key: run[key] for key in _IDENTITY}
        row["policy"] = config["policy"]
        row.update({c: config["point"].get(c) for c in columns if c != "policy"})
        row["status"] = record.get("status", "missing")
        row["error"] = record.get("error")
        row["wall_time_s"] = record.get("wall_time_s", float("nan"))
        metrics = record.get("metrics") or {}
        metric_names.update(dict.fromkeys(metrics))
        row["_metrics"] = metrics
        row[QUANTILES_COLUMN] = record.get(QUANTILES_COLUMN)
        rows.append(row)
    for row in rows:
        metrics = row.pop("_metrics")
        for name in metric_names:
            value = metrics.get(name)
            row[name] = float("nan") if value is None else float(value)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    for column in columns:
        frame[column] = _uniform(frame[column].tolist())
    return frame


def metric_columns(results: pd.DataFrame, plan: Mapping[str, Any]) -> list[str]:
    """The metric columns of a results table (everything after the fixed columns)."""
    fixed = {*_IDENTITY, *plan["columns"], "status", "error", "wall_time_s", QUANTILES_COLUMN}
    return [c for c in results.columns if c not in fixed]


def aggregate(results: pd.DataFrame, plan: Mapping[str, Any]) -> pd.DataFrame:
    """Mean and 95 % CI half-width over seeds of every metric, per configuration (plan order)."""
    metrics = metric_columns(results, plan)
    columns = list(plan["columns"])
    rows = []
    for config in plan["configurations"]:
        runs = results[results["config_id"] == config["config_id"]]
        ok = runs[runs["status"] == "ok"]
        row: dict[str, Any] = {"config_id": config["config_id"]}
        row.update({c: runs[c].iloc[0] if len(runs) else None for c in columns})
        row["runs"] = len(ok)
        row["failed"] = int((runs["status"] == "failed").sum())
        for name in metrics:
            mean, half, _ = t_interval(ok[name].to_numpy(dtype=float))
            row[f"{name}_mean"] = mean
            row[f"{name}_ci95"] = half
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SweepResults:
    """A sweep directory's plan and its two tables."""

    plan: dict[str, Any]
    results: pd.DataFrame
    aggregate: pd.DataFrame


def collect(store: SweepStore) -> SweepResults:
    """Read the plan and every run's record from a sweep directory, and build both tables."""
    plan = store.read_plan()
    records = {run["run_id"]: store.record(run["run_id"]) for run in plan["runs"]}
    results = results_table(plan, records)
    return SweepResults(plan, results, aggregate(results, plan))


def write_tables(store: SweepStore, tables: SweepResults) -> list[Path]:
    """Write ``results.parquet``, ``aggregate.parquet`` and ``aggregate.csv`` atomically."""
    written = []
    for name, frame, kind in (
        (RESULTS_FILE, tables.results, "parquet"),
        (AGGREGATE_PARQUET, tables.aggregate, "parquet"),
        (AGGREGATE_CSV, tables.aggregate, "csv"),
    ):
        buffer = io.BytesIO()
        if kind == "parquet":
            frame.to_parquet(buffer, index=False)
        else:
            buffer.write(frame.to_csv(index=False).encode("utf-8"))
        path = store.root / name
        write_bytes_atomically(path, buffer.getvalue())
        written.append(path)
    return written


def _uniform(values: list[Any]) -> list[Any]:
    """A column of varied values with one type: numbers, booleans or text."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present):
        return values
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return [float("nan") if v is None else float(v) for v in values]
    return [None if v is None else format_value(v) for v in values]
