"""Topology generators: each turns its typed configuration into a networkx graph.

A generator is a plug-in of the ``coinfer.topologies`` family (:mod:`coinfer.emulator.plugins`,
protocol :class:`~coinfer.topologies.generators.common.TopologyGenerator`) whose nodes and edges
carry the attributes of :mod:`topologies.specs`; :func:`generate` looks it up by the
configuration's ``generator`` name. The graph is a pure function of the configuration, the
scenario's device groups and server classes (:class:`Population`) and the seed.
"""

from __future__ import annotations

import networkx as nx

from coinfer.emulator.plugins import TOPOLOGIES
from coinfer.topologies.config import TopologyParams
from coinfer.topologies.generators.common import Population, ServerClass, TopologyGenerator


def generate(config: TopologyParams, population: Population, seed: int) -> nx.Graph:
    """The graph of ``config`` for ``population`` and the run's ``seed``."""
    generator: TopologyGenerator = TOPOLOGIES.load(config.generator)(config)
    return generator.generate(population, seed)


__all__ = ["Population", "ServerClass", "TopologyGenerator", "generate"]
