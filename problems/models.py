"""Problems on their way up the grid, their chained events, and upper-level findings."""

from datetime import date, datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column

from evidence.models import photo_links
from extensions import db
from grid.models import ClientId, PhoneTimed
from grid.time import utcnow


class Problem(PhoneTimed, db.Model):
    """A problem found: where, what, how bad, whether it was stopped on the spot, and where it
    stands now on its way up the grid (problems/escalation.py). It comes from a patrol, a public
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


# The photos of a problem: as reported, and those that came with a step (after-photos of a
# rectification, say), which name the step.
problem_photo = photo_links(
    "problem", sa.Column("event_id", sa.ForeignKey("problem_event.id"), nullable=True)
)
