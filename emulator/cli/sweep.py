"""``coinfer sweep``, ``coinfer summarize`` and ``coinfer plot``: what-if studies at scale.

``coinfer sweep SWEEP.yaml`` runs every configuration × seed of a sweep file that has not
finished yet (local processes on every core by default; ``--serial``, ``--workers N``,
``--scheduler ADDRESS`` or ``--dask-local N`` choose otherwise), then writes the per-run and
aggregated tables and prints the aggregate. ``coinfer summarize DIR`` rebuilds and prints the
tables of a sweep directory (also one whose sweep was interrupted); ``coinfer plot DIR --kind
KIND`` draws one figure as PNG and PDF. The sweep modules are imported only when a command runs.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coinfer.emulator.cli.argtypes import positive_int
from coinfer.emulator.cli.errors import EXIT_PARTLY_FAILED, Printed
from coinfer.emulator.cli.run import add_size_flags, add_trace_dir
from coinfer.emulator.errors import InputError
from coinfer.emulator.tables import format_table, half_width_text

if TYPE_CHECKING:
    import pandas as pd

    from coinfer.emulator.sweeps.plan import Plan
    from coinfer.emulator.sweeps.runner import SweepOutcome

DEFAULT_SWEEPS_DIR = Path("sweeps")
PLOT_KINDS = (
    "cdf",
    "load",
    "pareto",
    "breakdown",
    "distortion",
    "tokens",
    "token-energy",
    "timeline",
)
#: Metrics printed by default: (metric, scale, unit).
DEFAULT_METRICS = (
    ("latency_p50_s", 1e3, "ms"),
    ("latency_p99_s", 1e3, "ms"),
    ("deadline_met_ratio", 100.0, "%"),
    ("energy_per_request_j", 1e3, "mJ"),
    ("distortion_mean", 1.0, ""),
)
#: Metrics printed by default instead when the runs had generative requests (the aggregate has
#: these columns only then; ``--metric`` picks any other, e.g. ``generative.ttft_p90_s``).
GENERATIVE_METRICS = (
    ("generative.ttft_p50_s", 1e3, "ms"),
    ("generative.ttft_p99_s", 1e3, "ms"),
    ("generative.tpot_p50_s", 1e3, "ms"),
    ("generative.tpot_p99_s", 1e3, "ms"),
    ("generative.itl_p99_p99_s", 1e3, "ms"),
    ("generative.tokens_per_s", 1.0, "tok/s"),
    ("generative.energy_per_token_j", 1.0, "J"),
    ("generative.slo_attainment", 100.0, "%"),
    ("generative.preemptions", 1.0, ""),
)
_SHOWN_FAILURES = 5


def add_executor_flags(parser: argparse.ArgumentParser) -> None:
    """Where runs execute: ``--serial``, ``--workers N``, ``--scheduler ADDRESS`` or
    ``--dask-local N`` (one of them; :func:`~coinfer.emulator.sweeps.executors.make_executor`)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--serial", action="store_true", help="run in this process, one by one")
    where.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help="local worker processes (default: one per core)",
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, e.g. tcp://host:8786"
    )
    where.add_argument(
        "--dask-local",
        type=positive_int,
        metavar="N",
        help="start a local Dask cluster of N worker processes",
    )


