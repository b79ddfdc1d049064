"""The ``fixed`` policy: scenario values, hardware tops by default, reference-model predictions."""

import numpy as np
import pytest

from coinfer.emulator.model.reference import co_inference_cost, distortion_bound
from coinfer.policies.registry import make_policy
from tests.policies.contexts import BERT, context


def fixed(**params):
    return make_policy("fixed", params, np.random.default_rng(0))


def test_defaults_are_the_top_power_and_clocks_on_device():
    decision = fixed().decide(context())
    assert decision.split == BERT.last_split
    assert (decision.tx_power_w, decision.f_device_hz, decision.f_server_hz) == (0.5, 1e9, 4e9)
    assert (decision.rho_device, decision.rho_server) == (1.0, 1.0)


@pytest.mark.parametrize("work_scale", [1.0, 0.5, 2.5])
def test_prediction_equals_the_reference_model(work_scale):
    ctx = context(work_scale=work_scale, gain=1.3e-11, bandwidth_hz=2.5e6)
    decision = fixed(split=4, rho_device=0.7, rho_server=0.9, f_server_hz=2e9).decide(ctx)
    cost = co_inference_cost(
        device_flops=BERT.device_flops[4] * work_scale,
        server_flops=BERT.server_flops[4] * work_scale,
        payload_bits=BERT.payload_bits[4] * work_scale,
        rho_device=0.7,
        rho_server=0.9,
        tx_power_w=0.5,
        f_device_hz=1e9,
        f_server_hz=2e9,
        gain=1.3e-11,
        bandwidth_hz=2.5e6,
        noise_psd_w_per_hz=2e-19,
        device_flops_per_cycle=32,
        device_power_coeff=5e-29,
        device_pue=1,
        server_flops_per_cycle=128,
        server_power_coeff=1e-28,
        server_pue=2,
    )
    assert decision.predicted_latency_s == pytest.approx(float(cost.latency_s), rel=1e-12)
    assert decision.predicted_energy_j == pytest.approx(float(cost.energy_j), rel=1e-12)
    kept = 0.7 * BERT.device_params[4] + 0.9 * BERT.server_params[4]
    assert decision.predicted_distortion == pytest.approx(
        float(distortion_bound(kept, BERT.total_params)), rel=1e-12
    )


def test_feasibility_flag_follows_the_budgets():
    policy = fixed(split=4)
    assert policy.decide(context(deadline_s=0.26, energy_budget_j=1.0)).feasible
    assert not policy.decide(context(deadline_s=0.20, energy_budget_j=1.0)).feasible
    assert not policy.decide(context(deadline_s=1.0, energy_budget_j=0.01)).feasible


def test_unknown_parameters_are_refused():
    with pytest.raises(
        ValueError, match=r"splitt: unknown field 'splitt' \(got 3\); did you mean 'split'\?"
    ):
        fixed(splitt=3)
