"""What a run will cost is estimated from the scenario before anything is built, and a run
beyond the machine (or the event limit) is refused with the estimate."""

from __future__ import annotations

import pytest

from coinfer.emulator.api.estimate import (
    BASE_BYTES,
    BYTES_PER_DEVICE,
    EVENTS_PER_REQUEST,
    EVENTS_PER_TOKEN,
    check_run_size,
    estimate_run,
)
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import scenario_from_dict


def scenario(**changes):
    data = {
        "duration_s": 100.0,
        "devices": [
            {"name": "a", "count": 10, "arrivals": {"process": "poisson", "rate_per_s": 2.0}},
            {"name": "b", "count": 4, "arrivals": {"process": "deterministic", "interval_s": 0.5}},
        ],
    }
    data.update(changes)
    return scenario_from_dict(data)


def test_requests_follow_the_mean_arrival_rates_over_the_duration():
    estimate = estimate_run(scenario())
    assert estimate.requests == pytest.approx(10 * 2.0 * 100 + 4 * 2.0 * 100)
    assert estimate.events == pytest.approx(estimate.requests * EVENTS_PER_REQUEST)
    assert estimate.memory_bytes == BASE_BYTES + 14 * BYTES_PER_DEVICE


def test_generated_tokens_add_their_events():
    tokens = {
        "prompt": {"distribution": "constant", "value": 50},
        "output": {"distribution": "constant", "value": 100},
    }
    data = scenario().model_dump(mode="json", exclude_none=True)
    data["devices"] = [{**data["devices"][0], "model": "gpt2", "tokens": tokens}]
    estimate = estimate_run(scenario_from_dict(data))
    assert estimate.events == pytest.approx(2000 * (EVENTS_PER_REQUEST + EVENTS_PER_TOKEN * 100))


def test_a_request_count_is_taken_as_given():
    estimate = estimate_run(scenario(duration_s=None, requests=123))
    assert estimate.requests == 123


def test_a_run_above_the_event_limit_is_refused_with_its_estimate():
    with pytest.raises(InputError, match=r"about 2\.8e\+03 requests and 3\.36e\+04 engine events"):
        check_run_size(scenario(), max_events=1e4)
    assert check_run_size(scenario(), max_events=1e5).requests == pytest.approx(2800)
