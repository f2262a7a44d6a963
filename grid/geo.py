"""Coordinates: GCJ-02 <-> WGS-84, and small geodesy helpers. Pure: numbers in, numbers out.

GCJ-02 is the obfuscated datum of Chinese map vendors (Amap, DataV). Browsers' Geolocation and
satellite receivers give WGS-84, which is the only datum the database stores (DESIGN "Data").
The forward transform is the published GCJ-02 formula (Krasovsky ellipsoid); the inverse is a
fixed-point iteration on it, exact to well under a millimetre.
"""

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by the GCJ-02 formula
_EE = 0.00669342162296594323  # its first eccentricity squared
EARTH_RADIUS_M = 6371008.8  # IUGG mean radius, for distances

FloatArray = npt.NDArray[np.float64]


def _in_china(lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
    # The rectangle the reference implementations use; outside it GCJ-02 equals WGS-84.
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    d_lat += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    d_lat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    d_lon += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    d_lon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * pi)
    inside = _in_china(lon, lat)
    return np.where(inside, d_lon, 0.0), np.where(inside, d_lat, 0.0)


def wgs84_to_gcj02_arrays(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    d_lon, d_lat = _offset(lon, lat)
    return lon + d_lon, lat + d_lat


def gcj02_to_wgs84_arrays(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Invert the GCJ-02 offset: find w with gcj(w) = g by w <- g - offset(w)."""
    w_lon, w_lat = lon.copy(), lat.copy()
    for _ in range(30):
        d_lon, d_lat = _offset(w_lon, w_lat)
        n_lon, n_lat = lon - d_lon, lat - d_lat
        step = max(
            float(np.max(np.abs(n_lon - w_lon), initial=0.0)),
            float(np.max(np.abs(n_lat - w_lat), initial=0.0)),
        )
        w_lon, w_lat = n_lon, n_lat
        if step < 1e-12:  # about 0.1 micrometre
            break
    return w_lon, w_lat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    x, y = wgs84_to_gcj02_arrays(np.array([lon]), np.array([lat]))
    return float(x[0]), float(y[0])


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    x, y = gcj02_to_wgs84_arrays(np.array([lon]), np.array([lat]))
    return float(x[0]), float(y[0])


def coords_transformer(
    func: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
) -> Callable[[Any], Any]:
    """Adapt an (lon, lat) array function to shapely.transform's (N, 2) array interface."""

    def apply(coords: FloatArray) -> FloatArray:
        lon, lat = func(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return apply


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def metres_to_degrees(metres: float, lat: float) -> tuple[float, float]:
    """(degrees of longitude, degrees of latitude) spanning `metres` near latitude `lat`."""
    d_lat = math.degrees(metres / EARTH_RADIUS_M)
    d_lon = d_lat / max(math.cos(math.radians(lat)), 1e-9)
    return d_lon, d_lat
