"""Summary figures of a resolved topology: counts, degrees, distances, gains and routes."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from coinfer.emulator.tables import format_table
from coinfer.topologies.build import ResolvedTopology


def _spread(values: list[float], scale: float = 1.0) -> dict[str, float]:
    """min / mean / p50 / p95 / max of ``values`` times ``scale`` (NaN left out)."""
    data = np.array([v for v in values if not math.isnan(v)], dtype=float) * scale
    if not len(data):
        return {}
    return {
        "min": float(data.min()),
        "mean": float(data.mean()),
        "p50": float(np.quantile(data, 0.5)),
        "p95": float(np.quantile(data, 0.95)),
        "max": float(data.max()),
    }


def topology_stats(resolved: ResolvedTopology) -> dict[str, Any]:
    """Counts and degree / distance / gain / route summaries (SI units, except where a key
    says ``_ms`` or ``_db``)."""
    topology, graph = resolved.topology, resolved.graph
    deployment = resolved.deployment
    kinds = Counter(topology.kind(n) for n in graph.nodes)
    links = Counter(
        "wireless" if u in topology.devices or v in topology.devices else "wired"
        for u, v in graph.edges
    )
    degrees = {
        kind: _spread([graph.degree(n) for n in graph.nodes if topology.kind(n) == kind])
        for kind in kinds
    }
    associated = list(resolved.association.items())
    per_cell = Counter(resolved.association.values())
    device_routes = [resolved.routes[ap][0] for _, ap in associated]
    return {
        "nodes": dict(kinds),
        "links": dict(links),
        "devices_by_group": dict(Counter(d.group for d in deployment.devices)),
        "devices_by_hardware": dict(Counter(d.hardware.name for d in deployment.devices)),
        "servers_by_hardware": dict(
            Counter(f"{s.hardware.name} ({s.tier})" for s in deployment.servers)
        ),
        "degree": degrees,
        "devices_per_cell": _spread([per_cell.get(ap, 0) for ap in topology.access_points]),
        "radio_links_per_device": _spread([len(links) for links in topology.radio.values()]),
        "device_distance_m": _spread([resolved.distances_m[pair] for pair in associated]),
        "device_gain_db": _spread([10 * math.log10(resolved.gains[pair]) for pair in associated]),
        "candidate_servers_per_cell": _spread([len(routes) for routes in resolved.routes.values()]),
        "own_server_latency_ms": _spread([r.latency_s for r in device_routes], 1e3),
        "own_server_hops": _spread([len(r.path) - 1 for r in device_routes]),
    }


_SPREAD_KEYS = ("min", "mean", "p50", "p95", "max")


def stats_tables(stats: dict[str, Any]) -> str:
    """Two tables: the counts, then the spreads (min / mean / p50 / p95 / max)."""
    counts, spreads = [], []
    for key, value in stats.items():
        label = key.replace("_", " ")
        if not value:
            continue
        if tuple(value) == _SPREAD_KEYS:
            spreads.append((label, *(f"{value[k]:.4g}" for k in _SPREAD_KEYS)))
        elif all(isinstance(v, dict) for v in value.values()):
            spreads += [
                (f"{label}: {name}", *(f"{spread[k]:.4g}" for k in _SPREAD_KEYS))
                for name, spread in value.items()
                if spread
            ]
        else:
            counts.append((label, ", ".join(f"{k} {v}" for k, v in value.items())))
    return (
        format_table(("count", "value"), counts)
        + "\n\n"
        + format_table(("spread", *_SPREAD_KEYS), spreads)
    )
