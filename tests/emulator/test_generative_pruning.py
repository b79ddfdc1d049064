"""Generative requests honour the decision's pruning and device clock: the bridge, and the model.

The device side keeps a fraction ρ of its parameters and runs at the clock ``f = r·f_max``:
its matrix-product FLOPs and weight bytes scale by ρ (``SideCosts.pruned``), its compute term
runs at the peak ``r·f_max·c`` while its memory bandwidth does not follow the clock, and the
dynamic part of its phase power scales by ``r³`` (the paper's ``η·φ·f²`` energy per cycle).
The server side keeps ρ̃ and runs at its top clock. Alone (one request, one device, one server,
no fading, a batch of one), every token arrives exactly when the chain of these closed forms
says, in every mode, as in ``test_generative_bridge.py`` for unpruned requests.
"""

from __future__ import annotations

import numpy as np
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.model.reference import distortion_bound, log_distance_gain, shannon_rate_bps
from coinfer.emulator.model.step_costs import Batch, SideCosts
from coinfer.emulator.model.step_time import (
    clocked_phase_power_w,
    make_step_time_model,
)
from coinfer.emulator.scenario.schema import scenario_from_dict
from tests.emulator.test_generative_bridge import (
    ARRIVAL_S,
    BANDWIDTH_HZ,
    DEVICE,
    DISTANCE_M,
    DOWNLINK_BPS,
    MODEL,
    NOISE_W_PER_HZ,
    OUTPUT,
    PROMPT,
    SERVER,
    SPLIT_AT,
    lone_request,
)

RHO, RHO_SERVER = 0.6, 0.7
CLOCK = 0.5  # f / f_max of the device
TX_POWER_W = 0.1
MODES = {"on-device": 34, "on-server": 0, "split": SPLIT_AT}

catalog = ModelCatalog.builtin()
hardware = HardwareCatalog.builtin()


def pruned_run(split: int, rho: float = RHO, clock: float = CLOCK, device: str = DEVICE):
    """The request arriving at t = 100 s, run by ``fixed`` at ρ, ρ̃, p and f."""
    data = lone_request(split).model_dump()
    data["devices"][0]["hardware"] = device
    data["policy"] = {
        "name": "fixed",
        "params": {
            "split": split,
            "rho_device": rho,
            "rho_server": RHO_SERVER,
            "tx_power_w": TX_POWER_W,
            "f_device_hz": clock * hardware.get(device).f_max_hz,
        },
    }
    result = simulate(scenario_from_dict(data), seed=1, token_trace=True)
    tokens = result.read_tokens()
    return result.trace.set_index("request_id").loc[1], tokens[tokens["request_id"] == 1]


def roofline_at_clock(batch: Batch, side: SideCosts, chip, clock: float) -> float:
    """One step of the roofline with the compute at the peak ``clock·f_max·c`` (closed form)."""
    cal = make_step_time_model("roofline").calibration(chip)
    sums = batch.sums()
    prefill_flops, decode_flops = side.flops_by_phase(sums)
    peak = chip.peak_flops_per_s * clock
    compute = prefill_flops / (peak * cal.mfu_prefill) + decode_flops / (peak * cal.mfu_decode)
    memory = side.memory_traffic(sums).total_bytes / (
        chip.memory_bandwidth_bytes_per_s * cal.bandwidth_efficiency
    )
    return max(compute, memory) + cal.step_overhead_s + cal.layer_overhead_s * side.num_blocks


