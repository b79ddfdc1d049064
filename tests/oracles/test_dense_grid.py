"""The dense-grid reference (``tests.oracles.dense_grid``): why its answers can be trusted.

The grid solver rests on three pieces, each checked here against something more naive: the
exact two-variable LP in the kept fractions (against a general LP solver), the closed-form
candidates for the best server clock (against a fine sweep of the clock), and the nested
grid search over power and device clock (against peaks it must find, and against a plain
exhaustive grid over all three of power and clocks). Then the whole: its points meet both
budgets and every bound, and skipping splits that cannot win changes nothing. The comparisons
with the paper's SCA, infeasibility and monotonicity are in ``tests/policies/test_sca.py``.
"""

import math

import numpy as np
import pytest
from scipy.optimize import linprog

from coinfer.policies.problem import Problem
from tests.oracles.dense_grid import (
    best_ratios,
    maximise,
    server_clock_candidates,
    solve_dense_grid,
)
from tests.policies.contexts import context
from tests.policies.instances import random_instances


def paper_problem(deadline_s=0.24, energy_budget_j=0.015, splits=(4,)) -> Problem:
    """BERT (paper preset) on the paper's device and server; default: Fig. 4(c)'s point."""
    ctx = context(deadline_s=deadline_s, energy_budget_j=energy_budget_j)
    return Problem.from_context(ctx, splits=list(splits))


def rows(problem: Problem, index: int, p, f, fs):
    """The LP's coefficients at power p, clocks f, f̃: (α_d, α_s, β_d, β_s, τ, ε)."""
    a_d, a_s = problem.device_cycles[index], problem.server_cycles[index]
    upload_s = problem.payload_bits[index] / problem.rate_bps(p)
    return (
        a_d / f,
        a_s / fs,
        problem.device_k * f**2 * a_d,
        problem.server_k * fs**2 * a_s,
        problem.deadline_s - upload_s,
        problem.energy_budget_j - p * upload_s,
    )


def test_the_lp_in_the_kept_fractions_is_solved_exactly():
    rng = np.random.default_rng(1)
    count = 300
    coefficients = rng.uniform(0.0, 1.0, (4, count))
    coefficients[:, rng.uniform(size=count) < 0.1] = 0.0  # some sides cost nothing
    left = rng.uniform(-0.2, 1.5, (2, count))
    q, s = 3.0, 2.0
    for box_d, box_s in [((0.0, 1.0), (0.0, 1.0)), ((0.3, 1.0), (0.3, 0.8))]:
        rho, rho_s, value = best_ratios(q, s, *coefficients, *left, box_d, box_s)
        for i in range(count):
            a = [coefficients[[0, 1], i], coefficients[[2, 3], i]]
            exact = linprog([-q, -s], A_ub=a, b_ub=left[:, i], bounds=[box_d, box_s])
            if exact.status == 2:  # infeasible
                assert value[i] == -np.inf
                continue
            assert value[i] == pytest.approx(-exact.fun, rel=1e-9, abs=1e-9)
            assert q * rho[i] + s * rho_s[i] == pytest.approx(value[i], rel=1e-12)
            assert box_d[0] <= rho[i] <= box_d[1] and box_s[0] <= rho_s[i] <= box_s[1]
            slack = left[:, i] - np.array(a) @ [rho[i], rho_s[i]]
            assert np.all(slack >= -1e-9)


