"""What every generator shares: its protocol, the classes it mixes and a builder of typed graphs.

A topology generator is a plug-in of the ``coinfer.topologies`` family
(:mod:`coinfer.emulator.plugins`): a class implementing :class:`TopologyGenerator`, registered
under the name a scenario gives as ``topology.generator``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import networkx as nx
import numpy as np

from coinfer.emulator.errors import InputError
from coinfer.emulator.randomness import stream
from coinfer.topologies.config import GeneratedParams, TopologyParams
from coinfer.topologies.geometry import distances
from coinfer.topologies.mix import assign
from coinfer.topologies.specs import (
    AccessPointNode,
    AccessPointTemplate,
    CloudNode,
    DeviceNode,
    ServerNode,
    WiredLink,
    WirelessLink,
    attributes,
)

#: Index of the placement stream used for positions, device classes and server classes.
POSITIONS, DEVICE_CLASSES, SERVER_CLASSES = 0, 1, 2


@dataclass(frozen=True)
class ServerClass:
    """A scenario server entry used as a template for generated server nodes."""

    hardware: str
    workers: int
    discipline: str
    queue_capacity: int | None
    #: the discipline's own parameters (stamped on the server nodes beside ``discipline``)
    discipline_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Population:
    """What the generators place: device groups (default weights) and server classes."""

    device_weights: dict[str, float]  #: group name -> default weight (its count)
    server_classes: dict[str, ServerClass]  #: class name (scenario server id) -> template


class TopologyGenerator(Protocol):
    """A topology generator, made from the scenario's ``topology`` parameters (``Params``, a
    :class:`~coinfer.topologies.config.TopologyParams` model)."""

    Params: ClassVar[type[TopologyParams]]

    def __init__(self, params: TopologyParams) -> None: ...

    def generate(self, population: Population, seed: int) -> nx.Graph:
        """The graph for ``population`` and the run's ``seed``: nodes and edges carry the
        attributes of :mod:`coinfer.topologies.specs` (it is checked like a loaded graph)."""
        ...


#: The parameter model of a built-in generator.
GeneratedT = TypeVar("GeneratedT", bound=GeneratedParams)


class LayoutGenerator(Generic[GeneratedT]):
    """Base of the built-in generators: ``layout(population, seed)`` with the layout seed
    ``params.seed``, or the run's seed when it is not set."""

    Params: ClassVar[type[GeneratedParams]]

    def __init__(self, params: GeneratedT) -> None:
        self.params = params

    def generate(self, population: Population, seed: int) -> nx.Graph:
        return self.layout(population, seed if self.params.seed is None else self.params.seed)

    def layout(self, population: Population, seed: int) -> nx.Graph:
        """The graph for ``population`` with the layout ``seed``."""
        raise NotImplementedError


def rng(seed: int, purpose: int) -> np.random.Generator:
    """The layout's random stream for ``purpose`` (positions, device or server classes)."""
    return stream(seed, "placement", purpose)


def device_groups(
    config: GeneratedParams, population: Population, seed: int, total: int
) -> list[str]:
    """A device group for each of ``total`` devices, mixed by proportion and shuffled."""
    weights = config.device_mix or population.device_weights
    return assign(rng(seed, DEVICE_CLASSES), total, weights)


def server_classes(
    config: GeneratedParams,
    population: Population,
    seed: int,
    total: int,
    exclude: str | None = None,
) -> list[str]:
    """A server class for each of ``total`` sites (default: equal shares of every class but
    ``exclude``, the cloud's)."""
    weights = config.server_mix
    if weights is None:
        names = [name for name in population.server_classes if name != exclude]
        weights = {name: 1.0 for name in names or population.server_classes}
    return assign(rng(seed, SERVER_CLASSES), total, weights)


class GraphBuilder:
    """Adds typed nodes and links to a :class:`networkx.Graph`, refusing duplicate ids."""

    def __init__(self, generator: str) -> None:
        self.graph = nx.Graph(generator=generator)
        self._per_group: dict[str, int] = {}

    def node(self, node_id: str, spec: object) -> str:
        """Add a node with the attributes of ``spec``."""
        if node_id in self.graph:
            raise InputError(
                f"topology: duplicate node id {node_id!r} (rename the device group or server "
                "class whose generated ids collide)"
            )
        self.graph.add_node(node_id, **attributes(spec))  # type: ignore[arg-type]
        return node_id

    def link(self, u: str, v: str, spec: WiredLink | WirelessLink) -> None:
        """Add a link with the attributes of ``spec``."""
        self.graph.add_edge(u, v, **attributes(spec))

    def access_point(self, node_id: str, template: AccessPointTemplate, xy) -> str:
        """An access point with the template's radio fields at ``xy``."""
        spec = AccessPointNode(
            **template.model_dump(exclude_unset=True), x_m=float(xy[0]), y_m=float(xy[1])
        )
        return self.node(node_id, spec)

    def server(
        self, node_id: str, name: str, server_class: ServerClass, xy, *, cloud: bool = False
    ) -> str:
        """An edge server (or the cloud) of class ``name`` at ``xy``."""
        kind = CloudNode if cloud else ServerNode
        spec = kind(
            hardware=server_class.hardware,
            workers=server_class.workers,
            discipline=server_class.discipline,
            queue_capacity=server_class.queue_capacity,
            server_class=name,
            **server_class.discipline_params,
            x_m=float(xy[0]),
            y_m=float(xy[1]),
        )
        return self.node(node_id, spec)

    def devices(self, groups: list[str], positions: np.ndarray) -> list[str]:
        """Devices of the given groups at ``positions`` (n, 2); ids are GROUP-0, GROUP-1, ..."""
        ids = []
        for group, (x, y) in zip(groups, positions, strict=True):
            k = self._per_group.get(group, 0)
            self._per_group[group] = k + 1
            ids.append(
                self.node(f"{group}-{k}", DeviceNode(group=group, x_m=float(x), y_m=float(y)))
            )
        return ids

    def radio_links(
        self,
        device_ids: list[str],
        positions: np.ndarray,
        ap_ids: list[str],
        ap_positions: np.ndarray,
        own: list[int],
        range_m: float | None,
    ) -> None:
        """A radio link from each device to its own AP (index into ``ap_ids``) and to every AP
        within ``range_m``."""
        near = (
            distances(positions, ap_positions) if range_m is not None and len(positions) else None
        )
        for i, device in enumerate(device_ids):
            targets = {own[i]}
            if near is not None:
                targets.update(np.flatnonzero(near[i] <= range_m).tolist())
            for j in sorted(targets):
                self.link(device, ap_ids[j], WirelessLink())
