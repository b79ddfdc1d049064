"""``coinfer run``, ``coinfer validate`` and ``coinfer schema``: scenarios on the command line."""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
import shutil
import textwrap
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from coinfer.emulator.api.estimate import MAX_EVENTS
from coinfer.emulator.cli.argtypes import non_negative_int, positive_float, positive_int
from coinfer.emulator.cli.errors import Printed
from coinfer.emulator.errors import InputError
from coinfer.emulator.plugins import Family, HostsMember, Registered
from coinfer.emulator.scenario.schema import Scenario, load_scenario
from coinfer.emulator.tables import format_table

DEFAULT_RUNS_DIR = Path("runs")


def scenario_arguments(scenario_help: str, set_example: str) -> argparse.ArgumentParser:
    """Parent parser of the commands that read a scenario: the file, ``--seed`` and ``--set``."""
    scenario_args = argparse.ArgumentParser(add_help=False)
    scenario_args.add_argument("scenario", help=scenario_help)
    scenario_args.add_argument(
        "--seed", type=non_negative_int, help="root seed (default: the scenario's own)"
    )
    scenario_args.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        dest="overrides",
        help=f"override a scenario field, e.g. --set {set_example} (repeatable)",
    )
    return scenario_args


def add_commands(commands: argparse._SubParsersAction, json_flag: argparse.ArgumentParser) -> None:
    """Register the scenario subcommands on the top-level parser."""
    scenario_args = scenario_arguments("scenario YAML file", "devices.0.count=20")
    add_trace_dir(scenario_args)
    add_size_flags(scenario_args)
    run = commands.add_parser(
        "run",
        parents=[scenario_args, json_flag],
        help="run a scenario: print its summary and write its trace",
    )
    run.add_argument(
        "--out",
        metavar="DIR",
        help="directory for trace.parquet and run.json "
        f"(default: {DEFAULT_RUNS_DIR}/NAME-POLICY-sSEED)",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in the output directory (refused without it)",
    )
    run.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (there is one on a terminal: simulated time, requests done, "
        "events/s, ETA); the summary is still printed",
    )
    run.add_argument(
        "--token-trace",
        action="store_true",
        help="also write tokens.parquet: one row per generated token (docs/generative.md)",
    )
    add_shard_flags(run)
    commands.add_parser(
        "validate", parents=[scenario_args], help="check a scenario without running it"
    )
    schema = commands.add_parser(
        "schema", parents=[json_flag], help="every scenario field: type, default, meaning"
    )
    schema.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="only this section or field, e.g. devices, devices.arrivals, channel.fading",
    )


def add_shard_flags(parser: argparse.ArgumentParser) -> None:
    """``--shards K`` and where they run: ``--scheduler ADDRESS`` or ``--dask-local N`` (local
    processes by default; :mod:`coinfer.emulator.sweeps.shards`)."""
    parser.add_argument(
        "--shards",
        type=positive_int,
        metavar="K",
        help="split the run into K tasks, one per group of independent cells (cells sharing no "
        "server and no wired link); one Parquet part each (docs/scale.md)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the shards on an existing Dask scheduler, e.g. tcp://host:8786",
    )
    where.add_argument(
        "--dask-local",
        type=positive_int,
        metavar="N",
        help="run the shards on a local Dask cluster of N worker processes",
    )


