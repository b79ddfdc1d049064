"""From a scenario's topology to the engine's :class:`~coinfer.emulator.deployment.spec.Deployment`.

:func:`resolve_topology` runs every step, each in its own module:

1. the graph: a generator (:mod:`topologies.generators`) or a file (:mod:`topologies.io`);
2. typing every node and edge (:mod:`topologies.validate`), then the names that need the
   scenario: device groups and hardware classes;
3. the mean gain of every radio link: the scenario's path loss at the link's length times
   log-normal shadowing (one ``los`` and one ``shadowing`` stream of the run's seed, drawn for
   the links in device order), unless the link gives ``shadowing_db`` or ``gain_db``;
4. association (:mod:`topologies.association`) and routing (:mod:`topologies.routing`);
5. the flat deployment: devices, cells (access points), servers (edge and cloud), the directed
   wired links the routes use, and each cell's routes;
6. the devices that move (:mod:`topologies.mobility`): positions and gains to every cell.

The engine sees only the deployment: it never knows which generator made the graph.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np

from coinfer.emulator.deployment.placement import (
    catalogs_for,
    group_model,
    lookup,
    mean_gains,
    with_group_exits,
)
from coinfer.emulator.deployment.spec import (
    CellSpec,
    Deployment,
    DeviceSpec,
    LinkSpec,
    RouteSpec,
    ServerSpec,
)
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog, HardwareSpec
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.randomness import stream
from coinfer.emulator.scenario.schema import Cell, DeviceGroup, Scenario
from coinfer.topologies.association import associate
from coinfer.topologies.generators import Population, ServerClass, generate
from coinfer.topologies.mobility import mobility_plan
from coinfer.topologies.routing import Route, candidate_routes, routes_from, wired_graph
from coinfer.topologies.specs import AccessPointNode
from coinfer.topologies.validate import Topology, validate_graph
from coinfer.traces.positions import PositionTrace


@dataclass(frozen=True)
class ResolvedTopology:
    """A scenario's topology, resolved for one seed: the graph and what was derived from it."""

    graph: nx.Graph
    topology: Topology
    gains: dict[tuple[str, str], float]  #: (device, access point) -> mean gain, linear
    distances_m: dict[tuple[str, str], float]  #: (device, access point) -> length, m
    association: dict[str, str]  #: device -> access point
    routes: dict[str, tuple[Route, ...]]  #: access point -> candidate routes, own first
    deployment: Deployment


def topology_graph(scenario: Scenario, seed: int) -> nx.Graph:
    """The scenario's topology graph, from its generator (a built-in generator's layout seed is
    ``topology.seed``, else ``seed``; the ``file`` generator loads its file)."""
    config = scenario.topology
    if config is None:
        raise InputError("topology: the scenario has no topology section")
    population = Population(
        device_weights={g.name: float(g.count) for g in scenario.devices},
        server_classes={
            s.id: ServerClass(
                s.hardware,
                s.workers,
                s.discipline,
                s.queue_capacity,
                s.discipline_params.model_dump(),
            )
            for s in scenario.servers
        },
    )
    return generate(config, population, seed)


def resolve_topology(
    scenario: Scenario,
    seed: int | None = None,
    positions: Mapping[int, PositionTrace] | None = None,
) -> ResolvedTopology:
    """Build, check and resolve the scenario's topology for ``seed`` (default: the scenario's).

    ``positions``: the registered paths the device groups' mobility replays, by group index,
    already read (:func:`~coinfer.emulator.deployment.replay.load_scenario_traces`); a group
    missing here reads its own. Raises :class:`InputError` naming the node or edge for anything
    the run would trip over.
    """
    seed = scenario.seed if seed is None else seed
    config = scenario.topology
    graph = topology_graph(scenario, seed)
    assert config is not None
    topology = validate_graph(graph)
    hardware, models = catalogs_for(scenario)
    groups = _device_groups(topology, scenario.devices)
    distances = _link_distances(topology)
    gains = _link_gains(scenario, topology, distances, seed)
    wired = wired_graph(topology)
    routes = {
        ap: tuple(candidate_routes(topology, wired, ap, config.routing))
        for ap in topology.access_points
    }
    association = associate(topology, distances, gains, config.association)
    servers = _servers(topology, hardware, wired)
    links = _links(topology, routes)
    cells = _cells(topology, routes, association, servers, links)
    devices = _devices(topology, groups, association, cells, distances, gains, hardware, models)
    mobility = mobility_plan(scenario, topology, devices, cells, gains, seed, positions)
    deployment = Deployment(
        devices=devices,
        cells=cells,
        servers=servers,
        channel=scenario.channel,
        downlink=scenario.downlink,
        policy=scenario.policy,
        links=tuple(links.values()),
        routing=config.routing,
        model_cache=scenario.model_cache,
        mobility=mobility,
    )
    return ResolvedTopology(graph, topology, gains, distances, association, routes, deployment)


