"""Placing points: uniform drops in discs and hexagons, hexagonal and square grids (metres)."""

from __future__ import annotations

import math

import numpy as np

#: Axial directions of the six neighbours of a hexagonal cell, counter-clockwise from east.
_HEX_DIRECTIONS = ((1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1))
_SQRT3 = math.sqrt(3.0)


def uniform_annulus(rng: np.random.Generator, count: int, min_m: float, max_m: float) -> np.ndarray:
    """``count`` points uniform over the area ``min_m ≤ r ≤ max_m`` around the origin, (n, 2)."""
    u = rng.random(count)
    radius = np.sqrt(min_m**2 + u * (max_m**2 - min_m**2))
    angle = rng.random(count) * 2.0 * math.pi
    return np.column_stack((radius * np.cos(angle), radius * np.sin(angle)))


def hexagon_centres(rings: int, isd_m: float) -> np.ndarray:
    """Centres of a hexagonal layout with ``rings`` rings around the origin, (n, 2) in metres.

    ``1 + 3·rings·(rings + 1)`` cells, the centre first, then ring by ring counter-clockwise;
    neighbouring centres are ``isd_m`` apart (neighbours to the east, at 60°, 120°, ...).
    """
    axial = [(0, 0)]
    for ring in range(1, rings + 1):
        q, r = -ring, ring  # ring × direction 4, then walk the six sides
        for dq, dr in _HEX_DIRECTIONS:
            for _ in range(ring):
                axial.append((q, r))
                q, r = q + dq, r + dr
    return np.array([(isd_m * (q + r / 2.0), isd_m * r * _SQRT3 / 2.0) for q, r in axial])


def uniform_hexagon(rng: np.random.Generator, count: int, isd_m: float, min_m: float) -> np.ndarray:
    """``count`` points uniform over the hexagonal cell of a layout with inter-site distance
    ``isd_m`` (flat sides facing the neighbours), at least ``min_m`` from the centre, (n, 2)."""
    circumradius = isd_m / _SQRT3
    points = np.empty((count, 2))
    missing = np.arange(count)
    while len(missing):
        n = len(missing)
        sector = rng.integers(0, 6, n)
        u, v = rng.random(n), rng.random(n)
        flip = u + v > 1.0
        u, v = np.where(flip, 1.0 - u, u), np.where(flip, 1.0 - v, v)
        a0 = (sector * 60.0 + 30.0) * math.pi / 180.0  # vertices at 30°, 90°, ...
        a1 = a0 + math.pi / 3.0
        x = circumradius * (u * np.cos(a0) + v * np.cos(a1))
        y = circumradius * (u * np.sin(a0) + v * np.sin(a1))
        points[missing] = np.column_stack((x, y))
        missing = missing[np.hypot(x, y) < min_m]
    return points


def grid_positions(count: int, spacing_m: float, columns: int | None = None) -> np.ndarray:
    """``count`` points on a grid of ``columns`` columns (default: as square as possible), row
    by row from the origin, ``spacing_m`` apart, (n, 2)."""
    columns = columns or max(1, math.ceil(math.sqrt(count)))
    return np.array(
        [((i % columns) * spacing_m, (i // columns) * spacing_m) for i in range(count)],
        dtype=float,
    ).reshape(count, 2)


def distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Pairwise distances between ``points`` (n, 2) and ``centres`` (m, 2), (n, m) in metres."""
    return np.hypot(
        points[:, None, 0] - centres[None, :, 0], points[:, None, 1] - centres[None, :, 1]
    )
