"""Decisions per second of the optimising policies and their solvers, measured in one process.

On random requests around the paper's setting (BERT on the paper's device and server; gain,
band, budgets and work all vary), it times:

* ``joint`` through the policy interface with its decision cache off (``channel_step_db=0``,
  and ``cache_size=0`` so that the repeated passes do not hit exact repeats): every request is
  solved;
* :class:`~coinfer.policies.joint_solver.JointSolver` alone (``solve`` on prepared problems), and
  the former grid search it replaced (``tests/oracles/grid_search.py``) on fewer requests;
* the paper's SCA (``policies.sca``) and the brute-force dense grid
  (``tests/oracles/dense_grid.py``) on fewer requests still;
* two references in the same run, so that figures compare across machines and across runs on a
  shared machine as ratios: the ``fixed`` policy (no optimisation) and a fixed numpy workload.

Each rate is the best of ``--repeat`` passes (the least disturbed by other load). Prints
microseconds per decision, decisions per second and each figure as a multiple of the numpy
reference's time.

``--engine N``: instead, ``joint`` in an engine run where every request differs (issue 20):
:func:`engine_scenario`, paper devices running BERT at different distances, Rayleigh block
fading seen by the policy, log-normal work, ``joint`` with ``warm_start: true`` and, in the
same round, with its default parameters (the exact path; both with the decision cache on,
which such requests never hit). It times every ``decide`` call of ``N`` requests and prints
the amortised microseconds per decision in wall-clock and in CPU time (less what the two timers
add, measured on an empty call), min / median / max over ``--repeat`` interleaved rounds, the
share of warm solves, and the exact path's time over the warm start's in each round.

``--compact N``: instead, ``joint-compact`` with and without ``warm_start`` on ``N`` requests
of five devices with little memory (:func:`compact_main`), CPU time per decision.

The two grid searches are test oracles, not part of the package: they are imported from the
checkout's ``tests.oracles`` (the checkout this script is in), and skipped if it is absent.

Run:  python benchmarks/policy_decisions.py [--requests 300] [--slow-requests 40]
      [--reference-requests 8] [--repeat 3] [--seed 0]
      python benchmarks/policy_decisions.py --engine 3000 [--repeat 3]
      python benchmarks/policy_decisions.py --compact 200 [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.policies.base import PolicyContext
from coinfer.policies.joint_solver import JointSolver
from coinfer.policies.problem import Problem
from coinfer.policies.registry import make_policy

#: The checkout this script is in: its test-only package ``tests.oracles`` holds the grid searches.
ROOT = Path(__file__).resolve().parents[1]
#: The row of the former grid search (the speed-up printed at the end is against it).
GRID_LABEL = "former grid search (tests.oracles)"


def random_contexts(count: int, seed: int) -> list[PolicyContext]:
    """Requests around the paper's point (the same law as the joint policy's tests)."""
    hardware, models = HardwareCatalog.builtin(), ModelCatalog.builtin()
    device, server = hardware.get("paper-device"), hardware.get("paper-server")
    model = models.get("bert-paper")
    rng = np.random.default_rng(seed)
    return [
        PolicyContext(
            request_id=i,
            time_s=0.0,
            work_scale=rng.uniform(0.5, 2.0),
            gain=2.77e-11 * 10 ** rng.uniform(-1.0, 1.0),
            bandwidth_hz=rng.uniform(1e6, 20e6),
            uplink_active=0,
            device_queue_length=0,
            device_backlog_s=0.0,
            server_queue_length=0,
            server_in_service=0,
            server_backlog_s=0.0,
            device_id="d-0",
            scale_payload=True,
            deadline_s=rng.uniform(0.12, 0.5),
            energy_budget_j=rng.uniform(0.004, 0.04),
            model=model,
            device=device,
            server=server,
            mean_gain=2.77e-11,
            cell_bandwidth_hz=20e6,
            noise_psd_w_per_hz=2e-19,
            server_workers=1,
        )
        for i in range(count)
    ]


def seconds_per_call(call: Callable[[object], object], items: Sequence, repeat: int) -> float:
    """Best over ``repeat`` passes of the mean time of ``call(item)`` over ``items``, s."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            call(item)
        best = min(best, (time.perf_counter() - start) / len(items))
    return best


def numpy_reference(_: object, arrays: tuple[np.ndarray, np.ndarray] = (np.ones((13, 26)),) * 2):
    """A fixed workload of small-array numpy calls, the kind the solver is made of."""
    a, b = arrays
    for _ in range(20):
        np.minimum(np.maximum(a * b + a, 0.5), 2.0)