def closed_form(split: int) -> tuple[list[float], float, float]:
    """Each token's arrival, s; the device's compute energy, J; and the server's, J."""
    model = catalog.get(MODEL)
    device, server = hardware.get(DEVICE), hardware.get(SERVER)
    batches = [Batch.prefill([PROMPT])] + [Batch.decode([PROMPT + j - 1]) for j in range(1, OUTPUT)]
    rate = shannon_rate_bps(
        TX_POWER_W, float(log_distance_gain(DISTANCE_M)), BANDWIDTH_HZ, NOISE_W_PER_HZ
    )
    down = model.input_bits / model.sequence_length / DOWNLINK_BPS
    device_side = SideCosts.for_split(model, split, "device").pruned(RHO)
    server_side = SideCosts.for_split(model, split, "server").pruned(RHO_SERVER)
    device_steps = [roofline_at_clock(b, device_side, device, CLOCK) for b in batches]
    server_steps = [roofline_at_clock(b, server_side, server, 1.0) for b in batches]
    device_j = device.pue * sum(
        clocked_phase_power_w(device, b.phase, CLOCK) * s
        for b, s in zip(batches, device_steps, strict=True)
    )
    server_j = server.pue * sum(
        server.phase_power_w(b.phase) * s for b, s in zip(batches, server_steps, strict=True)
    )
    times: list[float] = []
    t = ARRIVAL_S
    if split == model.last_split:
        for step in device_steps:
            t = t + step
            times.append(t)
        return times, device_j, 0.0
    if split == 0:
        t = t + PROMPT * (model.input_bits / model.sequence_length) / rate
        for step in server_steps:
            t = t + step
            times.append(t + down)
        return times, 0.0, server_j
    hidden = float(model.payload_bits[split]) / model.sequence_length
    for k in range(OUTPUT):
        t = t + device_steps[k]
        t = t + (PROMPT if k == 0 else 1) * hidden / rate
        t = t + server_steps[k]
        t = t + down
        times.append(t)
    return times, device_j, server_j


@pytest.mark.parametrize("mode", list(MODES))
def test_a_pruned_request_at_a_lower_clock_arrives_when_the_closed_forms_say(mode):
    split = MODES[mode]
    row, tokens = pruned_run(split)
    expected, device_j, server_j = closed_form(split)
    assert row["status"] == "completed" and row["mode"] == mode
    assert tokens["t_s"].tolist() == expected
    assert row["ttft_s"] == expected[0] - ARRIVAL_S
    assert row["tpot_s"] == (expected[-1] - expected[0]) / (OUTPUT - 1)
    assert row["energy_device_compute_j"] == pytest.approx(device_j, rel=1e-12)
    assert row["energy_server_j"] == pytest.approx(server_j, rel=1e-12)
    # the decision is recorded; the server's clock is the one it ran at, its top
    assert (row["rho_device"], row["rho_server"]) == (RHO, RHO_SERVER)
    assert row["f_device_hz"] == CLOCK * hardware.get(DEVICE).f_max_hz
    assert row["f_server_hz"] == hardware.get(SERVER).f_max_hz


@pytest.mark.parametrize("mode", list(MODES))
def test_the_prediction_of_fixed_is_what_the_engine_measures(mode):
    """Without a downlink (which the prediction leaves out), alone: predicted = measured."""
    data = lone_request(MODES[mode]).model_dump()
    f = CLOCK * hardware.get(DEVICE).f_max_hz
    params = {"split": MODES[mode], "rho_device": RHO, "rho_server": RHO_SERVER}
    data.update(
        downlink=None,
        policy={"name": "fixed", "params": {**params, "tx_power_w": TX_POWER_W, "f_device_hz": f}},
    )
    row = simulate(scenario_from_dict(data), seed=1).trace.set_index("request_id").loc[1]
    assert row["predicted_latency_s"] == pytest.approx(row["latency_s"], rel=1e-12)
    assert row["predicted_energy_j"] == pytest.approx(row["energy_total_j"], rel=1e-12)


def test_pruning_is_faster_and_a_lower_clock_is_slower_on_compute_but_cheaper():
    """At the same kept fraction a lower clock stretches the (compute-bound) prefill, not the
    (memory-bound) decodes, and draws less energy; fewer kept parameters shorten both."""
    full, _ = pruned_run(SPLIT_AT, rho=1.0, clock=1.0)
    slow, _ = pruned_run(SPLIT_AT, rho=1.0, clock=CLOCK)
    lean, _ = pruned_run(SPLIT_AT, rho=RHO, clock=1.0)
    assert slow["ttft_s"] > full["ttft_s"] > lean["ttft_s"]
    assert slow["energy_device_compute_j"] < full["energy_device_compute_j"]
    assert lean["latency_s"] < full["latency_s"]


