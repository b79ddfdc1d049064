"""The shared uplink against hand calculations and queueing theory (no fading here).

Devices sit at the paper's 500 m (gain ``g = 2.77e-11``) and transmit at ``P_max = 0.5 W`` on a
``B = 5 MHz`` band with ``N0 = 2e-19 W/Hz``. An upload on a band ``b`` runs at the Shannon rate
``r(b) = b·log2(1 + p·g/(b·N0))``; at full band ``r(B) = 19.47 Mbit/s``. Models are cut at a
point where the device computes nothing (or a known, tiny amount) and the server almost nothing,
so the upload is the only stage that matters.

* ``fdma``: every device owns ``B / devices`` whatever the others do, and sends its own uploads
  one at a time on it;
* ``fifo``: one upload at a time on the whole band: an M/G/1 queue whose service is ``θ / r(B)``;
* ``ps``: the ``n`` uploads in progress get ``B / n`` each. The rate of one upload,
  ``(B/n)·log2(1 + n·SNR)``, is not ``r(B)/n``: the total ``n·r(B/n)`` grows with ``n`` (a
  power-limited user gains SNR as its band narrows). The uplink is therefore a *symmetric queue*
  with state-dependent capacity ``φ(n) = n·r(B/n)`` shared equally: the number of uploads in
  progress is the birth–death chain ``π(n) ∝ Π_{k≤n} λθ/φ(k)``, insensitive to the payload's
  distribution (Kelly 1979, ch. 3), and the mean upload time is ``L/λ`` by Little's law. The
  textbook ``s/(1 − ρ)`` of a constant-capacity M/G/1-PS queue does not apply.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from coinfer.emulator.api.run import simulate
from coinfer.emulator.model.reference import log_distance_gain, uplink_rate_bps
from coinfer.emulator.scenario.schema import scenario_from_dict

BANDWIDTH_HZ = 5e6
NOISE_W_PER_HZ = 2e-19
POWER_W = 0.5
GAIN = float(log_distance_gain(500.0))
DEVICES = 20
SEED = 7


def rate_bps(band_hz: float) -> float:
    """Shannon rate of one upload at ``P_max`` on ``band_hz``."""
    return float(uplink_rate_bps(POWER_W, GAIN, band_hz, NOISE_W_PER_HZ))


UPLOAD_S = 0.01  #: upload time of the payload alone on the full band, s
PAYLOAD_BITS = UPLOAD_S * rate_bps(BANDWIDTH_HZ)


def write_profile(directory, name: str, text: str) -> str:
    path = directory / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def upload_only(tmp_path_factory):
    """One block, cut at split 0: the device uploads θ(0) = PAYLOAD_BITS (0.01 s on the full
    band) and the server runs 1 FLOP (2e-12 s)."""
    return write_profile(
        tmp_path_factory.mktemp("profiles"),
        "upload-only",
        f"""\
name: upload-only
input_bits: {PAYLOAD_BITS!r}
blocks:
  - {{name: all, params: 1000, flops: 1.0, activation_bits: 1.0}}
