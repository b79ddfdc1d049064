"""Set-up time of a run against the number of devices, for this checkout and a reference commit.

The standard scenario of the engine benchmark (10 cells, each with its own server, Rayleigh block
fading, processor-sharing uplinks, the ``fixed`` policy) with 1,000, 10,000 and 100,000 devices
and a duration of ~0 (1 ns: every device draws its first arrival, none arrives). Two times per
run, both from the call of ``simulate()``:

* **to the first event**: until SimPy processes its first event (the deployment and the policy
  are built and the engine is set up);
* **whole run**: until ``simulate()`` returns (also every device's first draw, at time 0, and
  the empty trace).

Both are given in wall-clock time and in the process's CPU time (``time.process_time``), which
other load on a shared machine disturbs much less.

Each (tree, size) runs in its own Python process, which first does one small run so that lazy
imports are not counted; ``--rounds`` runs follow and min / median / max are printed. The
reference (``--reference``, default ``main``; ``none`` to skip) is exported with ``git archive``
into a temporary directory and imported from there, so both trees run in the same interpreter
and environment. Machines here are shared and noisy: compare the two trees' columns, measured
side by side, rather than absolute times across days.

Run:  python benchmarks/setup_time.py [--sizes 1000 10000 100000] [--rounds 3] [--reference main]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: The package folders that install under ``coinfer`` (pyproject.toml's package-dir).
PACKAGE_FOLDERS = ("emulator", "policies", "topologies", "traces")
DURATION_S = 1e-9
#: What is measured, and its column heading.
COLUMNS = {
    "first_event": "to 1st event, wall",
    "first_event_cpu": "to 1st event, CPU",
    "whole": "whole run, wall",
    "whole_cpu": "whole run, CPU",
}


# ---- one tree, one size (in a child process) --------------------------------------------------


def measure(devices: int, rounds: int) -> dict[str, list[float]]:
    """Wall and CPU times to the first event and of the whole run, s, of ``rounds`` runs."""
    import simpy
    from engine_throughput import standard_scenario

    from coinfer.emulator.api.run import simulate

    def scenario(count: int):
        # model_copy: the benchmark's scenario with a duration instead of a request count
        return standard_scenario(1, devices=count).model_copy(
            update={"requests": None, "duration_s": DURATION_S}
        )

    simulate(scenario(100), seed=1)  # imports and caches, not counted
    original_step = simpy.Environment.step
    first_event: list[tuple[float, float]] = []

    def first_step(env: simpy.Environment) -> None:
        first_event.append((time.perf_counter(), time.process_time()))
        simpy.Environment.step = original_step  # later events run unobserved
        original_step(env)

    times: dict[str, list[float]] = {key: [] for key in COLUMNS}
    for round_index in range(rounds):
        case = scenario(devices)
        first_event.clear()
        simpy.Environment.step = first_step
        started, started_cpu = time.perf_counter(), time.process_time()
        simulate(case, seed=1 + round_index)
        ended, ended_cpu = time.perf_counter(), time.process_time()
        simpy.Environment.step = original_step
        (first, first_cpu) = first_event[0]
        times["first_event"].append(first - started)
        times["first_event_cpu"].append(first_cpu - started_cpu)
        times["whole"].append(ended - started)
        times["whole_cpu"].append(ended_cpu - started_cpu)
    return times


# ---- the trees ---------------------------------------------------------------------------------


def package_layout(source: Path, into: Path) -> Path:
    """A directory holding ``coinfer/`` made of ``source``'s folders (symbolic links), to put on
    ``PYTHONPATH``: the installed layout of ``source`` without installing it."""
    package = into / "coinfer"
    package.mkdir(parents=True)
    (package / "__init__.py").symlink_to(source / "coinfer" / "__init__.py")
    for folder in PACKAGE_FOLDERS:
        (package / folder).symlink_to(source / folder, target_is_directory=True)
    return into


def export(reference: str, into: Path) -> Path | None:
    """The tree of git ``reference`` of this repository, written under ``into`` (None, with a
    note, when git or the reference is not there)."""
    archive = into / "reference.tar"
    with archive.open("wb") as out:
        try:
            done = subprocess.run(
                ["git", "-C", str(ROOT), "archive", reference],
                stdout=out,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
            )
        except FileNotFoundError:
            print("no reference: git is not installed")
            return None
    if done.returncode != 0:
        print(f"no reference: git archive {reference} failed: {done.stderr.strip()}")
        return None
    source = into / "source"
    with tarfile.open(archive) as tar:
        tar.extractall(source, filter="data")
    return source


def run_child(layout: Path, devices: int, rounds: int) -> dict[str, list[float]]:
    """:func:`measure` in a fresh Python process that imports coinfer from ``layout``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(layout), str(HERE)])}
    command = [sys.executable, __file__, "--child", str(devices), "--rounds", str(rounds)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"measuring {devices} devices failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def spread(values: list[float]) -> str:
    """min / median / max, s."""
    return f"{min(values):.3f}/{statistics.median(values):.3f}/{max(values):.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reference", default="main", help="git commit to compare; none: skip")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(measure(args.child, args.rounds)))
        return 0

    with tempfile.TemporaryDirectory(prefix="coinfer-setup-") as scratch:
        work = Path(scratch)
        trees = {"this checkout": package_layout(ROOT, work / "current")}
        source = None if args.reference == "none" else export(args.reference, work)
        if source is not None:
            trees[args.reference] = package_layout(source, work / "reference")
        print(
            f"set-up time, s (min / median / max of {args.rounds}): simulate() on the standard "
            f"scenario (10 cells, Rayleigh, PS uplink) with a duration of {DURATION_S:g} s"
        )
        heading = "".join(f"  {title:>20}" for title in COLUMNS.values())
        print(f"{'devices':>9}  {'tree':<14}{heading}")
        for devices in args.sizes:
            for name, layout in trees.items():
                times = run_child(layout, devices, args.rounds)
                row = "".join(f"  {spread(times[key]):>20}" for key in COLUMNS)
                print(f"{devices:>9,}  {name:<14}{row}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
