"""Actions on the grid tree and its people. Services flush; the caller commits once."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from geoalchemy2 import WKTElement
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry.base import BaseGeometry

from extensions import db
from grid import staffing
from grid.imports import BoundaryFeature, DivisionRow, ImportRejected
from grid.locate import Entry, GridLocator, sort_key
from grid.models import (
    KIND_LEVEL,
    ROLE_LEVELS,
    ComplaintChannel,
    GeomSource,
    Grid,
    GridKind,
    Membership,
    Role,
    User,
    active_on_clause,
    membership_cover,
    subtree_clause,
    utcnow,
)
from grid.tiling import as_multipolygon

DIVISION_KINDS = {
    1: GridKind.PREFECTURE,
    2: GridKind.COUNTY,
    3: GridKind.TOWNSHIP,
    4: GridKind.VILLAGE,
}


class ServiceError(Exception):
    """A request that breaks a rule; the message is shown to the user."""


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def local_date(utc: datetime) -> date:
    """The local calendar day of a stored (naive UTC) timestamp."""
    return utc.replace(tzinfo=UTC).astimezone(local_zone()).date()


def local_today() -> date:
    """Today in the configured time zone (China Standard Time by default)."""
    return datetime.now(local_zone()).date()


# --- the tree ---------------------------------------------------------------------------------


def add_grid(
    name: str,
    kind: str,
    parent: Grid | None,
    code: str | None = None,
    geom: BaseGeometry | None = None,
    source: str | None = None,
    note: str | None = None,
) -> Grid:
    """Create one grid under `parent` with its materialised path."""
    kind = GridKind(kind)
    level = KIND_LEVEL[kind]
    if parent is None and level != 1:
        raise ServiceError(_l("%(name)s: only a level-1 grid may have no parent", name=name))
    if (
        parent is not None
        and parent.level != level - 1
        and not (kind == GridKind.KEY and parent.level == 2)
    ):
        raise ServiceError(
            _l(
                "%(name)s: a level-%(level)s grid cannot sit under level %(parent)s",
                name=name,
                level=level,
                parent=parent.level,
            )
        )
    grid = Grid(
        name=name,
        kind=kind.value,
        level=level,
        code=code,
        parent_id=parent and parent.id,
        path="/pending/" + (code or name),
    )
    if geom is not None:
        set_geometry(grid, geom, source or GeomSource.IMPORTED, note)
    db.session.add(grid)
    db.session.flush()
    grid.path = (parent.path if parent else "/") + f"{grid.id}/"
    return grid


def move_grid(grid: Grid, new_parent: Grid) -> None:
    """Hang `grid` (and everything below it) under `new_parent` one level up."""
    if new_parent.level != grid.level - 1 or new_parent.path.startswith(grid.path):
        raise ServiceError(
            _l("%(name)s cannot move under %(parent)s.", name=grid.name, parent=new_parent.name)
        )
    old_path, new_path = grid.path, new_parent.path + f"{grid.id}/"
    for g in db.session.scalars(subtree(grid)):
        g.path = new_path + g.path[len(old_path) :]
    grid.parent_id = new_parent.id
    db.session.flush()


def set_geometry(grid: Grid, geom: BaseGeometry, source: str, note: str | None = None) -> None:
    grid.geom = from_shape(as_multipolygon(geom), srid=4326)
    grid.geom_source = GeomSource(source).value
    grid.geom_note = note


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


@dataclass
class DivisionResult:
    added: int = 0
    renamed: int = 0
    unchanged: int = 0
    skipped: int = 0


def import_divisions(rows: Sequence[DivisionRow], skipped: int = 0) -> DivisionResult:
    """Add or rename the divisions of a checked file (imports.parse_divisions)."""
    result = DivisionResult(skipped=skipped)
    known = {g.code: g for g in db.session.scalars(sa.select(Grid).where(Grid.code.is_not(None)))}
    problems = []
    for row in rows:
        grid = known.get(row.code)
        if grid is not None:
            if grid.level != row.level:
                problems.append(
                    (
                        f"line {row.line}",
                        f"{row.code} exists at level {grid.level}, the file says level {row.level}",
                    )
                )
            elif row.level > 1 and known[row.parent_code].id != grid.parent_id:
                problems.append(
                    (
                        f"line {row.line}",
                        f"{row.code} exists under another parent; moving grids is "
                        "not done by import",
                    )
                )
    if problems:
        raise ImportRejected(problems)
    for row in rows:
        grid = known.get(row.code)
        if grid is None:
            parent = known.get(row.parent_code) if row.level > 1 else None
            if row.level == 1 and root_grid() is not None:
                raise ImportRejected([(f"line {row.line}", "the grid already has a level-1 root")])
            known[row.code] = add_grid(row.name, DIVISION_KINDS[row.level], parent, row.code)
            result.added += 1
        elif grid.name != row.name:
            grid.name = row.name
            result.renamed += 1
        else:
            result.unchanged += 1
    db.session.flush()
    return result


def import_boundaries(
    features: Sequence[BoundaryFeature], level: int, source: str, note: str | None = None
) -> int:
    """Attach checked boundaries (imports.parse_boundaries) to the level-`level` grids."""
    codes = [f.code for f in features]
    grids = {g.code: g for g in db.session.scalars(sa.select(Grid).where(Grid.code.in_(codes)))}
    problems = []
    for f in features:
        where = f"feature {f.index}" + (f" ({f.name})" if f.name else "")
        grid = grids.get(f.code)
        if grid is None:
            problems.append((where, f"no grid has code {f.code}"))
        elif grid.level != level:
            problems.append(
                (where, f"grid {f.code} {grid.name} is level {grid.level}, not {level}")
            )
    if problems:
        raise ImportRejected(problems)
    for f in features:
        set_geometry(grids[f.code], f.geom, source, note)
    db.session.flush()
    return len(features)


# --- point -> grid ----------------------------------------------------------------------------


def locate(lon: float, lat: float, level: int = 4) -> Grid | None:
    """The regular level-`level` grid containing a WGS-84 point (one spatial query).

    On a shared border the grid with the smallest code (then id) wins, as in grid.locate.
    """
    point = WKTElement(f"POINT({float(lon)!r} {float(lat)!r})", srid=4326)
    query = sa.select(Grid).where(
        Grid.level == level, Grid.kind != GridKind.KEY, Grid.geom.ST_Intersects(point)
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


# --- people and posts -------------------------------------------------------------------------


def normalise_mobile(mobile: str | None) -> str | None:
    mobile = (mobile or "").replace(" ", "").replace("-", "")
    if not mobile:
        return None
    if not (len(mobile) == 11 and mobile.isdigit() and mobile.startswith("1")):
        raise ServiceError(_l("The mobile number must be 11 digits starting with 1."))
    return mobile


def create_user(
    username: str,
    name: str,
    password: str,
    mobile: str | None = None,
    office_phone: str | None = None,
    password_hash: str | None = None,
) -> User:
    """Register a person; the log-in name and mobile number must be unused."""
    username = username.strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise ServiceError(_l("The log-in name must be 1-64 characters without spaces."))
    if not name.strip():
        raise ServiceError(_l("The name is required."))
    mobile = normalise_mobile(mobile)
    clash = db.session.scalar(
        sa.select(User).where(
            sa.or_(
                User.username == username,
                User.mobile == username,
                *([User.mobile == mobile, User.username == mobile] if mobile else []),
            )
        )
    )
    if clash is not None:
        raise ServiceError(_l("That log-in name or mobile number is already in use."))
    user = User(
        username=username,
        name=name.strip(),
        mobile=mobile,
        office_phone=(office_phone or "").strip() or None,
    )
    if password_hash:
        user.password_hash = password_hash
    else:
        check_password_strength(password)
        user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


MIN_PASSWORD_LENGTH = 8


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ServiceError(
            _l("The password must have at least %(n)s characters.", n=MIN_PASSWORD_LENGTH)
        )


def update_person(
    person: User,
    *,
    name: str,
    mobile: str | None,
    office_phone: str | None,
    password: str | None,
    active: bool,
    by: User | None = None,
) -> None:
    """Change a person's details; a new password or disabling ends all their sessions."""
    if not name.strip():
        raise ServiceError(_l("The name is required."))
    mobile = normalise_mobile(mobile)
    if (
        mobile
        and mobile != person.mobile
        and db.session.scalar(
            sa.select(User.id).where(
                sa.or_(User.mobile == mobile, User.username == mobile), User.id != person.id
            )
        )
    ):
        raise ServiceError(_l("That log-in name or mobile number is already in use."))
    if person.active and not active and by is not None and by.id == person.id:
        raise ServiceError(_l("You cannot disable your own account."))
    person.name = name.strip()
    person.mobile = mobile
    person.office_phone = (office_phone or "").strip() or None
    if password:
        check_password_strength(password)
        person.set_password(password)
    if person.active and not active:
        person.session_epoch += 1
    person.active = active
    db.session.flush()


