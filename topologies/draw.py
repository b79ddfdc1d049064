"""Drawing a resolved topology to an image file (matplotlib, no global pyplot state).

Devices are dots coloured by their cell and shaped by their group, joined to their access point
by a thin line of the same colour; access points are triangles, edge servers squares, clouds
stars and switches diamonds; wired links are coloured by kind (access to server, between
servers, to the cloud). Nodes without a position are placed by a spring layout around the
placed ones.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from coinfer.topologies.build import ResolvedTopology

WIRED_COLOURS = {"access": "tab:blue", "inter-server": "tab:green", "wan": "tab:red"}
_GROUP_MARKERS = "o^sDvP*X<>"
_SERVER_COLOURS = ("tab:orange", "tab:purple", "tab:brown", "tab:olive", "tab:cyan", "tab:pink")
_NODE_STYLE = {  # kind -> (marker, size, colour)
    "access_point": ("^", 90, "black"),
    "server": ("s", 110, "tab:orange"),
    "cloud": ("*", 260, "tab:purple"),
    "switch": ("D", 60, "grey"),
}


def positions(resolved: ResolvedTopology) -> dict[str, tuple[float, float]]:
    """Every node's drawing position: its own, else a spring layout around the placed ones."""
    graph = resolved.graph
    known = {}
    for node, data in graph.nodes(data=True):
        if data.get("x_m") is not None and data.get("y_m") is not None:
            known[node] = (float(data["x_m"]), float(data["y_m"]))
    if len(known) == graph.number_of_nodes():
        return known
    layout = nx.spring_layout(
        graph, pos=known or None, fixed=list(known) or None, seed=0, weight=None
    )
    return {node: (float(x), float(y)) for node, (x, y) in layout.items()}


def wired_kind(resolved: ResolvedTopology, u: str, v: str) -> str:
    """``wan`` (touches a cloud), ``inter-server`` (between servers) or ``access``."""
    kinds = {resolved.topology.kind(u), resolved.topology.kind(v)}
    if "cloud" in kinds:
        return "wan"
    if kinds == {"server"}:
        return "inter-server"
    return "access"


def draw_topology(resolved: ResolvedTopology, path: str | Path, title: str = "") -> Path:
    """Draw ``resolved`` to ``path`` (format from the suffix: png, svg, pdf); returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    topology = resolved.topology
    xy = positions(resolved)
    figure = Figure(figsize=(8, 8))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    palette = [f"C{i}" for i in range(10)]
    cell_colour = {ap: palette[i % 10] for i, ap in enumerate(topology.access_points)}

    for device, ap in resolved.association.items():
        (x0, y0), (x1, y1) = xy[device], xy[ap]
        axes.plot([x0, x1], [y0, y1], color=cell_colour[ap], lw=0.5, alpha=0.35, zorder=1)
    for (u, v), _link in topology.wired.items():
        (x0, y0), (x1, y1) = xy[u], xy[v]
        colour = WIRED_COLOURS[wired_kind(resolved, u, v)]
        axes.plot([x0, x1], [y0, y1], color=colour, lw=1.6, zorder=2)

    groups = sorted({spec.group for spec in resolved.deployment.devices})
    marker = {g: _GROUP_MARKERS[i % len(_GROUP_MARKERS)] for i, g in enumerate(groups)}
    by_group: dict[str, list[str]] = {g: [] for g in groups}
    for spec in resolved.deployment.devices:
        by_group[spec.group].append(spec.id)
    handles = []
    for group, members in by_group.items():
        axes.scatter(
            [xy[d][0] for d in members],
            [xy[d][1] for d in members],
            s=14,
            marker=marker[group],
            c=[cell_colour[resolved.association[d]] for d in members],
            zorder=3,
        )
        handles.append(
            Line2D([], [], ls="", marker=marker[group], color="grey", label=f"device: {group}")
        )
    hardware_colour: dict[str, str] = {}
    for kind, (shape, size, colour) in _NODE_STYLE.items():
        nodes = [n for n in topology.graph.nodes if topology.kind(n) == kind]
        if not nodes:
            continue
        by_class: dict[str, list[str]] = {}
        for n in nodes:  # servers and clouds coloured by hardware class
            name = (
                topology.graph.nodes[n].get("hardware", "") if kind in ("server", "cloud") else ""
            )
            by_class.setdefault(name, []).append(n)
        for name, members in by_class.items():
            if name:
                shade = _SERVER_COLOURS[len(hardware_colour) % len(_SERVER_COLOURS)]
                colour = hardware_colour.setdefault(name, shade)
            axes.scatter(
                [xy[n][0] for n in members],
                [xy[n][1] for n in members],
                s=size,
                marker=shape,
                c=colour,
                edgecolors="white",
                zorder=4,
            )
            label = kind.replace("_", " ") + (f": {name}" if name else "")
            handles.append(Line2D([], [], ls="", marker=shape, color=colour, label=label))
        if len(nodes) <= 40:
            for n in nodes:
                axes.annotate(n, xy[n], fontsize=7, xytext=(4, 4), textcoords="offset points")
    used = {wired_kind(resolved, u, v) for u, v in topology.wired}
    handles += [
        Line2D([], [], color=WIRED_COLOURS[k], lw=1.6, label=f"wired: {k}")
        for k in WIRED_COLOURS
        if k in used
    ]
    handles.append(Line2D([], [], color="grey", lw=0.8, alpha=0.6, label="wireless (associated)"))
    axes.legend(handles=handles, loc="best", fontsize=7, framealpha=0.8)
    axes.set_aspect("equal", adjustable="datalim")
    axes.set_xlabel("x (m)")
    axes.set_ylabel("y (m)")
    deployment = resolved.deployment
    axes.set_title(
        title
        or f"{len(deployment.devices)} devices, {len(deployment.cells)} cells, "
        f"{len(deployment.servers)} servers",
        fontsize=10,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    return path
