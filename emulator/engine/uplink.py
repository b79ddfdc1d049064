"""A cell's uplink: how concurrent uploads share the band, and how fast each one goes.

Each upload's rate is ``B_k·log2(1 + p·g(t)/(B_k·N0))`` with its own power ``p``, its own gain
``g(t)`` (mean gain × the block-fading factor at ``t``) and its band ``B_k``, which depends on the
sharing discipline: a plug-in of the ``coinfer.sharing`` family (:mod:`coinfer.emulator.plugins`),
a class implementing :class:`UplinkSharing` registered under the name a cell gives as
``sharing``. The built-ins:

* ``fdma``: a static equal share ``B / (devices in the cell)``; uploads of different devices
  never interact, and one device's own uploads take turns on its share (a device cannot
  use its share twice over).
* ``ps``: an equal share ``B / n`` among the ``n`` active uploads; in-flight uploads are re-rated
  whenever one starts or ends (see :mod:`emulator.sharing`).
* ``fifo``: one upload at a time on the whole band; the others wait in arrival order.
* ``pf``: proportional fair shares among the active uploads (:class:`PfUplink`).
* ``pf-window``: proportional fair scheduling TTI by TTI with an averaging window
  (:mod:`.pf_window`); ``pf-window-fd`` splits each TTI's band (frequency-domain PF) and
  ``round-robin`` gives each TTI's band to the uploads in turn (:mod:`.tti_schedulers`).

The rate is Shannon's unless the cell names another link model (``cells[i].link``,
:mod:`coinfer.emulator.model.links`, e.g. 5G NR): its ``rate_bps`` then replaces
``shannon_rate_bps`` and its HARQ delay follows the last bit. A listener (inter-cell
interference, :mod:`.interference`) is told when uploads start and leave the air.

Fading changes inside a transfer are integrated block by block without simulation events. A
device replaying a capacity or SNR trace (:mod:`emulator.replay_links`) has no fading: its link
object integrates the trace, again without an event per trace step.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import simpy

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.deployment.spec import CellSpec
from coinfer.emulator.engine.sharing import ProcessorSharing
from coinfer.emulator.model.reference import shannon_rate_bps, uplink_rate_bps
from coinfer.emulator.plugins import LINKS
from coinfer.emulator.scenario.schema import SharingParams

use_compiled(__name__, __file__)  # its compiled build, if built from this source

if TYPE_CHECKING:
    from coinfer.emulator.deployment.replay_links import CapacityLink, SnrLink
    from coinfer.emulator.engine.fading import BlockFading
    from coinfer.emulator.model.links import LinkModel

_log2 = math.log2
_SCALAR_BLOCKS = 8  # blocks integrated one by one before switching to numpy chunks
_CHUNK_BLOCKS = 128  # blocks per numpy chunk for long transfers


class UplinkJob(Protocol):
    """What :func:`bits_sent` and :func:`transfer_end` read of a job (see :class:`Uplink`)."""

    left: float
    tx_power_w: float
    mean_gain: float
    fading: BlockFading | None
    link: CapacityLink | SnrLink | None


def bits_sent(
    job: UplinkJob,
    t0: float,
    t1: float,
    band_hz: float,
    noise: float,
    model: LinkModel | None = None,
) -> float:
    """Bits ``job`` sends in ``[t0, t1]`` on ``band_hz`` (fading integrated per block), at the
    Shannon rate or, given a link ``model`` (:mod:`coinfer.emulator.model.links`), at its rate."""
    shannon_rate_bps, uplink_rate_bps = _rates(model)
    fading = job.fading
    p, g = job.tx_power_w, job.mean_gain
    if fading is None:
        link = job.link
        if link is not None:  # a replayed capacity or SNR trace
            return link.bits_sent(p, t0, t1, band_hz, noise)
        return shannon_rate_bps(p, g, band_hz, noise) * (t1 - t0)
    sent = 0.0
    t = t0
    block = fading.block_at(t0)
    end = fading.block_end_s(block)
    coherence = fading.coherence_s
    for _ in range(_SCALAR_BLOCKS):
        rate = shannon_rate_bps(p, g * fading.gain(block), band_hz, noise)
        if end >= t1:
            return sent + rate * (t1 - t)
        sent += rate * (end - t)
        t = end
        end += coherence
        block += 1
    # Long interval: whole blocks in numpy chunks, then the partial last block.
    whole = int((t1 - t) // coherence)
    while whole > 0:
        count = min(whole, _CHUNK_BLOCKS)
        rates = uplink_rate_bps(p, g * fading.gains(block, count), band_hz, noise)
        sent += float(rates.sum()) * coherence
        t += count * coherence
        block += count
        whole -= count
    if t1 > t:
        sent += shannon_rate_bps(p, g * fading.gain(block), band_hz, noise) * (t1 - t)
    return sent


def transfer_end(
    job: UplinkJob,
    t0: float,
    band_hz: float,
    noise: float,
    horizon_s: float = math.inf,
    model: LinkModel | None = None,
) -> float:
    """When ``job`` finishes sending its ``left`` bits from ``t0`` on ``band_hz`` (at the rate
    of the link ``model``; None: Shannon's).

    Returns ``inf`` as soon as the transfer is known to end after ``horizon_s`` (the caller only
    needs the earliest finish among several transfers).
    """
    shannon_rate_bps, uplink_rate_bps = _rates(model)
    left = job.left
    if left <= 0.0:
        return t0
    fading = job.fading
    p, g = job.tx_power_w, job.mean_gain
    if fading is None:
        link = job.link
        if link is not None:  # a replayed capacity or SNR trace
            return link.transfer_end(left, p, t0, band_hz, noise, horizon_s)
        rate = shannon_rate_bps(p, g, band_hz, noise)
        return t0 + left / rate if rate > 0.0 else math.inf
    t = t0
    block = fading.block_at(t0)
    end = fading.block_end_s(block)
    coherence = fading.coherence_s
    if model is None:  # Shannon's rate inline (the same expression as shannon_rate_bps)
        band_noise = band_hz * noise
        gain_of = fading.gain
        for _ in range(_SCALAR_BLOCKS):
            rate = band_hz * _log2(1.0 + (g * gain_of(block)) * p / band_noise)
            capacity = rate * (end - t)
            if capacity >= left:
                return t + left / rate
            left -= capacity
            t = end
            end += coherence
            block += 1
            if t > horizon_s:
                return math.inf
        return _long_transfer_end(
            fading, p, g, left, t, block, band_hz, noise, horizon_s, uplink_rate_bps
        )
    for _ in range(_SCALAR_BLOCKS):
        rate = shannon_rate_bps(p, g * fading.gain(block), band_hz, noise)
        capacity = rate * (end - t)
        if capacity >= left:
            return t + left / rate
        left -= capacity
        t = end
        end += coherence
        block += 1
        if t > horizon_s:
            return math.inf
    return _long_transfer_end(
        fading, p, g, left, t, block, band_hz, noise, horizon_s, uplink_rate_bps
    )


def _long_transfer_end(
    fading: BlockFading,
    p: float,
    g: float,
    left: float,
    t: float,
    block: int,
    band_hz: float,
    noise: float,
    horizon_s: float,
    uplink_rate_bps: Callable[..., Any],
) -> float:
    """:func:`transfer_end` of a long transfer from the start ``t`` of ``block``, with ``left``
    bits still to send: whole blocks in numpy chunks."""
    coherence = fading.coherence_s
    while t <= horizon_s:
        rates = uplink_rate_bps(p, g * fading.gains(block, _CHUNK_BLOCKS), band_hz, noise)
        sent = np.cumsum(rates) * coherence
        k = int(np.searchsorted(sent, left))
        if k < _CHUNK_BLOCKS:
            before = float(sent[k - 1]) if k > 0 else 0.0
            return t + k * coherence + (left - before) / float(rates[k])
        left -= float(sent[-1])
        t += _CHUNK_BLOCKS * coherence
        block += _CHUNK_BLOCKS
    return math.inf


def _rates(model: LinkModel | None) -> tuple[Callable[..., float], Callable[..., Any]]:
    """The scalar and the vectorised rate of ``model`` (None: Shannon's, the module's own)."""
    if model is None:
        return shannon_rate_bps, uplink_rate_bps
    return model.rate_bps, model.rates_bps


class UplinkSharing(Protocol):
    """An uplink sharing discipline: one instance per cell, made once when the run is set up.

    ``Params``: the discipline's own parameters (a :class:`SharingParams` model; a scenario
    gives them beside the cell's ``sharing``, the engine passes them as
    ``cell.sharing_params``). Jobs are as described for :class:`Uplink`; integrate their rates
    with :func:`bits_sent` and :func:`transfer_end`, which handle fading and replayed traces.
    """

    Params: ClassVar[type[SharingParams]]
    cell: CellSpec  #: the cell it serves
    noise: float  #: noise PSD N0 of the cell, W/Hz
    busy_s: float  #: time integral of the fraction of the band in use, s
    #: called with each job once its bits are sent (the engine calls it directly for a job
    #: with nothing to send)
    on_done: Callable[[Any], None]

    def __init__(
        self, env: simpy.Environment, cell: CellSpec, on_done: Callable[[Any], None]
    ) -> None: ...

    @property
    def active(self) -> int:
        """Uploads in progress or waiting."""
        ...

    def share_for_new_hz(self) -> float:
        """Band an upload starting now would get, Hz (what a policy is told)."""
        ...

    def start(self, job: Any) -> None:
        """Begin uploading ``job.left`` bits now; ``on_done(job)`` is called when they are sent."""
        ...


class Uplink:
    """A base for sharing disciplines (the three built-ins derive from it).

    A job (the engine's request record) provides ``left`` (bits still to send), ``tx_power_w``,
    ``mean_gain``, ``fading`` (a :class:`~coinfer.emulator.engine.fading.BlockFading` or ``None``),
    ``link`` (a replayed trace, :mod:`emulator.replay_links`, or ``None``; only without fading),
    ``device`` (its sender), ``updated_s`` and ``finish_s``; the uplink sets ``tx_start_s`` when
    transmission begins.
    Every discipline exposes ``active`` (uploads in progress or waiting) and ``busy_s`` (time
    integral of the fraction of the band in use, s).
    """

    Params = SharingParams

    def __init__(
        self, env: simpy.Environment, cell: CellSpec, on_done: Callable[[Any], None]
    ) -> None:
        self.env = env
        self.cell = cell
        self.on_done = on_done
        self.noise = cell.noise_psd_w_per_hz
        #: the cell's link model (None: Shannon, computed inline as always)
        self.link_model = link_model(cell)
        #: told of every upload that starts and ends (inter-cell interference), or None
        self.listener: UplinkListener | None = None
        #: ids of the jobs whose bits are all on air, waiting out the HARQ delay of their last
        #: block (a handover then leaves them in this cell: see :meth:`in_harq_tail`)
        self._harq_tail: set[int] = set()

    def _finish(self, job: Any) -> None:
        """``job``'s bits are on air: tell the listener, then ``on_done(job)`` after the link
        model's HARQ delay (the expected re-sends of the last block, at the SINR of the share
        the job had; none for Shannon)."""
        if self.listener is not None:
            self.listener.ended(self, job)
        model = self.link_model
        if model is None:
            self.on_done(job)
            return
        fading = job.fading
        now = self.env._now
        gain = job.mean_gain * (fading.gain(fading.block_at(now)) if fading is not None else 1.0)
        delay = model.harq_delay_s(job.tx_power_w, gain, self.harq_band_hz(), self.noise)
        if delay <= 0.0:
            self.on_done(job)
            return
        self._harq_tail.add(id(job))
        timer = self.env.timeout(delay)
        timer.callbacks.append(lambda _event: self._harq_done(job))

    def harq_band_hz(self) -> float:
        """Band whose SINR sets the HARQ delay of an upload that just sent its last bit, Hz
        (default: :meth:`share_for_new_hz`)."""
        return self.share_for_new_hz()

    def _harq_done(self, job: Any) -> None:
        self._harq_tail.discard(id(job))
        self.on_done(job)

    def in_harq_tail(self, job: Any) -> bool:
        """Whether ``job``'s bits are all on air and only the HARQ re-sends of its last block
        are left: it is no longer on the band, and it ends in this cell."""
        return id(job) in self._harq_tail

    def share_for_new_hz(self) -> float:
        """Band an upload starting now would get, Hz."""
        raise NotImplementedError

    def start(self, job: Any) -> None:
        """Begin uploading ``job.left`` bits now; ``on_done(job)`` is called when they are sent."""
        raise NotImplementedError

    def withdraw(self, job: Any) -> float:
        """Take ``job`` off the band now (its device handed over, :mod:`.handover`), with
        ``job.left`` brought up to date; ``on_done`` is then never called for it. Returns the
        seconds it was on air since it last started (0 if it was waiting)."""
        raise NotImplementedError


class UplinkListener(Protocol):
    """Told when an upload starts and when its bits are on air (see :mod:`.interference`)."""

    def started(self, uplink: Uplink, job: Any) -> None: ...

    def ended(self, uplink: Uplink, job: Any) -> None: ...


def link_model(cell: CellSpec) -> LinkModel | None:
    """The cell's link model, made from its parameters; None for Shannon (the default), whose
    rate the uplink computes inline."""
    params = cell.link
    if params is None or params.model == "shannon":
        return None
    model: LinkModel = LINKS.load(params.model)(params)
    return model


class FdmaUplink(Uplink):
    """Static equal shares: every device of the cell owns ``B / devices`` of the band.

    A device sends its own uploads one at a time on its share, in the order they become ready
    (the job's ``device`` identifies it); uploads of different devices never interact.
    """

    def __init__(
        self, env: simpy.Environment, cell: CellSpec, on_done: Callable[[Any], None]
    ) -> None:
        super().__init__(env, cell, on_done)
        self.band_hz = cell.bandwidth_hz / max(cell.num_devices, 1)
        self._queues: dict[int, deque[Any]] = {}  # per device: uploads on air or waiting
        self._active = 0
        self._tx_s = 0.0
        self._epochs: dict[int, int] = {}  # per device: bumped when an upload is withdrawn

    @property
    def active(self) -> int:
        return self._active

    @property
    def busy_s(self) -> float:
        return self._tx_s / max(self.cell.num_devices, 1)

    def share_for_new_hz(self) -> float:
        return self.band_hz

    def start(self, job: Any) -> None:
        self._active += 1
        queue = self._queues.setdefault(id(job.device), deque())
        queue.append(job)
        if len(queue) == 1:
            self._transmit(job, queue)

    def _transmit(self, job: Any, queue: deque[Any]) -> None:
        now = self.env._now
        job.tx_start_s = job.updated_s = now
        end = transfer_end(job, now, self.band_hz, self.noise, model=self.link_model)
        job.finish_s = end
        self._tx_s += end - now
        timer = self.env.timeout(end - now)
        # a withdrawn upload's timer outlives its transmission: it then finds a later epoch
        epoch = self._epochs.get(id(job.device), 0)
        timer.callbacks.append(lambda _event: self._done_unless_withdrawn(job, queue, epoch))

    def _done_unless_withdrawn(self, job: Any, queue: deque[Any], epoch: int) -> None:
        if self._epochs.get(id(job.device), 0) == epoch:
            self._done(job, queue)

    def withdraw(self, job: Any) -> float:
        key = id(job.device)
        queue = self._queues[key]
        self._active -= 1
        if queue[0] is not job:  # waiting: the upload on air goes on
            queue.remove(job)
            return 0.0
        self._epochs[key] = self._epochs.get(key, 0) + 1
        now = self.env.now
        job.left -= bits_sent(job, job.updated_s, now, self.band_hz, self.noise)
        self._tx_s -= job.finish_s - now
        queue.popleft()
        if queue:
            self._transmit(queue[0], queue)
        on_air: float = now - job.tx_start_s
        return on_air

    def _done(self, job: Any, queue: deque[Any]) -> None:
        self._active -= 1
        queue.popleft()
        job.left = 0.0
        if queue:
            self._transmit(queue[0], queue)
        self._finish(job)


class FifoUplink(Uplink):
    """One upload at a time on the whole band, in the order they become ready."""

    def __init__(
        self, env: simpy.Environment, cell: CellSpec, on_done: Callable[[Any], None]
    ) -> None:
        super().__init__(env, cell, on_done)
        self._queue: deque[Any] = deque()
        self._tx_s = 0.0
        self._epoch = 0  # bumped when an upload is withdrawn

    @property
    def active(self) -> int:
        return len(self._queue)

    @property
    def busy_s(self) -> float:
        return self._tx_s

    def share_for_new_hz(self) -> float:
        return self.cell.bandwidth_hz

    def start(self, job: Any) -> None:
        self._queue.append(job)
        if len(self._queue) == 1:
            self._transmit(job)

    def _transmit(self, job: Any) -> None:
        now = self.env._now
        job.tx_start_s = job.updated_s = now
        end = transfer_end(job, now, self.cell.bandwidth_hz, self.noise, model=self.link_model)
        job.finish_s = end
        self._tx_s += end - now
        timer = self.env.timeout(end - now)
        # a withdrawn upload's timer outlives its transmission: it then finds a later epoch
        epoch = self._epoch
        timer.callbacks.append(lambda _event: self._done_unless_withdrawn(job, epoch))

    def _done_unless_withdrawn(self, job: Any, epoch: int) -> None:
        if self._epoch == epoch:
            self._done(job)

    def withdraw(self, job: Any) -> float:
        queue = self._queue
        if queue[0] is not job:  # waiting: the upload on air goes on
            queue.remove(job)
            return 0.0
        self._epoch += 1
        now = self.env.now
        job.left -= bits_sent(job, job.updated_s, now, self.cell.bandwidth_hz, self.noise)
        self._tx_s -= job.finish_s - now
        queue.popleft()
        if queue:
            self._transmit(queue[0])
        on_air: float = now - job.tx_start_s
        return on_air

    def _done(self, job: Any) -> None:
        self._queue.popleft()
        job.left = 0.0
        if self._queue:
            self._transmit(self._queue[0])
        self._finish(job)


class PsUplink(Uplink, ProcessorSharing):
    """Equal shares among active uploads, re-rated as uploads start and end."""

    def __init__(
        self, env: simpy.Environment, cell: CellSpec, on_done: Callable[[Any], None]
    ) -> None:
        Uplink.__init__(self, env, cell, on_done)
        ProcessorSharing.__init__(self, env, self._finish)

    def share_for_new_hz(self) -> float:
        return self.cell.bandwidth_hz / (len(self._active) + 1)

    def start(self, job: Any) -> None:
        job.tx_start_s = self.env._now
        self.join(job)
        if self.listener is not None:
            self.listener.started(self, job)

    def set_noise(self, noise: float) -> None:
        """Change the noise (plus interference) PSD now, W/Hz: the active uploads are brought
        up to now at the old one and re-rated at the new one."""
        now = self.env.now
        self._advance(now, len(self._active))
        self.noise = noise
        self._reschedule(now)

    def withdraw(self, job: Any) -> float:
        now = self.env.now
        self._advance(now, len(self._active))
        self._active.remove(job)
        self._reschedule(now)
        on_air: float = now - job.tx_start_s
        return on_air

    def work_done(self, job: Any, t0: float, t1: float, n: int) -> float:
        return bits_sent(job, t0, t1, self.cell.bandwidth_hz / n, self.noise, self.link_model)

    def finish_time(self, job: Any, t0: float, n: int, horizon_s: float) -> float:
        band = self.cell.bandwidth_hz / n
        return transfer_end(job, t0, band, self.noise, horizon_s, self.link_model)


class PfUplink(PsUplink):
    """Proportional fair PRB shares among active uploads, re-solved as uploads start and end.

    A PF scheduler's long-run throughputs maximise ``Σ_k log r_k`` over the rates the band
    allows (Kushner & Whiting 2004). Between changes of the set of uploads (or of the
    interference) the channel the scheduler averages is its mean gain, so the shares it
    converges to are the band shares ``b_k`` (``Σ b_k = B``) maximising
    ``Σ_k log(b_k·log2(1 + c_k/b_k))`` with ``c_k = p_k·g_k/N0`` (mean gain): the scheduler's
    metric is the Shannon rate whatever the link model (a link model's attenuation of it is a
    constant factor, which leaves the maximiser unchanged). The optimum is in closed form up to
    one multiplier: every share has the same ``r'_k/r_k = λ``, i.e. ``ψ(s_k) = λ·c_k`` with
    ``s_k = c_k/b_k`` and ``ψ(s) = s·(1 − s/((1+s)·ln(1+s)))`` increasing, so ``s_k`` is
    ``ψ⁻¹(λ·c_k)`` and ``λ`` is found by bisection on ``Σ c_k/s_k = B``. Each upload then
    integrates its own fading on its share, as under ``ps`` (equal shares: the PF optimum of
    identical uploads). The averaging window is not a parameter: the shares are the ones the
    scheduler converges to, which holds when the window is short next to the time between
    changes of the set of uploads, and long next to the coherence time (``pf-window``,
    :mod:`.pf_window`, runs the scheduler itself, TTI by TTI).
    """

    def __init__(
        self, env: simpy.Environment, cell: CellSpec, on_done: Callable[[Any], None]
    ) -> None:
        super().__init__(env, cell, on_done)
        self._shares: dict[int, float] = {}  # id(job) -> band share, Hz

    def share_for_new_hz(self) -> float:
        return self.cell.bandwidth_hz / (len(self._active) + 1)

    def _reschedule(self, now: float) -> None:
        active = self._active
        if active:
            received = [job.tx_power_w * job.mean_gain / self.noise for job in active]
            shares = pf_shares_hz(np.array(received), self.cell.bandwidth_hz)
            self._shares = {id(job): float(b) for job, b in zip(active, shares, strict=True)}
        super()._reschedule(now)

    def work_done(self, job: Any, t0: float, t1: float, n: int) -> float:
        return bits_sent(job, t0, t1, self._shares[id(job)], self.noise, self.link_model)

    def finish_time(self, job: Any, t0: float, n: int, horizon_s: float) -> float:
        band = self._shares[id(job)]
        return transfer_end(job, t0, band, self.noise, horizon_s, self.link_model)


def _psi(s: np.ndarray) -> np.ndarray:
    """``ψ(s) = s·(1 − s/((1+s)·ln(1+s)))``: ``c·r'(b)/r(b)`` of ``r(b) = b·ln(1 + c/b)`` at
    ``s = c/b`` (increasing from 0 at s → 0 to ∞)."""
    values: np.ndarray = s * (1.0 - s / ((1.0 + s) * np.log1p(s)))
    return values


#: ψ on a log grid of s from 1e-6 to 1e9 (ψ⁻¹ by interpolation in log–log; 2000 points a
#: decade keep the shares' r'/r equal to about 1e-8)
_PSI_S = np.logspace(-6.0, 9.0, 30001)
_PSI_LOG = np.log(_psi(_PSI_S))


def pf_shares_hz(received: np.ndarray, band_hz: float) -> np.ndarray:
    """The proportional fair band shares (Hz, summing to ``band_hz``) of uploads whose received
    power over the noise PSD is ``received`` (``c_k = p_k·g_k/N0``, Hz): the maximiser of
    ``Σ log(b_k·log2(1 + c_k/b_k))`` (see :class:`PfUplink`). Identical uploads get equal
    shares."""
    c = np.asarray(received, dtype=float)
    if c.size == 1:
        return np.array([band_hz])
    log_s_grid = np.log(_PSI_S)

    def shares(log_lambda: float) -> np.ndarray:
        log_s = np.interp(log_lambda + np.log(c), _PSI_LOG, log_s_grid)
        found: np.ndarray = c / np.exp(log_s)
        return found

    # Σ b(λ) decreases in λ: bisect log λ until the shares fill the band
    low, high = float(_PSI_LOG[0] - np.log(c).min()), float(_PSI_LOG[-1] - np.log(c).max())
    for _ in range(80):
        middle = 0.5 * (low + high)
        if shares(middle).sum() > band_hz:
            low = middle
        else:
            high = middle
    found = shares(0.5 * (low + high))
    result: np.ndarray = found * (band_hz / found.sum())
    return result
