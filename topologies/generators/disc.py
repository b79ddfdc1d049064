"""One cell: devices dropped uniformly in a disc around the access point."""

from __future__ import annotations

import networkx as nx
import numpy as np

from coinfer.topologies.config import DiscTopology
from coinfer.topologies.generators.common import (
    POSITIONS,
    GraphBuilder,
    LayoutGenerator,
    Population,
    device_groups,
    rng,
    server_classes,
)
from coinfer.topologies.geometry import uniform_annulus

#: Where a site's server is drawn, as a fraction of the site's size south of its access point.
SERVER_OFFSET = 0.15


def generate(config: DiscTopology, population: Population, seed: int) -> nx.Graph:
    """``devices`` area-uniform between ``min_distance_m`` and ``radius_m`` of ``ap-0``; the
    server ``edge-0`` behind ``backhaul``. Path loss and shadowing per device come from the
    scenario's channel at each device's distance."""
    build = GraphBuilder("disc")
    ap = build.access_point("ap-0", config.access_point, (0.0, 0.0))
    name = server_classes(config, population, seed, 1)[0]
    below = (0.0, -SERVER_OFFSET * config.radius_m)
    server = build.server("edge-0", name, population.server_classes[name], below)
    build.link(ap, server, config.backhaul)
    positions = uniform_annulus(
        rng(seed, POSITIONS), config.devices, config.min_distance_m, config.radius_m
    )
    groups = device_groups(config, population, seed, config.devices)
    devices = build.devices(groups, positions)
    build.radio_links(devices, positions, [ap], np.zeros((1, 2)), [0] * len(devices), None)
    return build.graph


class DiscGenerator(LayoutGenerator[DiscTopology]):
    """The ``disc`` generator (see :func:`generate`)."""

    Params = DiscTopology

    def layout(self, population: Population, seed: int) -> nx.Graph:
        return generate(self.params, population, seed)
