"""The bridge for generative requests: alone, every token arrives when the closed forms say.

One device, one server, no fading, one request: nothing ever waits or shares, every server step
is a batch of one. Each output token's arrival at the device must then be, to the bit, the sum
of the chain the closed forms give: the step-time model's steps on each side
(``step_time_s`` of a one-sequence batch), each upload's bits over the Shannon rate
``B·log2(1 + p·g/(B·N0))``, each token id's bits over the downlink rate, in the order the
request crosses them (``docs/generative.md``):

* ``on-device``: the prefill, then every decode, back to back on the device;
* ``on-server``: the prompt's ids up, the server's prefill and decodes, each token down;
* ``split``: per token, the device's layers, the hidden vector up, the server's layers, the
  token id down.

The request arrives at t = 100 s. The engine carries times as it computes them; the only clock
reading it takes is the start of each upload, which SimPy reaches by adding a delay to its
clock, and a difference of two times within a factor of two of each other is exact (Sterbenz),
so from t = 100 s on, the clock is what was computed and the times must agree exactly. The
latency parts, differences of such times, agree to a few ulps of the clock.
"""

from __future__ import annotations

import math

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

MODEL = "llama-3-8b"
DEVICE = "jetson-agx-orin"
SERVER = "a100"
PROMPT, OUTPUT = 300, 12
BANDWIDTH_HZ = 20e6
NOISE_W_PER_HZ = 2e-19
DISTANCE_M = 100.0
DOWNLINK_BPS = 50e6
ARRIVAL_S = 100.0
SPLIT_AT = 9  # blocks 1..9 (the embeddings and 8 layers) on the device
CLOCK_ULPS = 8 * float(np.spacing(2 * ARRIVAL_S))  # rounding of a difference of clock readings


def lone_request(split: int, **server):
    """One request at t = 100 s from one device to one idle server."""
    return scenario_from_dict(
        {
            "name": "bridge",
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
                    "distance_m": DISTANCE_M,
                }
            ],
            "cells": [{"id": "c", "bandwidth_hz": BANDWIDTH_HZ, "sharing": "fdma"}],
            "servers": [
                {
                    "id": "s",
                    "hardware": SERVER,
                    "discipline": "continuous-batching",
                    **server,
                }
            ],
            "downlink": {"rate_bps": DOWNLINK_BPS},
            "policy": {"name": "fixed", "params": {"split": split}},
        }
    )


def run(split: int, **server):
    """The second request's row (it arrives at t = 100 s) and its tokens."""
    result = simulate(lone_request(split, **server), seed=1, token_trace=True)
    trace = result.trace.set_index("request_id")
    tokens = result.read_tokens()
    return trace.loc[1], tokens[tokens["request_id"] == 1], result


def closed_form(split: int) -> tuple[list[float], float]:
    """Each token's arrival at the device, s, and the total upload time, s: the chain summed
    step by step in the order the request crosses it."""
    model = ModelCatalog.builtin().get(MODEL)
    hardware = HardwareCatalog.builtin()
    device, server = hardware.get(DEVICE), hardware.get(SERVER)
    roofline = make_step_time_model("roofline")
    batches = [Batch.prefill([PROMPT])] + [Batch.decode([PROMPT + j - 1]) for j in range(1, OUTPUT)]
    last = model.num_blocks
    per_pass = model.sequence_length
    rate = shannon_rate_bps(
        device.max_tx_power_w,
        float(log_distance_gain(DISTANCE_M)),
        BANDWIDTH_HZ,
        NOISE_W_PER_HZ,
    )
    token_bits = model.input_bits / per_pass
    down = token_bits / DOWNLINK_BPS
    times: list[float] = []
    uploads = 0.0
    t = ARRIVAL_S
    if split == last:
        side = SideCosts.for_split(model, last, "device")
        for batch in batches:
            t = t + roofline.step_time_s(batch, side, device)
            times.append(t)
        return times, uploads
    server_side = SideCosts.for_split(model, split, "server")
    if split == 0:
        up = PROMPT * token_bits / rate
        uploads = up
        t = t + up
        for batch in batches:
            t = t + roofline.step_time_s(batch, server_side, server)
            times.append(t + down)
        return times, uploads
    device_side = SideCosts.for_split(model, split, "device")
    hidden = float(model.payload_bits[split]) / per_pass
    for k, batch in enumerate(batches):
        t = t + roofline.step_time_s(batch, device_side, device)
        up = (PROMPT if k == 0 else 1) * hidden / rate
        uploads += up
        t = t + up
        t = t + roofline.step_time_s(batch, server_side, server)
        t = t + down
        times.append(t)
    return times, uploads


MODES = {"on-device": 34, "on-server": 0, "split": SPLIT_AT}


@pytest.mark.parametrize("mode", list(MODES))
def test_every_token_arrives_exactly_when_the_closed_forms_say(mode):
    split = MODES[mode]
    row, tokens, _ = run(split)
    expected, uploads = closed_form(split)
    assert row["status"] == "completed" and row["mode"] == mode
    assert tokens["token_index"].tolist() == list(range(1, OUTPUT + 1))
    assert tokens["t_s"].tolist() == expected
    assert row["ttft_s"] == expected[0] - ARRIVAL_S
    assert row["t_done"] == expected[-1]
    assert row["tpot_s"] == (expected[-1] - expected[0]) / (OUTPUT - 1)
    assert row["itl_p99_s"] == np.percentile(np.diff(expected), 99)
    assert row["e2e_s"] == row["latency_s"] == expected[-1] - ARRIVAL_S
    # the parts are differences of clock readings: exact to a few ulps of the clock
    assert row["latency_uplink_s"] == pytest.approx(uploads, rel=1e-12, abs=CLOCK_ULPS)
    assert row["latency_server_queue_s"] == pytest.approx(0.0, abs=CLOCK_ULPS)
    assert row["latency_device_queue_s"] == 0.0
    assert row["preemptions"] == 0


