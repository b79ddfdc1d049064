"""The local process executor keeps its processes between calls inside a ``with`` block (a
search mapping round after round starts them once), and only there."""

from __future__ import annotations

import pytest

from coinfer.emulator.sweeps.executors import ProcessExecutor
from tests.emulator.sweeps.plugins import pid_of


def fail(task, err):
    raise AssertionError(f"task {task} failed: {err}")


@pytest.mark.slow  # starts processes twice: about 6 s
def test_processes_are_kept_between_calls_inside_a_with_block_and_ended_by_it(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)  # the workers import the tests package
    executor = ProcessExecutor(2)
    with executor:
        first = set(executor.map_unordered(pid_of, range(6), fail))
        second = set(executor.map_unordered(pid_of, range(6), fail))
        assert second <= first and 1 <= len(first) <= 2  # the same processes (or some)
        pool = executor._pool
        assert pool is not None
    assert executor._pool is None
    outside = set(executor.map_unordered(pid_of, range(2), fail))
    assert not outside & first and executor._pool is None
