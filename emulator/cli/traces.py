"""``coinfer traces``: the known public traces, their statistics, and downloading them.

``coinfer traces [list]`` prints one line per registered trace (name, kind, license,
description); ``coinfer traces show NAME`` reads the trace from a trace directory
(``--trace-dir``, else ``$COINFER_TRACE_DIR``, else the cache) and prints its summary
statistics, license and citation; ``coinfer traces fetch NAME`` downloads its file into the cache
(``--cache-dir``, else ``$COINFER_CACHE_DIR``, else ``~/.cache/coinfer/traces``) and checks its
sha256. ``--json`` prints the same data as JSON. The trace modules are imported only when a
command runs.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING, Any

from coinfer.emulator.tables import format_table, si

if TYPE_CHECKING:
    from coinfer.traces.registry import TraceEntry


def add_commands(commands: argparse._SubParsersAction, json_flag: argparse.ArgumentParser) -> None:
    """Register ``coinfer traces`` (``list``, ``show``, ``fetch``) on the top-level parser."""
    cache_option = argparse.ArgumentParser(add_help=False)
    cache_option.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="download cache (default: $COINFER_CACHE_DIR, else ~/.cache/coinfer/traces)",
    )
    traces = commands.add_parser(
        "traces", parents=[json_flag], help="known input traces: list, statistics, download"
    )
    actions = traces.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", parents=[json_flag], help="every known trace (the default)")
    show = actions.add_parser(
        "show", parents=[json_flag, cache_option], help="summary statistics of one trace"
    )
    show.add_argument("name", help="trace name (see `coinfer traces list`)")
    show.add_argument(
        "--trace-dir",
        metavar="DIR",
        help="directory holding the trace files, e.g. ../shared/traces "
        "(default: $COINFER_TRACE_DIR, then the cache)",
    )
    show.add_argument(
        "--window",
        type=_positive_seconds,
        default=1.0,
        metavar="SECONDS",
        help="averaging window of the capacity statistics (default: 1 s)",
    )
    fetch = actions.add_parser(
        "fetch",
        parents=[cache_option],
        help="download a trace's file into the cache and check its sha256",
    )
    fetch.add_argument("name", help="trace name (see `coinfer traces list`)")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected seconds > 0") from None
    if not (value > 0.0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"got {text!r}, expected seconds > 0")
    return value


def traces_command(args: argparse.Namespace) -> str:
    """``coinfer traces [list | show NAME | fetch NAME]``."""
    from coinfer.traces.registry import TraceRegistry

    registry = TraceRegistry.builtin()
    action = getattr(args, "action", None)
    if action == "show":
        return _show(registry.get(args.name), args)
    if action == "fetch":
        return _fetch(registry.get(args.name), args)
    if getattr(args, "json", False):
        return json.dumps([entry.to_dict() for entry in registry], indent=2)
    rows = [(e.name, e.kind, e.source.license, e.description) for e in registry]
    return format_table(("name", "kind", "license", "description"), rows)


def _show(entry: TraceEntry, args: argparse.Namespace) -> str:
    from coinfer.traces.checksum import file_sha256
    from coinfer.traces.locate import find_trace_file
    from coinfer.traces.summary import summarize

    path = find_trace_file(entry, args.trace_dir, args.cache_dir)
    trace = entry.load(path)
    stats = summarize(trace, args.window)
    checksum_ok = file_sha256(path) == entry.file.sha256
    if getattr(args, "json", False):
        payload = {
            **entry.to_dict(),
            "path": str(path),
            "sha256_ok": checksum_ok,
            "notes": trace.provenance.notes,
            "statistics": stats,
        }
        return json.dumps(_json_ready(payload), indent=2)
    checksum = "matches the registry" if checksum_ok else "DIFFERS from the registry"
    head = [
        f"{entry.name}: {entry.description}",
        f"file: {path} (sha256 {checksum})",
        f"source: {entry.source.title}; license {entry.source.license}",
        f"cite: {entry.source.citation}",
        f"origin: {entry.file.url}",
        f"read as: {trace.provenance.notes}",
    ]
    return "\n".join(head) + "\n\n" + format_table(("statistic", "value"), _stat_rows(stats))


def _stat_rows(stats: dict[str, Any]) -> list[tuple[str, str]]:
    kind = stats["kind"]
    rows = [("kind", kind), ("duration", _duration(stats["duration_s"]))]
    if kind == "capacity":
        window = f"{stats['window_s']:g} s windows"
        rows += [
            ("intervals (one period)", f"{stats['intervals']:,}"),
            ("mean capacity", si(stats["mean_bps"], "bit/s")),
            (f"min over {window}", si(stats["min_bps"], "bit/s")),
            (f"p5 over {window}", si(stats["p5_bps"], "bit/s")),
            (f"median over {window}", si(stats["p50_bps"], "bit/s")),
            (f"p95 over {window}", si(stats["p95_bps"], "bit/s")),
            (f"max over {window}", si(stats["max_bps"], "bit/s")),
            ("time at zero capacity", f"{100 * stats['zero_capacity_fraction']:.1f} %"),
        ]
    elif kind == "snr":
        rows += [
            ("intervals (one period)", f"{stats['intervals']:,}"),
            ("mean SNR (time-average of dB)", f"{stats['mean_db']:.2f} dB"),
            ("mean linear SNR", f"{stats['mean_linear']:.4g}"),
            ("min / p5 / median / p95 / max", _joined(stats, "db", " dB")),
        ]
        if "cqi_mean" in stats:
            rows.append(
                (
                    "CQI mean (min - max)",
                    f"{stats['cqi_mean']:.2f} ({stats['cqi_min']:g} - {stats['cqi_max']:g})",
                )
            )
    elif kind == "positions":
        rows += [
            ("waypoints", f"{stats['waypoints']:,}"),
            ("path length", f"{stats['length_m'] / 1000:.2f} km"),
            ("mean speed", f"{stats['mean_speed_m_per_s'] * 3.6:.1f} km/h"),
            ("extent east x north", f"{stats['extent_x_m']:.0f} m x {stats['extent_y_m']:.0f} m"),
        ]
    else:
        rows += [
            ("requests", f"{stats['requests']:,}"),
            ("mean rate", f"{stats['mean_rate_per_s']:.4g} requests/s"),
            ("mean inter-arrival", f"{stats['interarrival_mean_s']:.4g} s"),
            ("inter-arrival CV", f"{stats['interarrival_cv']:.3g}"),
            ("arrivals at the same instant as the previous", f"{stats['simultaneous_arrivals']:,}"),
        ]
        for name, label in (("input_tokens", "input tokens"), ("output_tokens", "output tokens")):
            if name in stats:
                tokens = stats[name]
                rows.append(
                    (
                        f"{label}: mean / median / p99 / max",
                        f"{tokens['mean']:.1f} / {tokens['p50']:g} / {tokens['p99']:g} / "
                        f"{tokens['max']:,}",
                    )
                )
    return rows


def _joined(stats: dict[str, Any], unit_key: str, unit: str) -> str:
    keys = ("min", "p5", "p50", "p95", "max")
    return " / ".join(f"{stats[f'{key}_{unit_key}']:.1f}" for key in keys) + unit


def _duration(seconds: float) -> str:
    if seconds >= 120.0:
        return f"{seconds:,.1f} s ({seconds / 60.0:.1f} min)"
    return f"{seconds:.4g} s"


def _fetch(entry: TraceEntry, args: argparse.Namespace) -> str:
    from coinfer.traces.fetch import fetch_file
    from coinfer.traces.locate import cache_dir

    result = fetch_file(entry.file, cache_dir(args.cache_dir))
    if not result.downloaded:
        return f"{entry.name}: {result.path} is already in the cache (sha256 ok)"
    return (
        f"{entry.name}: downloaded {result.size_bytes:,} bytes from {entry.file.url} to "
        f"{result.path} (sha256 ok). License {entry.source.license}; cite: "
        f"{entry.source.citation}"
    )


def _json_ready(value: Any) -> Any:
    """JSON has no inf or NaN: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    return value
