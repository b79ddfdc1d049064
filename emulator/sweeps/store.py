"""The sweep's output directory: where each file lives, and writes that are atomic.

::

    DIR/sweep.json               the plan: configurations (resolved scenarios), seeds, run ids
    DIR/runs/RUN_ID/trace.parquet, run.json    the run's trace and sidecar
    (coinfer.emulator.api.run)
    DIR/runs/RUN_ID/summary.json               its small summary, written last: "finished"
    DIR/runs/RUN_ID/error.json                 or the error that stopped it
    DIR/results.parquet          one row per run
    DIR/aggregate.parquet, aggregate.csv       mean and 95 % CI per configuration
    DIR/plots/KIND.png, KIND.pdf

Every JSON file is written to a temporary name in the same directory, flushed to disk and renamed
over the target, so a reader (or a resumed sweep) sees either the whole file or none of it. A
run counts as finished only when its ``summary.json`` is complete and names the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coinfer.emulator.errors import InputError
from coinfer.emulator.output_files import write_bytes_atomically

PLAN_FILE = "sweep.json"
RUNS_DIR = "runs"
SUMMARY_FILE = "summary.json"
ERROR_FILE = "error.json"
RESULTS_FILE = "results.parquet"
AGGREGATE_PARQUET = "aggregate.parquet"
AGGREGATE_CSV = "aggregate.csv"
PLOTS_DIR = "plots"
#: Keys a complete summary record has.
RECORD_KEYS = frozenset({"run_id", "config_id", "seed", "status", "metrics"})


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically (non-finite floats as ``Infinity``/``NaN``)."""
    text = json.dumps(data, indent=2, allow_nan=True, ensure_ascii=False) + "\n"
    write_bytes_atomically(path, text.encode("utf-8"))


def read_json(path: Path) -> Any | None:
    """The JSON data at ``path``, or None if the file is missing or not valid JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class SweepStore:
    """Paths and records of one sweep directory (no I/O until a method is called)."""

    root: Path

    def run_dir(self, run_id: str) -> Path:
        """Directory of one run's trace, sidecar and summary."""
        return self.root / RUNS_DIR / run_id

    def summary_path(self, run_id: str) -> Path:
        """The run's ``summary.json``: present and complete once the run finished."""
        return self.run_dir(run_id) / SUMMARY_FILE

    def error_path(self, run_id: str) -> Path:
        """The run's ``error.json``: present if its last attempt failed."""
        return self.run_dir(run_id) / ERROR_FILE

    def finished(self, run_id: str) -> dict[str, Any] | None:
        """The run's summary record if it finished, else None."""
        record = read_json(self.summary_path(run_id))
        if (
            isinstance(record, dict)
            and set(record) >= RECORD_KEYS
            and record["run_id"] == run_id
            and record["status"] == "ok"
        ):
            return record
        return None

    def record(self, run_id: str) -> dict[str, Any] | None:
        """The run's summary record, or its failure record, or None if it never ran."""
        finished = self.finished(run_id)
        if finished is not None:
            return finished
        failed = read_json(self.error_path(run_id))
        if isinstance(failed, dict) and failed.get("run_id") == run_id:
            return failed
        return None

    def write_plan(self, plan: dict[str, Any]) -> None:
        """Write ``sweep.json`` (the plan as JSON data)."""
        write_json(self.root / PLAN_FILE, plan)

    def read_plan(self) -> dict[str, Any]:
        """The plan in ``sweep.json``; :class:`InputError` if this is not a sweep directory."""
        plan = read_json(self.root / PLAN_FILE)
        if not isinstance(plan, dict) or "runs" not in plan:
            raise InputError(
                f"{str(self.root)!r}: not a sweep directory (no readable {PLAN_FILE}); "
                "expected the output directory of `coinfer sweep`"
            )
        return plan

    def write_error(self, record: dict[str, Any]) -> None:
        """Record a failed run's error in its ``error.json``."""
        write_json(self.error_path(record["run_id"]), record)
