"""Feedback while a run executes (issue 16, point 2): a progress bar on a terminal, off
elsewhere and with ``--quiet``; ``--log-level``; and a watched run is the same run."""

from pathlib import Path

import pandas as pd
import pytest

from coinfer.emulator.api import run as api_run
from coinfer.emulator.api.run import simulate
from coinfer.emulator.cli.main import main
from coinfer.emulator.engine.progress import Progress
from coinfer.emulator.scenario.schema import load_scenario

BUSY = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / "busy-cell.yaml"
SHORT = ["duration_s=20", "warmup_s=2"]


def test_a_watched_run_is_the_unwatched_run_row_for_row(capsys):
    scenario = load_scenario(BUSY, SHORT)
    watched = simulate(scenario, progress=True)
    plain = simulate(scenario, progress=False)
    pd.testing.assert_frame_equal(watched.trace, plain.trace)
    assert watched.stats == plain.stats
    bar = capsys.readouterr().err
    assert "busy-cell s7: 100%" in bar and "20/20 sim s" in bar


def test_the_watcher_reports_until_the_last_request_left(monkeypatch):
    """Every report is taken at a later simulated time with at least as many requests done;
    the last says the run is over and counts every request."""
    reports: list[Progress] = []

    class Recorder:
        def __init__(self, scenario, seed):
            pass

        def __call__(self, progress):
            reports.append(progress)

        def close(self):
            pass

    monkeypatch.setattr(api_run, "RunProgress", Recorder)
    monkeypatch.setattr("coinfer.emulator.engine.progress.watch.__defaults__", (0.001,))
    result = simulate(load_scenario(BUSY, SHORT), progress=True)
    assert len(reports) > 2 and reports[-1].finished
    assert not any(r.finished for r in reports[:-1])
    times = [r.sim_time_s for r in reports]
    done = [r.done for r in reports]
    assert times == sorted(times) and done == sorted(done)
    assert reports[-1].done == reports[-1].arrived == result.stats.requests
    assert reports[-1].sim_time_s >= result.stats.sim_end_s
    assert reports[-1].events > 0


def test_no_bar_when_stderr_is_not_a_terminal(capsys):
    simulate(load_scenario(BUSY, SHORT))  # progress=None: stderr here is captured, no terminal
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("flags", "shown"), [([], True), (["--quiet"], False)])
def test_run_shows_the_bar_on_a_terminal_unless_quiet(capsys, monkeypatch, tmp_path, flags, shown):
    monkeypatch.setattr(api_run, "progress_wanted", lambda: True)  # as on a terminal
    argv = ["run", str(BUSY), "--out", str(tmp_path / "r"), "--set", "duration_s=20", *flags]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert ("sim s" in err) is shown


def test_log_level_info_says_what_the_run_did(capsys, tmp_path):
    argv = ["--log-level", "info", "run", str(BUSY), "--out", str(tmp_path / "r")]
    assert main([*argv, "--set", "duration_s=20"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("coinfer: INFO: busy-cell: seed 7, 50 devices, 1 cells, 1 servers")
    assert err[1].startswith("coinfer: INFO: busy-cell: ") and "wall time" in err[1]
    assert main(["run", str(BUSY), "--out", str(tmp_path / "q"), "--set", "duration_s=20"]) == 0
    assert capsys.readouterr().err == ""  # the default level, warning: nothing to say
