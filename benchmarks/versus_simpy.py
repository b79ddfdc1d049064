"""coinfer's full model against a bare SimPy script of the same workload, interleaved (issue 20).

The workload (``benchmarks/bare_simpy.py``): ``N`` devices in 10 cells, Poisson arrivals of 80
requests/s in total, Rayleigh block-fading 20 MHz uplinks (10 ms blocks) at a mean SNR of 10 dB
shared by processor sharing, 100 kB uploads, 10 FCFS edge servers at load 0.8 (0.1 s of
service), 100,000 requests. coinfer runs it as a scenario with everything on (:func:`scenario`:
``ps`` uplinks, block fading, the ``fixed`` policy deciding every request, energy and
distortion in every row, the Parquet trace written and summarised): the model
``versus-simpy-model.yaml`` uploads its 800,000-bit input at split 0 and the server's 5.12e10
FLOPs take 0.1 s on a ``paper-server``; the devices sit at the distance where the mean SNR over
the band is 10 dB.

Every case runs in its own Python process (its own peak RSS); in each round every size runs
the script and coinfer back to back (their order alternating), so both see the same machine
load. The machine is shared: the **ratios** within a round are the figures that count, not
the absolute rates. Printed per size, min / median / max over the rounds: the ratio of
coinfer's requests/s to the script's, both rates, coinfer's rate over its own rate at 1,000
devices (same round), set-up seconds (to the first SimPy event), peak RSS and the SimPy events
scheduled per request (read from SimPy's event counter after the run). Each ratio is
also given in CPU time (requests per CPU second of the process over the same span), which
other jobs on the machine disturb less than wall time.
``--reference REV`` adds a third contender: coinfer at git revision ``REV`` of this repository
(e.g. ``main``, run from its source: in Python), to measure one change at a time; ``--python``
adds this checkout in Python (``COINFER_PURE_PYTHON=1``), to measure what compiling the hot
modules gives (:mod:`coinfer.emulator.compiled`). Each contender's title says how many hot
modules it ran compiled.

Run:  python benchmarks/versus_simpy.py                       (100 / 1,000 / 10,000 devices)
      python benchmarks/versus_simpy.py --big                 (also 100,000 and 1,000,000)
      python benchmarks/versus_simpy.py --sizes 1000 --requests 20000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODEL_FILE = HERE / "versus-simpy-model.yaml"
SIZES = (100, 1000, 10_000)
TITLES = {
    "coinfer": "coinfer, this checkout (per-device arrival streams)",
    "merged": "coinfer, this checkout, each cell's arrivals merged (merged: true)",
    "python": "coinfer, this checkout, in Python (COINFER_PURE_PYTHON=1; per-device arrivals)",
}
BIG_SIZES = (100_000, 1_000_000)
#: Above this many devices coinfer runs with merged arrivals only: per-device processes and
#: states would take several GB at 1,000,000 devices.
PER_DEVICE_MAX = 100_000

# The workload, as bare_simpy.py has it.
TOTAL_RATE_PER_S = 80.0
CELLS = 10
BANDWIDTH_HZ = 20e6
MEAN_SNR = 10.0
NOISE_PSD_W_PER_HZ = 2e-19  # a cell's default
TX_POWER_W = 0.5  # paper-device's top power, the fixed policy's default
K0 = 1e-3  # the default log-distance path loss: -30 dB at 1 m, exponent 2.8
EXPONENT = 2.8


def distance_m() -> float:
    """The distance at which ``p·g/(B·N0)`` is the mean SNR, m."""
    gain = MEAN_SNR * BANDWIDTH_HZ * NOISE_PSD_W_PER_HZ / TX_POWER_W
    return float((K0 / gain) ** (1.0 / EXPONENT))


def scenario(devices: int, requests: int, merged: bool = False) -> dict[str, Any]:
    """The workload as a coinfer scenario (a dict for ``scenario_from_dict``); ``merged``: each
    cell's devices draw their arrivals as one merged Poisson process (docs/engine.md)."""
    per_cell = max(1, devices // CELLS)
    return {
        "name": f"versus-simpy-{devices}",
        "requests": requests,
        "model_files": [str(MODEL_FILE)],
        "devices": [
            {
                "name": f"cell{i}-dev",
                "count": per_cell,
                "hardware": "paper-device",
                "model": "versus-simpy",
                "arrivals": {
                    "process": "poisson",
                    "rate_per_s": TOTAL_RATE_PER_S / devices,
                    **({"merged": True} if merged else {}),
                },
                "distance_m": distance_m(),
                "deadline_s": 1.0,
                "cell": f"cell{i}",
            }
            for i in range(CELLS)
        ],
        "cells": [
            {"id": f"cell{i}", "bandwidth_hz": BANDWIDTH_HZ, "sharing": "ps", "server": f"edge{i}"}
            for i in range(CELLS)
        ],
        "servers": [{"id": f"edge{i}", "hardware": "paper-server"} for i in range(CELLS)],
        "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.01}},
        "policy": {"name": "fixed", "params": {"split": 0}},
    }


def run_coinfer(devices: int, requests: int, seed: int, merged: bool = False) -> dict[str, Any]:
    """One coinfer run in this process: set-up time (to the first SimPy event), run time (from
    it until ``simulate`` returns with the trace written and summarised; wall and this
    process's CPU time), peak RSS."""
    import resource

    import simpy

    from coinfer.emulator.api.run import simulate
    from coinfer.emulator.scenario.schema import scenario_from_dict

    try:
        from coinfer.emulator.compiled import status
    except ImportError:  # a --reference from before the compiled twins

        def status() -> dict[str, str]:
            return {}

    original_step = simpy.Environment.step
    first: list[float] = []

    environments: list[simpy.Environment] = []

    def first_step(env: simpy.Environment) -> None:
        first.append(time.perf_counter())
        first.append(time.process_time())
        environments.append(env)
        simpy.Environment.step = original_step  # type: ignore[method-assign]
        original_step(env)

    case = scenario_from_dict(scenario(devices, requests, merged))
    with tempfile.TemporaryDirectory() as out:
        simpy.Environment.step = first_step  # type: ignore[method-assign]
        started = time.perf_counter()
        result = simulate(case, seed=seed, out_dir=out, progress=False, force=True)
        ended, ended_cpu = time.perf_counter(), time.process_time()
        simpy.Environment.step = original_step  # type: ignore[method-assign]
        completed = result.summary.completed
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "requests": result.stats.requests,
        "events": next(environments[0]._eid),  # SimPy numbers every event it schedules
        "completed": completed,
        "seconds": ended - first[0],
        "cpu_seconds": ended_cpu - first[1],
        "setup_s": first[0] - started,
        "peak_rss_mb": peak / 1e6 if sys.platform == "darwin" else peak / 1024,
        "compiled": list(status().values()).count("compiled"),
        "hot_modules": len(status()),
    }


