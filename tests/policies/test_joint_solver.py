"""The fast joint solver against a fine run of the former grid search and a Lagrangian bound.

Two independent checks of :meth:`JointSolver.solve`:

* a very fine configuration of the former search (:func:`tests.oracles.grid_search.solve_grid`,
  grids and zooms over split, power and power level) never finds more kept parameters (beyond
  1e-4), nor a feasible point where the solver finds none;
* the Lagrangian dual of (P1), evaluated here from scratch on a dense grid of multiplier ratios,
  bounds every split's optimum from above: the solver's answer must reach the bound (it is
  optimal) and the bound must be −inf where the solver says infeasible (no point exists).

Every point returned is re-evaluated with :meth:`Problem.evaluate` and must meet both budgets.
"""

import math

import numpy as np
import pytest

from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.policies.joint_solver import JointSolver
from coinfer.policies.problem import Problem
from tests.oracles.grid_search import GridSearchSizes, solve_grid
from tests.policies.contexts import HARDWARE, context
from tests.policies.test_joint import random_contexts

FINE = GridSearchSizes(
    power_points=48,
    level_points=96,
    power_zoom_points=13,
    level_zoom_points=25,
    zooms=6,
    level_zooms=6,
    level_zooms_warm=6,
    keep_splits_within=0.1,
)
SOLVER = JointSolver()


def variants(ctx):
    """The problem of ``ctx`` and the pinned forms the policies and baselines solve."""
    problem = Problem.from_context(ctx)
    middle = Problem.from_context(ctx, splits=list(range(1, 12)))
    return {
        "all splits": problem,
        "split 4, rho_min 0.3": Problem.from_context(ctx, splits=[4], rho_min=0.3),
        "middle splits, rho_min 0.3": Problem.from_context(
            ctx, splits=list(range(1, 12)), rho_min=0.3
        ),
        "fixed power": middle.pinned(p_lo_w=middle.p_hi_w),
        "fixed clocks": middle.pinned(
            f_device_lo_hz=middle.f_device_hi_hz, f_server_lo_hz=middle.f_server_hi_hz
        ),
        "server unpruned": problem.pinned(rho_server_lo=1.0, rho_server_hi=1.0),
        "device unpruned": middle.pinned(rho_device_lo=1.0, rho_device_hi=1.0),
        "on device": Problem.from_context(ctx, splits=[12]),
    }


def check_point(problem, solution):
    """A feasible answer is what it says and meets both budgets when re-evaluated."""
    if not solution.feasible:
        return
    assert problem.splits[solution.index] == solution.split
    assert problem.rho_device_lo <= solution.rho_device <= problem.rho_device_hi
    assert problem.rho_server_lo <= solution.rho_server <= problem.rho_server_hi
    assert problem.p_lo_w <= solution.tx_power_w <= problem.p_hi_w
    assert problem.f_device_lo_hz <= solution.f_device_hz <= problem.f_device_hi_hz * (1 + 1e-12)
    assert problem.f_server_lo_hz <= solution.f_server_hz <= problem.f_server_hi_hz * (1 + 1e-12)
    latency, energy, kept = problem.evaluate(
        solution.index,
        solution.rho_device,
        solution.rho_server,
        solution.tx_power_w,
        solution.f_device_hz,
        solution.f_server_hz,
    )
    assert (latency, energy, kept) == (solution.latency_s, solution.energy_j, solution.kept_params)
    assert latency <= problem.deadline_s and energy <= problem.energy_budget_j


# ---- an independent upper bound: the Lagrangian dual of (P1) -----------------------------------