""",
    )


def uplink_scenario(profile: str, sharing: str, total_rate_per_s: float, work: str, requests: int):
    return scenario_from_dict(
        {
            "name": f"uplink-{sharing}",
            "requests": requests,
            "warmup_s": 5.0,
            "devices": [
                {
                    "name": "d",
                    "count": DEVICES,
                    "model": profile,
                    "arrivals": {"process": "poisson", "rate_per_s": total_rate_per_s / DEVICES},
                    "work": {"distribution": work},
                }
            ],
            "cells": [{"id": "c0", "bandwidth_hz": BANDWIDTH_HZ, "sharing": sharing}],
            "servers": [{"id": "s0"}],
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )


def batch_means(values: np.ndarray, batches: int = 25, level: float = 0.99):
    """(mean, half-width of the ``level`` confidence interval) by the method of batch means."""
    means = np.array([chunk.mean() for chunk in np.array_split(values, batches)])
    half = stats.t.ppf(0.5 + level / 2, batches - 1) * means.std(ddof=1) / math.sqrt(batches)
    return float(means.mean()), float(half)


def assert_agrees(label: str, trace, theory: float) -> None:
    """The mean upload time of post-warm-up requests agrees with ``theory`` (99 % CI)."""
    rows = trace[~trace["warmup"]].sort_values("t_arrival")
    mean, half = batch_means(rows["latency_uplink_s"].to_numpy())
    print(f"{label}: simulated {mean:.5g} s ± {half:.2g} (99 % CI), theory {theory:.5g} s")
    assert half < 0.10 * theory, f"{label}: CI ±{half:.3g} too wide to test {theory:.4g}"
    assert abs(mean - theory) <= half, f"{label}: {mean:.5g} ± {half:.3g}, theory {theory:.5g}"


# ---- FDMA ----------------------------------------------------------------------------------


def lindley_waits(ready_s: np.ndarray, service_s: np.ndarray) -> np.ndarray:
    """Waits of a single FIFO server from ready times (in order) and service times."""
    waits = np.empty(len(ready_s))
    free = 0.0
    for i, (t, s) in enumerate(zip(ready_s.tolist(), service_s.tolist(), strict=True)):
        start = max(t, free)
        waits[i] = start - t
        free = start + s
    return waits


def test_fdma_devices_never_interact_and_each_sends_on_its_own_share(upload_only):
    """FDMA with 20 devices, each with Poisson uploads at 5 /s: every device owns ``B/20`` and
    sends its own uploads one after the other on it, each taking ``θ / r(B/20)`` = 95.9 ms,
    whatever the other 19 devices do (at 100 uploads/s in the cell, uploads of different devices
    overlap all the time). So each device's uplink is its own M/D/1 queue: a Lindley recursion
    per device reproduces every ``latency_uplink_s``, and the cell's utilisation (time-averaged
    fraction of the band on air) is about 5 × 0.0959 = 0.48, never above 1."""
    run = simulate(uplink_scenario(upload_only, "fdma", 100.0, "constant", 6000), seed=SEED)
    trace = run.trace.sort_values(["t_arrival", "request_id"])
    on_air = PAYLOAD_BITS / rate_bps(BANDWIDTH_HZ / DEVICES)
    assert on_air == pytest.approx(0.0959, rel=1e-3)
    for _, rows in trace.groupby("device_id", observed=True):
        waits = lindley_waits(rows["t_arrival"].to_numpy(), np.full(len(rows), on_air))
        np.testing.assert_allclose(rows["latency_uplink_s"], waits + on_air, rtol=0, atol=1e-9)
    np.testing.assert_allclose(trace["energy_uplink_j"], POWER_W * on_air, rtol=1e-9)
    starts = trace["t_arrival"].to_numpy()
    assert (np.diff(starts) < on_air).mean() > 0.9  # uploads of different devices overlap
    utilisation = run.summary.cell_utilisation["c0"]
    assert utilisation <= 1.0
    assert utilisation == pytest.approx(5.0 * on_air, rel=0.05)


# ---- FIFO ----------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["constant", "exponential"])
def fifo_run(request, upload_only):
    """FIFO uplink at ρ = λ·θ/r(B) = 70 × 0.01 = 0.7; constant or exponential payloads."""
    scenario = uplink_scenario(upload_only, "fifo", 70.0, request.param, 60_000)
    return request.param, simulate(scenario, seed=SEED)


def test_fifo_uplink_is_a_lindley_queue_and_the_wait_costs_no_energy(fifo_run):
    """FIFO: each upload waits for the band exactly as Lindley's recursion says (from the trace's
    own start times and payloads, service ``θ_i / r(B)``); ``latency_uplink_s`` is wait plus
    transmission, while ``energy_uplink_j`` is ``p × θ_i / r(B)``: waiting costs no energy."""
    _, run = fifo_run
    rows = run.trace.sort_values(["t_arrival", "request_id"])
    ready = (rows["t_arrival"] + rows["latency_device_compute_s"]).to_numpy()
    service = rows["payload_bits"].to_numpy() / rate_bps(BANDWIDTH_HZ)
    waits = lindley_waits(ready, service)
    np.testing.assert_allclose(rows["latency_uplink_s"], waits + service, rtol=0, atol=1e-9)
    np.testing.assert_allclose(rows["energy_uplink_j"] / POWER_W, service, rtol=0, atol=1e-9)
    assert (waits > 0).mean() > 0.5


def test_fifo_uplink_mean_time_is_m_d_1_or_m_m_1(fifo_run):
    """Mean upload time (wait + transmission) of the FIFO uplink at ρ = 0.7, ``s = 0.01 s``:
    M/D/1 (constant payload) ``s + λs²/(2(1 − ρ))`` = 0.02167 s; M/M/1 (exponential payload)
    ``s / (1 − ρ)`` = 0.03333 s."""
    work, run = fifo_run
    lam, s = 70.0, UPLOAD_S
    rho = lam * s
    if work == "constant":
        assert_agrees("FIFO uplink M/D/1 ρ=0.7", run.trace, s + lam * s**2 / (2 * (1 - rho)))
    else:
        assert_agrees("FIFO uplink M/M/1 ρ=0.7", run.trace, s / (1 - rho))


# ---- processor sharing: exact hand-computed cases -----------------------------------------


@pytest.fixture(scope="module")
def staggered(tmp_path_factory):
    """Two blocks, split 1: the device runs 32e6 FLOPs (1 ms at 1 GHz × 32 FLOPs/cycle per unit
    of work) and uploads 1e5 bits whatever its work scale; the server's part is 1 FLOP."""
    return write_profile(
        tmp_path_factory.mktemp("profiles"),
        "staggered",
        """\
name: staggered
input_bits: 1000
blocks:
  - {name: head, params: 1000, flops: 32.0e6, activation_bits: 1.0e5}
  - {name: tail, params: 1000, flops: 1.0, activation_bits: 1000}
""",
    )


