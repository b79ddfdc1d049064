"""Static routing over the wired graph: which servers an access point reaches, and how.

The wired graph holds every node except the devices, and every wired link. The path from an
access point to a server is the shortest by one-way latency (ties: fewest hops, then the order
in which networkx meets the nodes, which is the graph's order). A cell's *own* server is the
access point's ``server`` attribute if it has one, else its nearest edge server by latency, else
its nearest cloud.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import networkx as nx

from coinfer.emulator.errors import InputError
from coinfer.topologies.validate import Topology

#: Added to each link's latency when searching paths, so that ties go to fewer hops, s.
HOP_TIE_BREAK_S = 1e-12


@dataclass(frozen=True)
class Route:
    """The wired path from an access point to one server."""

    server: str
    path: tuple[str, ...]  #: node ids from the access point to the server
    latency_s: float  #: one-way propagation latency, sum over the links, s
    s_per_bit: float  #: sum of 1/bandwidth over the links (store and forward, no contention)

    @property
    def hops(self) -> tuple[tuple[str, str], ...]:
        """The directed links of the path, in order."""
        return tuple(itertools.pairwise(self.path))


def wired_graph(topology: Topology) -> nx.Graph:
    """The graph of wired links, weighted by latency (plus a tiny per-hop tie-break)."""
    wired = nx.Graph()
    wired.add_nodes_from(n for n in topology.graph.nodes if n not in topology.devices)
    for (u, v), link in topology.wired.items():
        wired.add_edge(u, v, weight=link.latency_s + HOP_TIE_BREAK_S, link=link)
    return wired


def routes_from(topology: Topology, wired: nx.Graph, ap: str) -> list[Route]:
    """Every server reachable from access point ``ap``, nearest first (by latency, then id
    order in the graph)."""
    _, paths = nx.single_source_dijkstra(wired, ap, weight="weight")
    order = {node: i for i, node in enumerate(topology.servers)}
    found = []
    for server in topology.servers:
        if server not in paths:
            continue
        path = tuple(paths[server])
        latency = 0.0
        s_per_bit = 0.0
        for u, v in itertools.pairwise(path):
            link = wired.edges[u, v]["link"]
            latency += link.latency_s
            if link.bandwidth_bps is not None:
                s_per_bit += 1.0 / link.bandwidth_bps
        found.append(Route(server, path, latency, s_per_bit))
    found.sort(key=lambda r: (r.latency_s, len(r.path), order[r.server]))
    return found


def own_route(topology: Topology, ap: str, routes: list[Route]) -> Route:
    """The cell's own server: the AP's ``server`` attribute, else the nearest edge server, else
    the nearest cloud. Raises :class:`InputError` naming the AP when it reaches no server."""
    if not routes:
        raise InputError(
            f"access point {ap!r} reaches no server: expected a wired path from it to a node of "
            "kind server or cloud"
        )
    chosen = topology.access_points[ap].server
    if chosen is not None:
        for route in routes:
            if route.server == chosen:
                return route
        if chosen in topology.servers:
            raise InputError(f"access point {ap!r}: server {chosen!r} is not reachable from it")
        raise InputError(
            f"access point {ap!r}: server: got {chosen!r}, expected one of "
            f"{sorted(topology.servers)}"
        )
    for route in routes:
        if topology.servers[route.server].kind == "server":
            return route
    return routes[0]


def candidate_routes(topology: Topology, wired: nx.Graph, ap: str, routing: str) -> list[Route]:
    """The routes a request from ``ap`` may take: its own server first, then (unless routing is
    ``own``) every other reachable server, nearest first."""
    routes = routes_from(topology, wired, ap)
    own = own_route(topology, ap, routes)
    if routing == "own":
        return [own]
    return [own, *(r for r in routes if r.server != own.server)]


def bottleneck_bps(topology: Topology, route: Route) -> float:
    """The smallest bandwidth along ``route``, bit/s (inf when every link is ideal)."""
    smallest = math.inf
    for u, v in route.hops:
        link = topology.wired.get((u, v)) or topology.wired[(v, u)]
        if link.bandwidth_bps is not None:
            smallest = min(smallest, link.bandwidth_bps)
    return smallest
