"""Summary statistics of a trace (JSON-ready, SI units in the key names)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from coinfer.traces.arrivals import ArrivalTrace
from coinfer.traces.capacity import LinkCapacityTrace
from coinfer.traces.piecewise import weighted_quantiles
from coinfer.traces.positions import PositionTrace
from coinfer.traces.snr import SnrTrace

QUANTILES = (0.05, 0.5, 0.95)
TOKEN_QUANTILES = (0.5, 0.99)


def summarize(
    trace: LinkCapacityTrace | SnrTrace | ArrivalTrace | PositionTrace, window_s: float = 1.0
) -> dict[str, Any]:
    """Statistics of one trace.

    Capacity: duration, mean, and the min, 5th/50th/95th percentiles and max of the capacity
    averaged over windows of ``window_s`` s (time-weighted). SNR: time-weighted mean, min,
    percentiles and max in dB (and CQI when known). Arrivals: request count, duration, mean
    rate, inter-arrival mean and coefficient of variation, and token statistics. Positions:
    waypoints, duration, path length, mean speed and extent.
    """
    if isinstance(trace, PositionTrace):
        return _positions(trace)
    if isinstance(trace, LinkCapacityTrace):
        return _capacity(trace, window_s)
    if isinstance(trace, SnrTrace):
        return _snr(trace)
    return _arrivals(trace)


def _positions(trace: PositionTrace) -> dict[str, Any]:
    length = trace.length_m()
    return {
        "kind": "positions",
        "waypoints": int(trace.times_s.size),
        "duration_s": trace.duration_s,
        "length_m": length,
        "mean_speed_m_per_s": length / trace.duration_s if trace.duration_s > 0 else 0.0,
        "extent_x_m": float(np.ptp(trace.x_m)),
        "extent_y_m": float(np.ptp(trace.y_m)),
    }


def _capacity(trace: LinkCapacityTrace, window_s: float) -> dict[str, Any]:
    rates = trace.window_rates_bps(window_s)
    count = rates.size
    widths = np.full(count, window_s)
    widths[-1] = trace.duration_s - window_s * (count - 1)
    p5, p50, p95 = weighted_quantiles(rates, widths, QUANTILES)
    zero_time = float(np.sum(trace.widths_s[trace.interval_bits == 0.0]))
    return {
        "kind": "capacity",
        "duration_s": trace.duration_s,
        "intervals": trace.num_intervals,
        "mean_bps": trace.mean_bps,
        "window_s": window_s,
        "min_bps": float(rates.min()),
        "p5_bps": float(p5),
        "p50_bps": float(p50),
        "p95_bps": float(p95),
        "max_bps": float(rates.max()),
        "zero_capacity_fraction": zero_time / trace.duration_s,
        "period_bits": trace.period_bits,
    }


def _snr(trace: SnrTrace) -> dict[str, Any]:
    widths = trace.widths_s
    p5, p50, p95 = weighted_quantiles(trace.snr_db, widths, QUANTILES)
    stats: dict[str, Any] = {
        "kind": "snr",
        "duration_s": trace.duration_s,
        "intervals": trace.num_intervals,
        "mean_db": trace.mean_db,
        "mean_linear": trace.mean_linear,
        "min_db": float(trace.snr_db.min()),
        "p5_db": float(p5),
        "p50_db": float(p50),
        "p95_db": float(p95),
        "max_db": float(trace.snr_db.max()),
    }
    if trace.cqi is not None and np.isfinite(trace.cqi).any():
        known = np.isfinite(trace.cqi)
        stats["cqi_mean"] = float(np.average(trace.cqi[known], weights=widths[known]))
        stats["cqi_min"] = float(trace.cqi[known].min())
        stats["cqi_max"] = float(trace.cqi[known].max())
    return stats


def _arrivals(trace: ArrivalTrace) -> dict[str, Any]:
    gaps = trace.interarrival_s
    mean_gap = float(gaps.mean()) if gaps.size else math.nan
    cv = float(gaps.std() / mean_gap) if gaps.size and mean_gap > 0.0 else math.nan
    stats: dict[str, Any] = {
        "kind": "arrivals",
        "requests": trace.count,
        "duration_s": trace.duration_s,
        "mean_rate_per_s": trace.mean_rate_per_s,
        "interarrival_mean_s": mean_gap,
        "interarrival_cv": cv,
        "simultaneous_arrivals": int(np.sum(gaps == 0.0)),
    }
    for name in ("input_tokens", "output_tokens"):
        tokens = getattr(trace, name)
        if tokens is None:
            continue
        p50, p99 = np.quantile(tokens, TOKEN_QUANTILES)
        stats[name] = {
            "mean": float(tokens.mean()),
            "p50": float(p50),
            "p99": float(p99),
            "max": int(tokens.max()),
            "total": int(tokens.sum()),
        }
    return stats
