"""GCJ-02 <-> WGS-84 (DESIGN "Data": never store GCJ-02)."""

import random

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from grid.geo import (
    coords_transformer,
    gcj02_to_wgs84,
    gcj02_to_wgs84_arrays,
    haversine_m,
    metres_to_degrees,
    wgs84_to_gcj02,
)

# Published by other implementations (eviltransform's test suite, coordtransform's README):
# (wgs lon, wgs lat, gcj lon, gcj lat).
REFERENCE = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),  # Shanghai
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),  # Shenzhen
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),  # Beijing
    (116.404, 39.915, 116.41024449916938, 39.91640428150164),  # coordtransform
]


@pytest.mark.parametrize(("lon", "lat", "glon", "glat"), REFERENCE)
def test_forward_matches_published_values(lon, lat, glon, glat):
    got = wgs84_to_gcj02(lon, lat)
    assert got == pytest.approx((glon, glat), abs=1e-9)


@pytest.mark.parametrize(("lon", "lat", "glon", "glat"), REFERENCE)
def test_inverse_recovers_wgs84_within_a_millimetre(lon, lat, glon, glat):
    back = gcj02_to_wgs84(glon, glat)
    assert haversine_m(lon, lat, *back) < 0.001


def test_round_trip_within_one_metre_across_china():
    rng = random.Random(7)
    worst = 0.0
    for _ in range(2000):
        lon, lat = rng.uniform(73.5, 135.0), rng.uniform(18.0, 53.5)
        worst = max(worst, haversine_m(lon, lat, *gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))))
    assert worst < 1.0


def test_offset_in_changji_is_hundreds_of_metres():
    # The reason conversion matters: a GCJ-02 boundary is several hundred metres off.
    lon, lat = 87.30, 44.01
    assert 100 < haversine_m(lon, lat, *wgs84_to_gcj02(lon, lat)) < 1000


def test_outside_china_is_unchanged():
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert gcj02_to_wgs84(-74.0, 40.7) == (-74.0, 40.7)


def test_transform_a_polygon_with_shapely():
    square = Polygon([(87, 44), (87.1, 44), (87.1, 44.1), (87, 44.1)])
    moved = shapely.transform(square, coords_transformer(gcj02_to_wgs84_arrays))
    assert moved.is_valid and moved.area == pytest.approx(square.area, rel=1e-2)
    assert not moved.equals(square)
    coords = shapely.get_coordinates(moved)
    expected = np.array([gcj02_to_wgs84(x, y) for x, y in shapely.get_coordinates(square)])
    assert np.allclose(coords, expected, atol=1e-12)


def test_metres_to_degrees():
    d_lon, d_lat = metres_to_degrees(1000, 44.0)
    assert haversine_m(87, 44, 87, 44 + d_lat) == pytest.approx(1000, rel=1e-6)
    assert haversine_m(87, 44, 87 + d_lon, 44) == pytest.approx(1000, rel=1e-3)
