"""The bridge to the paper: without contention the emulator is the reference model, exactly.

One device, one server, no fading, and requests 10 s apart (each one is done in well under a
second), so nothing ever waits or shares: every request must then cost exactly what the closed
forms of :mod:`emulator.reference` (the paper's model, ``docs/paper-model.md`` sections 3–5) say
for the same inputs, stage by stage, and the fixed policy's prediction must equal what was
measured.

Times in the trace are differences of absolute clock readings, so they carry an absolute
rounding of a few ulps of the clock (about 1e-14 s here); comparisons allow that and otherwise
ask for a relative agreement of 1e-12.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.model.reference import (
    co_inference_cost,
    distortion_bound,
    kept_parameters,
    log_distance_gain,
    uplink_rate_bps,
)
from coinfer.emulator.scenario.schema import scenario_from_dict

BANDWIDTH_HZ = 5e6
NOISE_W_PER_HZ = 2e-19
DISTANCE_M = 500.0
REQUESTS = 12
INTERVAL_S = 10.0

#: Decisions tried: the fixed policy's defaults (top power and clocks, no pruning) and an
#: arbitrary interior point.
DEFAULTS = {}
INTERIOR = {
    "rho_device": 0.8,
    "rho_server": 0.6,
    "tx_power_w": 0.3,
    "f_device_hz": 0.8e9,
    "f_server_hz": 3e9,
}


def quiet_scenario(split: int, params: dict, sharing: str = "fdma", fading: str = "none"):
    """One paper device at 500 m, one paper server, a request every 10 s from t = 0."""
    return scenario_from_dict(
        {
            "name": "bridge",
            "requests": REQUESTS,
            "devices": [
                {
                    "name": "d",
                    "hardware": "paper-device",
                    "model": "bert-paper",
                    "arrivals": {
                        "process": "deterministic",
                        "interval_s": INTERVAL_S,
                        "random_phase": False,
                    },
                    "deadline_s": 0.3,
                    "energy_budget_j": 0.02,
                    "distance_m": DISTANCE_M,
                }
            ],
            "cells": [{"id": "c0", "bandwidth_hz": BANDWIDTH_HZ, "sharing": sharing}],
            "servers": [{"id": "s0", "hardware": "paper-server"}],
            "channel": {"fading": {"law": fading, "coherence_time_s": 0.001}},
            "policy": {"name": "fixed", "params": {"split": split, **params}},
        }
    )


def assert_close(actual, expected, clock) -> None:
    """Relative 1e-12, or a few ulps of the clock readings the value was derived from (NaN
    where both are NaN: an empty column, such as the quality of a model without a table)."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    atol = 8 * np.spacing(np.asarray(clock, dtype=float))
    close = np.abs(actual - expected) <= np.maximum(1e-12 * np.abs(expected), atol)
    assert np.all(close | (np.isnan(actual) & np.isnan(expected))), (
        actual,
        expected,
    )


def reference_cost(split: int, params: dict):
    """The paper's per-stage latency and energy for ``split`` and the decision ``params``."""
    model = ModelCatalog.builtin().get("bert-paper")
    hardware = HardwareCatalog.builtin()
    device, server = hardware.get("paper-device"), hardware.get("paper-server")
    return co_inference_cost(
        device_flops=float(model.device_flops[split]),
        server_flops=float(model.server_flops[split]),
        payload_bits=float(model.payload_bits[split]),
        rho_device=params.get("rho_device", 1.0),
        rho_server=params.get("rho_server", 1.0),
        tx_power_w=params.get("tx_power_w", device.max_tx_power_w),
        f_device_hz=params.get("f_device_hz", device.f_max_hz),
        f_server_hz=params.get("f_server_hz", server.f_max_hz),
        gain=float(log_distance_gain(DISTANCE_M)),
        bandwidth_hz=BANDWIDTH_HZ,
        noise_psd_w_per_hz=NOISE_W_PER_HZ,
        device_flops_per_cycle=device.flops_per_cycle,
        device_power_coeff=device.power_coeff_w_per_hz3,
        device_pue=device.pue,
        server_flops_per_cycle=server.flops_per_cycle,
        server_power_coeff=server.power_coeff_w_per_hz3,
        server_pue=server.pue,
    )


