"""LinkCapacityTrace: exact integration, a continuous loop, and its inverse."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coinfer.emulator.errors import InputError
from coinfer.traces import LinkCapacityTrace, Provenance


def steps() -> LinkCapacityTrace:
    """1 Mbit/s for 1 s, 0 for 0.5 s, 3 Mbit/s for 1.5 s: 5.5 Mbit in a 3 s period."""
    return LinkCapacityTrace.from_rates([0.0, 1.0, 1.5], [1e6, 0.0, 3e6], 3.0)


def test_shape_and_mean():
    trace = steps()
    assert trace.duration_s == 3.0
    assert trace.num_intervals == 3
    assert trace.period_bits == pytest.approx(5.5e6)
    assert trace.mean_bps == pytest.approx(5.5e6 / 3.0)
    assert list(trace.rates_bps) == pytest.approx([1e6, 0.0, 3e6])
    assert list(trace.times_s) == [0.0, 1.0, 1.5]


def test_capacity_at_loops_and_holds_each_value_on_its_interval():
    trace = steps()
    assert trace.capacity_at(0.0) == 1e6
    assert trace.capacity_at(0.999) == 1e6
    assert trace.capacity_at(1.0) == 0.0
    assert trace.capacity_at(2.9) == pytest.approx(3e6)
    assert trace.capacity_at(3.0) == 1e6  # the seam: the next period starts
    assert trace.capacity_at(7.2) == 0.0  # 7.2 = 2·3 + 1.2
    assert trace.capacity_at(-0.5) == pytest.approx(3e6)  # the loop extends backwards
    assert trace.interval_end_s(7.2) == pytest.approx(7.5)
    times = np.array([0.0, 1.2, 2.9, 3.0, 7.2, -0.5])
    assert trace.capacity_at_array(times) == pytest.approx([trace.capacity_at(t) for t in times])


def test_bits_between_integrates_exactly():
    trace = steps()
    assert trace.bits_between(0.0, 1.0) == pytest.approx(1e6)
    assert trace.bits_between(0.5, 2.0) == pytest.approx(0.5e6 + 0.5 * 3e6)
    assert trace.bits_between(0.0, 3.0) == pytest.approx(5.5e6)
    assert trace.bits_between(2.0, 4.0) == pytest.approx(3e6 + 1e6)  # across the seam
    assert trace.bits_between(0.0, 30.0) == pytest.approx(55e6)  # ten loops
    assert trace.bits_between(1.1, 1.4) == 0.0
    with pytest.raises(ValueError, match="t1"):
        trace.bits_between(2.0, 1.0)


def test_the_seam_is_continuous():
    trace = steps()
    for k in range(1, 5):
        seam = 3.0 * k
        left = trace.cumulative_bits(seam - 1e-9)
        right = trace.cumulative_bits(seam + 1e-9)
        assert trace.cumulative_bits(seam) == pytest.approx(k * 5.5e6)
        assert right - left == pytest.approx(0.0, abs=1e-2)


def test_time_to_send_inverts_bits_between():
    trace = steps()
    assert trace.time_to_send(0.0, 1e6) == pytest.approx(1.0)
    # From 0.5: 0.5 Mbit by 1.0, nothing until 1.5, then 3 Mbit/s.
    assert trace.time_to_send(0.5, 2e6) == pytest.approx(1.5 + 1.5e6 / 3e6)
    # Starting inside the zero-capacity stretch waits for it to end.
    assert trace.time_to_send(1.2, 3e6) == pytest.approx(2.5)
    # Many loops: 11 Mbit is exactly two periods.
    assert trace.time_to_send(0.0, 11e6) == pytest.approx(6.0)
    assert trace.time_to_send(4.0, 0.0) == 4.0
    with pytest.raises(ValueError):
        trace.time_to_send(0.0, -1.0)


def test_time_to_send_on_a_link_that_never_carries_anything_is_infinite():
    dead = LinkCapacityTrace.from_rates([0.0], [0.0], 2.0)
    assert dead.mean_bps == 0.0
    assert dead.time_to_send(1.0, 1.0) == math.inf
    assert dead.bits_between(0.0, 100.0) == 0.0


def test_constant_trace_is_a_fixed_rate_link():
    link = LinkCapacityTrace.constant(20e6)
    for t0, bits in [(0.0, 1e6), (0.3, 7.5e6), (12.7, 123.0), (1e4, 5e8)]:
        assert link.time_to_send(t0, bits) == pytest.approx(t0 + bits / 20e6, rel=1e-12)
        assert link.bits_between(t0, t0 + 1.5) == pytest.approx(30e6)


def test_vectorised_cumulative_matches_scalar():
    trace = steps()
    times = np.linspace(-4.0, 17.0, 211)
    expected = [trace.cumulative_bits(t) for t in times]
    assert trace.cumulative_bits_array(times) == pytest.approx(expected)


def test_window_rates_average_exactly_and_cut_the_last_window():
    trace = steps()
    assert trace.window_rates_bps(1.0) == pytest.approx([1e6, 1.5e6, 3e6])
    assert trace.window_rates_bps(2.0) == pytest.approx([(1e6 + 0.5 * 3e6) / 2.0, 3e6])
    assert trace.window_rates_bps(10.0) == pytest.approx([trace.mean_bps])
    with pytest.raises(InputError, match="window"):
        trace.window_rates_bps(0.0)


def test_scaled_multiplies_rates_and_stretches_time():
    trace = steps().scaled(rate=2.0, time=10.0)
    assert trace.duration_s == pytest.approx(30.0)
    assert trace.capacity_at(25.0) == pytest.approx(6e6)
    assert trace.mean_bps == pytest.approx(2 * 5.5e6 / 3.0)
    assert "rate x2" in trace.provenance.notes
    with pytest.raises(InputError, match="time scale"):
        steps().scaled(time=0.0)


def test_exact_bits_per_interval_are_kept():
    packets = np.array([3, 0, 1, 7], dtype=float) * 12_000
    edges = np.arange(5) / 1000.0
    trace = LinkCapacityTrace(edges, packets)
    assert trace.period_bits == 11 * 12_000
    assert trace.bits_between(0.0, 0.004) == 11 * 12_000
    assert trace.cumulative_bits(0.002) == 3 * 12_000


def test_the_trace_is_immutable_and_keeps_its_provenance():
    source = Provenance(source="synthetic", license="CC0-1.0")
    trace = LinkCapacityTrace.from_rates([0.0], [1.0], 1.0, source)
    assert trace.provenance.license == "CC0-1.0"
    with pytest.raises(ValueError):
        trace.interval_bits[0] = 5.0
    with pytest.raises(AttributeError):
        trace.edges_s = np.array([0.0, 2.0])


@pytest.mark.parametrize(
    ("times", "rates", "duration", "message"),
    [
        ([0.5], [1.0], 2.0, "first grid edge 0.5"),
        ([0.0, 1.0, 1.0], [1.0, 2.0, 3.0], 2.0, "strictly increasing"),
        ([0.0, 1.0], [1.0, -2.0], 2.0, "expected a finite number >= 0"),
        ([0.0, 1.0], [1.0, math.nan], 2.0, "expected a finite number >= 0"),
        ([0.0, 1.0], [1.0, 2.0], 1.0, "expected more than the last start time"),
        ([0.0, 1.0], [1.0], 2.0, "1 rates for 2 intervals"),
    ],
)
def test_bad_grids_are_refused(times, rates, duration, message):
    with pytest.raises(InputError, match=message):
        LinkCapacityTrace.from_rates(times, rates, duration)


@st.composite
def traces_and_times(draw):
    count = draw(st.integers(1, 6))
    widths = draw(st.lists(st.floats(0.01, 5.0), min_size=count, max_size=count))
    rates = draw(st.lists(st.sampled_from([0.0, 1e3, 2.5e6, 1e7]), min_size=count, max_size=count))
    if not any(rates):
        rates[0] = 1e6
    edges = np.concatenate(([0.0], np.cumsum(widths)))
    trace = LinkCapacityTrace(edges, np.array(rates) * np.array(widths))
    t0 = draw(st.floats(-20.0, 50.0))
    t1 = t0 + draw(st.floats(0.0, 60.0))
    middle = draw(st.floats(0.0, 1.0))
    return trace, t0, t1, t0 + middle * (t1 - t0)


@settings(max_examples=200, deadline=None)
@given(traces_and_times())
def test_integration_is_additive_and_inverted_by_time_to_send(case):
    trace, t0, t1, tm = case
    total = trace.bits_between(t0, t1)
    scale = max(trace.period_bits, 1.0) * (1.0 + abs(t0) + abs(t1))
    # Additive across any split point, including the loop seams.
    assert total == pytest.approx(
        trace.bits_between(t0, tm) + trace.bits_between(tm, t1), abs=1e-9 * scale
    )
    assert total == pytest.approx(
        (t1 // trace.duration_s - t0 // trace.duration_s) * trace.period_bits
        + trace.cumulative_bits(t1 % trace.duration_s)
        - trace.cumulative_bits(t0 % trace.duration_s),
        abs=1e-9 * scale,
    )
    if total > 1e-6 * scale:
        end = trace.time_to_send(t0, total)
        assert t0 <= end <= t1 + 1e-9 * (1.0 + abs(t1))
        # The earliest time by which `total` bits are through: all of them, not a bit less.
        assert trace.bits_between(t0, end) == pytest.approx(total, abs=1e-9 * scale)
        if trace.capacity_at(t1 - 1e-9) > 0.0 and t1 - t0 > 1e-6:
            assert end == pytest.approx(t1, abs=1e-6)
