"""Running sweeps: the same tables on every executor, resume after a failure or a kill, failed
runs recorded without losing the others."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from coinfer.emulator.sweeps.executors import DaskExecutor, ProcessExecutor, SerialExecutor
from coinfer.emulator.sweeps.runner import run_sweep
from coinfer.emulator.sweeps.store import SweepStore
from tests.emulator.sweeps.helpers import plan_of, sweep_data, write_sweep
from tests.emulator.sweeps.plugins import MODULE

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def plan():
    return plan_of(sweep_data())


@pytest.fixture(scope="module")
def serial(plan, tmp_path_factory):
    return run_sweep(plan, tmp_path_factory.mktemp("serial"), SerialExecutor(), progress=False)


def test_a_serial_sweep_runs_everything_and_writes_its_files(serial, plan):
    assert (serial.planned, serial.ran, serial.skipped, serial.failed) == (12, 12, 0, ())
    root = serial.store.root
    for name in ("sweep.json", "results.parquet", "aggregate.parquet", "aggregate.csv"):
        assert (root / name).stat().st_size > 0
    for run in plan.runs:
        files = {p.name for p in serial.store.run_dir(run.run_id).iterdir()}
        assert files == {"trace.parquet", "run.json", "summary.json", ".lock"}  # lock: free
    table = serial.tables.aggregate
    assert list(table["runs"]) == [3, 3, 3, 3]
    assert (table["requests_mean"] == 40).all()
    csv = pd.read_csv(root / "aggregate.csv")
    assert list(csv.columns) == list(table.columns) and len(csv) == 4
    pd.testing.assert_frame_equal(pd.read_parquet(root / "aggregate.parquet"), table)
    summary = json.loads(serial.store.summary_path(plan.runs[0].run_id).read_text())
    assert summary["status"] == "ok" and len(summary["latency_quantiles"]) == 103
    assert "breakdown.latency_uplink_s" in summary["metrics"]


def test_processes_and_a_dask_cluster_give_identical_tables(serial, plan, tmp_path):
    distributed = pytest.importorskip("distributed", reason="the cluster extra is not installed")
    LocalCluster = distributed.LocalCluster

    processes = run_sweep(plan, tmp_path / "processes", ProcessExecutor(2), progress=False)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        dask = run_sweep(plan, tmp_path / "dask", DaskExecutor(cluster), progress=False)
    for other in (processes, dask):
        assert other.ran == 12 and not other.failed
        pd.testing.assert_frame_equal(other.tables.aggregate, serial.tables.aggregate)
        metrics = ["seed", "latency_p99_s", "energy_per_request_j", "deadline_met_ratio"]
        pd.testing.assert_frame_equal(other.tables.results[metrics], serial.tables.results[metrics])


def test_a_rerun_skips_finished_runs(serial, plan):
    before = {r.run_id: serial.store.summary_path(r.run_id).stat().st_mtime_ns for r in plan.runs}
    again = run_sweep(plan, serial.store.root, SerialExecutor(), progress=False)
    assert (again.ran, again.skipped) == (0, 12)
    after = {r.run_id: serial.store.summary_path(r.run_id).stat().st_mtime_ns for r in plan.runs}
    assert after == before
    pd.testing.assert_frame_equal(again.tables.aggregate, serial.tables.aggregate)


def _with_policy(name, params, seeds=(1, 2)):
    return sweep_data(
        policies=[{"name": "fixed", "params": {"split": 4}}, {"name": name, "params": params}],
        axes={"devices.0.arrivals.rate_per_s": [2.0]},
        seeds=list(seeds),
    )


def test_a_failing_run_is_recorded_and_the_others_finish(tmp_path):
    plan = plan_of(_with_policy(f"{MODULE}:BrokenPolicy", {"split": 4}))
    outcome = run_sweep(plan, tmp_path, SerialExecutor(), progress=False)
    assert outcome.ran == 4 and len(outcome.failed) == 2
    failed = {r["run_id"] for r in outcome.failed}
    assert failed == {r.run_id for r in plan.runs[2:]}
    for run_id in failed:
        error = json.loads(outcome.store.error_path(run_id).read_text())
        assert error["error"] == "ValueError: broken policy: no decision today"
        assert "Traceback" in error["traceback"]
        assert not outcome.store.summary_path(run_id).exists()
    results = outcome.tables.results
    assert list(results["status"]) == ["ok", "ok", "failed", "failed"]
    assert list(outcome.tables.aggregate["failed"]) == [0, 2]
    assert list(outcome.tables.aggregate["runs"]) == [2, 0]


def test_resume_after_a_failure_redoes_only_the_failed_run(tmp_path):
    marker = tmp_path / "flaky-marker"
    plan = plan_of(_with_policy(f"{MODULE}:FlakyPolicy", {"split": 4, "marker": str(marker)}))
    first = run_sweep(plan, tmp_path / "out", SerialExecutor(), progress=False)
    assert first.ran == 4 and [r["seed"] for r in first.failed] == [1]
    store = first.store
    finished = {
        r.run_id: store.summary_path(r.run_id).stat().st_mtime_ns
        for r in plan.runs
        if store.finished(r.run_id)
    }
    assert len(finished) == 3
    second = run_sweep(plan, tmp_path / "out", SerialExecutor(), progress=False)
    assert (second.ran, second.skipped, second.failed) == (1, 3, ())
    for run_id, mtime in finished.items():
        assert store.summary_path(run_id).stat().st_mtime_ns == mtime
    retried = first.failed[0]["run_id"]
    assert store.finished(retried) and not store.error_path(retried).exists()
    assert list(second.tables.aggregate["runs"]) == [2, 2]


def test_an_incomplete_summary_does_not_count_as_finished(serial, plan, tmp_path):
    store = SweepStore(tmp_path)
    run_id = plan.runs[0].run_id
    store.summary_path(run_id).parent.mkdir(parents=True)
    store.summary_path(run_id).write_text('{"run_id": "' + run_id + '", "status": "o')
    assert store.finished(run_id) is None
    store.summary_path(run_id).write_text(json.dumps({"run_id": run_id, "status": "ok"}))
    assert store.finished(run_id) is None  # no metrics: not a complete record


def test_resume_after_the_sweep_process_is_killed(tmp_path):
    data = sweep_data(
        policies=[{"name": f"{MODULE}:SleepyPolicy", "params": {"split": 4, "sleep_s": 0.7}}],
        axes={"devices.0.arrivals.rate_per_s": [1.0, 2.0]},
        seeds=[1, 2],
    )
    path = write_sweep(tmp_path, data)
    out = tmp_path / "out"
    plan = plan_of(data, tmp_path)
    store = SweepStore(out)
    command = [sys.executable, "-m", "coinfer.emulator.cli.main", "sweep", str(path), "--serial"]
    process = subprocess.Popen([*command, "--out", str(out)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not any(store.finished(r.run_id) for r in plan.runs):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    finished = {
        r.run_id: store.summary_path(r.run_id).stat().st_mtime_ns
        for r in plan.runs
        if store.finished(r.run_id)
    }
    assert 1 <= len(finished) < len(plan.runs)
    resumed = run_sweep(plan, out, SerialExecutor(), progress=False)
    assert (resumed.ran, resumed.skipped) == (len(plan.runs) - len(finished), len(finished))
    for run_id, mtime in finished.items():
        assert store.summary_path(run_id).stat().st_mtime_ns == mtime
    assert list(resumed.tables.aggregate["runs"]) == [2, 2]


@pytest.mark.slow
def test_a_run_that_kills_its_worker_process_fails_alone(tmp_path):
    plan = plan_of(_with_policy(f"{MODULE}:CrashPolicy", {"split": 4}, seeds=(1,)))
    outcome = run_sweep(plan, tmp_path, ProcessExecutor(2), progress=False)
    assert [r["run_id"] for r in outcome.failed] == [plan.runs[1].run_id]
    assert "BrokenProcessPool" in outcome.failed[0]["error"]
    assert list(outcome.tables.results["status"]) == ["ok", "failed"]


def test_the_progress_bar_shows_on_a_terminal_only_and_never_under_ci(monkeypatch, capsys):
    from coinfer.emulator.sweeps import runner

    class Terminal:
        def isatty(self):
            return True

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(runner.sys, "stderr", Terminal())
    assert runner.progress_enabled()
    monkeypatch.setenv("CI", "true")
    assert not runner.progress_enabled()


def test_a_progress_bar_counts_the_runs(plan, tmp_path, capsys):
    run_sweep(plan, tmp_path, SerialExecutor(), progress=True)
    err = capsys.readouterr().err
    assert "tiny: 100%" in err and "12/12" in err and "run/s" in err


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_workers_of_a_killed_sweep_die_with_it(tmp_path):
    """A sweep killed with SIGKILL leaves no worker process running its runs behind."""
    data = sweep_data(
        policies=[{"name": f"{MODULE}:SleepyPolicy", "params": {"split": 4, "sleep_s": 2.0}}],
        axes={"devices.0.arrivals.rate_per_s": [1.0, 2.0]},
        seeds=[1, 2],
    )
    path = write_sweep(tmp_path, data)
    command = [sys.executable, "-m", "coinfer.emulator.cli.main", "sweep", str(path)]
    process = subprocess.Popen(
        [*command, "--workers", "2", "--out", str(tmp_path / "out")], cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while len(workers) < 2:  # the pool's two workers (and the resource tracker)
            assert process.poll() is None and time.monotonic() < deadline
            workers = {
                pid
                for pid in _children(process.pid)
                if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
            }
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)
