"""The speed-up of one run split into 2 shards on 2 local workers, against the same run unsharded.

The scenario: 1,000 devices in 10 cells, each cell with its own server (Rayleigh block fading,
processor-sharing uplinks, the ``fixed`` policy, 200 requests/s in total), bounded by its
duration; it falls apart into 10 independent parts, dealt to 2 shards of 500 devices. Rounds
alternate the two ways of running it (unsharded in this process, then sharded on 2 worker
processes, each started for the run: everything a user waits for, from the call to the
summary, Parquet parts renumbered included), and against the slower shard's own wall time (its
set-up and run: the speed-up once the workers are running, as on a cluster), and in CPU time
(the unsharded run's over the busier shard's: what two idle cores would give at most, start-up
aside). A control measures
what the machine gives two processes right now: the same pure-Python task twice, one after the
other and then on 2 processes. Every round checks that the sharded summary equals the unsharded one.

Run:  python benchmarks/sharded_speedup.py                  (3 rounds of 30 s of arrivals)
      python benchmarks/sharded_speedup.py --dask           (shards on a local Dask cluster)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

from scaling import scenario_data as standard_scenario  # one copy of the workload

DEVICES = 1000
CELLS = 10


def scenario_data(duration_s: float) -> dict[str, Any]:
    """The standard scenario of the scaling benchmark (1,000 devices in 10 cells, each with its
    own server) for ``duration_s`` of arrivals."""
    data = standard_scenario(DEVICES, 1, CELLS)
    del data["requests"]
    return {**data, "name": "sharded", "duration_s": duration_s}


def burn(iterations: int) -> int:
    """Pure-Python CPU work (the control task)."""
    total = 0
    for i in range(iterations):
        total += i * i
    return total


def _raise(task: Any, err: BaseException) -> Any:
    raise err


def control_speedup(iterations: int) -> float:
    """Two tasks one after the other over the same two on 2 worker processes (pool start-up
    excluded): the parallelism the machine gives right now (2.0 on two idle cores)."""
    from coinfer.emulator.sweeps.executors import ProcessExecutor

    with ProcessExecutor(2) as executor:
        list(executor.map_unordered(burn, [1000, 1000], _raise))  # start the processes
        started = time.perf_counter()
        burn(iterations)
        burn(iterations)
        serial = time.perf_counter() - started
        started = time.perf_counter()
        list(executor.map_unordered(burn, [iterations, iterations], _raise))
        parallel = time.perf_counter() - started
    return serial / parallel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="s of arrivals")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dask", action="store_true", help="a local Dask cluster of 2 workers")
    args = parser.parse_args(argv)

    from coinfer.emulator.api.run import simulate
    from coinfer.emulator.scenario.schema import scenario_from_dict
    from coinfer.emulator.sweeps.executors import DaskExecutor, Executor, ProcessExecutor
    from coinfer.emulator.sweeps.shards import simulate_sharded

    scenario = scenario_from_dict(scenario_data(args.duration))
    plain_s, sharded_s, speedups, compute, cpu, controls = [], [], [], [], [], []
    requests = 0
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory() as out:
            started, cpu_started = time.perf_counter(), time.process_time()
            plain = simulate(scenario, 1, f"{out}/plain", force=True, progress=False)
            summary = plain.summary
            plain_s.append(time.perf_counter() - started)
            plain_cpu = time.process_time() - cpu_started
            executor: Executor = DaskExecutor(local_workers=2) if args.dask else ProcessExecutor(2)
            started = time.perf_counter()
            sharded = simulate_sharded(scenario, 1, f"{out}/sharded", 2, executor, force=True)
            merged = sharded.result.summary
            sharded_s.append(time.perf_counter() - started)
        if merged.to_dict() != summary.to_dict():
            raise RuntimeError("the sharded summary differs from the unsharded one")
        requests = plain.stats.requests
        speedups.append(plain_s[-1] / sharded_s[-1])
        compute.append(plain_s[-1] / max(sharded.shard_wall_time_s))
        cpu.append(plain_cpu / max(sharded.shard_cpu_time_s))
        controls.append(control_speedup(3_000_000))
        print(
            f"round {round_ + 1}: unsharded {plain_s[-1]:.2f} s, 2 shards {sharded_s[-1]:.2f} s "
            f"(shards' own {', '.join(f'{s:.2f}' for s in sharded.shard_wall_time_s)} s), "
            f"speed-up {speedups[-1]:.2f}x; control {controls[-1]:.2f}x",
            flush=True,
        )

    def three(values: list[float], unit: str) -> str:
        low, mid, high = min(values), statistics.median(values), max(values)
        return f"{low:.2f} / {mid:.2f} / {high:.2f}{unit}"

    where = "a local Dask cluster of 2 workers" if args.dask else "2 local processes"
    print(f"{requests:,} requests, {DEVICES} devices in {CELLS} independent cells; on {where}")
    print(f"min / median / max over {args.rounds} interleaved rounds:")
    print(f"  unsharded             {three(plain_s, ' s')}")
    print(f"  2 shards              {three(sharded_s, ' s')}")
    print(f"  speed-up              {three(speedups, 'x')}")
    print(f"  over the slower shard {three(compute, 'x')}  (workers already running)")
    print(f"  in CPU time           {three(cpu, 'x')}  (unsharded / the busier shard)")
    print(f"  control (2 processes) {three(controls, 'x')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
