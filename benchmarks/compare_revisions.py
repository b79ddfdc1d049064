"""Engine speed of this checkout against another one (e.g. the previous main), interleaved.

Runs ``benchmarks/engine_throughput.py`` of each checkout in turn, ``--rounds`` times, each in its
own process with its own Python (so each imports its own code), and reads the ratio it prints
(coinfer requests/s over SimPy's M/M/1 jobs/s measured in the same process, the figure that is
comparable on a noisy machine). Prints min / median / max of both ratios and the change of the
medians.

Run, after ``git worktree add ../base <commit>`` and an environment with that checkout installed:

    python benchmarks/compare_revisions.py --reference ../base \
        --reference-python ../venv-base/bin/python
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
RATIO = re.compile(r"ratio coinfer / SimPy M/M/1: ([0-9.]+)")


def ratio_of(checkout: Path, python: str, requests: int) -> float:
    """One run of ``checkout``'s engine benchmark: its coinfer / M/M/1 ratio."""
    command = [
        python,
        "benchmarks/engine_throughput.py",
        "--requests",
        str(requests),
        "--mm1-jobs",
        str(requests),
        "--repeat",
        "1",
        "--memory-requests",
        "1000",
    ]
    output = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=True)
    match = RATIO.search(output.stdout)
    if match is None:
        raise RuntimeError(f"no ratio in the output of {checkout}:\n{output.stdout}")
    return float(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="the other checkout")
    parser.add_argument(
        "--reference-python", default=sys.executable, help="Python with that checkout installed"
    )
    parser.add_argument("--python", default=sys.executable, help="Python for this checkout")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args(argv)

    runs: dict[str, list[float]] = {"reference": [], "this": []}
    for round_index in range(args.rounds):
        pairs = [("reference", args.reference, args.reference_python), ("this", HERE, args.python)]
        if round_index % 2:
            pairs.reverse()  # alternate who goes first
        for label, checkout, python in pairs:
            runs[label].append(ratio_of(checkout.resolve(), python, args.requests))
        print(f"round {round_index + 1}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in runs.items()))
    for label, values in runs.items():
        print(
            f"{label:9s} ratio min / median / max: {min(values):.3f} / "
            f"{statistics.median(values):.3f} / {max(values):.3f}"
        )
    change = statistics.median(runs["this"]) / statistics.median(runs["reference"]) - 1
    print(f"change of the median ratio: {change:+.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
