"""The grid tree in the database: the Changji demo, subtrees, tiling, point -> grid."""

import itertools
import random

import numpy as np
import pytest
import sqlalchemy as sa
from shapely.geometry import Point
from shapely.ops import unary_union

from extensions import db
from grid import queries, services
from grid.models import Grid, GridKind, subtree_clause


def by_code(code):
    return queries.grid_by_code(code)


def by_name(name):
    return db.session.scalar(sa.select(Grid).where(Grid.name == name))


def test_demo_tree_shape(db_session):
    counts = dict(
        db.session.execute(sa.select(Grid.kind, sa.func.count()).group_by(Grid.kind)).all()
    )
    assert counts["prefecture"] == 1
    assert counts["county"] == 7 and counts["park"] == 3  # 10 level-2 grids (RULES §1)
    assert counts["key"] == 4  # the four national stations inside Changji
    # 兵团 units are not administered by the prefecture: left out with everything below them
    assert db.session.scalar(sa.select(sa.func.count()).where(Grid.name.like("兵团%"))) == 0
    assert by_code("652301500000") is None
    zhundong = by_name("准东经济技术开发区")
    assert zhundong.level == 2 and zhundong.code is None
    assert {g.name for g in queries.children(zhundong)} == {"五彩湾镇", "准东街道"}
    hitech = by_name("昌吉高新技术产业开发区")
    assert [g.code for g in queries.children(hitech)] == ["652301402000"]


def test_every_grid_has_a_geometry_and_its_source(db_session):
    rows = db.session.execute(sa.select(Grid.kind, Grid.geom_source, Grid.geom.is_(None))).all()
    assert all(not missing for _kind, _source, missing in rows)
    sources = {(kind, source) for kind, source, _ in rows}
    assert ("county", "imported") in sources
    assert ("village", "synthetic") in sources and ("township", "synthetic") in sources
    assert ("park", "synthetic") in sources
    assert ("village", "imported") not in sources


def _subtree_by_walking(root_id):
    pairs = db.session.execute(sa.select(Grid.id, Grid.parent_id)).all()
    kids = {}
    for gid, parent in pairs:
        kids.setdefault(parent, []).append(gid)
    found, todo = set(), [root_id]
    while todo:
        gid = todo.pop()
        found.add(gid)
        todo.extend(kids.get(gid, []))
    return found


@pytest.mark.parametrize("name", ["昌吉回族自治州", "昌吉市", "三工镇", "准东经济技术开发区"])
def test_subtree_query_equals_walking_the_parents(db_session, name):
    grid = by_name(name)
    ids = set(db.session.scalars(queries.subtree(grid, Grid.id)))
    assert ids == _subtree_by_walking(grid.id)
    assert grid.id in ids


def test_subtree_query_uses_the_path_index(db_session):
    grid = by_name("昌吉市")
    query = sa.select(Grid.id).where(subtree_clause(grid.path))
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    if db.engine.dialect.name == "sqlite":
        plan = " ".join(
            r[-1] for r in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}"))
        )
        assert "USING" in plan and "INDEX" in plan and "path" in plan, plan
    else:
        db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(r[0] for r in db.session.execute(sa.text(f"EXPLAIN {compiled}")))
        assert "Index" in plan and "grid_path" in plan, plan


def test_moving_a_grid_moves_its_subtree(db_session):
    park = by_name("昌吉高新技术产业开发区")
    town = by_code("652301402000")
    villages = {g.id for g in queries.children(town)}
    other = by_name("昌吉国家农业科技园区")
    services.move_grid(town, other)
    assert set(db.session.scalars(queries.subtree(other, Grid.id))) >= villages | {town.id}
    assert not set(db.session.scalars(queries.subtree(park, Grid.id))) & villages


def _shape(grid):
    return queries.grid_shape(grid)


