"""Who may see and change what: the one place that decides it.

A person sees the subtrees of the grids they hold a post in (a sub-grid head: of the child grids
they cover); posts in the level-1 grid therefore see everything. Administrators manage people and
posts in their subtree; office staff and administrators of a level-1 or level-2 grid keep its
complaint channels. Grids are public facts, so a refusal on a grid is 403; a person outside one's
reach is 404, so that their existence does not leak.
"""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from flask import abort, g
from flask_login import UserMixin, current_user

from extensions import db
from grid.models import (
    Grid,
    GridKind,
    Membership,
    Role,
    User,
    UserSession,
    active_on_clause,
    live_sessions_clause,
    membership_cover,
    subtree_clause,
)
from grid.time import local_today


class Action(StrEnum):
    VIEW = "view"
    MANAGE_PEOPLE = "manage_people"
    MANAGE_CHANNELS = "manage_channels"
    MANAGE_LEDGER = "manage_ledger"  # the county keeps the pollution-source ledger (RULES §2)


@dataclass(frozen=True)
class Post:
    """One of the current user's posts, as the layout and home page show it."""

    membership_id: int
    role: str
    full_time: bool | None
    grid_id: int
    grid_name: str
    grid_level: int
    grid_kind: str
    grid_path: str
    children: int  # regular child grids
    supervisors: int  # supervisors holding a post in the grid that day


@dataclass(frozen=True)
class Scope:
    user_id: int | None
    posts: tuple[Post, ...]
    view_paths: tuple[str, ...]
    admin_paths: tuple[str, ...]
    office_paths: tuple[str, ...]

    @property
    def everything(self) -> bool:
        return any(p.count("/") == 2 for p in self.view_paths)  # "/<root id>/"

    @property
    def is_admin(self) -> bool:
        return bool(self.admin_paths)

    def sees(self, path: str) -> bool:
        return any(path.startswith(p) for p in self.view_paths)

    def allows(self, action: Action, grid: Grid) -> bool:
        if action == Action.VIEW:
            return self.sees(grid.path)
        if action == Action.MANAGE_PEOPLE:
            return any(grid.path.startswith(p) for p in self.admin_paths)
        if action == Action.MANAGE_CHANNELS:
            return grid.level in (1, 2) and any(grid.path.startswith(p) for p in self.office_paths)
        if action == Action.MANAGE_LEDGER:
            return any(grid.path.startswith(p) for p in self.office_paths)
        return False

    def grid_clause(self):
        """SQL condition on Grid: the grids this scope sees."""
        if not self.view_paths:
            return sa.false()
        return sa.or_(*(subtree_clause(p) for p in _outermost(self.view_paths)))

    def admin_clause(self):
        if not self.admin_paths:
            return sa.false()
        return sa.or_(*(subtree_clause(p) for p in _outermost(self.admin_paths)))


def _outermost(paths) -> list[str]:
    ordered = sorted(set(paths), key=len)
    kept: list[str] = []
    for p in ordered:
        if not any(p.startswith(k) for k in kept):
            kept.append(p)
    return kept


EMPTY = Scope(None, (), (), (), ())


@dataclass(frozen=True)
class Identity(UserMixin):
    """Who is signed in, as every request needs it: a few columns, not the ORM row. Views that
    change the account load the `User` row itself."""

    id: int
    username: str
    name: str
    locale: str | None
    session_epoch: int
    active: bool

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}.{self.session_epoch}"


_DAY = sa.bindparam("day", type_=sa.Date)
_SEEN_BEFORE = sa.bindparam("seen_before", type_=sa.DateTime)
_child = sa.orm.aliased(Grid)
_held = sa.orm.aliased(Membership)
_IDENTITY_COLUMNS = (
    User.id,
    User.username,
    User.name,
    User.locale,
    User.session_epoch,
    User.active,
    Membership.id,
    Membership.role,
    Membership.full_time,
    Grid.id,
    Grid.name,
    Grid.level,
    Grid.kind,
    Grid.path,
    sa.select(sa.func.count(_child.id))
    .where(_child.parent_id == Grid.id, _child.kind != GridKind.KEY)
    .scalar_subquery(),
    sa.select(sa.func.count(_held.id))
    .where(
        _held.grid_id == Grid.id,
        _held.role == Role.SUPERVISOR,
        _held.started_on <= _DAY,
        sa.or_(_held.ended_on.is_(None), _held.ended_on >= _DAY),
    )
    .scalar_subquery(),
)


def _with_posts(select):
    return (
        select.outerjoin(Membership, sa.and_(Membership.user_id == User.id, active_on_clause(_DAY)))
        .outerjoin(Grid, Grid.id == Membership.grid_id)
        .order_by(Grid.level, Grid.path, Membership.role)
    )


