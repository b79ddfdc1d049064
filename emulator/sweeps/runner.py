"""Running a sweep: skip what finished, execute the rest, record failures, build the tables.

::

    from coinfer.emulator.sweeps.executors import SerialExecutor
    from coinfer.emulator.sweeps.plan import load_plan
    from coinfer.emulator.sweeps.runner import run_sweep

    plan = load_plan("examples/sweeps/budgets.yaml")
    outcome = run_sweep(plan, "sweeps/budgets", SerialExecutor())
    outcome.tables.aggregate    # mean and 95 % CI per configuration

Resuming is the same call: a run whose ``summary.json`` is complete is not run again, whatever
stopped the previous attempt (an exception, a kill, a power cut). The executor is entered only
if something is left to run.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coinfer.emulator.api.estimate import MAX_EVENTS
from coinfer.emulator.errors import InputError
from coinfer.emulator.output_files import check_output_dir
from coinfer.emulator.sweeps.aggregate import SweepResults, collect, write_tables
from coinfer.emulator.sweeps.executors import Executor
from coinfer.emulator.sweeps.plan import Plan
from coinfer.emulator.sweeps.store import PLAN_FILE, SweepStore, read_json
from coinfer.emulator.sweeps.worker import RunTask, execute_run, failure_record


@dataclass(frozen=True)
class SweepOutcome:
    """What one call of :func:`run_sweep` did, and the sweep's tables afterwards."""

    store: SweepStore
    planned: int  #: runs in the plan
    skipped: int  #: already finished before this call
    ran: int  #: executed by this call (finished or failed)
    failed: tuple[dict[str, Any], ...]  #: failure records of this call's runs
    tables: SweepResults
    wall_time_s: float


def check_sweep_folder(store: SweepStore, plan: Plan) -> None:
    """:class:`InputError` unless ``store``'s folder is new, empty, or holds this sweep: the
    same name and some of its runs (a re-run, or the same sweep with more seeds or values)."""
    root = store.root
    if not root.is_dir() or not any(root.iterdir()):
        return
    existing = read_json(root / PLAN_FILE)
    where = f"{str(root)!r}"
    if not isinstance(existing, dict) or "runs" not in existing:
        raise InputError(
            f"{where} is not empty and holds no sweep, expected a new or empty folder, or the "
            "folder of this sweep (or `overwrite`)",
            argument="out_dir",
            mentions=("overwrite",),
        )
    ours = {run.run_id for run in plan.runs}
    theirs = {run.get("run_id") for run in existing["runs"] if isinstance(run, dict)}
    if existing.get("name") != plan.name or not ours & theirs:
        raise InputError(
            f"{where} holds another sweep ({existing.get('name')!r}, {len(theirs)} runs, none "
            f"of sweep {plan.name!r}'s); expected a new folder or this sweep's own (or "
            "`overwrite` to take it over)",
            argument="out_dir",
            mentions=("overwrite",),
        )


def pending_tasks(
    plan: Plan,
    store: SweepStore,
    trace_dir: str | Path | None = None,
    *,
    force: bool = False,
    max_events: float = MAX_EVENTS,
) -> list[RunTask]:
    """The plan's runs that have not finished, as tasks (plan order), reading their input
    traces from ``trace_dir`` (made absolute), with ``simulate``'s ``force`` and
    ``max_events``."""
    scenarios = {c.config_id: c.scenario for c in plan.configurations}
    traces = None if trace_dir is None else str(Path(trace_dir).resolve())
    return [
        RunTask(
            run.run_id,
            run.config_id,
            run.seed,
            scenarios[run.config_id],
            str(path),
            traces,
            force,
            max_events,
        )
        for run in plan.runs
        if store.finished(run.run_id) is None
        for path in [store.run_dir(run.run_id)]
    ]


def progress_enabled() -> bool:
    """Show a progress bar only on a terminal, and never under CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def run_sweep(
    plan: Plan,
    out_dir: str | Path,
    executor: Executor,
    *,
    progress: bool | None = None,
    overwrite: bool = False,
    trace_dir: str | Path | None = None,
    force: bool = False,
    max_events: float = MAX_EVENTS,
) -> SweepOutcome:
    """Run every unfinished run of ``plan`` into ``out_dir`` on ``executor``.

    ``progress``: a tqdm bar with ETA on stderr (default: :func:`progress_enabled`).
    ``out_dir`` must be new, empty, or the folder of this sweep (:func:`check_sweep_folder`);
    ``overwrite`` takes a folder of another sweep over (its runs stay in ``runs/``, in no table).
    ``trace_dir``: where the input traces the scenarios replay are read from (default:
    ``$COINFER_TRACE_DIR``, then the download cache); it is not part of any id.
    ``force`` and ``max_events``: as :func:`~coinfer.emulator.api.run.simulate`'s, for every
    run (not part of any id either).
    """
    from tqdm import tqdm

    started = time.perf_counter()
    store = SweepStore(check_output_dir(out_dir, "out_dir"))
    if not overwrite:
        check_sweep_folder(store, plan)
    store.write_plan(plan.to_json())
    tasks = pending_tasks(plan, store, trace_dir, force=force, max_events=max_events)
    failed: list[dict[str, Any]] = []
    show = progress_enabled() if progress is None else progress
    if tasks:
        with (
            tqdm(
                total=len(tasks),
                desc=plan.name,
                unit="run",
                file=sys.stderr,
                disable=not show,
                dynamic_ncols=True,
            ) as bar,
            executor,
        ):
            for record in executor.map_unordered(execute_run, tasks, failure_record):
                if record["status"] != "ok":
                    store.write_error(record)
                    failed.append(record)
                    bar.set_postfix_str(f"{len(failed)} failed")
                bar.update(1)
    tables = collect(store)
    write_tables(store, tables)
    return SweepOutcome(
        store=store,
        planned=len(plan.runs),
        skipped=len(plan.runs) - len(tasks),
        ran=len(tasks),
        failed=tuple(failed),
        tables=tables,
        wall_time_s=time.perf_counter() - started,
    )