def find_login(login: str) -> User | None:
    """The user a log-in name or mobile number belongs to."""
    login = (login or "").strip()
    if not login:
        return None
    return db.session.scalar(
        sa.select(User).where(sa.or_(User.username == login, User.mobile == login))
    )


def appoint(
    user: User,
    grid: Grid,
    role: str,
    started_on: date,
    by: User | None = None,
    full_time: bool | None = None,
    title: str | None = None,
    covers: Sequence[Grid] = (),
) -> Membership:
    """Give `user` a post in `grid` from `started_on` (RULES §1: dated, never rewritten)."""
    role = Role(role)
    if grid.level not in ROLE_LEVELS[role] and not (grid.is_key and role == Role.HEAD):
        raise ServiceError(
            _l("This post cannot be held in a level-%(level)s grid.", level=grid.level)
        )
    if grid.is_key and role != Role.HEAD:
        raise ServiceError(_l("A key grid has grid heads only."))
    if role == Role.SUPERVISOR and full_time is None:
        raise ServiceError(_l("Say whether the supervisor is full-time or part-time."))
    if role != Role.SUPERVISOR:
        full_time = None
    if role == Role.SUBHEAD:
        if not covers:
            raise ServiceError(_l("A sub-grid head must cover at least one child grid."))
        if any(c.parent_id != grid.id or c.is_key for c in covers):
            raise ServiceError(_l("A sub-grid head covers child grids of their own grid only."))
    elif covers:
        raise ServiceError(_l("Only a sub-grid head covers child grids."))
    overlap = db.session.scalar(
        sa.select(Membership.id)
        .where(
            Membership.user_id == user.id,
            Membership.grid_id == grid.id,
            Membership.role == role,
            sa.or_(Membership.ended_on.is_(None), Membership.ended_on >= started_on),
        )
        .limit(1)
    )
    if overlap is not None:
        raise ServiceError(_l("This person already holds that post in this grid."))
    membership = Membership(
        user_id=user.id,
        grid_id=grid.id,
        role=role.value,
        full_time=full_time,
        title=(title or "").strip() or None,
        started_on=started_on,
        created_by_id=by and by.id,
    )
    db.session.add(membership)
    db.session.flush()
    if covers:
        db.session.execute(
            membership_cover.insert(),
            [{"membership_id": membership.id, "grid_id": c.id} for c in covers],
        )
    return membership


