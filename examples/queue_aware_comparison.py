"""``joint`` against ``joint-queue-aware`` as the load on one cell and one server rises.

Twenty identical devices (the paper's device, BERT, T0 = 0.35 s, E0 = 15 mJ) at 200 m share a
20 MHz cell (static FDMA shares, no fading) and one FCFS edge server (the paper's server). The
total arrival rate rises; both policies run on the same seed (identical arrivals). Prints one
row per (load, policy): server utilisation, deadline-met ratio, p99 latency, mean and median
distortion bound, mean kept fraction and energy per request.

Run:  python examples/queue_aware_comparison.py [--rates 2,4,6,8] [--requests 1500] [--seed 1]
"""

from __future__ import annotations

import argparse

import numpy as np

from coinfer.emulator.api.run import simulate
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.scenario.schema import scenario_from_dict

POLICIES = ("joint", "joint-queue-aware")


def scenario(total_rate_per_s: float, requests: int, policy: str, devices: int = 20):
    """The comparison's scenario at one total arrival rate, req/s."""
    return scenario_from_dict(
        {
            "name": f"queue-aware-{policy}-{total_rate_per_s:g}",
            "requests": requests,
            "warmup_s": 5.0,
            "devices": [
                {
                    "name": "phone",
                    "count": devices,
                    "hardware": "paper-device",
                    "model": "bert-paper",
                    "arrivals": {"process": "poisson", "rate_per_s": total_rate_per_s / devices},
                    "deadline_s": 0.35,
                    "energy_budget_j": 0.015,
                    "distance_m": 200.0,
                }
            ],
            "cells": [{"id": "ap", "bandwidth_hz": 20e6, "sharing": "fdma", "server": "edge"}],
            "servers": [{"id": "edge", "hardware": "paper-server", "workers": 1}],
            "channel": {"shadowing_std_db": 0.0, "fading": {"law": "none"}},
            "policy": {"name": policy, "params": {}},
        }
    )


def compare(rates: list[float], requests: int, seed: int) -> list[dict]:
    """One row of figures per (rate, policy)."""
    model = ModelCatalog.builtin().get("bert-paper")
    rows = []
    for rate in rates:
        for policy in POLICIES:
            result = simulate(scenario(rate, requests, policy), seed=seed, progress=False)
            trace = result.trace
            trace = trace[~trace["warmup"]]
            done = trace[trace["status"] == "completed"]
            kept = (
                done["rho_device"] * model.device_params[done["split"]]
                + done["rho_server"] * model.server_params[done["split"]]
            ) / model.total_params
            rows.append(
                {
                    "rate_per_s": rate,
                    "policy": policy,
                    "server_utilisation": result.summary.server_utilisation["edge"],
                    "deadline_met": float(trace["deadline_met"].mean()),
                    "dropped_or_infeasible": float((trace["status"] != "completed").mean()),
                    "latency_p99_s": float(done["latency_s"].quantile(0.99)),
                    "distortion_mean": float(done["distortion_bound"].mean()),
                    "distortion_median": float(done["distortion_bound"].median()),
                    "kept_fraction_mean": float(np.mean(kept)),
                    "energy_per_request_j": float(done["energy_total_j"].mean()),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="2,4,6,8", help="total arrival rates, req/s")
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rates = [float(value) for value in args.rates.split(",")]
    rows = compare(rates, args.requests, args.seed)
    header = (
        "| rate (req/s) | policy | server util. | deadline met | not run | p99 latency (s) "
        "| distortion mean | distortion median | kept fraction | energy (mJ) |"
    )
    print(header)
    print("|" + "---|" * 10)
    for row in rows:
        print(
            f"| {row['rate_per_s']:g} | `{row['policy']}` | {row['server_utilisation']:.2f} "
            f"| {row['deadline_met']:.3f} | {row['dropped_or_infeasible']:.3f} "
            f"| {row['latency_p99_s']:.3f} | {row['distortion_mean']:.3g} "
            f"| {row['distortion_median']:.3g} | {row['kept_fraction_mean']:.4f} "
            f"| {row['energy_per_request_j'] * 1e3:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
