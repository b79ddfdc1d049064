"""Test plug-ins for sweeps: a policy that fails its first attempt, one that always fails, one
that kills its process, one that is slow; an arrival process that cannot be scaled. Named in
sweeps as ``tests.emulator.sweeps.plugins:Class`` (importable from the repository root, also by
worker processes)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from coinfer.emulator.scenario.schema import ArrivalParams
from coinfer.policies.base import Decision, PolicyContext
from coinfer.policies.fixed import FixedParams, FixedPolicy

MODULE = "tests.emulator.sweeps.plugins"


class FlakyPolicy(FixedPolicy):
    """``fixed``, except that the first run to find ``marker`` missing creates it and fails."""

    name = "test-flaky"

    class Params(FixedParams):
        marker: str = Field(description="file marking that the first attempt happened")

    def decide(self, context: PolicyContext) -> Decision:
        marker = Path(self.params.marker)
        if not marker.exists():
            marker.write_text("the first attempt failed\n", encoding="utf-8")
            raise RuntimeError("flaky policy: the first attempt fails")
        return super().decide(context)


class BrokenPolicy(FixedPolicy):
    """Always raises on its first decision."""

    name = "test-broken"

    def decide(self, context: PolicyContext) -> Decision:
        raise ValueError("broken policy: no decision today")


class CrashPolicy(FixedPolicy):
    """Ends its process abruptly (as an out-of-memory kill would). Never run it in-process."""

    name = "test-crash"

    def decide(self, context: PolicyContext) -> Decision:
        os._exit(3)


class SleepyPolicy(FixedPolicy):
    """``fixed``, sleeping ``sleep_s`` before its first decision (a slow run)."""

    name = "test-sleepy"

    class Params(FixedParams):
        sleep_s: float = Field(default=1.0, ge=0, description="sleep before the first decision")

    def decide(self, context: PolicyContext) -> Decision:
        if not getattr(self, "_slept", False):
            time.sleep(self.params.sleep_s)
            self._slept = True
        return super().decide(context)


class BurstArrivals:
    """An arrival process whose parameters say nothing of how to scale its rate: ``burst``
    requests at once, every second."""

    class Params(ArrivalParams):
        burst: int = Field(default=2, ge=1, description="requests per burst")

    def __init__(self, params: ArrivalParams) -> None:
        self.params = params

    def gaps(self, device: Any, rng: Any) -> Iterator[float]:
        while True:
            yield 1.0
            yield from [0.0] * (self.params.burst - 1)


def pid_of(task: Any) -> int:
    """The id of the process that ran ``task`` (an executor's task function)."""
    return os.getpid()
