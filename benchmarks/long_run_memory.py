"""Long runs in bounded memory: peak resident memory (RSS) of a run against its number of
requests, the summary accumulated while the trace is written.

Each case runs in a fresh Python process (its peak RSS is its own): the standard scenario (1,000
devices in 10 cells, each with its own server, Rayleigh block fading, processor-sharing uplinks,
the ``fixed`` policy, 200 requests/s in total), its trace written to Parquet in a temporary
folder, its summary taken (accumulated during the run, :mod:`coinfer.emulator.api.summary`). The
process then reads the summary's columns back and summarises them the old way, and reports its
peak again: what the summary would cost if it read the trace back.

Target (issue 20): 10,000,000 requests under 1 GB peak RSS.

Run:  python benchmarks/long_run_memory.py                       (100,000 and 1,000,000 requests)
      python benchmarks/long_run_memory.py --ten-million         (also 10,000,000: about 15 min)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from typing import Any

from scaling import _rss_mb as peak_rss_mb  # one copy of each
from scaling import scenario_data as standard_scenario

DEVICES = 1000
CELLS = 10
TARGET_PEAK_MB = 1000.0


def scenario_data(requests: int) -> dict[str, Any]:
    """The standard scenario of the scaling benchmark: 1,000 devices in 10 cells at 200
    requests/s in total."""
    return {**standard_scenario(DEVICES, requests, CELLS), "name": "long-run"}


def run_case(requests: int) -> dict[str, Any]:
    """One run of ``requests`` requests in this process: its wall time, its peak RSS with the
    summary accumulated, and the peak after the old read-back summary."""
    from coinfer.emulator.api.run import simulate
    from coinfer.emulator.api.summary import SUMMARY_COLUMNS, summarize
    from coinfer.emulator.scenario.schema import scenario_from_dict

    scenario = scenario_from_dict(scenario_data(requests))
    before_mb = peak_rss_mb()
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = simulate(scenario, seed=1, out_dir=out, force=True, progress=False)
        summary = result.summary  # accumulated while the trace was written
        elapsed = time.perf_counter() - started
        peak_mb = peak_rss_mb()
        read_back = summarize(result.read_trace(SUMMARY_COLUMNS), result.stats, 0.0)
        read_back_peak_mb = peak_rss_mb()
    if read_back.completed != summary.completed or read_back.latency_p99_s != summary.latency_p99_s:
        raise RuntimeError("the accumulated summary differs from the one read back")
    return {
        "requests": result.stats.requests,
        "completed": summary.completed,
        "seconds": elapsed,
        "requests_per_s": result.stats.requests / elapsed,
        "rss_after_import_mb": before_mb,
        "peak_rss_mb": peak_mb,
        "peak_rss_reading_back_mb": read_back_peak_mb,
    }


def case_in_subprocess(requests: int) -> dict[str, Any]:
    """:func:`run_case` in a fresh Python process (its own peak RSS)."""
    done = subprocess.run(
        [sys.executable, __file__, "--case", str(requests)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"case of {requests} requests failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--ten-million", action="store_true", help="also a run of 10,000,000 requests"
    )
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(args.case)))
        return 0
    sizes = [*args.requests, *([10_000_000] if args.ten_million else [])]
    print(
        f"{'requests':>11} {'wall s':>8} {'req/s':>8} {'RSS MB':>8} "
        f"{'peak MB':>8} {'read-back peak MB':>18}"
    )
    worst = 0.0
    for requests in sizes:
        case = case_in_subprocess(requests)
        worst = max(worst, case["peak_rss_mb"])
        print(
            f"{case['requests']:>11,} {case['seconds']:>8.1f} {case['requests_per_s']:>8.0f} "
            f"{case['rss_after_import_mb']:>8.0f} {case['peak_rss_mb']:>8.0f} "
            f"{case['peak_rss_reading_back_mb']:>18.0f}",
            flush=True,
        )
    verdict = "met" if worst < TARGET_PEAK_MB else "NOT met"
    print(f"largest peak RSS {worst:.0f} MB: target under {TARGET_PEAK_MB:.0f} MB {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
