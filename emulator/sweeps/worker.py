"""Executing one run of a sweep: what a worker (thread, process or Dask worker) calls.

:func:`execute_run` runs the scenario on its seed into the run's directory (trace and sidecar,
:func:`emulator.run.simulate`), then writes ``summary.json`` atomically, last: only then does the
run count as finished. An exception inside the run is caught and written to ``error.json``; the
record returned says ``status: failed`` and the sweep goes on. Leftovers of an interrupted
attempt are removed first, so a run always starts clean.

A run holds an exclusive lock on ``RUN_DIR/.lock`` (``flock``) while it executes; the system
releases it when the process ends, however it ends. A run whose lock another live process holds
(the worker of a sweep killed with SIGKILL that is still finishing, or a second sweep started on
the same folder) is not touched: it is reported failed with that reason, and the next run of
the sweep picks it up once it finished. Where ``fcntl`` does not exist (Windows) runs are not
locked.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coinfer.emulator.api.estimate import MAX_EVENTS
from coinfer.emulator.scenario.schema import Scenario
from coinfer.emulator.sweeps.store import ERROR_FILE, SUMMARY_FILE, write_json

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

_LEFTOVERS = (SUMMARY_FILE, ERROR_FILE, "trace.parquet", "run.json")
#: The lock a run holds while it executes.
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class RunTask:
    """One run to execute: picklable, self-contained."""

    run_id: str
    config_id: str
    seed: int
    scenario: Scenario
    run_dir: str  #: the run's directory (on a file system every worker sees)
    #: where the input traces the scenario replays are read from (None: $COINFER_TRACE_DIR, then
    #: the download cache), as ``simulate``'s ``trace_dir``
    trace_dir: str | None = None
    #: run even beyond the machine's means or ``max_events`` (``simulate``'s ``force``)
    force: bool = False
    max_events: float = MAX_EVENTS  #: the event limit of the run (``simulate``'s)


def execute_run(task: RunTask) -> dict[str, Any]:
    """Run ``task``; return its summary record, or its failure record if the run raised or
    another live process holds it."""
    run_dir = Path(task.run_dir)
    with run_lock(run_dir) as held:
        if not held:
            busy = RuntimeError(
                f"run {task.run_id} is being executed by another live process (its lock "
                f"{run_dir / LOCK_FILE} is held); left alone"
            )
            return failure_record(task, busy)
        return _execute(task, run_dir)


def _execute(task: RunTask, run_dir: Path) -> dict[str, Any]:
    from coinfer.emulator.api.run import simulate
    from coinfer.emulator.sweeps.metrics import run_metrics

    _clear(run_dir)
    started = time.perf_counter()
    try:
        result = simulate(
            task.scenario,
            task.seed,
            run_dir,
            trace_dir=task.trace_dir,
            progress=False,
            force=task.force,
            max_events=task.max_events,
        )
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


@contextmanager
def run_lock(run_dir: Path) -> Iterator[bool]:
    """Hold the exclusive lock of ``run_dir`` while inside (yields False, holding nothing, if
    another process holds it)."""
    if fcntl is None:
        yield True
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = os.open(run_dir / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(handle)  # releases the lock


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
