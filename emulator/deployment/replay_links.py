"""A device's uplink replaying a capacity or SNR trace instead of the channel model.

Each device replays the trace from its own offset ``o`` (s): at emulation time ``t`` it is at
trace time ``t + o`` (the trace loops). ``B`` is the cell's whole band, ``B_k`` the share an
upload gets (:mod:`emulator.uplink`), ``N0`` the noise PSD, ``p`` the upload's transmit power.

* :class:`CapacityLink`: the trace is the capacity ``C(t)`` the device would get alone on the
  whole band; an upload on a share gets ``C(t + o)·B_k/B`` whatever its power (power sets only
  the energy). Integration is exact and costs one lookup whatever the number of trace steps
  crossed (:meth:`~coinfer.traces.LinkCapacityTrace.bits_between`, ``time_to_send``).
* :class:`SnrLink`: the trace is the SNR measured at a reference power ``P_ref`` over the whole
  band, so the gain is ``g(t) = SNR(t + o)·B·N0/P_ref`` and an upload gets
  ``B_k·log2(1 + p·g(t)/(B_k·N0))``, integrated interval by interval without events.

Both give policies a gain to put in their context: the SNR link its gain; the capacity link an
effective gain such that Shannon's formula at the device's maximum power on the upload's share
equals the capacity that share would get, ``g = (2^(C/B) − 1)·B_k·N0/P_max``, with ``C`` the
mean capacity over the last ``csi_window_s`` (instantaneous CSI) or over the whole trace (mean).
"""

from __future__ import annotations

import math

from coinfer.emulator.model.reference import shannon_rate_bps
from coinfer.traces.capacity import LinkCapacityTrace
from coinfer.traces.snr import SnrTrace

_MAX_BITS_PER_HZ = 1000.0  # 2**1000 is still a float: clamp the effective gain's exponent


def effective_gain(
    capacity_bps: float, band_hz: float, share_hz: float, noise: float, p: float
) -> float:
    """Gain ``g`` with ``share·log2(1 + p·g/(share·N0)) = capacity·share/band`` (linear)."""
    spectral = min(capacity_bps / band_hz, _MAX_BITS_PER_HZ)
    return math.expm1(spectral * math.log(2.0)) * share_hz * noise / p


class CapacityLink:
    """Replay of a :class:`~coinfer.traces.LinkCapacityTrace` on one device's uplink (see the
    module).

    ``trace``: already time- and rate-scaled; ``offset_s``: where the device starts in it, s;
    ``band_hz``: the cell's whole band B, Hz; ``noise_psd_w_per_hz``: N0; ``max_power_w``: the
    device's maximum transmit power (for the effective gain), W; ``csi_window_s``: the window of
    the capacity estimate policies see, s.
    """

    __slots__ = ("band_hz", "csi_window_s", "max_power_w", "noise", "offset_s", "trace")

    def __init__(
        self,
        trace: LinkCapacityTrace,
        offset_s: float,
        band_hz: float,
        noise_psd_w_per_hz: float,
        max_power_w: float,
        csi_window_s: float,
    ) -> None:
        self.trace = trace
        self.offset_s = offset_s
        self.band_hz = band_hz
        self.noise = noise_psd_w_per_hz
        self.max_power_w = max_power_w
        self.csi_window_s = csi_window_s

    @property
    def mean_gain(self) -> float:
        """Effective gain of the trace's mean capacity, alone on the whole band (linear)."""
        return effective_gain(
            self.trace.mean_bps, self.band_hz, self.band_hz, self.noise, self.max_power_w
        )

    def bits_sent(self, p: float, t0: float, t1: float, share_hz: float, noise: float) -> float:
        """Bits an upload on ``share_hz`` sends in ``[t0, t1]`` (s); ``p`` plays no part."""
        o = self.offset_s
        return self.trace.bits_between(t0 + o, t1 + o) * (share_hz / self.band_hz)

    def transfer_end(
        self, left: float, p: float, t0: float, share_hz: float, noise: float, horizon_s: float
    ) -> float:
        """When ``left`` bits sent from ``t0`` on ``share_hz`` are through, s (exact)."""
        o = self.offset_s
        end = self.trace.time_to_send(t0 + o, left * (self.band_hz / share_hz)) - o
        return end if end > t0 else t0

    def capacity_seen_bps(self, t: float, instantaneous: bool) -> float:
        """The capacity estimate at ``t``: the mean over the last window, or the trace's mean."""
        if not instantaneous:
            return self.trace.mean_bps
        o, window = self.offset_s, self.csi_window_s
        return self.trace.bits_between(t + o - window, t + o) / window

    def gain_seen(self, t: float, share_hz: float, instantaneous: bool) -> float:
        """Effective gain a policy sees at ``t`` for an upload on ``share_hz`` (linear)."""
        capacity = self.capacity_seen_bps(t, instantaneous)
        return effective_gain(capacity, self.band_hz, share_hz, self.noise, self.max_power_w)


