"""SnrTrace: dB on a looping grid, the linear ratio, optional CQI."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coinfer.emulator.errors import InputError
from coinfer.traces import SnrTrace


def trace() -> SnrTrace:
    return SnrTrace.from_samples([0.0, 2.0, 3.0], [10.0, 0.0, -3.0], 4.0, cqi=[12, 7, math.nan])


def test_values_hold_until_the_next_sample_and_loop():
    snr = trace()
    assert snr.duration_s == 4.0
    assert snr.snr_db_at(0.0) == 10.0
    assert snr.snr_db_at(1.99) == 10.0
    assert snr.snr_db_at(2.5) == 0.0
    assert snr.snr_db_at(3.5) == -3.0
    assert snr.snr_db_at(4.0) == 10.0  # next period
    assert snr.snr_db_at(10.5) == 0.0  # 10.5 = 2·4 + 2.5
    assert snr.interval_end_s(10.5) == pytest.approx(11.0)


def test_linear_ratio_and_time_averages():
    snr = trace()
    assert snr.snr_linear_at(1.0) == pytest.approx(10.0)
    assert snr.snr_linear_at(2.5) == pytest.approx(1.0)
    assert snr.snr_linear_at(3.5) == pytest.approx(10 ** (-0.3))
    assert snr.mean_db == pytest.approx((2 * 10.0 + 0.0 - 3.0) / 4.0)
    assert snr.mean_linear == pytest.approx((2 * 10.0 + 1.0 + 10 ** (-0.3)) / 4.0)
    times = np.array([0.5, 2.5, 3.5, 6.1])
    assert snr.snr_linear_at_array(times) == pytest.approx([snr.snr_linear_at(t) for t in times])


def test_cqi_is_kept_per_interval_with_nan_where_unknown():
    snr = trace()
    assert snr.cqi[:2] == pytest.approx([12.0, 7.0])
    assert math.isnan(snr.cqi[2])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"snr_db": [1.0, math.inf, 0.0]}, "expected finite"),
        ({"times_s": [0.0, 3.0, 2.0]}, "strictly increasing"),
        ({"duration_s": 3.0}, "expected more than the last start time 3.0"),
        ({"cqi": [1.0]}, "1 CQI values for 3 intervals"),
    ],
)
def test_bad_input_is_refused(kwargs, message):
    args = {"times_s": [0.0, 2.0, 3.0], "snr_db": [10.0, 0.0, -3.0], "duration_s": 4.0}
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        SnrTrace.from_samples(**args)
