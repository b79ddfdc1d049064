"""Egalitarian processor sharing with one pending SimPy event, whatever the number of jobs.

Jobs in a shared resource (uploads sharing a cell's band, requests sharing a server) progress at a
rate that depends on how many are active and, for uploads, on the fading block. Instead of one
event per job, the resource keeps a single wake-up timeout for the earliest finish; when a job
joins or leaves, every active job is advanced to now, re-rated, and the wake-up moved (the old
timeout is left to fire and ignored: SimPy timeouts cannot be cancelled). Rate changes inside a
job's lifetime that come from the fading process are integrated analytically by the subclass, so
a transfer spanning many fading blocks costs no event per block.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import simpy

from coinfer.emulator.compiled import use_compiled

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class SharedJob:
    """What a shared resource needs of a job; the engine's request record extends it."""

    #: ``left``: work left in the current shared stage (bits or cycles), set before the job
    #: starts; ``updated_s``: when ``left`` was last brought up to date, s; ``finish_s``: the
    #: predicted finish under the current sharing, s. Both set by the resource.
    __slots__ = ("finish_s", "left", "updated_s")

    left: float
    updated_s: float
    finish_s: float


class ProcessorSharing(ABC):
    """Active jobs share the resource equally; subclasses define the rates."""

    def __init__(self, env: simpy.Environment, on_done: Callable[[Any], None]) -> None:
        self._env = env
        self._on_done = on_done
        self._active: list[Any] = []
        self._version = 0
        self._last_s = 0.0
        self.busy_s = 0.0  #: integral of the busy fraction over time, s

    @property
    def active(self) -> int:
        """Jobs currently sharing the resource."""
        return len(self._active)

    @abstractmethod
    def work_done(self, job: Any, t0: float, t1: float, n: int) -> float:
        """Work ``job`` completes in ``[t0, t1]`` while ``n`` jobs share the resource."""

    @abstractmethod
    def finish_time(self, job: Any, t0: float, n: int, horizon_s: float) -> float:
        """When ``job`` finishes its ``left`` work if ``n`` jobs keep sharing from ``t0``.

        May return ``inf`` for a job known to finish after ``horizon_s`` (only the earliest
        finish is scheduled; the others are recomputed at the next change).
        """

    def busy_fraction(self, n: int) -> float:
        """Fraction of the resource in use with ``n`` active jobs (for utilisation)."""
        return 1.0 if n > 0 else 0.0

    def join(self, job: Any) -> None:
        """Start serving ``job`` (its ``left`` set by the caller) now."""
        now = self._env._now
        active = self._active
        if active:
            self._advance(now, len(active))
        else:  # alone: nothing to advance, and an idle resource adds nothing to busy_s
            self._last_s = now
        job.updated_s = now
        active.append(job)
        self._reschedule(now)

    def _advance(self, now: float, n: int) -> None:
        """Bring every active job's ``left`` up to ``now``; ``n`` jobs shared since the last
        update (finished jobs may already have been removed from the list)."""
        if now > self._last_s:
            self.busy_s += (now - self._last_s) * self.busy_fraction(n)
        for job in self._active:
            if now > job.updated_s:
                job.left -= self.work_done(job, job.updated_s, now, n)
                job.updated_s = now
        self._last_s = now

    def _reschedule(self, now: float) -> None:
        self._version += 1
        active = self._active
        n = len(active)
        if n == 0:
            return
        if n == 1:  # alone (the common case in a lightly loaded cell): its own finish
            job = active[0]
            earliest = job.finish_s = self.finish_time(job, now, 1, math.inf)
        else:
            earliest = math.inf
            for job in active:
                job.finish_s = self.finish_time(job, now, n, earliest)
                if job.finish_s < earliest:
                    earliest = job.finish_s
        # the version rides on the timeout: no closure per wake-up
        self._env.timeout(max(earliest - now, 0.0), self._version).callbacks.append(
            self._wake_event
        )

    def _wake_event(self, event: simpy.Event) -> None:
        self._wake(event._value)

    def _wake(self, version: int) -> None:
        if version != self._version:
            return  # superseded by a later join or leave
        now = self._env._now
        active = self._active
        sharing = len(active)
        if sharing == 1 and active[0].finish_s <= now:  # alone and done: nothing to advance
            job = active[0]
            self._active = []
            if now > self._last_s:
                self.busy_s += (now - self._last_s) * self.busy_fraction(1)
            self._last_s = now
            job.left = 0.0
            job.updated_s = now
            self._version += 1  # what _reschedule does with nothing left
            self._on_done(job)
            return
        finished: list[Any] = []
        remaining: list[Any] = []
        for job in active:
            (finished if job.finish_s <= now else remaining).append(job)
        self._active = remaining
        self._advance(now, sharing)
        for job in finished:
            job.left = 0.0
            job.updated_s = now
        self._reschedule(now)
        for job in finished:
            self._on_done(job)
