"""Policies predict uploads with the cell's link model (docs/radio.md, "What the policies see").

* On an NR cell a policy's prediction of an upload is the NR model's own: the payload over the
  rate of the table chain plus the HARQ delay of the last block, so on a static link the
  latency a policy predicts is exactly the latency the engine emulates (Shannon predicted
  ``(1 − overhead)·α``-fold too fast, and more).
* The joint optimiser's (P1) on an NR cell is the attenuated Shannon envelope the NR model is
  built on, ``κ·B·log2(1 + g·p/(B·N0))`` with ``κ = α·layers·(1 − OH)·14/15``, in Shannon's
  shape (band ``κ·B``, noise ``N0/κ``), with the power capped at the SINR of the top MCS; the
  envelope bounds the NR rate from above at every SINR.
* On a Shannon cell nothing changes: ``tests/emulator/test_engine_golden.py`` passes unchanged.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.model.links import NrLink, NrLinkParams, shannon_envelope
from coinfer.emulator.model.nr_tables import MCS_TABLE_2
from coinfer.emulator.scenario.schema import scenario_from_dict
from coinfer.policies.joint import JointPolicy
from coinfer.policies.prediction import predict
from coinfer.policies.problem import Problem
from tests.policies.contexts import context

NR_20MHZ = NrLink(NrLinkParams(preset="nr-fr1-20mhz"))
BAND_HZ = 106 * 12 * 15e3  # the preset's band
NOISE_W_PER_HZ = 2e-19


def nr_context(gain: float = 2.77e-11, **changes):
    return context(
        link=NR_20MHZ,
        gain=gain,
        bandwidth_hz=BAND_HZ,
        cell_bandwidth_hz=BAND_HZ,
        noise_psd_w_per_hz=NOISE_W_PER_HZ,
        **changes,
    )


@pytest.mark.parametrize("policy", ["fixed", "min-latency", "joint"])
def test_on_a_static_nr_cell_the_predicted_latency_is_the_emulated_one(policy):
    """One device, no fading, requests 5 s apart (no queue): every request's predicted latency
    equals its emulated latency, to rounding."""
    scenario = scenario_from_dict(
        {
            "requests": 4,
            "devices": [
                {
                    "name": "d",
                    "model": "bert-paper",
                    "distance_m": 200.0,
                    "arrivals": {"process": "deterministic", "interval_s": 5.0},
                    "deadline_s": 0.5,
                }
            ],
            "cells": [{"id": "c0", "link": {"model": "nr", "preset": "nr-fr1-20mhz"}}],
            "servers": [{"id": "s0"}],
            "channel": {"fading": {"law": "none"}, "shadowing_std_db": 0.0},
            "policy": {"name": policy, "params": {"split": 0} if policy == "fixed" else {}},
        }
    )
    trace = simulate(scenario, seed=1).trace
    assert (trace["latency_uplink_s"] > 0).all()  # every request uploads something
    np.testing.assert_allclose(trace["predicted_latency_s"], trace["latency_s"], rtol=1e-9)


def test_the_prediction_is_the_nr_rate_plus_the_harq_delay():
    ctx = nr_context()
    p = ctx.device.max_tx_power_w
    f, fs = ctx.device.f_max_hz, ctx.server.f_max_hz
    on_nr = predict(ctx, 0, 1.0, 1.0, p, f, fs)
    on_shannon = predict(ctx._replace(link=None), 0, 1.0, 1.0, p, f, fs)
    bits = float(ctx.model.payload_bits[0])
    rate = NR_20MHZ.rate_bps(p, ctx.gain, BAND_HZ, NOISE_W_PER_HZ)
    harq_s = NR_20MHZ.harq_delay_s(p, ctx.gain, BAND_HZ, NOISE_W_PER_HZ)
    shannon = BAND_HZ * math.log2(1 + p * ctx.gain / (BAND_HZ * NOISE_W_PER_HZ))
    upload_gap_s = on_nr.latency_s - on_shannon.latency_s
    assert upload_gap_s == pytest.approx(bits / rate + harq_s - bits / shannon, rel=1e-12)
    assert on_nr.energy_j - on_shannon.energy_j == pytest.approx(
        p * (bits / rate + harq_s - bits / shannon), rel=1e-12
    )


def test_the_joint_problem_on_an_nr_cell_is_the_capped_attenuated_shannon_envelope():
    ctx = nr_context()
    problem = Problem.from_context(ctx)
    kappa = 0.6 * 1 * (1 - 0.08) * 14 / 15  # alpha, layers, overhead, symbols per Hz·s
    top_sinr = 2 ** (MCS_TABLE_2[-1][2] / 0.6) - 1  # the top MCS at 10 % BLER
    assert shannon_envelope(NR_20MHZ) == pytest.approx((kappa, top_sinr), rel=1e-12)
    powers = np.geomspace(1e-6, problem.p_hi_w, 50)
    envelope = kappa * BAND_HZ * np.log2(1 + ctx.gain * powers / (BAND_HZ * NOISE_W_PER_HZ))
    np.testing.assert_allclose(problem.rate_bps(powers), envelope, rtol=1e-12)
    # far from the cell the device's full power is below the cap; close to it, the power stops
    # where the SINR reaches the top MCS (more would not raise the rate)
    assert problem.p_hi_w == ctx.device.max_tx_power_w
    near = Problem.from_context(nr_context(gain=1e-7))
    assert near.p_hi_w == pytest.approx(top_sinr * BAND_HZ * NOISE_W_PER_HZ / 1e-7, rel=1e-12)
    assert near.p_hi_w < ctx.device.max_tx_power_w


def test_the_envelope_bounds_the_nr_rate_from_above_at_every_sinr():
    """From -10 to 40 dB: NR ≤ envelope; the gap is the CQI step and the block errors (at the
    top MCS's threshold the envelope is 10 % above, its BLER)."""
    kappa, top = shannon_envelope(NR_20MHZ)
    sinr = 10 ** (np.linspace(-10.0, 40.0, 5001) / 10)
    nr = NR_20MHZ.rates_bps(1.0, sinr, 1.0, 1.0)
    envelope = kappa * np.log2(1 + np.minimum(sinr, top))
    assert (nr <= envelope * (1 + 1e-12)).all()
    at_top = NR_20MHZ.rate_bps(1.0, top, 1.0, 1.0) / (kappa * math.log2(1 + top))
    assert at_top == pytest.approx(0.9, rel=1e-6)


def test_joint_on_an_nr_cell_plans_on_the_envelope_and_reports_the_nr_prediction():
    """The solver's plan meets both budgets on the envelope, one of them tight (it keeps as
    much of the model as they allow); the decision reports the NR model's own latency, a little
    longer (the envelope is optimistic)."""
    ctx = nr_context(deadline_s=0.06, energy_budget_j=0.05)
    policy = JointPolicy(JointPolicy.Params(channel_step_db=0.0), np.random.default_rng(0))
    decision = policy.decide(ctx)
    problem = Problem.from_context(ctx)
    index = list(problem.splits).index(decision.split)
    planned = problem.evaluate(
        index,
        decision.rho_device,
        decision.rho_server,
        decision.tx_power_w,
        decision.f_device_hz,
        decision.f_server_hz,
    )
    assert decision.feasible
    assert decision.rho_server < 1.0  # the budgets bind: it prunes
    assert planned.latency_s == pytest.approx(0.06, rel=1e-6)
    assert planned.energy_j == pytest.approx(0.05, rel=1e-6)
    assert problem.payload_bits[index] > 0 and decision.predicted_latency_s > planned.latency_s
