"""A device's path over time: waypoints in metres east and north, for trace-driven mobility.

A :class:`PositionTrace` holds the waypoints of one recorded path (time s, x m, y m), with the
speed the recording device reported at each waypoint where the source has one. A GPS path is
projected to metres around its first point by :func:`project_equirectangular`. The mobility
model ``trace`` (``docs/mobility.md``) interpolates linearly between waypoints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from coinfer.emulator.errors import InputError
from coinfer.traces.provenance import Provenance

EARTH_RADIUS_M = 6_371_000.0  #: mean Earth radius for projecting GPS paths, m


def project_equirectangular(
    longitude_deg: ArrayLike, latitude_deg: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes (degrees) as metres east and north of the first point:
    ``x = R·cos(lat_0)·(lon − lon_0)``, ``y = R·(lat − lat_0)`` (radians, ``R`` = 6371 km).

    Equirectangular: over a city (a few km) its error is far below GPS noise (the scale east
    changes by ``tan(lat_0)·dlat`` relative, 1e-3 over 5 km north at 52°)."""
    lon = np.radians(np.asarray(longitude_deg, dtype=float))
    lat = np.radians(np.asarray(latitude_deg, dtype=float))
    x = EARTH_RADIUS_M * math.cos(lat[0]) * (lon - lon[0])
    y = EARTH_RADIUS_M * (lat - lat[0])
    return x, y


@dataclass(frozen=True, eq=False)
class PositionTrace:
    """Waypoints of a path: ``times_s`` (from 0, strictly increasing), ``x_m`` east and ``y_m``
    north of the first waypoint; ``speed_m_per_s``: the speed the recording device reported at
    each waypoint (NaN where the source has none; None: no speeds at all)."""

    times_s: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    provenance: Provenance
    speed_m_per_s: np.ndarray | None = None

    def __post_init__(self) -> None:
        what = f"position trace {self.provenance.source}"
        columns = [self.times_s, self.x_m, self.y_m]
        if self.speed_m_per_s is not None:
            columns.append(self.speed_m_per_s)
        arrays = [np.array(c, dtype=float) for c in columns]
        if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1 or arrays[0].size < 1:
            raise InputError(f"{what}: expected equally long columns of at least one waypoint")
        if not all(np.isfinite(a).all() for a in arrays[:3]):
            raise InputError(f"{what}: expected finite times and positions")
        if arrays[0][0] != 0.0 or (np.diff(arrays[0]) <= 0).any():
            raise InputError(f"{what}: expected times from 0 s, strictly increasing")
        for a in arrays:
            a.setflags(write=False)
        object.__setattr__(self, "times_s", arrays[0])
        object.__setattr__(self, "x_m", arrays[1])
        object.__setattr__(self, "y_m", arrays[2])
        if self.speed_m_per_s is not None:
            object.__setattr__(self, "speed_m_per_s", arrays[3])

    @property
    def duration_s(self) -> float:
        """Time from the first waypoint to the last, s."""
        return float(self.times_s[-1])

    def segment_lengths_m(self) -> np.ndarray:
        """Straight-line distance between successive waypoints, m."""
        return np.hypot(np.diff(self.x_m), np.diff(self.y_m))

    def segment_speeds_m_per_s(self) -> np.ndarray:
        """Mean speed on each segment of the interpolated path (its length over its time), m/s."""
        return self.segment_lengths_m() / np.diff(self.times_s)

    def length_m(self) -> float:
        """Length of the interpolated path, m."""
        return float(self.segment_lengths_m().sum())

    def path(self) -> np.ndarray:
        """Rows of (time s, x m, y m): what the mobility model ``trace`` replays."""
        return np.column_stack([self.times_s, self.x_m, self.y_m])
