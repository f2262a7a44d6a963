"""What pages and other domains read of the grid: the tree, point -> grid, people and their
posts on a day, staffing reports, complaint channels."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from shapely.geometry.base import BaseGeometry

from extensions import db
from grid import staffing
from grid.locate import Entry, GridLocator, sort_key
from grid.models import (
    ComplaintChannel,
    Grid,
    GridKind,
    Membership,
    Role,
    User,
    UserSession,
    active_on_clause,
    live_sessions_clause,
    membership_cover,
    point,
    subtree_clause,
)
from grid.time import local_date


def grid_shape(grid: Grid) -> BaseGeometry | None:
    return to_shape(grid.geom) if grid.geom is not None else None


def subtree(grid: Grid, *columns):
    """Select the grid and everything below it: one range scan on the path index."""
    return sa.select(*(columns or (Grid,))).where(subtree_clause(grid.path))


def children(grid: Grid, include_key: bool = True) -> list[Grid]:
    query = sa.select(Grid).where(Grid.parent_id == grid.id)
    if not include_key:
        query = query.where(Grid.kind != GridKind.KEY)
    return list(db.session.scalars(query.order_by(Grid.kind == GridKind.KEY, Grid.code, Grid.id)))


def ancestors(grid: Grid) -> list[Grid]:
    ids = grid.ancestor_ids
    if not ids:
        return []
    found = {g.id: g for g in db.session.scalars(sa.select(Grid).where(Grid.id.in_(ids)))}
    return [found[i] for i in ids]


def grid_by_code(code: str) -> Grid | None:
    return db.session.scalar(sa.select(Grid).where(Grid.code == code))


def root_grid() -> Grid | None:
    return db.session.scalar(sa.select(Grid).where(Grid.level == 1).order_by(Grid.id).limit(1))


def locate(lon: float, lat: float, level: int = 4) -> Grid | None:
    """The regular level-`level` grid containing a WGS-84 point (one spatial query).

    On a shared border the grid with the smallest code (then id) wins, as in grid.locate.
    """
    query = sa.select(Grid).where(
        Grid.level == level, Grid.kind != GridKind.KEY, Grid.geom.ST_Intersects(point(lon, lat))
    )
    if db.engine.dialect.name == "sqlite":
        # SpatiaLite does not use its R*Tree by itself; ask the SpatialIndex table explicitly.
        frame = (
            sa.text(
                "SELECT ROWID FROM SpatialIndex WHERE f_table_name = 'grid' "
                "AND f_geometry_column = 'geom' AND search_frame = MakePoint(:lon, :lat, 4326)"
            )
            .bindparams(lon=float(lon), lat=float(lat))
            .columns(sa.column("ROWID"))
        )
        query = query.where(Grid.id.in_(frame))
    query = query.order_by(Grid.code.is_(None), Grid.code, Grid.id).limit(1)
    return db.session.scalar(query)


_locator_cache: dict[str, tuple[tuple, GridLocator]] = {}


def geometry_version() -> tuple:
    """Changes whenever any grid row changes: the in-memory index is rebuilt then."""
    return tuple(
        db.session.execute(sa.select(sa.func.count(Grid.id), sa.func.max(Grid.updated_at))).one()
    )


def memory_locator(levels: Iterable[int] = (3, 4)) -> GridLocator:
    """An in-memory locator over the current geometries, rebuilt when they change.

    The cache holds derived, read-only data keyed by the database's state, so several
    application servers each keep a consistent copy.
    """
    levels = tuple(sorted(levels))
    key = f"{db.engine.url}|{levels}"
    version = geometry_version()
    cached = _locator_cache.get(key)
    if cached and cached[0] == version:
        return cached[1]
    rows = db.session.execute(
        sa.select(Grid.id, Grid.level, Grid.code, Grid.geom).where(
            Grid.level.in_(levels), Grid.kind != GridKind.KEY, Grid.geom.is_not(None)
        )
    )
    locator = GridLocator(
        Entry(gid, level, sort_key(gid, code), to_shape(geom)) for gid, level, code, geom in rows
    )
    _locator_cache[key] = (version, locator)
    return locator


def find_login(login: str) -> User | None:
    """The user a log-in name or mobile number belongs to."""
    login = (login or "").strip()
    if not login:
        return None
    return db.session.scalar(
        sa.select(User).where(sa.or_(User.username == login, User.mobile == login))
    )


@dataclass(frozen=True)
class PostRow:
    """A post with what the pages show of its holder and grid, loaded in one query."""

    membership_id: int
    user_id: int
    user_name: str
    grid_id: int
    role: str
    full_time: bool | None
    title: str | None
    started_on: date
    ended_on: date | None
    office_phone: str | None
    mobile: str | None


def posts_in(grid_clause, day: date | None) -> list[PostRow]:
    """Posts in the grids matched by `grid_clause`, held on `day` (all of them if None)."""
    query = (
        sa.select(
            Membership.id,
            User.id,
            User.name,
            Membership.grid_id,
            Membership.role,
            Membership.full_time,
            Membership.title,
            Membership.started_on,
            Membership.ended_on,
            User.office_phone,
            User.mobile,
        )
        .join(User, User.id == Membership.user_id)
        .join(Grid, Grid.id == Membership.grid_id)
        .where(grid_clause)
        .order_by(Membership.grid_id, Membership.role, User.name, Membership.id)
    )
    if day is not None:
        query = query.where(active_on_clause(day))
    return [PostRow(*row) for row in db.session.execute(query)]


def covers_of(membership_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    ids = list(membership_ids)
    found: dict[int, set[int]] = defaultdict(set)
    for chunk_start in range(0, len(ids), 900):
        chunk = ids[chunk_start : chunk_start + 900]
        for mid, gid in db.session.execute(
            sa.select(membership_cover.c.membership_id, membership_cover.c.grid_id).where(
                membership_cover.c.membership_id.in_(chunk)
            )
        ):
            found[mid].add(gid)
    return {mid: frozenset(g) for mid, g in found.items()}


@dataclass(frozen=True)
class GridFindings:
    grid_id: int
    name: str
    level: int
    kind: str
    path: str
    findings: list[staffing.Finding]


def staffing_report(root: Grid, day: date) -> list[GridFindings]:
    """The staffing findings (RULES §1) of every grid under `root` on `day`, in tree order."""
    grids = db.session.execute(
        sa.select(Grid.id, Grid.parent_id, Grid.name, Grid.level, Grid.kind, Grid.path)
        .where(subtree_clause(root.path))
        .order_by(Grid.path)
    ).all()
    return _findings(grids, subtree_clause(root.path), day)


def staffing_of(grid_ids: Sequence[int], day: date) -> dict[int, list[staffing.Finding]]:
    """The findings of just these grids (a page and its children), keyed by grid id."""
    grids = db.session.execute(
        sa.select(Grid.id, Grid.parent_id, Grid.name, Grid.level, Grid.kind, Grid.path).where(
            Grid.id.in_(list(grid_ids))
        )
    ).all()
    return {f.grid_id: f.findings for f in _findings(grids, Grid.id.in_(list(grid_ids)), day)}


def _findings(grids, grid_clause, day: date) -> list[GridFindings]:
    ids = [g.id for g in grids]
    kids: dict[int, list[int]] = defaultdict(list)
    for child_id, parent_id in db.session.execute(
        sa.select(Grid.id, Grid.parent_id)
        .where(Grid.parent_id.in_(ids), Grid.kind != GridKind.KEY)
        .order_by(Grid.id)
    ):
        kids[parent_id].append(child_id)
    posts = posts_in(grid_clause, day)
    cover = covers_of(p.membership_id for p in posts if p.role == Role.SUBHEAD)
    by_grid: dict[int, list[staffing.Post]] = defaultdict(list)
    for p in posts:
        by_grid[p.grid_id].append(
            staffing.Post(p.role, p.user_id, p.full_time, cover.get(p.membership_id, frozenset()))
        )
    report = []
    for g in grids:
        findings = staffing.check(g.level, g.kind, kids.get(g.id, []), by_grid.get(g.id, []))
        if findings:
            report.append(GridFindings(g.id, g.name, g.level, g.kind, g.path, findings))
    return report


def last_changed(grid: Grid, day: date) -> date | None:
    """The last day the published posts or channels of `grid`'s subtree changed."""
    within = sa.select(Grid.id).where(subtree_clause(grid.path))
    scoped = Membership.grid_id.in_(within)
    candidates = [
        db.session.scalar(sa.select(sa.func.max(Membership.created_at)).where(scoped)),
        db.session.scalar(sa.select(sa.func.max(Membership.ended_at)).where(scoped)),
        db.session.scalar(
            sa.select(sa.func.max(Membership.started_on)).where(
                scoped, Membership.started_on <= day
            )
        ),
        db.session.scalar(
            sa.select(sa.func.max(ComplaintChannel.created_at)).where(
                ComplaintChannel.grid_id.in_(grid.ancestor_ids + [grid.id])
            )
        ),
        db.session.scalar(
            sa.select(sa.func.max(ComplaintChannel.retired_at)).where(
                ComplaintChannel.grid_id.in_(grid.ancestor_ids + [grid.id])
            )
        ),
    ]
    ended = db.session.scalar(
        sa.select(sa.func.max(Membership.ended_on)).where(scoped, Membership.ended_on < day)
    )
    if ended is not None:
        candidates.append(ended + timedelta(days=1))  # the first day without the post
    days = [local_date(c) if isinstance(c, datetime) else c for c in candidates if c is not None]
    return max(days) if days else None


def channels_for(grid_ids: Iterable[int]) -> list[ComplaintChannel]:
    return list(
        db.session.scalars(
            sa.select(ComplaintChannel)
            .where(
                ComplaintChannel.grid_id.in_(list(grid_ids)), ComplaintChannel.retired_at.is_(None)
            )
            .order_by(ComplaintChannel.grid_id, ComplaintChannel.id)
        )
    )


def names_of(model, ids: Iterable[int | None]) -> dict[int, str]:
    """Names of people or grids (any model with `id` and `name`) by id, in one query."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = db.session.execute(sa.select(model.id, model.name).where(model.id.in_(wanted)))
    return dict(rows.all())


def live_sessions(user_id: int, since: datetime) -> list[UserSession]:
    """A person's signed-in devices (sessions begun after `since` and not ended), the most
    recently used first."""
    return list(
        db.session.scalars(
            sa.select(UserSession)
            .where(UserSession.user_id == user_id, live_sessions_clause(since))
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )
