"""Typed node and edge attributes of a topology graph (SI units: m, Hz, W/Hz, bit/s, s, dB).

A topology is a :class:`networkx.Graph` whose nodes and edges carry plain attributes (so that it
can be saved as GraphML or node-link JSON and drawn elsewhere). Every node has a ``kind``:

* ``device``: a user device; its traffic, model and budgets come from the scenario's device
  group named by ``group``, its hardware from ``hardware`` or else from that group;
* ``access_point``: a cell's radio access point (uplink band, noise, sharing discipline);
* ``server``: an edge server; ``cloud``: a remote server reached over a WAN (same fields);
* ``switch``: a wired relay with no compute (for drawn topologies).

Edges are ``wireless`` (a device and an access point: a radio link whose gain comes from the
scenario's channel model and the distance, unless the edge gives it) or ``wired`` (between any
two non-device nodes: bandwidth and one-way latency). An edge's kind may be left out: a link
touching a device is wireless, any other is wired.

The classes below are the schema: :func:`topologies.validate.validate_graph` checks every node
and edge against them and refuses a missing, unknown or wrong-typed attribute naming the node or
the edge.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from coinfer.emulator.inputs import InputModel
from coinfer.emulator.model.links import (
    LinkParams,
    ShannonLinkParams,
    check_link_band,
    uplink_band_hz,
)
from coinfer.emulator.plugins import LINKS, SERVERS, SHARING, HostsMember, Registered

NodeKind = Literal["device", "access_point", "server", "cloud", "switch"]
EdgeKind = Literal["wireless", "wired"]
NODE_KINDS: tuple[str, ...] = ("device", "access_point", "server", "cloud", "switch")
EDGE_KINDS: tuple[str, ...] = ("wireless", "wired")
#: Node kinds that run the server side of a request.
SERVER_KINDS: tuple[str, ...] = ("server", "cloud")


class _Spec(InputModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Placed(_Spec):
    """Fields every node has: an optional position and a free-text label."""

    x_m: float | None = Field(default=None, description="east coordinate, m")
    y_m: float | None = Field(default=None, description="north coordinate, m")
    label: str | None = Field(default=None, description="free text shown in drawings")

    @property
    def position(self) -> tuple[float, float] | None:
        """``(x_m, y_m)`` or None when the node is not placed."""
        if self.x_m is None or self.y_m is None:
            return None
        return (self.x_m, self.y_m)


class DeviceNode(_Placed):
    """A user device; traffic, model and budgets come from its scenario device group."""

    kind: Literal["device"] = "device"
    group: str | None = Field(
        default=None,
        description="scenario device group giving traffic, model and budgets (default: first)",
    )
    hardware: str | None = Field(
        default=None, description="device hardware class (default: the group's)"
    )


class AccessPointTemplate(HostsMember):
    """The radio fields of an access point (a generator stamps them on every cell); the sharing
    discipline's own parameters, if any, are given beside ``sharing``."""

    model_config = ConfigDict(frozen=True, extra="allow")
    member_family = SHARING

    bandwidth_hz: float = Field(
        default=5e6, gt=0, le=1e12, description="uplink bandwidth B, Hz (at most 1 THz)"
    )
    noise_psd_w_per_hz: float | None = Field(
        default=None,
        gt=0,
        le=1e-6,
        description="noise PSD N0, W/Hz (default 2e-19, the paper's; at most 1e-6)",
    )
    noise_figure_db: float | None = Field(
        default=None, ge=0, le=30, description="noise figure, dB: N0 = -174 dBm/Hz + NF"
    )
    sharing: str = Field(
        default="ps",
        description="how concurrent uploads share the band: fdma, ps, fifo, pf or a registered "
        "plug-in",
    )
    link: Annotated[LinkParams, Registered(LINKS)] = Field(
        default_factory=ShannonLinkParams,
        description="link model: {model: shannon} (default) or {model: nr, ...} (docs/radio.md)",
    )

    @field_validator("link", mode="before")
    @classmethod
    def _link_from_text(cls, value: object) -> object:
        """A graph attribute holds text: a link model's JSON mapping, or its bare name."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                try:
                    return json.loads(text)
                except json.JSONDecodeError as err:
                    raise ValueError(f"got {value!r}, expected a JSON mapping ({err})") from err
            return {"model": text}
        return value

    @model_validator(mode="after")
    def _one_noise(self) -> Self:
        if self.noise_psd_w_per_hz is not None and self.noise_figure_db is not None:
            raise ValueError("give noise_psd_w_per_hz or noise_figure_db, not both")
        check_link_band(self.link, self.bandwidth_hz, "bandwidth_hz" in self.model_fields_set)
        return self

    @property
    def uplink_band_hz(self) -> float:
        """The band the cell's uploads share, Hz: the link model's, else ``bandwidth_hz``."""
        return uplink_band_hz(self.link, self.bandwidth_hz)


class AccessPointNode(AccessPointTemplate, _Placed):
    """A cell's access point."""

    model_config = ConfigDict(frozen=True, extra="allow")

    kind: Literal["access_point"] = "access_point"
    server: str | None = Field(
        default=None,
        description="the cell's own server (default: the nearest edge server by wired latency, "
        "else the cloud)",
    )


