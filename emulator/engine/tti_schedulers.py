"""Two more TTI-level uplink schedulers on the machinery of :mod:`.pf_window`.

``pf-window`` gives the whole band of each TTI to one upload (time-domain PF). This module adds:

* ``pf-window-fd`` (:class:`PfWindowFdUplink`), **frequency-domain** proportional fair with the
  same averaging window: in TTI ``i`` (from ``s = i·τ``) the band is split into shares ``b_k``
  (``Σ b_k = B``) maximising ``Σ_k r_k(b_k)/R_k`` with ``r_k(b) = b·log2(1 + c_k/b)``,
  ``c_k = p_k·g_k(s)/N0`` (Hz; the gain of the fading block containing ``s``). The optimum has
  equal weighted marginal rates, ``r'_k(b_k) = μ·R_k`` with
  ``r'(b) = log2(1 + x) − x/((1 + x)·ln 2)``, ``x = c/b``, increasing in ``x``: one scalar
  ``μ`` fills the band (:func:`weighted_pf_shares_hz`). Each upload then sends at its rate on
  its share (Shannon's, or the cell's link model's ``rate_bps`` on ``b_k``, as every
  discipline applies it to a share) and every average moves,
  ``R_k ← (1 − 1/T_c)·R_k + (1/T_c)·r_k``. The shares are continuous, or whole PRBs given
  ``pf_prbs`` (:func:`whole_prb_shares`). An
  average of 0 (a window of 1 TTI after a TTI without band) is an infinite weight: the uploads
  with ``R = 0`` then share the band among themselves, ``b_k ∝ c_k`` (their largest sum rate).
* ``round-robin`` (:class:`RoundRobinTtiUplink`), **time-domain round robin**: each TTI the
  whole band goes to the upload at the head of a queue, which goes to its tail unless it
  finished; a newcomer joins at the tail. (Frequency-domain round robin, equal PRB shares each
  TTI, is ``ps``.)

Everything else is ``pf-window``'s: the TTI grid, joining at the next boundary, the last bit at
``s + left/r_k`` inside its TTI (the rest of that upload's share of the TTI is padding), changes
of the set of uploads or of the noise from the next boundary, and the event economy (a loop
between changes, one timeout per completion). Under ``pf-window-fd`` the HARQ delay of a link
model is taken at the SINR of the share the upload had in its last TTI.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import simpy
from pydantic import Field

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.deployment.spec import CellSpec
from coinfer.emulator.engine.pf_window import PfWindowParams, PfWindowUplink, TtiParams, _State
from coinfer.emulator.model.reference import shannon_rate_bps

use_compiled(__name__, __file__)  # its compiled build, if built from this source

_LN2 = math.log(2.0)


def _log_marginal(u: float) -> tuple[float, float]:
    """``ln φ(x)`` and its slope in ``u = ln x``, where ``φ(x) = ln(1 + x) − x/(1 + x)`` is
    ``ln 2 · r'(b)`` at ``x = c/b`` (increasing from 0 to ∞; the slope is ``t²/φ`` with
    ``t = x/(1 + x)``), computed without overflow or cancellation for any ``u``."""
    if u > 0.0:
        e = math.exp(-u)
        t = 1.0 / (1.0 + e)
        phi = u + math.log1p(e) - t
    elif u < -40.0:  # φ = x²/2 − 2x³/3 + …, the rest below 1e-17
        return 2.0 * u - _LN2, 2.0
    else:
        x = math.exp(u)
        t = x / (1.0 + x)
        if t < 0.05:  # φ = Σ_{m≥2} tᵐ/m, all terms positive
            phi, power, m = 0.0, t * t, 2
            while power > 1e-18 * phi or m == 2:
                phi += power / m
                power *= t
                m += 1
        else:
            phi = -math.log1p(-t) - t
    return math.log(phi), t * t / phi


def _log_marginal_inverse(y: float, u: float) -> tuple[float, float]:
    """The ``u`` with ``ln φ(e^u) = y`` (:func:`_log_marginal`), by Newton's method from ``u``,
    and the slope there (at the last step's start): ``ln φ`` is increasing and concave in ``u``,
    so every step after the first one lands at or below the root and the steps climb to it
    monotonically."""
    slope = 1.0
    for _ in range(200):
        value, slope = _log_marginal(u)
        step = (y - value) / slope
        u += step
        if abs(step) <= 1e-9 * max(1.0, abs(u)):  # quadratic: the next would be below 1e-16
            break
    return u, slope


def weighted_pf_shares_hz(
    received: list[float],
    averages: list[float],
    band_hz: float,
    guess: tuple[float, list[float]] | None = None,
) -> tuple[list[float], tuple[float, list[float]]]:
    """The shares ``b_k`` (Hz, summing to ``band_hz``) maximising ``Σ_k r_k(b_k)/R_k`` with
    ``r_k(b) = b·log2(1 + c_k/b)``, ``c_k`` = ``received[k]`` (``p·g/N0``, Hz) and ``R_k`` =
    ``averages[k]`` (bit/s), and a ``guess`` for the next call: the multiplier ``ℓ = ln(μ·ln 2)``
    and each ``ln(c_k/b_k)`` (to start from; the result does not depend on it).

    The optimum has ``ln φ(x_k) = ℓ + ln R_k`` for every upload (``x_k = c_k/b_k``,
    :func:`_log_marginal`): given ``ℓ`` each ``x_k`` follows (:func:`_log_marginal_inverse`), and
    ``ln Σ b_k(ℓ) − ln B``, decreasing in ``ℓ``, has one root, found by Newton's method kept
    inside a bracket (bisection when a step leaves it). The bracket: some share is at least
    ``B/n`` and none exceeds ``B``, so ``ℓ`` lies between the least ``ln φ(c_k/B) − ln R_k`` and
    the largest ``ln φ(n·c_k/B) − ln R_k``. An upload with ``c_k = 0`` gets nothing; ``R_k = 0``
    is an infinite weight (module docstring).
    """
    n = len(received)
    live = [k for k in range(n) if received[k] > 0.0]
    if len(live) <= 1 or any(averages[k] <= 0.0 for k in live):
        chosen = [k for k in live if averages[k] <= 0.0] or live
        if not chosen:
            return [band_hz / n] * n, (0.0, [0.0] * n)
        total = sum(received[k] for k in chosen)
        shares = [0.0] * n
        for k in chosen:
            shares[k] = band_hz * received[k] / total
        return shares, (0.0, [0.0] * n) if guess is None else guess
    c = [received[k] for k in live]
    log_r = [math.log(averages[k]) for k in live]
    m = len(c)
    log_band = math.log(band_hz)
    low = min(_log_marginal(math.log(c[k]) - log_band)[0] - log_r[k] for k in range(m))
    high = max(_log_marginal(math.log(m * c[k]) - log_band)[0] - log_r[k] for k in range(m))
    if guess is None:
        ell = 0.5 * (low + high)
        u = [math.log(c[k] * m) - log_band for k in range(m)]  # equal shares
    else:
        ell = guess[0] if low < guess[0] < high else 0.5 * (low + high)
        u = [guess[1][k] for k in live]
    for _ in range(200):
        solved = [_log_marginal_inverse(ell + log_r[k], u[k]) for k in range(m)]
        u = [uk for uk, _slope in solved]
        b = [c[k] * math.exp(-u[k]) for k in range(m)]
        total = sum(b)
        excess = math.log(total) - log_band if total > 0.0 else -math.inf
        if excess > 0.0:
            low = ell
        else:
            high = ell
        if abs(excess) <= 1e-13 or high - low <= 1e-15 * max(1.0, abs(ell)):
            break  # the shares fill the band to 1e-13 (then exactly, by the scaling below)
        slope = -sum(b[k] / solved[k][1] for k in range(m)) / total
        step = ell - excess / slope if slope < 0.0 else math.nan
        ell = step if low < step < high else 0.5 * (low + high)
    b = [bk if bk >= 1e-15 * total else 0.0 for bk in b]  # none so thin its SNR overflows
    scale = band_hz / sum(b)
    shares = [0.0] * n
    logs = [0.0] * n
    for j, k in enumerate(live):
        shares[k] = b[j] * scale
        logs[k] = u[j]
    return shares, (ell, logs)


def whole_prb_shares(
    received: list[float], averages: list[float], shares_hz: list[float], prbs: int
) -> list[int]:
    """The PRBs of each upload (``Σ = prbs``, each ``band/prbs`` wide) maximising
    ``Σ_k r_k(n_k·w)/R_k`` (``w = band/prbs``, ``r_k`` as in :func:`weighted_pf_shares_hz`),
    from the continuous optimum ``shares_hz``: each gets the whole PRBs of its share, the PRBs
    left over go one by one to the largest gain ``(r_k((n_k + 1)·w) − r_k(n_k·w))/R_k``, then
    PRBs move from the least loss to the largest gain while that gains. The objective is a sum
    of concave functions of the ``n_k``, so no single move improving it is optimal.
    ``R_k = 0`` is an infinite weight (the uploads with ``R = 0`` share the PRBs)."""
    n = len(received)
    band = sum(shares_hz)
    width = band / prbs
    if any(a <= 0.0 for a in averages):
        weights = [1.0 if a <= 0.0 else 0.0 for a in averages]
    else:
        weights = [1.0 / a for a in averages]

    def value(k: int, count: int) -> float:
        if count <= 0:
            return 0.0
        b = count * width
        return weights[k] * b * math.log2(1.0 + received[k] / b)

    counts = [min(int(b / width), prbs) for b in shares_hz]
    while sum(counts) > prbs:  # rounding at the edge: take back from the largest
        counts[counts.index(max(counts))] -= 1
    gain = [value(k, counts[k] + 1) - value(k, counts[k]) for k in range(n)]
    for _ in range(prbs - sum(counts)):
        k = gain.index(max(gain))
        counts[k] += 1
        gain[k] = value(k, counts[k] + 1) - value(k, counts[k])
    for _ in range(prbs * n):
        loss = [value(k, c) - value(k, c - 1) if c > 0 else math.inf for k, c in enumerate(counts)]
        to, source = gain.index(max(gain)), loss.index(min(loss))
        if to == source or gain[to] <= loss[source] * (1.0 + 1e-12):
            break
        counts[to] += 1
        counts[source] -= 1
        for k in (to, source):
            gain[k] = value(k, counts[k] + 1) - value(k, counts[k])
    return counts


class PfWindowFdParams(PfWindowParams):
    """``pf-window-fd``'s parameters: ``pf-window``'s and ``pf_prbs``."""

    pf_prbs: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="whole PRBs the band is cut into each TTI (e.g. 273 for 100 MHz NR at 30 "
        "kHz); default: continuous shares",
    )


class PfWindowFdUplink(PfWindowUplink):
    """Frequency-domain proportional fair with an averaging window, TTI by TTI (``pf-window-fd``;
    module docstring). Parameters: :class:`PfWindowFdParams` (``pf-window``'s and ``pf_prbs``,
    whole PRBs by :func:`whole_prb_shares`; default continuous shares)."""

    Params = PfWindowFdParams
    _harq_band_hz = 0.0  #: the share of the upload finishing now, Hz (see :meth:`_finish`)
    prbs: int | None = None  #: whole PRBs of a TTI (None: continuous shares)

    def __init__(
        self, env: simpy.Environment, cell: CellSpec, on_done: Callable[[Any], None]
    ) -> None:
        super().__init__(env, cell, on_done)
        params = cell.sharing_params
        if isinstance(params, PfWindowFdParams):
            self.prbs = params.pf_prbs

    def harq_band_hz(self) -> float:
        """The share the finishing upload had in its last TTI, Hz (set by :meth:`_finish`)."""
        return self._harq_band_hz

    def _finish(self, job: Any) -> None:
        served = self._state.last.get(id(job))
        self._harq_band_hz = self.cell.bandwidth_hz * (served[1] if served else 1.0)
        super()._finish(job)

    def _gain(self, job: Any, s: float) -> tuple[float, float]:
        """``job``'s gain at ``s`` and until when it holds (s). A replayed trace has none: its
        effective gain is the one whose Shannon rate on the whole band is the trace's mean rate
        over the TTI (its rate on a share is then the trace's own, :meth:`_share_rate`)."""
        fading = job.fading
        if fading is not None:
            block = fading.block_at(s)
            return job.mean_gain * fading.gain(block), fading.block_end_s(block)
        link = job.link
        if link is None:
            return job.mean_gain, math.inf
        band, p, tti = self.cell.bandwidth_hz, job.tx_power_w, self.tti_s
        rate = link.bits_sent(p, s, s + tti, band, self.noise) / tti
        return band * (2.0 ** (rate / band) - 1.0) * self.noise / p, -math.inf

    def _share_rate(self, job: Any, gain: float, share_hz: float, s: float) -> float:
        """``job``'s rate on ``share_hz`` at the gain ``gain``, bit/s."""
        if share_hz <= 0.0:
            return 0.0
        link = job.link
        if link is not None and job.fading is None:
            tti = self.tti_s
            rate: float = link.bits_sent(job.tx_power_w, s, s + tti, share_hz, self.noise) / tti
            return rate
        model = self.link_model
        if model is None:
            return shannon_rate_bps(job.tx_power_w, gain, share_hz, self.noise)
        return model.rate_bps(job.tx_power_w, gain, share_hz, self.noise)

    def _run(self, state: _State, stop: int, first_done: bool) -> _State:
        """Run TTIs ``state.index .. stop − 1`` on a copy of ``state`` (all of them, or up to
        the first one in which an upload sends its last bit when ``first_done``). The state's
        ``rate`` holds each upload's gain, valid until ``rate_end``."""
        state = state.copy()
        jobs, avg, left, gain, gain_end = (
            state.jobs,
            state.avg,
            state.left,
            state.rate,
            state.rate_end,
        )
        tti, beta, keep, band, noise = (
            self.tti_s,
            self._beta,
            self._keep,
            self.cell.bandwidth_hz,
            self.noise,
        )
        i = state.index
        busy = 0.0
        prbs = self.prbs
        guess: tuple[float, list[float]] | None = None
        n = len(jobs)
        while i < stop and n:
            s = i * tti
            for k in range(n):
                if s >= gain_end[k]:
                    gain[k], gain_end[k] = self._gain(jobs[k], s)
            received = [jobs[k].tx_power_w * gain[k] / noise for k in range(n)]
            shares, guess = weighted_pf_shares_hz(received, avg, band, guess)
            if prbs is not None:
                counts = whole_prb_shares(received, avg, shares, prbs)
                shares = [count * band / prbs for count in counts]
            rates = [self._share_rate(jobs[k], gain[k], shares[k], s) for k in range(n)]
            state.last = {id(jobs[k]): (rates[k], shares[k] / band) for k in range(n)}
            i += 1
            finished: list[tuple[Any, float]] = []
            for k in range(n - 1, -1, -1):
                r = rates[k]
                avg[k] = keep * avg[k] + beta * r
                sent = r * tti
                if left[k] <= sent:  # its last bit goes in this TTI
                    finish_s = s + left[k] / r
                    busy += shares[k] / band * (finish_s - s)
                    finished.append((jobs[k], finish_s))
                    state.remove(k)
                    del guess[1][k]
                else:
                    left[k] -= sent
                    busy += shares[k] / band * tti
            n = len(jobs)
            if finished:
                finished.sort(key=lambda done: done[1])
                state.done.extend(finished)
                if first_done:
                    break
        state.index = i
        state.busy_s = busy
        return state


class RoundRobinTtiUplink(PfWindowUplink):
    """Round robin TTI by TTI (``round-robin``; module docstring). Parameter: ``tti_s``
    (:class:`~.pf_window.TtiParams`)."""

    Params = TtiParams

    def _run(self, state: _State, stop: int, first_done: bool) -> _State:
        """Run TTIs ``state.index .. stop − 1`` on a copy of ``state`` (all of them, or up to
        the first one in which an upload sends its last bit when ``first_done``); the state's
        lists are in queue order, the head served next."""
        state = state.copy()
        lists = (state.jobs, state.avg, state.left, state.rate, state.rate_end)
        jobs, left, rate, rate_end = state.jobs, state.left, state.rate, state.rate_end
        tti = self.tti_s
        i = state.index
        busy = 0.0
        served = None
        while i < stop and jobs:
            s = i * tti
            if s >= rate_end[0]:
                rate[0], rate_end[0] = self._rate(jobs[0], s)
            r = rate[0]
            served = (jobs[0], r)
            sent = r * tti
            i += 1
            if left[0] <= sent:  # its last bit goes in this TTI
                finish_s = s + left[0] / r
                busy += finish_s - s
                state.done.append((jobs[0], finish_s))
                state.remove(0)
                if first_done:
                    break
            else:
                left[0] -= sent
                busy += tti
                for values in lists:  # to the tail of the queue
                    values.append(values.pop(0))
        if served is not None:
            state.last = {id(served[0]): (served[1], 1.0)}
        state.index = i
        state.busy_s = busy
        return state
