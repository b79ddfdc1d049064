"""A device's random draws: when its requests arrive, and how much work each one brings.

Both are plug-in families (:mod:`coinfer.emulator.plugins`): an *arrival process*
(``coinfer.arrivals``, named by a device group's ``arrivals.process``) implements
:class:`ArrivalProcess`, a *work law* (``coinfer.work``, named by ``work.distribution``)
implements :class:`WorkLaw`. The engine makes one of each per device at set-up, from the
group's validated parameters, and hands it the device's own random stream (``arrivals`` or
``work`` of :mod:`coinfer.emulator.randomness`, keyed by the device index), so that draws never
depend on other devices or on the order of events. Draws come in numpy blocks growing 1, 2, 4,
… up to :data:`DRAW_BLOCK` (:func:`block_sizes`), not one call per request.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import ClassVar, Protocol

import numpy as np

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.deployment.spec import DeviceSpec
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import (
    ArrivalParams,
    ConstantWork,
    DeterministicArrivals,
    EmpiricalWork,
    ExponentialWork,
    LognormalWork,
    PoissonArrivals,
    TraceArrivals,
    UniformWork,
    WorkParams,
)

use_compiled(__name__, __file__)  # its compiled build, if built from this source

#: Random numbers drawn per numpy call, at most (the first calls draw fewer).
DRAW_BLOCK = 256


def block_sizes() -> Iterator[int]:
    """How many numbers each numpy call draws: 1, 2, 4, … up to :data:`DRAW_BLOCK`.

    A device that sends few requests then holds few unused draws, and a run's set-up, which
    draws every device's first arrival, draws one number per device. The numbers drawn do not
    depend on the block sizes: each law consumes its generator one number after the other.
    """
    size = 1
    while True:
        yield size
        size = min(2 * size, DRAW_BLOCK)


class ArrivalProcess(Protocol):
    """An arrival process of one device, made from its group's ``arrivals`` parameters."""

    Params: ClassVar[type[ArrivalParams]]

    def __init__(self, params: ArrivalParams) -> None: ...

    def gaps(self, device: DeviceSpec, rng: np.random.Generator) -> Iterator[float]:
        """Inter-arrival times of ``device``, s (the first is the time of its first arrival);
        ``rng`` is the device's own arrivals stream. May end (no more arrivals)."""
        ...


class WorkLaw(Protocol):
    """The law of one device's work scales, made from its group's ``work`` parameters.

    A request's work scale multiplies its FLOPs on both sides and (if the group scales its
    payload) its upload; 1 is the model profile's work.
    """

    Params: ClassVar[type[WorkParams]]

    def __init__(self, params: WorkParams) -> None: ...

    def scales(self, rng: np.random.Generator) -> Iterator[float]:
        """Work scales of the device's requests, in order (never ending); ``rng`` is the
        device's own work stream."""
        ...


# ---- the built-in arrival processes --------------------------------------------------------


class PoissonProcess:
    """Exponential inter-arrival times of mean ``1 / rate_per_s``."""

    Params = PoissonArrivals

    def __init__(self, params: PoissonArrivals) -> None:
        self.params = params

    def gaps(self, device: DeviceSpec, rng: np.random.Generator) -> Iterator[float]:
        mean_gap = 1.0 / self.params.rate_per_s
        for size in block_sizes():
            yield from rng.exponential(mean_gap, size).tolist()


class DeterministicProcess:
    """One arrival every ``interval_s``, from a uniform random phase (or from 0)."""

    Params = DeterministicArrivals

    def __init__(self, params: DeterministicArrivals) -> None:
        self.params = params

    def gaps(self, device: DeviceSpec, rng: np.random.Generator) -> Iterator[float]:
        interval = self.params.interval_s
        yield float(rng.random()) * interval if self.params.random_phase else 0.0
        while True:
            yield interval


class TraceProcess:
    """Arrivals replayed from a trace: the deployment attaches each device's replay
    (:mod:`coinfer.emulator.deployment.replay_arrivals`); ``rng`` is not used."""

    Params = TraceArrivals

    def __init__(self, params: TraceArrivals) -> None:
        self.params = params

    def gaps(self, device: DeviceSpec, rng: np.random.Generator) -> Iterator[float]:
        if device.arrival_replay is None:
            raise InputError(
                f"device {device.id!r}: arrivals.process trace without its trace attached "
                "(build the deployment with emulator.deployment.build.build_deployment)"
            )
        return device.arrival_replay.gaps()


# ---- the built-in work laws ----------------------------------------------------------------


class ConstantLaw:
    """Every request has the work scale ``value``.

    ``draws_random = False``: it never reads its generator, so the engine gives it none (``None``
    instead; a law may say so with this optional class attribute, True when absent).
    """

    Params = ConstantWork
    draws_random = False

    def __init__(self, params: ConstantWork) -> None:
        self.params = params

    def scales(self, rng: np.random.Generator) -> Iterator[float]:
        value = self.params.value
        while True:
            yield value


class ExponentialLaw:
    """Exponential work scales of the given mean."""

    Params = ExponentialWork

    def __init__(self, params: ExponentialWork) -> None:
        self.params = params

    def scales(self, rng: np.random.Generator) -> Iterator[float]:
        for size in block_sizes():
            yield from rng.exponential(self.params.mean, size).tolist()


class UniformLaw:
    """Work scales uniform in ``[low, high]``."""

    Params = UniformWork

    def __init__(self, params: UniformWork) -> None:
        self.params = params

    def scales(self, rng: np.random.Generator) -> Iterator[float]:
        for size in block_sizes():
            yield from rng.uniform(self.params.low, self.params.high, size).tolist()


class LognormalLaw:
    """Log-normal work scales with the given mean and log-space standard deviation."""

    Params = LognormalWork

    def __init__(self, params: LognormalWork) -> None:
        self.params = params

    def scales(self, rng: np.random.Generator) -> Iterator[float]:
        sigma = self.params.sigma
        mu = math.log(self.params.mean) - 0.5 * sigma**2
        for size in block_sizes():
            yield from rng.lognormal(mu, sigma, size).tolist()


class EmpiricalLaw:
    """Values drawn uniformly, with replacement, from a file of observations (its file read
    once, on the first draw)."""

    Params = EmpiricalWork

    def __init__(self, params: EmpiricalWork) -> None:
        self.params = params

    def scales(self, rng: np.random.Generator) -> Iterator[float]:
        values = self.params.values()
        for size in block_sizes():
            yield from values[rng.integers(0, values.size, size)].tolist()
