"""The edge server against queueing theory: M/D/1, M/M/1, M/M/c and processor sharing.

Set-up shared by every test here: many devices, each with Poisson arrivals, run a one-block model
cut at split 0, so the device computes nothing and the whole model runs on the server. Uploads use
FDMA with a work-independent payload (``scale_payload: false``): every upload takes the same
constant time, so requests reach the server as the devices' Poisson arrivals shifted by a
constant, i.e. as a Poisson process. The server needs ``5.12e10`` FLOPs per request on the paper's
server (4 GHz × 128 FLOPs/cycle), a mean service time of exactly ``s = 0.1 s``; the work scale
multiplies it, so constant work gives deterministic service and exponential work exponential
service.

Two kinds of check:

* **exact sample paths**: the waits in the trace equal a first-come-first-served recursion
  (Lindley, Kiefer–Wolfowitz) replayed from the trace's own arrival and service times;
* **theory**: the mean wait or sojourn agrees with the closed form within a 99 % confidence
  interval computed from the run by batch means (25 batches of consecutive requests, Student t).
  Each test also requires the interval to be narrower than 10 % of the theory, so that agreement
  is not bought by imprecision. Seeds are fixed: the outcome is deterministic.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest
from scipy import stats

from coinfer.emulator.api.run import simulate
from coinfer.emulator.scenario.schema import scenario_from_dict

SERVICE_S = 0.1  #: mean service time, s
SERVER_FLOPS = SERVICE_S * 4e9 * 128  #: FLOPs giving SERVICE_S on the paper's server
DEVICES = 20  #: Poisson sources superposed
REQUESTS = 60_000
WARMUP_S = 50.0
SEED = 3

PROFILE = f"""\
name: server-only
input_bits: 1000
blocks:
  - {{name: all, params: 1000000, flops: {SERVER_FLOPS!r}, activation_bits: 1000}}
