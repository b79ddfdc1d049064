"""Block fading, and uploads over it, against the laws and the ergodic Shannon capacity.

Each link's power gain is ``mean gain × |h|²`` with ``|h|²`` constant over a coherence block and
independent from block to block, of mean 1:

* Rayleigh: ``|h|² ~ Exp(1)``, variance 1;
* Rician with factor K: ``|h|²·2(K+1)`` is non-central χ² with 2 degrees of freedom and
  non-centrality 2K; variance ``(1 + 2K)/(1 + K)²`` (7/16 at K = 3);
* Nakagami-m: ``|h|² ~ Gamma(m, 1/m)``, variance ``1/m``.

An upload of θ bits crossing many blocks sends ``Σ r(g_j)·(time in block j)``; over many blocks
the bits per second of air time converge to the ergodic capacity ``B·E[log2(1 + SNR·|h|²)]``
(renewal–reward), below the capacity without fading (Jensen). Seeds are fixed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from coinfer.emulator.api.run import simulate
from coinfer.emulator.engine.fading import BlockFading, ergodic_capacity_bps, fading_law
from coinfer.emulator.model.reference import log_distance_gain, shannon_rate_bps, uplink_rate_bps
from coinfer.emulator.randomness import seed_sequence
from coinfer.emulator.scenario.schema import Fading, scenario_from_dict

BANDWIDTH_HZ = 5e6
NOISE_W_PER_HZ = 2e-19
POWER_W = 0.5
GAIN = float(log_distance_gain(500.0))
MEAN_SNR = POWER_W * GAIN / (BANDWIDTH_HZ * NOISE_W_PER_HZ)  # 13.85 (11.4 dB)

#: (law, its parameters, variance of |h|², the law of |h|² as a scipy distribution)
LAWS = [
    ("rayleigh", {}, 1.0, stats.expon()),
    ("rician", {"k_factor": 3.0}, 7.0 / 16.0, stats.ncx2(df=2, nc=6.0, scale=1.0 / 8.0)),
    ("nakagami", {"m": 2.0}, 0.5, stats.gamma(a=2.0, scale=0.5)),
]
LAW_IDS = [law for law, *_ in LAWS]


def block_fading(law: str, params: dict, coherence_s: float, seed) -> BlockFading:
    """One link's block fading under ``law`` (a registered name) with ``params``."""
    return BlockFading(fading_law(Fading(law=law, **params)), coherence_s, seed)


def fading(law: str, params: dict, coherence_s: float = 1e-3, index: int = 0) -> BlockFading:
    return block_fading(law, params, coherence_s, seed_sequence(11, "fading", index))


# ---- the block-fading process --------------------------------------------------------------


@pytest.mark.parametrize(("law", "params", "variance", "law_of_h2"), LAWS, ids=LAW_IDS)
def test_block_factors_follow_their_law(law, params, variance, law_of_h2):
    """Over 200,000 blocks: mean 1 and the law's variance, each within 3.3 standard errors
    (99.9 %), and the whole distribution passes a Kolmogorov–Smirnov test against the law."""
    n = 200_000
    values = fading(law, params).gains(1, n)
    assert abs(values.mean() - 1.0) < 3.3 * math.sqrt(variance / n)
    deviations = (values - values.mean()) ** 2
    assert abs(deviations.mean() - variance) < 3.3 * deviations.std() / math.sqrt(n)
    assert stats.kstest(values, law_of_h2.cdf).pvalue > 0.001
    # Successive blocks are independent: no lag-1 correlation.
    assert abs(np.corrcoef(values[:-1], values[1:])[0, 1]) < 3.3 / math.sqrt(n)


@pytest.mark.parametrize(("law", "params"), [(law, params) for law, params, *_ in LAWS])
def test_a_blocks_factor_does_not_depend_on_the_query_order(law, params):
    """A block's factor is a pure function of the link's seed and the block index: asking for
    blocks in a shuffled order, one at a time, gives the same values as asking in order, and the
    vectorised ``gains`` agrees with the scalar ``gain``; another link has other values."""
    blocks = np.arange(2000)
    in_order = fading(law, params)
    expected = [in_order.gain(int(b)) for b in blocks]
    shuffled = fading(law, params)
    order = np.random.default_rng(0).permutation(blocks)
    got = dict(zip(order.tolist(), (shuffled.gain(int(b)) for b in order), strict=True))
    assert [got[int(b)] for b in blocks] == expected
    np.testing.assert_allclose(fading(law, params).gains(0, 2000), expected, rtol=1e-12)
    np.testing.assert_allclose(fading(law, params).gains(1500, 500), expected[1500:], rtol=1e-12)
    other = fading(law, params, index=1).gains(0, 2000)
    assert abs(np.corrcoef(other, expected)[0, 1]) < 0.1


