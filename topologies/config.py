"""The scenario's ``topology`` section: a generator with its parameters, or a graph file.

::

    topology: {generator: hexagonal, rings: 1, isd_m: 500, devices_per_cell: 20}
    topology: {file: city.graphml}          # relative to the scenario file

With a topology, the scenario's ``devices`` are device *classes* (traffic, model, budgets,
hardware) that the generator mixes by proportion (``device_mix``; default: the groups' counts as
weights), and its ``servers`` are server *classes* (hardware, workers, discipline, queue) mixed
over the server sites (``server_mix``). Every generated graph is checked like a loaded one.
Units are SI (m, s, bit/s).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from coinfer.emulator.inputs import InputModel
from coinfer.emulator.plugins import TOPOLOGIES, Registered
from coinfer.emulator.scenario.paths import FILE
from coinfer.topologies.specs import AccessPointTemplate, WiredLink

Association = Literal["nearest", "strongest"]
Routing = Literal["own", "least-loaded", "policy"]


class _Spec(InputModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TopologyParams(_Spec):
    """How devices attach and where their requests go (every topology has these), and the
    registered name of the generator. A plug-in generator's ``Params`` extends this model (or
    :class:`GeneratedParams`, for the fields every built-in generator shares)."""

    generator: str = Field(
        description="topology generator: paper, disc, hexagonal, random-geometric, hierarchy, "
        "file, or a registered plug-in"
    )
    association: Association = Field(
        default="nearest",
        description="which access point a device attaches to among its radio links: nearest, "
        "or strongest mean gain (path loss and shadowing)",
    )
    routing: Routing = Field(
        default="own",
        description="which server a request goes to: own (the cell's own server), least-loaded "
        "(fewest requests per worker among reachable servers, counting those on their way), "
        "policy (the policy's choose_server among reachable servers)",
    )


Mix = dict[str, Annotated[float, Field(gt=0)]]


class GeneratedParams(TopologyParams):
    """Parameters every generator shares."""

    seed: int | None = Field(
        default=None, ge=0, description="seed of the layout (default: the run's seed)"
    )
    device_mix: Mix | None = Field(
        default=None,
        description="device group -> proportion of the devices (default: the groups' counts)",
    )
    server_mix: Mix | None = Field(
        default=None,
        description="server class (a servers id) -> proportion of the server sites (default: "
        "equal shares of every class not used for the cloud)",
    )
    access_point: AccessPointTemplate = Field(
        default_factory=AccessPointTemplate, description="radio fields of every access point"
    )
    backhaul: WiredLink = Field(
        default_factory=WiredLink,
        description="link from an access point to its site's server (default: ideal)",
    )
    min_distance_m: float = Field(
        default=10.0, gt=0, description="devices are dropped at least this far from their AP, m"
    )


class PaperTopology(GeneratedParams):
    """The paper's setting: one device at ``distance_m`` from one access point and server."""

    generator: Literal["paper"] = "paper"
    distance_m: float = Field(default=500.0, gt=0, description="device to AP distance, m")


class DiscTopology(GeneratedParams):
    """One cell: ``devices`` dropped uniformly in a disc around the AP and its server."""

    generator: Literal["disc"] = "disc"
    devices: int = Field(default=10, ge=1, le=1_000_000, description="number of devices")
    radius_m: float = Field(default=250.0, gt=0, description="cell radius, m")

    @model_validator(mode="after")
    def _room(self) -> Self:
        _check_room(self.min_distance_m, self.radius_m, "radius_m")
        return self


class HexagonalTopology(GeneratedParams):
    """Hexagonal cells in ``rings`` rings around a centre cell (1, 7, 19, ... cells).

    Every site has an access point and an edge server joined by ``backhaul``; devices are
    dropped uniformly in each hexagon.
    """

    generator: Literal["hexagonal"] = "hexagonal"
    rings: int = Field(default=1, ge=0, le=8, description="rings around the centre cell")
    isd_m: float = Field(default=500.0, gt=0, description="inter-site distance, m")
    devices_per_cell: int = Field(default=10, ge=0, le=100_000, description="devices per cell")
    radio_range_m: float | None = Field(
        default=None,
        gt=0,
        description="a device also has radio links to every AP within this range, m (default: "
        "its own cell's AP only)",
    )
    inter_site: WiredLink | None = Field(
        default=None,
        description="link between neighbouring sites' servers (default: none, sites isolated)",
    )

    @model_validator(mode="after")
    def _room(self) -> Self:
        _check_room(self.min_distance_m, self.isd_m / 2, "isd_m / 2")
        return self


