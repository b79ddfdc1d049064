"""``joint``'s warm start without a Problem (``coinfer.policies.joint_fast``): what it guarantees.

With ``warm_start: true`` the ``joint`` policy solves a request from per-class tables and the
device's previous solutions, by Newton's steps on the corner of the split's last piece, and keeps
the point only with the certificate of ``joint_warm`` (every split's dual bound at most a
relative 1e-9 above it); otherwise the exact path solves it. These tests prove the pieces equal
what they replace (bit for bit where the same floats are computed, to a relative 1e-12 where the
work scale is applied in another order) and the whole against the exact solver on several
hundred random requests: infeasible ones, deadlines at the edge of what the upload allows, floors
on the kept fractions, subsets of splits, clock floors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from coinfer.policies.joint_family import Family, SplitConstants
from coinfer.policies.joint_fast import FastTable, Request, corner_solve
from coinfer.policies.joint_search import reported_solution
from coinfer.policies.joint_solver import JointSolver
from coinfer.policies.joint_static import StaticPart
from coinfer.policies.joint_warm import Columns, bounds_of, usable_of
from coinfer.policies.prediction import predict
from coinfer.policies.problem import Problem
from coinfer.policies.registry import make_policy
from tests.policies.contexts import HARDWARE, context
from tests.policies.instances import _CATALOG, MODELS, PAPER_GAIN, _log_uniform

#: Policy parameters the requests are decided under (each with its own pair of policies).
SETTINGS = (
    {},
    {"rho_min": 0.3},
    {"splits": [0, 1, 4]},
    {"splits": [2, 6, 12]},
)


def device_classes(rng: np.random.Generator) -> list[tuple]:
    """Four device classes: each model on the paper's hardware, and on hardware with clock
    floors of 5–50 % of the top clocks."""
    device, server = HARDWARE.get("paper-device"), HARDWARE.get("paper-server")
    classes = []
    for floors in (False, True):
        for name in MODELS:
            if floors:
                low_d, low_s = (float(x) for x in rng.uniform(0.05, 0.5, size=2))
                device = device.model_copy(update={"f_min_hz": low_d * device.f_max_hz})
                server = server.model_copy(update={"f_min_hz": low_s * server.f_max_hz})
            classes.append((_CATALOG.get(name), device, server))
    return classes


CLASSES = device_classes(np.random.default_rng(0))


def random_request(rng: np.random.Generator):
    """A request of a random device class (its device id names the class) around the
    paper's setting: channel, band, budgets and work drawn; some with a deadline at the edge
    of what a split's upload allows, some with one too short for any upload (infeasible
    unless on the device)."""
    index = int(rng.integers(len(CLASSES)))
    model, device, server = CLASSES[index]
    ctx = context(
        device_id=f"class-{index}",
        model=model,
        device=device,
        server=server,
        gain=PAPER_GAIN * 10 ** rng.uniform(-1.5, 1.0),
        bandwidth_hz=_log_uniform(rng, 1e6, 20e6),
        deadline_s=float(rng.uniform(0.1, 0.5)),
        energy_budget_j=_log_uniform(rng, 3e-3, 40e-3),
        work_scale=_log_uniform(rng, 0.5, 2.0),
        scale_payload=bool(rng.uniform() < 0.8),
    )
    kind = rng.uniform()
    if kind < 0.1:  # the deadline exactly what the upload of a split takes at the top power
        split = int(rng.integers(model.last_split))
        payload = model.payload_bits[split] * (ctx.work_scale if ctx.scale_payload else 1.0)
        snr = ctx.gain * device.max_tx_power_w / (ctx.bandwidth_hz * ctx.noise_psd_w_per_hz)
        ctx = ctx._replace(deadline_s=float(payload / (ctx.bandwidth_hz * math.log2(1 + snr))))
    elif kind < 0.15:  # too short for anything but the device alone
        ctx = ctx._replace(deadline_s=float(rng.uniform(1e-4, 1e-2)))
    return ctx


def problem_of(ctx, table: FastTable) -> Problem:
    """The request's problem over the table's splits, as the exact path builds it."""
    return Problem.from_context(ctx, splits=table.splits, rho_min=table.unit.rho_device_lo)


def tables_and_requests(count: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        ctx = random_request(rng)
        last = ctx.model.last_split
        splits = list(range(last + 1)) if rng.uniform() < 0.6 else [0, 1, 4, last]
        table = FastTable(ctx, splits, float(rng.choice([0.0, 0.3])))
        yield table, ctx, rng


def request_of(table: FastTable, ctx) -> Request:
    return Request(
        table,
        ctx.gain,
        ctx.bandwidth_hz,
        ctx.noise_psd_w_per_hz,
        ctx.work_scale,
        ctx.scale_payload,
        ctx.deadline_s,
        ctx.energy_budget_j,
    )


def test_a_request_has_the_problems_family_and_split_numbers():
    """The request's family holds the same scalars as the family of its Problem, and its split
    constants are the Problem's, bit for bit."""
    for table, ctx, _ in tables_and_requests(60, seed=1):
        problem = problem_of(ctx, table)
        exact = Family(problem, StaticPart(problem))
        request = request_of(table, ctx)
        for name in Family.__slots__:
            if name not in ("problem", "static"):
                assert getattr(request, name) == getattr(exact, name), name
        assert StaticPart.key(problem) == StaticPart.key(table.unit)  # the same static part
        for row in range(len(table.splits)):
            assert request.constants(row) == SplitConstants.of(problem, row)


