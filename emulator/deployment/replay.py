"""Input traces in a run: reading the traces a scenario names, and giving each device its replay.

A device group may replay an arrival trace (``arrivals: {process: trace, ...}``), a
link-capacity or SNR trace (``link_trace: {kind: capacity | snr, ...}``) and a registered
position trace (``mobility: {model: trace, trace: ...}``, handed to the topology's mobility
plan).
:func:`load_scenario_traces` reads each named trace once (a registered name from ``trace_dir``,
``$COINFER_TRACE_DIR`` or the download cache; or a file), refusing a bad reference with the
field named, before anything runs; the traces are immutable and can be shared by many runs (the
seeds and policies of ``coinfer compare``). :func:`attach_replays` then gives every device of
such a group its own replay, starting at its own offset in the trace, drawn from the device's
``trace-offsets`` random stream (uniform over the trace's loop; two draws per device, the first
for the arrivals, the second for the link), so that devices do not share one instant and two
policies on one seed replay exactly the same stretches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from coinfer.emulator.deployment.replay_arrivals import ArrivalReplay, ArrivalSchedule
from coinfer.emulator.deployment.replay_links import CapacityLink, SnrLink
from coinfer.emulator.deployment.spec import CellSpec, Deployment, DeviceSpec
from coinfer.emulator.errors import InputError
from coinfer.emulator.randomness import Streams
from coinfer.emulator.scenario.mobility import TraceMobility
from coinfer.emulator.scenario.schema import CapacityReplay, Scenario, SnrReplay, TraceArrivals
from coinfer.traces.arrivals import ArrivalTrace
from coinfer.traces.capacity import LinkCapacityTrace
from coinfer.traces.positions import PositionTrace
from coinfer.traces.registry import Kind, TraceRegistry
from coinfer.traces.resolve import FileFormat, Trace, open_trace
from coinfer.traces.snr import SnrTrace


@dataclass(frozen=True)
class ScenarioTraces:
    """The traces a scenario's device groups replay, by group index (read once, immutable);
    ``positions``: the registered paths their mobility replays."""

    arrivals: Mapping[int, ArrivalTrace]
    links: Mapping[int, LinkCapacityTrace | SnrTrace]
    positions: Mapping[int, PositionTrace] = dataclass_field(
        default_factory=lambda: MappingProxyType({})
    )

    def describe(self, scenario: Scenario) -> list[dict[str, Any]]:
        """What each group replays, with the trace's provenance (for the run's sidecar)."""
        rows = []
        for index, group in enumerate(scenario.devices):
            # spec: the group's trace reference (TraceArrivals or a link replay) where it has one
            replayed: tuple[tuple[str, Mapping[int, Trace], Any], ...] = (
                ("arrivals", self.arrivals, group.arrivals),
                ("link_trace", self.links, group.link_trace),
                ("mobility", self.positions, group.mobility),
            )
            for key, traces, spec in replayed:
                trace = traces.get(index)
                if trace is None:
                    continue
                rows.append(
                    {
                        "field": f"devices[{index}].{key}",
                        "group": group.name,
                        "reference": spec.reference,
                        "provenance": trace.provenance.to_dict(),
                    }
                )
        return rows


NO_TRACES = ScenarioTraces(MappingProxyType({}), MappingProxyType({}))


def uses_traces(scenario: Scenario) -> bool:
    """Whether any device group replays a trace."""
    return any(
        isinstance(group.arrivals, TraceArrivals)
        or group.link_trace is not None
        or _registered_path(group.mobility)
        for group in scenario.devices
    )


def _registered_path(mobility: object) -> bool:
    """Whether a group's mobility replays a registered position trace."""
    return isinstance(mobility, TraceMobility) and mobility.trace is not None


def load_scenario_traces(scenario: Scenario, trace_dir: str | Path | None = None) -> ScenarioTraces:
    """Read every trace the scenario's groups replay (each distinct reference once).

    ``trace_dir``: searched first for registered traces' files (then ``$COINFER_TRACE_DIR``
    and the download cache). Raises :class:`InputError` naming the field for an unknown name, a
    trace of the wrong kind, a missing file (saying where it looked and how to fetch it) or a
    malformed one.
    """
    if not uses_traces(scenario):
        return NO_TRACES
    registry: TraceRegistry | None = None
    read: dict[tuple[str, str, str, str], Trace] = {}
    arrivals: dict[int, ArrivalTrace] = {}
    links: dict[int, LinkCapacityTrace | SnrTrace] = {}
    positions: dict[int, PositionTrace] = {}
    for index, group in enumerate(scenario.devices):
        wanted: list[tuple[str, Any, Kind, dict[int, Any]]] = []
        if isinstance(group.arrivals, TraceArrivals):
            wanted.append(("arrivals", group.arrivals, "arrivals", arrivals))
        if group.link_trace is not None:
            wanted.append(("link_trace", group.link_trace, group.link_trace.kind, links))
        if _registered_path(group.mobility):
            wanted.append(("mobility", group.mobility, "positions", positions))
        for key, spec, kind, into in wanted:
            file_format: FileFormat = getattr(spec, "format", "csv")
            source = "trace" if spec.trace is not None else "file"
            cache_key = (kind, source, spec.reference, file_format)
            if cache_key not in read:
                if spec.trace is not None and registry is None:
                    registry = TraceRegistry.builtin()
                try:
                    read[cache_key] = open_trace(
                        kind,
                        name=spec.trace,
                        file=spec.file,
                        file_format=file_format,
                        trace_dir=trace_dir,
                        registry=registry,
                    )
                except InputError as err:
                    field = f"devices[{index}].{key}.{source}"
                    err.within(field, path=field)
                    raise
            into[index] = read[cache_key]
    return ScenarioTraces(
        MappingProxyType(arrivals), MappingProxyType(links), MappingProxyType(positions)
    )


