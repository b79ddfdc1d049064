"""The progress bar of a run on a terminal: simulated time, requests done, events/s, ETA.

:class:`RunProgress` is the callback :func:`coinfer.emulator.engine.progress.watch` reports
to. With a duration the bar counts simulated seconds up to ``duration_s`` (arrivals stop
there; the requests still in flight then drain, the bar showing them as ``draining``); with a
number of requests it counts the requests that arrived. tqdm works out the rate and the ETA.
"""

from __future__ import annotations

import math
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from coinfer.emulator.engine.progress import Progress

if TYPE_CHECKING:
    from coinfer.emulator.scenario.schema import Scenario


def progress_wanted(stream: TextIO | None = None) -> bool:
    """Whether to show a progress bar by default: on a terminal, and never under CI."""
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("CI")


class RunProgress:
    """A tqdm bar fed with :class:`Progress` reports; :meth:`close` when the run is over."""

    def __init__(self, scenario: Scenario, seed: int, stream: TextIO | None = None) -> None:
        from tqdm import tqdm

        self._by_time = scenario.requests is None and math.isfinite(scenario.duration_s or 0.0)
        total = scenario.duration_s if self._by_time else scenario.requests
        self._bar: Any = tqdm(
            total=total,
            desc=f"{scenario.name} s{seed}",
            unit=" sim s" if self._by_time else " req",
            file=sys.stderr if stream is None else stream,
            dynamic_ncols=True,
            bar_format=(
                "{desc}: {percentage:3.0f}%|{bar}| {n:.4g}/{total:.4g}{unit} "
                if self._by_time
                else "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{unit} "
            )
            + "[{elapsed}<{remaining}{postfix}]",
        )
        self._total = float(total or 0.0)
        self._last_events = 0
        self._last_wall = 0.0

    def __call__(self, progress: Progress) -> None:
        position = progress.sim_time_s if self._by_time else float(progress.arrived)
        position = min(position, self._total)
        self._bar.n = position if self._by_time else int(position)
        rate = ""
        if progress.events >= 0 and progress.wall_s > self._last_wall:
            per_s = (progress.events - self._last_events) / (progress.wall_s - self._last_wall)
            rate = f", {per_s:.3g} events/s"
            self._last_events, self._last_wall = progress.events, progress.wall_s
        draining = " draining" if position >= self._total and not progress.finished else ""
        self._bar.set_postfix_str(
            f"t={progress.sim_time_s:.4g} s, {progress.done} done{rate}{draining}", refresh=True
        )

    def close(self) -> None:
        self._bar.close()
