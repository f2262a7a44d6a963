"""Actions on the grid tree and its people. Services flush; the caller commits once."""

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from geoalchemy2.shape import from_shape
from shapely.geometry.base import BaseGeometry

from extensions import db
from grid.errors import ServiceError
from grid.imports import BoundaryFeature, DivisionRow, ImportRejected
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
    UserSession,
    membership_cover,
)
from grid.queries import root_grid, subtree
from grid.tiling import as_multipolygon
from grid.time import utcnow

DIVISION_KINDS = {
    1: GridKind.PREFECTURE,
    2: GridKind.COUNTY,
    3: GridKind.TOWNSHIP,
    4: GridKind.VILLAGE,
}


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
    by: User | None = None,
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
        created_by_id=by and by.id,
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


# --- signed-in devices --------------------------------------------------------------------------

SEEN_EVERY = timedelta(minutes=5)  # how stale last_seen_at may get: pages do not write each time
ENDED_KEPT = timedelta(days=90)  # ended or expired sessions stay listed this long, then go


def session_token_hash(secret: str) -> str:
    """What is stored of a session cookie's secret: a leaked table signs nobody in."""
    return hashlib.sha256(secret.encode()).hexdigest()


def start_session(
    user: User, *, user_agent: str | None, address: str | None, lifetime: timedelta
) -> str:
    """Record a newly signed-in device of `user`; the secret its cookie carries. The person's
    sessions that ended (or expired) long ago are removed on the way."""
    now = utcnow()
    db.session.execute(
        sa.delete(UserSession)
        .where(
            UserSession.user_id == user.id,
            sa.or_(
                UserSession.ended_at < now - ENDED_KEPT,
                UserSession.created_at < now - lifetime - ENDED_KEPT,
            ),
        )
        .execution_options(synchronize_session=False)
    )
    secret = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            token_hash=session_token_hash(secret),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            user_agent=_printable(user_agent, 200),
            address=_printable(address, 45),
        )
    )
    db.session.flush()
    return secret


def end_session(session_id: int, user_id: int, by_id: int | None) -> bool:
    """End one of `user_id`'s sessions for good (signing out, or a lost phone); False if it
    was not theirs or had ended already."""
    ended = db.session.execute(
        sa.update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.user_id == user_id,
            UserSession.ended_at.is_(None),
        )
        .values(ended_at=utcnow(), ended_by_id=by_id)
        .execution_options(synchronize_session=False)
    )
    return bool(ended.rowcount)


def end_sessions_of(user: User, by: User | None) -> int:
    """End every session of `user` (an administrator's "sign out everywhere"); how many."""
    ended = db.session.execute(
        sa.update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_by_id=by and by.id)
        .execution_options(synchronize_session=False)
    )
    return ended.rowcount


def touch_session(session_id: int, now: datetime) -> None:
    """Note that a session is in use (callers do it at most every SEEN_EVERY)."""
    db.session.execute(
        sa.update(UserSession)
        .where(UserSession.id == session_id)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def _printable(text: str | None, length: int) -> str | None:
    """Header text as it may be stored: printable characters only, cut to the column."""
    if not text:
        return None
    return "".join(ch for ch in text if ch.isprintable())[:length] or None