def test_the_usable_splits_are_the_exact_paths_even_at_the_edge():
    """``FastTable.usable`` (bisection on the sorted payloads) picks exactly the rows
    ``usable_of`` picks, deadlines at the very edge of an upload included."""
    edges = 0
    for table, ctx, _ in tables_and_requests(300, seed=3):
        problem = problem_of(ctx, table)
        family = Family(problem, StaticPart(problem))
        expected = usable_of(family, problem.payload_bits.tolist(), ctx.deadline_s)
        scale = ctx.work_scale if ctx.scale_payload else 1.0
        assert table.usable(family, scale, ctx.deadline_s) == expected
        edges += len(expected) not in (0, len(table.splits))
    assert edges > 20


def test_the_bound_with_the_work_scale_moved_is_the_dual_bound():
    """``Request.above`` gives each split's dual bound as ``bounds_of`` (to a relative 1e-12:
    the work scale multiplies other terms), and exactly the splits above a ceiling."""
    checked = 0
    for table, ctx, rng in tables_and_requests(80, seed=4):
        problem = problem_of(ctx, table)
        family = Family(problem, StaticPart(problem))
        request = request_of(table, ctx)
        rows = request.usable
        for s in rng.uniform(-12.0, 2.0, size=3):
            expected = bounds_of(family, Columns.of(problem, family.static), float(s), rows)
            got = dict((row, bound) for bound, row in request.above(float(s), rows, -math.inf))
            for row, bound in zip(rows, expected, strict=True):
                if bound == -math.inf:
                    assert row not in got
                else:
                    assert got[row] == pytest.approx(bound, rel=1e-12)
                    checked += 1
            finite = [bound for bound in expected if bound > -math.inf]
            if finite:
                ceiling = float(np.median(finite))
                above = {row for _, row in request.above(float(s), rows, ceiling)}
                for row, bound in zip(rows, expected, strict=True):
                    if abs(bound - ceiling) > 1e-9 * abs(ceiling):
                        assert (row in above) == (bound > ceiling)
    assert checked > 300


def test_the_report_and_the_prediction_are_the_exact_paths():
    """``FastTable.report`` is ``reported_solution`` and ``FastTable.predict`` is ``predict``,
    bit for bit, at points of the family."""
    for table, ctx, rng in tables_and_requests(60, seed=5):
        problem = problem_of(ctx, table)
        request = request_of(table, ctx)
        for row in range(len(table.splits)):
            split = request.constants(row)
            point = request.point(split, float(rng.uniform(-8.0, 0.0)))
            if not math.isfinite(point.value):
                continue
            args = (point.rho_device, point.rho_server, point.tx_power_w)
            clocks = (point.f_device_hz, point.f_server_hz)
            exact = reported_solution(problem, row, *args, *clocks)
            fast = table.report(
                split,
                point,
                ctx.gain,
                ctx.bandwidth_hz,
                ctx.noise_psd_w_per_hz,
                ctx.deadline_s,
                ctx.energy_budget_j,
            )
            assert tuple(fast) == (
                exact.feasible,
                exact.index,
                exact.split,
                exact.rho_device,
                exact.rho_server,
                exact.tx_power_w,
                exact.f_device_hz,
                exact.f_server_hz,
                exact.kept_params,
                exact.latency_s,
                exact.energy_j,
            )
            split_point = table.splits[row]
            assert table.predict(ctx, split_point, *args, *clocks) == tuple(
                predict(ctx, split_point, *args, *clocks)
            )


