"""Synthetic boundaries: tile a region into cells without gaps or overlaps. Pure (Shapely).

Townships and villages have no public boundaries, so the demo gives them Voronoi cells around
seeded points, clipped to the parent's polygon. Every cell contains its own seed, so none is empty,
and the cells of one region share their edges exactly.
"""

import math
import random
from collections.abc import Sequence

import shapely
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from grid.geo import metres_to_degrees

Seed = tuple[float, float]


def as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """The polygonal part of `geom` as a MultiPolygon (lines and points from clipping dropped)."""
    if geom.is_empty:
        return MultiPolygon()
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    parts: list[Polygon] = []
    for part in getattr(geom, "geoms", []):
        parts.extend(as_multipolygon(part).geoms)
    return MultiPolygon(parts)


def random_points_in(
    region: BaseGeometry,
    count: int,
    rng: random.Random,
    centre: Seed | None = None,
    spread_m: float | None = None,
) -> list[Seed]:
    """`count` distinct points inside `region`: uniform, or normal around `centre` if given."""
    shapely.prepare(region)
    min_x, min_y, max_x, max_y = region.bounds
    points: list[Seed] = []
    attempts = 0
    while len(points) < count:
        attempts += 1
        if attempts > 10000 * max(count, 1):
            raise ValueError("could not place seed points inside the region")
        if centre is not None and spread_m is not None and attempts < 2000 * count:
            d_lon, d_lat = metres_to_degrees(spread_m, centre[1])
            x, y = rng.gauss(centre[0], d_lon), rng.gauss(centre[1], d_lat)
        else:
            x, y = rng.uniform(min_x, max_x), rng.uniform(min_y, max_y)
        if shapely.contains_xy(region, x, y) and (x, y) not in points:
            points.append((x, y))
    return points


def voronoi_cells(region: BaseGeometry, seeds: Sequence[Seed]) -> list[MultiPolygon]:
    """One cell per seed, in the seeds' order, tiling `region` exactly."""
    if not seeds:
        raise ValueError("at least one seed is needed")
    if len(seeds) == 1:
        return [as_multipolygon(region)]
    diagram = shapely.voronoi_polygons(
        shapely.MultiPoint(list(seeds)), extend_to=region, ordered=True
    )
    cells = [as_multipolygon(cell.intersection(region)) for cell in diagram.geoms]
    for seed, cell in zip(seeds, cells, strict=True):
        if not cell.intersects(Point(seed)):
            raise ValueError(f"seed {seed} fell outside its own cell")
    return cells


def ellipse(lon: float, lat: float, radius_m: float, segments: int = 48) -> Polygon:
    """A circle of `radius_m` on the ground, as a lon/lat polygon."""
    d_lon, d_lat = metres_to_degrees(radius_m, lat)
    return Polygon(
        [
            (
                lon + d_lon * math.cos(2 * math.pi * i / segments),
                lat + d_lat * math.sin(2 * math.pi * i / segments),
            )
            for i in range(segments)
        ]
    )
