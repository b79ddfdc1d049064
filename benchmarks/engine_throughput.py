"""Engine speed against SimPy's own M/M/1, measured in the same process.

Runs the standard scenario of the engine issue (1,000 devices in 10 cells with 10 edge servers,
Rayleigh block fading, processor-sharing uplinks, 200,000 requests, the ``fixed`` policy) and
SimPy's M/M/1 with a ``Resource`` (the textbook example), interleaved ``--repeat`` times; each
rate is the best of its repetitions (the least disturbed by other load on a shared machine).
Prints both rates, their ratio (the figure to compare across machines) and the peak memory of
the emulation.

Run:  python benchmarks/engine_throughput.py [--requests 200000] [--mm1-jobs 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc

import simpy

from coinfer.emulator.api.run import simulate
from coinfer.emulator.scenario.schema import Scenario, scenario_from_dict

TARGET_RATIO = 0.35


def standard_scenario(requests: int, devices: int = 1000, cells: int = 10) -> Scenario:
    """1,000 devices, 10 cells each with its own server, Rayleigh fading, PS uplink."""
    per_cell = devices // cells
    return scenario_from_dict(
        {
            "name": "engine-benchmark",
            "requests": requests,
            "devices": [
                {
                    "name": f"cell{i}-dev",
                    "count": per_cell,
                    "hardware": "paper-device",
                    "model": "bert-paper",
                    "arrivals": {"process": "poisson", "rate_per_s": 0.2},
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
            "servers": [
                {"id": f"edge{i}", "hardware": "paper-server", "workers": 1} for i in range(cells)
            ],
            "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.01}},
            "policy": {"name": "fixed", "params": {"split": 4}},
        }
    )


def simpy_mm1_jobs_per_s(jobs: int, load: float = 0.9, seed: int = 1) -> float:
    """Jobs per second of SimPy's M/M/1 with a Resource (arrival process + one process per job)."""
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    rng = random.Random(seed)

    def job(env: simpy.Environment):
        with server.request() as slot:
            yield slot
            yield env.timeout(rng.expovariate(1.0))

    def source(env: simpy.Environment):
        for _ in range(jobs):
            yield env.timeout(rng.expovariate(load))
            env.process(job(env))

    env.process(source(env))
    started = time.perf_counter()
    env.run()
    return jobs / (time.perf_counter() - started)


def coinfer_requests_per_s(requests: int, seed: int = 1) -> tuple[float, int]:
    """Requests per second of the standard scenario, and the run's request count."""
    scenario = standard_scenario(requests)
    started = time.perf_counter()
    result = simulate(scenario, seed=seed, progress=False)
    elapsed = time.perf_counter() - started
    return result.stats.requests / elapsed, result.stats.requests


def peak_memory_mb(requests: int) -> float:
    """Peak traced Python memory of one (smaller) run, MB."""
    tracemalloc.start()
    simulate(standard_scenario(requests), seed=2, progress=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--mm1-jobs", type=int, default=200_000)
    parser.add_argument("--memory-requests", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    mm1_rates, rates = [], []
    requests = 0
    for _ in range(args.repeat):
        mm1_rates.append(simpy_mm1_jobs_per_s(args.mm1_jobs))
        rate, requests = coinfer_requests_per_s(args.requests)
        rates.append(rate)
    mm1, rate = max(mm1_rates), max(rates)
    ratio = rate / mm1
    peak_mb = peak_memory_mb(args.memory_requests)
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mm1_runs = ", ".join(f"{r:,.0f}" for r in mm1_rates)
    runs = ", ".join(f"{r:,.0f}" for r in rates)
    print(f"SimPy M/M/1 (Resource):    {mm1:,.0f} jobs/s  (best of: {mm1_runs})")
    print(
        f"coinfer standard scenario: {rate:,.0f} requests/s  (best of: {runs}; {requests:,} "
        "requests, 1,000 devices, 10 cells, 10 servers, Rayleigh, PS uplink, fixed policy)"
    )
    print(f"ratio coinfer / SimPy M/M/1: {ratio:.3f}  (target >= {TARGET_RATIO})")
    print(
        f"peak traced memory ({args.memory_requests:,} requests): {peak_mb:.1f} MB; "
        f"process max RSS: {max_rss_mb:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
