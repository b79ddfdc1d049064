"""Tables on the command line: each unit named once, no float noise shown as an interval."""

import pytest

from coinfer.emulator.cli.sweep import metric_header
from coinfer.emulator.tables import half_width_text


@pytest.mark.parametrize(
    ("mean", "half", "shown"),
    [
        (62.5, 8.8e-15, "0"),  # float noise of identical seeds
        (62.5, 0.0, "0"),
        (62.5, 0.004, "0"),  # below half the last digit shown (62.50)
        (62.5, 0.006, "0.006"),
        (258.2, 0.94, "0.94"),
        (1.496e-7, 2.2e-9, "2.2e-09"),
        (0.0, 0.3, "0.3"),  # a mean of 0 has no last digit: the half-width as it is
    ],
)
def test_a_half_width_below_the_means_last_digit_is_zero(mean, half, shown):
    assert half_width_text(mean, half) == shown


@pytest.mark.parametrize(
    ("metric", "unit", "header"),
    [
        ("latency_p50_s", "ms", "latency_p50 (ms)"),
        ("deadline_met_ratio", "%", "deadline_met (%)"),
        ("energy_per_request_j", "mJ", "energy_per_request (mJ)"),
        ("generative.tokens_per_s", "tok/s", "generative.tokens (tok/s)"),
        ("distortion_mean", "", "distortion_mean"),
    ],
)
def test_a_metric_header_names_its_unit_once(metric, unit, header):
    assert metric_header(metric, unit) == header