def add_size_flags(parser: argparse.ArgumentParser) -> None:
    """``--force`` and ``--max-events N``: the check of a run's size before it starts
    (:func:`~coinfer.emulator.api.estimate.check_run_size`)."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="run (or pass) a scenario even if its estimated events or memory exceed this "
        "machine's means",
    )
    parser.add_argument(
        "--max-events",
        type=positive_float,
        default=MAX_EVENTS,
        metavar="N",
        help=f"refuse a run estimated above N engine events (default {MAX_EVENTS:.0e})",
    )


def add_trace_dir(parser: argparse.ArgumentParser) -> None:
    """The ``--trace-dir`` option: where registered input traces are read from."""
    parser.add_argument(
        "--trace-dir",
        metavar="DIR",
        help="directory holding the input traces the scenario replays, e.g. ../shared/traces "
        "(default: $COINFER_TRACE_DIR, then the download cache)",
    )


#: Exit status of a run stopped by a signal: 128 + the signal's number, as a shell reports it.
EXIT_STOPPED_BY = {"SIGINT": 130, "SIGTERM": 143}


def run_command(args: argparse.Namespace) -> str:
    """``coinfer run``: the summary (table or JSON); the trace goes to ``--out``."""
    from coinfer.emulator.api.run import simulate  # the engine's imports are heavy

    scenario = load_scenario(args.scenario, args.overrides)
    seed = scenario.seed if args.seed is None else args.seed
    out = Path(args.out) if args.out else default_run_dir(scenario, seed)
    if getattr(args, "shards", None) is not None:
        return _sharded_run(args, scenario, seed, out)
    if getattr(args, "scheduler", None) or getattr(args, "dask_local", None):
        raise InputError(
            "--scheduler and --dask-local run the shards of a run; expected --shards K with them",
            argument="shards",
            value=None,
            expected="--shards K",
        )
    # simulate() refuses bad names, traces and policies before it creates any file
    result = simulate(
        scenario,
        seed,
        out,
        trace_dir=args.trace_dir,
        token_trace=getattr(args, "token_trace", False),
        stop_on_signal=True,
        force=args.force,
        max_events=args.max_events,
        overwrite=args.overwrite,
        progress=False if args.quiet else None,
    )
    status = 0 if result.stopped_by is None else EXIT_STOPPED_BY[result.stopped_by]
    if getattr(args, "json", False):
        payload = {
            "out_dir": str(out),
            "seed": seed,
            "stopped_by": result.stopped_by,
            **result.summary.to_dict(),
        }
        return Printed(json.dumps(_finite(payload), indent=2), status)
    head = (
        f"{scenario.name}: seed {seed}, {_counted(result)}, {result.wall_time_s:.2f} s wall "
        f"time; trace in {out}/"
    )
    if result.stopped_by is not None:
        head = (
            f"{scenario.name}: STOPPED by {result.stopped_by} at simulated time "
            f"{result.stats.stopped_at_s:.6g} s: {result.stats.requests} requests finished by then "
            f"are in the trace ({out}/, run.json says stopped_by), {result.wall_time_s:.2f} s "
            "wall time"
        )
    return Printed(head + "\n\n" + result.summary.format(), status)


def _sharded_run(args: argparse.Namespace, scenario: Scenario, seed: int, out: Path) -> str:
    """``coinfer run --shards K``: the run split across workers, its summary merged."""
    from coinfer.emulator.sweeps.executors import (
        DaskExecutor,
        Executor,
        ProcessExecutor,
        default_workers,
    )
    from coinfer.emulator.sweeps.shards import simulate_sharded

    if getattr(args, "token_trace", False):
        raise InputError(
            "--token-trace is not available with --shards; expected one of them",
            argument="shards",
            value=args.shards,
            expected="no --token-trace",
        )
    executor: Executor
    if args.scheduler:
        executor = DaskExecutor(args.scheduler)
    elif args.dask_local:
        executor = DaskExecutor(local_workers=args.dask_local)
    else:
        executor = ProcessExecutor(min(args.shards, default_workers()))
    sharded = simulate_sharded(
        scenario,
        seed,
        out,
        args.shards,
        executor,
        trace_dir=args.trace_dir,
        overwrite=args.overwrite,
        force=args.force,
        max_events=args.max_events,
    )
    result = sharded.result
    if getattr(args, "json", False):
        payload = {
            "out_dir": str(out),
            "seed": seed,
            "shards": sharded.shards,
            "parts": sharded.parts,
            **result.summary.to_dict(),
        }
        return json.dumps(_finite(payload), indent=2)
    head = (
        f"{scenario.name}: seed {seed}, {_counted(result)}, {result.wall_time_s:.2f} s wall "
        f"time in {sharded.shards} shards ({sharded.parts} independent parts; devices per "
        f"shard {', '.join(map(str, sharded.devices_per_shard))}); trace in "
        f"{out}/trace.parquet/"
    )
    return head + "\n\n" + result.summary.format()


def _counted(result: Any) -> str:
    """``N requests`` or, with a warm-up, ``N requests after warm-up (M in all)``: the first
    number is the summary's."""
    measured, everything = result.summary.requests, result.stats.requests
    if measured == everything:
        return f"{everything} requests"
    return f"{measured} requests after warm-up ({everything} in all, in the trace)"


