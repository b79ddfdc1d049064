"""Generative requests over a topology's wired path: alone, every token arrives when the closed
forms say.

The bridge of ``test_generative_bridge.py`` (one device, one idle server, no fading, one request
at t = 100 s) with the server behind one wired link of bandwidth ``B_w`` and latency ``L``:
every upload, after the uplink, crosses the link (``L + bits/B_w``), and every token comes back
over it (``L + token bits/B_w``) before the downlink's air time. ``on-server``: the prompt's ids
cross once; ``split``: the prompt's hidden vectors, then one hidden vector per token. The wired
time is the row's ``latency_backhaul_s`` and the token table's ``gap_backhaul_s``; the parts
still add up to the latency.
"""

from __future__ import annotations

import numpy as np
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.model.reference import log_distance_gain, shannon_rate_bps
from coinfer.emulator.model.step_costs import Batch, SideCosts
from coinfer.emulator.model.step_time import make_step_time_model
from coinfer.emulator.scenario.schema import scenario_from_dict
from tests.decomposition import assert_generative_parts_add_up
from tests.topologies.helpers import write_graph

MODEL, DEVICE, SERVER = "llama-3-8b", "jetson-agx-orin", "a100"
PROMPT, OUTPUT = 300, 12
BANDWIDTH_HZ, NOISE_W_PER_HZ, DISTANCE_M = 20e6, 2e-19, 100.0
DOWNLINK_BPS = 50e6
WIRED_BPS, LATENCY_S = 100e6, 0.003
ARRIVAL_S = 100.0
SPLIT_AT = 9


def run(tmp_path, split: int):
    nodes = {
        "d-0": {"kind": "device", "x_m": DISTANCE_M, "y_m": 0.0},
        "ap": {
            "kind": "access_point",
            "x_m": 0.0,
            "y_m": 0.0,
            "sharing": "fdma",
            "bandwidth_hz": BANDWIDTH_HZ,
            "noise_psd_w_per_hz": NOISE_W_PER_HZ,
        },
        "edge": {"kind": "server", "hardware": SERVER, "discipline": "continuous-batching"},
    }
    edges = [
        ("d-0", "ap", {}),
        ("ap", "edge", {"bandwidth_bps": WIRED_BPS, "latency_s": LATENCY_S}),
    ]
    path = write_graph(tmp_path / "t.json", nodes, edges)
    scenario = scenario_from_dict(
        {
            "name": "wired",
            "requests": 2,
            "devices": [
                {
                    "name": "d",
                    "hardware": DEVICE,
                    "model": MODEL,
                    "arrivals": {
                        "process": "deterministic",
                        "interval_s": ARRIVAL_S,
                        "random_phase": False,
                    },
                    "tokens": {
                        "prompt": {"distribution": "constant", "value": PROMPT},
                        "output": {"distribution": "constant", "value": OUTPUT},
                    },
                }
            ],
            "downlink": {"rate_bps": DOWNLINK_BPS},
            "policy": {"name": "fixed", "params": {"split": split}},
            "topology": {"file": str(path)},
        }
    )
    result = simulate(scenario, seed=1, token_trace=True)
    trace = result.trace.set_index("request_id")
    tokens = result.read_tokens()
    return trace.loc[1], tokens[tokens["request_id"] == 1]


def closed_form(split: int) -> tuple[list[float], float]:
    """Each token's arrival at the device, s, and the wired time in all, s."""
    model = ModelCatalog.builtin().get(MODEL)
    hardware = HardwareCatalog.builtin()
    device, server = hardware.get(DEVICE), hardware.get(SERVER)
    roofline = make_step_time_model("roofline")
    batches = [Batch.prefill([PROMPT])] + [Batch.decode([PROMPT + j - 1]) for j in range(1, OUTPUT)]
    rate = shannon_rate_bps(
        device.max_tx_power_w, float(log_distance_gain(DISTANCE_M)), BANDWIDTH_HZ, NOISE_W_PER_HZ
    )
    token_bits = model.input_bits / model.sequence_length
    down = token_bits / DOWNLINK_BPS
    back = LATENCY_S + token_bits / WIRED_BPS  # a token's way back over the wires
    server_side = SideCosts.for_split(model, split, "server")
    times: list[float] = []
    t = ARRIVAL_S
    if split == 0:
        prompt_bits = PROMPT * token_bits
        forward = LATENCY_S + prompt_bits / WIRED_BPS
        t = t + prompt_bits / rate + forward
        for batch in batches:
            t = t + roofline.step_time_s(batch, server_side, server)
            times.append(t + down + back)
        return times, forward + back
    device_side = SideCosts.for_split(model, split, "device")
    hidden = float(model.payload_bits[split]) / model.sequence_length
    wired = 0.0
    for k, batch in enumerate(batches):
        bits = (PROMPT if k == 0 else 1) * hidden
        forward = LATENCY_S + bits / WIRED_BPS
        t = t + roofline.step_time_s(batch, device_side, device) + bits / rate + forward
        t = t + roofline.step_time_s(batch, server_side, server) + down + back
        wired += forward + back
        times.append(t)
    return times, wired


@pytest.mark.parametrize("split", [0, SPLIT_AT], ids=["on-server", "split"])
def test_tokens_cross_the_wired_path_both_ways_when_the_closed_forms_say(tmp_path, split):
    row, tokens = run(tmp_path, split)
    times, wired = closed_form(split)
    np.testing.assert_allclose(tokens["t_s"].to_numpy(), times, rtol=1e-12, atol=0)
    assert row["latency_backhaul_s"] == pytest.approx(wired, rel=1e-9)
    assert row["ttft_s"] == pytest.approx(times[0] - ARRIVAL_S, rel=1e-12)
    assert tokens["gap_backhaul_s"].sum() == pytest.approx(wired, rel=1e-9)
    assert_generative_parts_add_up(
        pd_frame(row), tokens.reset_index(drop=True), rtol=1e-9, atol=1e-9
    )


def pd_frame(row):
    return row.to_frame().T.reset_index(names="request_id").infer_objects()
