"""Watching a run while it executes, at no cost to a run that is not watched.

:func:`watch` adds one SimPy process to an engine: it wakes at simulated-time steps it adapts
so that it wakes about four times per ``interval_wall_s`` of wall time, and about every
``interval_wall_s`` hands a :class:`Progress` to a callback (a progress bar,
:mod:`coinfer.emulator.api.progress`). The engine's own code is not touched: an unwatched run
has no such process and pays nothing; a watched one pays a few events per wall-clock second.
The process only reads the engine's state (simulated time, requests arrived and finished, the
events SimPy has scheduled), so a watched run's trace is the unwatched run's, row for row
(tested). It ends when it is the last thing scheduled, so the run still ends when its last
request leaves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, NamedTuple

import simpy

if TYPE_CHECKING:
    from coinfer.emulator.engine.core import Engine


class Progress(NamedTuple):
    """A run's progress at one moment."""

    sim_time_s: float  #: simulated time, s
    arrived: int  #: requests arrived so far
    done: int  #: requests that left the system (trace rows)
    events: int  #: events SimPy has scheduled so far (-1: not known)
    wall_s: float  #: wall time since the watch started, s
    finished: bool  #: the run has nothing left to do (the last report)


#: The first simulated-time step of the watcher, s (adapted from there on).
FIRST_STEP_S = 1e-3
#: How much one adaptation may change the step: at most this factor up or down.
MOST_CHANGE = 4.0
#: The watcher wakes at most this often in wall time, s (whatever ``interval_wall_s``).
SHORTEST_WAKE_S = 1e-3
#: Its simulated-time step never falls below this, s (it always moves time on).
SMALLEST_STEP_S = 1e-9


def watch(
    engine: Engine, report: Callable[[Progress], None], interval_wall_s: float = 0.25
) -> None:
    """Call ``report`` with the run's :class:`Progress` about every ``interval_wall_s`` seconds
    of wall time while ``engine`` runs, and once when it ends (``finished``)."""
    engine.env.process(_watcher(engine, report, interval_wall_s))


def _watcher(
    engine: Engine, report: Callable[[Progress], None], interval_wall_s: float
) -> Generator[simpy.Event, object, None]:
    env = engine.env
    queue = env._queue  # SimPy's event heap: empty once the watcher's wake-up is all there was
    started = last_wake = last_report = time.perf_counter()
    step = FIRST_STEP_S
    target = max(interval_wall_s / 4.0, SHORTEST_WAKE_S)

    def progress(now: float, finished: bool) -> Progress:
        # at the end: the last request's end, which may lie past the last event (a result's
        # downlink and a computed finish are not events), whatever the watcher's last step
        return Progress(
            max(env.now, engine._last_done_s) if finished else env.now,
            engine._next_id,
            engine.writer.rows_appended,
            _events(env),
            now - started,
            finished,
        )

    while True:
        yield env.timeout(step)
        now = time.perf_counter()
        if not queue:  # nothing else scheduled: the run is over
            report(progress(now, True))
            return
        if now - last_report >= interval_wall_s:
            report(progress(now, False))
            last_report = now
        elapsed = max(now - last_wake, 1e-9)
        step = max(
            step * min(MOST_CHANGE, max(1.0 / MOST_CHANGE, target / elapsed)), SMALLEST_STEP_S
        )
        last_wake = now


def _events(env: simpy.Environment) -> int:
    """The events ``env`` has scheduled so far: the next value of its event counter, read from
    the counter's ``repr`` (``count(N)``) without advancing it; -1 if that is not available."""
    text = repr(getattr(env, "_eid", None))
    if text.startswith("count(") and text.endswith(")"):
        try:
            return int(text[6:-1])
        except ValueError:
            return -1
    return -1