def lagrangian_bound(problem: Problem, points: int = 2001, zooms: int = 10) -> float:
    """Max over splits of min over multipliers (λ, μ) = μ·(Λ, 1) of the Lagrangian dual.

    For given multipliers the Lagrangian's maximum separates: the transmit power minimises
    ``(Λ + p)·θ/r(p)`` (at ``p = v`` with ``Λ = ((1 + c·v)·ln(1 + c·v) − c·v)/c``, clipped), each
    clock minimises ``Λ/f + k·f²`` (``k·f³ = Λ/2``, clipped), and each kept fraction sits at a
    bound; what is left is convex piecewise linear in μ, least at a breakpoint. Any multipliers
    give an upper bound; the least over a dense grid of ``ln v`` (then zoomed) is the optimum
    of the convex problem. −inf: the lowest kept fractions cannot be paid for (infeasible).
    """
    c = problem.gain / (problem.bandwidth_hz * problem.noise_psd_w_per_hz)
    budgets = min(problem.deadline_s, 1e30), min(problem.energy_budget_j, 1e30)
    bounds = []
    for j in range(len(problem.splits)):
        low, high = -250.0, 250.0
        best = math.inf
        for round_ in range(zooms + 1):
            s = np.linspace(low, high, points if round_ == 0 else 41)
            values = _dual(problem, j, c, budgets, s)
            k = int(np.argmin(values))
            best = min(best, float(values[k]))
            step = s[1] - s[0]
            low, high = s[k] - step, s[k] + step
        top = problem.rho_device_hi * problem.device_params[j]
        bounds.append(min(best, top + problem.rho_server_hi * problem.server_params[j]))
    return max(bounds)


def _dual(problem, j, c, budgets, s):
    with np.errstate(all="ignore"):
        v = np.exp(s)
        y = c * v
        series = y * y * (0.5 - y * (1 / 6 - y * (1 / 12 - y / 20)))
        lam = np.where(y < 1e-3, series, (1 + y) * np.log1p(y) - y) / c
        p = np.clip(v, problem.p_lo_w, problem.p_hi_w)
        theta = problem.payload_bits[j]
        rate = problem.bandwidth_hz * np.log1p(c * p) / math.log(2)  # (log1p: tiny p too)
        upload = theta / rate if theta > 0 else 0.0
        budget = lam * budgets[0] + budgets[1] - (lam + p) * upload
        costs = []
        for cycles, k, lo, hi in (
            (
                problem.device_cycles[j],
                problem.device_k,
                problem.f_device_lo_hz,
                problem.f_device_hi_hz,
            ),
            (
                problem.server_cycles[j],
                problem.server_k,
                problem.f_server_lo_hz,
                problem.f_server_hi_hz,
            ),
        ):
            f = np.clip(np.cbrt(lam / (2 * k)), max(lo, 1e-300), hi)
            costs.append(cycles * (lam / f + k * f * f))
        q = (problem.device_params[j], problem.server_params[j])
        boxes = (
            (problem.rho_device_lo, problem.rho_device_hi),
            (problem.rho_server_lo, problem.rho_server_hi),
        )
        candidates = []
        for side in (0, 1):
            other = 1 - side
            mu = q[side] / costs[side]
            rest = q[other] - mu * costs[other]
            term = np.maximum(boxes[other][0] * rest, boxes[other][1] * rest)
            candidates.append(np.where(np.isfinite(mu), mu * budget + term, np.inf))
        bound = np.fmin(candidates[0], candidates[1])
        lows = budget - boxes[0][0] * costs[0] - boxes[1][0] * costs[1]
    return np.where(lows < 0.0, -np.inf, bound)


# ---- the tests ------------------------------------------------------------------------------


def test_it_matches_a_fine_run_of_the_former_search():
    contexts = random_contexts(5, seed=21)
    checked = 0
    for ctx in contexts:
        for name, problem in variants(ctx).items():
            ours, reference = SOLVER.solve(problem), solve_grid(problem, FINE)
            check_point(problem, ours)
            if reference.feasible:
                assert ours.feasible, name
                assert ours.kept_params >= reference.kept_params * (1 - 1e-4), name
            checked += 1
    assert checked == 40


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_it_reaches_the_lagrangian_bound(seed):
    """Optimal to 1e-6 on every variant, and infeasible only where the bound proves it."""
    for ctx in random_contexts(4, seed=seed):
        for name, problem in variants(ctx).items():
            ours = SOLVER.solve(problem)
            check_point(problem, ours)
            bound = lagrangian_bound(problem)
            if not ours.feasible:
                assert bound == -math.inf, name
                continue
            assert ours.kept_params <= bound * (1 + 1e-9), name
            assert ours.kept_params >= bound * (1 - 1e-6), name