def add_commands(commands: argparse._SubParsersAction, json_flag: argparse.ArgumentParser) -> None:
    """Register ``sweep``, ``summarize`` and ``plot`` on the top-level parser."""
    sweep = commands.add_parser(
        "sweep",
        parents=[json_flag],
        help="run a sweep: configurations x policies x seeds, resumable, on all cores or Dask",
    )
    sweep.add_argument("sweep", help="sweep YAML file (see docs/sweeps.md)")
    sweep.add_argument(
        "--out", metavar="DIR", help=f"output directory (default: {DEFAULT_SWEEPS_DIR}/NAME)"
    )
    sweep.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        dest="overrides",
        help="override a field of the base scenario for every run (repeatable)",
    )
    sweep.add_argument(
        "--dry-run", action="store_true", help="list the configurations and runs, run nothing"
    )
    add_trace_dir(sweep)
    add_size_flags(sweep)
    sweep.add_argument(
        "--overwrite",
        action="store_true",
        help="take over an --out folder that holds another sweep (its runs stay, in no table)",
    )
    add_executor_flags(sweep)

    summarize = commands.add_parser(
        "summarize",
        parents=[json_flag],
        help="aggregate a sweep directory: mean and 95%% CI over seeds per configuration",
    )
    summarize.add_argument("directory", help="a sweep's output directory")
    summarize.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="NAME",
        help="metric to print (repeatable; default: latency p50/p99, deadline met, energy, "
        "distortion; with generative requests TTFT, TPOT and ITL, tokens/s, energy per token, "
        "SLO attainment, preemptions)",
    )

    plot = commands.add_parser("plot", help="draw a figure of a sweep or a run (PNG and PDF)")
    plot.add_argument("directory", help="a sweep's output directory (a run's for timeline)")
    plot.add_argument("--kind", required=True, choices=PLOT_KINDS, help="which figure")
    plot.add_argument(
        "--out", metavar="STEM", help="output path without suffix (default: DIR/plots/KIND)"
    )
    plot.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="keep only configurations with this varied value (repeatable), e.g. "
        "--where policy=min-latency",
    )
    plot.add_argument("--x", metavar="PATH", help="the axis of a load or distortion plot")
    plot.add_argument(
        "--by",
        choices=("policy", "split"),
        default="policy",
        help="breakdown bars per configuration (policy) or per split point (reads traces)",
    )
    plot.add_argument(
        "--latency",
        choices=("mean", "p50", "p95", "p99"),
        default="mean",
        help="latency statistic of the Pareto plot",
    )
    plot.add_argument(
        "--style",
        choices=("default", "ieee-1col", "ieee-2col"),
        default="default",
        help="size preset: IEEE one column (3.5 in) or two columns (7.16 in), 8 pt text",
    )
    plot.add_argument("--title", help="a title above the figure (default: none)")
    plot.add_argument(
        "--legend",
        choices=("below", "right", "inside", "none"),
        default="below",
        help="legend below or right of the axes (outside the data), inside them, or none",
    )
    plot.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="SHOWN=TEXT",
        help="rename a legend entry or axis label (repeatable), e.g. --label joint=Proposed",
    )


# ---- coinfer sweep ------------------------------------------------------------------------------


def sweep_command(args: argparse.Namespace) -> str:
    """``coinfer sweep``: run what is left, print the outcome and the aggregate."""
    from coinfer.emulator.sweeps.executors import make_executor
    from coinfer.emulator.sweeps.plan import load_plan
    from coinfer.emulator.sweeps.runner import run_sweep

    plan = load_plan(
        args.sweep,
        args.overrides,
        trace_dir=args.trace_dir,
        force=args.force,
        max_events=args.max_events,
    )
    out = Path(args.out) if args.out else DEFAULT_SWEEPS_DIR / plan.name
    if args.dry_run:
        return _listing(plan, out)
    executor = make_executor(
        serial=args.serial,
        workers=args.workers,
        scheduler=args.scheduler,
        dask_local=args.dask_local,
    )
    outcome = run_sweep(
        plan,
        out,
        executor,
        overwrite=args.overwrite,
        trace_dir=args.trace_dir,
        force=args.force,
        max_events=args.max_events,
    )
    status = EXIT_PARTLY_FAILED if outcome.failed else 0
    if getattr(args, "json", False):
        return Printed(json.dumps(_outcome_json(outcome, out), indent=2), status)
    where = executor.description if outcome.ran else "nothing left to run"
    head = (
        f"sweep {plan.name}: {outcome.planned} runs ({len(plan.configurations)} configurations "
        f"x {len(plan.seeds)} seeds); {outcome.ran} run now on {where}, {outcome.skipped} "
        f"already finished, {len(outcome.failed)} failed; {outcome.wall_time_s:.1f} s."
        if outcome.ran
        else f"sweep {plan.name}: all {outcome.planned} runs already finished."
    )
    lines = [head, f"results: {out}/aggregate.csv (and .parquet), per-run traces in {out}/runs/"]
    lines += _failures(outcome.failed, out)
    return Printed(
        "\n".join(lines) + "\n\n" + format_aggregate(outcome.tables.aggregate, list(plan.columns)),
        status,
    )