class SnrLink:
    """Replay of an :class:`~coinfer.traces.SnrTrace` as one device's uplink gain (see the module).

    ``trace``: already time-scaled and shifted in dB; ``offset_s``: where the device starts in
    it, s; ``gain_per_snr``: ``B·N0/P_ref``, the gain of a linear SNR of 1.
    """

    __slots__ = ("gain_per_snr", "offset_s", "trace")

    def __init__(self, trace: SnrTrace, offset_s: float, gain_per_snr: float) -> None:
        self.trace = trace
        self.offset_s = offset_s
        self.gain_per_snr = gain_per_snr

    @property
    def mean_gain(self) -> float:
        """Time-average gain over the trace (linear)."""
        return self.trace.mean_linear * self.gain_per_snr

    def gain_at(self, t: float) -> float:
        """Gain at emulation time ``t`` (linear)."""
        return self.trace.snr_linear_at(t + self.offset_s) * self.gain_per_snr

    def _interval_end(self, u: float) -> float:
        """End of the trace interval holding trace time ``u``, strictly after ``u``."""
        end = self.trace.interval_end_s(u)
        while end <= u:  # ``u`` sat on an edge up to rounding: take the next interval
            u = math.nextafter(u, math.inf)
            end = self.trace.interval_end_s(u)
        return end

    def bits_sent(self, p: float, t0: float, t1: float, share_hz: float, noise: float) -> float:
        """Bits an upload at power ``p`` on ``share_hz`` sends in ``[t0, t1]`` (s)."""
        o = self.offset_s
        u, u1 = t0 + o, t1 + o
        trace, scale = self.trace, self.gain_per_snr
        sent = 0.0
        while u < u1:
            end = self._interval_end(u)
            rate = shannon_rate_bps(p, trace.snr_linear_at(u) * scale, share_hz, noise)
            if end >= u1:
                return sent + rate * (u1 - u)
            sent += rate * (end - u)
            u = end
        return sent

    def transfer_end(
        self, left: float, p: float, t0: float, share_hz: float, noise: float, horizon_s: float
    ) -> float:
        """When ``left`` bits sent from ``t0`` are through, s; ``inf`` once past ``horizon_s``."""
        o = self.offset_s
        u = t0 + o
        trace, scale = self.trace, self.gain_per_snr
        while True:
            end = self._interval_end(u)
            rate = shannon_rate_bps(p, trace.snr_linear_at(u) * scale, share_hz, noise)
            capacity = rate * (end - u)
            if capacity >= left and rate > 0.0:
                done = u + left / rate - o
                return done if done > t0 else t0
            left -= capacity
            u = end
            if u - o > horizon_s:
                return math.inf

    def gain_seen(self, t: float, share_hz: float, instantaneous: bool) -> float:
        """Gain a policy sees at ``t``: the trace's now, or its time average (linear)."""
        return self.gain_at(t) if instantaneous else self.mean_gain
