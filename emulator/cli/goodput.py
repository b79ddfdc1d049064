"""``coinfer goodput``: the largest arrival rate meeting both SLOs for a share of requests.

``coinfer goodput SCENARIO --ttft T --tpot T --attainment 0.9`` scales every device group's
arrival rate by a load factor ``x`` and finds by bisection the largest ``x`` at which that share
of the generative requests completes within both SLOs (:mod:`coinfer.emulator.sweeps.goodput`),
running ``--per-round`` probes at a time on the sweep executors (local processes by default,
``--serial``, ``--workers N``, ``--scheduler ADDRESS``, ``--dask-local N``). It prints the
goodput (``x``, requests/s, output tokens/s), the bracket, the number of probes and the probe
table; ``--out DIR`` keeps every run, the probe table and the answer.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coinfer.emulator.cli.argtypes import positive_float, positive_int, share
from coinfer.emulator.cli.run import add_trace_dir, scenario_arguments
from coinfer.emulator.cli.sweep import add_executor_flags
from coinfer.emulator.tables import format_table

if TYPE_CHECKING:
    from coinfer.emulator.sweeps.goodput import GoodputProbe, GoodputResult

DEFAULT_DIR = Path("sweeps")


def add_commands(commands: argparse._SubParsersAction, json_flag: argparse.ArgumentParser) -> None:
    """Register ``goodput`` on the top-level parser."""
    scenario_args = scenario_arguments(
        "scenario YAML file with generative requests", "duration_s=120"
    )
    add_trace_dir(scenario_args)
    goodput = commands.add_parser(
        "goodput",
        parents=[scenario_args, json_flag],
        help="the largest arrival rate at which a share of generative requests meets its SLOs",
    )
    goodput.add_argument(
        "--ttft", type=positive_float, metavar="S", help="TTFT SLO, s (default: the scenario's)"
    )
    goodput.add_argument(
        "--tpot", type=positive_float, metavar="S", help="TPOT SLO, s (default: the scenario's)"
    )
    goodput.add_argument(
        "--attainment",
        type=share,
        default=0.9,
        metavar="A",
        help="share of the generative requests that must meet both SLOs, in (0, 1] "
        "(default: 0.9); pooled over the seeds",
    )
    goodput.add_argument(
        "--seeds",
        type=positive_int,
        default=1,
        metavar="N",
        help="seeds per probe: S .. S+N-1, S the --seed (default: 1)",
    )
    goodput.add_argument(
        "--policy", metavar="NAME", help="run this policy (default parameters; --set for others)"
    )
    goodput.add_argument(
        "--lo", type=positive_float, metavar="X", help="load factor to start the bracket from"
    )
    goodput.add_argument(
        "--hi", type=positive_float, metavar="X", help="load factor to end the bracket at"
    )
    goodput.add_argument(
        "--tolerance",
        type=positive_float,
        default=0.05,
        metavar="R",
        help="relative width of the final bracket (default: 0.05)",
    )
    goodput.add_argument(
        "--per-round",
        type=positive_int,
        metavar="N",
        help="load factors probed per round (default: the workers)",
    )
    goodput.add_argument(
        "--out",
        metavar="DIR",
        help=f"directory for the runs, the probe table and goodput.json (default: "
        f"{DEFAULT_DIR}/NAME-goodput)",
    )
    add_executor_flags(goodput)


def goodput_command(args: argparse.Namespace) -> str:
    """``coinfer goodput``: search, then print the answer and the probe table (or JSON)."""
    from coinfer.emulator.scenario.schema import (
        apply_overrides,
        load_scenario_data,
        scenario_from_dict,
    )
    from coinfer.emulator.sweeps.executors import make_executor
    from coinfer.emulator.sweeps.goodput import goodput
    from coinfer.emulator.sweeps.runner import progress_enabled

    data = load_scenario_data(args.scenario)
    if args.policy is not None:
        data["policy"] = {"name": args.policy}
    apply_overrides(data, args.overrides)
    scenario = scenario_from_dict(data, f"scenario {args.scenario!r}", file=args.scenario)
    first = scenario.seed if args.seed is None else args.seed
    out = Path(args.out) if args.out else DEFAULT_DIR / f"{scenario.name}-goodput"
    executor = make_executor(
        serial=args.serial,
        workers=args.workers,
        scheduler=args.scheduler,
        dask_local=args.dask_local,
    )
    result = goodput(
        scenario,
        out,
        attainment=args.attainment,
        ttft_s=args.ttft,
        tpot_s=args.tpot,
        seeds=list(range(first, first + args.seeds)),
        executor=executor,
        per_round=args.per_round,
        lo=args.lo,
        hi=args.hi,
        tolerance=args.tolerance,
        trace_dir=args.trace_dir,
        source=f"scenario {args.scenario!r}",
        on_round=_progress if progress_enabled() else None,
    )
    if getattr(args, "json", False):
        return json.dumps(_json(result), indent=2)
    return format_result(result)


def _progress(probes: Any) -> None:
    shown = ", ".join(f"x={p.load_factor:.4g}: {p.attainment:.1%}" for p in probes)
    print(f"round {probes[0].round}: {shown}", file=sys.stderr, flush=True)


def _json(result: GoodputResult) -> dict[str, Any]:
    from dataclasses import asdict

    from coinfer.emulator.sweeps.metrics import finite_or_none

    return finite_or_none(
        {
            **result.to_dict(),
            "out_dir": result.out_dir,
            "slo": {"ttft_s": result.slo_ttft_s, "tpot_s": result.slo_tpot_s},
            "target": result.target,
            "seeds": list(result.seeds),
            "probes": [asdict(p) for p in result.probes],
        }
    )


def format_result(result: GoodputResult) -> str:
    """The answer, how it was found, and the probe table (by load factor)."""
    slo = " and ".join(
        f"{name} ≤ {value * 1e3:.4g} ms"
        for name, value in (("TTFT", result.slo_ttft_s), ("TPOT", result.slo_tpot_s))
        if math.isfinite(value)
    )
    seeds = result.seeds
    span = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}..{seeds[-1]}"
    head = [
        f"{result.scenario} (policy {result.policy}): {slo} for {result.target:.0%} of the "
        f"generative requests ({span}, pooled)"
    ]
    met, missed = result.answer, _probe_at(result, result.missed_load_factor)
    if result.status == "found" and met is not None and missed is not None:
        head.append(
            f"goodput: x = {met.load_factor:.4g}, {met.offered_rate_per_s:.4g} req/s, "
            f"{met.output_tokens_per_s:.4g} output tokens/s"
        )
        head.append(
            f"bracket: met at x = {met.load_factor:.4g} ({met.attainment:.1%}), missed at "
            f"x = {missed.load_factor:.4g} ({missed.attainment:.1%}); tolerance "
            f"{result.tolerance:.3g}"
        )
    elif result.status == "met-everywhere" and met is not None:
        head.append(
            f"goodput: at least x = {met.load_factor:.4g} ({met.offered_rate_per_s:.4g} req/s, "
            f"{met.output_tokens_per_s:.4g} output tokens/s): every probed load met the "
            "target; give a larger --hi to look further"
        )
    else:
        smallest = min(result.probes, key=lambda p: p.load_factor)
        head.append(
            f"goodput: none found: no probed load met the target, down to x = "
            f"{smallest.load_factor:.4g} ({smallest.attainment:.1%}); the SLOs may be out of "
            "reach at any load (see TTFT and TPOT p99 there), or give a smaller --lo"
        )
    runs = (
        f"{result.ran} runs on {result.executor}, {result.reused} reused"
        if result.ran
        else f"all {result.reused} runs already done"
    )
    head.append(
        f"{len(result.probes)} probes in {result.rounds} rounds of up to {result.per_round}; "
        f"{runs}; {result.wall_time_s:.1f} s"
    )
    out = result.out_dir
    head.append(f"results: {out}/goodput.json, probes.csv (and .parquet); runs in {out}/runs/")
    return "\n".join(head) + "\n\n" + probe_table(result)


def _probe_at(result: GoodputResult, x: float | None) -> GoodputProbe | None:
    return next((p for p in result.probes if p.load_factor == x), None)


def probe_table(result: GoodputResult) -> str:
    """One row per probe, by load factor; the goodput's row marked."""
    rows = []
    for probe in sorted(result.probes, key=lambda p: p.load_factor):
        mark = "yes" if probe.meets else "no"
        if probe.load_factor == result.load_factor:
            mark += " <- goodput"
        rows.append(
            (
                f"{probe.load_factor:.4g}",
                f"{probe.offered_rate_per_s:.4g}",
                f"{probe.output_tokens_per_s:.4g}",
                f"{probe.attainment:.2%}",
                f"{probe.attainment_min_seed:.2%}",
                _ms(probe.ttft_p99_s),
                _ms(probe.tpot_p99_s),
                probe.round,
                mark,
            )
        )
    headers = (
        "x",
        "req/s",
        "tokens/s",
        "attainment",
        "worst seed",
        "TTFT p99 (ms)",
        "TPOT p99 (ms)",
        "round",
        "meets",
    )
    return format_table(headers, rows)


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 1e3:.4g}"
