"""Point -> grid in memory. Pure (Shapely, NumPy): geometries in, grid ids out.

The index answers "which level-N grid contains this WGS-84 point". A point on a border shared by
several grids belongs to the one with the smallest sort key (administrative code, then id), the
same rule the database query applies, so both give one deterministic answer.

A uniform cell index sits in front of an STRtree: a cell that lies inside exactly one polygon (and
touches no other) answers without any geometry test; only cells on a border test the point
against their few candidates, in sort-key order.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

SortKey = tuple[int, str, int]

_OUTSIDE = -1
_CELLS_PER_POLYGON = 64  # enough that most cells lie inside one polygon
_MAX_CELLS = 1 << 18


def sort_key(grid_id: int, code: str | None) -> SortKey:
    """Border tie-break: grids with a code first, lowest code, then lowest id."""
    return (0 if code else 1, code or "", grid_id)


@dataclass(frozen=True)
class Entry:
    grid_id: int
    level: int
    key: SortKey
    geom: BaseGeometry


class _LevelIndex:
    def __init__(self, entries: Sequence[Entry]):
        ordered = sorted(entries, key=lambda e: e.key)
        self.ids = np.array([e.grid_id for e in ordered], dtype=np.int64)
        self.geoms = np.array([e.geom for e in ordered], dtype=object)
        shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)
        self._build_cells()

    def _build_cells(self) -> None:
        min_x, min_y, max_x, max_y = shapely.total_bounds(self.geoms)
        width, height = max(max_x - min_x, 1e-9), max(max_y - min_y, 1e-9)
        cells = min(max(_CELLS_PER_POLYGON * len(self.geoms), 1024), _MAX_CELLS)
        self.size = math.sqrt(width * height / cells)
        self.x0, self.y0 = float(min_x), float(min_y)
        self.nx = max(1, math.ceil((max_x - min_x) / self.size))
        self.ny = max(1, math.ceil((max_y - min_y) / self.size))
        mesh_x, mesh_y = np.meshgrid(np.arange(self.nx), np.arange(self.ny), indexing="ij")
        ix, iy = mesh_x.ravel(), mesh_y.ravel()
        boxes = shapely.box(
            self.x0 + ix * self.size,
            self.y0 + iy * self.size,
            self.x0 + (ix + 1) * self.size,
            self.y0 + (iy + 1) * self.size,
        )
        cell_of = ix * self.ny + iy
        hit_cell, hit_geom = self.tree.query(boxes, predicate="intersects")
        in_cell, in_geom = self.tree.query(boxes, predicate="within")
        counts = np.bincount(hit_cell, minlength=boxes.size)
        # Each cell: _OUTSIDE, a polygon index (>= 0, cell inside it alone), or a border cell
        # encoded as -2 - k where self.candidates[k] lists the polygons to test, in key order.
        state = np.full(self.nx * self.ny, _OUTSIDE, dtype=np.int64)
        alone = counts[in_cell] == 1
        state[cell_of[in_cell[alone]]] = in_geom[alone]
        pure = np.zeros(boxes.size, dtype=bool)
        pure[in_cell[alone]] = True
        self.candidates: list[tuple[int, ...]] = []
        border = (counts > 0) & ~pure
        order = np.argsort(hit_cell, kind="stable")
        hit_cell, hit_geom = hit_cell[order], hit_geom[order]
        starts = np.searchsorted(hit_cell, np.flatnonzero(border))
        for cell, start in zip(np.flatnonzero(border), starts, strict=True):
            stop = start + counts[cell]
            state[cell_of[cell]] = -2 - len(self.candidates)
            self.candidates.append(tuple(sorted(int(g) for g in hit_geom[start:stop])))
        self.state = state.tolist()  # list indexing is faster than NumPy's for one item

    def locate(self, lon: float, lat: float) -> int | None:
        ix = math.floor((lon - self.x0) / self.size)
        iy = math.floor((lat - self.y0) / self.size)
        if not (0 <= ix < self.nx and 0 <= iy < self.ny):
            # A point on the far edge of the bounding box still belongs to the last cell.
            ix, iy = min(max(ix, 0), self.nx - 1), min(max(iy, 0), self.ny - 1)
            if not self._near_bounds(lon, lat):
                return None
        s = self.state[ix * self.ny + iy]
        if s >= 0:
            return int(self.ids[s])
        if s == _OUTSIDE:
            return None
        for g in self.candidates[-2 - s]:
            if shapely.intersects_xy(self.geoms[g], lon, lat):
                return int(self.ids[g])
        return None

    def _near_bounds(self, lon: float, lat: float) -> bool:
        eps = self.size * 1e-6
        return bool(
            self.x0 - eps <= lon <= self.x0 + self.nx * self.size + eps
            and self.y0 - eps <= lat <= self.y0 + self.ny * self.size + eps
        )

    def locate_many(self, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
        """Vectorised lookups: an array of grid ids, -1 where no grid contains the point."""
        points = shapely.points(lons, lats)
        point_idx, geom_idx = self.tree.query(points, predicate="intersects")
        result = np.full(len(lons), -1, dtype=np.int64)
        # Polygons are ordered by sort key, so the smallest index per point wins a border tie.
        order = np.lexsort((geom_idx, point_idx))
        point_idx, geom_idx = point_idx[order], geom_idx[order]
        first = np.ones(len(point_idx), dtype=bool)
        first[1:] = point_idx[1:] != point_idx[:-1]
        result[point_idx[first]] = self.ids[geom_idx[first]]
        return result


class GridLocator:
    """In-memory point -> grid for each level present in the entries."""

    def __init__(self, entries: Iterable[Entry]):
        by_level: dict[int, list[Entry]] = {}
        for e in entries:
            if e.geom is not None and not e.geom.is_empty:
                by_level.setdefault(e.level, []).append(e)
        self._levels = {level: _LevelIndex(es) for level, es in by_level.items()}

    @property
    def levels(self) -> list[int]:
        return sorted(self._levels)

    def locate(self, lon: float, lat: float, level: int = 4) -> int | None:
        index = self._levels.get(level)
        return index.locate(lon, lat) if index else None

    def locate_many(self, lons: np.ndarray, lats: np.ndarray, level: int = 4) -> np.ndarray:
        index = self._levels.get(level)
        if index is None:
            return np.full(len(lons), -1, dtype=np.int64)
        return index.locate_many(np.asarray(lons, float), np.asarray(lats, float))
