"""The paper's joint design and the baselines built on its solver."""

import numpy as np
import pytest

from coinfer.emulator.model.reference import co_inference_cost
from coinfer.policies.problem import Problem
from coinfer.policies.registry import make_policy
from tests.policies.contexts import BERT, HARDWARE, context

PAPER_POINT = dict(deadline_s=0.24, energy_budget_j=0.015)  # Fig. 4(c): T0 = 0.24 s, E0 = 15 mJ
PAPER_BASELINES = (
    "fixed-power",
    "fixed-frequency",
    "prune-device-only",
    "prune-server-only",
    "on-device",
    "on-server",
)


def policy(name, **params):
    return make_policy(name, params, np.random.default_rng(0))


def kept_fraction(decision, model=BERT):
    kept = (
        decision.rho_device * model.device_params[decision.split]
        + decision.rho_server * model.server_params[decision.split]
    )
    return kept / model.total_params


def measured(decision, ctx):
    """Latency and energy of a decision under the reference model, computed independently."""
    table = ctx.model.split_table
    device, server = ctx.device, ctx.server
    cost = co_inference_cost(
        device_flops=table.device_flops[decision.split] * ctx.work_scale,
        server_flops=table.server_flops[decision.split] * ctx.work_scale,
        payload_bits=table.payload_bits[decision.split] * ctx.work_scale,
        rho_device=decision.rho_device,
        rho_server=decision.rho_server,
        tx_power_w=decision.tx_power_w,
        f_device_hz=decision.f_device_hz,
        f_server_hz=decision.f_server_hz,
        gain=ctx.gain,
        bandwidth_hz=ctx.bandwidth_hz,
        noise_psd_w_per_hz=ctx.noise_psd_w_per_hz,
        device_flops_per_cycle=device.flops_per_cycle,
        device_power_coeff=device.power_coeff_w_per_hz3,
        device_pue=device.pue,
        server_flops_per_cycle=server.flops_per_cycle,
        server_power_coeff=server.power_coeff_w_per_hz3,
        server_pue=server.pue,
    )
    return float(cost.latency_s), float(cost.energy_j)


def random_contexts(count, seed):
    """Contexts around the paper's setting: channel, band, budgets and work all vary."""
    rng = np.random.default_rng(seed)
    return [
        context(
            gain=2.77e-11 * 10 ** rng.uniform(-1.0, 1.0),
            bandwidth_hz=rng.uniform(1e6, 20e6),
            deadline_s=rng.uniform(0.12, 0.5),
            energy_budget_j=rng.uniform(0.004, 0.04),
            work_scale=rng.uniform(0.5, 2.0),
        )
        for _ in range(count)
    ]


def test_the_paper_point_meets_both_budgets_exactly_as_predicted():
    ctx = context(**PAPER_POINT)
    decision = policy("joint", splits=[4]).decide(ctx)
    latency, energy = measured(decision, ctx)
    assert decision.feasible and decision.admit
    assert latency <= 0.24 * (1 + 1e-9) and energy <= 0.015 * (1 + 1e-9)
    assert (decision.predicted_latency_s, decision.predicted_energy_j) == pytest.approx(
        (latency, energy), rel=1e-12
    )
    # Both budgets bind at the optimum: nothing is left on the table.
    assert latency == pytest.approx(0.24, rel=1e-4) and energy == pytest.approx(0.015, rel=1e-3)


@pytest.mark.parametrize("baseline", PAPER_BASELINES)
def test_joint_is_never_worse_than_a_paper_baseline(baseline):
    for ctx in random_contexts(12, seed=hash(baseline) % 1000):
        joint = policy("joint", channel_step_db=0.0, work_step=0.0).decide(ctx)
        other = policy(baseline, channel_step_db=0.0, work_step=0.0).decide(ctx)
        if other.feasible:
            assert joint.feasible
            assert kept_fraction(joint) >= kept_fraction(other) * (1 - 1e-4)


def test_each_baseline_pins_what_it_does_not_optimise():
    ctx = context(**PAPER_POINT)
    device, server = HARDWARE.get("paper-device"), HARDWARE.get("paper-server")
    assert policy("fixed-power", splits=[4]).decide(ctx).tx_power_w == device.max_tx_power_w
    clocks = policy("fixed-frequency", splits=[4]).decide(ctx)
    assert (clocks.f_device_hz, clocks.f_server_hz) == (device.f_max_hz, server.f_max_hz)
    assert policy("prune-device-only", splits=[4]).decide(ctx).rho_server == 1.0
    assert policy("prune-server-only", splits=[4]).decide(ctx).rho_device == 1.0
    assert policy("on-device").decide(ctx).split == BERT.last_split
    assert policy("on-server").decide(ctx).split == 0


def test_prune_server_only_fails_the_tightest_delay_budget():
    """The paper's shape: under tight delay the weak device must run its part unpruned."""
    tight_delay = context(deadline_s=0.22, energy_budget_j=0.015)
    assert policy("joint", splits=[4]).decide(tight_delay).feasible
    assert not policy("prune-server-only", splits=[4]).decide(tight_delay).feasible


def test_more_budget_never_means_fewer_kept_parameters():
    joint = policy("joint", splits=[4], channel_step_db=0.0, work_step=0.0)
    by_delay = [
        kept_fraction(joint.decide(context(deadline_s=t0, energy_budget_j=0.015)))
        for t0 in (0.22, 0.23, 0.24, 0.25, 0.26)
    ]
    by_energy = [
        kept_fraction(joint.decide(context(deadline_s=0.35, energy_budget_j=e0)))
        for e0 in (0.006, 0.007, 0.008, 0.009, 0.010)
    ]
    assert by_delay == sorted(by_delay) and by_energy == sorted(by_energy)
    assert by_delay[0] < by_delay[-1] and by_energy[0] < by_energy[-1]


