"""The paper's setting: one device, one access point, one server."""

from __future__ import annotations

import networkx as nx
import numpy as np

from coinfer.topologies.config import PaperTopology
from coinfer.topologies.generators.common import (
    GraphBuilder,
    LayoutGenerator,
    Population,
    device_groups,
    server_classes,
)


def generate(config: PaperTopology, population: Population, seed: int) -> nx.Graph:
    """One device ``distance_m`` east of the access point ``ap-0``; the server ``edge-0`` sits at
    the access point behind ``backhaul`` (ideal by default, as in the paper)."""
    build = GraphBuilder("paper")
    ap = build.access_point("ap-0", config.access_point, (0.0, 0.0))
    name = server_classes(config, population, seed, 1)[0]
    server = build.server("edge-0", name, population.server_classes[name], (0.0, 0.0))
    build.link(ap, server, config.backhaul)
    groups = device_groups(config, population, seed, 1)
    device = build.devices(groups, np.array([[config.distance_m, 0.0]]))
    build.radio_links(device, np.zeros((1, 2)), [ap], np.zeros((1, 2)), [0], None)
    return build.graph


class PaperGenerator(LayoutGenerator[PaperTopology]):
    """The ``paper`` generator (see :func:`generate`)."""

    Params = PaperTopology

    def layout(self, population: Population, seed: int) -> nx.Graph:
        return generate(self.params, population, seed)
