"""What the progress bar of a run costs: the standard engine scenario with and without it.

Runs the standard scenario of ``engine_throughput.py`` (1,000 devices in 10 cells, Rayleigh
fading, PS uplinks, the ``fixed`` policy) with ``simulate(progress=False)`` and
``simulate(progress=True)`` (the bar drawn into a buffer, as a terminal would get it),
interleaved ``--repeat`` times; each rate is the best of its repetitions. Prints both rates and
the overhead of the bar in percent. Without the bar the engine runs no watcher at all
(``emulator/engine/progress.py``), so the first rate is the engine's own.

Run:  python benchmarks/progress_overhead.py [--requests 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

from engine_throughput import standard_scenario  # the same scenario, one copy

from coinfer.emulator.api.run import simulate


def requests_per_s(requests: int, progress: bool) -> float:
    """Requests per wall-clock second of one run of the standard scenario."""
    scenario = standard_scenario(requests)
    with contextlib.redirect_stderr(io.StringIO()):
        started = time.perf_counter()
        result = simulate(scenario, seed=1, progress=progress)
        elapsed = time.perf_counter() - started
    return result.stats.requests / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    without, with_bar = [], []
    for _ in range(args.repeat):
        without.append(requests_per_s(args.requests, progress=False))
        with_bar.append(requests_per_s(args.requests, progress=True))
    best_without, best_with = max(without), max(with_bar)
    print(f"standard scenario, {args.requests} requests, best of {args.repeat}")
    print(f"without progress bar: {best_without:,.0f} requests/s")
    print(f"with progress bar:    {best_with:,.0f} requests/s")
    print(f"overhead of the bar:  {100 * (best_without / best_with - 1):+.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
