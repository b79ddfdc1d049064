"""The ``coinfer`` command line.

Subcommands print a human-readable table by default and JSON with ``--json``. Bad input (an
unknown name, a bad file, a bad value) ends with one message on stderr and exit status 2, an
unexpected error with one message and exit status 1; ``coinfer --debug COMMAND ...`` also prints
the traceback, with its chain of causes (see :mod:`coinfer.emulator.cli.errors`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import Any, NoReturn

from coinfer.emulator import __version__
from coinfer.emulator.cli import compare as cli_compare
from coinfer.emulator.cli import goodput as cli_goodput
from coinfer.emulator.cli import policies as cli_policies
from coinfer.emulator.cli import report as cli_report
from coinfer.emulator.cli import run as cli_run
from coinfer.emulator.cli import solve as cli_solve
from coinfer.emulator.cli import sweep as cli_sweep
from coinfer.emulator.cli import topology as cli_topology
from coinfer.emulator.cli import traces as cli_traces
from coinfer.emulator.cli.argtypes import positive_int
from coinfer.emulator.cli.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    report_bad_input,
    report_internal_error,
)
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog, HardwareSpec, load_hardware_file
from coinfer.emulator.model.hardware_sources import DEFAULT, builtin_sources
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.tables import format_table, si

SCENARIO_COMMANDS = {
    "run": cli_run.run_command,
    "validate": cli_run.validate_command,
    "schema": cli_run.schema_command,
    "policies": cli_policies.policies_command,
    "solve": cli_solve.solve_command,
    "sweep": cli_sweep.sweep_command,
    "summarize": cli_sweep.summarize_command,
    "plot": cli_sweep.plot_command,
    "goodput": cli_goodput.goodput_command,
    "traces": cli_traces.traces_command,
    "topology": cli_topology.topology_command,
    "compare": cli_compare.compare_command,
    "report": cli_report.report_command,
}


class VersionAction(argparse.Action):
    """``--version``: the version, and how many of the hot modules run compiled
    (:mod:`coinfer.emulator.compiled`)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from coinfer.emulator.compiled import status

        states = list(status().values())
        compiled = states.count("compiled")
        print(f"coinfer {__version__} ({compiled} of {len(states)} hot modules compiled)")
        parser.exit()


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, as every other bad input is:
    ``coinfer: error: MESSAGE (see coinfer COMMAND --help)``, exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"coinfer: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed so the docs and tests can introspect it)."""
    json_flag = OneLineParser(add_help=False)
    json_flag.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print JSON instead of a table",
    )
    model_files = OneLineParser(add_help=False)
    model_files.add_argument(
        "--model-file",
        action="append",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="add a model profile from a YAML or CSV file (repeatable)",
    )
    hardware_files = OneLineParser(add_help=False)
    hardware_files.add_argument(
        "--hardware-file",
        action="append",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="add hardware classes from a YAML file (repeatable)",
    )

    parser = OneLineParser(
        prog="coinfer",
        description="Emulator of split large-AI-model inference at the wireless edge.",
    )
    parser.add_argument(
        "--version",
        action=VersionAction,
        help="show the version and how many hot modules run compiled, and exit",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an error, also print the traceback with its causes (before the command: "
        "coinfer --debug run ...)",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="warning",
        help="what coinfer logs on stderr (default warning; info: set-up and run times; "
        "before the command: coinfer --log-level info run ...)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    models = commands.add_parser(
        "models", parents=[json_flag, model_files], help="list model profiles"
    )
    models_sub = models.add_subparsers(dest="action", metavar="ACTION")
    show_model = models_sub.add_parser(
        "show", parents=[json_flag, model_files], help="per-block table of one model profile"
    )
    show_model.add_argument("name", help="profile name, or a path to a YAML/CSV profile")
    show_model.add_argument(
        "--seq-len", type=positive_int, metavar="TOKENS", help="tokens per pass (text models)"
    )
    show_model.add_argument(
        "--image-size", type=positive_int, metavar="PIXELS", help="image side (vision models)"
    )

    hardware = commands.add_parser(
        "hardware", parents=[json_flag, hardware_files], help="list device and server classes"
    )
    hardware_sub = hardware.add_subparsers(dest="action", metavar="ACTION")
    show_hw = hardware_sub.add_parser(
        "show", parents=[json_flag, hardware_files], help="every field of one hardware class"
    )
    show_hw.add_argument("name", help="hardware class name")
    cli_run.add_commands(commands, json_flag)
    cli_policies.add_commands(commands, json_flag)
    cli_solve.add_commands(commands, json_flag, model_files, hardware_files)
    cli_sweep.add_commands(commands, json_flag)
    cli_goodput.add_commands(commands, json_flag)
    cli_traces.add_commands(commands, json_flag)
    cli_topology.add_commands(commands, json_flag)
    cli_compare.add_commands(commands, json_flag)
    cli_report.add_commands(commands)
    return parser


# ---- models --------------------------------------------------------------------------------


def _model_catalog(args: argparse.Namespace) -> ModelCatalog:
    return ModelCatalog.builtin().with_files(getattr(args, "model_file", []))


def _model_row(profile: ModelProfile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "family": profile.family,
        "params": profile.total_params,
        "flops": profile.total_flops,
        "blocks": profile.num_blocks,
        "max_split": profile.last_split,
        "sequence_length": profile.sequence_length,
        "image_size": profile.image_size,
        "decode_flops": profile.decode.total_flops if profile.decode else None,
        "kv_cache_bytes_per_token": profile.kv_cache_bytes_per_token,
        "description": profile.description,
    }


def _list_models(args: argparse.Namespace) -> str:
    catalog = _model_catalog(args)
    rows = [_model_row(catalog.get(name)) for name in catalog.names()]
    if getattr(args, "json", False):
        return json.dumps(rows, indent=2)
    table = [
        (
            r["name"],
            r["family"],
            si(r["params"]),
            si(r["flops"], "FLOPs"),
            r["blocks"],
            r["sequence_length"] or r["image_size"] or "-",
            si(r["decode_flops"], "FLOPs"),
        )
        for r in rows
    ]
    headers = ("name", "family", "parameters", "FLOPs/pass", "blocks", "tokens/px", "decode step")
    return format_table(headers, table)


def _resolve_model(args: argparse.Namespace) -> ModelProfile:
    catalog = _model_catalog(args)
    name = args.name
    if name not in catalog and name.lower().endswith((".yaml", ".yml", ".csv")):
        catalog = catalog.with_files([name])
        name = catalog.names()[-1]
    return catalog.get(name, sequence_length=args.seq_len, image_size=args.image_size)


def _show_model(args: argparse.Namespace) -> str:
    profile = _resolve_model(args)
    if getattr(args, "json", False):
        data = profile.model_dump(mode="json")
        data["splits"] = [profile.split_summary(int(split)) for split in profile.split_points]
        return json.dumps(data, indent=2)
    rows = []
    for index, block in enumerate(profile.blocks, start=1):
        rows.append(
            (
                index,
                block.name,
                si(block.params),
                si(block.flops, "FLOPs"),
                si(block.activation_bits, "bit"),
                si(profile.device_params[index]),
                si(profile.device_flops[index], "FLOPs"),
                si(profile.payload_bits[index], "bit")
                if index <= profile.last_split
                else "(server)",
            )
        )
    headers = ("l", "block", "params", "FLOPs", "output", "q(l)", "N(l)", "θ(l)")
    size = (
        f"{profile.sequence_length} tokens"
        if profile.sequence_length
        else f"{profile.image_size}x{profile.image_size} px"
        if profile.image_size
        else "fixed"
    )
    head = [
        f"{profile.name}: {profile.description}",
        f"parameters {si(profile.total_params)}, {si(profile.total_flops, 'FLOPs')} per pass "
        f"({size}), {profile.num_blocks} blocks, splits 0..{profile.last_split}, "
        f"θ(0) = {si(profile.input_bits, 'bit')}",
    ]
    if profile.decode is not None:
        head.append(
            f"decode step: {si(profile.decode.total_flops, 'FLOPs')}, KV cache "
            f"{si(profile.kv_cache_bytes_per_token, 'B')} per token"
        )
    if profile.source:
        head.append(f"source: {profile.source}")
    return "\n".join(head) + "\n\n" + format_table(headers, rows)


# ---- hardware ------------------------------------------------------------------------------


def _hardware_catalog(args: argparse.Namespace) -> HardwareCatalog:
    catalog = HardwareCatalog.builtin()
    for path in getattr(args, "hardware_file", []):
        catalog = catalog.with_specs(load_hardware_file(path))
    return catalog


def _list_hardware(args: argparse.Namespace) -> str:
    specs = [spec for spec in _hardware_catalog(args)]
    if getattr(args, "json", False):
        return json.dumps([s.model_dump(mode="json") for s in specs], indent=2)
    rows = [_hardware_row(s) for s in specs]
    headers = (
        "name",
        "kind",
        "clock range",
        "FLOPs/cycle",
        "peak",
        "φ (W/Hz³)",
        "PUE",
        "memory",
        "mem BW",
        "P_max",
    )
    return format_table(headers, rows)


def _hardware_row(spec: HardwareSpec) -> tuple[object, ...]:
    return (
        spec.name,
        spec.kind,
        f"{si(spec.f_min_hz, 'Hz')} - {si(spec.f_max_hz, 'Hz')}",
        f"{spec.flops_per_cycle:g}",
        si(spec.peak_flops_per_s, "FLOP/s"),
        f"{spec.power_coeff_w_per_hz3:.3g}",
        f"{spec.pue:g}",
        si(spec.memory_bytes, "B"),
        si(spec.memory_bandwidth_bytes_per_s, "B/s"),
        "-" if spec.max_tx_power_w is None else f"{spec.max_tx_power_w:g} W",
    )


def _show_hardware(args: argparse.Namespace) -> str:
    spec = _hardware_catalog(args).get(args.name)
    if getattr(args, "json", False):
        return json.dumps(spec.model_dump(mode="json"), indent=2)
    builtin = {s.name: s for s in HardwareCatalog.builtin()}.get(spec.name)
    if builtin is not None and builtin == spec:
        given = builtin_sources().get(spec.name, {})
        sources = {field: given.get(field, DEFAULT) for field in type(spec).model_fields}
    else:  # a class from a hardware file: its values are the file's
        sources = dict.fromkeys(type(spec).model_fields, "hardware file")
    rows: list[tuple[str, Any, str]] = []
    for field in type(spec).model_fields:
        said = "" if field in _NO_SOURCE else sources[field]
        lines = textwrap.wrap(said, _SOURCE_WIDTH, break_on_hyphens=False, break_long_words=False)
        lines = lines or [""]
        rows.append((field, getattr(spec, field), lines[0]))
        rows += [("", "", line) for line in lines[1:]]  # a long source on lines of its own
    return format_table(("field", "value", "source"), rows)


_SOURCE_WIDTH = 72  # characters of a source per line


#: Fields that are names, not values: no source.
_NO_SOURCE = ("name", "kind", "description")


# ---- entry point ---------------------------------------------------------------------------

#: The levels ``--log-level`` takes.
LOG_LEVELS = ("debug", "info", "warning", "error")


class _StderrHandler(logging.Handler):
    """Writes ``coinfer: LEVEL: message`` lines to the ``sys.stderr`` of the moment."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def configure_logging(level: str) -> None:
    """Send the ``coinfer`` logger's records of ``level`` and above to stderr (one handler,
    replaced on each call)."""
    logger = logging.getLogger("coinfer")
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("coinfer: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


def run(argv: Sequence[str] | None = None) -> str:
    """Parse ``argv`` and return what the command prints; raises :class:`InputError`."""
    parser = build_parser()
    return dispatch(parser, parser.parse_args(argv))


def dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """Run the command ``args`` (parsed by ``parser``) and return what it prints."""
    action = getattr(args, "action", None)
    if args.command == "models":
        return _show_model(args) if action == "show" else _list_models(args)
    if args.command == "hardware":
        return _show_hardware(args) if action == "show" else _list_hardware(args)
    handler = SCENARIO_COMMANDS.get(args.command)
    if handler is not None:
        return handler(args)
    return parser.format_help()


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point: print the output, or one error line and exit status 2 (bad
    input) or 1 (an unexpected error); with ``--debug``, the traceback too."""
    parser = build_parser()
    args = parser.parse_args(argv)  # a usage error: one line and SystemExit(2)
    configure_logging(args.log_level)
    try:
        output = dispatch(parser, args)
    except InputError as err:
        return report_bad_input(err, debug=args.debug)
    except KeyboardInterrupt:  # Ctrl-C outside a run, or a second one during it
        print("coinfer: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        return report_internal_error(err, debug=args.debug)
    try:
        print(output)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `coinfer ... | head`: the reader left; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
    return getattr(output, "exit_status", 0)


if __name__ == "__main__":
    sys.exit(main())
