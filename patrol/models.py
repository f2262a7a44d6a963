"""Pollution sources (一企一档), daily patrols, their visits, problems found and photo evidence."""

from datetime import date, datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from grid.models import utcnow

# Client-generated UUIDs (36 characters) make every submission from a phone idempotent.
ClientId = sa.String(36)


class Source(db.Model):
    """A pollution source in the ledger, kept by the county (RULES §2)."""

    __tablename__ = "source"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(20))
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)  # level 2
    grid_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grid.id"), index=True)  # level 4
    location = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    address: Mapped[str | None] = mapped_column(sa.String(200))
    key_polluter: Mapped[bool] = mapped_column(default=False)  # 重点排污单位
    special_supervision: Mapped[bool] = mapped_column(default=False)  # 特殊监管对象
    special_reason: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20), default="active")
    status_since: Mapped[date | None] = mapped_column()
    contact_name: Mapped[str | None] = mapped_column(sa.String(60))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(30))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    last_surveyed_on: Mapped[date | None] = mapped_column()
    last_surveyed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_on: Mapped[date] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('active', 'relocated', 'long_stopped', 'bankrupt')",
            name="source_status_known",
        ),
        sa.Index("ix_source_grid_status", "grid_id", "status"),
    )


class SourceChange(db.Model):
    """A dated change of a source's status or grid: the ledger's history, never rewritten."""

    __tablename__ = "source_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("source.id"), index=True)
    effective_on: Mapped[date] = mapped_column()
    status: Mapped[str | None] = mapped_column(sa.String(20))
    grid_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grid.id"))
    note: Mapped[str | None] = mapped_column(sa.String(200))
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SourceSurvey(db.Model):
    """The county's quarterly survey of a source (RULES §2)."""

    __tablename__ = "source_survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("source.id"), index=True)
    surveyed_on: Mapped[date] = mapped_column()
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SourceDocument(db.Model):
    """A file in a source's dossier (permits, assessments, ...)."""

    __tablename__ = "source_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("source.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    storage_key: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size_bytes: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64))
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class _Timed:
    """Columns of anything recorded on a phone: when by its clocks, when by ours (patrol/clock)."""

    device_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    elapsed_ms: Mapped[float | None] = mapped_column()
    boot: Mapped[str | None] = mapped_column(sa.String(36))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    clock_offset_s: Mapped[float | None] = mapped_column()
    clock_basis: Mapped[str | None] = mapped_column(sa.String(8))
    clock_skewed: Mapped[bool] = mapped_column(default=False)


class Patrol(_Timed, db.Model):
    """A supervisor's patrol of their grid: start and end with a fix, the route between."""

    __tablename__ = "patrol"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ClientId, unique=True)
    supervisor_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    start_point = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    start_accuracy_m: Mapped[float | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    end_point = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    end_accuracy_m: Mapped[float | None] = mapped_column()
    end_client_id: Mapped[str | None] = mapped_column(ClientId, unique=True)
    route = mapped_column(Geometry("LINESTRING", srid=4326), nullable=True, deferred=True)
    route_length_m: Mapped[float | None] = mapped_column()


class RoutePoint(db.Model):
    """A kept point of the route (at least 25 m from the previous, at a possible speed)."""

    __tablename__ = "route_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    patrol_id: Mapped[int] = mapped_column(sa.ForeignKey("patrol.id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column()
    device_ms: Mapped[int] = mapped_column(sa.BigInteger)
    lon: Mapped[float] = mapped_column()
    lat: Mapped[float] = mapped_column()
    accuracy_m: Mapped[float | None] = mapped_column()

    __table_args__ = (sa.UniqueConstraint("patrol_id", "device_ms", name="route_point_once"),)


class Visit(_Timed, db.Model):
    """A source seen on a patrol: normal, or a problem found."""

    __tablename__ = "visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ClientId, unique=True)
    patrol_id: Mapped[int] = mapped_column(sa.ForeignKey("patrol.id"), index=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("source.id"), index=True)
    visited_at: Mapped[datetime] = mapped_column(index=True)
    visited_on: Mapped[date] = mapped_column(index=True)  # local calendar day (coverage)
    point = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    accuracy_m: Mapped[float | None] = mapped_column()
    outcome: Mapped[str] = mapped_column(sa.String(10))
    note: Mapped[str | None] = mapped_column(sa.String(1000))

    __table_args__ = (
        sa.CheckConstraint("outcome IN ('normal', 'problem')", name="visit_outcome_known"),
    )


class Problem(_Timed, db.Model):
    """A problem found: where, what, how bad, whether it was stopped on the spot, and where it
    stands now on its way up the grid (patrol/escalation.py). It comes from a patrol, a public
    complaint, an office, or an alert's disposal."""

    __tablename__ = "problem"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str | None] = mapped_column(ClientId, unique=True)
    origin: Mapped[str] = mapped_column(sa.String(12), default="patrol")
    reporter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)  # level 4
    county_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    patrol_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patrol.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visit.id"))
    source_id: Mapped[int | None] = mapped_column(sa.ForeignKey("source.id"), index=True)
    found_at: Mapped[datetime] = mapped_column(index=True)
    location = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    accuracy_m: Mapped[float | None] = mapped_column()
    category: Mapped[str] = mapped_column(sa.String(30))
    severity: Mapped[str] = mapped_column(sa.String(10))
    description: Mapped[str] = mapped_column(sa.String(2000))
    stopped_on_spot: Mapped[bool] = mapped_column(default=False)
    # where it stands: the workflow's state, its deadline, and who must act
    state: Mapped[str] = mapped_column(sa.String(12), default="village", index=True)
    deadline_at: Mapped[datetime | None] = mapped_column(index=True)  # naive UTC
    priority: Mapped[str] = mapped_column(sa.String(8), default="normal")
    supervised: Mapped[bool] = mapped_column(default=False)  # 督办 ordered by the prefecture
    assignee_user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id"), index=True
    )
    assignee_department: Mapped[str | None] = mapped_column(sa.String(100))
    lead_department: Mapped[str | None] = mapped_column(sa.String(100))
    rectify_due: Mapped[date | None] = mapped_column()
    complainant_name: Mapped[str | None] = mapped_column(sa.String(60))
    complainant_contact: Mapped[str | None] = mapped_column(sa.String(100))
    last_event_hash: Mapped[str | None] = mapped_column(sa.String(64))  # head of the chain
    # optimistic versioning: two people acting at once, exactly one wins
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(
            "severity IN ('minor', 'moderate', 'serious')", name="problem_severity_known"
        ),
        sa.CheckConstraint(
            "origin IN ('patrol', 'complaint', 'office', 'alert')", name="problem_origin_known"
        ),
        sa.Index("ix_problem_county_state", "county_id", "state"),
    )


