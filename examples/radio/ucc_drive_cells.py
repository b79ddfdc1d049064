"""Cells along a real drive: the topology of ``examples/scenarios/ucc-drive.yaml``.

Reads the GPS path of the UCC 5G drive ``ucc-5g/netflix-driving/2019.11.23_12.27.34/positions``
(from ``--trace-dir``, e.g. ``../shared/traces``; never copied into the repository) and places
an access point every ``--spacing-m`` metres of path length, ``--offset-m`` metres to the left
of the road (so that the car never drives over an antenna), all wired to one edge server. The
car starts at the path's first point, (0, 0). Writes node-link JSON (``coinfer topology``
reads it):

    python examples/radio/ucc_drive_cells.py --trace-dir ../shared/traces \
        --out examples/scenarios/ucc-drive-cells.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import networkx as nx
import numpy as np

from coinfer.topologies.io import save_topology
from coinfer.traces.positions import PositionTrace
from coinfer.traces.resolve import open_trace

TRACE = "ucc-5g/netflix-driving/2019.11.23_12.27.34/positions"


def cell_sites(path: PositionTrace, spacing_m: float, offset_m: float) -> np.ndarray:
    """Rows of (x m, y m): a site every ``spacing_m`` of path length from the start (the first
    at the start), ``offset_m`` to the left of the segment it falls on, rounded to the metre;
    where the road comes back near a site (closer than half the spacing), no second one."""
    lengths = path.segment_lengths_m()
    along = np.concatenate([[0.0], np.cumsum(lengths)])
    sites = []
    for s in np.arange(0.0, along[-1], spacing_m):
        k = min(int(np.searchsorted(along, s, side="right")) - 1, lengths.size - 1)
        while lengths[k] == 0.0:  # a repeated fix has no direction: use the next segment
            k += 1
        dx, dy = path.x_m[k + 1] - path.x_m[k], path.y_m[k + 1] - path.y_m[k]
        share = (s - along[k]) / lengths[k]
        x, y = path.x_m[k] + share * dx, path.y_m[k] + share * dy
        normal = np.array([-dy, dx]) / lengths[k]
        site = np.round(np.array([x, y]) + offset_m * normal)
        if all(np.hypot(*(site - other)) >= spacing_m / 2 for other in sites):
            sites.append(site)
    return np.array(sites)


#: Every access point: a 5G NR cell (15 kHz, 106 PRBs, docs/radio.md), as in hex-city-mobile.
ACCESS_POINT = {
    "link": json.dumps({"model": "nr", "preset": "nr-fr1-20mhz"}),
    "noise_figure_db": 7.0,
    "sharing": "ps",
}


def drive_topology(sites: np.ndarray) -> nx.Graph:
    """The access points at ``sites`` (NR cells) wired to one edge server, and the car at
    (0, 0) heard by the first access point."""
    graph = nx.Graph()
    graph.add_node("edge-0", kind="server", hardware="l4", workers=2, discipline="fcfs")
    for k, (x, y) in enumerate(sites):
        graph.add_node(f"ap-{k}", kind="access_point", x_m=float(x), y_m=float(y), **ACCESS_POINT)
        graph.add_edge(f"ap-{k}", "edge-0", kind="wired", latency_s=0.0005)
    graph.add_node("car-0", kind="device", group="car", x_m=0.0, y_m=0.0)
    graph.add_edge("car-0", "ap-0", kind="wireless")
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace-dir", type=Path, default=None)
    parser.add_argument("--spacing-m", type=float, default=1200.0)
    parser.add_argument("--offset-m", type=float, default=150.0)
    parser.add_argument("--out", type=Path, default=Path("examples/scenarios/ucc-drive-cells.json"))
    args = parser.parse_args()
    path = open_trace("positions", name=TRACE, trace_dir=args.trace_dir)
    assert isinstance(path, PositionTrace)
    sites = cell_sites(path, args.spacing_m, args.offset_m)
    save_topology(drive_topology(sites), args.out)
    print(f"{len(sites)} access points along {path.length_m() / 1000:.1f} km -> {args.out}")


if __name__ == "__main__":
    main()