class ServerNode(HostsMember, _Placed):
    """An edge server: a hardware class with parallel workers and a queue; the discipline's own
    parameters, if any, are given beside ``discipline``."""

    model_config = ConfigDict(frozen=True, extra="allow")
    member_family = SERVERS

    kind: Literal["server"] = "server"
    hardware: str = Field(description="server hardware class")
    workers: int = Field(default=1, ge=1, le=100_000, description="requests served in parallel")
    discipline: str = Field(
        default="fcfs",
        description="fcfs (first come first served), ps (processor sharing) or a registered "
        "plug-in",
    )
    queue_capacity: int | None = Field(
        default=None, ge=0, description="most requests waiting (fcfs) or present (ps)"
    )
    server_class: str | None = Field(
        default=None, description="scenario server class this node was made from (informative)"
    )

    @model_validator(mode="after")
    def _ps_has_room(self) -> Self:
        if self.discipline == "ps" and self.queue_capacity == 0:
            raise ValueError(
                "queue_capacity=0 with discipline ps would admit nothing; expected at least 1"
            )
        return self


class CloudNode(ServerNode):
    """A remote (cloud) server, usually behind a WAN link."""

    kind: Literal["cloud"] = "cloud"  # type: ignore[assignment]


class SwitchNode(_Placed):
    """A wired relay without compute."""

    kind: Literal["switch"] = "switch"


class WirelessLink(_Spec):
    """A radio link between a device and an access point.

    Its mean gain is the scenario's path loss at ``distance_m`` (default: the distance between
    the two nodes' positions) times log-normal shadowing (``shadowing_db``, default: drawn from
    the scenario's ``channel.shadowing_std_db``); ``gain_db`` replaces both.
    """

    kind: Literal["wireless"] = "wireless"
    distance_m: float | None = Field(
        default=None, gt=0, description="device to access point distance, m"
    )
    shadowing_db: float | None = Field(
        default=None, ge=-60, le=60, description="shadowing of this link, dB (default: drawn)"
    )
    gain_db: float | None = Field(
        default=None, le=0, description="mean power gain of the link, dB (overrides path loss)"
    )
    label: str | None = Field(default=None, description="free text shown in drawings")


class WiredLink(_Spec):
    """A full-duplex wired link; each direction's bandwidth is shared fairly by its transfers."""

    kind: Literal["wired"] = "wired"
    bandwidth_bps: float | None = Field(
        default=None,
        gt=0,
        description="bandwidth of each direction, bit/s (none: no transfer time, no contention)",
    )
    latency_s: float = Field(default=0.0, ge=0, le=10, description="one-way latency, s")
    label: str | None = Field(default=None, description="free text shown in drawings")


NODE_SPECS: dict[str, type[_Placed]] = {
    "device": DeviceNode,
    "access_point": AccessPointNode,
    "server": ServerNode,
    "cloud": CloudNode,
    "switch": SwitchNode,
}
EDGE_SPECS: dict[str, type[_Spec]] = {"wireless": WirelessLink, "wired": WiredLink}

NodeSpec = DeviceNode | AccessPointNode | ServerNode | CloudNode | SwitchNode
EdgeSpec = WirelessLink | WiredLink


def attributes(spec: BaseModel) -> dict[str, object]:
    """The graph attributes of a node or edge spec: every field that is set (None left out; an
    access point's link model only when it is not the default, as JSON text so that GraphML can
    hold it, with the band it occupies as ``bandwidth_hz``)."""
    data = spec.model_dump(exclude_none=True)
    link = data.get("link")
    if isinstance(link, dict):
        if link == ShannonLinkParams().model_dump():
            del data["link"]
        else:
            data["link"] = json.dumps(link, sort_keys=True)
            data["bandwidth_hz"] = spec.uplink_band_hz  # type: ignore[attr-defined]
    return data
