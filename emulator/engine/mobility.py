"""Mobility models: where a device is at each step of the measurement grid.

A mobility model is a plug-in of the ``coinfer.mobility`` family
(:mod:`coinfer.emulator.plugins`): a class implementing :class:`MobilityModel`, registered under
the name a device group gives as ``mobility.model``. A model produces the device's positions at
the grid times ``k·step_s`` (k = 1, 2, ...; step 0 is where the topology dropped the device), in
order, any number at a time: :meth:`MobilityModel.positions` called once for ``n`` steps returns
exactly what ``n`` calls for one step would (a model draws its random numbers per step or per
leg, never per call), which is what lets the engine update a device only when something needs
its position (:mod:`coinfer.emulator.engine.handover`). The built-ins:

* ``static``: never moves (the device keeps today's fixed gain; no handover checks);
* ``linear``: a straight line at constant speed;
* ``random-waypoint``: legs to uniform waypoints in an area at uniform speeds, with pauses;
* ``gauss-markov``: a Gauss–Markov velocity per axis, optionally bounced off an area;
* ``trace``: a replayed path (CSV of time, x, y or GPS), linearly interpolated.

Units: m, s, m/s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from coinfer.emulator.scenario.mobility import (
    Area,
    GaussMarkovMobility,
    LinearMobility,
    MobilityParams,
    RandomWaypointMobility,
    StaticMobility,
    TraceMobility,
)


@dataclass(frozen=True)
class MobilitySetting:
    """What a mobility model is made with besides its parameters."""

    start_m: tuple[float, float]  #: the device's position at time 0 (x, y), m
    area: Area  #: the default area: the bounding box of access points and devices
    step_s: float  #: the grid step, s
    rng: Callable[[], np.random.Generator]  #: the device's ``mobility`` stream (made on demand)
    #: the model's data read before the run (a trace's path: rows of time s, x m, y m, from
    #: :meth:`MobilityParams.read_data`), or None
    data: np.ndarray | None = None


class MobilityModel(Protocol):
    """A device's motion on the grid of ``step_s``."""

    Params: ClassVar[type[MobilityParams]]
    #: False: the device never moves (the engine then tracks nothing for it)
    moves: ClassVar[bool]

    def __init__(self, params: MobilityParams, setting: MobilitySetting) -> None: ...

    def positions(self, count: int) -> np.ndarray:
        """The positions at the next ``count`` grid steps, shape ``(count, 2)``, m."""
        ...


class StaticModel:
    """The device stays put."""

    Params = StaticMobility
    moves = False

    def __init__(self, params: StaticMobility, setting: MobilitySetting) -> None:
        self._at = np.asarray(setting.start_m, dtype=float)

    def positions(self, count: int) -> np.ndarray:
        return np.tile(self._at, (count, 1))


class LinearModel:
    """Constant velocity: position ``start + v·k·step`` at step ``k``."""

    Params = LinearMobility
    moves = True

    def __init__(self, params: LinearMobility, setting: MobilitySetting) -> None:
        heading = math.radians(params.direction_deg)
        self._start = np.asarray(setting.start_m, dtype=float)
        speed = params.speed_m_per_s
        self._step_m = np.array([speed * math.cos(heading), speed * math.sin(heading)])
        self._step_m *= setting.step_s
        self._k = 0

    def positions(self, count: int) -> np.ndarray:
        steps = np.arange(self._k + 1, self._k + count + 1, dtype=float)
        self._k += count
        positions: np.ndarray = self._start + steps[:, None] * self._step_m
        return positions


class RandomWaypointModel:
    """Random waypoint: each leg goes to a uniform point of the area at a uniform speed, then
    pauses. Every leg draws three numbers (x, y, speed) from the device's stream."""

    Params = RandomWaypointMobility
    moves = True

    def __init__(self, params: RandomWaypointMobility, setting: MobilitySetting) -> None:
        self._params = params
        area = params.area or setting.area
        self._low = np.array([area.x_min_m, area.y_min_m])
        self._span = np.array([area.x_max_m - area.x_min_m, area.y_max_m - area.y_min_m])
        self._step_s = setting.step_s
        self._make_rng = setting.rng
        self._rng: np.random.Generator | None = None
        self._k = 0
        # the current leg: from, to, departure time, arrival time, end of the pause after it
        self._from = np.asarray(setting.start_m, dtype=float)
        self._to = self._from
        self._depart_s = self._arrive_s = self._leave_s = 0.0

    def _next_leg(self) -> None:
        if self._rng is None:
            self._rng = self._make_rng()
        x, y, u = self._rng.random(3)
        p = self._params
        speed = p.speed_min_m_per_s + u * (p.speed_max_m_per_s - p.speed_min_m_per_s)
        self._from = self._to
        self._to = self._low + np.array([x, y]) * self._span
        self._depart_s = self._leave_s
        length = float(np.hypot(*(self._to - self._from)))
        travel = length / speed if speed > 0.0 else math.inf
        self._arrive_s = self._depart_s + travel
        self._leave_s = self._arrive_s + p.pause_s

    def positions(self, count: int) -> np.ndarray:
        out = np.empty((count, 2))
        if self._params.speed_max_m_per_s == 0.0:  # nobody moves: no draws
            out[:] = self._from
            self._k += count
            return out
        for i in range(count):
            self._k += 1
            t = self._k * self._step_s
            while t >= self._leave_s:
                self._next_leg()
            if t >= self._arrive_s:
                out[i] = self._to
            else:
                share = (t - self._depart_s) / (self._arrive_s - self._depart_s)
                out[i] = self._from + share * (self._to - self._from)
        return out


