"""The mobility plan of a topology: where the cells are, which devices move, from where.

:func:`mobility_plan` is step 6 of :func:`coinfer.topologies.build.resolve_topology`: for every
device of a group whose mobility model moves, its position and its mean gain to *every* access
point at time 0. A radio link of the graph keeps the gain the topology drew for it (so a device
that never moves sees exactly the gain it has without mobility); to an access point it has no
link to, the gain is the scenario's path loss at the distance times log-normal shadowing (one
draw per access point, in cell order). Both come from the ``mobility-start`` source: line of
sight (if the path-loss model draws it) at index ``device``, shadowing at ``device + devices``;
the engine's own mobility streams are separate. Units: m, dB, linear gains.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from coinfer.emulator.deployment.pathloss import pathloss_model
from coinfer.emulator.deployment.spec import CellSpec, DeviceSpec, MobileDevice, MobilityPlan
from coinfer.emulator.errors import InputError
from coinfer.emulator.plugins import MOBILITY
from coinfer.emulator.randomness import stream
from coinfer.emulator.scenario.mobility import Area, Handover
from coinfer.emulator.scenario.schema import Scenario
from coinfer.topologies.validate import Topology
from coinfer.traces.positions import PositionTrace

#: Distances below this count as this in path loss (a device walking over an access point), m.
MIN_DISTANCE_M = 1.0


def _los_stream(seed: int, index: int) -> Callable[[], np.random.Generator]:
    return lambda: stream(seed, "mobility-start", index)


def moving_groups(scenario: Scenario) -> set[str]:
    """The device groups whose mobility model moves."""
    return {
        group.name
        for group in scenario.devices
        if group.mobility is not None and MOBILITY.load(group.mobility.model).moves
    }


def mobility_plan(
    scenario: Scenario,
    topology: Topology,
    devices: tuple[DeviceSpec, ...],
    cells: tuple[CellSpec, ...],
    gains: dict[tuple[str, str], float],
    seed: int,
    positions: Mapping[int, PositionTrace] | None = None,
) -> MobilityPlan | None:
    """The plan of the devices that move, or None when none does. ``positions``: registered
    paths already read, by group index (the others are read here). Refuses (naming the node) an
    access point or a moving device without a position, and a link that gives only
    ``gain_db``."""
    moving = moving_groups(scenario)
    if not moving:
        return None
    cells_m = []
    for cell in cells:
        where = topology.access_points[cell.id].position
        if where is None:
            raise InputError(
                f"node {cell.id!r} (access point): x_m, y_m: missing; expected a position "
                "(devices move: docs/mobility.md)"
            )
        cells_m.append(where)
    cell_xy = np.array(cells_m, dtype=float)
    groups = {g.name: (i, g) for i, g in enumerate(scenario.devices)}
    channel = scenario.channel
    model = pathloss_model(channel.pathloss)
    planned = []
    points = [tuple(p) for p in cells_m]
    paths: dict[int, np.ndarray | None] = {}  # each group's data, read once
    for spec in devices:
        if spec.group not in moving:
            continue
        index, group = groups[spec.group]
        assert group.mobility is not None  # a moving group has a mobility model
        if index not in paths:
            known = None if positions is None else positions.get(index)
            paths[index] = (
                known.path()
                if known is not None
                else group.mobility.read_data(f"devices[{index}].mobility")
            )
        assert group.mobility is not None
        start = topology.devices[spec.id].position
        if start is None:
            raise InputError(
                f"node {spec.id!r} (device): x_m, y_m: missing; expected a position (its group "
                f"{spec.group!r} moves: docs/mobility.md)"
            )
        points.append(start)
        distances = np.maximum(np.hypot(*(cell_xy - np.asarray(start)).T), MIN_DISTANCE_M)
        pathloss = model.gains(distances, _los_stream(seed, spec.index))
        shadow_db = np.zeros(len(cells))
        if channel.shadowing_std_db > 0:
            draws = stream(seed, "mobility-start", spec.index + len(devices))
            shadow_db = channel.shadowing_std_db * draws.standard_normal(len(cells))
        linked = topology.radio[spec.id]
        device_gains = []
        for c, cell in enumerate(cells):
            link = linked.get(cell.id)
            if link is not None and link.gain_db is not None:
                raise InputError(
                    f"edge {spec.id!r}-{cell.id!r}: gain_db: a moving device's links need "
                    "positions (their gain follows the distance); remove gain_db"
                )
            if link is None:
                device_gains.append(float(pathloss[c] * 10.0 ** (shadow_db[c] / 10.0)))
                continue
            gain = gains[(spec.id, cell.id)]
            device_gains.append(gain)
            shadow_db[c] = 10.0 * math.log10(gain / float(pathloss[c]))
        planned.append(
            MobileDevice(
                device=spec.index,
                params=group.mobility,
                start_m=(float(start[0]), float(start[1])),
                gains=tuple(device_gains),
                shadowing_db=tuple(float(s) for s in shadow_db),
                data=paths[index],
            )
        )
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    pad = 1.0 if max(xs) == min(xs) or max(ys) == min(ys) else 0.0
    area = Area(
        x_min_m=min(xs) - pad, y_min_m=min(ys) - pad, x_max_m=max(xs) + pad, y_max_m=max(ys) + pad
    )
    return MobilityPlan(
        handover=scenario.handover or Handover(),
        cells_m=tuple((float(x), float(y)) for x, y in cells_m),
        area=area,
        devices=tuple(planned),
    )
