"""``coinfer compare``: policies side by side on identical randomness, with paired intervals.

``coinfer compare SCENARIO.yaml --policies a,b,c --seeds N`` runs each policy on seeds
``S .. S+N−1`` (``S``: ``--seed``, else the scenario's seed) of the same scenario, so that on a
seed every policy sees the same arrivals, work, channel and input traces
(:mod:`emulator.compare`). It prints each policy's mean over the seeds (± the 95 % confidence
half-width) and, for every other policy, the mean paired difference from the first one with
its 95 % paired-t interval, for latency p50 and p99, the deadline-met ratio, the energy per
request and the mean distortion bound. ``--json`` prints the per-seed values too (SI units).
The engine is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING

from coinfer.emulator.cli.argtypes import non_negative_int, positive_int
from coinfer.emulator.cli.run import add_size_flags, add_trace_dir
from coinfer.emulator.tables import format_table, half_width_text

if TYPE_CHECKING:
    from coinfer.emulator.api.compare import Comparison, Interval


def add_commands(commands: argparse._SubParsersAction, json_flag: argparse.ArgumentParser) -> None:
    """Register ``coinfer compare`` on the top-level parser."""
    compare = commands.add_parser(
        "compare",
        parents=[json_flag],
        help="compare policies on the same seeds: means and paired differences with 95%% CIs",
    )
    compare.add_argument("scenario", help="scenario YAML file")
    compare.add_argument(
        "--policies",
        required=True,
        type=_policy_list,
        metavar="A,B,...",
        help="policies to compare, comma-separated; the others are compared with the first "
        "(the scenario's policy keeps its parameters, the others run with their defaults)",
    )
    compare.add_argument(
        "--seeds",
        type=positive_int,
        default=5,
        metavar="N",
        help="number of seeds (default: 5)",
    )
    compare.add_argument(
        "--seed",
        type=non_negative_int,
        metavar="S",
        help="first seed (default: the scenario's own); the seeds are S .. S+N-1",
    )
    compare.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        dest="overrides",
        help="override a scenario field, e.g. --set devices.0.count=20 (repeatable)",
    )
    add_trace_dir(compare)
    add_size_flags(compare)


def _policy_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if len(names) < 2 or not all(names):
        raise argparse.ArgumentTypeError(
            f"got {text!r}, expected at least two comma-separated policy names"
        )
    return names


def compare_command(args: argparse.Namespace) -> str:
    """``coinfer compare``: the comparison table, or JSON with ``--json``."""
    from coinfer.emulator.api.compare import compare_policies  # the engine's imports are heavy
    from coinfer.emulator.scenario.schema import load_scenario
    from coinfer.emulator.sweeps.metrics import finite_or_none

    scenario = load_scenario(args.scenario, args.overrides)
    first = scenario.seed if args.seed is None else args.seed
    seeds = list(range(first, first + args.seeds))
    comparison = compare_policies(
        scenario,
        args.policies,
        seeds,
        trace_dir=args.trace_dir,
        force=args.force,
        max_events=args.max_events,
    )
    if getattr(args, "json", False):
        return json.dumps(finite_or_none(comparison.to_dict()), indent=2)
    return format_comparison(comparison)


def format_comparison(comparison: Comparison) -> str:
    """Two tables: each policy's means, and the paired differences from the first policy."""
    from coinfer.emulator.api.compare import METRICS as ALL_METRICS

    # a metric no run defines (deadline met without any deadline) is left out
    METRICS = tuple(
        metric
        for metric in ALL_METRICS
        if any(
            not math.isnan(value)
            for series in comparison.values[metric[0]].values()
            for value in series
        )
    )
    seeds = comparison.seeds
    span = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}..{seeds[-1]}"
    head = (
        f"{comparison.scenario}: {len(comparison.policies)} policies x {len(seeds)} seeds "
        f"({span}); every policy sees the same arrivals, channel and traces on a seed; "
        f"{comparison.wall_time_s:.1f} s"
    )
    base = comparison.baseline
    labels = [f"{label} ({unit})" if unit else label for _, label, _, unit in METRICS]
    means = [
        (
            label,
            *(_mean_text(comparison.mean(policy, name), factor) for policy in comparison.policies),
        )
        for label, (name, _, factor, _) in zip(labels, METRICS, strict=True)
    ]
    differences = [
        (
            label,
            *(
                _difference_text(comparison.difference(policy, name), factor)
                for policy in comparison.policies[1:]
            ),
        )
        for label, (name, _, factor, _) in zip(labels, METRICS, strict=True)
    ]
    parts = [
        head,
        "",
        "mean over seeds ± 95% CI half-width",
        format_table(("metric", *comparison.policies), means),
        "",
        f"paired difference from {base} (policy - {base}): mean [95% CI, paired t over seeds]",
        format_table(
            ("metric", *(f"{policy} - {base}" for policy in comparison.policies[1:])),
            differences,
        ),
    ]
    if len(seeds) < 2:
        parts.append("(one seed: no confidence interval; use --seeds 2 or more)")
    return "\n".join(parts)


def _number(value: float, signed: bool = False) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _mean_text(interval: Interval, factor: float) -> str:
    mean = _number(interval.mean * factor)
    if interval.n < 2 or math.isnan(interval.half_width):
        return mean
    half = half_width_text(interval.mean * factor, interval.half_width * factor)
    return f"{mean} ± {half}"


def _difference_text(interval: Interval, factor: float) -> str:
    mean = _number(interval.mean * factor, signed=True)
    if interval.n < 2 or math.isnan(interval.half_width):
        return mean
    low, high = interval.low * factor, interval.high * factor
    return f"{mean} [{_number(low, signed=True)}, {_number(high, signed=True)}]"
