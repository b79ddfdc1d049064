"""``joint-compact`` with ``warm_start: true``: the exact solver's decisions, warm-started.

``joint-compact`` solves one problem of (P1) per member model, width pair and memory-capped part
(``solve_within_memory``) within one decision. With the warm start each of those sub-problems
starts from where the same device's solve of the same sub-problem ended (its own warm state:
one state shared by different problems would chain them into one another), and a later width
pair or capped split replaces the best so far only when it keeps more by over the warm start's
tolerance (a relative 1e-9), so that the warm start's last digits do not break a tie the exact
solver breaks for the first listed (the wider pair; at split 0 the device's width keeps
nothing, so every device width ties). These tests prove it against the exact path on random
requests (``test_joint_fast.random_request``: both models, clock floors, edge and infeasible
deadlines) with memory caps that bind at some widths and not at others.
"""

from __future__ import annotations

import numpy as np
import pytest

from coinfer.emulator.model.quantization import resolve_bits
from coinfer.policies.compact import compact_problem, memory_caps, solve_within_memory
from coinfer.policies.joint_solver import JointSolver
from coinfer.policies.problem import Problem
from coinfer.policies.registry import make_policy
from tests.policies.test_joint_fast import random_request

#: Policy parameters the requests are decided under (each with its own pair of policies): a
#: few widths each (the default seven make a decision 49 solves: slow for the default suite).
SETTINGS = (
    {"weight_bits": [0, 8, 4]},
    {"weight_bits": [16, 8, 3], "rho_min": 0.3},
    {"weight_bits": [0, 6], "splits": [0, 1, 4], "payload_bits": 8},
    {"weight_bits": [0, 8, 2], "splits": [2, 6, 12]},
)
EXACT = {"channel_step_db": 0.0, "cache_size": 0}


def compact_request(rng: np.random.Generator):
    """A random request whose device holds 0.1 to 3 bytes per parameter of the model's largest
    device side: the model's own 32 bits never fit unpruned, 8 bits fit at some splits."""
    ctx = random_request(rng)
    memory = float(ctx.model.device_params.max() * rng.uniform(0.1, 3.0))
    return ctx._replace(device=ctx.device.model_copy(update={"memory_bytes": memory}))


def bits_of(decision, ctx):
    return resolve_bits(
        ctx.model,
        decision.weight_bits_device,
        decision.weight_bits_server,
        decision.payload_bits_per_value,
        0,
    )


def kept_bits(decision, ctx) -> float:
    """The objective: bits kept, ρ·q·b_d + ρ̃·s·b_s."""
    bits = bits_of(decision, ctx)
    split = decision.split
    return float(
        decision.rho_device * ctx.model.device_params[split] * bits.weight_bits_device
        + decision.rho_server * ctx.model.server_params[split] * bits.weight_bits_server
    )


def alone(decision, ctx, setting) -> float:
    """The bits the exact solver keeps at the decision's split and widths alone (within the
    device's memory), the way ``joint-compact`` states that problem."""
    bits = bits_of(decision, ctx)
    native = Problem.from_context(ctx, splits=[decision.split], rho_min=setting.get("rho_min", 0))
    problem = compact_problem(native, ctx.model, bits)
    caps = memory_caps(problem, ctx.model, bits, ctx.device.memory_bytes)
    solver = JointSolver()
    return solve_within_memory(lambda p, part: solver.solve(p), problem, caps).kept_params


def test_warm_decisions_are_the_exact_solvers_on_random_requests():
    """300 random requests, each policy pair fed the same requests so that each warm solve
    starts from an earlier request's solution of the same sub-problem:

    * the same admission and feasibility, infeasible requests included;
    * the same bits kept within a relative 1e-9, within both budgets and the device's memory;
    * the same split, except where another keeps as much within 1e-9 (a tie, checked by
      solving that split at those widths alone: measured, splits that keep everything), and
      at the same split the same widths (ties between widths go to the first listed, as on the
      exact path: at split 0 every device width keeps the same);
    * and most solves are warm.
    """
    agree_warm_and_exact(SETTINGS, 300, seed=11)


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["kept-parameters", "quality"])
def test_warm_decisions_are_the_exact_solvers_at_every_default_width(objective):
    """As above at the default seven widths (49 pairs a decision) and either objective."""
    settings = ({"objective": objective}, {"objective": objective, "rho_min": 0.3})
    agree_warm_and_exact(settings, 300, seed=12)


def agree_warm_and_exact(settings, count: int, seed: int) -> None:
    """The checks of the test above on ``count`` requests, one policy pair per setting."""
    rng = np.random.default_rng(seed)
    pairs = [
        (
            make_policy("joint-compact", {**setting, **EXACT, "warm_start": True}, rng),
            make_policy("joint-compact", {**setting, **EXACT}, rng),
            setting,
        )
        for setting in settings
    ]
    feasible = infeasible = ties = 0
    for i in range(count):
        warm, exact, setting = pairs[i % len(pairs)]
        ctx = compact_request(rng)
        one, two = warm.decide(ctx), exact.decide(ctx)
        assert (one.admit, one.feasible) == (two.admit, two.feasible)
        if not two.feasible:
            infeasible += 1
            continue
        feasible += 1
        assert kept_bits(one, ctx) == pytest.approx(kept_bits(two, ctx), rel=1e-9)
        assert one.predicted_latency_s <= ctx.deadline_s * (1 + 1e-9)
        assert one.predicted_energy_j <= ctx.energy_budget_j * (1 + 1e-9)
        bits = bits_of(one, ctx)
        weights = one.rho_device * ctx.model.device_params[one.split] * bits.weight_bits_device
        assert weights / 8 <= ctx.device.memory_bytes * (1 + 1e-9)
        widths = (one.weight_bits_device, one.weight_bits_server)
        if one.split == two.split:  # ties between widths go to the first listed, as exact
            assert widths == (two.weight_bits_device, two.weight_bits_server)
        else:
            assert alone(one, ctx, setting) == pytest.approx(kept_bits(two, ctx), rel=1e-9)
            ties += 1
    assert feasible > 200 and infeasible > 10
    assert ties < 0.05 * feasible
    solvers = [warm.solver for warm, _, _ in pairs]
    assert sum(s.warm_solves for s in solvers) > 0.6 * sum(s.exact_solves for s in solvers)
    assert all(exact.solver.warm_solves == 0 for _, exact, _ in pairs)


def test_each_device_and_sub_problem_warm_starts_from_its_own_previous_solve():
    """A device's first request is solved the exact way (no state of its own yet, none
    borrowed from another device or sub-problem), its next ones mostly warm; a second device
    starts over. (Before, ``joint-compact`` warm-started nothing until a request fell back to
    ``joint``'s own decision, then every sub-problem of every device from that device's last.)"""
    rng = np.random.default_rng(0)
    policy = make_policy("joint-compact", {**SETTINGS[0], **EXACT, "warm_start": True}, rng)
    ctx = compact_request(np.random.default_rng(2))._replace(deadline_s=0.3, energy_budget_j=0.02)
    solver = policy.solver
    for step, device in enumerate(("a", "a", "a", "b", "b")):
        warm, exact = solver.warm_solves, solver.exact_solves
        decision = policy.decide(ctx._replace(device_id=device, gain=ctx.gain * 1.01**step))
        assert decision.feasible
        warm, exact = solver.warm_solves - warm, solver.exact_solves - exact
        if step in (0, 3):  # the device's first request
            assert warm == 0 and exact > 0
        else:
            assert warm > exact
