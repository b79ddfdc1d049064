"""Edge servers: FCFS on parallel workers (computed, no events) or processor sharing.

* ``fcfs``: a request arriving at time ``t`` starts at ``max(t, earliest free worker)``; with
  first-come-first-served order the start is known on arrival, so no queue events are needed.
  ``queue_capacity`` bounds the requests waiting (not in service).
* ``ps``: the ``n`` requests in the server each run at ``min(1, workers/n)`` of their own speed
  (``f̃·c̃`` FLOPs/s at the clock their policy chose), re-rated as requests come and go.
  ``queue_capacity`` bounds the requests in the server.

Both report what a policy may see: requests waiting, in service, and the wait a request arriving
now would face.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

import simpy

from coinfer.emulator.deployment.spec import ServerSpec
from coinfer.emulator.engine.sharing import ProcessorSharing


class FcfsServer:
    """First come, first served on ``workers`` identical workers."""

    def __init__(self, env: simpy.Environment, spec: ServerSpec) -> None:
        self.env = env
        self.spec = spec
        self._free_at = [0.0] * spec.workers  # heap of worker free times
        self._departures: list[float] = []  # heap of accepted requests' finish times
        self.busy_s = 0.0  #: time integral of the busy fraction of the workers, s

    def _in_system(self, now: float) -> int:
        departures = self._departures
        while departures and departures[0] <= now:
            heapq.heappop(departures)
        return len(departures)

    def status(self) -> tuple[int, int, float]:
        """(waiting, in service, wait a request arriving now would face in s)."""
        now = self.env.now
        departures = self._departures
        while departures and departures[0] <= now:
            heapq.heappop(departures)
        n = len(departures)
        in_service = min(n, self.spec.workers)
        return n - in_service, in_service, max(self._free_at[0] - now, 0.0)

    def admit(self, service_s: float) -> tuple[float, float] | None:
        """Queue a request needing ``service_s`` seconds; its (start, finish) or None if full."""
        now = self.env.now
        capacity = self.spec.queue_capacity
        if capacity is not None:
            n = self._in_system(now)
            if n - min(n, self.spec.workers) >= capacity and self._free_at[0] > now:
                return None
        start = max(now, self._free_at[0])
        finish = start + service_s
        heapq.heapreplace(self._free_at, finish)
        heapq.heappush(self._departures, finish)
        self.busy_s += service_s / self.spec.workers
        return start, finish


class PsServer(ProcessorSharing):
    """Processor sharing: ``n`` requests each at ``min(1, workers/n)`` of their own speed.

    A job provides ``left`` (cycles) and ``f_server_hz``; ``on_done(job)`` fires when it ends.
    """

    def __init__(
        self, env: simpy.Environment, spec: ServerSpec, on_done: Callable[[Any], None]
    ) -> None:
        super().__init__(env, on_done)
        self.spec = spec

    def status(self) -> tuple[int, int, float]:
        """(waiting, in service, wait on arrival): with sharing nobody waits."""
        return 0, len(self._active), 0.0

    def full(self) -> bool:
        """Whether a request arriving now would be dropped."""
        capacity = self.spec.queue_capacity
        return capacity is not None and len(self._active) >= capacity

    def _speed_share(self, n: int) -> float:
        return min(1.0, self.spec.workers / n)

    def busy_fraction(self, n: int) -> float:
        return min(n, self.spec.workers) / self.spec.workers

    def work_done(self, job: Any, t0: float, t1: float, n: int) -> float:
        return job.f_server_hz * self._speed_share(n) * (t1 - t0)

    def finish_time(self, job: Any, t0: float, n: int, horizon_s: float) -> float:
        return t0 + job.left / (job.f_server_hz * self._speed_share(n))