def test_the_decision_cache_is_conservative_and_costs_under_a_tenth_of_a_percent():
    exact = policy("joint", channel_step_db=0.0, work_step=0.0)
    cached = policy("joint")  # default: gain rounded down to 0.05 dB
    for ctx in random_contexts(25, seed=3):
        fast, slow = cached.decide(ctx), exact.decide(ctx)
        assert fast.feasible == slow.feasible
        if fast.feasible:
            latency, energy = measured(fast, ctx)
            assert latency <= ctx.deadline_s * (1 + 1e-9)
            assert energy <= ctx.energy_budget_j * (1 + 1e-9)
            assert kept_fraction(fast) >= kept_fraction(slow) * (1 - 1e-3)


def test_a_repeated_request_is_answered_from_the_cache():
    joint = policy("joint")
    ctx = context(**PAPER_POINT)
    first = joint.decide(ctx)
    assert joint.decide(ctx._replace(request_id=1, time_s=3.0)) == first
    assert len(joint._cache) == 1


def test_rho_min_is_a_floor_on_both_sides():
    decision = policy("joint", splits=[4], rho_min=0.5).decide(context(**PAPER_POINT))
    assert decision.rho_device >= 0.5 and decision.rho_server >= 0.5
    assert not policy("joint", splits=[4], rho_min=0.9).decide(context(**PAPER_POINT)).feasible


def test_an_infeasible_request_is_dropped_or_run_best_effort():
    # (With every split allowed and rho_min = 0, running nothing on the device is always
    # "feasible"; split 4 must upload.)
    hopeless = context(deadline_s=0.001, energy_budget_j=1e-6)
    dropped = policy("joint", splits=[4]).decide(hopeless)
    assert (dropped.feasible, dropped.admit) == (False, False)
    best = policy("joint", splits=[4], on_infeasible="best-effort").decide(hopeless)
    assert (best.feasible, best.admit) == (False, True)
    # Best effort: unpruned at top clocks and power, on the split with the least latency.
    assert (best.rho_device, best.rho_server, best.tx_power_w) == (1.0, 1.0, 0.5)
    fastest = policy("min-latency", splits=[4]).decide(hopeless)
    assert best.split == fastest.split
    assert best.predicted_latency_s == pytest.approx(fastest.predicted_latency_s)


def test_no_pruning_spends_the_least_energy_that_meets_the_deadline():
    ctx = context(deadline_s=0.3, energy_budget_j=1.0)
    decision = policy("no-pruning", splits=[4], channel_step_db=0.0, work_step=0.0).decide(ctx)
    assert (decision.rho_device, decision.rho_server) == (1.0, 1.0) and decision.feasible
    latency, energy = measured(decision, ctx)
    assert latency == pytest.approx(0.3, rel=1e-6)  # slower would miss T0, faster costs more
    top = policy("fixed", split=4).decide(ctx)
    assert energy < top.predicted_energy_j


def test_min_latency_picks_the_fastest_unpruned_split():
    ctx = context(**PAPER_POINT)
    decision = policy("min-latency").decide(ctx)
    latencies = [
        policy("fixed", split=split).decide(ctx).predicted_latency_s
        for split in range(BERT.last_split + 1)
    ]
    assert decision.predicted_latency_s == pytest.approx(min(latencies))


def test_random_is_reproducible_and_in_bounds():
    ctx = context(**PAPER_POINT)
    first = [policy("random").decide(ctx) for _ in range(2)]
    assert first[0] == first[1]  # same seed, same draws
    decisions = [make_policy("random", {}, np.random.default_rng(s)).decide(ctx) for s in range(50)]
    assert len({d.split for d in decisions}) > 5
    assert all(0 < d.tx_power_w <= 0.5 and 0 <= d.rho_device <= 1 for d in decisions)


def test_queue_aware_equals_joint_on_idle_queues_and_plans_for_waits():
    idle = context(deadline_s=0.3, energy_budget_j=0.015)
    joint = policy("joint", splits=[4]).decide(idle)
    aware = policy("joint-queue-aware", splits=[4])
    assert aware.decide(idle) == joint
    busy = idle._replace(device_backlog_s=0.03, server_backlog_s=0.02, server_queue_length=2)
    planned = aware.decide(busy)
    assert kept_fraction(planned) < kept_fraction(joint)
    assert planned.predicted_latency_s <= 0.3 * (1 + 1e-9)
    service = policy("fixed", split=4).decide(busy)  # (only to read the no-wait latency)
    assert service.predicted_latency_s > 0


def test_queue_aware_plans_for_a_shared_server():
    shared = context(deadline_s=0.3, energy_budget_j=0.015, server_discipline="ps")
    alone = policy("joint-queue-aware", splits=[4]).decide(shared)
    crowded = policy("joint-queue-aware", splits=[4]).decide(shared._replace(server_in_service=3))
    assert crowded.predicted_latency_s <= 0.3 * (1 + 1e-9)
    assert kept_fraction(crowded) < kept_fraction(alone)


def test_problem_from_context_scales_work_and_payload():
    ctx = context(work_scale=2.0)
    problem = Problem.from_context(ctx)
    assert problem.device_cycles[4] == pytest.approx(2 * BERT.device_flops[4] / 32)
    assert problem.payload_bits[4] == pytest.approx(2 * BERT.payload_bits[4])
