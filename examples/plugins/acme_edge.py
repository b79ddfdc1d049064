"""Two plug-ins: an infinite-server discipline and log-normal block fading."""

import heapq
import math

import numpy as np
from pydantic import Field
from scipy import special

from coinfer.emulator.engine.fading import counter_uniform, counter_uniforms
from coinfer.emulator.scenario.schema import DisciplineParams, Fading


class InfiniteServer:
    """M/G/∞: every request is served on arrival by a worker of its own, `speedup` times
    faster than the server's hardware alone. No request ever waits."""

    class Params(DisciplineParams):
        speedup: float = Field(default=1.0, gt=0, description="worker speed, x the hardware's")

    def __init__(self, env, spec, on_done):
        self.env, self.spec, self._on_done = env, spec, on_done
        self._speedup = spec.discipline_params.speedup
        self._finishes = []  # heap of the finish times of the requests in service, s
        self.busy_s = 0.0  # time integral of the number of requests in service, s

    def status(self):
        while self._finishes and self._finishes[0] <= self.env.now:
            heapq.heappop(self._finishes)
        return 0, len(self._finishes), 0.0  # waiting, in service, wait on arrival (s)

    def serve(self, job, service_s):
        now = self.env.now
        took = service_s / self._speedup
        heapq.heappush(self._finishes, now + took)
        self.busy_s += took
        job.server_start_s = now
        self._on_done(job, now + took, took)  # finish time (s), time in service (s)
        return True  # never full


class LogNormalFading:
    """`10·log10|h|²` normal with standard deviation `sigma_db` (dB), shifted for mean 1."""

    class Params(Fading):
        sigma_db: float = Field(default=4.0, gt=0, description="spread of |h|² in dB")

    fades = True

    def __init__(self, params):
        self._sigma = params.sigma_db * math.log(10.0) / 10.0  # of ln|h|²

    def gain(self, key, block):
        z = float(special.ndtri(counter_uniform(key, block)))
        return math.exp(self._sigma * z - 0.5 * self._sigma**2)

    def gains(self, key, first, count):
        z = special.ndtri(counter_uniforms(key, first, count))
        return np.exp(self._sigma * z - 0.5 * self._sigma**2)