def _listing(plan: Plan, out: Path) -> str:
    from coinfer.emulator.sweeps.plan import format_value
    from coinfer.emulator.sweeps.store import SweepStore

    store = SweepStore(out)
    finished = {run.run_id for run in plan.runs if store.finished(run.run_id) is not None}
    columns = list(plan.columns)
    rows = []
    per_config: dict[str, list[str]] = {}
    for run in plan.runs:
        per_config.setdefault(run.config_id, []).append(run.run_id)
    for config in plan.configurations:
        runs = per_config[config.config_id]
        done = sum(run_id in finished for run_id in runs)
        values = [config.policy] + [
            format_value(config.point[c]) if c in config.point else "-" for c in columns[1:]
        ]
        rows.append((config.index, config.config_id, *values, f"{done}/{len(runs)}"))
    head = (
        f"sweep {plan.name}: {len(plan.configurations)} configurations x {len(plan.seeds)} "
        f"seeds ({', '.join(map(str, plan.seeds))}) = {len(plan.runs)} runs; "
        f"{len(finished)} finished in {out}/"
    )
    headers = ("#", "config id", *columns, "finished")
    return head + "\n\n" + format_table(headers, rows)


def _outcome_json(outcome: SweepOutcome, out: Path) -> dict[str, Any]:
    from coinfer.emulator.sweeps.metrics import finite_or_none

    return {
        "out_dir": str(out),
        "planned": outcome.planned,
        "skipped": outcome.skipped,
        "ran": outcome.ran,
        "failed": [
            {k: r[k] for k in ("run_id", "config_id", "seed", "error")} for r in outcome.failed
        ],
        "wall_time_s": outcome.wall_time_s,
        "aggregate": finite_or_none(outcome.tables.aggregate.to_dict(orient="records")),
    }


def _failures(failed: tuple[dict[str, Any], ...], out: Path) -> list[str]:
    if not failed:
        return []
    lines = [f"{len(failed)} runs failed (each error is in {out}/runs/RUN_ID/error.json):"]
    for record in failed[:_SHOWN_FAILURES]:
        lines.append(f"  {record['run_id']} (seed {record['seed']}): {record['error']}")
    if len(failed) > _SHOWN_FAILURES:
        lines.append(f"  ... and {len(failed) - _SHOWN_FAILURES} more")
    lines.append("re-run the same command to retry them (finished runs are kept)")
    return lines


# ---- tables -------------------------------------------------------------------------------------


def format_aggregate(
    aggregate: pd.DataFrame, columns: list[str], metrics: list[str] | None = None
) -> str:
    """The aggregate as text: varied values, runs, and ``mean ± CI`` of each metric."""
    if metrics:
        chosen = [(m, 1.0, "") for m in metrics]
    elif f"{GENERATIVE_METRICS[0][0]}_mean" in aggregate:
        chosen = list(GENERATIVE_METRICS)
    else:
        chosen = list(DEFAULT_METRICS)
    # a metric no run defines (deadline met without any deadline) is left out, not shown as "-"
    shown = [
        (m, scale, unit)
        for m, scale, unit in chosen
        if f"{m}_mean" in aggregate and aggregate[f"{m}_mean"].notna().any()
    ]
    headers = [*columns, "runs"] + [metric_header(m, unit) for m, _, unit in shown]
    rows = []
    for _, row in aggregate.iterrows():
        cells = [_cell(row[c]) for c in columns] + [_runs(row)]
        for metric, scale, _ in shown:
            cells.append(_mean_ci(row[f"{metric}_mean"], row[f"{metric}_ci95"], scale))
        rows.append(cells)
    return format_table(headers, rows)


#: Unit suffixes of metric names, dropped in a table's header where the unit is shown apart.
_UNIT_SUFFIXES = ("_per_s", "_ratio", "_s", "_j")


def metric_header(metric: str, unit: str) -> str:
    """A table header naming its unit once: ``latency_p50_s`` in ms is ``latency_p50 (ms)``
    (the name's SI suffix would contradict the display unit); without a unit, the name."""
    if not unit:
        return metric
    for suffix in _UNIT_SUFFIXES:
        if metric.endswith(suffix):
            metric = metric.removesuffix(suffix)
            break
    return f"{metric} ({unit})"


def _runs(row: pd.Series) -> str:
    return f"{row['runs']}" + (f" ({row['failed']} failed)" if row["failed"] else "")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:g}"
    return "-" if value is None else str(value)