def child(kind: str, devices: int, requests: int, seed: int, layout: str | None) -> dict:
    """One case in a fresh Python process: ``bare`` (the script), ``coinfer`` (this checkout,
    or the package laid out under ``layout``), ``merged`` (this checkout, merged arrivals) or
    ``python`` (this checkout with ``COINFER_PURE_PYTHON=1``: its hot modules not compiled)."""
    if kind == "bare":
        command = [sys.executable, str(HERE / "bare_simpy.py")]
        command += ["--devices", str(devices), "--requests", str(requests), "--seed", str(seed)]
        env = None
    else:
        merged = str(int(kind == "merged"))
        command = [sys.executable, __file__, "--child", str(devices), str(requests), str(seed)]
        command.append(merged)
        env = {**os.environ}
        if kind == "python":
            env["COINFER_PURE_PYTHON"] = "1"
        if layout is not None:
            env["PYTHONPATH"] = os.pathsep.join([layout, str(HERE)])
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} with {devices} devices failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def spread(values: list[float], digits: int = 2) -> str:
    """min / median / max."""
    points = (min(values), statistics.median(values), max(values))
    return " / ".join(f"{v:,.{digits}f}" for v in points)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--big", action="store_true", help="also 100,000 and 1,000,000 devices")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reference", help="also coinfer at this git revision (e.g. main)")
    parser.add_argument(
        "--no-merged", action="store_true", help="leave out the run with merged arrivals"
    )
    parser.add_argument(
        "--python",
        action="store_true",
        help="also this checkout in Python (COINFER_PURE_PYTHON=1): what compiling gives",
    )
    parser.add_argument("--child", nargs=4, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        devices, requests, seed, merged = args.child
        print(json.dumps(run_coinfer(devices, requests, seed, bool(merged))))
        return 0
    sizes = sorted(set(args.sizes) | (set(BIG_SIZES) if args.big else set()))
    kinds = ["bare", "coinfer"] + ([] if args.no_merged else ["merged"])
    kinds += ["python"] if args.python else []
    layouts: dict[str, str | None] = {"bare": None, "coinfer": None, "merged": None}
    layouts["python"] = None
    with tempfile.TemporaryDirectory() as scratch:
        if args.reference:
            from setup_time import export, package_layout  # one copy of the export

            source = export(args.reference, Path(scratch))
            if source is not None:
                layouts["reference"] = str(package_layout(source, Path(scratch) / "layout"))
                kinds.append("reference")
        results: dict[tuple[str, int], list[dict]] = {(k, n): [] for k in kinds for n in sizes}
        for round_index in range(args.rounds):
            for devices in sizes:
                order = kinds if round_index % 2 == 0 else kinds[::-1]
                for kind in order:
                    if kind in ("coinfer", "reference", "python") and devices > PER_DEVICE_MAX:
                        continue
                    seed = args.seed + round_index
                    measured = child(kind, devices, args.requests, seed, layouts[kind])
                    results[kind, devices].append(measured)
                    print(
                        f"round {round_index + 1} {kind:9s} {devices:>9,} devices: "
                        f"{measured['requests'] / measured['seconds']:>9,.0f} requests/s, "
                        f"set-up {measured['setup_s']:.2f} s, "
                        f"peak {measured['peak_rss_mb']:,.0f} MB",
                        flush=True,
                    )
    print(
        f"\n{args.requests:,} requests, {args.rounds} interleaved rounds, min / median / max; "
        "the machine is shared: compare the ratios, taken within a round"
    )

    def rate(kind: str, devices: int) -> list[float]:
        return [r["requests"] / r["seconds"] for r in results[kind, devices]]

    def cpu_rate(kind: str, devices: int) -> list[float]:
        return [r["requests"] / r["cpu_seconds"] for r in results[kind, devices]]

    def per_request(kind: str, devices: int) -> list[float]:
        return [r["events"] / r["requests"] for r in results[kind, devices]]

    def over(a: list[float], b: list[float]) -> list[float]:
        return [x / y for x, y in zip(a, b, strict=True)]

    for kind in kinds[1:]:
        done = [r for n in sizes for r in results[kind, n]]
        compiled = f" ({done[0]['compiled']} of {done[0]['hot_modules']} hot modules compiled)"
        print(f"\n{TITLES.get(kind, args.reference)}{compiled if done else ''}")
        for devices in sizes:
            if not results[kind, devices]:
                print(
                    f"{devices:>9,} devices: not run (per-device processes "
                    f"above {PER_DEVICE_MAX:,})"
                )
                continue
            ratios = over(rate(kind, devices), rate("bare", devices))
            cpu_ratios = over(cpu_rate(kind, devices), cpu_rate("bare", devices))
            line = (
                f"{devices:>9,} devices: ratio to bare SimPy {spread(ratios)} "
                f"(CPU time: {spread(cpu_ratios)}); "
                f"{spread(rate(kind, devices), 0)} req/s "
                f"(bare {spread(rate('bare', devices), 0)}); "
                f"set-up {spread([r['setup_s'] for r in results[kind, devices]])} s "
                f"(bare {spread([r['setup_s'] for r in results['bare', devices]])}); "
                f"peak RSS {spread([r['peak_rss_mb'] for r in results[kind, devices]], 0)} MB "
                f"(bare {spread([r['peak_rss_mb'] for r in results['bare', devices]], 0)}); "
                f"SimPy events per request {spread(per_request(kind, devices))} "
                f"(bare {spread(per_request('bare', devices))})"
            )
            if 1000 in sizes and devices != 1000:
                own = over(rate(kind, devices), rate(kind, 1000))
                line += f"; rate / own rate at 1,000 devices {spread(own)}"
            print(line)
    against = {
        "reference": "this checkout over the reference",
        "python": "compiled over Python (per-device arrivals)",
    }
    for other, title in against.items():
        if other not in kinds:
            continue
        print(f"\n{title} (requests/s, same round):")
        for devices in sizes:
            if not results[other, devices]:
                continue
            gains = over(rate("coinfer", devices), rate(other, devices))
            cpu_gains = over(cpu_rate("coinfer", devices), cpu_rate(other, devices))
            print(f"{devices:>9,} devices: {spread(gains)} (CPU time: {spread(cpu_gains)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