def default_run_dir(scenario: Scenario, seed: int) -> Path:
    """``runs/NAME-POLICY-sSEED``: runs of one scenario with different policies or seeds go to
    different folders (a ``module:Class`` policy's characters other than letters, digits,
    ``.``, ``_`` and ``-`` become ``_``)."""
    policy = re.sub(r"[^A-Za-z0-9._-]", "_", scenario.policy.name)
    return DEFAULT_RUNS_DIR / f"{scenario.name}-{policy}-s{seed}"


def validate_command(args: argparse.Namespace) -> str:
    """``coinfer validate``: resolve everything a run needs, run nothing; warn about a model
    whose weights do not fit a device class's memory."""
    from coinfer.emulator.api.run import prepare
    from coinfer.emulator.model.quantization import memory_warning

    scenario = load_scenario(args.scenario, args.overrides)
    deployment, seed = prepare(
        scenario, args.seed, trace_dir=args.trace_dir, force=args.force, max_events=args.max_events
    )
    length = (
        f"{scenario.requests} requests"
        if scenario.requests is not None
        else f"{scenario.duration_s:g} s of arrivals"
    )
    summary = (
        f"{args.scenario}: valid. {len(deployment.devices)} devices, {len(deployment.cells)} "
        f"cells, {len(deployment.servers)} servers, policy {scenario.policy.name!r}, {length}, "
        f"seed {seed}"
    )
    warnings = {  # memory (issue 21): one per model and device class
        (device.model.name, device.hardware.name): memory_warning(device.model, device.hardware)
        for device in deployment.devices
    }
    return "\n".join([summary, *(f"warning: {w}" for w in warnings.values() if w)])


def schema_command(args: argparse.Namespace) -> str:
    """``coinfer schema``: the scenario fields, flattened to dotted paths."""
    rows = list(_schema_rows(Scenario, ""))
    if getattr(args, "json", False):
        return json.dumps(Scenario.model_json_schema(), indent=2)
    path = getattr(args, "path", None)
    if path:
        rows = schema_section(rows, path)
    return wrapped_table(("field", "type", "default", "meaning"), rows, width=terminal_width())


def schema_section(rows: list[tuple[str, ...]], path: str) -> list[tuple[str, ...]]:
    """The rows of field ``path`` and of the fields under it (``devices.arrivals`` matches
    ``devices.arrivals[process=poisson].rate_per_s``: a member's tag is not part of the
    path); InputError naming the closest field when none matches."""
    wanted = path.strip(".")

    def plain(field: str) -> str:
        return re.sub(r"\[[^\]]*\]", "", field)

    kept = [
        row for row in rows if plain(row[0]) == wanted or plain(row[0]).startswith(wanted + ".")
    ]
    if kept:
        return kept
    known = sorted({plain(row[0]) for row in rows})
    close = difflib.get_close_matches(wanted, known, n=1, cutoff=0.6)
    expected = f"did you mean {close[0]!r}?" if close else "a field `coinfer schema` lists"
    raise InputError(
        f"schema: no field {path!r}; {expected}", value=path, expected=expected, path="PATH"
    )


def terminal_width() -> int:
    """Columns of the terminal (``$COLUMNS`` first; 100 when the output is not a terminal)."""
    return shutil.get_terminal_size((100, 24)).columns


