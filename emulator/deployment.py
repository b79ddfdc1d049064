"""Resolving a scenario into the flat deployment the engine runs: devices, cells and servers.

This is the seam between describing a deployment and emulating it. :func:`build_deployment`
turns a :class:`~emulator.scenario.Scenario` (device groups attached to cells, cells attached to
servers) into plain per-device, per-cell and per-server specs with every name looked up and every
random placement drawn. A networkx topology produces the same :class:`Deployment`, so the engine
never changes when the way deployments are described does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emulator.errors import InputError
from emulator.hardware import HardwareCatalog, HardwareSpec
from emulator.model_catalog import ModelCatalog
from emulator.profiles import ModelProfile
from emulator.randomness import stream
from emulator.reference import (
    gain_from_pathloss_db,
    log_distance_gain,
    los_probability_38901,
    mean_gain_38901,
    pathloss_38901_db,
)
from emulator.scenario import (
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
    mean_gain: float  #: path loss × shadowing, linear power gain


@dataclass(frozen=True, slots=True)
class CellSpec:
    """One access point."""

    index: int
    id: str
    bandwidth_hz: float
    noise_psd_w_per_hz: float
    sharing: str  #: "fdma", "ps" or "fifo"
    server: int
    num_devices: int


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """One edge server."""

    index: int
    id: str
    hardware: HardwareSpec
    workers: int
    discipline: str  #: "fcfs" or "ps"
    queue_capacity: int | None


@dataclass(frozen=True)
class Deployment:
    """Everything the engine needs, with names resolved and placements drawn."""

    devices: tuple[DeviceSpec, ...]
    cells: tuple[CellSpec, ...]
    servers: tuple[ServerSpec, ...]
    channel: Channel
    downlink: Downlink | None
    policy: PolicySpec


def catalogs_for(scenario: Scenario) -> tuple[HardwareCatalog, ModelCatalog]:
    """The built-in catalogs extended by the scenario's own hardware and model files."""
    hardware = HardwareCatalog.builtin().with_files(scenario.hardware_files)
    models = ModelCatalog.builtin().with_files(scenario.model_files)
    return hardware, models


def build_deployment(scenario: Scenario, seed: int | None = None) -> Deployment:
    """Resolve ``scenario`` (hardware and model names, cells, placements) for one seed.

    Raises :class:`InputError` naming the field for an unknown hardware class or model, or a
    model option that does not apply.
    """
    seed = scenario.seed if seed is None else seed
    hardware, models = catalogs_for(scenario)
    server_index = {s.id: i for i, s in enumerate(scenario.servers)}
    servers = tuple(
        ServerSpec(
            index=i,
            id=s.id,
            hardware=_lookup(lambda s=s: hardware.get(s.hardware, "server"), f"servers[{i}]"),
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
        spec = _lookup(lambda group=group: hardware.get(group.hardware, "device"), where)
        model = _lookup(lambda group=group: _model(models, group), where)
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


def _lookup(get, where: str):
    try:
        return get()
    except InputError as err:
        raise InputError(f"{where}: {err}") from None


def _model(models: ModelCatalog, group: DeviceGroup) -> ModelProfile:
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
            los = stream(seed, "los", group_index).random(len(distances)) < p_los
        else:
            los = np.full(len(distances), pathloss.los == "los")
        gains = gain_from_pathloss_db(
            pathloss_38901_db(pathloss.scenario, los, distances, pathloss.carrier_hz)
        )
    if channel.shadowing_std_db > 0:
        shadow_db = channel.shadowing_std_db * stream(
            seed, "shadowing", group_index
        ).standard_normal(len(distances))
        gains = gains * 10.0 ** (shadow_db / 10.0)
    return np.asarray(gains, dtype=float)