def _servers(
    topology: Topology, hardware: HardwareCatalog, wired: nx.Graph
) -> tuple[ServerSpec, ...]:
    """Edge servers and clouds, in graph order, each with its wired path to the nearest cloud
    (where a model cache loads missing models from, with ``source: cloud``)."""
    return tuple(
        ServerSpec(
            index=i,
            id=node,
            hardware=_hardware(
                hardware,
                f"node {node!r}"
                + (f" (server class {spec.server_class!r})" if spec.server_class else ""),
                spec.hardware,
                "server",
            ),
            workers=spec.workers,
            discipline=spec.discipline,
            queue_capacity=spec.queue_capacity,
            tier="cloud" if spec.kind == "cloud" else "edge",
            discipline_params=spec.member_params,  # type: ignore[arg-type]
            cloud_path=_cloud_path(topology, wired, node),
        )
        for i, (node, spec) in enumerate(topology.servers.items())
    )


def _cloud_path(topology: Topology, wired: nx.Graph, server: str) -> tuple[float, float] | None:
    """(latency, s) and (sum of 1/bandwidth, s/bit) of the wired path from ``server`` to its
    nearest cloud (a cloud: its own, zero), or None when it reaches no cloud."""
    for route in routes_from(topology, wired, server):
        if topology.servers[route.server].kind == "cloud":
            return (route.latency_s, route.s_per_bit)
    return None


def _links(
    topology: Topology, routes: dict[str, tuple[Route, ...]]
) -> dict[tuple[str, str], LinkSpec]:
    """Every wired link direction some route crosses, in the order the routes meet them."""
    links: dict[tuple[str, str], LinkSpec] = {}
    for ap_routes in routes.values():
        for route in ap_routes:
            for u, v in route.hops:
                if (u, v) not in links:
                    link = topology.wired.get((u, v)) or topology.wired[(v, u)]
                    bandwidth = math.inf if link.bandwidth_bps is None else link.bandwidth_bps
                    links[(u, v)] = LinkSpec(len(links), f"{u}->{v}", bandwidth, link.latency_s)
    return links


def _cells(
    topology: Topology,
    routes: dict[str, tuple[Route, ...]],
    association: dict[str, str],
    servers: tuple[ServerSpec, ...],
    links: dict[tuple[str, str], LinkSpec],
) -> tuple[CellSpec, ...]:
    """One cell per access point, with its routes (its own server's first)."""
    server_index = {s.id: s.index for s in servers}
    counts = Counter(association.values())
    return tuple(
        CellSpec(
            index=i,
            id=ap,
            bandwidth_hz=spec.uplink_band_hz,
            noise_psd_w_per_hz=_noise(ap, spec),
            sharing=spec.sharing,
            server=server_index[routes[ap][0].server],
            num_devices=counts.get(ap, 0),
            sharing_params=spec.member_params,  # type: ignore[arg-type]
            link=spec.link,
            routes=tuple(
                RouteSpec(
                    server=server_index[r.server],
                    links=tuple(links[hop].index for hop in r.hops),
                    latency_s=r.latency_s,
                    s_per_bit=r.s_per_bit,
                )
                for r in routes[ap]
            ),
        )
        for i, (ap, spec) in enumerate(topology.access_points.items())
    )