class GaussMarkovModel:
    """Gauss–Markov velocity per axis (see :class:`GaussMarkovMobility`); the first velocity is
    drawn from the stationary law ``N(mu, sigma²)``, so the velocity is stationary from the
    start. Each step draws two standard normals; a random mean heading draws one uniform first."""

    Params = GaussMarkovMobility
    moves = True

    def __init__(self, params: GaussMarkovMobility, setting: MobilitySetting) -> None:
        self._params = params
        self._area = params.area
        self._step_s = setting.step_s
        self._make_rng = setting.rng
        self._rng: np.random.Generator | None = None
        self._at = np.asarray(setting.start_m, dtype=float)
        self._mean = np.zeros(2)
        self._velocity = np.zeros(2)
        self._still = params.mean_speed_m_per_s == 0.0 and params.speed_std_m_per_s == 0.0

    def _start(self) -> np.random.Generator:
        rng = self._rng = self._make_rng()
        p = self._params
        if p.mean_direction_deg == "random":
            heading = 2.0 * math.pi * float(rng.random())
        else:
            heading = math.radians(p.mean_direction_deg)
        speed = p.mean_speed_m_per_s
        self._mean = np.array([speed * math.cos(heading), speed * math.sin(heading)])
        self._velocity = self._mean + p.speed_std_m_per_s * rng.standard_normal(2)
        return rng

    def positions(self, count: int) -> np.ndarray:
        out = np.empty((count, 2))
        if self._still:  # mean speed and spread 0: no draws, no motion
            out[:] = self._at
            return out
        rng = self._rng if self._rng is not None else self._start()
        p = self._params
        a = p.memory
        noise = p.speed_std_m_per_s * math.sqrt(1.0 - a * a) * rng.standard_normal((count, 2))
        step = self._step_s
        area = self._area
        v, x, mean = self._velocity, self._at, self._mean
        for i in range(count):
            x = x + v * step
            if area is not None:
                x, v, mean = _bounce(x, v, mean, area)
            out[i] = x
            v = a * v + (1.0 - a) * mean + noise[i]
        self._velocity, self._at, self._mean = v, x, mean
        return out


def _bounce(
    x: np.ndarray, v: np.ndarray, mean: np.ndarray, area: Area
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reflect a position that left ``area`` back in, turning the velocity (and its mean) on
    that axis around."""
    low = (area.x_min_m, area.y_min_m)
    high = (area.x_max_m, area.y_max_m)
    x, v, mean = x.copy(), v.copy(), mean.copy()
    for axis in (0, 1):
        if x[axis] < low[axis] or x[axis] > high[axis]:
            edge = low[axis] if x[axis] < low[axis] else high[axis]
            x[axis] = min(max(2.0 * edge - x[axis], low[axis]), high[axis])
            v[axis] = -v[axis]
            mean[axis] = -mean[axis]
    return x, v, mean


class TraceModel:
    """A replayed path, linearly interpolated at the grid times and moved so that it starts at
    the device's position; after its end the device stays at the last point (or, with
    ``loop``, replays the path from its end point)."""

    Params = TraceMobility
    moves = True

    def __init__(self, params: TraceMobility, setting: MobilitySetting) -> None:
        assert setting.data is not None, "a trace model needs its path (Params.read_data)"
        path = setting.data
        self._t = path[:, 0] - path[0, 0]
        self._xy = path[:, 1:3] - path[0, 1:3] + np.asarray(setting.start_m, dtype=float)
        self._loop = params.loop and self._t[-1] > 0.0
        self._step_s = setting.step_s
        self._k = 0

    def positions(self, count: int) -> np.ndarray:
        times = np.arange(self._k + 1, self._k + count + 1, dtype=float) * self._step_s
        self._k += count
        offset = np.zeros((count, 2))
        if self._loop:
            duration = self._t[-1]
            laps = np.floor(times / duration)
            times = times - laps * duration
            offset = laps[:, None] * (self._xy[-1] - self._xy[0])
        x = np.interp(times, self._t, self._xy[:, 0])
        y = np.interp(times, self._t, self._xy[:, 1])
        return np.column_stack([x, y]) + offset