def optional(module: str, name: str) -> Callable | None:
    """``module.name``, or None if it does not import (``tests.*``: from :data:`ROOT`)."""
    if module.startswith("tests.") and str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))  # last: the installed coinfer still comes first
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def engine_scenario(requests: int) -> dict:
    """``requests`` requests of 20 paper devices (BERT, 30 to 120 m from the access point)
    that all differ: Rayleigh block fading seen by the policy, log-normal work; budgets tight
    enough that the optimum prunes and moves between splits 0 and 1."""
    return {
        "name": "joint-engine",
        "requests": requests,
        "devices": [
            {
                "name": f"d{distance}",
                "count": 4,
                "model": "bert-paper",
                "distance_m": float(distance),
                "arrivals": {"process": "poisson", "rate_per_s": 0.5},
                "work": {"distribution": "lognormal", "sigma": 0.5},
                "deadline_s": 0.2,
                "energy_budget_j": 0.004,
            }
            for distance in (30, 50, 70, 90, 120)
        ],
        "cells": [{"id": "c0", "sharing": "fdma"}],
        "servers": [{"id": "s0", "workers": 8}],
        "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.01}},
        "policy": {"name": "joint"},
    }


def engine_decisions(requests: int, seed: int, params: dict) -> tuple[float, float, float]:
    """Amortised seconds per ``decide`` of ``joint`` (``params``) in an engine run of
    :func:`engine_scenario`, in wall-clock time and in this thread's CPU time (what a loaded
    machine inflates less), and the share of its solves that were warm."""
    from coinfer.emulator.api.run import make_engine
    from coinfer.emulator.deployment.replay import load_scenario_traces
    from coinfer.emulator.scenario.schema import scenario_from_dict
    from coinfer.emulator.trace.columns import TraceWriter

    case = scenario_from_dict(engine_scenario(requests))
    policy = make_policy("joint", params, np.random.default_rng(seed))
    timed, totals = timed_calls(policy.decide)
    policy.decide = timed  # type: ignore[method-assign]
    traces, writer = load_scenario_traces(case), TraceWriter({}, None)
    engine = make_engine(case, seed, traces, writer, policy=policy)
    engine.run()
    spent, cpu, calls = totals
    # what the timers themselves add inside the timed span, measured on a call doing nothing
    empty, empty_totals = timed_calls(lambda context: None)
    for _ in range(20_000):
        empty(None)
    timer_s, timer_cpu_s, timer_calls = empty_totals
    solver = policy.solver  # type: ignore[attr-defined]
    solves = solver.warm_solves + solver.exact_solves
    return (
        spent / calls - timer_s / timer_calls,
        cpu / calls - timer_cpu_s / timer_calls,
        solver.warm_solves / max(solves, 1),
    )


def timed_calls(call: Callable[[Any], object]) -> tuple[Callable[[Any], object], list]:
    """``call`` timed: a wrapper adding each call's wall-clock and thread CPU seconds and
    the number of calls to the list it returns with it."""
    totals = [0.0, 0.0, 0]

    def timed(argument: Any) -> object:
        start, start_cpu = time.perf_counter(), time.thread_time()
        result = call(argument)
        totals[0] += time.perf_counter() - start
        totals[1] += time.thread_time() - start_cpu
        totals[2] += 1
        return result

    return timed, totals


def engine_main(requests: int, repeat: int, seed: int) -> None:
    """Print :func:`engine_decisions` with and without the warm start, interleaved, and the
    exact path's time over the warm start's in the same round."""
    import statistics

    kinds = {"joint, warm_start: true": {"warm_start": True}, "joint (default: exact)": {}}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    cpus: dict[str, list[float]] = {kind: [] for kind in kinds}
    warm: dict[str, list[float]] = {kind: [] for kind in kinds}
    for round_index in range(repeat):
        for kind, params in kinds.items():
            seconds, cpu_seconds, share = engine_decisions(requests, seed + round_index, params)
            times[kind].append(seconds)
            cpus[kind].append(cpu_seconds)
            warm[kind].append(share)

    def spread(values: list[float], scale: float = 1e6, digits: int = 1) -> str:
        ordered = sorted(values)
        points = (ordered[0], statistics.median(ordered), ordered[-1])
        return " / ".join(f"{v * scale:.{digits}f}" for v in points)

    print(f"joint in an engine run, {requests} requests that all differ, {repeat} rounds")
    print(f"{'us/decision, min / median / max':>60s}")
    print(f"{'':26s} {'wall clock':>22s} {'CPU (thread)':>22s} {'warm solves':>12s}")
    for kind in kinds:
        print(
            f"{kind:26s} {spread(times[kind]):>22s} {spread(cpus[kind]):>22s}"
            f" {statistics.mean(warm[kind]):12.0%}"
        )
    fast, exact = (times[kind] for kind in kinds)
    fast_cpu, exact_cpu = (cpus[kind] for kind in kinds)
    ratios = [b / a for a, b in zip(fast, exact, strict=True)]
    cpu_ratios = [b / a for a, b in zip(fast_cpu, exact_cpu, strict=True)]
    print(
        f"{'exact / warm, same round':26s} {spread(ratios, 1.0, 2):>22s}"
        f" {spread(cpu_ratios, 1.0, 2):>22s}"
    )


