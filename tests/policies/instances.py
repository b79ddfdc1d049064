"""Random feasible instances of (P1) around the paper's setting, for comparing solvers.

``random_instances(count, seed)`` draws, per instance (all from one ``numpy`` generator, so the
list depends only on ``seed``):

* the model: ``bert-paper`` or ``bart-paper``;
* the uplink gain: log-uniform over 20 dB centred on the paper's 2.77e-11;
* the bandwidth: log-uniform over 1–20 MHz;
* the deadline T0: uniform over 0.1–0.5 s; the energy budget E0: log-uniform over 3–40 mJ;
* the work scale: log-uniform over 0.5–2 (it scales FLOPs and payload);
* the floor ρ_min of both kept fractions: 0 or 0.3;
* in about a third of the instances a random subset of one to four split points, else all;
* in about a quarter, clock floors f_lo of 5–50 % of the top clocks;
* with ``pins=True``, in about a fifth, one of the paper's baselines pinned (fixed power,
  fixed clocks, prune device only, prune server only).

An instance is kept only if a feasible point is known: a coarse pass of the dense-grid reference
(no refinement, a few hundred grid points per split) found one. Draws without one are redrawn,
so a few barely feasible instances are never produced, which is fine for comparisons.
"""

from __future__ import annotations

import numpy as np

from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.policies.problem import Problem
from tests.oracles.dense_grid import solve_dense_grid
from tests.policies.contexts import context

MODELS = ("bert-paper", "bart-paper")
PAPER_GAIN = 2.77e-11

_CATALOG = ModelCatalog.builtin()


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def random_problem(rng: np.random.Generator, pins: bool = False) -> Problem:
    """One random instance (not checked for feasibility)."""
    model = _CATALOG.get(MODELS[rng.integers(len(MODELS))])
    ctx = context(
        model=model,
        gain=PAPER_GAIN * 10 ** rng.uniform(-1.0, 1.0),
        mean_gain=PAPER_GAIN,
        bandwidth_hz=_log_uniform(rng, 1e6, 20e6),
        deadline_s=float(rng.uniform(0.1, 0.5)),
        energy_budget_j=_log_uniform(rng, 3e-3, 40e-3),
        work_scale=_log_uniform(rng, 0.5, 2.0),
    )
    problem = Problem.from_context(ctx, rho_min=float(rng.choice([0.0, 0.3])))
    if rng.uniform() < 1 / 3:
        count = int(rng.integers(1, 5))
        keep = np.sort(rng.choice(len(problem.splits), size=count, replace=False))
        problem = problem.only_splits(keep)
    if rng.uniform() < 1 / 4:
        problem = problem.pinned(
            f_device_lo_hz=rng.uniform(0.05, 0.5) * problem.f_device_hi_hz,
            f_server_lo_hz=rng.uniform(0.05, 0.5) * problem.f_server_hi_hz,
        )
    if pins and rng.uniform() < 1 / 5:
        problem = _baseline(problem, int(rng.integers(4)))
    return problem


def _baseline(problem: Problem, which: int) -> Problem:
    """The problem of one of the paper's baselines (0..3), as pinned bounds."""
    if which == 0:  # fixed power
        return problem.pinned(p_lo_w=problem.p_hi_w)
    if which == 1:  # fixed clocks
        return problem.pinned(
            f_device_lo_hz=problem.f_device_hi_hz, f_server_lo_hz=problem.f_server_hi_hz
        )
    if which == 2:  # prune device only: the server runs unpruned
        return problem.pinned(rho_server_lo=1.0)
    return problem.pinned(rho_device_lo=1.0)  # prune server only


def has_feasible_point(problem: Problem) -> bool:
    """Whether a coarse dense-grid pass finds a point meeting both budgets."""
    return solve_dense_grid(problem, points=16, levels=0).feasible


def random_instances(count: int, seed: int, pins: bool = False) -> list[Problem]:
    """``count`` random feasible instances; the same list for the same arguments."""
    rng = np.random.default_rng(seed)
    found: list[Problem] = []
    while len(found) < count:
        problem = random_problem(rng, pins)
        if has_feasible_point(problem):
            found.append(problem)
    return found
