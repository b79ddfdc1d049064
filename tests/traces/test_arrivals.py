"""ArrivalTrace: nondecreasing times from 0, optional token counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coinfer.emulator.errors import InputError
from coinfer.traces import ArrivalTrace


def test_from_times_shifts_to_zero_and_keeps_order_and_tokens():
    arrivals = ArrivalTrace.from_times([100.0, 100.0, 101.5, 104.0], [5, 6, 7, 8], [1, 2, 3, 4])
    assert list(arrivals.times_s) == [0.0, 0.0, 1.5, 4.0]
    assert arrivals.count == 4
    assert arrivals.duration_s == 4.0
    assert arrivals.mean_rate_per_s == 1.0
    assert list(arrivals.interarrival_s) == [0.0, 1.5, 2.5]
    assert arrivals.input_tokens.dtype == np.int64
    assert list(arrivals.output_tokens) == [1, 2, 3, 4]
    assert arrivals.has_tokens


def test_times_only_and_a_single_burst():
    arrivals = ArrivalTrace(np.zeros(3))
    assert not arrivals.has_tokens
    assert math.isinf(arrivals.mean_rate_per_s)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"times_s": []}, "no arrivals"),
        ({"times_s": [-1.0, 2.0]}, "expected a finite time >= 0"),
        ({"times_s": [0.0, 2.0, 1.0]}, "arrival 2 at 1.0 s comes before arrival 1 at 2.0 s"),
        ({"times_s": [0.0, 1.0], "input_tokens": [3]}, "1 input_tokens for 2 arrivals"),
        ({"times_s": [0.0, 1.0], "output_tokens": [3, -1]}, r"output_tokens\[1\] is -1"),
    ],
)
def test_bad_arrivals_are_refused(kwargs, message):
    with pytest.raises(InputError, match=message):
        ArrivalTrace(**kwargs)
