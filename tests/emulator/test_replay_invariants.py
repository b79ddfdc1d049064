"""The engine's invariants (conservation, causality, decomposition, FCFS devices, utilisations)
hold with replayed traces: the checks of ``test_engine_invariants`` run on scenarios whose
devices replay synthetic arrival, capacity and SNR traces under each uplink discipline, with
server drops and a capacity trace with outages (stretches of zero capacity).
"""

from __future__ import annotations

import numpy as np
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.scenario.schema import scenario_from_dict
from tests.emulator.replay_fixtures import write_arrivals, write_capacity, write_snr
from tests.emulator.test_engine_invariants import (  # noqa: F401 (collected here on `run`)
    test_causality_nothing_ends_before_it_starts,
    test_conservation_every_arrival_has_exactly_one_row,
    test_decomposition_latency_and_energy_add_up,
    test_device_compute_is_first_come_first_served_per_device,
    test_request_ids_follow_arrival_order,
    test_the_trace_has_every_column,
    test_utilisations_are_fractions,
)

ARRIVAL_TIMES = [0.0, 0.1, 0.15, 0.9, 1.0, 1.02, 1.8, 2.5, 2.51, 2.52]
INPUT_TOKENS = [120, 64, 300, 1, 0, 128, 90, 200, 40, 77]
OUTPUT_TOKENS = [5, 9, 30, 1, 2, 100, 0, 12, 4, 8]


def scenarios(directory) -> dict[str, dict]:
    """Replay scenarios named so that the shared checks know what to expect (``drops``)."""
    arrivals = write_arrivals(directory / "a.csv", ARRIVAL_TIMES, INPUT_TOKENS, OUTPUT_TOKENS)
    outages = write_capacity(
        directory / "outages.csv", [0.0, 0.2, 0.25, 0.6, 0.61], [6e6, 0.0, 15e6, 0.0, 3e6]
    )
    snr = write_snr(directory / "snr.csv", [0.0, 0.5, 1.5], [15.0, 2.0, 8.0])
    replayed = {"process": "trace", "file": arrivals, "rate_scale": 0.2}
    group = {"name": "d", "count": 12, "arrivals": replayed, "deadline_s": 0.3}
    return {
        "ps-capacity-outages": {
            "duration_s": 60.0,
            "devices": [{**group, "link_trace": {"kind": "capacity", "file": outages}}],
            "cells": [{"id": "c0", "sharing": "ps"}],
            "servers": [{"id": "s0", "workers": 2}],
            "policy": {"name": "fixed", "params": {"split": 4}},
        },
        "fifo-snr-downlink": {
            "duration_s": 60.0,
            "warmup_s": 5.0,
            "devices": [{**group, "link_trace": {"kind": "snr", "file": snr}}],
            "cells": [{"id": "c0", "sharing": "fifo"}],
            "servers": [{"id": "s0", "discipline": "ps", "workers": 2}],
            "downlink": {"result_bits": 8000, "rate_bps": 1e6},
            "policy": {"name": "fixed", "params": {"split": 3, "tx_power_w": 0.2}},
        },
        "fdma-capacity-drops": {
            "requests": 1500,
            "devices": [
                {**group, "link_trace": {"kind": "capacity", "file": outages, "rate_scale": 4}},
                {"name": "p", "count": 20, "arrivals": {"process": "poisson", "rate_per_s": 2}},
            ],
            "cells": [{"id": "c0", "sharing": "fdma", "bandwidth_hz": 20e6}],
            "servers": [{"id": "s0", "queue_capacity": 1}],
            "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.002}},
            "policy": {"name": "fixed", "params": {"split": 2}},
        },
    }


@pytest.fixture(
    scope="module", params=["ps-capacity-outages", "fifo-snr-downlink", "fdma-capacity-drops"]
)
def run(request, tmp_path_factory):
    data = scenarios(tmp_path_factory.mktemp("replay"))[request.param]
    scenario = scenario_from_dict({"name": request.param, **data})
    return request.param, simulate(scenario, seed=6)


def test_each_stage_is_accounted_where_it_happened(run):
    """The upload energy is the power times the time on air: never more than power × upload
    latency, and equal to it under ps (an upload never waits there; under fifo, and under fdma
    when a device's bursty trace makes its own uploads overlap, they take turns); a dropped
    request has no server stage; the deadline flag is "completed within the deadline"."""
    _, result = run
    trace = result.trace
    on_air_bound = trace["tx_power_w"] * trace["latency_uplink_s"]
    assert (trace["energy_uplink_j"] <= on_air_bound * (1 + 1e-9) + 1e-15).all()
    ps_cells = [cell.id for cell in result.scenario.cells if cell.sharing == "ps"]
    never_waits = trace["cell_id"].isin(ps_cells)
    np.testing.assert_allclose(
        trace.loc[never_waits, "energy_uplink_j"], on_air_bound[never_waits], rtol=1e-9, atol=1e-15
    )
    dropped = trace["status"] == "dropped"
    for column in ("latency_server_queue_s", "latency_server_compute_s", "energy_server_j"):
        assert (trace.loc[dropped, column] == 0.0).all(), column
    completed = trace["status"] == "completed"
    assert (trace.loc[completed, "latency_server_compute_s"] > 0).all()
    met = completed & (trace["latency_s"] <= trace["deadline_s"])
    assert (trace["deadline_met"] == met).all()