class GeometricTopology(GeneratedParams):
    """A random geometric deployment in a square: APs, servers and devices placed uniformly.

    Each AP is wired to its nearest server and to every server within ``wired_range_m``; servers
    within that range are wired to each other. Each device has a radio link to its nearest AP and
    to every AP within ``radio_range_m``. A wired link's latency is ``backhaul.latency_s`` plus
    its length over ``propagation_m_per_s``.
    """

    generator: Literal["random-geometric"] = "random-geometric"
    area_m: float = Field(default=1000.0, gt=0, description="side of the square area, m")
    access_points: int = Field(default=4, ge=1, le=10_000, description="number of APs")
    servers: int = Field(default=2, ge=1, le=10_000, description="number of edge servers")
    devices: int = Field(default=40, ge=0, le=1_000_000, description="number of devices")
    radio_range_m: float = Field(default=300.0, gt=0, description="radio range, m")
    wired_range_m: float = Field(default=500.0, gt=0, description="wired range, m")
    propagation_m_per_s: float = Field(
        default=2e8, gt=0, description="signal speed in the wires, m/s (fibre: 2e8)"
    )


class HierarchyTopology(GeneratedParams):
    """Device-edge-cloud: ``cells`` APs on a grid, every ``cells_per_server`` consecutive cells
    share one edge server, and every edge server reaches one cloud over a ``wan`` link."""

    generator: Literal["hierarchy"] = "hierarchy"
    cells: int = Field(default=6, ge=1, le=10_000, description="number of cells (APs)")
    cells_per_server: int = Field(
        default=3, ge=1, le=10_000, description="cells sharing one edge server"
    )
    devices_per_cell: int = Field(default=10, ge=0, le=100_000, description="devices per cell")
    isd_m: float = Field(default=500.0, gt=0, description="spacing of the AP grid, m")
    cell_radius_m: float = Field(default=200.0, gt=0, description="devices dropped within, m")
    radio_range_m: float | None = Field(
        default=None, gt=0, description="radio links also to every AP within this range, m"
    )
    cloud: str = Field(description="server class (a servers id) of the cloud")
    backhaul: WiredLink = Field(
        default_factory=lambda: WiredLink(bandwidth_bps=10e9, latency_s=0.0005),
        description="link from an access point to its edge server",
    )
    wan: WiredLink = Field(
        default_factory=lambda: WiredLink(bandwidth_bps=1e9, latency_s=0.02),
        description="link from every edge server to the cloud",
    )

    @model_validator(mode="after")
    def _room(self) -> Self:
        _check_room(self.min_distance_m, self.cell_radius_m, "cell_radius_m")
        return self


class FileTopology(TopologyParams):
    """A graph drawn elsewhere: GraphML (``.graphml``) or node-link JSON (``.json``)."""

    generator: Literal["file"] = "file"
    file: str = Field(
        min_length=1,
        description="topology file, relative to the scenario file",
        json_schema_extra=FILE,
    )


GeneratedTopology = (
    PaperTopology | DiscTopology | HexagonalTopology | GeometricTopology | HierarchyTopology
)


def _check_room(min_distance_m: float, radius_m: float, name: str) -> None:
    if min_distance_m >= radius_m:
        raise ValueError(f"min_distance_m ({min_distance_m:g}) must be below {name} ({radius_m:g})")


def _file_without_generator(value: Any) -> str | None:
    """``{file: PATH}`` needs no ``generator: file``."""
    return "file" if isinstance(value, dict) and "file" in value else None


#: The scenario's ``topology``: ``generator`` names a registered topology generator (or
#: ``module:Class``), the other keys are its parameters; ``{file: PATH}`` is a graph file.
TopologySpec = Annotated[
    TopologyParams,
    Registered(
        TOPOLOGIES,
        default=_file_without_generator,
        missing="a generator (a registered topology generator: coinfer topologies generators) "
        "or a file: {file: PATH}",
    ),
]
