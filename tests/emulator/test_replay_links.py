"""Link replays: a capacity or SNR trace integrated exactly, from a device's offset, looping.

``CapacityLink``: an upload on a share ``B_k`` of the band ``B`` gets ``C(t + o)·B_k/B``;
``SnrLink``: it gets ``B_k·log2(1 + p·g(t)/(B_k·N0))`` with ``g = SNR(t + o)·B·N0/P_ref``. The
hand-computed cases use a two-step trace: 10 Mbit/s for 1 s, then 2 Mbit/s for 1 s (period 2 s).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from coinfer.emulator.deployment.replay_links import CapacityLink, SnrLink, effective_gain
from coinfer.emulator.model.reference import shannon_rate_bps
from coinfer.traces import LinkCapacityTrace, SnrTrace

BAND_HZ = 20e6
NOISE = 2e-19
P_MAX = 0.5
TWO_STEP = LinkCapacityTrace.from_rates([0.0, 1.0], [10e6, 2e6], 2.0)


def capacity_link(offset_s: float = 0.0, trace: LinkCapacityTrace = TWO_STEP) -> CapacityLink:
    return CapacityLink(trace, offset_s, BAND_HZ, NOISE, P_MAX, csi_window_s=0.5)


def test_capacity_transfers_follow_the_trace_by_hand():
    """From 0.5 s, 7 Mbit: 5 Mbit by 1.0 s at 10 Mbit/s, then 2 Mbit at 2 Mbit/s: done at 2.0 s.
    From 1.9 s (across the seam at 2 s), 1.2 Mbit: 0.2 Mbit by 2.0 s, then 1 Mbit at 10 Mbit/s:
    2.1 s. On half the band everything takes the bits of half the rate."""
    link = capacity_link()
    assert link.transfer_end(7e6, P_MAX, 0.5, BAND_HZ, NOISE, math.inf) == pytest.approx(2.0)
    assert link.transfer_end(1.2e6, P_MAX, 1.9, BAND_HZ, NOISE, math.inf) == pytest.approx(2.1)
    assert link.bits_sent(P_MAX, 1.9, 2.1, BAND_HZ, NOISE) == pytest.approx(1.2e6)
    assert link.bits_sent(P_MAX, 1.9, 2.1, BAND_HZ / 2, NOISE) == pytest.approx(0.6e6)
    assert link.transfer_end(0.6e6, P_MAX, 1.9, BAND_HZ / 2, NOISE, math.inf) == pytest.approx(2.1)


def test_capacity_offset_shifts_the_trace():
    """A device at offset 1.5 s is at trace time t + 1.5: from 0.4 s it sees the seam at 0.5 s."""
    link = capacity_link(offset_s=1.5)
    assert link.transfer_end(1.2e6, P_MAX, 0.4, BAND_HZ, NOISE, math.inf) == pytest.approx(0.6)
    assert link.bits_sent(P_MAX, 0.0, 2.0, BAND_HZ, NOISE) == pytest.approx(12e6)  # one period


def test_capacity_is_power_independent_and_transfer_end_inverts_bits_sent():
    """Power plays no part; over many random starts and sizes, the bits sent up to the computed
    end equal the bits asked for (relative 1e-9), across many loops."""
    rng = np.random.default_rng(3)
    link = capacity_link(offset_s=0.37)
    for t0, bits in zip(rng.uniform(0, 50, 200), rng.uniform(1e3, 5e7, 200), strict=True):
        end = link.transfer_end(bits, 0.01, t0, BAND_HZ / 3, NOISE, math.inf)
        assert end == link.transfer_end(bits, P_MAX, t0, BAND_HZ / 3, NOISE, math.inf)
        assert link.bits_sent(0.2, t0, end, BAND_HZ / 3, NOISE) == pytest.approx(bits, rel=1e-9)


def test_capacity_effective_gain_gives_the_share_at_max_power():
    """The gain a policy sees makes Shannon at the maximum power on its share equal the share of
    the capacity estimate: the mean over the last window (instantaneous), or the trace mean."""
    link = capacity_link()
    for share in (BAND_HZ, BAND_HZ / 4):
        # At 1.2 s the last 0.5 s were 0.3 s at 10 and 0.2 s at 2 Mbit/s: 6.8 Mbit/s.
        gain = link.gain_seen(1.2, share, instantaneous=True)
        rate = shannon_rate_bps(P_MAX, gain, share, NOISE)
        assert rate == pytest.approx(6.8e6 * share / BAND_HZ, rel=1e-12)
        gain = link.gain_seen(1.2, share, instantaneous=False)
        rate = shannon_rate_bps(P_MAX, gain, share, NOISE)
        assert rate == pytest.approx(6e6 * share / BAND_HZ, rel=1e-12)
    assert link.mean_gain == pytest.approx(effective_gain(6e6, BAND_HZ, BAND_HZ, NOISE, P_MAX))
    assert effective_gain(0.0, BAND_HZ, BAND_HZ, NOISE, P_MAX) == 0.0


SNR = SnrTrace.from_samples([0.0, 1.0], [10.0, 0.0], 2.0)  # 10 dB then 0 dB


def snr_link(offset_s: float = 0.0, reference_w: float = P_MAX) -> SnrLink:
    return SnrLink(SNR, offset_s, BAND_HZ * NOISE / reference_w)


def test_snr_link_rate_is_shannon_at_the_traced_snr():
    """At the reference power on the whole band the rate is ``B·log2(1 + SNR)``; at another
    power or share it follows Shannon with the gain ``SNR·B·N0/P_ref``."""
    link = snr_link()
    full = BAND_HZ * math.log2(11.0)
    assert link.bits_sent(P_MAX, 0.2, 0.7, BAND_HZ, NOISE) == pytest.approx(0.5 * full)
    gain = 10.0 * BAND_HZ * NOISE / P_MAX
    assert link.gain_at(0.3) == pytest.approx(gain)
    share, p = BAND_HZ / 5, 0.1
    expected = 0.5 * shannon_rate_bps(p, gain, share, NOISE)
    assert link.bits_sent(p, 0.2, 0.7, share, NOISE) == pytest.approx(expected)


def test_snr_transfers_cross_intervals_and_the_seam():
    """A transfer from 1.5 s crossing the 0 dB stretch and the seam at 2 s: the bits up to the
    computed end equal the bits asked for, and the end is what the two rates give by hand."""
    link = snr_link()
    low, high = BAND_HZ * 1.0, BAND_HZ * math.log2(11.0)  # 0 dB: log2(2) = 1
    bits = 0.5 * low + 0.25 * high
    end = link.transfer_end(bits, P_MAX, 1.5, BAND_HZ, NOISE, math.inf)
    assert end == pytest.approx(2.25, rel=1e-12)
    assert link.bits_sent(P_MAX, 1.5, end, BAND_HZ, NOISE) == pytest.approx(bits, rel=1e-12)
    assert link.transfer_end(bits, P_MAX, 1.5, BAND_HZ, NOISE, horizon_s=1.9) == math.inf


def test_snr_link_gain_seen_and_mean():
    link = snr_link(offset_s=1.0)  # starts in the 0 dB second
    scale = BAND_HZ * NOISE / P_MAX
    assert link.gain_seen(0.5, BAND_HZ, instantaneous=True) == pytest.approx(scale)
    assert link.gain_seen(0.5, BAND_HZ, instantaneous=False) == pytest.approx(5.5 * scale)
    assert link.mean_gain == pytest.approx(5.5 * scale)