def test_the_clocked_phase_power_scales_its_dynamic_part_by_the_cube_of_the_clock():
    orin = hardware.get(DEVICE).model_copy(update={"idle_power_w": 10.0})
    decode = orin.phase_power_w("decode")
    assert clocked_phase_power_w(orin, "decode", 1.0) == decode  # the top clock: unchanged
    assert clocked_phase_power_w(orin, "decode", 0.5) == pytest.approx(
        10.0 + (decode - 10.0) * 0.125, rel=1e-15
    )
    # with no idle power and the default phase power φ·f_max³, the power is the paper's φ·f³
    paper = hardware.get("paper-device")
    f = 0.3 * paper.f_max_hz
    assert clocked_phase_power_w(paper, "prefill", 0.3) == pytest.approx(
        paper.power_coeff_w_per_hz3 * f**3, rel=1e-12
    )


def test_the_device_memory_check_counts_the_pruned_weights():
    """Llama-3-8B in FP16 (16 GB) does not fit a 12.9 GB phone whole; at ρ = 0.6 it does."""
    whole, _ = pruned_run(34, rho=1.0, clock=1.0, device="phone-soc")
    pruned, _ = pruned_run(34, rho=RHO, clock=1.0, device="phone-soc")
    assert (whole["status"], whole["reason"]) == ("infeasible", "memory")
    assert pruned["status"] == "completed"
    side = SideCosts.for_split(catalog.get(MODEL), 34, "device")
    # the KV cache of a token is unchanged by pruning
    assert pruned["kv_peak_bytes_device"] == (PROMPT + OUTPUT - 1) * side.kv_bytes_per_token


def test_the_distortion_follows_the_kept_fraction_of_each_side():
    row, _ = pruned_run(SPLIT_AT)
    model = catalog.get(MODEL)
    table = model.split_table
    kept = RHO * table.device_params[SPLIT_AT] + RHO_SERVER * table.server_params[SPLIT_AT]
    expected = distortion_bound(
        float(kept), model.total_params, float(model.weight_bits), model.entropy_bits_per_param
    )
    assert row["distortion_bound"] == pytest.approx(float(expected), rel=1e-15)


def test_a_step_of_nested_subnetworks_reads_the_widest_and_computes_each_own_width():
    """Two decodes keeping 0.5 and 0.8 of the server side: the weights read are 0.8 of them,
    each decode's matrix FLOPs its own fraction; equal fractions are the pruned side's step."""
    model = catalog.get(MODEL)
    a100 = hardware.get(SERVER)
    roofline = make_step_time_model("roofline")
    side = SideCosts.for_split(model, 0, "server")
    step = Batch.concat(Batch.prefill([400]), Batch.decode([300, 900]))
    kept = np.array([0.9, 0.5, 0.8])
    cal = roofline.calibration(a100)
    sums = step.sums()
    matrix = side.flops_per_token * (0.9 * 400) + side.flops_per_sequence * 0.9
    prefill_flops = matrix + side.flops_per_token_per_position * 400 * 400
    decode_flops = (side.flops_per_token + side.flops_per_sequence) * (0.5 + 0.8) + (
        side.flops_per_token_per_position * (301 + 901)
    )
    compute = prefill_flops / (a100.peak_flops_per_s * cal.mfu_prefill) + decode_flops / (
        a100.peak_flops_per_s * cal.mfu_decode
    )
    memory = side.pruned(0.9).memory_traffic(sums).total_bytes / (
        a100.memory_bandwidth_bytes_per_s * cal.bandwidth_efficiency
    )
    expected = max(compute, memory) + cal.step_overhead_s + cal.layer_overhead_s * side.num_blocks
    assert roofline.nested_step_time_s(step, kept, side, a100) == pytest.approx(expected, rel=1e-12)
    same = np.full(3, 0.7)
    assert roofline.nested_step_time_s(step, same, side, a100) == pytest.approx(
        roofline.step_time_s(step, side.pruned(0.7), a100), rel=1e-12
    )
    assert side.pruned(1.0) is side