def end_post(membership: Membership, last_day: date, by: User | None = None) -> None:
    """Close a post on its last day. A post is ended once and otherwise never changed."""
    if membership.ended_on is not None:
        raise ServiceError(_l("This post has already ended."))
    if last_day < membership.started_on:
        raise ServiceError(_l("A post cannot end before it started."))
    membership.ended_on = last_day
    membership.ended_at = utcnow()
    membership.ended_by_id = by and by.id
    db.session.flush()


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


# --- complaint channels -----------------------------------------------------------------------


def add_channel(grid: Grid, name: str, contact: str, by: User | None = None) -> ComplaintChannel:
    """Publish a local complaint channel for a prefecture or county grid."""
    if grid.level not in (1, 2):
        raise ServiceError(_l("Complaint channels belong to the prefecture or a county."))
    name, contact = (name or "").strip(), (contact or "").strip()
    if not name or not contact or len(name) > 100 or len(contact) > 200:
        raise ServiceError(
            _l("A channel needs a name (up to 100 characters) and a contact (up to 200).")
        )
    channel = ComplaintChannel(
        grid_id=grid.id, name=name, contact=contact, created_by_id=by and by.id
    )
    db.session.add(channel)
    db.session.flush()
    return channel


def retire_channel(channel: ComplaintChannel, by: User | None = None) -> None:
    if channel.retired_at is not None:
        raise ServiceError(_l("This channel is already withdrawn."))
    channel.retired_at = utcnow()
    channel.retired_by_id = by and by.id
    db.session.flush()


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
