"""The paper's successive convex approximation (``policies.sca``), checked against the dense grid.

The SCA is the paper's own algorithm for (P1) at a fixed split; ``solve_sca_all`` runs it at
every split and keeps the best. These tests say what it must do: agree with the brute-force
reference on the paper's operating point and on random instances, return points that meet
both budgets when re-evaluated, report infeasible requests as such, never crash on odd inputs,
and keep more parameters when a budget is loosened.
"""

import itertools
import math

import numpy as np
import pytest

from coinfer.policies.problem import Problem
from coinfer.policies.sca import DEFAULTS, ScaSettings, solve_sca, solve_sca_all, upper_bound
from tests.oracles.dense_grid import solve_dense_grid
from tests.policies.contexts import context
from tests.policies.instances import random_instances

AGREEMENT = 1e-3  # 0.1 % of the kept parameters


def paper_problem(deadline_s=0.24, energy_budget_j=0.015, splits=(4,)) -> Problem:
    """BERT (paper preset) on the paper's device and server; default: Fig. 4(c)'s point."""
    ctx = context(deadline_s=deadline_s, energy_budget_j=energy_budget_j)
    return Problem.from_context(ctx, splits=list(splits))


def upload_energy_floor(problem: Problem, index: int) -> float:
    """The least upload energy, J, of an upload that meets the deadline (at the slowest power
    that does: the upload energy grows with the power)."""
    theta = float(problem.payload_bits[index])
    snr_per_w = problem.gain / (problem.bandwidth_hz * problem.noise_psd_w_per_hz)
    power = math.expm1(theta / (problem.bandwidth_hz * problem.deadline_s) * math.log(2))
    return power / snr_per_w * problem.deadline_s


def test_paper_point_of_fig_4c_agrees_with_the_dense_grid():
    problem = paper_problem()
    sca, grid = solve_sca(problem, 0), solve_dense_grid(problem)
    assert sca.feasible and grid.feasible
    assert sca.kept_params == pytest.approx(grid.kept_params, rel=AGREEMENT)
    # what the optimum looks like there: the server runs its part unpruned at a low clock, the
    # device keeps about a third of its part at its top clock
    assert sca.rho_server == pytest.approx(1.0, abs=1e-6)
    assert 0.30 < sca.rho_device < 0.36
    assert sca.f_device_hz == pytest.approx(1e9, rel=1e-6)
    assert sca.f_server_hz < 1e9


@pytest.fixture(
    scope="module", params=[20, pytest.param(50, marks=pytest.mark.slow)], ids=lambda n: f"{n}"
)
def compared(request):
    """Random instances (some with a paper baseline pinned) solved by both solvers: 20 by
    default, 50 with ``-m slow`` (and 200 in the test below)."""
    problems = random_instances(request.param, seed=2026, pins=True)
    return [(problem, solve_sca_all(problem), solve_dense_grid(problem)) for problem in problems]


def test_matches_the_dense_grid_on_random_instances(compared):
    gaps = []
    for _, sca, grid in compared:
        assert sca.feasible and grid.feasible
        gaps.append(abs(sca.kept_params - grid.kept_params) / grid.kept_params)
    assert max(gaps) <= AGREEMENT


def test_returned_points_meet_both_budgets_and_every_bound(compared):
    for problem, sca, _ in compared:
        latency, energy, kept = problem.evaluate(
            sca.index,
            sca.rho_device,
            sca.rho_server,
            sca.tx_power_w,
            sca.f_device_hz,
            sca.f_server_hz,
        )
        assert problem.meets_budgets(latency, energy)
        assert (latency, energy, kept) == (sca.latency_s, sca.energy_j, sca.kept_params)
        assert problem.splits[sca.index] == sca.split
        assert problem.rho_device_lo <= sca.rho_device <= problem.rho_device_hi
        assert problem.rho_server_lo <= sca.rho_server <= problem.rho_server_hi
        assert problem.f_device_lo_hz <= sca.f_device_hz <= problem.f_device_hi_hz
        assert problem.f_server_lo_hz <= sca.f_server_hz <= problem.f_server_hi_hz
        assert 0 < sca.tx_power_w <= problem.p_hi_w
        assert sca.tx_power_w >= problem.p_lo_w


@pytest.mark.slow
def test_matches_the_dense_grid_on_200_random_instances():
    worst = 0.0
    for problem in random_instances(200, seed=7, pins=True):
        sca, grid = solve_sca_all(problem), solve_dense_grid(problem)
        assert sca.feasible and grid.feasible
        latency, energy, _ = problem.evaluate(
            sca.index,
            sca.rho_device,
            sca.rho_server,
            sca.tx_power_w,
            sca.f_device_hz,
            sca.f_server_hz,
        )
        assert problem.meets_budgets(latency, energy)
        worst = max(worst, abs(sca.kept_params - grid.kept_params) / grid.kept_params)
    assert worst <= AGREEMENT


@pytest.mark.parametrize("gain", [2.77e-12, 2.77e-11, 2.77e-10])
@pytest.mark.parametrize("bandwidth_hz", [1e6, 5e6, 20e6])
def test_the_upload_energy_tangent_over_estimates_it_so_the_step_is_conservative(
    gain, bandwidth_hz
):
    # The paper linearises e_U(p) = p·θ/r(p) at the current power and calls the step
    # conservative: that holds because e_U is concave in p, so every tangent lies above it.
    theta = float(paper_problem().payload_bits[0])
    snr_per_w = gain / (bandwidth_hz * 2e-19)

    def energy(p):
        return p * theta * math.log(2) / (bandwidth_hz * np.log1p(snr_per_w * p))

    def slope(p):
        x = snr_per_w * p
        return energy(p) / p * (1 - x / ((1 + x) * np.log1p(x)))

    power = np.geomspace(1e-6, 10.0, 400)
    for p0 in np.geomspace(1e-6, 10.0, 60):
        tangent = energy(p0) + slope(p0) * (power - p0)
        assert np.all(tangent >= energy(power) * (1 - 1e-12))


