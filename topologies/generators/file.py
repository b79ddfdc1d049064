"""The ``file`` generator: a graph drawn elsewhere, read from GraphML or node-link JSON."""

from __future__ import annotations

import networkx as nx

from coinfer.topologies.config import FileTopology
from coinfer.topologies.generators.common import Population
from coinfer.topologies.io import load_topology


class FileGenerator:
    """Reads the graph of ``file`` (:func:`coinfer.topologies.io.load_topology`); the
    population and the seed do not apply (the file places every node)."""

    Params = FileTopology

    def __init__(self, params: FileTopology) -> None:
        self.params = params

    def generate(self, population: Population, seed: int) -> nx.Graph:
        return load_topology(self.params.file)