@pytest.mark.parametrize("level", [2, 3, 4])
def test_each_level_tiles_the_prefecture(db_session, level):
    """Every point has exactly one grid at each level: no gap, no overlap (RULES §1 art. 3)."""
    root = queries.root_grid()
    shapes = [
        queries.grid_shape(g)
        for g in db.session.scalars(
            sa.select(Grid).where(Grid.level == level, Grid.kind != GridKind.KEY)
        )
    ]
    total = _shape(root)
    assert sum(s.area for s in shapes) == pytest.approx(total.area, rel=1e-7)
    assert unary_union(shapes).symmetric_difference(total).area < total.area * 1e-7


def test_children_tile_their_parent_without_overlap(db_session):
    for name in ("昌吉市", "准东经济技术开发区", "三工镇", "五彩湾镇"):
        parent = by_name(name)
        kids = [_shape(g) for g in queries.children(parent, include_key=False)]
        assert sum(k.area for k in kids) == pytest.approx(_shape(parent).area, rel=1e-7)
        for a, b in itertools.combinations(kids, 2):
            assert a.intersection(b).area < 1e-10


def test_parks_are_carved_out_of_their_hosts(db_session):
    zhundong, jimsar = _shape(by_name("准东经济技术开发区")), _shape(by_code("652327000000"))
    assert zhundong.intersection(jimsar).area < 1e-10
    assert zhundong.area > 0.1  # several thousand square kilometres


@pytest.mark.parametrize(
    ("lon", "lat", "county", "town"),
    [
        (87.3095, 44.0142, "昌吉市", None),  # 亚心广场 station, inside 昌吉市 (SOURCES.md)
        (88.1236, 43.8886, "阜康市", None),  # 天山天池 station
    ],
)
def test_locate_known_stations(db_session, lon, lat, county, town):
    assert queries.locate(lon, lat, 2).name == county
    assert queries.locate(lon, lat, 4) is not None


def test_locate_outside_the_prefecture(db_session):
    assert queries.locate(116.4, 39.9, 4) is None  # Beijing
    assert queries.locate(87.58, 43.83, 2) is None  # Urumqi, between Changji's two parts


def test_database_and_memory_agree_including_borders(db_session):
    locator = queries.memory_locator((3, 4))
    rng = random.Random(11)
    root = _shape(queries.root_grid())
    minx, miny, maxx, maxy = root.bounds
    points = []
    while len(points) < 150:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if root.contains(Point(x, y)):
            points.append((x, y))
    # shared vertices of neighbouring villages in one township: exact border points
    town = by_code("652301101000")
    for village in queries.children(town)[:4]:
        points.extend(list(_shape(village).geoms[0].exterior.coords)[:6])
    for level in (3, 4):
        for x, y in points:
            in_db = queries.locate(x, y, level)
            assert (in_db.id if in_db else None) == locator.locate(x, y, level), (x, y, level)
    many = locator.locate_many(np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    assert [int(v) for v in many] == [locator.locate(x, y, 4) for x, y in points]


def _vertices(geom):
    return {tuple(c) for poly in geom.geoms for c in poly.exterior.coords}


def test_border_point_goes_to_the_lowest_code(db_session):
    """A vertex shared by two villages lies exactly on both: the lower code wins, in the
    database and in memory alike."""
    town = by_code("652301101000")
    villages = queries.children(town)
    found = None
    for v1, v2 in itertools.combinations(villages, 2):
        shared = _vertices(_shape(v1)) & _vertices(_shape(v2))
        if shared:
            found = (v1, v2, sorted(shared)[0])
            break
    assert found is not None, "no two villages share a vertex"
    v1, v2, (x, y) = found
    assert _shape(v1).intersects(Point(x, y)) and _shape(v2).intersects(Point(x, y))
    winner = min((v1, v2), key=lambda g: g.code)
    assert queries.locate(x, y, 4).id == winner.id
    assert queries.memory_locator((4,)).locate(x, y, 4) == winner.id
