"""The four-level grid tree, the people in it and their dated posts."""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_login import UserMixin
from geoalchemy2 import Geometry, WKTElement
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from grid.time import utcnow


class GridKind(enum.StrEnum):
    PREFECTURE = "prefecture"  # level 1 州本级
    COUNTY = "county"  # level 2 县市
    PARK = "park"  # level 2 园区
    TOWNSHIP = "township"  # level 3 乡镇(街道)
    VILLAGE = "village"  # level 4 村(社区)
    KEY = "key"  # 重点网格 around an air-quality station, attached to its level-2 grid


KIND_LEVEL = {
    GridKind.PREFECTURE: 1,
    GridKind.COUNTY: 2,
    GridKind.PARK: 2,
    GridKind.TOWNSHIP: 3,
    GridKind.VILLAGE: 4,
    GridKind.KEY: 3,
}


class GeomSource(enum.StrEnum):
    OFFICIAL = "official"  # delivered by the competent authority
    IMPORTED = "imported"  # third-party public data, converted on import
    SYNTHETIC = "synthetic"  # generated (demo tiling); not a real boundary


# Byte-wise ordering on PostgreSQL so that the subtree range query below is exact.
PathType = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")


class Grid(db.Model):
    __tablename__ = "grid"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    # Materialised path of ids, "/1/8/93/": a subtree is one range scan on this index.
    path: Mapped[str] = mapped_column(PathType, unique=True)
    level: Mapped[int] = mapped_column(sa.SmallInteger)
    kind: Mapped[str] = mapped_column(sa.String(12))
    code: Mapped[str | None] = mapped_column(sa.String(12), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    # Deferred: boundaries are large (the prefecture's is ~400 KB); load them only when asked.
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326), nullable=True, deferred=True)
    geom_source: Mapped[str | None] = mapped_column(sa.String(12))
    geom_note: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    parent: Mapped["Grid | None"] = relationship(remote_side=[id], lazy="raise_on_sql")

    __table_args__ = (
        sa.CheckConstraint("level BETWEEN 1 AND 4", name="grid_level_range"),
        sa.Index("ix_grid_level_kind", "level", "kind"),
    )

    @property
    def is_key(self) -> bool:
        return self.kind == GridKind.KEY

    def subtree_clause(self):
        return subtree_clause(self.path)

    def contains_path(self, path: str) -> bool:
        return path.startswith(self.path)

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(p) for p in self.path.strip("/").split("/")[:-1]]

    def __repr__(self) -> str:
        return f"<Grid {self.id} {self.name}>"


def subtree_clause(path: str):
    """Rows whose path starts with `path` (the grid itself and all below), as an index range.

    '/' sorts just before '0', so "starts with '/1/8/'" is exactly '/1/8/' <= p < '/1/80'.
    """
    return sa.and_(Grid.path >= path, Grid.path < path[:-1] + "0")


def point(lon: float, lat: float) -> WKTElement:
    """A WGS-84 point as a geometry column takes it."""
    return WKTElement(f"POINT({float(lon)!r} {float(lat)!r})", srid=4326)


class Role(enum.StrEnum):
    SUPERVISOR = "supervisor"  # 网格监督员, level 3 or 4
    HEAD = "head"  # 网格长
    SUBHEAD = "subhead"  # 分网格长, covers named child grids
    OFFICE = "office"  # staff of the grid office (大气办), level 1 or 2
    ADMIN = "admin"  # administrator of users and posts, level 1 or 2


ROLE_LEVELS = {
    Role.SUPERVISOR: {3, 4},
    Role.HEAD: {1, 2, 3, 4},
    Role.SUBHEAD: {2, 3},
    Role.OFFICE: {1, 2},
    Role.ADMIN: {1, 2},
}


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    mobile: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    office_phone: Mapped[str | None] = mapped_column(sa.String(30))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on password change or deactivation: every existing session then ends.
    session_epoch: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="user", foreign_keys="Membership.user_id", lazy="raise_on_sql"
    )

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}.{self.session_epoch}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        self.session_epoch = (self.session_epoch or 0) + 1

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.username}>"


