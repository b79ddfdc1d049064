"""``coinfer report DIR``: one self-contained HTML page of a run or a sweep (opens offline)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``report`` on the top-level parser."""
    report = commands.add_parser(
        "report",
        help="write one self-contained HTML page of a run or a sweep (figures, tables, "
        "scenario, provenance)",
    )
    report.add_argument("directory", help="a run's folder (run.json) or a sweep's (sweep.json)")
    report.add_argument("--out", metavar="FILE", help="the page (default: DIR/report.html)")


def report_command(args: argparse.Namespace) -> str:
    """Write the page and say where."""
    from coinfer.emulator.output_files import check_output_dir
    from coinfer.emulator.sweeps.report import write_report

    if args.out:
        check_output_dir(Path(args.out).parent, "out_dir")
    path = write_report(args.directory, args.out)
    return f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB; opens offline)"
