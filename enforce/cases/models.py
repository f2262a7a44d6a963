"""Typical cases prepared for publication, and their steps (RULES §10, annex 4 of seed 001).

A case keeps two texts: the office's, unredacted (`original_title`, `original`: internal, never
on a public page), and the public one the anonymiser made of it (`title`, `text`), with the
replacements as the editor reviewed them. Every step (prepared, edited, submitted, reviewed,
approved, returned) is a row of its own, never changed: who, when, with what comment.
"""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from grid.time import utcnow


class CaseState(enum.StrEnum):
    DRAFT = "draft"  # the office prepares it (again, after a return)
    SUBMITTED = "submitted"  # waiting for review (审核)
    REVIEWED = "reviewed"  # waiting for approval (审批/签发)
    PUBLISHED = "published"  # on the public page


class CaseStep(enum.StrEnum):
    PREPARED = "prepared"
    EDITED = "edited"
    SUBMITTED = "submitted"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    RETURNED = "returned"  # refused at review or approval: back to draft, with the reason


class TypicalCase(db.Model):
    """One typical case: where it comes from (a closed problem, or typed in), the county it
    belongs to (None: the prefecture's own), its two texts and where it stands."""

    __tablename__ = "enforce_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    problem_id: Mapped[int | None] = mapped_column(sa.ForeignKey("problem.id"), index=True)
    original_title: Mapped[str] = mapped_column(sa.String(200))
    original: Mapped[str] = mapped_column(sa.Text)
    title: Mapped[str] = mapped_column(sa.String(200))
    text: Mapped[str] = mapped_column(sa.Text)
    length: Mapped[int] = mapped_column(default=0)  # of `text`, as annex 4 counts it
    # [{"start", "end", "original", "replacement", "kind", "kept"}] over title + "\n" + original
    replacements: Mapped[list] = mapped_column(sa.JSON, default=list)
    extras: Mapped[list] = mapped_column(sa.JSON, default=list)  # [[phrase, replacement]]
    kept: Mapped[list] = mapped_column(sa.JSON, default=list)  # originals left as written
    state: Mapped[str] = mapped_column(sa.String(12), default=CaseState.DRAFT, index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint(
            "state IN ('draft', 'submitted', 'reviewed', 'published')",
            name="enforce_case_state_known",
        ),
    )


class TypicalCaseStep(db.Model):
    """One step of a case; append-only."""

    __tablename__ = "enforce_case_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("enforce_case.id"), index=True)
    seq: Mapped[int] = mapped_column()  # 1, 2, ... per case
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    step: Mapped[str] = mapped_column(sa.String(12))
    from_state: Mapped[str | None] = mapped_column(sa.String(12))
    to_state: Mapped[str] = mapped_column(sa.String(12))
    comment: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.UniqueConstraint("case_id", "seq", name="enforce_case_step_seq"),
        sa.CheckConstraint(
            "step IN ('prepared', 'edited', 'submitted', 'reviewed', 'approved', 'returned')",
            name="enforce_case_step_known",
        ),
    )
