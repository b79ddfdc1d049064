"""The joint solver's warm start (``coinfer.policies.joint_warm``): what it guarantees.

A warm solve refines the splits from the previous solution of the same key (a device) and is
kept only when the Lagrangian dual bound of every split at the point found certifies it within
a relative 1e-9 of the optimum; otherwise the exact path runs. These tests prove the pieces and
the whole: the scalar bound equals the vectorised bound of ``joint_bound`` and bounds each
split's optimum from above; on many random problems (every structure ``instances.py`` draws:
floors on the kept fractions, subsets of splits, clock floors, pinned baselines, infeasible
ones), chained through one key so that each starts from a different problem's solution, a warm
solution is feasible exactly when the exact one is and keeps the same parameters within a
relative 1e-9; and the warm start is taken, not skipped.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from coinfer.policies.joint_bound import _least_bounds
from coinfer.policies.joint_family import Family
from coinfer.policies.joint_solver import JointSolver
from coinfer.policies.joint_static import StaticPart
from coinfer.policies.joint_warm import bounds_at, usable_rows
from coinfer.policies.registry import make_policy
from tests.policies.instances import random_problem
from tests.policies.test_joint import random_contexts


def problems(count: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [random_problem(rng, pins=True) for _ in range(count)]


def test_the_scalar_bound_is_the_vectorised_bound_at_one_point():
    """``bounds_at`` at s gives what ``_least_bounds`` gives on a grid of that one s (relative
    1e-12: math and numpy round a few functions differently in the last bit)."""
    rng = np.random.default_rng(3)
    checked = 0
    for problem in problems(60, seed=1):
        family = Family(problem, StaticPart(problem))
        rows = usable_rows(family)
        if not rows:
            continue
        for s in rng.uniform(-12.0, 4.0, size=4):
            scalar = bounds_at(family, float(s), rows)
            grid = np.full((len(rows), 3), s)
            vectorised, _ = _least_bounds(family, np.array(rows), grid)
            for one, other in zip(scalar, vectorised.tolist(), strict=True):
                if math.isinf(other) or math.isinf(one):
                    assert one == other
                else:
                    assert one == pytest.approx(other, rel=1e-12, abs=1e-6)
                checked += 1
    assert checked > 500


def test_the_bound_at_any_point_is_above_each_splits_optimum():
    """Weak duality: at any s, each feasible split's bound is at least its optimum (the exact
    solver on that split alone), so never −inf for it."""
    rng = np.random.default_rng(4)
    solver = JointSolver()
    checked = 0
    for problem in problems(25, seed=2):
        family = Family(problem, StaticPart(problem))
        for row in usable_rows(family):
            alone = solver.solve(problem.only_splits([row]))
            if not alone.feasible:
                continue
            for s in rng.uniform(-12.0, 4.0, size=3):
                (bound,) = bounds_at(family, float(s), [row])
                assert bound >= alone.kept_params * (1 - 1e-12)
                checked += 1
    assert checked > 100


def test_warm_solutions_are_the_exact_ones_within_1e_9():
    """400 random problems in a row, each warm-started from the solution of the one before:
    feasible exactly when the exact path's is, the same kept parameters within a relative 1e-9,
    both meeting the budgets; and most of them are answered warm."""
    exact, warm = JointSolver(), JointSolver()
    feasible = 0
    for problem in problems(400, seed=5):
        one, two = exact.solve(problem), warm.solve(problem, hint="device")
        assert one.feasible == two.feasible
        if one.feasible:
            feasible += 1
            assert two.kept_params == pytest.approx(one.kept_params, rel=1e-9)
            assert problem.meets_budgets(two.latency_s, two.energy_j)
    assert feasible > 200
    assert warm.warm_solves > 0.6 * feasible
    assert exact.warm_solves == 0


def test_without_a_certificate_the_exact_path_runs():
    """An infeasible problem has no point to certify: it is solved the exact way, warm start
    or not, and the hint it leaves behind changes nothing."""
    solver = JointSolver()
    drawn = problems(200, seed=7)
    feasible = next(p for p in drawn if JointSolver().solve(p).feasible)
    infeasible = next(p for p in drawn if not JointSolver().solve(p).feasible)
    assert solver.solve(feasible, hint="device").feasible
    before = solver.exact_solves
    assert not solver.solve(infeasible, hint="device").feasible
    assert solver.exact_solves == before + 1


def test_the_joint_policy_decides_alike_warm_or_exact():
    """``joint`` with ``warm_start: true`` and without (the default): the same admissions and
    feasibility, the same kept parameters within 1e-9, on varied requests of one device."""
    params = {"channel_step_db": 0.0, "cache_size": 0}
    warm = make_policy("joint", {**params, "warm_start": True}, np.random.default_rng(0))
    exact = make_policy("joint", params, np.random.default_rng(0))
    for ctx in random_contexts(150, seed=8):
        one, two = exact.decide(ctx), warm.decide(ctx)
        assert (one.admit, one.feasible) == (two.admit, two.feasible)
        kept = [
            d.rho_device * ctx.model.device_params[d.split]
            + d.rho_server * ctx.model.server_params[d.split]
            for d in (one, two)
        ]
        assert kept[1] == pytest.approx(kept[0], rel=1e-9)
    assert warm.solver.warm_solves > 100 and exact.solver.warm_solves == 0