def compact_main(requests: int, repeat: int, seed: int) -> None:
    """Print the thread CPU time per ``decide`` of ``joint-compact`` (default widths, decision
    cache off) with and without the warm start, in interleaved rounds of fresh policies, on
    :func:`random_contexts` spread over five devices that hold one byte per parameter of the
    model (the 32- and 16-bit widths fit only pruned at the deeper splits)."""
    import statistics

    contexts = random_contexts(requests, seed)
    memory = float(contexts[0].model.device_params.max())
    device = contexts[0].device.model_copy(update={"memory_bytes": memory})
    contexts = [
        context._replace(device=device, device_id=f"d-{i % 5}")
        for i, context in enumerate(contexts)
    ]
    kinds = {"joint-compact, warm_start": {"warm_start": True}, "joint-compact (exact)": {}}
    cpus: dict[str, list[float]] = {kind: [] for kind in kinds}
    shares: dict[str, list[float]] = {kind: [] for kind in kinds}
    for round_index in range(repeat):
        for kind, params in kinds.items():
            exact = {"channel_step_db": 0.0, "cache_size": 0}
            rng = np.random.default_rng(seed + round_index)
            policy: Any = make_policy("joint-compact", {**exact, **params}, rng)
            start = time.thread_time()
            for context in contexts:
                policy.decide(context)
            cpus[kind].append((time.thread_time() - start) / requests)
            solves = policy.solver.warm_solves + policy.solver.exact_solves
            shares[kind].append(policy.solver.warm_solves / max(solves, 1))
    print(f"joint-compact, {requests} requests of 5 devices, {repeat} rounds")
    print(f"{'':28s} {'ms/decision CPU, min / median / max':>36s} {'warm solves':>12s}")
    for kind in kinds:
        ordered = sorted(cpus[kind])
        points = (ordered[0], statistics.median(ordered), ordered[-1])
        spread = " / ".join(f"{v * 1e3:.2f}" for v in points)
        print(f"{kind:28s} {spread:>36s} {statistics.mean(shares[kind]):12.0%}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests for joint/solver")
    parser.add_argument(
        "--slow-requests", type=int, default=40, help="requests for the former grid search"
    )
    parser.add_argument(
        "--reference-requests", type=int, default=8, help="requests for SCA and the dense grid"
    )
    parser.add_argument("--repeat", type=int, default=3, help="passes; the best one counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--engine", type=int, metavar="N", help="joint in an engine run of N requests instead"
    )
    parser.add_argument(
        "--compact",
        type=int,
        metavar="N",
        help="joint-compact warm and exact on N requests instead (CPU time per decision)",
    )
    args = parser.parse_args(argv)
    if args.compact:
        compact_main(args.compact, args.repeat, args.seed)
        return
    if args.engine:
        engine_main(args.engine, args.repeat, args.seed)
        return

    contexts = random_contexts(args.requests, args.seed)
    problems = [Problem.from_context(context) for context in contexts]
    rng = np.random.default_rng(args.seed)
    joint = make_policy("joint", {"channel_step_db": 0.0, "cache_size": 0}, rng)
    fixed = make_policy("fixed", {"split": 4}, rng)
    solver = JointSolver()

    rows: list[tuple[str, int, float]] = []

    def measure(label: str, call: Callable, items: Sequence, repeat: int = args.repeat) -> None:
        call(items[0])  # warm-up (imports, caches)
        rows.append((label, len(items), seconds_per_call(call, items, repeat)))

    measure("numpy reference (20 x 4 small-array ops)", numpy_reference, range(2000))
    measure("fixed policy", fixed.decide, contexts)
    measure("joint policy, cache off", joint.decide, contexts)
    measure("JointSolver.solve", solver.solve, problems)
    slow = problems[: args.slow_requests]
    grid = optional("tests.oracles.grid_search", "solve_grid")
    if grid is not None:
        measure(GRID_LABEL, grid, slow, 1)
    few = problems[: args.reference_requests]
    sca = optional("coinfer.policies.sca", "solve_sca_all")
    if sca is not None:
        measure("SCA (coinfer.policies.sca)", sca, few, 1)
    dense = optional("tests.oracles.dense_grid", "solve_dense_grid")
    if dense is not None:
        measure("dense grid (tests.oracles.dense_grid)", dense, few, 1)

    reference = rows[0][2]
    print(
        f"{'':42s} {'requests':>8s} {'us/decision':>12s} {'decisions/s':>12s} {'x numpy ref':>11s}"
    )
    for label, count, seconds in rows:
        print(
            f"{label:42s} {count:8d} {seconds * 1e6:12.1f} {1.0 / seconds:12.0f}"
            f" {seconds / reference:11.1f}"
        )
    by_label = {label: seconds for label, _, seconds in rows}
    if GRID_LABEL in by_label:
        speedup = by_label[GRID_LABEL] / by_label["JointSolver.solve"]
        print(f"\nsolve is {speedup:.0f}x faster than the former grid search in this run")


if __name__ == "__main__":
    main()