def test_an_energy_budget_below_the_upload_energy_is_infeasible():
    # every split with a payload (the last one, all on the device, has none)
    problem = paper_problem(splits=range(12))
    floor = upload_energy_floor(problem, 0)
    starved = problem.pinned(energy_budget_j=0.5 * floor)
    assert not solve_sca_all(starved).feasible
    assert not solve_dense_grid(starved).feasible


@pytest.mark.parametrize("margin", [1e-6, -1e-6])
def test_with_no_floor_on_the_ratios_feasible_means_the_upload_alone_fits(margin):
    # ρ_min = 0: the request is feasible exactly when some power meets both the deadline and
    # the energy budget with the upload alone; at the boundary, both solvers see it
    problem = paper_problem()
    problem = problem.pinned(energy_budget_j=upload_energy_floor(problem, 0) * (1 + margin))
    feasible = margin > 0
    assert solve_sca(problem, 0).feasible == feasible
    assert solve_dense_grid(problem).feasible == feasible


def test_a_floor_on_the_ratios_that_no_clock_can_meet_in_time_is_infeasible():
    # ρ_min = 0.3 of BERT cannot run anywhere within 10 ms, even at the top clocks
    problem = paper_problem(deadline_s=0.01, splits=range(13))
    problem = problem.pinned(rho_device_lo=0.3, rho_server_lo=0.3)
    assert not solve_sca_all(problem).feasible
    assert not solve_dense_grid(problem).feasible


@pytest.mark.parametrize(
    "sweep",
    [
        {"deadline_s": np.linspace(0.22, 0.26, 5), "energy_budget_j": [0.015]},  # Fig. 4(c)
        {"deadline_s": [0.35], "energy_budget_j": np.linspace(0.006, 0.010, 5)},  # Fig. 4(d)
    ],
)
def test_kept_parameters_do_not_decrease_as_a_budget_grows(sweep):
    kept = {"sca": [], "grid": []}
    for deadline in sweep["deadline_s"]:
        for budget in sweep["energy_budget_j"]:
            problem = paper_problem(deadline, budget)
            kept["sca"].append(solve_sca(problem, 0).kept_params)
            kept["grid"].append(solve_dense_grid(problem).kept_params)
    for series in kept.values():
        assert all(b >= a * (1 - 1e-9) for a, b in itertools.pairwise(series))
        assert series[-1] > series[0]


@pytest.mark.parametrize("split", [0, 12])
def test_splits_with_one_side_idle_are_handled(split):
    # split 0: nothing runs on the device; split 12: nothing on the server and no upload
    problem = paper_problem(splits=[split])
    sca, grid = solve_sca(problem, 0), solve_dense_grid(problem)
    assert sca.feasible and grid.feasible
    assert sca.kept_params == pytest.approx(grid.kept_params, rel=AGREEMENT)
    idle_clock = sca.f_device_hz if split == 0 else sca.f_server_hz
    assert idle_clock > 0


ODD = {
    "no deadline": {"deadline_s": math.inf},
    "no energy budget": {"energy_budget_j": math.inf},
    "no budgets": {"deadline_s": math.inf, "energy_budget_j": math.inf},
    "no radio": {"p_hi_w": 0.0},
    "fixed clocks": {"f_device_lo_hz": 1e9, "f_server_lo_hz": 4e9},
    "fixed power": {"p_lo_w": 0.5},
    "fixed device ratio": {"rho_device_lo": 0.5, "rho_device_hi": 0.5},
    "nothing may be kept": {"rho_device_hi": 0.0, "rho_server_hi": 0.0},
    "zero gain": {"gain": 0.0},
    "no gain estimate": {"gain": math.nan},
    "zero deadline": {"deadline_s": 0.0},
    "zero energy": {"energy_budget_j": 0.0},
    "negative deadline": {"deadline_s": -1.0},
    "device without clock": {"f_device_hi_hz": 0.0},
    "huge band": {"bandwidth_hz": 1e12},
    "tiny band": {"bandwidth_hz": 1.0},
    "tiny energy": {"energy_budget_j": 1e-9},
}


@pytest.mark.parametrize("changes", ODD.values(), ids=ODD.keys())
def test_odd_inputs_never_crash_and_both_solvers_agree(changes):
    problem = paper_problem(0.3, 0.01, splits=range(13)).pinned(**changes)
    sca, grid = solve_sca_all(problem), solve_dense_grid(problem)
    assert sca.feasible == grid.feasible
    if sca.feasible:
        assert problem.meets_budgets(sca.latency_s, sca.energy_j)
        assert sca.kept_params == pytest.approx(grid.kept_params, rel=AGREEMENT, abs=1.0)


def test_skipping_hopeless_splits_changes_nothing():
    # solve_sca_all skips a split whose upper bound cannot beat the best found so far
    exhaustive = ScaSettings(**{**DEFAULTS.__dict__, "prune_splits": False})
    for problem in random_instances(4, seed=99):
        pruned, full = solve_sca_all(problem), solve_sca_all(problem, exhaustive)
        assert pruned.kept_params == full.kept_params
        for index in range(len(problem.splits)):
            found = solve_sca(problem, index)
            assert upper_bound(problem, index) >= found.kept_params * (1 - 1e-12)