def test_a_batch_of_one_is_a_batch_of_one_whatever_the_scheduler():
    """Alone, vLLM, Sarathi (with its chunk above the prompt) and Orca run the same steps."""
    times = {
        scheduler: run(0, scheduler=scheduler, chunk_size_tokens=1024)[1]["t_s"].tolist()
        for scheduler in ("vllm", "sarathi", "orca")
    }
    assert times["sarathi"] == times["vllm"] == times["orca"]


@pytest.mark.parametrize("mode", list(MODES))
def test_the_parts_of_the_latency_and_of_each_gap_add_up(mode):
    """Request row: device, uplink, server and downlink parts add up to ``latency_s``; each
    token's gap parts add up to its gap; and the gaps of a request add up to its latency."""
    _, tokens, result = run(MODES[mode])
    assert_generative_parts_add_up(result.trace, tokens)
    assert tokens["gap_s"].sum() == pytest.approx(
        result.trace.set_index("request_id").loc[1, "latency_s"], rel=1e-12
    )


def test_energy_is_step_time_times_phase_power_and_airtime_times_power():
    model = ModelCatalog.builtin().get(MODEL)
    hardware = HardwareCatalog.builtin()
    device, server = hardware.get(DEVICE), hardware.get(SERVER)
    roofline = make_step_time_model("roofline")
    row, _, _ = run(SPLIT_AT)
    device_side = SideCosts.for_split(model, SPLIT_AT, "device")
    server_side = SideCosts.for_split(model, SPLIT_AT, "server")
    batches = [Batch.prefill([PROMPT])] + [Batch.decode([PROMPT + j - 1]) for j in range(1, OUTPUT)]

    def energy(side, hw):
        return sum(
            hw.pue * hw.phase_power_w(batch.phase) * roofline.step_time_s(batch, side, hw)
            for batch in batches
        )

    assert row["energy_device_compute_j"] == pytest.approx(energy(device_side, device), rel=1e-12)
    assert row["energy_server_j"] == pytest.approx(energy(server_side, server), rel=1e-12)
    assert row["energy_uplink_j"] == pytest.approx(
        device.max_tx_power_w * row["latency_uplink_s"], rel=1e-12
    )
    assert row["energy_per_token_j"] == pytest.approx(row["energy_total_j"] / OUTPUT, rel=1e-15)


def test_the_kv_peaks_are_the_prompt_and_all_but_the_last_token():
    model = ModelCatalog.builtin().get(MODEL)
    row, _, _ = run(SPLIT_AT, block_size_tokens=16)
    cached = PROMPT + OUTPUT - 1
    device_side = SideCosts.for_split(model, SPLIT_AT, "device")
    server_side = SideCosts.for_split(model, SPLIT_AT, "server")
    assert row["kv_peak_bytes_device"] == cached * device_side.kv_bytes_per_token
    assert (
        row["kv_peak_bytes_server"] == math.ceil(cached / 16) * 16 * server_side.kv_bytes_per_token
    )


POLICIES = {
    "on-device": {"name": "on-device"},
    "on-server": {"name": "on-server"},
    "split": {"name": "split", "params": {"layer": SPLIT_AT}},
}


@pytest.mark.parametrize("mode", list(POLICIES))
def test_the_generative_policies_predict_what_a_lone_request_costs(mode):
    """``on-device``, ``on-server`` and ``split`` choose their mode, run unpruned at the top
    power and clocks, and predict the request alone: without a downlink (which they leave out)
    the prediction is what the engine measures."""
    data = lone_request(MODES[mode]).model_dump()
    data.update(downlink=None, policy=POLICIES[mode])
    result = simulate(scenario_from_dict(data), seed=1)
    row = result.trace.set_index("request_id").loc[1]
    device = HardwareCatalog.builtin().get(DEVICE)
    assert row["mode"] == mode and row["split"] == MODES[mode]
    assert (row["rho_device"], row["rho_server"]) == (1.0, 1.0)
    assert row["tx_power_w"] == device.max_tx_power_w and row["f_device_hz"] == device.f_max_hz
    assert row["predicted_latency_s"] == pytest.approx(row["latency_s"], rel=1e-12)
    assert row["predicted_energy_j"] == pytest.approx(row["energy_total_j"], rel=1e-12)


def test_tokens_streamed_in_chunks_arrive_together_when_their_chunk_is_complete():
    """``stream_chunk_tokens: 5``: tokens 1..5 leave with the 5th, 6..10 with the 10th, 11..12
    with the last; a chunk of k tokens takes k token times on the downlink."""
    row, tokens, _ = run(0, stream_chunk_tokens=5)
    model = ModelCatalog.builtin().get(MODEL)
    down = model.input_bits / model.sequence_length / DOWNLINK_BPS
    emitted = [t - down for t in closed_form(0)[0]]  # one token at a time, alone
    expected = (
        [emitted[4] + 5 * down] * 5 + [emitted[9] + 5 * down] * 5 + [emitted[11] + 2 * down] * 2
    )
    np.testing.assert_allclose(tokens["t_s"], expected, rtol=1e-15)
    assert row["latency_downlink_s"] == pytest.approx(2 * down, rel=1e-9)
    assert (tokens["gap_s"].to_numpy()[[1, 2, 3, 4, 6, 7, 8, 9, 11]] == 0).all()
