"""Proportional fair uplink scheduling with an averaging window, TTI by TTI (``pf-window``).

The converged ``pf`` (:class:`~coinfer.emulator.engine.uplink.PfUplink`) gives each upload the
band share a PF scheduler tends to; this discipline runs the scheduler itself. Time is cut into
transmission time intervals (TTIs) of ``τ`` seconds on a grid from ``t = 0``: an NR cell's slot
``1 ms / 2^μ`` (its numerology), otherwise ``tti_s``. In TTI ``i`` (from ``s = i·τ``):

* every active upload ``k`` has the rate ``r_k`` of the **whole band** at its gain at ``s``
  (mean gain × the fading block containing ``s``; Shannon's rate or the cell's link model);
* the band goes to **one** upload, the one maximising ``r_k / R_k`` (``r/0 = ∞``; ties: the
  one that joined first), which sends ``r_k·τ`` bits (time-domain PF: with fading flat across
  the band within a block, splitting the PRBs cannot raise any metric, and the uplink power is
  spread over the whole band, as in the classic scheduler of Jalali, Padovani & Pankaj 2000);
* every average is updated, ``R_k ← (1 − 1/T_c)·R_k + (1/T_c)·served_k`` with ``served_k = r_k``
  for the scheduled upload and 0 for the others (``T_c``: the window, in TTIs).

An upload that becomes ready inside a TTI joins at the next boundary, with the average
``pf_initial_average_bps`` (default 1 bit/s: a small epsilon, as ns-3's
``PfFfMacScheduler`` starts every flow at 1 byte/s), so a newcomer is served first and keeps
the band until its average catches up with the others'. The upload that finishes does so
inside its last TTI, at ``s + left/r_k``; the rest of that TTI is padding (nobody else is
scheduled in it). Changes of the set of uploads or of the noise (interference) take effect at
the next TTI boundary; a TTI's rate is the rate at its start.

Event economy: no SimPy event per TTI. Between changes of the set of uploads the TTI sequence is
deterministic (fading is a pure function of time), so the scheduler runs the per-TTI recursion
in a tight loop from the last committed TTI to the first completion and schedules one timeout
there; the loop's state at that TTI is kept and adopted when the timeout fires. A start, a
withdrawal or a noise change runs the loop up to the TTI in progress and plans again. The
recursion is the ground truth: the loop is it, TTI by TTI, with no approximation.

:mod:`.tti_schedulers` runs other TTI-level schedulers on this machinery by replacing
:meth:`PfWindowUplink._run` (frequency-domain PF, ``pf-window-fd``; round robin,
``round-robin``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Self

import simpy
from pydantic import Field, model_validator

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.deployment.spec import CellSpec
from coinfer.emulator.engine.uplink import Uplink
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.links import NrLinkParams
from coinfer.emulator.model.reference import shannon_rate_bps
from coinfer.emulator.scenario.schema import SharingParams

use_compiled(__name__, __file__)  # its compiled build, if built from this source

#: default averaging window, TTIs
DEFAULT_WINDOW_TTI = 100.0
#: fewest and most TTIs planned ahead at once (a plan that reaches its horizon wakes there and
#: plans on; the horizon doubles while plans are kept and shrinks to twice the TTIs a plan
#: lasted when a change cuts it short, so the TTIs planned and thrown away stay within about
#: twice the ones run)
_MIN_PLAN_TTIS = 64
_MAX_PLAN_TTIS = 65_536


class TtiParams(SharingParams):
    """A TTI-level scheduler's parameters: its TTI (``round-robin``; base of
    :class:`PfWindowParams`)."""

    tti_s: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="TTI of a cell without an NR link, s (default 1 ms); an NR cell's TTI is "
        "its slot, 1 ms / 2^mu",
    )


class PfWindowParams(TtiParams):
    """The windowed PF scheduler's parameters (given beside ``sharing: pf-window`` or
    ``pf-window-fd``)."""

    pf_window_tti: float | None = Field(
        default=None,
        ge=1.0,
        le=1e9,
        description="averaging window T_c of the PF scheduler, TTIs (at least 1; default 100)",
    )
    pf_window_s: float | None = Field(
        default=None,
        gt=0.0,
        le=1e6,
        description="averaging window T_c of the PF scheduler, s (instead of pf_window_tti; at "
        "least one TTI)",
    )
    pf_initial_average_bps: float = Field(
        default=1.0,
        gt=0.0,
        le=1e15,
        description="average throughput a new upload starts with, bit/s (default 1: a small "
        "epsilon, as in ns-3)",
    )

    @model_validator(mode="after")
    def _one_window(self) -> Self:
        if self.pf_window_tti is not None and self.pf_window_s is not None:
            raise ValueError(
                f"give pf_window_tti ({self.pf_window_tti}) or pf_window_s "
                f"({self.pf_window_s}), not both"
            )
        return self


def tti_s(cell: CellSpec, params: TtiParams) -> float:
    """The cell's TTI, s: its NR slot, else ``params.tti_s`` (default 1 ms).

    Raises :class:`InputError` for an NR cell given ``tti_s`` too."""
    link = cell.link
    if isinstance(link, NrLinkParams):
        if params.tti_s is not None:
            raise InputError(
                f"cells[{cell.index}].tti_s: {params.tti_s} given for cell {cell.id!r}, whose NR "
                f"link has the slot {link.slot_s} s as TTI; expected no tti_s",
                path=f"cells[{cell.index}].tti_s",
            )
        return link.slot_s
    return 1e-3 if params.tti_s is None else params.tti_s


def window_tti(cell: CellSpec, params: PfWindowParams) -> float:
    """The averaging window ``T_c`` in TTIs (at least 1; :class:`InputError` otherwise)."""
    if params.pf_window_s is None:
        return DEFAULT_WINDOW_TTI if params.pf_window_tti is None else params.pf_window_tti
    tti = tti_s(cell, params)
    window = params.pf_window_s / tti
    if window < 1.0:
        raise InputError(
            f"cells[{cell.index}].pf_window_s: {params.pf_window_s} s is shorter than the "
            f"cell's TTI {tti} s; expected at least one TTI",
            path=f"cells[{cell.index}].pf_window_s",
        )
    return window


def first_tti(t_s: float, tti: float) -> int:
    """Index of the first TTI boundary ``i·tti`` at or after ``t_s``."""
    i = math.ceil(t_s / tti)
    if i > 0 and (i - 1) * tti >= t_s:
        return i - 1
    if i * tti < t_s:
        return i + 1
    return i


class _State:
    """The scheduler at a TTI boundary: the uploads on the band, in the order they joined, with
    their averages (bit/s), bits left, and cached rates (bit/s) valid until ``rate_end`` (s)."""

    __slots__ = ("avg", "busy_s", "done", "index", "jobs", "last", "left", "rate", "rate_end")

    def __init__(self, index: int) -> None:
        self.index = index  #: the next TTI to run
        self.jobs: list[Any] = []
        self.avg: list[float] = []
        self.left: list[float] = []
        self.rate: list[float] = []
        self.rate_end: list[float] = []
        #: uploads whose last bit went in a TTI run, with its time, s
        self.done: list[tuple[Any, float]] = []
        #: the uploads served in the last TTI run: id(job) -> (its rate, bit/s, and its
        #: fraction of the band)
        self.last: dict[int, tuple[float, float]] = {}
        self.busy_s = 0.0  #: band time used by the TTIs run, s

    def copy(self) -> _State:
        state = _State(self.index)
        state.jobs = list(self.jobs)
        state.avg = list(self.avg)
        state.left = list(self.left)
        state.rate = list(self.rate)
        state.rate_end = list(self.rate_end)
        state.last = self.last
        return state

    def remove(self, k: int) -> None:
        for values in (self.jobs, self.avg, self.left, self.rate, self.rate_end):
            del values[k]


class PfWindowUplink(Uplink):
    """Proportional fair scheduling with an averaging window, TTI by TTI (module docstring).

    Jobs are as for :class:`~coinfer.emulator.engine.uplink.Uplink`. ``pf_window_tti`` (or
    ``pf_window_s``), ``tti_s`` and ``pf_initial_average_bps`` come from the cell's sharing
    parameters (:class:`PfWindowParams`).
    """

    Params: type[TtiParams] = PfWindowParams

    def __init__(
        self, env: simpy.Environment, cell: CellSpec, on_done: Callable[[Any], None]
    ) -> None:
        super().__init__(env, cell, on_done)
        params = cell.sharing_params
        if not isinstance(params, self.Params):
            params = self.Params()
        assert isinstance(params, TtiParams)
        self.tti_s = tti_s(cell, params)  #: the TTI, s
        if not isinstance(params, PfWindowParams):  # a scheduler without averages
            params = PfWindowParams()
        self.window_tti = window_tti(cell, params)  #: the averaging window T_c, TTIs
        self.initial_average_bps = params.pf_initial_average_bps
        self._beta = 1.0 / self.window_tti
        self._keep = 1.0 - self._beta
        self._state = _State(0)  # committed up to a TTI boundary at or before now
        self._plan: _State | None = None  # the state at the planned wake, if still valid
        self._horizon = _MIN_PLAN_TTIS  # TTIs to plan ahead
        self._version = 0
        self._busy_s = 0.0
        self._waiting: list[tuple[Any, float]] = []  # last bit in the TTI in progress, time s

    @property
    def active(self) -> int:
        return len(self._state.jobs) + len(self._waiting)

    @property
    def busy_s(self) -> float:
        return self._busy_s

    def share_for_new_hz(self) -> float:
        """``B/(n+1)``: a newcomer's long-run share of the TTIs among identical uploads."""
        return self.cell.bandwidth_hz / (self.active + 1)

    def harq_band_hz(self) -> float:
        """The whole band: an upload's last TTI, like every other, had all of it."""
        return self.cell.bandwidth_hz

    def start(self, job: Any) -> None:
        now = self.env.now
        job.tx_start_s = job.updated_s = now
        self._commit_to(first_tti(now, self.tti_s))
        state = self._state
        state.jobs.append(job)
        state.avg.append(self.initial_average_bps)
        state.left.append(job.left)
        state.rate.append(0.0)
        state.rate_end.append(-math.inf)
        self._settle(now)
        if self.listener is not None:
            self.listener.started(self, job)

    def set_noise(self, noise: float) -> None:
        """Change the noise (plus interference) PSD now, W/Hz: from the next TTI boundary on
        the uploads' rates are the new ones."""
        now = self.env.now
        self._commit_to(first_tti(now, self.tti_s))
        self.noise = noise
        state = self._state
        state.rate_end = [-math.inf] * len(state.jobs)
        self._settle(now)

    def withdraw(self, job: Any) -> float:
        now = self.env.now
        self._commit_to(first_tti(now, self.tti_s))
        state = self._state
        for i, (waiting, finish_s) in enumerate(self._waiting):
            if waiting is job:  # its last bit was due later in the TTI in progress
                del self._waiting[i]
                rate, fraction = state.last.get(id(job), (0.0, 0.0))
                job.left = rate * (finish_s - now)
                self._busy_s -= fraction * (finish_s - now)
                break
        else:
            k = next(k for k, on in enumerate(state.jobs) if on is job)
            job.left = state.left[k]
            served = state.last.get(id(job))
            end_s = state.index * self.tti_s
            if served is not None and end_s > now:  # mid-TTI: the unsent part
                job.left += served[0] * (end_s - now)
                self._busy_s -= served[1] * (end_s - now)
            state.remove(k)
        job.updated_s = now
        self._settle(now)
        on_air: float = now - job.tx_start_s
        return on_air

    # ---- the recursion --------------------------------------------------------------------

    def _rate(self, job: Any, s: float) -> tuple[float, float]:
        """``job``'s rate on the whole band at ``s`` (bit/s) and until when it holds (s)."""
        band, noise, p = self.cell.bandwidth_hz, self.noise, job.tx_power_w
        fading = job.fading
        if fading is not None:
            block = fading.block_at(s)
            gain = job.mean_gain * fading.gain(block)
            end = fading.block_end_s(block)
        else:
            link = job.link
            if link is not None:  # a replayed trace: its mean rate over the TTI
                tti = self.tti_s
                return link.bits_sent(p, s, s + tti, band, noise) / tti, -math.inf
            gain, end = job.mean_gain, math.inf
        model = self.link_model
        if model is None:
            return shannon_rate_bps(p, gain, band, noise), end
        return model.rate_bps(p, gain, band, noise), end

    def _run(self, state: _State, stop: int, first_done: bool) -> _State:
        """Run TTIs ``state.index .. stop − 1`` on a copy of ``state`` (all of them, or up to
        the first one in which an upload sends its last bit when ``first_done``)."""
        state = state.copy()
        jobs, avg, left, rate, rate_end = (
            state.jobs,
            state.avg,
            state.left,
            state.rate,
            state.rate_end,
        )
        tti, beta, keep = self.tti_s, self._beta, self._keep
        i = state.index
        busy = 0.0
        last_job, last_rate = None, 0.0
        n = len(jobs)
        while i < stop and n:
            s = i * tti
            best = 0
            best_metric = -1.0
            for k in range(n):
                if s >= rate_end[k]:
                    rate[k], rate_end[k] = self._rate(jobs[k], s)
                a = avg[k]
                avg[k] = keep * a  # the served one gains beta·r below
                metric = rate[k] / a if a > 0.0 else math.inf  # an average decayed to 0
                if metric > best_metric:
                    best, best_metric = k, metric
            r = rate[best]
            avg[best] += beta * r
            sent = r * tti
            last_job, last_rate = jobs[best], r
            i += 1
            if left[best] <= sent:  # its last bit goes in this TTI
                finish_s = s + left[best] / r
                busy += finish_s - s
                state.done.append((last_job, finish_s))
                state.remove(best)
                n -= 1
                if first_done:
                    break
            else:
                left[best] -= sent
                busy += tti
        if last_job is not None:
            state.last = {id(last_job): (last_rate, 1.0)}
        state.index = i
        state.busy_s = busy
        return state

    def _commit_to(self, index: int) -> None:
        """Run the committed state up to the TTI boundary ``index`` (adopting the plan if it
        ends there); uploads whose last bit fell in the TTIs run are finished (their times
        have passed) or wait for it (the TTI in progress)."""
        state = self._state
        if index <= state.index:
            return
        if not state.jobs:  # an idle band: nothing happens in these TTIs
            state.index = index
            return
        plan = self._plan
        if plan is not None and plan.index == index:
            ran = plan
            self._horizon = min(2 * self._horizon, _MAX_PLAN_TTIS)
        else:
            ran = self._run(state, index, first_done=False)
            if plan is not None:  # a change cut the plan short
                self._horizon = max(2 * (index - state.index), _MIN_PLAN_TTIS)
        ran.index = max(ran.index, index)
        self._busy_s += ran.busy_s
        for job, finish_s in ran.done:
            job.left = 0.0
            job.finish_s = finish_s
            self._waiting.append((job, finish_s))
        ran.done = []
        ran.busy_s = 0.0
        for k, job in enumerate(ran.jobs):
            job.left = ran.left[k]
        self._state = ran
        self._plan = None

    def _settle(self, now: float) -> None:
        """Finish the uploads whose last bit is on air by ``now``, then plan the next wake."""
        due = [(job, f) for job, f in self._waiting if f <= now]
        if due:
            self._waiting = [(job, f) for job, f in self._waiting if f > now]
        self._plan_wake(now)
        for job, _finish_s in due:
            job.updated_s = now
            self._finish(job)

    def _plan_wake(self, now: float) -> None:
        self._version += 1
        self._plan = None
        if self._waiting:  # a last bit due in the TTI in progress comes first
            at_s = min(f for _job, f in self._waiting)
            wake_index = self._state.index
        elif self._state.jobs:
            state = self._state
            plan = self._run(state, state.index + self._horizon, first_done=True)
            self._plan = plan
            wake_index = plan.index
            at_s = plan.done[0][1] if plan.done else wake_index * self.tti_s
            for job, finish_s in plan.done:
                job.finish_s = finish_s
        else:
            return
        timer = self.env.timeout(max(at_s - now, 0.0), (self._version, wake_index, at_s))
        timer.callbacks.append(self._wake)

    def _wake(self, event: simpy.Event) -> None:
        version, index, at_s = event._value
        if version != self._version:
            return  # superseded by a start, a withdrawal or a noise change
        self._commit_to(index)
        self._settle(max(self.env.now, at_s))