def attach_replays(
    deployment: Deployment, scenario: Scenario, seed: int, traces: ScenarioTraces
) -> Deployment:
    """``deployment`` with each replaying device's :class:`ArrivalReplay` and link replay.

    A device with a link replay gets its replay's mean gain as ``mean_gain`` (what policies see
    as the long-term gain). Raises :class:`InputError` naming the field when a trace cannot be
    replayed (token counts or a sequence length missing, a device without a maximum power).
    """
    if not traces.arrivals and not traces.links:
        return deployment
    group_index = {group.name: index for index, group in enumerate(scenario.devices)}
    schedules: dict[tuple[int, int | None], ArrivalSchedule] = {}
    scaled: dict[int, LinkCapacityTrace | SnrTrace] = {}
    offsets = Streams(seed, len(deployment.devices))  # the devices' streams, seeded in bulk
    devices = []
    for spec in deployment.devices:
        index = group_index.get(spec.group)
        arrival_trace = traces.arrivals.get(index) if index is not None else None
        link_trace = traces.links.get(index) if index is not None else None
        if index is None or (arrival_trace is None and link_trace is None):
            devices.append(spec)
            continue
        group = scenario.devices[index]
        u_arrivals, u_link = offsets.stream("trace-offsets", spec.index).random(2).tolist()
        changes: dict[str, Any] = {}
        if arrival_trace is not None:
            arrivals = group.arrivals
            assert isinstance(arrivals, TraceArrivals)
            key = (index, spec.model.sequence_length)
            if key not in schedules:
                generative = group.tokens == "trace"
                schedules[key] = ArrivalSchedule.from_trace(
                    arrival_trace,
                    arrivals.time_scale / arrivals.rate_scale,
                    "none" if generative else arrivals.tokens,
                    spec.model.sequence_length,
                    f"devices[{index}].tokens" if generative else f"devices[{index}].arrivals",
                    generative=generative,
                )
            schedule = schedules[key]
            offset = u_arrivals * schedule.period_s if arrivals.random_offset else 0.0
            changes["arrival_replay"] = ArrivalReplay.at(schedule, offset)
        if link_trace is not None:
            link_spec = group.link_trace
            assert link_spec is not None
            if index not in scaled:
                scaled[index] = _scaled(link_trace, link_spec)
            trace = scaled[index]
            offset = u_link * trace.duration_s if link_spec.random_offset else 0.0
            where = f"devices[{index}].link_trace"
            link = _link(trace, link_spec, offset, spec, deployment.cells[spec.cell], where)
            changes["link"] = link
            changes["mean_gain"] = link.mean_gain
        devices.append(replace(spec, **changes))
    return replace(deployment, devices=tuple(devices))


def _scaled(
    trace: LinkCapacityTrace | SnrTrace, spec: CapacityReplay | SnrReplay
) -> LinkCapacityTrace | SnrTrace:
    """The trace with the spec's time scale and rate scale (capacity) or SNR offset."""
    if isinstance(spec, CapacityReplay):
        assert isinstance(trace, LinkCapacityTrace)
        if spec.rate_scale == 1.0 and spec.time_scale == 1.0:
            return trace
        return trace.scaled(rate=spec.rate_scale, time=spec.time_scale)
    assert isinstance(trace, SnrTrace)
    if spec.snr_offset_db == 0.0 and spec.time_scale == 1.0:
        return trace
    return trace.scaled(offset_db=spec.snr_offset_db, time=spec.time_scale)


def _link(
    trace: LinkCapacityTrace | SnrTrace,
    spec: CapacityReplay | SnrReplay,
    offset_s: float,
    device: DeviceSpec,
    cell: CellSpec,
    where: str,
) -> CapacityLink | SnrLink:
    """One device's link replay on ``cell``."""
    max_power = device.hardware.max_tx_power_w
    if isinstance(spec, CapacityReplay):
        assert isinstance(trace, LinkCapacityTrace)
        if not trace.period_bits > 0.0:
            raise InputError(
                f"{where}: trace {trace.provenance.source} carries no bits, expected a link "
                "with some capacity"
            )
        if max_power is None:
            raise InputError(
                f"{where}: hardware {device.hardware.name!r} has no max_tx_power_w, expected a "
                "device that transmits"
            )
        return CapacityLink(
            trace,
            offset_s,
            cell.bandwidth_hz,
            cell.noise_psd_w_per_hz,
            max_power,
            spec.csi_window_s,
        )
    assert isinstance(trace, SnrTrace)
    reference = spec.reference_power_w if spec.reference_power_w is not None else max_power
    if reference is None:
        raise InputError(
            f"{where}.reference_power_w: hardware {device.hardware.name!r} has no "
            "max_tx_power_w, expected the power at which the SNR was measured, W"
        )
    return SnrLink(trace, offset_s, cell.bandwidth_hz * cell.noise_psd_w_per_hz / reference)