"""


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    path = tmp_path_factory.mktemp("profiles") / "server-only.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    return str(path)


def server_scenario(
    profile: str,
    total_rate_per_s: float,
    work: str,
    *,
    workers: int = 1,
    discipline: str = "fcfs",
    requests: int = REQUESTS,
    devices: int = DEVICES,
    arrivals: dict | None = None,
    queue_capacity: int | None = None,
):
    """Poisson sources (total rate ``total_rate_per_s``) feeding one server at split 0."""
    return scenario_from_dict(
        {
            "name": "server-queue",
            "requests": requests,
            "warmup_s": WARMUP_S,
            "devices": [
                {
                    "name": "d",
                    "count": devices,
                    "model": profile,
                    "arrivals": arrivals
                    or {"process": "poisson", "rate_per_s": total_rate_per_s / devices},
                    "work": {"distribution": work},
                    "scale_payload": False,
                }
            ],
            "cells": [{"id": "c0", "bandwidth_hz": 5e6, "sharing": "fdma"}],
            "servers": [
                {
                    "id": "s0",
                    "workers": workers,
                    "discipline": discipline,
                    "queue_capacity": queue_capacity,
                }
            ],
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )


def batch_means(values: np.ndarray, batches: int = 25, level: float = 0.99):
    """(mean, half-width of the ``level`` confidence interval) by the method of batch means."""
    means = np.array([chunk.mean() for chunk in np.array_split(values, batches)])
    half = stats.t.ppf(0.5 + level / 2, batches - 1) * means.std(ddof=1) / math.sqrt(batches)
    return float(means.mean()), float(half)


def measured(trace, column: str) -> np.ndarray:
    """``column`` of the requests that arrived after the warm-up, in arrival order."""
    rows = trace[~trace["warmup"]].sort_values("t_arrival")
    return rows[column].to_numpy(dtype=float)


def assert_agrees(label: str, values: np.ndarray, theory: float) -> None:
    mean, half = batch_means(values)
    print(f"{label}: simulated {mean:.5g} ± {half:.2g} (99 % CI), theory {theory:.5g}")
    assert half < 0.10 * theory, f"{label}: CI ±{half:.3g} too wide to test {theory:.4g}"
    assert abs(mean - theory) <= half, (
        f"{label}: simulated {mean:.5g} ± {half:.3g}, theory {theory:.5g}"
    )


def server_arrival_s(trace) -> np.ndarray:
    """When each request reached the server: arrival + device stages + upload."""
    return (
        trace["t_arrival"]
        + trace["latency_device_queue_s"]
        + trace["latency_device_compute_s"]
        + trace["latency_uplink_s"]
    ).to_numpy()


def fcfs_waits(arrivals: np.ndarray, services: np.ndarray, workers: int) -> np.ndarray:
    """Kiefer–Wolfowitz recursion: waits of a FCFS queue with ``workers`` servers (Lindley for
    one), requests given in the order they reach the queue."""
    free = [0.0] * workers
    waits = np.empty(len(arrivals))
    for i, (arrival, service) in enumerate(zip(arrivals.tolist(), services.tolist(), strict=True)):
        start = max(arrival, free[0])
        waits[i] = start - arrival
        heapq.heapreplace(free, start + service)
    return waits


def erlang_c(arrival_rate: float, service_s: float, workers: int) -> tuple[float, float]:
    """M/M/c: (probability that a request waits, mean wait in queue), the Erlang C formula."""
    a = arrival_rate * service_s  # offered load, Erlang
    rho = a / workers
    top = a**workers / math.factorial(workers) / (1.0 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(workers)) + top)
    return p_wait, p_wait * service_s / (workers * (1.0 - rho))


# ---- runs shared by several tests ----------------------------------------------------------


@pytest.fixture(scope="module")
def mm1(profile):
    """M/M/1 at ρ = 0.7: λ = 7 /s from 20 devices, exponential service of mean 0.1 s (a longer
    run: the M/M/1 wait is the most variable of these)."""
    return simulate(server_scenario(profile, 7.0, "exponential", requests=100_000), seed=SEED)


@pytest.fixture(scope="module")
def md1(profile):
    """M/D/1 at ρ = 0.7: λ = 7 /s, every service exactly 0.1 s."""
    return simulate(server_scenario(profile, 7.0, "constant"), seed=SEED)


@pytest.fixture(scope="module")
def mm3(profile):
    """M/M/3 at ρ = 0.7 per worker: λ = 21 /s on three workers (a longer run: the mean wait is
    short next to its spread)."""
    return simulate(
        server_scenario(profile, 21.0, "exponential", workers=3, requests=150_000), seed=SEED
    )


# ---- exact sample paths --------------------------------------------------------------------


@pytest.mark.parametrize(("run", "workers"), [("md1", 1), ("mm1", 1), ("mm3", 3)])
def test_fcfs_waits_follow_the_kiefer_wolfowitz_recursion_exactly(run, workers, request):
    """Every request's ``latency_server_queue_s`` is exactly the FCFS wait computed from the
    trace's own server arrival times and service times (Lindley's recursion for one worker,
    Kiefer–Wolfowitz for several): the server really is first come, first served."""
    trace = request.getfixturevalue(run).trace
    order = np.lexsort((trace["request_id"].to_numpy(), server_arrival_s(trace)))
    rows = trace.iloc[order]
    expected = fcfs_waits(
        server_arrival_s(rows), rows["latency_server_compute_s"].to_numpy(), workers
    )
    np.testing.assert_allclose(rows["latency_server_queue_s"], expected, rtol=0, atol=1e-9)


def test_service_times_are_the_work_scaled_flops_over_the_server_speed(md1, mm1):
    """Constant work: every service is exactly 0.1 s (M/D/1); exponential work: the service
    time of each request is 0.1 s × its work scale (M/M/1)."""
    np.testing.assert_allclose(md1.trace["latency_server_compute_s"], SERVICE_S, rtol=1e-12)
    np.testing.assert_allclose(
        mm1.trace["latency_server_compute_s"], SERVICE_S * mm1.trace["work_scale"], rtol=1e-12
    )


# ---- theory --------------------------------------------------------------------------------


def test_superposed_poisson_sources_are_poisson_at_the_summed_rate(mm1):
    """20 devices, each Poisson at 0.35 /s, give a Poisson stream at 20 × 0.35 = 7 /s:
    exponential inter-arrival times of mean 1/7 s (Kolmogorov–Smirnov), coefficient of
    variation 1, counts per second with variance equal to their mean, and each device
    contributing an equal share."""
    arrivals = np.sort(mm1.trace["t_arrival"].to_numpy())
    gaps = np.diff(arrivals)
    rate = 7.0
    se = 1.0 / rate / math.sqrt(len(gaps))  # standard error of the mean gap
    assert abs(gaps.mean() - 1.0 / rate) < 3.3 * se
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.02)
    assert stats.kstest(gaps, "expon", args=(0, 1.0 / rate)).pvalue > 0.001
    counts = np.bincount(arrivals.astype(int))[:-1]  # whole seconds only
    dispersion = counts.var(ddof=1) / counts.mean()
    assert dispersion == pytest.approx(1.0, abs=3.3 * math.sqrt(2.0 / (len(counts) - 1)))
    # Each of the 20 sources contributes its equal share (chi-square goodness of fit).
    per_device = mm1.trace["device_id"].value_counts().to_numpy()
    assert len(per_device) == DEVICES
    assert stats.chisquare(per_device).pvalue > 0.001


def test_md1_mean_wait_is_pollaczek_khinchine(md1):
    """M/D/1, ρ = 0.7: mean wait ``λ·s² / (2(1 − ρ))`` = 7 × 0.01 / 0.6 = 0.1167 s."""
    lam = 7.0
    rho = lam * SERVICE_S
    theory = lam * SERVICE_S**2 / (2.0 * (1.0 - rho))
    assert_agrees("M/D/1 ρ=0.7 mean wait", measured(md1.trace, "latency_server_queue_s"), theory)


def test_mm1_mean_wait_is_rho_over_mu_minus_lambda(mm1):
    """M/M/1, ρ = 0.7: mean wait ``ρ / (μ − λ)`` = 0.7 / (10 − 7) = 0.2333 s."""
    lam, mu = 7.0, 1.0 / SERVICE_S
    theory = (lam / mu) / (mu - lam)
    assert_agrees("M/M/1 ρ=0.7 mean wait", measured(mm1.trace, "latency_server_queue_s"), theory)


def test_mm1_server_utilisation_is_rho(mm1):
    """The summary's utilisation is the busy time over the run: Σ service / sim_end_s exactly,
    and about ρ = λ·s = 0.7."""
    trace = mm1.trace
    busy = trace["latency_server_compute_s"].sum()
    utilisation = mm1.summary.server_utilisation["s0"]
    assert utilisation == pytest.approx(busy / mm1.stats.sim_end_s, rel=1e-9)
    assert utilisation == pytest.approx(0.7, abs=0.02)


def test_mm3_mean_wait_is_erlang_c(mm3):
    """M/M/3, ρ = 0.7 per worker (λ = 21 /s, s = 0.1 s), offered load ``a = λ·s = 2.1``: the
    probability of waiting is Erlang C, ``C(3, 2.1)`` = 0.4924, and the mean wait
    ``C·s / (c(1 − ρ))`` = 0.0547 s."""
    p_wait, theory = erlang_c(21.0, SERVICE_S, 3)
    assert (p_wait, theory) == pytest.approx((0.4924, 0.05470), rel=1e-3)
    waits = measured(mm3.trace, "latency_server_queue_s")
    assert_agrees("M/M/3 ρ=0.7 P(wait)", (waits > 0).astype(float), p_wait)
    assert_agrees("M/M/3 ρ=0.7 mean wait", waits, theory)


@pytest.mark.parametrize(("work", "label"), [("exponential", "M/M/1-PS"), ("constant", "M/D/1-PS")])
def test_processor_sharing_mean_sojourn_is_s_over_one_minus_rho(profile, work, label):
    """Processor sharing on one worker at ρ = 0.7: mean sojourn ``s / (1 − ρ)`` = 0.3333 s. The
    M/G/1-PS mean sojourn is insensitive to the service law, so constant work (M/D/1-PS) gives
    the same mean as exponential work. Under PS nobody waits: the whole sojourn is recorded as
    ``latency_server_compute_s`` and ``latency_server_queue_s`` is 0."""
    run = simulate(server_scenario(profile, 7.0, work, discipline="ps"), seed=SEED)
    assert (run.trace["latency_server_queue_s"] == 0.0).all()
    theory = SERVICE_S / (1.0 - 0.7)
    sojourns = measured(run.trace, "latency_server_compute_s")
    assert_agrees(f"{label} ρ=0.7 mean sojourn", sojourns, theory)


def test_processor_sharing_on_three_workers_has_the_m_m_3_mean_sojourn(profile):
    """PS on c = 3 workers (each of n requests at min(1, 3/n) of full speed) is a symmetric
    queue with the service capacity of M/M/3, so its number in system has the M/M/3 law whatever
    the service distribution: with constant work (λ = 21 /s, s = 0.1 s) the mean sojourn is the
    M/M/3 one, Erlang C wait + s = 0.1547 s."""
    run = simulate(
        server_scenario(profile, 21.0, "constant", workers=3, discipline="ps"), seed=SEED
    )
    theory = erlang_c(21.0, SERVICE_S, 3)[1] + SERVICE_S
    sojourns = measured(run.trace, "latency_server_compute_s")
    assert_agrees("M/D/3-PS ρ=0.7 mean sojourn", sojourns, theory)


def mm1k_blocking(rho: float, capacity: int) -> float:
    """M/M/1/K: probability that an arrival finds K requests in the system (and is lost)."""
    return (1.0 - rho) * rho**capacity / (1.0 - rho ** (capacity + 1))


def erlang_b(offered_erlang: float, workers: int) -> float:
    """M/G/c/c: probability that an arrival finds every worker busy (Erlang B)."""
    terms = [offered_erlang**k / math.factorial(k) for k in range(workers + 1)]
    return terms[-1] / sum(terms)


@pytest.mark.parametrize(
    ("label", "rate", "work", "workers", "discipline", "queue_capacity", "theory"),
    [
        # FCFS, 1 worker, at most 2 waiting: M/M/1/3.
        ("M/M/1/3", 7.0, "exponential", 1, "fcfs", 2, mm1k_blocking(0.7, 3)),
        # FCFS, 3 workers, nobody may wait: Erlang's loss system, insensitive to the service law.
        ("M/D/3/3 (Erlang B)", 21.0, "constant", 3, "fcfs", 0, erlang_b(2.1, 3)),
        # PS, at most 3 requests in the server: M/G/1-PS/3 has the M/M/1/3 law (insensitivity).
        ("M/D/1-PS/3", 7.0, "constant", 1, "ps", 3, mm1k_blocking(0.7, 3)),
    ],
    ids=["M/M/1/3", "erlang-B", "M/D/1-PS/3"],
)
def test_a_full_server_drops_with_the_loss_probability_of_theory(
    profile, label, rate, work, workers, discipline, queue_capacity, theory
):
    """Poisson arrivals see time averages (PASTA): the fraction of requests dropped is the
    stationary probability that the server is full. M/M/1/K: ``(1 − ρ)ρ^K / (1 − ρ^(K+1))`` =
    0.1354 at ρ = 0.7, K = 3; Erlang B with 3 workers and 2.1 Erlang: 0.2254."""
    scenario = server_scenario(
        profile,
        rate,
        work,
        workers=workers,
        discipline=discipline,
        queue_capacity=queue_capacity,
        requests=40_000,
    )
    trace = simulate(scenario, seed=SEED).trace
    dropped = trace.assign(dropped=(trace["status"] == "dropped").astype(float))
    assert_agrees(f"{label} ρ=0.7 loss probability", measured(dropped, "dropped"), theory)


@pytest.mark.parametrize(("workers", "sojourn_s"), [(1, 2 * SERVICE_S), (2, SERVICE_S)])
def test_processor_sharing_splits_the_speed_between_simultaneous_requests(
    profile, workers, sojourn_s
):
    """Two requests reach a PS server at the same instant (two devices, deterministic arrivals at
    the same phase, equal uploads): on one worker each runs at half speed and both leave after
    2s; on two workers each runs at full speed and leaves after s."""
    scenario = server_scenario(
        profile,
        0.0,
        "constant",
        workers=workers,
        discipline="ps",
        requests=10,
        devices=2,
        arrivals={"process": "deterministic", "interval_s": 10.0, "random_phase": False},
    )
    trace = simulate(scenario, seed=SEED).trace
    np.testing.assert_allclose(trace["latency_server_compute_s"], sojourn_s, rtol=1e-12)


@pytest.mark.slow
def test_batch_means_intervals_cover_the_mm1_theory_across_seeds(profile):
    """Calibration of the method itself: over 20 independent seeds, the 95 % batch-means interval
    of the M/M/1 mean wait (ρ = 0.7) covers the theory in at least 16 runs (a binomial(20, 0.95)
    count is below 16 with probability 0.3 %)."""
    theory = 0.7 / 3.0
    covered = 0
    for seed in range(20):
        trace = simulate(server_scenario(profile, 7.0, "exponential"), seed=100 + seed).trace
        mean, half = batch_means(measured(trace, "latency_server_queue_s"), level=0.95)
        covered += abs(mean - theory) <= half
    assert covered >= 16
