"""Resolving a scenario into the flat deployment the engine runs: devices, cells and servers.

This is the seam between describing a deployment and emulating it. :func:`build_deployment`
turns a :class:`~coinfer.emulator.scenario.schema.Scenario` (device groups attached to cells, cells
attached to
servers) into plain per-device, per-cell and per-server specs with every name looked up and every
random placement drawn. A scenario with a ``topology`` section is resolved by
:mod:`topologies.build` from a networkx graph into the same :class:`Deployment` (plus the wired
links and the routes from each cell to the servers it may use), so the engine never changes when
the way deployments are described does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from coinfer.emulator.errors import InputError
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog, HardwareSpec
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.model.reference import (
    gain_from_pathloss_db,
    log_distance_gain,
    los_probability_38901,
    mean_gain_38901,
    pathloss_38901_db,
)
from coinfer.emulator.randomness import stream
from coinfer.emulator.scenario.schema import (
    Arrivals,
    Channel,
    DeviceGroup,
    DistanceRange,
    Downlink,
    LogDistancePathLoss,
    PolicySpec,
    Scenario,
    Work,
)

if TYPE_CHECKING:
    from coinfer.emulator.deployment.replay import ScenarioTraces
    from coinfer.emulator.deployment.replay_arrivals import ArrivalReplay
    from coinfer.emulator.deployment.replay_links import CapacityLink, SnrLink


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One device, resolved: who it is, what it runs, where it sends, how it sees the channel."""

    index: int  #: position in :attr:`Deployment.devices` (and key of its random streams)
    id: str
    group: str
    cell: int  #: index into :attr:`Deployment.cells`
    server: int  #: index into :attr:`Deployment.servers`
    hardware: HardwareSpec
    model: ModelProfile
    arrivals: Arrivals
    work: Work
    scale_payload: bool
    deadline_s: float
    energy_budget_j: float
    distance_m: float
    mean_gain: float  #: path loss × shadowing (or the link replay's mean), linear power gain
    #: A capacity or SNR trace replayed on the uplink instead of the channel model, or None.
    link: CapacityLink | SnrLink | None = None
    #: Arrivals (and work scales) replayed from an arrival trace, or None.
    arrival_replay: ArrivalReplay | None = None


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """One direction of a wired link; its bandwidth is shared fairly by the transfers on it."""

    index: int
    id: str  #: "SOURCE->TARGET"
    bandwidth_bps: float  #: bit/s; inf: no transfer time and no contention
    latency_s: float  #: one-way propagation latency, s


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """The wired path from a cell's access point to one server."""

    server: int  #: index into :attr:`Deployment.servers`
    links: tuple[int, ...] = ()  #: indices into :attr:`Deployment.links`, in order
    latency_s: float = 0.0  #: one-way propagation latency along the path, s
    s_per_bit: float = 0.0  #: sum of 1/bandwidth along the path (store and forward), s/bit