class ProblemEvent(db.Model):
    """One step of a problem: who, in which capacity, when, from which state to which, with
    what comment and attachments. Append-only and chained: each row carries the hash of the
    previous one of its problem (`flask audit verify`)."""

    __tablename__ = "problem_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(sa.ForeignKey("problem.id"), index=True)
    seq: Mapped[int] = mapped_column()  # 1, 2, ... per problem
    at: Mapped[datetime] = mapped_column(index=True)  # naive UTC
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))  # None: system
    capacity: Mapped[str | None] = mapped_column(sa.String(12))
    event: Mapped[str] = mapped_column(sa.String(20))
    from_state: Mapped[str | None] = mapped_column(sa.String(12))
    to_state: Mapped[str] = mapped_column(sa.String(12))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # assignee, due date, lateness...
    deadline_at: Mapped[datetime | None] = mapped_column()
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))

    __table_args__ = (sa.UniqueConstraint("problem_id", "seq", name="problem_event_seq"),)


class UpperFinding(db.Model):
    """A problem found by an upper-level inspection, supervision, complaint or the media
    (scoring item 4): did the grid report it already, or miss it?"""

    __tablename__ = "upper_finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    found_on: Mapped[date] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(sa.String(12))  # inspection supervision complaint media
    media_level: Mapped[str | None] = mapped_column(sa.String(12))  # national region prefecture
    category: Mapped[str] = mapped_column(sa.String(30))
    location = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    place: Mapped[str | None] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.String(2000))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    decision: Mapped[str] = mapped_column(sa.String(20), default="pending")
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        sa.CheckConstraint(
            "decision IN ('pending', 'already_reported', 'missed')",
            name="upper_finding_decision_known",
        ),
        sa.CheckConstraint(
            "kind IN ('inspection', 'supervision', 'complaint', 'media')",
            name="upper_finding_kind_known",
        ),
    )


finding_match = sa.Table(
    "finding_match",
    db.metadata,
    sa.Column("finding_id", sa.ForeignKey("upper_finding.id"), primary_key=True),
    sa.Column("problem_id", sa.ForeignKey("problem.id"), primary_key=True),
)


class Photo(_Timed, db.Model):
    """Photo evidence: the original as received (with its SHA-256), a watermarked display
    image and a thumbnail, the facts and where each came from, and the flags for reviewers."""

    __tablename__ = "photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ClientId, unique=True)
    # None for a member of the public (complaint form)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visit.id"), index=True)
    problem_id: Mapped[int | None] = mapped_column(sa.ForeignKey("problem.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("problem_event.id"))  # after-photo
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    captured_at: Mapped[datetime] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)  # of the file received
    reported_sha256: Mapped[str | None] = mapped_column(sa.String(64))  # of the phone's original
    original_key: Mapped[str] = mapped_column(sa.String(200))
    display_key: Mapped[str] = mapped_column(sa.String(200))
    thumb_key: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int] = mapped_column()
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    phash: Mapped[str] = mapped_column(sa.String(16), index=True)
    taken_at: Mapped[datetime | None] = mapped_column()  # EXIF, camera local time
    position = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    fix_lat: Mapped[float | None] = mapped_column()
    fix_lon: Mapped[float | None] = mapped_column()
    fix_accuracy_m: Mapped[float | None] = mapped_column()
    exif_lat: Mapped[float | None] = mapped_column()
    exif_lon: Mapped[float | None] = mapped_column()
    sources: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # which fact came from where
    flags: Mapped[list] = mapped_column(sa.JSON, default=list)  # [{"code": ..., "detail": {...}}]

    __table_args__ = (
        sa.CheckConstraint(
            "visit_id IS NOT NULL OR problem_id IS NOT NULL", name="photo_belongs_somewhere"
        ),
    )


class SyncReceipt(db.Model):
    """The answer given to each item a phone sent: a repeat gets the same answer, and nothing
    is recorded twice (issue 3: a retry never loses or doubles anything)."""

    __tablename__ = "sync_receipt"

    client_id: Mapped[str] = mapped_column(ClientId, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[int] = mapped_column(sa.SmallInteger)  # the HTTP-like status answered
    response: Mapped[dict] = mapped_column(sa.JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)