def _mean_ci(mean: float, half: float, scale: float) -> str:
    if math.isnan(mean):
        return "-"
    text = f"{mean * scale:.4g}"
    return text if math.isnan(half) else f"{text} ± {half_width_text(mean * scale, half * scale)}"


# ---- coinfer summarize --------------------------------------------------------------------------


def summarize_command(args: argparse.Namespace) -> str:
    """``coinfer summarize DIR``: rebuild, save and print the sweep's tables."""
    from coinfer.emulator.sweeps.aggregate import collect, write_tables
    from coinfer.emulator.sweeps.metrics import finite_or_none
    from coinfer.emulator.sweeps.store import SweepStore

    store = SweepStore(Path(args.directory))
    tables = collect(store)
    written = write_tables(store, tables)
    aggregate = tables.aggregate
    unknown = [m for m in args.metric if f"{m}_mean" not in aggregate]
    if unknown:
        known = sorted(c.removesuffix("_mean") for c in aggregate if c.endswith("_mean"))
        raise InputError(f"--metric {unknown[0]}: no such metric; expected one of: {known}")
    if getattr(args, "json", False):
        return json.dumps(finite_or_none(aggregate.to_dict(orient="records")), indent=2)
    status = tables.results["status"].value_counts().to_dict()
    head = (
        f"sweep {tables.plan['name']} in {store.root}/: {status.get('ok', 0)} of "
        f"{len(tables.results)} runs finished, {status.get('failed', 0)} failed, "
        f"{status.get('missing', 0)} not run yet. Tables: "
        f"{', '.join(p.name for p in written)}"
    )
    body = format_aggregate(aggregate, list(tables.plan["columns"]), args.metric or None)
    return head + "\n\n" + body


# ---- coinfer plot -------------------------------------------------------------------------------


def plot_command(args: argparse.Namespace) -> str:
    """``coinfer plot DIR --kind KIND``: write KIND.png and KIND.pdf."""
    from coinfer.emulator.output_files import check_output_dir
    from coinfer.emulator.sweeps.aggregate import collect
    from coinfer.emulator.sweeps.plots import PlotOptions, plot, save_figure
    from coinfer.emulator.sweeps.store import PLOTS_DIR, SweepStore
    from coinfer.emulator.yaml_files import parse_yaml_or_text

    where = []
    for item in args.where:
        path, sep, text = item.partition("=")
        if not sep or not path:
            raise InputError(f"--where: got {item!r}, expected PATH=VALUE")
        value = parse_yaml_or_text(text, f"--where {path}")
        where.append((path, value))
    labels = []
    for item in args.label:
        shown, sep, text = _outer_partition(item)
        if not sep or not shown:
            raise InputError(f"--label: got {item!r}, expected SHOWN=TEXT")
        labels.append((shown, text))
    options = PlotOptions(
        where=tuple(where),
        x=args.x,
        by=args.by,
        latency=args.latency,
        style=args.style,
        title=args.title,
        legend=args.legend,
        labels=tuple(labels),
    )
    if args.out:
        check_output_dir(Path(args.out).parent, "out_dir")
    directory = Path(args.directory)
    if (directory / "run.json").is_file() and not (directory / "sweep.json").is_file():
        from coinfer.emulator.sweeps.timeline import plot_run

        figure = plot_run(args.kind, directory, options)
        stem = Path(args.out) if args.out else directory / PLOTS_DIR / args.kind
        return "wrote " + " and ".join(str(p) for p in save_figure(figure, stem))
    store = SweepStore(directory)
    tables = collect(store)
    figure = plot(args.kind, tables, store, options)
    stem = Path(args.out) if args.out else store.root / PLOTS_DIR / args.kind
    paths = save_figure(figure, stem)
    return "wrote " + " and ".join(str(p) for p in paths)


def _outer_partition(item: str) -> tuple[str, str, str]:
    """``item`` split at its first ``=`` outside parentheses: a legend entry of a policy with
    parameters (``fixed(split=4)=text``) holds some."""
    depth = 0
    for index, char in enumerate(item):
        depth += (char == "(") - (char == ")")
        if char == "=" and depth == 0:
            return item[:index], "=", item[index + 1 :]
    return item, "", ""
