"""Synthetic tiling: cells cover their region with no gap and no overlap."""

import itertools
import random

import pytest
from shapely.geometry import Point, Polygon
from shapely.ops import unary_union

from grid.tiling import as_multipolygon, ellipse, random_points_in, voronoi_cells

# A concave region (an L shape), where naive clipping goes wrong most easily.
L_SHAPE = Polygon([(0, 0), (4, 0), (4, 1), (1, 1), (1, 3), (0, 3)])


@pytest.mark.parametrize("count", [1, 2, 7, 40])
def test_cells_tile_the_region(count):
    rng = random.Random(count)
    seeds = random_points_in(L_SHAPE, count, rng)
    cells = voronoi_cells(L_SHAPE, seeds)
    assert len(cells) == count
    assert sum(c.area for c in cells) == pytest.approx(L_SHAPE.area, rel=1e-9)
    assert unary_union(cells).symmetric_difference(L_SHAPE).area < 1e-9
    for a, b in itertools.combinations(cells, 2):
        assert a.intersection(b).area < 1e-12
    for seed, cell in zip(seeds, cells, strict=True):
        assert cell.intersects(Point(seed))


def test_clustered_seeds_stay_inside():
    rng = random.Random(1)
    pts = random_points_in(L_SHAPE, 25, rng, centre=(0.5, 0.5), spread_m=20000)
    assert len(set(pts)) == 25
    assert all(L_SHAPE.contains(Point(p)) for p in pts)


def test_no_seed_is_an_error():
    with pytest.raises(ValueError):
        voronoi_cells(L_SHAPE, [])


def test_ellipse_radius_on_the_ground():
    from grid.geo import haversine_m

    disc = ellipse(87.3, 44.0, 3000)
    for x, y in list(disc.exterior.coords)[:-1]:
        assert haversine_m(87.3, 44.0, x, y) == pytest.approx(3000, rel=0.01)


def test_as_multipolygon_drops_lines():
    from shapely.geometry import GeometryCollection, LineString

    mixed = GeometryCollection([L_SHAPE, LineString([(5, 5), (6, 6)])])
    assert as_multipolygon(mixed).geom_type == "MultiPolygon"
    assert as_multipolygon(mixed).area == L_SHAPE.area