def test_blocks_tile_time_from_a_random_offset():
    """Block 0 covers [0, offset), block j ≥ 1 covers [offset + (j−1)·Tc, offset + j·Tc)."""
    link = fading("rayleigh", {}, coherence_s=0.01)
    assert 0.0 <= link.offset_s < 0.01
    assert link.block_at(0.0) == 0 and link.block_end_s(0) == link.offset_s
    for block in (1, 2, 17, 12345):
        start, end = link.block_end_s(block - 1), link.block_end_s(block)
        assert end - start == pytest.approx(0.01)
        assert link.block_at(start + 1e-9) == block
        assert link.block_at(end - 1e-9) == block


@pytest.mark.parametrize(("law", "params", "variance", "law_of_h2"), LAWS, ids=LAW_IDS)
def test_ergodic_capacity_is_the_mean_shannon_rate_over_the_law(law, params, variance, law_of_h2):
    """``ergodic_capacity_bps`` is ``E[r(SNR·|h|²)]``: it matches the mean rate of 200,000
    independent block factors (3.3 standard errors), and is below the no-fading rate."""
    rates = BANDWIDTH_HZ * np.log2(1.0 + MEAN_SNR * fading(law, params).gains(1, 200_000))
    capacity = ergodic_capacity_bps(law, MEAN_SNR, BANDWIDTH_HZ, **params)
    assert abs(rates.mean() - capacity) < 3.3 * rates.std() / math.sqrt(len(rates))
    assert capacity < BANDWIDTH_HZ * math.log2(1.0 + MEAN_SNR)


def test_ergodic_capacity_special_cases_are_rayleigh():
    """Rician with K = 0 and Nakagami with m = 1 are Rayleigh: the numerical integrals agree with
    Rayleigh's closed form ``B·e^(1/γ)·E1(1/γ)/ln 2``."""
    rayleigh = ergodic_capacity_bps("rayleigh", MEAN_SNR, BANDWIDTH_HZ)
    assert ergodic_capacity_bps("nakagami", MEAN_SNR, BANDWIDTH_HZ, m=1.0) == pytest.approx(
        rayleigh, rel=1e-7
    )
    # Rician K → 0 through the non-central χ² integral (K = 0 itself takes the closed form).
    assert ergodic_capacity_bps("rician", MEAN_SNR, BANDWIDTH_HZ, k_factor=1e-9) == pytest.approx(
        rayleigh, rel=1e-6
    )


# ---- uploads through the engine ------------------------------------------------------------


