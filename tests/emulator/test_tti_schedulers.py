"""Frequency-domain PF with an averaging window (``sharing: pf-window-fd``) and round robin TTI by
TTI (``sharing: round-robin``) against their definitions and against theory.

``pf-window-fd``'s definition (docs/radio.md): TTIs of ``τ`` from ``t = 0``; in each, the band
is split into the shares ``b_k`` maximising ``Σ r_k(b_k)/R_k`` with
``r_k(b) = b·log2(1 + c_k/b)``, ``c_k = p_k·g_k(s)/N0``; each upload sends ``r_k(b_k)·τ`` bits
and every average moves as ``R_k ← (1 − 1/T_c)·R_k + (1/T_c)·r_k(b_k)``. ``round-robin``'s:
each TTI the whole band goes to the head of a queue, which goes to its tail unless it finished.
Both join at the next TTI boundary and send the last bit at ``s + left/r`` inside its TTI.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import lambertw

from coinfer.emulator.deployment.spec import CellSpec
from coinfer.emulator.engine.fading import BlockFading, fading_law
from coinfer.emulator.engine.pf_window import PfWindowParams, PfWindowUplink, TtiParams
from coinfer.emulator.engine.tti_schedulers import (
    PfWindowFdParams,
    PfWindowFdUplink,
    RoundRobinTtiUplink,
    weighted_pf_shares_hz,
    whole_prb_shares,
)
from coinfer.emulator.engine.uplink import PsUplink, pf_shares_hz
from coinfer.emulator.model.reference import shannon_rate_bps
from coinfer.emulator.scenario.schema import Fading
from tests.emulator.test_pf_window import (  # noqa: F401 (upload_only: a fixture)
    BAND_HZ,
    NOISE_W_PER_HZ,
    TTI_S,
    CountingEnvironment,
    lone_device,
    upload_only,
)
from tests.emulator.test_pf_window import Job as UploadJob


class Job(UploadJob):
    """An upload (as in the pf-window tests) that can be copied and tells its gain."""

    def copy(self) -> Job:
        return Job(self.bits, self.tx_power_w, self.mean_gain, self.fading)

    def gain_at(self, s: float) -> float:
        factor = 1.0 if self.fading is None else self.fading.gain(self.fading.block_at(s))
        return self.mean_gain * factor


def drive(
    kind, jobs, arrivals_s, window_tti=20.0, tti_s=TTI_S, until_s=None, withdrawn_s=None, prbs=None
):
    """Start ``jobs`` at ``arrivals_s`` on an uplink of ``kind`` (a class, sharing the band by
    its discipline) and withdraw ``jobs[k]`` at ``withdrawn_s[k]``; returns the uplink and its
    environment once every upload is done (or at ``until_s``)."""
    env = CountingEnvironment()
    if kind is PsUplink:
        sharing, params = "ps", None
    elif kind is RoundRobinTtiUplink:
        sharing, params = "round-robin", TtiParams(tti_s=tti_s)
    elif kind is PfWindowFdUplink:
        sharing = "pf-window-fd"
        params = PfWindowFdParams(pf_window_tti=window_tti, tti_s=tti_s, pf_prbs=prbs)
    else:
        sharing = "pf-window"
        params = PfWindowParams(pf_window_tti=window_tti, tti_s=tti_s)
    cell = CellSpec(
        index=0,
        id="c0",
        bandwidth_hz=BAND_HZ,
        noise_psd_w_per_hz=NOISE_W_PER_HZ,
        sharing=sharing,
        server=0,
        num_devices=1,
        sharing_params=params,
    )

    def done(job: Job) -> None:
        assert job.done_s is None, "an upload finished twice"
        job.done_s = env.now

    uplink = kind(env, cell, done)
    for job, at_s in sorted(zip(jobs, arrivals_s, strict=True), key=lambda pair: pair[1]):
        env.timeout(at_s).callbacks.append(lambda _event, job=job: uplink.start(job))
    for k, at_s in (withdrawn_s or {}).items():
        env.timeout(at_s).callbacks.append(lambda _event, k=k: uplink.withdraw(jobs[k]))
    env.run(until=until_s)
    return uplink, env


def closed_form_shares_hz(received, averages, band_hz):
    """The shares maximising ``Σ r_k(b_k)/R_k`` written out: ``r'(b) = μ·R`` reads
    ``z + e^(−z) = a`` with ``a = 1 + μ·R·ln 2``, ``1 + c/b = e^z``, whose positive root is
    ``z = a + W₀(−e^(−a))`` (Lambert's W); ``μ`` (one scalar) by Brent's method."""
    c, averages = np.asarray(received, float), np.asarray(averages, float)

    def shares(log_mu: float) -> np.ndarray:
        a = 1.0 + np.exp(log_mu) * averages * math.log(2.0)
        with np.errstate(divide="ignore", over="ignore"):  # x = ∞: a share of 0
            x = np.expm1(a + lambertw(-np.exp(-a), 0).real)
            found: np.ndarray = c / x
        return found

    def excess(log_mu: float) -> float:
        total = float(shares(log_mu).sum())
        if total <= 0.0 or not total < 1e300:  # every share 0, or one unbounded
            return -1e3 if total <= 0.0 else 1e3
        return math.log(total / band_hz)

    found = shares(brentq(excess, -80.0, 80.0, xtol=1e-15, rtol=1e-15, maxiter=500))
    return found * (band_hz / found.sum())


# ---- the shares of one TTI ----------------------------------------------------------------


def test_one_ttis_shares_are_the_closed_form_and_fill_the_band():
    """150 random TTIs, 2 to 11 uploads, SNR per Hz from 1e-3 to 1e4 on the band, averages
    from 1 bit/s (a newcomer) to 100 Mbit/s: the solver's shares equal the Lambert-W closed form
    to 1e-9 of the band, add up to the band, and every upload with a share has the same
    weighted marginal rate ``r'_k(b_k)/R_k``."""
    rng = np.random.default_rng(0)
    for case in range(150):
        n = int(rng.integers(2, 12))
        band_hz = 10 ** rng.uniform(5.0, 8.0)
        received = list(band_hz * 10 ** rng.uniform(-3.0, 4.0, size=n))
        spread = 8.0 if case % 2 else 0.5
        averages = list(10 ** rng.uniform(8.0 - spread, 8.0, size=n))
        shares, _guess = weighted_pf_shares_hz(received, averages, band_hz)
        expected = closed_form_shares_hz(received, averages, band_hz)
        assert np.abs(np.array(shares) - expected).max() <= 1e-9 * band_hz
        assert sum(shares) == pytest.approx(band_hz, rel=1e-14)
        kept = np.array(shares) > 1e-6 * band_hz
        x = np.array(received)[kept] / np.array(shares)[kept]
        marginal = np.log2(1 + x) - x / ((1 + x) * math.log(2))
        weighted = marginal / np.array(averages)[kept]
        np.testing.assert_allclose(weighted, weighted[0], rtol=1e-7)


def test_the_weighted_optimum_at_the_rates_it_gives_is_the_converged_pf_shares():
    """Kushner–Whiting's fixed point: with ``R_k`` equal to the rates of ``pf``'s shares
    (``pf_shares_hz``, ``r'/r`` equal), the weighted optimum is those shares again."""
    received = [1e6, 3e7, 2e8, 4e9]
    pf = pf_shares_hz(np.array(received), BAND_HZ)
    rates = [b * math.log2(1 + c / b) for b, c in zip(pf, received, strict=True)]
    shares, _guess = weighted_pf_shares_hz(received, rates, BAND_HZ)
    np.testing.assert_allclose(shares, pf, rtol=1e-7)


# ---- pf-window-fd: bridge, definition, long run, conservation ----------------------------


def test_identical_uploads_starting_together_get_equal_shares_each_tti_which_is_ps():
    """Four uploads with one channel (the same fading blocks, aligned with the TTIs) and one size
    have equal averages, so each TTI equal shares ``B/4``: they finish together, when ``ps``
    finishes them, and without fading at the closed form ``θ/r(B/4)``."""
    tti_s = 2.0**-10  # a power of two: block and TTI edges meet exactly
    law = fading_law(Fading(law="rayleigh"))
    fading = BlockFading(law, 3 * tti_s, np.random.SeedSequence(5))
    fading.offset_s = 0.0
    for shared_fading in (None, fading):
        jobs = [Job(1.3e6, 0.5, 2.77e-11, shared_fading) for _ in range(4)]
        ps_jobs = [job.copy() for job in jobs]
        drive(PfWindowFdUplink, jobs, [0.0] * 4, window_tti=30.0, tti_s=tti_s)
        drive(PsUplink, ps_jobs, [0.0] * 4)
        ps_s = [job.done_s for job in ps_jobs]
        assert [job.done_s for job in jobs] == pytest.approx(ps_s, rel=1e-12)
        if shared_fading is None:
            rate = shannon_rate_bps(0.5, 2.77e-11, BAND_HZ / 4, NOISE_W_PER_HZ)
            assert ps_s == pytest.approx([1.3e6 / rate] * 4, rel=1e-12)


def fd_reference(jobs, arrivals_s, window_tti, withdrawn_s=None):
    """Each upload's finish time and the band time used, by ``pf-window-fd``'s definition, TTI
    by TTI, with the closed-form shares; an upload withdrawn at ``withdrawn_s[j]`` (a hand-over)
    gets as finish time the bits it had left."""
    withdrawn_s = withdrawn_s or {}
    beta = 1.0 / window_tti
    order = sorted(range(len(jobs)), key=lambda j: arrivals_s[j])
    left = [job.bits for job in jobs]
    average = [1.0] * len(jobs)
    finish = [math.nan] * len(jobs)
    active: list[int] = []
    busy_s = 0.0
    i = 0
    while order or active:
        s = i * TTI_S
        while order and arrivals_s[order[0]] <= s:  # joins at the first boundary after it
            active.append(order.pop(0))
        for j in [j for j in active if withdrawn_s.get(j, math.inf) <= s]:
            active.remove(j)  # off the band from the first boundary after its hand-over
            finish[j] = left[j]
        if active:
            received = [jobs[j].tx_power_w * jobs[j].gain_at(s) / NOISE_W_PER_HZ for j in active]
            shares = closed_form_shares_hz(received, [average[j] for j in active], BAND_HZ)
            for j, b, c in zip(list(active), shares, received, strict=True):
                r = b * math.log2(1 + c / b) if b > 0 else 0.0
                average[j] = (1 - beta) * average[j] + beta * r
                if j in withdrawn_s and r > 0 and withdrawn_s[j] < s + min(TTI_S, left[j] / r):
                    on_air_s = withdrawn_s[j] - s  # handed over inside this TTI
                    finish[j] = left[j] - r * on_air_s
                    busy_s += b / BAND_HZ * on_air_s
                    active.remove(j)
                elif left[j] <= r * TTI_S:
                    finish[j] = s + left[j] / r
                    busy_s += b / BAND_HZ * (left[j] / r)
                    active.remove(j)
                else:
                    left[j] -= r * TTI_S
                    busy_s += b / BAND_HZ * TTI_S
        i += 1
    return finish, busy_s


@pytest.mark.parametrize("case", range(4))
def test_pf_window_fd_equals_the_tti_by_tti_loop_on_random_cases(case):
    """Random powers, gains, sizes, arrival times and Rayleigh block fading (coherence from a
    fraction of a TTI to many), windows from 2 to 200 TTIs: every finish time, and the band time
    used, is the one of the plain per-TTI loop with the closed-form shares."""
    rng = np.random.default_rng(200 + case)
    law = fading_law(Fading(law="rayleigh"))
    coherence_s = float(rng.choice([0.4e-3, 1e-3, 2.5e-3, 20e-3]))
    n = int(rng.integers(3, 7))
    jobs = []
    for j in range(n):
        fading = BlockFading(law, coherence_s, np.random.SeedSequence([case, j]))
        jobs.append(Job(rng.uniform(2e4, 3e5), rng.uniform(0.05, 0.5),
                        10 ** rng.uniform(-12.0, -9.5), fading))  # fmt: skip
    arrivals_s = list(rng.uniform(0.0, 0.03, size=n))
    arrivals_s[1] = arrivals_s[0]  # two at once
    arrivals_s[-1] = 7 * TTI_S  # one on a boundary
    window = float(rng.choice([2.0, 5.0, 20.0, 200.0]))
    expected, busy_s = fd_reference([job.copy() for job in jobs], arrivals_s, window)
    uplink, _env = drive(PfWindowFdUplink, jobs, arrivals_s, window)
    assert [job.done_s for job in jobs] == pytest.approx(expected, rel=1e-9)
    assert uplink.busy_s == pytest.approx(busy_s, rel=1e-9)


def test_uploads_handed_over_under_pf_window_fd_keep_the_bits_not_yet_on_air():
    """Two of five uploads are withdrawn mid-run inside a TTI, on their shares of it: each keeps
    the bits of the rest of that TTI, and the others' finish times (and the band time used) are
    those of the per-TTI loop in which it leaves at the next boundary."""
    rng = np.random.default_rng(3)
    jobs = [Job(rng.uniform(1e5, 3e5), 0.5, 10 ** rng.uniform(-11.5, -10)) for _ in range(5)]
    arrivals_s = [0.0, 0.0, 0.0021, 0.0043, 0.0052]
    withdrawn_s = {1: 0.01334, 3: 0.00711}
    expected, busy_s = fd_reference([j.copy() for j in jobs], arrivals_s, 20.0, withdrawn_s)
    uplink, _env = drive(PfWindowFdUplink, jobs, arrivals_s, 20.0, withdrawn_s=withdrawn_s)
    for k in (0, 2, 4):
        assert jobs[k].done_s == pytest.approx(expected[k], rel=1e-9)
    for k in withdrawn_s:
        assert jobs[k].done_s is None
        assert jobs[k].left == pytest.approx(expected[k], rel=1e-9)
        assert 0 < jobs[k].left < jobs[k].bits
    assert uplink.busy_s == pytest.approx(busy_s, rel=1e-9)


def bits_sent_by(horizon_s: float, jobs: list[Job], window_tti: float) -> np.ndarray:
    uplink, _env = drive(PfWindowFdUplink, jobs, [0.0] * len(jobs), window_tti, until_s=horizon_s)
    for job in jobs:
        uplink.withdraw(job)
    return np.array([job.bits - job.left for job in jobs])


def test_with_fixed_rates_the_shares_converge_to_the_converged_pf_shares():
    """Fixed unequal gains, a window of 10 TTIs: from the 1,000th TTI on, each upload sends at
    the rate of its share under ``pf`` (``pf_shares_hz``, the maximiser of ``Σ log r_k``), to
    1e-6: the scheduler's averages reach Kushner–Whiting's fixed point, which ties
    ``pf-window-fd`` to ``pf``."""
    gains = [3e-12, 2.77e-11, 1e-10]
    jobs = [Job(1e12, 0.5, gain) for gain in gains]
    sent = bits_sent_by(1.5, jobs, 10.0) - bits_sent_by(1.0, [j.copy() for j in jobs], 10.0)
    received = np.array([0.5 * g / NOISE_W_PER_HZ for g in gains])
    shares = pf_shares_hz(received, BAND_HZ)
    rates = [
        shannon_rate_bps(0.5, g, b, NOISE_W_PER_HZ) for g, b in zip(gains, shares, strict=True)
    ]
    np.testing.assert_allclose(sent / 0.5, rates, rtol=1e-6)
    assert not np.allclose(shares, BAND_HZ / 3, rtol=0.05)  # not the equal shares of ps


def test_a_backlogged_band_is_used_in_full_and_every_upload_finishes_once():
    """One upload that never ends keeps the band busy; 20 others come and go. Every short upload
    finishes once; after 300 TTIs the band time used is 300 TTIs (the shares of each TTI add up
    to the band) less the padding after each last bit (the rest of its share of its last TTI:
    more than nothing, less than a TTI per completion; the random cases above check the band
    time exactly); and the TTIs cost few timeouts (one per completion, not one per TTI)."""
    rng = np.random.default_rng(4)
    jobs = [Job(1e12, 0.5, 2.77e-11)]
    jobs += [Job(rng.uniform(1e4, 2e5), 0.5, 10 ** rng.uniform(-11.5, -10)) for _ in range(20)]
    arrivals_s = [0.0, *rng.uniform(0.0, 0.15, size=20)]
    uplink, env = drive(PfWindowFdUplink, jobs, arrivals_s, 10.0, until_s=300 * TTI_S)
    assert all(job.done_s is not None for job in jobs[1:])
    assert uplink.active == 1
    uplink.withdraw(jobs[0])  # at the boundary of TTI 300: brings the books up to it
    padding_s = 300 * TTI_S - uplink.busy_s
    assert 0.0 < padding_s < 20 * TTI_S
    # 21 starts and 20 completions, and after each at most a wake at the end of a plan: not
    # one per TTI
    assert env.timeouts <= 2 * (21 + 20) + 300 // 64 < 300


def test_a_lone_upload_on_an_nr_cell_under_pf_window_fd_goes_as_under_ps(upload_only):  # noqa: F811
    """Alone, an upload has the whole band each TTI: it is the ``ps`` upload (NR rate and HARQ
    delay on the whole band) started at the next slot boundary (30 kHz: 0.5 ms)."""
    from coinfer.emulator.api.run import simulate
    from coinfer.emulator.engine.pf_window import first_tti

    for sharing in ("pf-window-fd", "round-robin"):
        trace = simulate(lone_device(upload_only, sharing), seed=4).trace
        ps = simulate(lone_device(upload_only, "ps"), seed=4).trace
        wait_s = [first_tti(t, 0.5e-3) * 0.5e-3 - t for t in trace["t_arrival"]]
        np.testing.assert_allclose(
            trace["latency_uplink_s"], ps["latency_uplink_s"] + wait_s, rtol=0, atol=1e-9
        )


# ---- whole PRBs ---------------------------------------------------------------------------


def test_whole_prbs_are_the_best_of_every_split_of_the_prbs():
    """120 random TTIs, 2 to 4 uploads, 1 to 12 PRBs: the PRBs handed out reach the largest
    ``Σ r_k(n_k·w)/R_k`` over every way of splitting the PRBs (enumerated), and add up."""
    import itertools

    rng = np.random.default_rng(1)
    for _case in range(120):
        n, prbs = int(rng.integers(2, 5)), int(rng.integers(1, 13))
        band_hz = 1e6 * rng.uniform(1.0, 20.0)
        received = list(band_hz * 10 ** rng.uniform(-2.0, 3.0, size=n))
        averages = list(10 ** rng.uniform(3.0, 8.0, size=n))
        shares, _guess = weighted_pf_shares_hz(received, averages, band_hz)
        width = band_hz / prbs

        def utility(counts, width=width, received=received, averages=averages):
            return sum(
                m * width * math.log2(1 + c / (m * width)) / a
                for m, c, a in zip(counts, received, averages, strict=True)
                if m > 0
            )

        counts = whole_prb_shares(received, averages, shares, prbs)
        splits = (s for s in itertools.product(range(prbs + 1), repeat=n) if sum(s) == prbs)
        assert sum(counts) == prbs
        assert utility(counts) == pytest.approx(max(map(utility, splits)), rel=1e-12)


def test_whole_prbs_bridge_to_ps_and_to_the_continuous_shares():
    """Four identical uploads on 100 PRBs get 25 each every TTI, so they finish as under ``ps``;
    and on random uploads, 100,000 PRBs give the finish times of continuous shares to 1e-4."""
    jobs = [Job(1.3e6, 0.5, 2.77e-11) for _ in range(4)]
    ps_jobs = [job.copy() for job in jobs]
    drive(PfWindowFdUplink, jobs, [0.0] * 4, prbs=100)
    drive(PsUplink, ps_jobs, [0.0] * 4)
    assert [job.done_s for job in jobs] == pytest.approx([j.done_s for j in ps_jobs], rel=1e-12)
    rng = np.random.default_rng(8)
    jobs = [Job(rng.uniform(5e4, 3e5), 0.5, 10 ** rng.uniform(-11.5, -10)) for _ in range(5)]
    arrivals_s = list(rng.uniform(0.0, 0.01, size=5))
    continuous = [job.copy() for job in jobs]
    drive(PfWindowFdUplink, jobs, arrivals_s, prbs=100_000)
    drive(PfWindowFdUplink, continuous, arrivals_s)
    whole = [job.done_s for job in jobs]
    assert whole == pytest.approx([job.done_s for job in continuous], rel=1e-4)
    assert whole != [job.done_s for job in continuous]


# ---- round robin, TTI by TTI -----------------------------------------------------------------


def test_identical_uploads_under_round_robin_end_as_under_pf_window_with_equal_averages():
    """``n`` identical uploads starting together take turns under both: upload ``k`` ends in TTI
    ``(m−1)·n + k`` with ``m = ⌈θ/(r·τ)⌉``, at ``((m−1)·n + k)·τ + (θ − (m−1)·r·τ)/r``."""
    n, gain, power_w = 4, 2.77e-11, 0.5
    r = shannon_rate_bps(power_w, gain, BAND_HZ, NOISE_W_PER_HZ)
    bits = 17.3 * r * TTI_S
    m = math.ceil(bits / (r * TTI_S))
    expected = [((m - 1) * n + k) * TTI_S + (bits - (m - 1) * r * TTI_S) / r for k in range(n)]
    for kind in (RoundRobinTtiUplink, PfWindowUplink):
        jobs = [Job(bits, power_w, gain) for _ in range(n)]
        drive(kind, jobs, [0.0] * n, window_tti=50.0)
        assert [job.done_s for job in jobs] == pytest.approx(expected, rel=1e-12)


def rr_reference(jobs, arrivals_s):
    """Finish times by round robin's definition: a queue, the head served each TTI on the
    whole band at its rate at the TTI's start, then sent to the tail; newcomers at the tail."""
    order = sorted(range(len(jobs)), key=lambda j: arrivals_s[j])
    left = [job.bits for job in jobs]
    finish = [math.nan] * len(jobs)
    queue: list[int] = []
    i = 0
    while order or queue:
        s = i * TTI_S
        while order and arrivals_s[order[0]] <= s:
            queue.append(order.pop(0))
        if queue:
            j = queue.pop(0)
            r = shannon_rate_bps(jobs[j].tx_power_w, jobs[j].gain_at(s), BAND_HZ, NOISE_W_PER_HZ)
            if left[j] <= r * TTI_S:
                finish[j] = s + left[j] / r
            else:
                left[j] -= r * TTI_S
                queue.append(j)
        i += 1
    return finish


@pytest.mark.parametrize("case", range(4))
def test_round_robin_equals_the_tti_by_tti_loop_on_random_cases(case):
    """Random uploads arriving over 50 ms with Rayleigh block fading: every finish time is the
    one of the plain queue loop."""
    rng = np.random.default_rng(300 + case)
    law = fading_law(Fading(law="rayleigh"))
    coherence_s = float(rng.choice([0.4e-3, 1e-3, 2.5e-3, 20e-3]))
    n = int(rng.integers(2, 9))
    jobs = [
        Job(rng.uniform(2e4, 4e5), rng.uniform(0.05, 0.5), 10 ** rng.uniform(-12.0, -9.5),
            BlockFading(law, coherence_s, np.random.SeedSequence([case, j])))
        for j in range(n)
    ]  # fmt: skip
    arrivals_s = list(rng.uniform(0.0, 0.05, size=n))
    arrivals_s[-1] = 7 * TTI_S
    expected = rr_reference([job.copy() for job in jobs], arrivals_s)
    drive(RoundRobinTtiUplink, jobs, arrivals_s)
    assert [job.done_s for job in jobs] == pytest.approx(expected, rel=0, abs=1e-12)


def test_bad_parameters_of_the_new_schedulers_are_refused_naming_the_field():
    """``pf-window-fd`` takes ``pf-window``'s parameters and ``pf_prbs``; ``round-robin`` only
    ``tti_s``."""
    from coinfer.emulator.errors import InputError
    from coinfer.emulator.scenario.schema import scenario_from_dict

    def scenario(cell: dict):
        return scenario_from_dict(
            {
                "requests": 1,
                "devices": [{"name": "d", "model": "bert-paper"}],
                "cells": [{"id": "c0", **cell}],
                "servers": [{"id": "s0"}],
            }
        )

    refused = (
        ("pf-window-fd", "pf_window_tti", 0.5, "greater than or equal to 1"),
        ("pf-window-fd", "tti_s", -1.0, "greater than 0"),
        ("pf-window-fd", "pf_prbs", 0, "greater than or equal to 1"),
        ("round-robin", "tti_s", 0.0, "greater than 0"),
        ("round-robin", "pf_window_tti", 10, "unknown field"),
    )
    for sharing, field, value, expected in refused:
        with pytest.raises(InputError, match=rf"cells\[0\]\.{field}: .*{expected}"):
            scenario({"sharing": sharing, field: value})


@pytest.mark.parametrize("sharing", ["pf-window-fd", "round-robin"])
def test_a_replayed_capacity_is_carried_in_full_whenever_the_cell_is_busy(tmp_path, sharing):
    """Devices replaying a constant capacity ``C``: a share ``b`` of the band carries ``C·b/B``
    (``pf-window-fd``) or the whole band ``C`` (``round-robin``), so the cell carries ``C``
    whenever it is busy, padding aside: Σ payload = C × busy time."""
    from coinfer.emulator.api.run import simulate
    from coinfer.emulator.scenario.schema import scenario_from_dict
    from tests.emulator.replay_fixtures import write_capacity
    from tests.emulator.test_engine_replay import busy_cell

    capacity = 4e6
    link = write_capacity(tmp_path / "flat.csv", [0.0, 1.0], [capacity, capacity])
    policy = {"name": "fixed", "params": {"split": 4}}
    scenario = busy_cell(sharing, policy, link_trace={"kind": "capacity", "file": link})
    result = simulate(scenario_from_dict({**scenario, "requests": 300}), seed=5)
    on_air_s = result.trace["payload_bits"] / capacity
    assert (result.trace["latency_uplink_s"] > on_air_s * 1.5).any(), "uploads should overlap"
    carried = result.trace["payload_bits"].sum()
    assert carried == pytest.approx(capacity * result.stats.cell_busy_s["c0"], rel=1e-9)
