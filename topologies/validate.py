"""Checking a topology graph node by node and edge by edge, into a typed :class:`Topology`.

Every node's attributes are validated against its kind's spec (:mod:`topologies.specs`) and
every edge's against its link kind; the first problem is refused with an
:class:`~coinfer.emulator.errors.InputError` that names the node or edge, the attribute, the value
and what was expected. Names that need the scenario (device groups, hardware classes) and
reachability are checked by :mod:`topologies.build`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
from pydantic import ValidationError

from coinfer.emulator.errors import InputError, input_error_from_validation
from coinfer.topologies.specs import (
    EDGE_SPECS,
    NODE_KINDS,
    NODE_SPECS,
    SERVER_KINDS,
    AccessPointNode,
    CloudNode,
    DeviceNode,
    ServerNode,
    SwitchNode,
    WiredLink,
    WirelessLink,
)


@dataclass(frozen=True)
class Topology:
    """A validated topology: typed nodes by id (in graph order) and typed links."""

    graph: nx.Graph
    devices: dict[str, DeviceNode]
    access_points: dict[str, AccessPointNode]
    servers: dict[str, ServerNode | CloudNode]  #: edge servers and clouds, in graph order
    switches: dict[str, SwitchNode]
    radio: dict[str, dict[str, WirelessLink]]  #: device id -> access point id -> link
    wired: dict[tuple[str, str], WiredLink]  #: (u, v) in graph order -> link

    def kind(self, node: str) -> str:
        """The kind of node ``node``."""
        return self.graph.nodes[node]["kind"]

    def wireless_distance_m(self, device: str, ap: str) -> float | None:
        """The radio link's length: its ``distance_m``, else the nodes' distance, else None."""
        link = self.radio[device][ap]
        if link.distance_m is not None:
            return link.distance_m
        a, b = self.devices[device].position, self.access_points[ap].position
        if a is None or b is None:
            return None
        return math.hypot(a[0] - b[0], a[1] - b[1])


def validate_graph(graph: nx.Graph) -> Topology:
    """Type-check every node and edge of ``graph``; raises :class:`InputError` naming it."""
    if graph.is_multigraph():
        raise InputError("topology: got a multigraph, expected at most one link per node pair")
    nodes = {}
    for node, data in graph.nodes(data=True):
        nodes[node] = _node(node, data)
    devices = {n: s for n, s in nodes.items() if isinstance(s, DeviceNode)}
    radio: dict[str, dict[str, WirelessLink]] = {d: {} for d in devices}
    wired: dict[tuple[str, str], WiredLink] = {}
    for u, v, data in graph.edges(data=True):
        u, v = (u, v) if u in devices or v not in devices else (v, u)  # a device first
        link = _edge(u, v, data, nodes[u].kind, nodes[v].kind)
        if isinstance(link, WirelessLink):
            radio[u][v] = link
        else:
            wired[(u, v)] = link
    typed = nx.Graph(graph)
    for node, spec in nodes.items():
        typed.nodes[node]["kind"] = spec.kind
    return Topology(
        graph=typed,
        devices=devices,
        access_points={n: s for n, s in nodes.items() if isinstance(s, AccessPointNode)},
        servers={n: s for n, s in nodes.items() if s.kind in SERVER_KINDS},  # type: ignore[misc]
        switches={n: s for n, s in nodes.items() if isinstance(s, SwitchNode)},
        radio=radio,
        wired=wired,
    )


def _node(node: str, data: dict) -> DeviceNode | AccessPointNode | ServerNode | SwitchNode:
    where = f"node {node!r}"
    kind = data.get("kind")
    if kind is None:
        raise InputError(f"{where}: kind: missing, expected one of {', '.join(NODE_KINDS)}")
    if kind not in NODE_SPECS:
        raise InputError(f"{where}: kind: got {kind!r}, expected one of {', '.join(NODE_KINDS)}")
    try:
        return NODE_SPECS[kind].model_validate(data)  # type: ignore[return-value]
    except ValidationError as err:
        raise input_error_from_validation(err, f"{where} ({kind})", model=NODE_SPECS[kind]) from err


def _edge(u: str, v: str, data: dict, kind_u: str, kind_v: str) -> WirelessLink | WiredLink:
    where = f"edge {u!r}-{v!r}"
    if u == v:
        raise InputError(f"{where}: a link must join two different nodes")
    touches_device = "device" in (kind_u, kind_v)
    kind = data.get("kind", "wireless" if touches_device else "wired")
    if kind not in EDGE_SPECS:
        raise InputError(f"{where}: kind: got {kind!r}, expected wireless or wired")
    if kind == "wireless" and not (kind_u == "device" and kind_v == "access_point"):
        raise InputError(
            f"{where}: a wireless link joins a device and an access point; got {kind_u} and "
            f"{kind_v}"
        )
    if kind == "wired" and touches_device:
        raise InputError(
            f"{where}: a device has only wireless links (to access points); got a wired link "
            f"to a {kind_v if kind_u == 'device' else kind_u}"
        )
    try:
        return EDGE_SPECS[kind].model_validate(data)  # type: ignore[return-value]
    except ValidationError as err:
        raise input_error_from_validation(err, f"{where} ({kind})", model=EDGE_SPECS[kind]) from err
