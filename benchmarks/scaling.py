"""Scaling: requests/s and peak memory against the number of devices and the run length, and the
speed-up of a sweep with 1 and 2 worker processes.

Cases, each run in its own Python process so that its peak resident memory (RSS) is its own:

* **devices**: the standard scenario of the engine benchmark (10 cells, each with its own
  server, Rayleigh block fading, processor-sharing uplinks, the ``fixed`` policy) with 100,
  1,000 and 10,000 devices at the same total arrival rate (200 requests/s), so that only the
  number of devices changes; the trace is written to Parquet as in a real run;
* **long run**: 1,000 devices and a long run (``--big-requests``; 1,000,000 with ``--full``),
  and the same at a tenth of the length: memory must not grow with the length;
* **sweep**: ``--sweep-runs`` runs (seeds) of the standard scenario with 1 worker process and
  with 2, from process start to the aggregated tables.

Rates are reported with their ratio to SimPy's own M/M/1 measured in the same run (machines
here are noisy and shared, so compare ratios). Targets (issue 7): requests/s at 10,000 devices
at least half of that at 1,000; peak RSS under 1 GB for 1,000,000 requests; near-linear sweep
speed-up.

Run:  python benchmarks/scaling.py                  (small, about a minute)
      python benchmarks/scaling.py --full           (the issue's sizes, several minutes)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from typing import Any

from engine_throughput import simpy_mm1_jobs_per_s  # the same reference rate, one copy

TOTAL_RATE_PER_S = 200.0
CELLS = 10
TARGET_DEVICE_RATIO = 0.5
TARGET_PEAK_MB = 1000.0


def scenario_data(devices: int, requests: int, cells: int = CELLS) -> dict[str, Any]:
    """The standard scenario with ``devices`` devices at a total of 200 requests/s."""
    per_cell = max(1, devices // cells)
    return {
        "name": f"scaling-{devices}",
        "requests": requests,
        "devices": [
            {
                "name": f"cell{i}-dev",
                "count": per_cell,
                "hardware": "paper-device",
                "model": "bert-paper",
                "arrivals": {"process": "poisson", "rate_per_s": TOTAL_RATE_PER_S / devices},
                "distance_m": {"min_m": 50, "max_m": 500},
                "deadline_s": 0.3,
                "cell": f"cell{i}",
            }
            for i in range(cells)
        ],
        "cells": [
            {"id": f"cell{i}", "bandwidth_hz": 20e6, "sharing": "ps", "server": f"edge{i}"}
            for i in range(cells)
        ],
        "servers": [{"id": f"edge{i}", "hardware": "paper-server"} for i in range(cells)],
        "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.01}},
        "policy": {"name": "fixed", "params": {"split": 4}},
    }


def _rss_mb() -> float:
    """Peak resident memory of this process so far, MB (ru_maxrss: KB on Linux, B on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1024


def run_case(devices: int, requests: int, trace_python: bool, mm1_jobs: int) -> dict[str, Any]:
    """One emulation, in this process, after SimPy's M/M/1 as the reference rate: both rates,
    peak RSS, and (optionally) peak traced Python memory."""
    from coinfer.emulator.api.run import simulate
    from coinfer.emulator.scenario.schema import scenario_from_dict

    mm1 = simpy_mm1_jobs_per_s(mm1_jobs)
    scenario = scenario_from_dict(scenario_data(devices, requests))
    before_mb = _rss_mb()
    if trace_python:
        tracemalloc.start()
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = simulate(scenario, seed=1, out_dir=out)
        summary = result.summary
        elapsed = time.perf_counter() - started
    traced_mb = tracemalloc.get_traced_memory()[1] / 1e6 if trace_python else None
    return {
        "devices": devices,
        "requests": result.stats.requests,
        "completed": summary.completed,
        "seconds": elapsed,
        "requests_per_s": result.stats.requests / elapsed,
        "mm1_jobs_per_s": mm1,
        "rss_before_mb": before_mb,
        "peak_rss_mb": _rss_mb(),
        "peak_traced_mb": traced_mb,
    }


def case_in_subprocess(
    devices: int, requests: int, trace_python: bool, mm1_jobs: int
) -> dict[str, Any]:
    """:func:`run_case` in a fresh Python process (its own peak RSS)."""
    spec = json.dumps(
        {"devices": devices, "requests": requests, "trace": trace_python, "mm1": mm1_jobs}
    )
    done = subprocess.run(
        [sys.executable, __file__, "--case", spec], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"case {spec} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def burn(iterations: int) -> int:
    """Pure-Python CPU work (the control task of the speed-up)."""
    total = 0
    for i in range(iterations):
        total += i * i
    return total


def _raise(task: Any, err: BaseException) -> Any:
    raise err


def control_seconds(tasks: int, seconds_each: float, workers: int) -> float:
    """Wall time of ``tasks`` pure-CPU tasks of about ``seconds_each`` on ``workers`` processes
    (what this machine gives two processes right now, whatever else it runs)."""
    from coinfer.emulator.sweeps.executors import ProcessExecutor

    started = time.perf_counter()
    burn(1_000_000)
    iterations = int(1_000_000 * seconds_each / (time.perf_counter() - started))
    started = time.perf_counter()
    with ProcessExecutor(workers) as executor:
        list(executor.map_unordered(burn, [iterations] * tasks, _raise))
    return time.perf_counter() - started


def sweep_seconds(runs: int, requests: int, workers: int) -> tuple[float, float]:
    """Wall time of a sweep of ``runs`` seeds on ``workers`` processes (start to tables), and
    the mean wall time of one run."""
    from coinfer.emulator.sweeps.executors import ProcessExecutor
    from coinfer.emulator.sweeps.plan import build_plan
    from coinfer.emulator.sweeps.runner import run_sweep
    from coinfer.emulator.sweeps.spec import sweep_from_dict

    spec = sweep_from_dict(
        {
            "name": "scaling-sweep",
            "scenario": scenario_data(1000, requests),
            "seeds": {"start": 1, "count": runs},
        }
    )
    plan = build_plan(spec, ".")
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        outcome = run_sweep(plan, out, ProcessExecutor(workers), progress=False)
        elapsed = time.perf_counter() - started
    if outcome.failed:
        raise RuntimeError(f"sweep runs failed: {outcome.failed[0]['error']}")
    return elapsed, float(outcome.tables.results["wall_time_s"].mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--requests", type=int, default=20_000, help="per device case")
    parser.add_argument("--big-requests", type=int, default=100_000, help="the long run")
    parser.add_argument("--sweep-runs", type=int, default=8)
    parser.add_argument("--sweep-requests", type=int, default=10_000, help="per sweep run")
    parser.add_argument("--mm1-jobs", type=int, default=100_000)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace Python allocations (slower)"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="the issue's sizes: 200,000 requests per device case, a 1,000,000-request run, "
        "8 sweep runs of 50,000 requests",
    )
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        spec = json.loads(args.case)
        case = run_case(spec["devices"], spec["requests"], spec["trace"], spec["mm1"])
        print(json.dumps(case))
        return 0
    if args.full:
        args.requests, args.big_requests = 200_000, 1_000_000
        args.sweep_runs, args.sweep_requests = 8, 50_000

    print("devices   requests   requests/s   / M/M/1   peak RSS   RSS before run")
    rates: dict[int, float] = {}
    for devices in args.devices:
        case = case_in_subprocess(devices, args.requests, args.tracemalloc, args.mm1_jobs)
        rates[devices] = case["requests_per_s"] / case["mm1_jobs_per_s"]
        traced = (
            f"   traced {case['peak_traced_mb']:.0f} MB"
            if case["peak_traced_mb"] is not None
            else ""
        )
        print(
            f"{devices:>7,}  {case['requests']:>9,}  {case['requests_per_s']:>11,.0f}  "
            f"{rates[devices]:>8.3f}  {case['peak_rss_mb']:>6.0f} MB  "
            f"{case['rss_before_mb']:>6.0f} MB{traced}"
        )
    print("(/ M/M/1: the rate over SimPy's M/M/1 measured in the same process just before)")
    if 1000 in rates and 10000 in rates:
        ratio = rates[10000] / rates[1000]
        print(
            f"requests/s at 10,000 devices / at 1,000 (as ratios to M/M/1): {ratio:.2f}  "
            f"(target >= {TARGET_DEVICE_RATIO})"
        )

    print("\nlong run (1,000 devices)")
    small = case_in_subprocess(
        1000, max(1, args.big_requests // 10), args.tracemalloc, args.mm1_jobs
    )
    big = case_in_subprocess(1000, args.big_requests, args.tracemalloc, args.mm1_jobs)
    for case in (small, big):
        print(
            f"  {case['requests']:>9,} requests: {case['requests_per_s']:,.0f} requests/s "
            f"({case['requests_per_s'] / case['mm1_jobs_per_s']:.3f} x M/M/1), "
            f"peak RSS {case['peak_rss_mb']:.0f} MB"
        )
    growth = big["peak_rss_mb"] / small["peak_rss_mb"]
    print(
        f"  peak RSS at {big['requests']:,} / at {small['requests']:,} requests: {growth:.2f} "
        f"(10x the requests); peak {big['peak_rss_mb']:.0f} MB (target < {TARGET_PEAK_MB:.0f} MB)"
    )

    print(f"\nsweep: {args.sweep_runs} runs of {args.sweep_requests:,} requests, local processes")
    one, run_s = sweep_seconds(args.sweep_runs, args.sweep_requests, 1)
    two, _ = sweep_seconds(args.sweep_runs, args.sweep_requests, 2)
    speedup = one / two
    print(f"  1 worker: {one:.1f} s; 2 workers: {two:.1f} s; speed-up {speedup:.2f} (ideal 2)")
    control = control_seconds(args.sweep_runs, run_s, 1) / control_seconds(
        args.sweep_runs, run_s, 2
    )
    print(
        f"  control, pure-CPU tasks of {run_s:.2f} s on the same executor: speed-up "
        f"{control:.2f}; the sweep reaches {speedup / control:.0%} of it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