def two_devices(profile: str, works: tuple[float, float]):
    """Two devices arriving together every 10 s (no random phase), one per work scale."""
    return scenario_from_dict(
        {
            "name": "two-uploads",
            "requests": 6,
            "devices": [
                {
                    "name": f"w{i}",
                    "model": profile,
                    "arrivals": {
                        "process": "deterministic",
                        "interval_s": 10.0,
                        "random_phase": False,
                    },
                    "work": {"distribution": "constant", "value": work},
                    "scale_payload": False,
                }
                for i, work in enumerate(works)
            ],
            "cells": [{"id": "c0", "bandwidth_hz": BANDWIDTH_HZ, "sharing": "ps"}],
            "servers": [{"id": "s0"}],
            "policy": {"name": "fixed", "params": {"split": 1}},
        }
    )


def test_ps_two_uploads_starting_together_each_get_half_the_band(staggered):
    """Two equal uploads (θ = 1e5 bits) start at the same instant: each gets ``B/2`` for its whole
    life and both finish after ``θ / r(B/2)`` = 8.26 ms (one after the other on the whole band, the
    second would finish after ``2θ / r(B)`` = 10.27 ms)."""
    trace = simulate(two_devices(staggered, (1.0, 1.0)), seed=SEED).trace
    theta = 1e5
    expected = theta / rate_bps(BANDWIDTH_HZ / 2)
    assert expected == pytest.approx(8.257e-3, rel=1e-3)
    np.testing.assert_allclose(trace["latency_uplink_s"], expected, rtol=1e-12)
    np.testing.assert_allclose(trace["energy_uplink_j"], POWER_W * expected, rtol=1e-12)
    # The policy saw the band an upload would get on arrival: the whole band, nobody was active.
    assert (trace["bandwidth_hz"] == BANDWIDTH_HZ).all()


def test_ps_staggered_uploads_are_re_rated_when_the_other_starts_and_ends(staggered):
    """Device A (work 1) starts uploading θ = 1e5 bits at t_a = 1 ms, device B (work 2, same
    payload) at t_b = 2 ms. By hand, with r1 = r(B), r2 = r(B/2):

    * [t_a, t_b]: A alone at r1 sends r1·t_a bits;
    * from t_b both run at r2; A has θ − r1·t_a left and finishes at T_A = t_b + (θ − r1·t_a)/r2;
    * B has then sent θ − r1·t_a, and its last r1·t_a bits alone at r1 take t_a: T_B = T_A + t_a.

    So both uploads last ``T_A − t_a`` = t_a + (θ − r1·t_a)/r2."""
    trace = simulate(two_devices(staggered, (1.0, 2.0)), seed=SEED).trace
    theta, t_a, t_b = 1e5, 1e-3, 2e-3
    r1, r2 = rate_bps(BANDWIDTH_HZ), rate_bps(BANDWIDTH_HZ / 2)
    done_a = t_b + (theta - r1 * t_a) / r2
    done_b = done_a + t_a
    first = trace[trace["t_arrival"] == 0.0].set_index("device_id").sort_index()
    np.testing.assert_allclose(first["latency_device_compute_s"], [t_a, t_b], rtol=1e-12)
    uplink_done = first["t_arrival"] + first["latency_device_compute_s"] + first["latency_uplink_s"]
    np.testing.assert_allclose(uplink_done, [done_a, done_b], rtol=1e-12)
    # Every 10 s the same thing happens again.
    np.testing.assert_allclose(trace["latency_uplink_s"], done_a - t_a, rtol=1e-9)


# ---- processor sharing: queueing theory ---------------------------------------------------


def ps_uplink_mean_time_s(arrival_rate: float, payload_bits: float) -> float:
    """Mean upload time of the PS uplink: the symmetric queue with capacity φ(n) = n·r(B/n).

    ``π(n) ∝ Π_{k=1..n} λ·θ/φ(k)``; mean number ``L = Σ n·π(n)``; mean time ``L/λ`` (Little).
    """
    log_weights = [0.0]
    for n in range(1, 2000):
        capacity = n * rate_bps(BANDWIDTH_HZ / n)
        log_weights.append(log_weights[-1] + math.log(arrival_rate * payload_bits / capacity))
    weights = np.exp(np.array(log_weights) - max(log_weights))
    pi = weights / weights.sum()
    return float((np.arange(len(pi)) * pi).sum()) / arrival_rate


@pytest.mark.parametrize("work", ["constant", "exponential"])
def test_ps_uplink_mean_time_is_the_symmetric_queue_formula(upload_only, work):
    """PS uplink at offered load λ·θ/r(B) = 70 × 0.01 = 0.7: mean upload time from the birth–death
    chain of the module docstring, 0.01662 s, for constant and for exponential payloads
    (insensitivity). The naive constant-capacity M/G/1-PS value s/(1 − ρ) = 0.0333 s is twice as
    large: sharing the band raises the cell's total throughput."""
    theory = ps_uplink_mean_time_s(70.0, PAYLOAD_BITS)
    assert theory == pytest.approx(0.01662, rel=1e-3)
    trace = simulate(uplink_scenario(upload_only, "ps", 70.0, work, 60_000), seed=SEED).trace
    assert_agrees(f"PS uplink ({work} payload) load 0.7", trace, theory)
