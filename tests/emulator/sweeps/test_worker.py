"""A sweep's run is executed by one process at a time: a run whose lock another live process
holds is left alone, and reported as such; once released, the run executes."""

from __future__ import annotations

from coinfer.emulator.scenario.schema import load_scenario
from coinfer.emulator.sweeps.store import SUMMARY_FILE
from coinfer.emulator.sweeps.worker import LOCK_FILE, RunTask, execute_run, run_lock

PAPER = "examples/scenarios/paper-single.yaml"


def task(run_dir) -> RunTask:
    scenario = load_scenario(PAPER, ["requests=3"])
    return RunTask("r1", "c1", 1, scenario, str(run_dir))


def test_a_run_held_by_another_process_is_left_alone(tmp_path):
    run_dir = tmp_path / "runs" / "r1"
    with run_lock(run_dir) as held:  # a second open file: to flock, another holder
        assert held
        record = execute_run(task(run_dir))
        assert record["status"] == "failed"
        assert "being executed by another live process" in record["error"]
        assert sorted(p.name for p in run_dir.iterdir()) == [LOCK_FILE]  # nothing touched
    record = execute_run(task(run_dir))
    assert record["status"] == "ok" and (run_dir / SUMMARY_FILE).is_file()


def test_the_lock_is_free_again_after_a_run(tmp_path):
    run_dir = tmp_path / "r1"
    execute_run(task(run_dir))
    with run_lock(run_dir) as held:
        assert held
