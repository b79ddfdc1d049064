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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coinfer.emulator.model.hardware import HardwareSpec
from coinfer.emulator.model.links import LinkParams
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.model.speculative import DraftSetup
from coinfer.emulator.scenario.model_placement import ModelCacheParams, ModelDownload, check_fits
from coinfer.emulator.scenario.schema import (
    Arrivals,
    Channel,
    DisciplineParams,
    Downlink,
    PolicySpec,
    SharingParams,
    Work,
)

if TYPE_CHECKING:
    from coinfer.emulator.deployment.replay_arrivals import ArrivalReplay
    from coinfer.emulator.deployment.replay_links import CapacityLink, SnrLink
    from coinfer.emulator.deployment.token_laws import TokenSource
    from coinfer.emulator.scenario.mobility import Area, Handover, MobilityParams


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
    #: Generative requests: where each request's prompt and output tokens come from; None: one
    #: forward pass per request (scaled by the work law).
    tokens: TokenSource | None = None
    #: Downloads the device side of its model over the cell's downlink before running it on
    #: the device (None: it holds the model).
    download: ModelDownload | None = None
    #: (cell index, mean gain) to the other cells' access points it reaches (topologies only):
    #: what it interferes with when ``channel.interference`` is set.
    cross_gains: tuple[tuple[int, float], ...] = ()
    #: Speculative decoding: the device's draft model and its acceptance; None: no draft.
    speculative: DraftSetup | None = None


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
    sharing: str  #: registered name of the uplink sharing discipline ("fdma", "ps", "fifo", ...)
    server: int  #: the cell's own server
    num_devices: int
    #: Routes to the servers its requests may use, the own server's first. Empty (scenarios
    #: without a topology): always the own server, directly, and policies see no candidates.
    routes: tuple[RouteSpec, ...] = ()
    #: The sharing discipline's own parameters (None: its defaults).
    sharing_params: SharingParams | None = None
    #: The link model and its parameters (None: shannon; see :mod:`coinfer.emulator.model.links`).
    link: LinkParams | None = None


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """One edge (or cloud) server."""

    index: int
    id: str
    hardware: HardwareSpec
    workers: int
    discipline: str  #: registered name of the server discipline ("fcfs", "ps", ...)
    queue_capacity: int | None
    tier: str = "edge"  #: "edge" or "cloud"
    #: The discipline's own parameters (None: its defaults).
    discipline_params: DisciplineParams | None = None
    #: With a topology: (latency, s) and (sum of 1/bandwidth, s/bit) of the wired path to the
    #: nearest cloud, which a model cache with ``source: cloud`` loads over; None: no topology,
    #: or no cloud reached.
    cloud_path: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class MobileDevice:
    """A device that moves (see ``docs/mobility.md``), as resolved from its topology."""

    device: int  #: index into :attr:`Deployment.devices`
    params: MobilityParams  #: its group's mobility model and parameters
    start_m: tuple[float, float]  #: its position at time 0 (x, y), m
    #: mean gain (path loss × shadowing, linear) to every cell at time 0, by cell index; the
    #: gain to its own cell is its :attr:`DeviceSpec.mean_gain`
    gains: tuple[float, ...]
    shadowing_db: tuple[float, ...]  #: the shadowing in those gains, dB, by cell index
    data: Any = None  #: the model's data read before the run (a replayed path), or None


@dataclass(frozen=True)
class MobilityPlan:
    """Where the cells are and which devices move, with the handover settings."""

    handover: Handover
    cells_m: tuple[tuple[float, float], ...]  #: each cell's access point (x, y), m
    area: Area  #: the bounding box of the access points and devices, m
    devices: tuple[MobileDevice, ...]


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
    #: Which models each server holds and how a missing one loads (None: every server holds
    #: every model).
    model_cache: ModelCacheParams | None = None
    mobility: MobilityPlan | None = None  #: devices that move and hand over (None: none)

    def __post_init__(self) -> None:
        if self.routing not in ROUTING_RULES:
            raise ValueError(f"routing: got {self.routing!r}, expected one of {ROUTING_RULES}")
        for link in self.links:
            if not (link.bandwidth_bps > 0 and math.isfinite(link.latency_s)):
                raise ValueError(
                    f"link {link.id!r}: expected a positive bandwidth and a finite latency"
                )


def model_sizes(deployment: Deployment) -> dict[str, float]:
    """The bytes of each model a server may be asked for under the deployment's
    ``model_cache``: parameters × bytes per weight, for the models of every device (any
    server, since routing may send a request to any server its cell reaches; a generative
    request's server loads its model as a one-pass request's does)."""
    params = deployment.model_cache
    assert params is not None
    return {
        device.model.name: device.model.total_params * params.bytes_per_weight
        for device in deployment.devices
    }


def server_memory(server: ServerSpec, params: ModelCacheParams) -> float:
    """The server's memory for weights, B: the model cache's, or its hardware's."""
    return server.hardware.memory_bytes if params.memory_bytes is None else params.memory_bytes


def check_model_cache(deployment: Deployment) -> None:
    """Refuse (InputError) a ``model_cache`` a server could not hold: a model larger than its
    memory, or a preload set that does not fit or names a model no one-pass request runs."""
    params = deployment.model_cache
    if params is None:
        return
    sizes = model_sizes(deployment)
    for server in deployment.servers:
        check_fits(server.id, server_memory(server, params), sizes, params)
