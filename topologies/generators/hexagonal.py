"""Hexagonal multi-cell layout: rings of cells around a centre cell, one server per site."""

from __future__ import annotations

import networkx as nx
import numpy as np

from coinfer.topologies.config import HexagonalTopology
from coinfer.topologies.generators.common import (
    POSITIONS,
    GraphBuilder,
    LayoutGenerator,
    Population,
    device_groups,
    rng,
    server_classes,
)
from coinfer.topologies.generators.disc import SERVER_OFFSET
from coinfer.topologies.geometry import distances, hexagon_centres, uniform_hexagon


def generate(config: HexagonalTopology, population: Population, seed: int) -> nx.Graph:
    """Sites ``0 .. 3R(R+1)`` (centre first, then ring by ring) ``isd_m`` apart. Site ``i`` has
    access point ``ap-i`` and edge server ``edge-i`` joined by ``backhaul``; with
    ``inter_site``, neighbouring sites' servers are wired together. ``devices_per_cell``
    devices are dropped uniformly in each hexagon, cell by cell."""
    build = GraphBuilder("hexagonal")
    centres = hexagon_centres(config.rings, config.isd_m)
    cells = len(centres)
    names = server_classes(config, population, seed, cells)
    aps, servers = [], []
    for i, centre in enumerate(centres):
        aps.append(build.access_point(f"ap-{i}", config.access_point, centre))
        where = centre + np.array((0.0, -SERVER_OFFSET * config.isd_m))
        name = names[i]
        servers.append(build.server(f"edge-{i}", name, population.server_classes[name], where))
        build.link(aps[-1], servers[-1], config.backhaul)
    if config.inter_site is not None and cells > 1:
        apart = distances(centres, centres)
        for i, j in zip(*np.nonzero(np.triu(apart < 1.01 * config.isd_m, k=1)), strict=True):
            build.link(servers[i], servers[j], config.inter_site)
    per_cell = config.devices_per_cell
    draw = rng(seed, POSITIONS)
    positions = np.concatenate(
        [
            centre + uniform_hexagon(draw, per_cell, config.isd_m, config.min_distance_m)
            for centre in centres
        ]
    ).reshape(-1, 2)
    own = np.repeat(np.arange(cells), per_cell).tolist()
    groups = device_groups(config, population, seed, len(positions))
    devices = build.devices(groups, positions)
    build.radio_links(devices, positions, aps, centres, own, config.radio_range_m)
    return build.graph


class HexagonalGenerator(LayoutGenerator[HexagonalTopology]):
    """The ``hexagonal`` generator (see :func:`generate`)."""

    Params = HexagonalTopology

    def layout(self, population: Population, seed: int) -> nx.Graph:
        return generate(self.params, population, seed)