@pytest.mark.parametrize("sharing", ["fdma", "ps", "fifo"])
@pytest.mark.parametrize("params", [DEFAULTS, INTERIOR], ids=["defaults", "interior"])
@pytest.mark.parametrize("split", [0, 4, 12])
def test_every_request_costs_exactly_the_reference_model(split, params, sharing):
    """Per request: no waiting anywhere; device compute ``ρ·N/(f·c)``, upload ``θ/r(p)``, server
    compute ``ρ̃·Ñ/(f̃·c̃)`` and their energies ``η·φ·f²·ρ·N/c``, ``p·θ/r(p)``,
    ``η̃·φ̃·f̃²·ρ̃·Ñ/c̃`` are those of ``reference.co_inference_cost``; the totals add up; the
    distortion is ``reference.distortion_bound`` of the kept parameters ``ρ·q + ρ̃·s``; the
    policy's predicted latency and energy are the measured ones. Split 0 uploads the raw input
    and runs everything on the server; split 12 runs everything on the device."""
    trace = simulate(quiet_scenario(split, params, sharing), seed=1).trace
    assert len(trace) == REQUESTS and (trace["status"] == "completed").all()
    np.testing.assert_array_equal(np.sort(trace["t_arrival"]), INTERVAL_S * np.arange(REQUESTS))
    cost = reference_cost(split, params)
    clock = trace["t_done"]
    for column in ("latency_device_queue_s", "latency_server_queue_s", "latency_downlink_s"):
        assert (trace[column] == 0.0).all(), column
    assert_close(trace["latency_device_compute_s"], cost.device_compute_s, clock)
    assert_close(trace["latency_uplink_s"], cost.upload_s, clock)
    assert_close(trace["latency_server_compute_s"], cost.server_compute_s, clock)
    assert_close(trace["latency_s"], cost.latency_s, clock)
    assert_close(trace["energy_device_compute_j"], cost.device_compute_j, 0.0)
    assert_close(trace["energy_uplink_j"], cost.upload_j, clock)
    assert_close(trace["energy_server_j"], cost.server_compute_j, 0.0)
    assert_close(trace["energy_device_j"], cost.device_energy_j, clock)
    assert_close(trace["energy_total_j"], cost.energy_j, clock)

    model = ModelCatalog.builtin().get("bert-paper")
    kept = kept_parameters(
        params.get("rho_device", 1.0),
        params.get("rho_server", 1.0),
        float(model.device_params[split]),
        float(model.server_params[split]),
    )
    expected = distortion_bound(
        float(kept), model.total_params, float(model.weight_bits), model.entropy_bits_per_param
    )
    np.testing.assert_array_equal(trace["distortion_bound"], float(expected))

    assert_close(trace["predicted_latency_s"], trace["latency_s"], clock)
    assert_close(trace["predicted_energy_j"], trace["energy_total_j"], clock)
    feasible = (cost.latency_s <= 0.3) and (cost.energy_j <= 0.02)
    assert (trace["policy_feasible"] == feasible).all()
    assert (trace["deadline_met"] == (cost.latency_s <= 0.3)).all()


def test_the_papers_own_numbers():
    """Section 7 of the model document, computed by hand: at 500 m, ``g = 1e-3 × 500^-2.8 =
    2.77e-11``; at P_max = 0.5 W on B = 5 MHz with N0 = 2e-19 W/Hz the SNR is 13.85 and the rate
    ``5e6·log2(14.85) = 19.47 Mbit/s``, so the paper's 24,576-bit activation uploads in
    24576 / 19.47e6 = 1.262 ms; BERT's first 4 of 12 blocks (4/12 × 21.77 GFLOPs) take
    7.257e9 / (1e9 × 32) = 0.2268 s on the paper's device, the other 8 take
    14.51e9 / (4e9 × 128) = 28.35 ms on its server."""
    gain = float(log_distance_gain(DISTANCE_M))
    assert gain == pytest.approx(2.77e-11, rel=2e-3)
    rate = float(uplink_rate_bps(0.5, gain, BANDWIDTH_HZ, NOISE_W_PER_HZ))
    assert rate == pytest.approx(19.46e6, rel=1e-3)
    trace = simulate(quiet_scenario(4, DEFAULTS), seed=1).trace
    assert (trace["payload_bits"] == 24_576).all()
    assert trace["gain"].to_numpy() == pytest.approx(gain, rel=1e-12)
    np.testing.assert_allclose(trace["latency_uplink_s"], 24_576 / 19.46e6, rtol=1e-3)
    np.testing.assert_allclose(trace["latency_device_compute_s"], 0.2268, rtol=1e-3)
    np.testing.assert_allclose(trace["latency_server_compute_s"], 28.35e-3, rtol=1e-3)
    # Exact, against the unrounded rate.
    assert_close(trace["latency_uplink_s"], 24_576 / rate, trace["t_done"])


@pytest.mark.parametrize("fading", ["none", "rayleigh"])
def test_without_contention_the_three_uplink_disciplines_agree(fading):
    """With a single device the band is never shared, so FDMA, PS and FIFO uplinks give the same
    trace, with or without fading (the device's fading stream does not depend on the
    discipline). Only the PS re-rating may move a finish time by an ulp of the clock."""
    traces = [
        simulate(quiet_scenario(4, INTERIOR, sharing, fading), seed=2).trace
        for sharing in ("fdma", "ps", "fifo")
    ]
    reference = traces[0]
    for other in traces[1:]:
        for column in reference.columns:
            if reference[column].dtype.kind == "f":
                assert_close(other[column], reference[column], reference["t_done"])
            else:
                assert (other[column].astype(str) == reference[column].astype(str)).all(), column
    if fading == "rayleigh":  # the fading really changed the upload times
        assert reference["latency_uplink_s"].std() > 0.0


def test_uplink_energy_is_power_times_time_on_air():
    """``e_U = p·θ/r(p)`` is power × time on air, so halving the power at fixed payload changes
    the upload time from θ/r(0.5 W) to θ/r(0.25 W) and the energy accordingly."""
    for power in (0.5, 0.25):
        trace = simulate(quiet_scenario(4, {"tx_power_w": power}), seed=1).trace
        rate = float(
            uplink_rate_bps(power, log_distance_gain(DISTANCE_M), BANDWIDTH_HZ, NOISE_W_PER_HZ)
        )
        assert_close(trace["latency_uplink_s"], 24_576 / rate, trace["t_done"])
        assert_close(trace["energy_uplink_j"], power * 24_576 / rate, trace["t_done"])
        assert math.isclose(float(trace["tx_power_w"].iloc[0]), power)