MODELS = ModelCatalog.builtin()


@pytest.mark.parametrize(
    "model, device, server",
    [
        ("bert-base", "phone-soc", "l4"),
        ("gpt2", "jetson-orin-nano", "a100"),
        ("vit-b-16", "laptop-cpu", "h100"),
        ("resnet-50", "paper-device", "l4"),
    ],
)
def test_it_reaches_the_bound_on_other_hardware(model, device, server):
    """Clock floors above 0, big payloads, a server whose lowest level is above the device's
    highest (nothing moves in between)."""
    rng = np.random.default_rng(7)
    for _ in range(6):
        ctx = context(
            model=MODELS.get(model),
            device=HARDWARE.get(device),
            server=HARDWARE.get(server),
            gain=1e-11 * 10 ** rng.uniform(-1.5, 1.5),
            bandwidth_hz=rng.uniform(1e6, 40e6),
            work_scale=rng.uniform(0.5, 2.0),
        )
        problem = Problem.from_context(ctx)
        middle = len(problem.splits) // 2
        latency, energy, _ = problem.evaluate(
            middle, 1.0, 1.0, problem.p_hi_w, problem.f_device_hi_hz, problem.f_server_hi_hz
        )
        problem = problem.pinned(
            deadline_s=latency * 10 ** rng.uniform(-1.0, 0.3),
            energy_budget_j=energy * 10 ** rng.uniform(-1.5, 0.3),
            p_lo_w=problem.p_hi_w if rng.random() < 0.3 else 0.0,
        )
        ours = SOLVER.solve(problem)
        check_point(problem, ours)
        bound = lagrangian_bound(problem)
        if ours.feasible:
            assert bound * (1 - 1e-6) <= ours.kept_params <= bound * (1 + 1e-9)
        else:
            assert bound == -math.inf


def test_edge_cases():
    ctx = context(deadline_s=0.24, energy_budget_j=0.015)
    problem = Problem.from_context(ctx)
    # no budget at all: everything kept
    free = problem.pinned(deadline_s=math.inf, energy_budget_j=math.inf)
    assert SOLVER.solve(free).kept_params == pytest.approx(problem.total_params, rel=1e-12)
    # only one budget
    for one in (problem.pinned(deadline_s=math.inf), problem.pinned(energy_budget_j=math.inf)):
        solution = SOLVER.solve(one)
        check_point(one, solution)
        assert solution.kept_params == pytest.approx(lagrangian_bound(one), rel=1e-6)
    # everything pinned: a single point to check
    pinned = Problem.from_context(ctx, splits=[4]).pinned(
        p_lo_w=0.5,
        f_device_lo_hz=problem.f_device_hi_hz,
        f_server_lo_hz=problem.f_server_hi_hz,
    )
    check_point(pinned, SOLVER.solve(pinned))
    # no channel: only the split that sends nothing can work
    silent = problem.pinned(gain=0.0)
    solution = SOLVER.solve(silent)
    assert solution.feasible and solution.split == 12
    # nothing feasible, nothing to choose from
    assert not SOLVER.solve(problem.pinned(deadline_s=1e-4, rho_device_lo=0.5)).feasible
    assert not SOLVER.solve(problem.only_splits(np.array([], dtype=int))).feasible


def test_least_energy_still_meets_the_deadline_unpruned():
    problem = Problem.from_context(context(deadline_s=0.3, energy_budget_j=1.0), splits=[4])
    pinned = problem.pinned(
        rho_device_lo=1.0, rho_device_hi=1.0, rho_server_lo=1.0, rho_server_hi=1.0
    )
    solution = SOLVER.least_energy(pinned)
    assert solution.feasible and solution.rho_device == solution.rho_server == 1.0
    assert solution.latency_s == pytest.approx(0.3, rel=1e-6)
    assert solution.energy_j <= SOLVER.solve(pinned).energy_j * (1 + 1e-6)