def _devices(
    topology: Topology,
    groups: dict[str, DeviceGroup],
    association: dict[str, str],
    cells: tuple[CellSpec, ...],
    distances: dict[tuple[str, str], float],
    gains: dict[tuple[str, str], float],
    hardware: HardwareCatalog,
    models: ModelCatalog,
) -> tuple[DeviceSpec, ...]:
    """Every device, in graph order (its index keys its random streams)."""
    cell_of = {cell.id: cell for cell in cells}
    cell_index = {cell.id: cell.index for cell in cells}
    profiles: dict[str, ModelProfile] = {}
    devices = []
    for index, (node, spec) in enumerate(topology.devices.items()):
        group = groups[node]
        if group.name not in profiles:
            profiles[group.name] = lookup(
                lambda group=group: with_group_exits(group_model(models, group), group),
                f"devices group {group.name!r}",
            )
        ap = association[node]
        cell = cell_of[ap]
        devices.append(
            DeviceSpec(
                index=index,
                id=node,
                group=group.name,
                cell=cell.index,
                server=cell.server,
                hardware=_hardware(
                    hardware,
                    f"node {node!r}" + ("" if spec.hardware else f" (device group {group.name!r})"),
                    spec.hardware or group.hardware,
                    "device",
                ),
                model=profiles[group.name],
                arrivals=group.arrivals,
                work=group.work,
                scale_payload=group.scale_payload,
                deadline_s=group.deadline_s,
                energy_budget_j=group.energy_budget_j,
                distance_m=distances[(node, ap)],
                mean_gain=gains[(node, ap)],
                download=group.download,
                cross_gains=tuple(
                    (cell_index[other], gains[(node, other)])
                    for other in topology.radio[node]
                    if other != ap
                ),
            )
        )
    return tuple(devices)


def _device_groups(topology: Topology, groups: tuple[DeviceGroup, ...]) -> dict[str, DeviceGroup]:
    """The scenario device group of every device node (default: the first group)."""
    by_name = {g.name: g for g in groups}
    found = {}
    for node, spec in topology.devices.items():
        name = groups[0].name if spec.group is None else spec.group
        if name not in by_name:
            raise InputError(
                f"node {node!r} (device): group: got {name!r}, expected one of the scenario's "
                f"device groups {sorted(by_name)}"
            )
        found[node] = by_name[name]
    return found


def _hardware(catalog: HardwareCatalog, where: str, name: str, kind: str) -> HardwareSpec:
    return lookup(lambda: catalog.get(name, kind), f"{where}: hardware")  # type: ignore[arg-type]


def _noise(ap: str, spec: AccessPointNode) -> float:
    """N0 of an access point (W/Hz), by the scenario's own rule for cells."""
    return Cell(
        id=ap,
        bandwidth_hz=spec.bandwidth_hz,
        noise_psd_w_per_hz=spec.noise_psd_w_per_hz,
        noise_figure_db=spec.noise_figure_db,
    ).noise_w_per_hz


def _link_distances(topology: Topology) -> dict[tuple[str, str], float]:
    """Length of every radio link, m (NaN when the link gives only ``gain_db``); refuses a device
    without a radio link and a link whose length is unknown."""
    found = {}
    for device, links in topology.radio.items():
        if not links:
            raise InputError(
                f"device {device!r} is unreachable: it has no wireless link to an access point"
            )
        for ap, link in links.items():
            distance = topology.wireless_distance_m(device, ap)
            if distance is None:
                if link.gain_db is None:
                    raise InputError(
                        f"edge {device!r}-{ap!r}: distance_m: missing, expected a length in m, "
                        "or positions (x_m, y_m) on both nodes, or gain_db"
                    )
                distance = math.nan
            elif distance == 0.0 and link.gain_db is None:
                raise InputError(
                    f"edge {device!r}-{ap!r}: the device sits on the access point (distance 0 "
                    "m); expected a positive distance"
                )
            found[(device, ap)] = distance
    return found


def _link_gains(
    scenario: Scenario,
    topology: Topology,
    distances: dict[tuple[str, str], float],
    seed: int,
) -> dict[tuple[str, str], float]:
    """Mean gain of every radio link (linear), drawn for the links in device order."""
    keys = list(distances)
    if not keys:
        return {}
    lengths = np.array([distances[k] for k in keys])
    measurable = np.where(np.isnan(lengths), 1.0, lengths)
    channel = scenario.channel
    pathloss = mean_gains(
        channel.model_copy(update={"shadowing_std_db": 0.0}),
        measurable,
        lambda: stream(seed, "los", 0),
        lambda: stream(seed, "shadowing", 0),
    )
    shadow_db = channel.shadowing_std_db * stream(seed, "shadowing", 0).standard_normal(len(keys))
    gains = {}
    for i, (device, ap) in enumerate(keys):
        link = topology.radio[device][ap]
        if link.gain_db is not None:
            gains[(device, ap)] = 10.0 ** (link.gain_db / 10.0)
            continue
        shadow = shadow_db[i] if link.shadowing_db is None else link.shadowing_db
        gains[(device, ap)] = float(pathloss[i] * 10.0 ** (shadow / 10.0))
    return gains
