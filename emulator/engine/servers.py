"""Edge servers: how a server serves the requests that reach it (the ``coinfer.servers`` family).

A server discipline is a plug-in (:mod:`coinfer.emulator.plugins`): a class implementing
:class:`ServerDiscipline`, registered under the name a scenario gives as a server's
``discipline``. The engine makes one per server at set-up and never asks which one it has.
The built-ins:

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
from typing import Any, ClassVar, Protocol

import simpy

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.deployment.spec import ServerSpec
from coinfer.emulator.engine.sharing import ProcessorSharing
from coinfer.emulator.scenario.schema import DisciplineParams

use_compiled(__name__, __file__)  # its compiled build, if built from this source

#: ``on_done(job, finish_s, service_s)``: the job left the server at ``finish_s`` (s, possibly
#: later than now for a computed finish) after ``service_s`` seconds in service.
ServerDone = Callable[[Any, float, float], None]


class ServerJob(Protocol):
    """What a processor-sharing server reads of a job (see :class:`ServerDiscipline`)."""

    left: float
    f_server_hz: float


class ServerDiscipline(Protocol):
    """A server discipline: one instance per server, made once when the run is set up.

    ``Params``: the discipline's own parameters (a :class:`DisciplineParams` model; a scenario
    gives them beside the server's other fields, the engine passes them as
    ``spec.discipline_params``). A job (the engine's request record) provides ``left`` (cycles
    to run at ``f_server_hz``, Hz) and receives ``server_start_s`` (s).
    """

    Params: ClassVar[type[DisciplineParams]]
    spec: ServerSpec  #: the server it runs
    busy_s: float  #: time integral of the busy fraction of the workers, s

    def __init__(self, env: simpy.Environment, spec: ServerSpec, on_done: ServerDone) -> None: ...

    def status(self) -> tuple[int, int, float]:
        """(requests waiting, requests in service, wait a request arriving now would face in s)."""
        ...

    def serve(self, job: Any, service_s: float) -> bool:
        """Take ``job``, which needs ``service_s`` seconds alone on one worker, now.

        False: the server is full and the job is dropped (nothing changed). True: the job's
        ``server_start_s`` is set and ``on_done`` is called exactly once, now or later.
        """
        ...


class FcfsServer:
    """First come, first served on ``workers`` identical workers (finish computed on arrival:
    ``on_done`` is called at once with the future finish time)."""

    Params = DisciplineParams

    def __init__(self, env: simpy.Environment, spec: ServerSpec, on_done: ServerDone) -> None:
        self.env = env
        self.spec = spec
        self._on_done = on_done
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
        now = self.env._now
        departures = self._departures
        while departures and departures[0] <= now:
            heapq.heappop(departures)
        n = len(departures)
        in_service = min(n, self.spec.workers)
        return n - in_service, in_service, max(self._free_at[0] - now, 0.0)

    def serve(self, job: Any, service_s: float) -> bool:
        now = self.env._now
        capacity = self.spec.queue_capacity
        if capacity is not None:
            n = self._in_system(now)
            if n - min(n, self.spec.workers) >= capacity and self._free_at[0] > now:
                return False
        start = max(now, self._free_at[0])
        finish = start + service_s
        heapq.heapreplace(self._free_at, finish)
        heapq.heappush(self._departures, finish)
        self.busy_s += service_s / self.spec.workers
        job.server_start_s = start
        self._on_done(job, finish, service_s)
        return True


class PsServer(ProcessorSharing):
    """Processor sharing: ``n`` requests each at ``min(1, workers/n)`` of their own speed.

    A job provides ``left`` (cycles) and ``f_server_hz``; ``on_done`` fires when it ends.
    """

    Params = DisciplineParams

    def __init__(self, env: simpy.Environment, spec: ServerSpec, on_done: ServerDone) -> None:
        super().__init__(env, self._finished)
        self.spec = spec
        self._server_done = on_done

    def serve(self, job: Any, service_s: float) -> bool:
        if self.full():
            return False
        job.server_start_s = self._env._now
        self.join(job)
        return True

    def _finished(self, job: Any) -> None:
        now = self._env._now
        self._server_done(job, now, now - job.server_start_s)

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

    def work_done(self, job: ServerJob, t0: float, t1: float, n: int) -> float:
        return job.f_server_hz * self._speed_share(n) * (t1 - t0)

    def finish_time(self, job: ServerJob, t0: float, n: int, horizon_s: float) -> float:
        return t0 + job.left / (job.f_server_hz * self._speed_share(n))
