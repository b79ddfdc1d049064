"""How the suite runs: in work units under xdist, and leaving the checkout as it found it.

Under ``-n`` (``-n auto`` is in addopts) xdist's ``load`` distribution hands out work units
(``tests/scheduling.py``) instead of single tests: one document's commands, or a module's tests
that share a costly fixture, go to one worker together.

Tests write into ``tmp_path``, never into the checkout (the documentation commands run in a
temporary copy, see ``tests/test_docs.py``). To prove it, the process that runs the session (the
xdist controller under ``-n``, else the only process) snapshots ``git status --ignored`` before
any test runs and again when all have finished, and fails the run, listing the files, when
anything but a cache (``__pycache__``, ``.pytest_cache``, ``.hypothesis``, ``*.egg-info``) is
new, changed or gone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.checkout import Snapshot, left_behind, snapshot
from tests.scheduling import work_unit

ROOT = Path(__file__).resolve().parents[1]
BEFORE = pytest.StashKey[Snapshot | None]()
LEFT_BEHIND = pytest.StashKey[list[str]]()


def runs_the_session(config: pytest.Config) -> bool:
    """False in an xdist worker: the controller sees the whole run, from before the workers
    start until after they have all stopped."""
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if runs_the_session(config):
        config.stash[BEFORE] = snapshot(ROOT)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if not runs_the_session(config) or config.stash.get(BEFORE, None) is None:
        return
    after = snapshot(ROOT)
    if after is None:
        return
    config.stash[LEFT_BEHIND] = left_behind(config.stash[BEFORE], after)
    if config.stash[LEFT_BEHIND] and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    lines = config.stash.get(LEFT_BEHIND, [])
    if lines:
        terminalreporter.section("the suite left files in the checkout", sep="=", red=True)
        for line in lines:
            terminalreporter.line(line, red=True)
        terminalreporter.line(
            f"checked with `git status --ignored` in {ROOT}: a test must write to tmp_path "
            "(or were these files edited while the suite ran?)"
        )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist load`` (the default under ``-n``) by work unit; any other ``--dist`` as is."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        """xdist's scheduler by scope (largest units first), with our work units as scopes."""

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)