@dataclass(frozen=True, slots=True)
class CellSpec:
    """One access point."""

    index: int
    id: str
    bandwidth_hz: float
    noise_psd_w_per_hz: float
    sharing: str  #: "fdma", "ps" or "fifo"
    server: int  #: the cell's own server
    num_devices: int
    #: Routes to the servers its requests may use, the own server's first. Empty (scenarios
    #: without a topology): always the own server, directly, and policies see no candidates.
    routes: tuple[RouteSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """One edge (or cloud) server."""

    index: int
    id: str
    hardware: HardwareSpec
    workers: int
    discipline: str  #: "fcfs" or "ps"
    queue_capacity: int | None
    tier: str = "edge"  #: "edge" or "cloud"


#: How a request's server is chosen among its cell's routes.
ROUTING_RULES = ("own", "least-loaded", "policy")


@dataclass(frozen=True)
class Deployment:
    """Everything the engine needs, with names resolved and placements drawn."""

    devices: tuple[DeviceSpec, ...]
    cells: tuple[CellSpec, ...]
    servers: tuple[ServerSpec, ...]
    channel: Channel
    downlink: Downlink | None
    policy: PolicySpec
    links: tuple[LinkSpec, ...] = ()  #: wired link directions used by some route
    routing: str = "own"  #: one of :data:`ROUTING_RULES`

    def __post_init__(self) -> None:
        if self.routing not in ROUTING_RULES:
            raise ValueError(f"routing: got {self.routing!r}, expected one of {ROUTING_RULES}")
        for link in self.links:
            if not (link.bandwidth_bps > 0 and math.isfinite(link.latency_s)):
                raise ValueError(
                    f"link {link.id!r}: expected a positive bandwidth and a finite latency"
                )


def catalogs_for(scenario: Scenario) -> tuple[HardwareCatalog, ModelCatalog]:
    """The built-in catalogs extended by the scenario's own hardware and model files."""
    hardware = HardwareCatalog.builtin().with_files(scenario.hardware_files)
    models = ModelCatalog.builtin().with_files(scenario.model_files)
    return hardware, models


def build_deployment(
    scenario: Scenario, seed: int | None = None, traces: ScenarioTraces | None = None
) -> Deployment:
    """Resolve ``scenario`` (hardware and model names, cells, placements) for one seed.

    ``traces``: the input traces the device groups replay, as read by
    :func:`emulator.replay.load_scenario_traces` (read here from the default trace directories
    when None and the scenario replays any). Raises :class:`InputError` naming the field for an
    unknown hardware class, model or trace, or a model option that does not apply.
    """
    seed = scenario.seed if seed is None else seed
    deployment = _resolve(scenario, seed)
    from coinfer.emulator.deployment.replay import (  # imports deployment
        attach_replays,
        load_scenario_traces,
    )

    if traces is None:
        traces = load_scenario_traces(scenario)
    return attach_replays(deployment, scenario, seed, traces)


def _resolve(scenario: Scenario, seed: int) -> Deployment:
    """The deployment of ``scenario`` on ``seed`` before any trace is attached."""
    if scenario.topology is not None:
        from coinfer.topologies.build import resolve_topology  # networkx only when it is needed

        return resolve_topology(scenario, seed).deployment
    hardware, models = catalogs_for(scenario)
    server_index = {s.id: i for i, s in enumerate(scenario.servers)}
    servers = tuple(
        ServerSpec(
            index=i,
            id=s.id,
            hardware=lookup(lambda s=s: hardware.get(s.hardware, "server"), f"servers[{i}]"),
            workers=s.workers,
            discipline=s.discipline,
            queue_capacity=s.queue_capacity,
        )
        for i, s in enumerate(scenario.servers)
    )
    cell_index = {c.id: i for i, c in enumerate(scenario.cells)}
    counts = [0] * len(scenario.cells)
    for group in scenario.devices:
        counts[cell_index[group.cell or scenario.cells[0].id]] += group.count
    cells = tuple(
        CellSpec(
            index=i,
            id=c.id,
            bandwidth_hz=c.bandwidth_hz,
            noise_psd_w_per_hz=c.noise_w_per_hz,
            sharing=c.sharing,
            server=server_index[c.server or scenario.servers[0].id],
            num_devices=counts[i],
        )
        for i, c in enumerate(scenario.cells)
    )
    devices: list[DeviceSpec] = []
    for g, group in enumerate(scenario.devices):
        where = f"devices[{g}]"
        spec = lookup(lambda group=group: hardware.get(group.hardware, "device"), where)
        model = lookup(lambda group=group: group_model(models, group), where)
        cell = cells[cell_index[group.cell or scenario.cells[0].id]]
        distances = _distances(group, seed, g)
        gains = _mean_gains(scenario.channel, distances, seed, g)
        for k in range(group.count):
            devices.append(
                DeviceSpec(
                    index=len(devices),
                    id=f"{group.name}-{k}",
                    group=group.name,
                    cell=cell.index,
                    server=cell.server,
                    hardware=spec,
                    model=model,
                    arrivals=group.arrivals,
                    work=group.work,
                    scale_payload=group.scale_payload,
                    deadline_s=group.deadline_s,
                    energy_budget_j=group.energy_budget_j,
                    distance_m=float(distances[k]),
                    mean_gain=float(gains[k]),
                )
            )
    return Deployment(
        devices=tuple(devices),
        cells=cells,
        servers=servers,
        channel=scenario.channel,
        downlink=scenario.downlink,
        policy=scenario.policy,
    )


def lookup(get, where: str):
    """``get()``, with an :class:`InputError` from it prefixed by ``where``."""
    try:
        return get()
    except InputError as err:
        raise InputError(f"{where}: {err}") from None


def group_model(models: ModelCatalog, group: DeviceGroup) -> ModelProfile:
    """The model profile a device group runs (a catalog name or a profile file)."""
    name = group.model
    if name.lower().endswith((".yaml", ".yml", ".csv")) and Path(name).exists():
        models = models.with_files([name])
        name = models.names()[-1]
    return models.get(name, sequence_length=group.sequence_length, image_size=group.image_size)


def _distances(group: DeviceGroup, seed: int, group_index: int) -> np.ndarray:
    """Distance of each device of the group to its access point, m (area-uniform in a range)."""
    if not isinstance(group.distance_m, DistanceRange):
        return np.full(group.count, float(group.distance_m))
    low, high = group.distance_m.min_m, group.distance_m.max_m
    u = stream(seed, "placement", group_index).random(group.count)
    return np.sqrt(low**2 + u * (high**2 - low**2))


def _mean_gains(channel: Channel, distances: np.ndarray, seed: int, group_index: int) -> np.ndarray:
    """Path loss × log-normal shadowing per device (linear power gain)."""
    return mean_gains(
        channel,
        distances,
        lambda: stream(seed, "los", group_index),
        lambda: stream(seed, "shadowing", group_index),
    )


def mean_gains(
    channel: Channel,
    distances: np.ndarray,
    los_rng: Callable[[], np.random.Generator],
    shadowing_rng: Callable[[], np.random.Generator],
) -> np.ndarray:
    """Path loss at ``distances`` (m) × log-normal shadowing, linear power gains.

    ``los_rng`` and ``shadowing_rng`` make the random streams, asked for only when the channel
    draws line of sight (38.901, ``los: random``) or shadowing (``shadowing_std_db > 0``).
    """
    pathloss = channel.pathloss
    if isinstance(pathloss, LogDistancePathLoss):
        gains = log_distance_gain(
            distances, pathloss.k0_db, pathloss.reference_distance_m, pathloss.exponent
        )
    elif pathloss.los == "mean":
        gains = mean_gain_38901(pathloss.scenario, distances, pathloss.carrier_hz)
    else:
        if pathloss.los == "random":
            p_los = los_probability_38901(pathloss.scenario, distances)
            los = los_rng().random(len(distances)) < p_los
        else:
            los = np.full(len(distances), pathloss.los == "los")
        gains = gain_from_pathloss_db(
            pathloss_38901_db(pathloss.scenario, los, distances, pathloss.carrier_hz)
        )
    if channel.shadowing_std_db > 0:
        shadow_db = channel.shadowing_std_db * shadowing_rng().standard_normal(len(distances))
        gains = gains * 10.0 ** (shadow_db / 10.0)
    return np.asarray(gains, dtype=float)
