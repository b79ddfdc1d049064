"""Wired links at run time: each direction's bandwidth shared fairly by the transfers on it.

A request whose server is not at its access point crosses the wired path hop by hop (store and
forward): on each link it joins the transfers in progress in that direction, all of which get an
equal share ``bandwidth / n`` and are re-rated when one starts or ends (:mod:`emulator.sharing`,
one pending event per link); it then waits the link's one-way latency before the next hop.
Links without a bandwidth (ideal) add their latency only; a path of ideal zero-latency links
costs no event at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.deployment.spec import LinkSpec
from coinfer.emulator.engine.sharing import ProcessorSharing, SharedJob

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class WiredLinkResource(ProcessorSharing):
    """One direction of a wired link: ``n`` transfers each at ``bandwidth / n`` bit/s.

    A job provides ``left`` (bits); ``on_done(job)`` fires when its last bit is sent.
    """

    def __init__(
        self, env: simpy.Environment, spec: LinkSpec, on_done: Callable[[Any], None]
    ) -> None:
        super().__init__(env, on_done)
        self.spec = spec
        self._bandwidth = spec.bandwidth_bps

    def work_done(self, job: SharedJob, t0: float, t1: float, n: int) -> float:
        return self._bandwidth / n * (t1 - t0)

    def finish_time(self, job: SharedJob, t0: float, n: int, horizon_s: float) -> float:
        return t0 + job.left * n / self._bandwidth