def test_a_corner_found_without_the_lp_is_the_lps_point_there():
    """Where Newton's steps on a corner settle, the point built from the budgets (the held
    fraction at its bound, the free one the most both allow) is what the family gives at that
    s: the same power and clocks (bit for bit: the same floats as ``Family.point``), the LP's
    kept parameters (relative 1e-10: the LP reaches its vertex by other operations), and the
    split's optimum (relative 1e-9)."""
    checked = 0
    for table, ctx, rng in tables_and_requests(300, seed=6):
        request = request_of(table, ctx)
        solver = JointSolver()
        problem = problem_of(ctx, table)
        solution = solver.solve(problem, hint="d")
        if not solution.feasible:
            continue
        row = solution.index
        split = request.constants(row)
        hint = solver._hints["d"]
        exact = request.point(split, hint.s)
        held = exact.held()
        if held is None:
            continue
        start = hint.s + float(rng.uniform(-0.3, 0.3))
        point = corner_solve(request, split, start, *held)
        if point is None:
            continue
        lp = request.point(split, point.s)
        assert (point.tx_power_w, point.f_device_hz, point.f_server_hz) == (
            lp.tx_power_w,
            lp.f_device_hz,
            lp.f_server_hz,
        )
        assert point.value == pytest.approx(lp.value, rel=1e-10)
        assert point.value == pytest.approx(solution.kept_params, rel=1e-9)
        checked += 1
    assert checked > 30


def kept(decision, ctx) -> float:
    return float(
        decision.rho_device * ctx.model.device_params[decision.split]
        + decision.rho_server * ctx.model.server_params[decision.split]
    )


def test_fast_decisions_are_the_exact_solvers_on_hundreds_of_random_requests():
    """600 random requests (every kind ``random_request`` draws, under four settings of
    splits and floors), each policy pair fed the same requests of one device in a row so that
    each fast solve starts from another request's solution:

    * the same admission and feasibility, infeasible requests included;
    * the same kept parameters within a relative 1e-9, and the point meets both budgets;
    * the same split, except where another split keeps as much within 1e-9 (a tie, checked
      by solving that split alone);
    * where the optimum prunes (a unique point), the same transmit power and clocks within a
      relative 1e-8 and kept fractions within 1e-8 (measured: under 3e-10);
    * the prediction is the reference model's for the decision, bit for bit;
    * and most requests are answered by the fast path.
    """
    rng = np.random.default_rng(7)
    pairs = [
        (
            make_policy("joint", {**setting, "warm_start": True, "channel_step_db": 0.0}, rng),
            make_policy("joint", {**setting, "channel_step_db": 0.0}, rng),
        )
        for setting in SETTINGS
    ]
    feasible = infeasible = ties = unique = 0
    for i in range(600):
        fast, exact = pairs[i % len(pairs)]
        ctx = random_request(rng)
        one, two = fast.decide(ctx), exact.decide(ctx)
        assert (one.admit, one.feasible) == (two.admit, two.feasible)
        if not two.feasible:
            infeasible += 1
            continue
        feasible += 1
        assert kept(one, ctx) == pytest.approx(kept(two, ctx), rel=1e-9)
        assert one.predicted_latency_s <= ctx.deadline_s * (1 + 1e-9)
        assert one.predicted_energy_j <= ctx.energy_budget_j * (1 + 1e-9)
        point = (one.rho_device, one.rho_server, one.tx_power_w, one.f_device_hz, one.f_server_hz)
        assert (
            one.predicted_latency_s,
            one.predicted_energy_j,
            one.predicted_distortion,
        ) == tuple(predict(ctx, one.split, *point))
        if one.split != two.split:
            table = fast._table(ctx)
            alone = problem_of(ctx, table).only_splits([table.rows[one.split]])
            assert JointSolver().solve(alone).kept_params == pytest.approx(kept(two, ctx), rel=1e-9)
            ties += 1
        elif min(two.rho_device, two.rho_server) < 1.0 - 1e-6:
            unique += 1
            for name in ("tx_power_w", "f_device_hz", "f_server_hz"):
                assert getattr(one, name) == pytest.approx(getattr(two, name), rel=1e-8), name
            assert one.rho_device == pytest.approx(two.rho_device, abs=1e-8)
            assert one.rho_server == pytest.approx(two.rho_server, abs=1e-8)
    assert feasible > 300 and infeasible > 30 and unique > 200
    assert ties < 0.1 * feasible
    warm = sum(policy.solver.warm_solves for policy, _ in pairs)
    assert warm > 0.7 * feasible
    assert all(policy.solver.warm_solves == 0 for _, policy in pairs)
