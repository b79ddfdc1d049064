"""Random geometric deployment: APs, servers and devices placed uniformly in a square."""

from __future__ import annotations

import networkx as nx
import numpy as np

from coinfer.topologies.config import GeometricTopology
from coinfer.topologies.generators.common import (
    POSITIONS,
    GraphBuilder,
    LayoutGenerator,
    Population,
    device_groups,
    rng,
    server_classes,
)
from coinfer.topologies.geometry import distances
from coinfer.topologies.specs import WiredLink


def generate(config: GeometricTopology, population: Population, seed: int) -> nx.Graph:
    """Access points ``ap-i``, servers ``edge-j`` and devices uniform in ``[0, area_m]²``.

    Each AP is wired to its nearest server and to every server within ``wired_range_m``;
    servers within that range of each other are wired together; a wired link of length ``d``
    has latency ``backhaul.latency_s + d / propagation_m_per_s`` and ``backhaul``'s bandwidth.
    Each device has radio links to its nearest AP and to every AP within ``radio_range_m``,
    and is at least ``min_distance_m`` from every AP (redrawn otherwise).
    """
    build = GraphBuilder("random-geometric")
    draw = rng(seed, POSITIONS)
    side = config.area_m
    ap_xy = draw.random((config.access_points, 2)) * side
    server_xy = draw.random((config.servers, 2)) * side
    device_xy = draw.random((config.devices, 2)) * side
    too_close = np.flatnonzero(
        distances(device_xy, ap_xy).min(axis=1, initial=np.inf) < config.min_distance_m
    )
    while len(too_close):
        device_xy[too_close] = draw.random((len(too_close), 2)) * side
        near = distances(device_xy[too_close], ap_xy).min(axis=1)
        too_close = too_close[near < config.min_distance_m]

    aps = [build.access_point(f"ap-{i}", config.access_point, xy) for i, xy in enumerate(ap_xy)]
    names = server_classes(config, population, seed, config.servers)
    servers = [
        build.server(f"edge-{j}", name, population.server_classes[name], xy)
        for j, (name, xy) in enumerate(zip(names, server_xy, strict=True))
    ]

    def wire(u: str, v: str, length_m: float) -> None:
        latency = config.backhaul.latency_s + length_m / config.propagation_m_per_s
        build.link(u, v, WiredLink(bandwidth_bps=config.backhaul.bandwidth_bps, latency_s=latency))

    to_servers = distances(ap_xy, server_xy)
    for i, ap in enumerate(aps):
        nearest = int(to_servers[i].argmin())
        for j in sorted({nearest, *np.flatnonzero(to_servers[i] <= config.wired_range_m)}):
            wire(ap, servers[j], float(to_servers[i, j]))
    between = distances(server_xy, server_xy)
    for i, j in zip(*np.nonzero(np.triu(between <= config.wired_range_m, k=1)), strict=True):
        wire(servers[i], servers[j], float(between[i, j]))

    groups = device_groups(config, population, seed, config.devices)
    devices = build.devices(groups, device_xy)
    own = distances(device_xy, ap_xy).argmin(axis=1).tolist() if len(device_xy) else []
    build.radio_links(devices, device_xy, aps, ap_xy, own, config.radio_range_m)
    return build.graph


class GeometricGenerator(LayoutGenerator[GeometricTopology]):
    """The ``random-geometric`` generator (see :func:`generate`)."""

    Params = GeometricTopology

    def layout(self, population: Population, seed: int) -> nx.Graph:
        return generate(self.params, population, seed)
