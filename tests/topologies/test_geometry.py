"""Placing points: hexagonal layouts, uniform drops in hexagons and annuli, grids."""

import numpy as np
import pytest

from coinfer.topologies.geometry import (
    distances,
    grid_positions,
    hexagon_centres,
    uniform_annulus,
    uniform_hexagon,
)


@pytest.mark.parametrize("rings", [0, 1, 2, 3])
def test_hexagonal_layout_has_1_plus_3r_r_plus_1_cells_an_isd_apart(rings):
    centres = hexagon_centres(rings, 500.0)
    assert len(centres) == 1 + 3 * rings * (rings + 1)
    assert len({(round(x, 6), round(y, 6)) for x, y in centres}) == len(centres)
    np.testing.assert_array_equal(centres[0], [0.0, 0.0])
    if rings:
        apart = distances(centres, centres) + np.eye(len(centres)) * 1e9
        np.testing.assert_allclose(apart.min(axis=1), 500.0)  # every cell has a neighbour at D
        # the outer ring lies between R·D·√3/2 and R·D from the centre
        radius = np.hypot(*centres[-6 * rings :].T)
        assert radius.max() == pytest.approx(rings * 500.0)
        assert radius.min() >= rings * 500.0 * np.sqrt(3) / 2 - 1e-9


def test_points_dropped_in_a_hexagon_fill_exactly_its_voronoi_cell():
    """Dropped around a cell of a 2-ring layout, every point is nearest to that cell's centre,
    at least ``min_m`` from it, and spread over the area (mean distance of a uniform hexagon:
    0.3510·D: 0.7021 times the inradius D/2)."""
    rng = np.random.default_rng(3)
    centres = hexagon_centres(2, 500.0)
    points = centres[4] + uniform_hexagon(rng, 20_000, 500.0, 10.0)
    assert (distances(points, centres).argmin(axis=1) == 4).all()
    radius = np.hypot(*(points - centres[4]).T)
    assert radius.min() >= 10.0
    assert radius.mean() == pytest.approx(0.35103 * 500.0, rel=0.01)


def test_annulus_drop_is_area_uniform():
    points = uniform_annulus(np.random.default_rng(1), 50_000, 10.0, 100.0)
    radius = np.hypot(*points.T)
    assert radius.min() >= 10.0 and radius.max() <= 100.0
    expected = 2 / 3 * (100**3 - 10**3) / (100**2 - 10**2)
    assert radius.mean() == pytest.approx(expected, rel=0.01)


def test_grid_positions_fill_rows_of_the_given_width():
    np.testing.assert_array_equal(
        grid_positions(5, 10.0, columns=2), [[0, 0], [10, 0], [0, 10], [10, 10], [0, 20]]
    )
    assert grid_positions(9, 1.0).max(axis=0).tolist() == [2.0, 2.0]
