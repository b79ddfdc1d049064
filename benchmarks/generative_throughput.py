"""Speed and memory of generative serving: N chat requests on one cell and one A100.

100 phones in one 100 MHz cell send chat requests (prompt log-normal of mean 256 tokens, output
log-normal of mean 200 tokens, Poisson arrivals of 8 requests/s in all) to Llama-3-8B on one
A100 with continuous batching (vLLM's scheduler), first with every request ``on-server``, then
``split`` after block 3 (the phone runs the embeddings and 2 layers, about 14 ms a token, and
uploads a hidden vector per token over the shared, fading uplink). Each mode runs in a fresh
process, its trace written to a temporary directory; the benchmark prints, per mode, the
requests, output tokens, wall time, output tokens per wall second, SimPy events (counted by
wrapping ``Environment.schedule``), events per token, server steps and the process's peak
resident memory (``ru_maxrss``: everything, the interpreter and numpy included).

The issue's target is ``--requests 100000`` (about 20 million tokens): minutes and under 1 GB in
``on-server`` mode with one event per server step, a small constant number of events per token in
``split`` mode. The default is small enough for a quick run. Never a timed assert: machines here
are shared and noisy.

Run:  python benchmarks/generative_throughput.py [--requests 2000] [--modes on-server,split]
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import resource
import sys
import tempfile
import time
from typing import Any

MODES = {
    "on-server": {"name": "on-server"},
    "split": {"name": "split", "params": {"layer": 3}},
}


def chat_scenario(requests: int, policy: dict[str, Any], rate_per_s: float) -> dict[str, Any]:
    """The benchmark's scenario (a plain mapping)."""
    phones = 100
    return {
        "name": "generative-benchmark",
        "seed": 1,
        "requests": requests,
        "devices": [
            {
                "name": "phone",
                "count": phones,
                "hardware": "phone-soc",
                "model": "llama-3-8b",
                "arrivals": {"process": "poisson", "rate_per_s": rate_per_s / phones},
                "tokens": {
                    "prompt": {"distribution": "lognormal", "mean": 256, "sigma": 0.8},
                    "output": {"distribution": "lognormal", "mean": 200, "sigma": 0.8},
                },
                "distance_m": {"min_m": 20, "max_m": 300},
            }
        ],
        "cells": [{"id": "cell", "bandwidth_hz": 100e6, "sharing": "ps", "server": "a100"}],
        "servers": [
            {
                "id": "a100",
                "hardware": "a100",
                "discipline": "continuous-batching",
                "scheduler": "vllm",
                "max_batched_tokens": 16384,
            }
        ],
        "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.01}},
        "downlink": {"rate_bps": 50e6},
        "policy": policy,
    }


def run_mode(mode: str, requests: int, rate_per_s: float, results: Any) -> None:
    """Child process: one run of ``mode``; puts its figures on ``results``."""
    import simpy

    from coinfer.emulator.api.run import simulate
    from coinfer.emulator.scenario.schema import scenario_from_dict

    events = 0
    schedule = simpy.Environment.schedule

    def counting(self: simpy.Environment, event: Any, priority: int = 1, delay: float = 0) -> None:
        nonlocal events
        events += 1
        schedule(self, event, priority, delay)  # type: ignore[arg-type]

    simpy.Environment.schedule = counting  # type: ignore[method-assign]
    scenario = scenario_from_dict(chat_scenario(requests, MODES[mode], rate_per_s))
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = simulate(scenario, out_dir=out)
        wall = time.perf_counter() - started
        completed = int((result.read_trace(["status"])["status"] == "completed").sum())
    stats = result.stats
    tokens = stats.tokens_delivered
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results.put(
        {
            "mode": mode,
            "requests": stats.requests,
            "completed": completed,
            "tokens": tokens,
            "simulated_s": stats.sim_end_s,
            "wall_s": wall,
            "tokens_per_wall_s": tokens / wall,
            "events": events,
            "events_per_token": events / tokens if tokens else float("nan"),
            "steps": sum(server["steps"] for server in stats.batching.values()),
            "peak_rss_mb": peak_kib / 1024,
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per mode")
    parser.add_argument(
        "--modes", default="on-server,split", help="comma-separated: on-server, split"
    )
    parser.add_argument(
        "--rate", type=float, default=8.0, help="arrivals per second, all phones together"
    )
    args = parser.parse_args(argv)
    modes = [mode for mode in args.modes.split(",") if mode]
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown:
        parser.error(f"--modes: got {unknown[0]!r}, expected some of {', '.join(MODES)}")
    context = multiprocessing.get_context("spawn")
    rows = []
    for mode in modes:
        results = context.Queue()
        child = context.Process(target=run_mode, args=(mode, args.requests, args.rate, results))
        child.start()
        while True:  # the figures, or the child's death (its error is printed above)
            try:
                rows.append(results.get(timeout=1.0))
                break
            except queue.Empty:
                if not child.is_alive():
                    print(f"{mode}: the run's process failed (exit {child.exitcode})")
                    return 1
        child.join()
    print(
        f"{args.requests} chat requests per mode (prompt ~256, output ~200 tokens), "
        f"{args.rate:g} requests/s, 100 phones, one A100"
    )
    header = (
        f"{'mode':10} {'requests':>8} {'tokens':>10} {'sim s':>9} {'wall s':>8} "
        f"{'tok/wall s':>10} {'events':>10} {'ev/token':>8} {'steps':>9} {'peak MB':>8}"
    )
    print(header)
    for row in rows:
        print(
            f"{row['mode']:10} {row['requests']:>8} {row['tokens']:>10} "
            f"{row['simulated_s']:>9.0f} {row['wall_s']:>8.1f} {row['tokens_per_wall_s']:>10.0f} "
            f"{row['events']:>10} {row['events_per_token']:>8.3f} {row['steps']:>9} "
            f"{row['peak_rss_mb']:>8.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
