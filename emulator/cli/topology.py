"""``coinfer topology show|stats|export``: a scenario's topology drawn, summarised or saved."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from coinfer.emulator.cli.run import scenario_arguments
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import load_scenario

DRAW_FORMATS = (".png", ".svg", ".pdf")


def add_commands(commands: argparse._SubParsersAction, json_flag: argparse.ArgumentParser) -> None:
    """Register ``coinfer topology`` and its actions on the top-level parser."""
    scenario_args = scenario_arguments(
        "scenario YAML file with a topology section", "topology.rings=2"
    )
    topology = commands.add_parser("topology", help="draw, summarise or save a scenario's topology")
    actions = topology.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser(
        "show", parents=[scenario_args], help="draw the deployment to an image file"
    )
    show.add_argument(
        "-o", "--out", required=True, metavar="FILE", help="image file (.png, .svg or .pdf)"
    )
    actions.add_parser(
        "stats",
        parents=[scenario_args, json_flag],
        help="counts and degree / distance / route summaries",
    )
    export = actions.add_parser(
        "export", parents=[scenario_args], help="save the graph as GraphML or node-link JSON"
    )
    export.add_argument(
        "-o", "--out", required=True, metavar="FILE", help="output file (.graphml or .json)"
    )


def topology_command(args: argparse.Namespace) -> str:
    """Run ``coinfer topology ACTION``."""
    from coinfer.topologies.build import resolve_topology  # networkx only when asked for

    scenario = load_scenario(args.scenario, args.overrides)
    if scenario.topology is None:
        raise InputError(
            f"scenario {args.scenario!r}: topology: missing, expected a topology section "
            "(a generator or a file; see docs/topologies.md)"
        )
    seed = scenario.seed if args.seed is None else args.seed
    if args.action == "show" and Path(args.out).suffix.lower() not in DRAW_FORMATS:
        raise InputError(
            f"--out: got {args.out!r}, expected a file ending in {', '.join(DRAW_FORMATS)}"
        )
    resolved = resolve_topology(scenario, seed)
    deployment = resolved.deployment
    counts = (
        f"{len(deployment.devices)} devices, {len(deployment.cells)} cells, "
        f"{len(deployment.servers)} servers, {len(resolved.topology.wired)} wired links"
    )
    if args.action == "show":
        from coinfer.topologies.draw import draw_topology

        path = draw_topology(resolved, args.out, title=f"{scenario.name} (seed {seed}): {counts}")
        return f"{path}: {scenario.name}, seed {seed}, {counts}"
    if args.action == "export":
        from coinfer.topologies.io import save_topology

        path = save_topology(resolved.graph, args.out)
        return f"{path}: {scenario.name}, seed {seed}, {counts}"
    from coinfer.topologies.stats import stats_tables, topology_stats

    stats = topology_stats(resolved)
    if getattr(args, "json", False):
        return json.dumps({"scenario": scenario.name, "seed": seed, **stats}, indent=2)
    head = f"{scenario.name}: seed {seed}, {counts}"
    return head + "\n\n" + stats_tables(stats)
