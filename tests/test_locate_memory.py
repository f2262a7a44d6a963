"""Point -> grid in memory, including the shared borders (one deterministic answer)."""

import random

import numpy as np
import pytest
from shapely.geometry import Point, box

from grid.locate import Entry, GridLocator, sort_key

# Four unit squares: ids 10 (code ...001), 11 (...002), 12 (no code), 13 (...000).
SQUARES = [
    Entry(10, 4, sort_key(10, "652301001000"), box(0, 0, 1, 1)),
    Entry(11, 4, sort_key(11, "652301002000"), box(1, 0, 2, 1)),
    Entry(12, 4, sort_key(12, None), box(0, 1, 1, 2)),
    Entry(13, 4, sort_key(13, "652301000001"), box(1, 1, 2, 2)),
]


@pytest.fixture(scope="module")
def locator():
    return GridLocator(SQUARES)


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (0.5, 0.5, 10),
        (1.5, 0.5, 11),
        (0.5, 1.5, 12),
        (1.5, 1.5, 13),
        (1.0, 0.5, 10),  # border 10|11: lower code wins
        (0.5, 1.0, 10),  # border 10|12: a grid with a code beats one without
        (1.0, 1.0, 13),  # corner of all four: lowest code (...000001)
        (1.5, 1.0, 13),  # border 11|13
        (2.0, 2.0, 13),  # outer corner
        (0.0, 0.0, 10),
        (2.0001, 1.0, None),
        (-1, -1, None),
        (0.5, 2.5, None),
    ],
)
def test_locate(locator, lon, lat, expected):
    assert locator.locate(lon, lat, level=4) == expected


def test_locate_many_agrees_with_locate(locator):
    rng = np.random.default_rng(3)
    lons = rng.uniform(-0.5, 2.5, 5000)
    lats = rng.uniform(-0.5, 2.5, 5000)
    # include exact borders and corners
    lons = np.concatenate([lons, [1.0, 0.5, 1.0, 1.5, 2.0]])
    lats = np.concatenate([lats, [0.5, 1.0, 1.0, 1.0, 2.0]])
    many = locator.locate_many(lons, lats, level=4)
    one = [locator.locate(x, y, 4) for x, y in zip(lons, lats, strict=True)]
    assert [None if v == -1 else int(v) for v in many] == one


def test_matches_brute_force_on_irregular_cells():
    from grid.tiling import random_points_in, voronoi_cells

    region = box(87.0, 44.0, 87.5, 44.3)
    rng = random.Random(5)
    seeds = random_points_in(region, 60, rng)
    cells = voronoi_cells(region, seeds)
    entries = [Entry(i + 1, 4, sort_key(i + 1, f"{i:012d}"), c) for i, c in enumerate(cells)]
    loc = GridLocator(entries)
    for _ in range(3000):
        x, y = rng.uniform(86.95, 87.55), rng.uniform(43.95, 44.35)
        truth = [e for e in entries if e.geom.intersects(Point(x, y))]
        expected = min(truth, key=lambda e: e.key).grid_id if truth else None
        assert loc.locate(x, y, 4) == expected
    # points on shared edges: the vertices of the cells
    for e in entries[:20]:
        for x, y in list(e.geom.geoms[0].exterior.coords)[:5]:
            truth = [t for t in entries if t.geom.intersects(Point(x, y))]
            assert loc.locate(x, y, 4) == min(truth, key=lambda t: t.key).grid_id


def test_unknown_level_finds_nothing(locator):
    assert locator.locate(0.5, 0.5, level=3) is None
    assert list(locator.locate_many(np.array([0.5]), np.array([0.5]), level=3)) == [-1]
