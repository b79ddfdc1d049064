"""Device-edge-cloud hierarchy: cells share edge servers, edge servers share one cloud."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np

from coinfer.topologies.config import HierarchyTopology
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
from coinfer.topologies.geometry import grid_positions, uniform_annulus


def generate(config: HierarchyTopology, population: Population, seed: int) -> nx.Graph:
    """Access points ``ap-i`` on a grid ``isd_m`` apart, one row per edge server: cells
    ``k·c .. k·c + c − 1`` (``c = cells_per_server``) are wired to edge server ``edge-k`` by
    ``backhaul``; every edge server reaches ``cloud`` (class ``cloud``, drawn east of the grid)
    over ``wan``. ``devices_per_cell`` devices are dropped uniformly within ``cell_radius_m`` of
    each AP, cell by cell."""
    build = GraphBuilder("hierarchy")
    ap_xy = grid_positions(config.cells, config.isd_m, columns=config.cells_per_server)
    aps = [build.access_point(f"ap-{i}", config.access_point, xy) for i, xy in enumerate(ap_xy)]
    edges = math.ceil(config.cells / config.cells_per_server)
    names = server_classes(config, population, seed, edges, exclude=config.cloud)
    cloud_class = population.server_classes[config.cloud]
    cloud_xy = (float(ap_xy[:, 0].max()) + 2.0 * config.isd_m, float(ap_xy[:, 1].mean()))
    cloud = build.server("cloud", config.cloud, cloud_class, cloud_xy, cloud=True)
    for k in range(edges):
        members = range(
            k * config.cells_per_server, min((k + 1) * config.cells_per_server, config.cells)
        )
        centre = ap_xy[list(members)].mean(axis=0) + np.array((0.0, SERVER_OFFSET * config.isd_m))
        server = build.server(f"edge-{k}", names[k], population.server_classes[names[k]], centre)
        for i in members:
            build.link(aps[i], server, config.backhaul)
        build.link(server, cloud, config.wan)
    per_cell = config.devices_per_cell
    draw = rng(seed, POSITIONS)
    positions = np.concatenate(
        [
            xy + uniform_annulus(draw, per_cell, config.min_distance_m, config.cell_radius_m)
            for xy in ap_xy
        ]
    ).reshape(-1, 2)
    own = np.repeat(np.arange(config.cells), per_cell).tolist()
    groups = device_groups(config, population, seed, len(positions))
    devices = build.devices(groups, positions)
    build.radio_links(devices, positions, aps, ap_xy, own, config.radio_range_m)
    return build.graph


class HierarchyGenerator(LayoutGenerator[HierarchyTopology]):
    """The ``hierarchy`` generator (see :func:`generate`)."""

    Params = HierarchyTopology

    def layout(self, population: Population, seed: int) -> nx.Graph:
        return generate(self.params, population, seed)