membership_cover = sa.Table(
    "membership_cover",
    db.metadata,
    sa.Column("membership_id", sa.ForeignKey("membership.id"), primary_key=True),
    sa.Column("grid_id", sa.ForeignKey("grid.id"), primary_key=True),
    sa.Index("ix_membership_cover_grid_id", "grid_id"),
)


class Membership(db.Model):
    """One person's post in one grid for a span of days; ended, never rewritten (RULES §1)."""

    __tablename__ = "membership"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(12))
    full_time: Mapped[bool | None] = mapped_column()  # supervisors only
    title: Mapped[str | None] = mapped_column(sa.String(60))  # e.g. 党委书记, 镇长
    started_on: Mapped[date] = mapped_column()
    ended_on: Mapped[date | None] = mapped_column()  # last day held, inclusive
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    ended_at: Mapped[datetime | None] = mapped_column()
    ended_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    user: Mapped[User] = relationship(
        back_populates="memberships", foreign_keys=[user_id], lazy="raise_on_sql"
    )
    grid: Mapped[Grid] = relationship(lazy="raise_on_sql")
    covers: Mapped[list[Grid]] = relationship(secondary=membership_cover, lazy="raise_on_sql")

    __table_args__ = (
        sa.CheckConstraint(
            "ended_on IS NULL OR ended_on >= started_on", name="membership_dates_ordered"
        ),
        sa.CheckConstraint(
            "role IN ('supervisor', 'head', 'subhead', 'office', 'admin')",
            name="membership_role_known",
        ),
        sa.Index("ix_membership_grid_role", "grid_id", "role"),
    )

    def active_on(self, day: date) -> bool:
        return self.started_on <= day and (self.ended_on is None or self.ended_on >= day)


def active_on_clause(day: date):
    """Memberships held on `day`."""
    return sa.and_(
        Membership.started_on <= day,
        sa.or_(Membership.ended_on.is_(None), Membership.ended_on >= day),
    )


class ComplaintChannel(db.Model):
    """A published complaint channel besides the national 12369 hotline (RULES §1 art. 19)."""

    __tablename__ = "complaint_channel"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    contact: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    retired_at: Mapped[datetime | None] = mapped_column()
    retired_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))


# --- records made on a phone ---------------------------------------------------------------------

# Client-generated UUIDs (36 characters) make every submission from a phone idempotent.
ClientId = sa.String(36)


class PhoneTimed:
    """Columns of anything recorded on a phone (patrols, visits, problems, photos, ...): when, by
    the phone's clocks, and when by ours; sync/clock.py places the record in time from them."""

    device_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    elapsed_ms: Mapped[float | None] = mapped_column()
    boot: Mapped[str | None] = mapped_column(sa.String(36))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    clock_offset_s: Mapped[float | None] = mapped_column()
    clock_basis: Mapped[str | None] = mapped_column(sa.String(8))
    clock_skewed: Mapped[bool] = mapped_column(default=False)


# --- signed-in devices ---------------------------------------------------------------------------


class UserSession(db.Model):
    """One signed-in browser or phone. Its cookie carries a random secret, stored here only as
    its SHA-256 (`token_hash`); the cookie counts only while this row is live (not ended, not
    older than PERMANENT_SESSION_LIFETIME). Ended rows are kept a while, to show who ended them.
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Written at most every few minutes (grid.services.SEEN_EVERY), not on every request.
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_agent: Mapped[str | None] = mapped_column(sa.String(200))
    address: Mapped[str | None] = mapped_column(sa.String(45))  # IPv6 at its longest
    ended_at: Mapped[datetime | None] = mapped_column()
    ended_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))


def live_sessions_clause(since: datetime):
    """Sessions still signed in: not ended, and begun after `since` (now less the lifetime)."""
    return sa.and_(UserSession.ended_at.is_(None), UserSession.created_at > since)
