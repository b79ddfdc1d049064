"""The small summary of one run that a sweep keeps: flat metrics and a latency quantile sketch.

Metrics are the run's :class:`~coinfer.emulator.api.summary.Summary` fields (per-server and per-cell
utilisations flattened to ``server_utilisation.ID`` and ``cell_utilisation.ID``), plus

* ``offered_rate_per_s``: measured requests per second of the arrival window (all devices),
  the offered load;
* ``breakdown.COLUMN``: the mean of each latency part (s) and energy part (J) over completed
  measured requests: the columns the trace's declaration gives those roles
  (:data:`~coinfer.emulator.trace.columns.TRACE`), so a part added there (a backhaul, say)
  appears here without a change.

The sketch is the latency of completed measured requests at :data:`QUANTILE_LEVELS` (s), enough
to draw a CDF without the trace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq

from coinfer.emulator.api.run import TRACE_FILE
from coinfer.emulator.trace.columns import COLUMN_NAMES, TRACE
from coinfer.emulator.trace.table import Role

if TYPE_CHECKING:
    from coinfer.emulator.api.run import RunResult

#: Probability levels of the latency sketch: every percent, then the tail.
QUANTILE_LEVELS: tuple[float, ...] = (
    *(i / 100 for i in range(100)),
    0.995,
    0.999,
    1.0,
)


def breakdown_columns(names: list[str] | tuple[str, ...]) -> list[str]:
    """The latency parts, then the energy parts, among ``names`` (the columns of a trace file,
    which may predate some parts), in trace order."""
    present = set(names)
    parts = TRACE.names_with(Role.LATENCY_PART) + TRACE.names_with(Role.ENERGY_PART)
    return [name for name in parts if name in present]


def run_metrics(result: RunResult) -> tuple[dict[str, float], list[float]]:
    """The metrics and the latency sketch of a finished run (see the module docstring)."""
    summary = result.summary
    metrics: dict[str, float] = {}
    for key, value in summary.to_dict().items():
        if isinstance(value, dict):
            metrics.update({f"{key}.{k}": float(v) for k, v in value.items()})
        else:
            metrics[key] = float(value)
    window = result.stats.arrivals_end_s - result.scenario.warmup_s
    metrics["offered_rate_per_s"] = summary.requests / window if window > 0 else float("nan")

    names = (
        pq.read_schema(result.out_dir / TRACE_FILE).names
        if result.out_dir is not None
        else list(COLUMN_NAMES)
    )
    parts = breakdown_columns(names)
    trace = result.read_trace(["warmup", "status", "latency_s", *parts])
    done = ~trace["warmup"].to_numpy(dtype=bool) & (
        trace["status"].astype(str).to_numpy() == "completed"
    )
    for column in parts:
        values = trace[column].to_numpy(dtype=float)[done]
        metrics[f"breakdown.{column}"] = float(values.mean()) if len(values) else float("nan")
    latency = trace["latency_s"].to_numpy(dtype=float)[done]
    if len(latency):
        sketch = [float(q) for q in np.quantile(latency, QUANTILE_LEVELS)]
    else:
        sketch = [float("nan")] * len(QUANTILE_LEVELS)
    return metrics, sketch


def finite_or_none(value: Any) -> Any:
    """``value`` with non-finite floats replaced by None (for strict JSON output)."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
    return value