@pytest.mark.parametrize("problem", [paper_problem(), *random_instances(3, seed=5)])
def test_the_best_server_clock_is_one_of_the_closed_form_candidates(problem):
    # at random powers and device clocks, the best LP over a fine sweep of the server clock
    # never beats the best LP at the candidates
    rng = np.random.default_rng(2)
    index = int(rng.integers(len(problem.splits)))
    p = np.geomspace(1e-3, problem.p_hi_w, 12)[:, np.newaxis]
    f = rng.uniform(0.05, 1.0, (1, 12)) * problem.f_device_hi_hz
    box_d = (problem.rho_device_lo, problem.rho_device_hi)
    box_s = (problem.rho_server_lo, problem.rho_server_hi)
    clock = (max(problem.f_server_lo_hz, 1e-4 * problem.f_server_hi_hz), problem.f_server_hi_hz)
    q, s = problem.device_params[index], problem.server_params[index]
    alpha_d, _, beta_d, _, tau, eps = rows(problem, index, p, f, 1.0)

    def kept(fs):
        alpha_s, beta_s = rows(problem, index, p, f, fs)[1::2][:2]
        return best_ratios(q, s, alpha_d, alpha_s, beta_d, beta_s, tau, eps, box_d, box_s)[2]

    candidates = server_clock_candidates(
        q, s, problem.server_cycles[index], problem.server_k, alpha_d, beta_d, tau, eps,
        box_d, box_s, clock,
    )  # fmt: skip
    found = np.max([kept(fs) for fs in candidates], axis=0)
    swept = np.max([kept(fs) for fs in np.geomspace(*clock, 4001)], axis=0)
    assert np.all((swept <= found * (1 + 1e-9)) | (swept == found))


@pytest.mark.parametrize(
    ("function", "peak"),
    [
        (lambda x: -np.abs(x - 0.123456789), 0.0),  # a kink
        (lambda x: np.minimum(3 * x, 1.0 - x), 0.75),  # an asymmetric kink
        (lambda x: np.minimum(1.0, 10 * x), 1.0),  # a plateau at the top
        (lambda x: np.where(x > 0.6, -np.inf, x), 0.6),  # infeasible beyond 0.6
    ],
)
def test_the_nested_search_finds_the_peak_of_quasi_concave_functions(function, peak):
    found = maximise(lambda x: np.stack([function(x), x]), 0.0, 1.0, 1, 32, 17, 6)
    assert found[0, 0] == pytest.approx(peak, abs=1e-6)


def test_beats_a_plain_exhaustive_grid_on_the_paper_point():
    # every (p, f, f̃) of a 60³ grid, each with its exact LP: the plain grid is a lower bound
    problem = paper_problem()
    p = np.geomspace(1e-4, 0.5, 60)[:, None, None]
    f = np.geomspace(1e7, 1e9, 60)[None, :, None]
    fs = np.geomspace(4e7, 4e9, 60)[None, None, :]
    box = (0.0, 1.0)
    q, s = problem.device_params[0], problem.server_params[0]
    plain = best_ratios(q, s, *rows(problem, 0, p, f, fs), box, box)[2].max()
    grid = solve_dense_grid(problem)
    assert plain <= grid.kept_params <= plain * 1.02


def test_skipping_splits_that_cannot_win_changes_nothing():
    for problem in random_instances(3, seed=11, pins=True):
        whole = solve_dense_grid(problem)
        alone = [solve_dense_grid(problem.only_splits([i])) for i in range(len(problem.splits))]
        assert whole.kept_params == max(found.kept_params for found in alone)


def test_returned_points_meet_both_budgets_and_every_bound():
    for problem in random_instances(8, seed=3, pins=True):
        grid = solve_dense_grid(problem)
        assert grid.feasible
        latency, energy, kept = problem.evaluate(
            grid.index,
            grid.rho_device,
            grid.rho_server,
            grid.tx_power_w,
            grid.f_device_hz,
            grid.f_server_hz,
        )
        assert problem.meets_budgets(latency, energy)
        assert (latency, energy, kept) == (grid.latency_s, grid.energy_j, grid.kept_params)
        assert problem.rho_device_lo <= grid.rho_device <= problem.rho_device_hi
        assert problem.rho_server_lo <= grid.rho_server <= problem.rho_server_hi
        assert problem.f_device_lo_hz <= grid.f_device_hz <= problem.f_device_hi_hz
        assert problem.f_server_lo_hz <= grid.f_server_hz <= problem.f_server_hi_hz
        assert max(problem.p_lo_w, 0.0) < grid.tx_power_w <= problem.p_hi_w


def test_no_split_means_infeasible():
    assert not solve_dense_grid(paper_problem().only_splits([])).feasible
    assert math.isinf(solve_dense_grid(paper_problem().only_splits([])).kept_params)
