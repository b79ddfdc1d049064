"""Topology generators: each turns its typed configuration into a networkx graph.

A generator is a function ``generate(config, population, seed) -> networkx.Graph`` whose nodes
and edges carry the attributes of :mod:`topologies.specs`; :func:`generate` picks it by the
configuration's ``generator`` name. The graph is a pure function of the configuration, the
scenario's device groups and server classes (:class:`Population`) and the seed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx

from coinfer.topologies.config import GeneratedTopology
from coinfer.topologies.generators import disc, geometric, hexagonal, hierarchy, paper
from coinfer.topologies.generators.common import Population, ServerClass

GENERATORS: dict[str, Callable[[Any, Population, int], nx.Graph]] = {
    "paper": paper.generate,
    "disc": disc.generate,
    "hexagonal": hexagonal.generate,
    "random-geometric": geometric.generate,
    "hierarchy": hierarchy.generate,
}


def generate(config: GeneratedTopology, population: Population, seed: int) -> nx.Graph:
    """The graph of ``config`` for ``population`` and the layout ``seed``."""
    return GENERATORS[config.generator](config, population, seed)


__all__ = ["GENERATORS", "Population", "ServerClass", "generate"]
