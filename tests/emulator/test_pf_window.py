"""The windowed proportional fair scheduler (``sharing: pf-window``) against its definition and
against theory.

The scheduler's definition (docs/radio.md): TTIs of ``τ`` from ``t = 0``; in each, every upload
has the rate ``r_k`` of the whole band at its gain at the TTI's start, the band goes to the one
maximising ``r_k/R_k`` (``r/0 = ∞``, ties to the earliest joined), and every average moves as
``R_k ← (1 − 1/T_c)·R_k + (1/T_c)·served_k``. A new upload joins at the next boundary with
``R = 1 bit/s``; the last bit goes at ``s + left/r`` inside its TTI. :func:`reference` writes
this down TTI by TTI, plainly; the engine's scheduler plans the same recursion between changes
and schedules only the completions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from scipy import integrate

from coinfer.emulator.deployment.spec import CellSpec
from coinfer.emulator.engine.fading import BlockFading, ergodic_capacity_bps, fading_law
from coinfer.emulator.engine.pf_window import PfWindowParams, PfWindowUplink
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.reference import shannon_rate_bps
from coinfer.emulator.scenario.schema import Fading

BAND_HZ = 5e6
NOISE_W_PER_HZ = 2e-19
TTI_S = 1e-3


class Job:
    """What the uplink reads of an upload (the engine's request record has more)."""

    def __init__(self, bits: float, power_w: float, gain: float, fading=None) -> None:
        self.bits = bits
        self.left = bits
        self.tx_power_w = power_w
        self.mean_gain = gain
        self.fading = fading
        self.link = None
        self.device = None
        self.done_s: float | None = None


def make_uplink(env, window_tti: float, on_done) -> PfWindowUplink:
    cell = CellSpec(
        index=0,
        id="c0",
        bandwidth_hz=BAND_HZ,
        noise_psd_w_per_hz=NOISE_W_PER_HZ,
        sharing="pf-window",
        server=0,
        num_devices=1,
        sharing_params=PfWindowParams(pf_window_tti=window_tti, tti_s=TTI_S),
    )
    return PfWindowUplink(env, cell, on_done)


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the timeouts scheduled on it."""

    timeouts = 0

    def timeout(self, delay, value=None):
        self.timeouts += 1
        return super().timeout(delay, value)


def drive(jobs: list[Job], arrivals_s: list[float], window_tti: float, until_s=None):
    """Start ``jobs`` on a windowed-PF uplink at ``arrivals_s``; returns the uplink and its
    environment once every upload is done (or at ``until_s``)."""
    env = CountingEnvironment()

    def done(job: Job) -> None:
        assert job.done_s is None, "an upload finished twice"
        job.done_s = env.now

    uplink = make_uplink(env, window_tti, done)
    for job, at_s in sorted(zip(jobs, arrivals_s, strict=True), key=lambda pair: pair[1]):
        env.timeout(at_s).callbacks.append(lambda _event, job=job: uplink.start(job))
    env.run(until=until_s)
    return uplink, env


def rate_at(job: Job, s: float) -> float:
    factor = 1.0 if job.fading is None else job.fading.gain(job.fading.block_at(s))
    return shannon_rate_bps(job.tx_power_w, job.mean_gain * factor, BAND_HZ, NOISE_W_PER_HZ)


def reference(jobs: list[Job], arrivals_s: list[float], window_tti: float, withdrawn_s=None):
    """The finish time of each upload, by the scheduler's definition, TTI by TTI; an upload
    withdrawn at ``withdrawn_s[j]`` (a hand-over) gets as finish time the bits it had left."""
    withdrawn_s = withdrawn_s or {}
    beta = 1.0 / window_tti
    order = sorted(range(len(jobs)), key=lambda j: arrivals_s[j])
    left = [job.bits for job in jobs]
    average = [1.0] * len(jobs)
    finish = [math.nan] * len(jobs)
    active: list[int] = []  # in the order they joined
    i = 0
    while order or active:
        s = i * TTI_S
        while order and arrivals_s[order[0]] <= s:  # joins at the first boundary after it
            active.append(order.pop(0))
        for j in [j for j in active if withdrawn_s.get(j, math.inf) <= s]:
            active.remove(j)  # off the band from the first boundary after its hand-over
        if active:
            rates = {j: rate_at(jobs[j], s) for j in active}
            metrics = [rates[j] / average[j] if average[j] > 0 else math.inf for j in active]
            chosen = active[metrics.index(max(metrics))]  # the first of the best
            for j in active:
                served = rates[j] if j == chosen else 0.0
                average[j] = (1 - beta) * average[j] + beta * served
            r = rates[chosen]
            if chosen in withdrawn_s and withdrawn_s[chosen] < s + TTI_S:  # handed over mid-TTI
                sent = min(left[chosen], r * (withdrawn_s[chosen] - s))
                left[chosen] -= sent
                finish[chosen] = left[chosen]
                active.remove(chosen)
            elif left[chosen] <= r * TTI_S:
                finish[chosen] = s + left[chosen] / r
                active.remove(chosen)
            else:
                left[chosen] -= r * TTI_S
        i += 1
    for j in withdrawn_s:  # handed over while not on the band
        if math.isnan(finish[j]):
            finish[j] = left[j]
    return finish


# ---- the bridge: identical uploads take turns -------------------------------------------------


def test_identical_uploads_starting_together_are_served_in_exact_round_robin():
    """Equal rates and averages: each TTI the band goes to the upload served longest ago, so
    ``n`` uploads of ``θ`` bits take turns; upload ``k`` (from 0) needs ``m = ⌈θ/(rτ)⌉`` TTIs and
    ends in TTI ``(m−1)·n + k``, at ``((m−1)·n + k)·τ + (θ − (m−1)·r·τ)/r``."""
    n, gain, power_w = 4, 2.77e-11, 0.5
    r = shannon_rate_bps(power_w, gain, BAND_HZ, NOISE_W_PER_HZ)
    bits = 17.3 * r * TTI_S
    jobs = [Job(bits, power_w, gain) for _ in range(n)]
    drive(jobs, [0.0] * n, window_tti=50.0)
    m = math.ceil(bits / (r * TTI_S))
    for k, job in enumerate(jobs):
        expected = ((m - 1) * n + k) * TTI_S + (bits - (m - 1) * r * TTI_S) / r
        assert job.done_s == pytest.approx(expected, rel=1e-12)


# ---- the engine's planned recursion is the TTI-by-TTI definition ------------------------------


@pytest.mark.parametrize("case", range(8))
def test_the_planned_schedule_equals_the_tti_by_tti_loop_on_random_cases(case):
    """Random powers, gains, sizes, arrival times and Rayleigh block fading (coherence from a
    fraction of a TTI to many), windows from 1 to 200 TTIs: every finish time is the one of the
    plain per-TTI loop."""
    rng = np.random.default_rng(100 + case)
    law = fading_law(Fading(law="rayleigh"))
    coherence_s = float(rng.choice([0.4e-3, 1e-3, 2.5e-3, 20e-3]))
    n = int(rng.integers(2, 7))
    jobs = []
    for j in range(n):
        gain = 10 ** rng.uniform(-12.0, -9.5)
        fading = BlockFading(law, coherence_s, np.random.SeedSequence([case, j]))
        jobs.append(Job(rng.uniform(2e4, 4e5), rng.uniform(0.05, 0.5), gain, fading))
    arrivals_s = list(rng.uniform(0.0, 0.05, size=n))
    arrivals_s[1] = arrivals_s[0]  # two at once
    arrivals_s[-1] = 7 * TTI_S  # one on a boundary
    window = float(rng.choice([1.0, 3.0, 20.0, 200.0]))
    expected = reference([Job(j.bits, j.tx_power_w, j.mean_gain, j.fading) for j in jobs],
                         arrivals_s, window)  # fmt: skip
    drive(jobs, arrivals_s, window)
    assert [job.done_s for job in jobs] == pytest.approx(expected, rel=0, abs=1e-12)


def test_uploads_handed_over_keep_the_bits_not_yet_on_air_and_the_others_go_on():
    """Two of five uploads are withdrawn (their devices hand over) mid-run, one of them inside
    a TTI in which it is served: it keeps the bits of the rest of that TTI, and the others'
    finish times are those of the per-TTI loop in which it leaves at the next boundary."""
    rng = np.random.default_rng(3)
    jobs = [Job(rng.uniform(1e5, 3e5), 0.5, 10 ** rng.uniform(-11.5, -10)) for _ in range(5)]
    arrivals_s = [0.0, 0.0, 0.0021, 0.0043, 0.0052]
    withdrawn_s = {1: 0.01334, 3: 0.00711}  # 1 is served in the TTI from 13 ms, 3 is not
    expected = reference([Job(j.bits, j.tx_power_w, j.mean_gain) for j in jobs], arrivals_s,
                         20.0, withdrawn_s)  # fmt: skip
    env = simpy.Environment()
    finished: dict[int, float] = {}
    uplink = make_uplink(env, 20.0, lambda job: finished.setdefault(jobs.index(job), env.now))
    for k, at_s in enumerate(arrivals_s):
        env.timeout(at_s).callbacks.append(lambda _e, k=k: uplink.start(jobs[k]))
    on_air: dict[int, float] = {}
    for k, at_s in withdrawn_s.items():
        env.timeout(at_s).callbacks.append(
            lambda _e, k=k: on_air.setdefault(k, uplink.withdraw(jobs[k]))
        )
    env.run()
    assert sorted(finished) == [0, 2, 4]
    for k in (0, 2, 4):
        assert finished[k] == pytest.approx(expected[k], rel=0, abs=1e-12)
    for k, at_s in withdrawn_s.items():
        assert jobs[k].left == pytest.approx(expected[k], rel=1e-9)
        assert 0 < jobs[k].left < jobs[k].bits
        assert on_air[k] == pytest.approx(at_s - arrivals_s[k], rel=1e-12)


def test_ttis_cost_no_events_only_starts_and_completions_do():
    """Six uploads of 100 to 600 TTIs each, 2,100 TTIs in all: a handful of timeouts (the
    arrivals, one per completion, and the wake-ups at the end of plans that reach their
    horizon), not one per TTI."""
    jobs = [Job(2e6 * (k + 1), 0.5, 2.77e-11) for k in range(6)]
    r = rate_at(jobs[0], 0.0)
    _uplink, env = drive(jobs, [0.0] * 6, window_tti=100.0)
    ttis = sum(math.ceil(job.bits / (r * TTI_S)) for job in jobs)
    assert ttis > 2000
    assert env.timeouts <= 6 + 6 + 10


# ---- long-run theory ----------------------------------------------------------------------------


def test_with_fixed_rates_each_upload_gets_one_nth_of_the_ttis():
    """Fixed unequal rates: the log-utility optimum of time-sharing (Kushner & Whiting 2004)
    gives every upload the time share ``1/n`` and so the throughput ``r_k/n``, which the
    scheduler reaches: after 3,000 TTIs each upload's time share is ``1/n`` to 1e-4 (once the
    averages have settled, the TTIs go round, one each)."""
    gains = [3e-12, 2.77e-11, 1e-10]
    jobs = [Job(1e12, 0.5, gain) for gain in gains]
    horizon_s = 3000 * TTI_S
    uplink, _env = drive(jobs, [0.0, 0.0, 0.0], window_tti=20.0, until_s=horizon_s)
    for job in jobs:
        uplink.withdraw(job)
        share = (job.bits - job.left) / rate_at(job, 0.0) / horizon_s
        assert share == pytest.approx(1 / 3, rel=1e-4)


def test_with_rayleigh_fading_pf_reaps_multi_user_diversity():
    """Four identical uploads, Rayleigh fading redrawn every TTI, mean SNR ρ = 0.1 on the band:
    round robin (or ``ps``'s time shares) gets the ergodic rate ``B·E[log2(1 + ρ·h)]``; PF,
    with its averages equal in the long run, serves the best of the four each TTI and gets
    ``B·E[log2(1 + ρ·max_k h_k)]``, ``max`` of 4 Exp(1) with density ``n(1−e^−x)^(n−1)e^−x``,
    about ``H_4 = 2.08`` times round robin's at low SNR (the mean of the max is ``Σ 1/k``)."""
    n, power_w, snr = 4, 0.5, 0.1
    gain = snr * BAND_HZ * NOISE_W_PER_HZ / power_w
    law = fading_law(Fading(law="rayleigh"))
    jobs = [
        Job(1e12, power_w, gain, BlockFading(law, TTI_S, np.random.SeedSequence([7, k])))
        for k in range(n)
    ]
    horizon_s = 6000 * TTI_S
    uplink, _env = drive(jobs, [0.0] * n, window_tti=100.0, until_s=horizon_s)
    for job in jobs:
        uplink.withdraw(job)
    pf_bps = sum(job.bits - job.left for job in jobs) / horizon_s

    def integrand(x: float) -> float:
        return math.log2(1 + snr * x) * n * (1 - math.exp(-x)) ** (n - 1) * math.exp(-x)

    best_of_n_bps = BAND_HZ * integrate.quad(integrand, 0.0, math.inf)[0]
    round_robin_bps = ergodic_capacity_bps("rayleigh", snr, BAND_HZ)
    assert pf_bps == pytest.approx(best_of_n_bps, rel=0.01)
    assert pf_bps > 1.8 * round_robin_bps
    harmonic = sum(1 / k for k in range(1, n + 1))
    assert best_of_n_bps / round_robin_bps == pytest.approx(harmonic, rel=0.1)


def test_a_short_window_with_uploads_coming_and_going_loses_no_bits():
    """Window of 1 TTI, 30 uploads arriving over 60 ms with fixed rates: every upload finishes
    once, and the band time used is exactly ``Σ θ_k/r_k`` (each bit sent once, at its rate)."""
    rng = np.random.default_rng(3)
    jobs = [Job(rng.uniform(1e4, 2e5), 0.5, 10 ** rng.uniform(-11.5, -10)) for _ in range(30)]
    uplink, _env = drive(jobs, list(rng.uniform(0.0, 0.06, size=30)), window_tti=1.0)
    assert all(job.done_s is not None for job in jobs)
    assert uplink.active == 0
    work_s = sum(job.bits / rate_at(job, 0.0) for job in jobs)
    assert uplink.busy_s == pytest.approx(work_s, rel=1e-12)


# ---- parameters ----------------------------------------------------------------------------------


def test_bad_windows_are_refused_naming_the_field():
    from coinfer.emulator.scenario.schema import scenario_from_dict

    def scenario(cell: dict):
        return scenario_from_dict(
            {
                "requests": 1,
                "devices": [{"name": "d", "model": "bert-paper"}],
                "cells": [{"id": "c0", "sharing": "pf-window", **cell}],
                "servers": [{"id": "s0"}],
            }
        )

    for field, value in (("pf_window_tti", 0.5), ("pf_window_s", 0.0), ("tti_s", -1.0)):
        with pytest.raises(InputError, match=field):
            scenario({field: value})
    with pytest.raises(InputError, match="pf_window_tti"):
        scenario({"pf_window_tti": 10, "pf_window_s": 0.01})


# ---- in a run -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def upload_only(tmp_path_factory):
    """One block cut at split 0: the device uploads 4 Mbit, the server runs 1 FLOP."""
    path = tmp_path_factory.mktemp("profiles") / "upload-only.yaml"
    path.write_text(
        "name: upload-only\ninput_bits: 4.0e6\nblocks:\n"
        "  - {name: all, params: 1000, flops: 1.0, activation_bits: 1.0}\n",
        encoding="utf-8",
    )
    return str(path)


def lone_device(profile: str, sharing: str, **cell):
    from coinfer.emulator.scenario.schema import scenario_from_dict

    return scenario_from_dict(
        {
            "requests": 6,
            "devices": [
                {
                    "name": "d",
                    "model": profile,
                    "distance_m": 300.0,
                    "arrivals": {"process": "poisson", "rate_per_s": 2.0},
                }
            ],
            "cells": [
                {
                    "id": "c0",
                    "sharing": sharing,
                    "link": {"model": "nr", "preset": "nr-fr1-100mhz"},
                    **cell,
                }
            ],
            "servers": [{"id": "s0"}],
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )


def test_a_lone_upload_on_an_nr_cell_waits_for_the_next_slot_then_goes_as_under_ps(upload_only):
    """Alone, an upload has every TTI: it is the ``ps`` upload (with the NR rate and HARQ delay)
    started at the first slot boundary (30 kHz: 0.5 ms) after it is ready."""
    from coinfer.emulator.api.run import simulate
    from coinfer.emulator.engine.pf_window import first_tti

    windowed = simulate(lone_device(upload_only, "pf-window"), seed=4).trace
    ps = simulate(lone_device(upload_only, "ps"), seed=4).trace
    assert (ps["latency_uplink_s"] < 0.1).all()  # the uploads do not overlap
    ready_s = windowed["t_arrival"].to_numpy()
    slot_s = 0.5e-3
    wait_s = [first_tti(t, slot_s) * slot_s - t for t in ready_s]
    assert min(wait_s) > 0 and max(wait_s) < slot_s
    np.testing.assert_allclose(
        windowed["latency_uplink_s"], ps["latency_uplink_s"] + wait_s, rtol=0, atol=1e-9
    )


def test_two_cells_one_upload_each_go_at_the_sinr_of_the_closed_form(tmp_path, upload_only):
    """Inter-cell interference re-rates windowed-PF cells too: two access points on one band,
    each with one device (own gain −100 dB, gain to the other access point −112 dB), both
    uploading from t = 0 (a TTI boundary): each goes at ``B·log2(1 + SINR)`` throughout, with
    ``SINR = p·g_own / (B·N0 + p·g_cross)``."""
    import networkx as nx

    from coinfer.emulator.api.run import simulate
    from coinfer.emulator.scenario.schema import scenario_from_dict
    from coinfer.topologies.io import save_topology

    band_hz, own_db, cross_db = 10e6, -100.0, -112.0
    graph = nx.Graph()
    for k, x in enumerate((0.0, 1000.0)):
        graph.add_node(
            f"ap{k}", kind="access_point", x_m=x, y_m=0.0, bandwidth_hz=band_hz,
            sharing="pf-window", pf_window_tti=10,
        )  # fmt: skip
        graph.add_node(f"gpu{k}", kind="server", hardware="l4")
        graph.add_edge(f"ap{k}", f"gpu{k}", kind="wired")
        graph.add_node(f"d{k}", kind="device", x_m=100.0 + 800.0 * k, y_m=0.0)
        graph.add_edge(f"d{k}", f"ap{k}", gain_db=own_db)
        graph.add_edge(f"d{k}", f"ap{1 - k}", gain_db=cross_db)
    path = save_topology(graph, tmp_path / "two-cells.json")
    arrivals = {"process": "deterministic", "interval_s": 5.0, "random_phase": False}
    scenario = scenario_from_dict(
        {
            "requests": 2,
            "devices": [{"name": "d", "model": upload_only, "arrivals": arrivals}],
            "policy": {"name": "fixed", "params": {"split": 0}},
            "channel": {"interference": {"reuse_factor": 1}},
            "topology": {"file": str(path), "association": "strongest"},
        }
    )
    trace = simulate(scenario, seed=1).trace
    assert sorted(trace["cell_id"]) == ["ap0", "ap1"]
    assert (trace["t_arrival"] == 0.0).all()
    p = trace["tx_power_w"].iloc[0]
    sinr = p * 10 ** (own_db / 10) / (band_hz * NOISE_W_PER_HZ + p * 10 ** (cross_db / 10))
    expected_s = 4.0e6 / (band_hz * math.log2(1 + sinr))
    assert trace["latency_uplink_s"].to_numpy() == pytest.approx([expected_s] * 2, rel=1e-9)


def test_a_window_shorter_than_a_tti_and_a_tti_for_an_nr_cell_are_refused(upload_only):
    """Both depend on the cell's TTI, so they are checked when the run is set up."""
    from coinfer.emulator.api.run import simulate

    for field, value in (("pf_window_s", 1e-4), ("tti_s", 1e-3)):  # the NR slot: 0.5 ms
        with pytest.raises(InputError, match=rf"cells\[0\]\.{field}: {value}"):
            simulate(lone_device(upload_only, "pf-window", **{field: value}), seed=1)