def wrapped_table(headers: tuple[str, ...], rows: list[tuple[str, ...]], *, width: int) -> str:
    """:func:`format_table` with its columns after the first wrapped so that lines fit in
    ``width`` characters where they can (the column with the most to spare is narrowed
    first; the last keeps 24 characters, the others 12): a long cell continues on lines of
    its own."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    floors = [widths[0], *[12] * (len(widths) - 2), 24]  # the last column keeps 24 at least
    while sum(widths) + 2 * (len(widths) - 1) > width:
        narrower = [i for i in range(1, len(widths)) if widths[i] > floors[i]]
        if not narrower:
            break
        widths[max(narrower, key=lambda i: widths[i] - floors[i])] -= 1
    lines: list[tuple[str, ...]] = []
    for row in rows:
        cells = [
            [str(cell)]
            if i == 0
            else textwrap.wrap(str(cell), widths[i], break_on_hyphens=False) or [""]
            for i, cell in enumerate(row)
        ]
        for depth in range(max(len(parts) for parts in cells)):
            lines.append(tuple(parts[depth] if depth < len(parts) else "" for parts in cells))
    return format_table(headers, lines)


def _schema_rows(model: type[BaseModel], prefix: str):
    if issubclass(model, HostsMember):  # a member's own parameters sit beside the model's fields
        yield from _member_rows(model.member_family, prefix.removesuffix("."), skip=model)
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        yield path, _type_name(field), _default(field), _meaning(field)
        registered = _registered(field)
        nested_models = _nested_models(field.annotation)
        if registered is not None:  # each registered member's parameters
            base = nested_models[0] if nested_models else None
            yield from _member_rows(registered.family, path, base=base)
            continue
        for nested in nested_models:
            tag = _discriminator(nested) if len(nested_models) > 1 else ""
            yield from _schema_rows(nested, f"{path}[{tag}]." if tag else f"{path}.")


def _member_rows(
    family: Family,
    path: str,
    skip: type[BaseModel] | None = None,
    base: type[BaseModel] | None = None,
):
    """Rows of every registered member's ``Params``, tagged ``[key=name]`` (members sharing
    their parameters are listed once, ``[key=a|b]``; members whose parameters are the field's
    ``base`` model, untagged); ``skip``: fields not repeated."""
    by_params: dict[type[BaseModel], list[str]] = {}
    for name, cls in family.known().items():
        by_params.setdefault(cls.Params, []).append(name)
    for params, names in by_params.items():
        tag = "" if params is base else f"[{family.key}={'|'.join(names)}]"
        for row in _schema_rows(params, f"{path}{tag}."):
            field_name = row[0].rsplit(".", 1)[-1]
            if skip is not None and field_name in skip.model_fields:
                continue
            yield row


def _registered(field: FieldInfo) -> Registered | None:
    """The :class:`Registered` annotation of a field naming a plug-in, if any."""
    stack: list[Any] = [*field.metadata, field.annotation]
    while stack:
        item = stack.pop()
        if isinstance(item, Registered):
            return item
        stack.extend(getattr(item, "__metadata__", ()))
        stack.extend(getattr(item, "__args__", ()) or ())
    return None


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    stack = [annotation]
    while stack:
        item = stack.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item not in found:  # Annotated[Model, ...] is met through args and origin
                found.append(item)
            continue
        stack.extend(reversed(getattr(item, "__args__", ()) or ()))
        if hasattr(item, "__origin__") and hasattr(item, "__metadata__"):
            stack.append(item.__origin__)
    return found


def _discriminator(model: type[BaseModel]) -> str:
    for key in ("process", "distribution", "model", "generator", "kind"):
        field = model.model_fields.get(key)
        if field is not None and isinstance(field.default, str):
            return f"{key}={field.default}"
    return ""


def _type_name(field: FieldInfo) -> str:
    text = (
        str(field.annotation)
        .replace("typing.", "")
        .replace("coinfer.emulator.scenario.schema.", "")
    )
    text = text.replace("<class '", "").replace("'>", "")
    return text if len(text) <= 40 else text[:37] + "..."


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        return "(see fields)"
    value = field.default
    return "none" if value is None else str(value)


def _meaning(field: FieldInfo) -> str:
    text = field.description or ""
    bounds = [
        f"{symbol} {getattr(item, attr)}"
        for item in field.metadata
        for attr, symbol in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"))
        if getattr(item, attr, None) is not None
    ]
    return text + (f" [{', '.join(bounds)}]" if bounds else "")


def _finite(value: Any) -> Any:
    """JSON has no inf or NaN: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value