# Built once, run on the connection: the first thing every signed-in request does is to find
# who the user is, the posts they hold today and the two headcounts the home page shows.
_IDENTITY_AND_POSTS = _with_posts(
    sa.select(*_IDENTITY_COLUMNS).where(User.id == sa.bindparam("user_id"))
)
# The same, found from the session cookie's live row (one lookup by its unique token).
_SESSION_IDENTITY_AND_POSTS = _with_posts(
    # Whether last_seen_at is due for a write, not the timestamp itself: a date column costs a
    # parse per row on SQLite, and every request reads this.
    sa.select(UserSession.id, UserSession.last_seen_at < _SEEN_BEFORE, *_IDENTITY_COLUMNS)
    .select_from(UserSession)
    .join(User, User.id == UserSession.user_id)
    .where(
        UserSession.token_hash == sa.bindparam("token_hash"),
        live_sessions_clause(sa.bindparam("since", type_=sa.DateTime)),
    )
)
_COVERED_PATHS = (
    sa.select(Grid.path)
    .join(membership_cover, membership_cover.c.grid_id == Grid.id)
    .where(membership_cover.c.membership_id.in_(sa.bindparam("ids", expanding=True)))
)


@dataclass(frozen=True)
class SessionSeen:
    """The live session a request came with."""

    id: int
    due: bool  # last seen before the `seen_before` asked about


def load_identity(user_id: int, day: date) -> tuple[Identity | None, Scope]:
    """The user and the scope of the posts they hold on `day`, in one query (two for
    sub-grid heads)."""
    rows = (
        db.session.connection().execute(_IDENTITY_AND_POSTS, {"user_id": user_id, "day": day}).all()
    )
    if not rows:
        return None, EMPTY
    return _identity(rows, 0)


def load_session_identity(
    token_hash: str, since: datetime, seen_before: datetime, day: date
) -> tuple[Identity | None, Scope, SessionSeen | None]:
    """As `load_identity`, for the session whose token hashes to `token_hash`, if it is live
    (not ended, begun after `since`), and whether it was last seen before `seen_before`: the same
    one query."""
    params = {"token_hash": token_hash, "since": since, "seen_before": seen_before, "day": day}
    rows = db.session.connection().execute(_SESSION_IDENTITY_AND_POSTS, params).all()
    if not rows:
        return None, EMPTY, None
    identity, scope = _identity(rows, 2)
    return identity, scope, SessionSeen(rows[0][0], bool(rows[0][1]))


def _identity(rows, start: int) -> tuple[Identity, Scope]:
    identity = Identity(*rows[0][start : start + 6])
    posts = tuple(Post(*row[start + 6 :]) for row in rows if row[start + 6] is not None)
    return identity, _scope(identity.id, posts)


def scope_for(user: User | Identity, day: date) -> Scope:
    """The scope of `user` from the posts they hold on `day`."""
    return load_identity(user.id, day)[1]


def _scope(user_id: int, posts: tuple[Post, ...]) -> Scope:
    view, admin, channels = [], [], []
    subheads = [p.membership_id for p in posts if p.role == Role.SUBHEAD]
    if subheads:
        view.extend(db.session.connection().execute(_COVERED_PATHS, {"ids": subheads}).scalars())
    for p in posts:
        if p.role != Role.SUBHEAD:
            view.append(p.grid_path)
        if p.role == Role.ADMIN:
            admin.append(p.grid_path)
        if p.role in (Role.ADMIN, Role.OFFICE):
            channels.append(p.grid_path)
    return Scope(user_id, posts, tuple(view), tuple(admin), tuple(channels))


def current_scope() -> Scope:
    """The signed-in user's scope, computed once per request."""
    if not current_user.is_authenticated:
        return EMPTY
    if "scope" not in g:  # normally set by the user loader already
        g.scope = scope_for(current_user, local_today())
    return g.scope


def current_account() -> User:
    """The signed-in person's own row, for what changes or records who did it (`current_user`
    is a few columns read once per request, not the row)."""
    return db.session.get(User, current_user.id)


def grid_or_abort(grid_id: int, action: Action = Action.VIEW) -> Grid:
    """The grid, if the current user may do `action` on it; 404 if none, else 403."""
    grid = db.session.get(Grid, grid_id)
    if grid is None:
        abort(404)
    if not current_scope().allows(action, grid):
        abort(403)
    return grid


def visible_people_clause(scope: Scope):
    """Users an administrator may manage: those with any post (past or present) in their
    subtree, and those they created who have no post yet."""
    if not scope.admin_paths:
        return User.id == scope.user_id
    posted = (
        sa.select(Membership.user_id)
        .join(Grid, Grid.id == Membership.grid_id)
        .where(scope.admin_clause())
    )
    unposted = ~sa.exists().where(Membership.user_id == User.id)
    mine = User.created_by_id == scope.user_id
    if scope.everything:
        return sa.true()
    return sa.or_(User.id.in_(posted), sa.and_(unposted, mine), User.id == scope.user_id)


def person_or_404(user_id: int) -> User:
    """A person the current administrator may manage; anything else is 404."""
    scope = current_scope()
    if not scope.is_admin:
        abort(404)
    user = db.session.scalar(
        sa.select(User).where(User.id == user_id, visible_people_clause(scope))
    )
    if user is None:
        abort(404)
    return user
