"""Executing one run of a sweep: what a worker (thread, process or Dask worker) calls.

:func:`execute_run` runs the scenario on its seed into the run's directory (trace and sidecar,
:func:`emulator.run.simulate`), then writes ``summary.json`` atomically, last: only then does the
run count as finished. An exception inside the run is caught and written to ``error.json``; the
record returned says ``status: failed`` and the sweep goes on. Leftovers of an interrupted
attempt are removed first, so a run always starts clean.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coinfer.emulator.scenario.schema import Scenario
from coinfer.emulator.sweeps.store import ERROR_FILE, SUMMARY_FILE, write_json

_LEFTOVERS = (SUMMARY_FILE, ERROR_FILE, "trace.parquet", "run.json")


@dataclass(frozen=True)
class RunTask:
    """One run to execute: picklable, self-contained."""

    run_id: str
    config_id: str
    seed: int
    scenario: Scenario
    run_dir: str  #: the run's directory (on a file system every worker sees)
    #: where the input traces the scenario replays are read from (None: $COINFER_TRACE_DIR,
    #: then the download cache); absolute, on a file system every worker sees
    trace_dir: str | None = None


def execute_run(task: RunTask) -> dict[str, Any]:
    """Run ``task``; return its summary record, or its failure record if the run raised."""
    from coinfer.emulator.api.run import simulate
    from coinfer.emulator.sweeps.metrics import run_metrics

    run_dir = Path(task.run_dir)
    _clear(run_dir)
    started = time.perf_counter()
    try:
        result = simulate(task.scenario, task.seed, run_dir, trace_dir=task.trace_dir)
        metrics, sketch = run_metrics(result)
    except Exception as err:
        record = failure_record(task, err, time.perf_counter() - started)
        write_json(run_dir / ERROR_FILE, record)
        return record
    record = {
        **_identity(task),
        "status": "ok",
        "requests": result.stats.requests,
        "wall_time_s": time.perf_counter() - started,
        "metrics": metrics,
        "latency_quantiles": sketch,
    }
    write_json(run_dir / SUMMARY_FILE, record)
    return record


def failure_record(task: RunTask, err: BaseException, wall_time_s: float = 0.0) -> dict[str, Any]:
    """The record of a run that failed with ``err``."""
    return {
        **_identity(task),
        "status": "failed",
        "wall_time_s": wall_time_s,
        "error": f"{type(err).__name__}: {err}",
        "traceback": "".join(traceback.format_exception(err)),
    }


def _identity(task: RunTask) -> dict[str, Any]:
    return {"run_id": task.run_id, "config_id": task.config_id, "seed": task.seed}


def _clear(run_dir: Path) -> None:
    for name in _LEFTOVERS:
        (run_dir / name).unlink(missing_ok=True)
    if run_dir.is_dir():
        for temporary in run_dir.glob(".*.tmp"):
            temporary.unlink(missing_ok=True)