def one_device(profile: str, law: str, params: dict, coherence_s: float, interval_s: float, n):
    """One device at 500 m alone in its cell, a request every ``interval_s``, split 0."""
    return scenario_from_dict(
        {
            "name": f"fading-{law}",
            "requests": n,
            "devices": [
                {
                    "name": "d",
                    "model": profile,
                    "arrivals": {"process": "deterministic", "interval_s": interval_s},
                }
            ],
            "cells": [{"id": "c0", "bandwidth_hz": BANDWIDTH_HZ, "sharing": "fdma"}],
            "servers": [{"id": "s0"}],
            "channel": {"fading": {"law": law, "coherence_time_s": coherence_s, **params}},
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )


def profile_file(directory, payload_bits: float) -> str:
    """One block cut at split 0: the device uploads ``payload_bits``; 1 FLOP on the server."""
    path = directory / f"upload-{payload_bits:g}.yaml"
    path.write_text(
        f"""\
name: upload-{payload_bits:g}
input_bits: {payload_bits!r}
blocks:
  - {{name: all, params: 1000, flops: 1.0, activation_bits: 1.0}}
""",
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture(scope="module")
def long_upload(tmp_path_factory):
    """8 Mbit: about 0.5 s on air, i.e. about 500 coherence blocks of 1 ms."""
    return profile_file(tmp_path_factory.mktemp("profiles"), 8e6)


@pytest.fixture(scope="module")
def short_upload(tmp_path_factory):
    """The paper's 24,576 bits: about 1.5 ms on air, inside one 100 ms coherence block."""
    return profile_file(tmp_path_factory.mktemp("profiles"), 24_576.0)


@pytest.mark.parametrize(("law", "params", "variance", "law_of_h2"), LAWS, ids=LAW_IDS)
def test_long_uploads_run_at_the_ergodic_capacity(long_upload, law, params, variance, law_of_h2):
    """1,000 uploads of 8 Mbit, each spanning ~500 blocks of 1 ms: the bits sent per second on
    air (Σ θ / Σ upload time, a ratio estimator with a delta-method 99 % CI) equal the ergodic
    capacity of the law (16.46 Mbit/s Rayleigh, 17.94 Rician K=3, 17.90 Nakagami m=2), not the
    19.47 Mbit/s of the unfaded channel."""
    trace = simulate(one_device(long_upload, law, params, 1e-3, 2.0, 1000), seed=5).trace
    bits = trace["payload_bits"].to_numpy()
    seconds = trace["latency_uplink_s"].to_numpy()
    rate = bits.sum() / seconds.sum()
    n = len(bits)
    half = 2.576 * math.sqrt(((bits - rate * seconds) ** 2).sum() / (n - 1) / n) / seconds.mean()
    capacity = ergodic_capacity_bps(law, MEAN_SNR, BANDWIDTH_HZ, **params)
    print(f"{law}: {rate / 1e6:.4f} ± {half / 1e6:.4f} Mbit/s, ergodic {capacity / 1e6:.4f}")
    assert abs(rate - capacity) <= half
    assert half < 0.005 * capacity
    assert seconds.max() < 2.0  # no upload ever waited for the previous one


@pytest.mark.parametrize(("law", "params", "variance", "law_of_h2"), LAWS, ids=LAW_IDS)
def test_short_uploads_see_one_block_and_average_to_the_ergodic_capacity(
    short_upload, law, params, variance, law_of_h2
):
    """4,000 uploads of 24,576 bits (~1.5 ms) with 100 ms coherence: almost every upload sits in
    one block and runs at exactly ``r(p, g·|h|²)`` for the gain the policy saw on arrival
    (instantaneous CSI); the mean of these per-upload rates is ``E[r]``, the ergodic capacity
    (99.9 % CI). Uploads 0.3537 s apart fall in independent blocks, at phases spread over the
    block."""
    trace = simulate(one_device(short_upload, law, params, 0.1, 0.3537, 4000), seed=6).trace
    rates = (trace["payload_bits"] / trace["latency_uplink_s"]).to_numpy()
    at_seen_gain = np.array(
        [shannon_rate_bps(POWER_W, g, BANDWIDTH_HZ, NOISE_W_PER_HZ) for g in trace["gain"]]
    )
    inside_one_block = np.isclose(rates, at_seen_gain, rtol=1e-9)
    # An upload starting in the last ~1.3 ms of a 100 ms block crosses into the next one.
    assert 0.97 < inside_one_block.mean() < 1.0
    capacity = ergodic_capacity_bps(law, MEAN_SNR, BANDWIDTH_HZ, **params)
    assert abs(rates.mean() - capacity) < 3.3 * rates.std() / math.sqrt(len(rates))
    # The gain the policy saw is the mean gain times a unit-mean factor of the law.
    factors = trace["gain"].to_numpy() / GAIN
    assert abs(factors.mean() - 1.0) < 3.3 * math.sqrt(variance / len(factors))


def test_an_upload_across_blocks_integrates_the_rate_block_by_block(long_upload, short_upload):
    """Every upload ends exactly when a straightforward block-by-block integration of the
    Shannon rate over the device's own fading blocks says (the device's fading stream is the
    ``fading`` child of the root seed for device 0): long uploads crossing ~500 blocks, and
    short ones (~1.5 ms) in 5 ms blocks, of which about a third cross one boundary."""
    law, params = "rician", {"k_factor": 3.0}
    crossed = []
    for profile, coherence_s, interval_s, n in (
        (long_upload, 1e-3, 2.0, 20),
        (short_upload, 5e-3, 0.3537, 300),
    ):
        scenario = one_device(profile, law, params, coherence_s, interval_s, n)
        trace = simulate(scenario, seed=9).trace
        link = block_fading(law, params, coherence_s, seed_sequence(9, "fading", 0))
        rows = trace[["t_arrival", "payload_bits", "latency_uplink_s"]].itertuples(index=False)
        for t0, bits, took in rows:
            t, block, left = t0, link.block_at(t0), bits
            while True:
                g = GAIN * link.gain(block)
                rate = float(uplink_rate_bps(POWER_W, g, BANDWIDTH_HZ, NOISE_W_PER_HZ))
                end = link.block_end_s(block)
                if rate * (end - t) >= left:
                    finish = t + left / rate
                    break
                left -= rate * (end - t)
                t, block = end, block + 1
            assert t0 + took == pytest.approx(finish, rel=0, abs=1e-12)
            crossed.append(block - link.block_at(t0))
    crossed = np.array(crossed)
    assert (crossed[:20] > 400).all()  # the long uploads
    assert 0.1 < (crossed[20:] > 0).mean() < 0.6  # the short ones: some cross, most do not


def test_ps_uploads_over_fading_are_re_rated_block_by_block(long_upload):
    """Two devices (300 m and 500 m, Rayleigh, 1 ms blocks, each on its own fading stream) start
    8 Mbit uploads at the same instant on a PS cell. By hand: both send at the rate of ``B/2``
    under their own fading until the first one is done (the near device, after ~hundreds of
    blocks), then the far one finishes its remaining bits alone on ``B``. Both finish times
    agree with this block-by-block integration to 1e-12 s."""
    law, coherence_s = "rayleigh", 1e-3
    scenario = scenario_from_dict(
        {
            "name": "ps-fading",
            "requests": 8,
            "devices": [
                {
                    "name": name,
                    "model": long_upload,
                    "distance_m": distance,
                    "arrivals": {
                        "process": "deterministic",
                        "interval_s": 5.0,
                        "random_phase": False,
                    },
                }
                for name, distance in (("near", 300.0), ("far", 500.0))
            ],
            "cells": [{"id": "c0", "bandwidth_hz": BANDWIDTH_HZ, "sharing": "ps"}],
            "servers": [{"id": "s0"}],
            "channel": {"fading": {"law": law, "coherence_time_s": coherence_s}},
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )
    trace = simulate(scenario, seed=13).trace
    links = [block_fading(law, {}, coherence_s, seed_sequence(13, "fading", i)) for i in (0, 1)]
    gains = [float(log_distance_gain(300.0)), GAIN]

    def rate(i: int, block: int, band_hz: float) -> float:
        return shannon_rate_bps(POWER_W, gains[i] * links[i].gain(block), band_hz, NOISE_W_PER_HZ)

    def sent(i: int, t0: float, t1: float, band_hz: float) -> float:
        """Bits device ``i`` sends in [t0, t1] on ``band_hz``."""
        bits, t, block = 0.0, t0, links[i].block_at(t0)
        while t < t1:
            end = min(links[i].block_end_s(block), t1)
            bits += rate(i, block, band_hz) * (end - t)
            t, block = end, block + 1
        return bits

    def finish(i: int, t0: float, bits: float, band_hz: float) -> float:
        """When device ``i`` has sent ``bits`` from ``t0`` on ``band_hz``."""
        t, block = t0, links[i].block_at(t0)
        while True:
            end = links[i].block_end_s(block)
            r = rate(i, block, band_hz)
            if r * (end - t) >= bits:
                return t + bits / r
            bits -= r * (end - t)
            t, block = end, block + 1

    theta = 8e6
    for t0 in 5.0 * np.arange(4):
        both = [finish(i, t0, theta, BANDWIDTH_HZ / 2) for i in (0, 1)]
        first = int(np.argmin(both))
        other = 1 - first
        left = theta - sent(other, t0, both[first], BANDWIDTH_HZ / 2)
        expected = {first: both[first], other: finish(other, both[first], left, BANDWIDTH_HZ)}
        rows = trace[trace["t_arrival"] == t0].set_index("device_id")
        for i, name in enumerate(("near-0", "far-0")):
            done = t0 + rows.loc[name, "latency_uplink_s"]
            assert done == pytest.approx(expected[i], rel=0, abs=1e-12)
        assert expected[other] - both[first] > 0.05  # the survivor ran alone for a while
