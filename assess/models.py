"""What the prefecture office records for the monthly assessment that no other domain holds
(RULES §5): the items of national and regional environmental inspections handed to a county
with their deadlines (item 7), the major discoveries it approved (the bonus) and the conditions
of 第六条(三) it verified (the month fails). Media exposures are upper findings of kind "media"
(problems/), not records here.

A record is never deleted: a mistaken one is withdrawn with a reason, and a withdrawn record
counts for nothing."""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from grid.time import utcnow


class RecordKind(enum.StrEnum):
    INSPECTION = "inspection"  # item 7: 国家、自治区环保督察 item, rectified by its deadline?
    BONUS = "bonus"  # 主动发现并上报处置重大问题, approved: +2
    AUTO_FAIL = "auto_fail"  # 第六条(三): the month fails


class AssessRecord(db.Model):
    """One fact of a county's month recorded by the prefecture office (see the module's note).

    `month` is the first day of the month the record counts in: for an inspection item, the
    month of its deadline (an item not rectified by then counts once, in that month)."""

    __tablename__ = "assess_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(12))
    month: Mapped[date] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    detail: Mapped[str | None] = mapped_column(sa.String(2000))
    due_on: Mapped[date | None] = mapped_column()  # inspection items: the deadline
    rectified_on: Mapped[date | None] = mapped_column()  # inspection items: when done
    bad_influence: Mapped[bool] = mapped_column(default=False)  # inspection items: fails the month
    problem_id: Mapped[int | None] = mapped_column(sa.ForeignKey("problem.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column()
    withdrawn_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    withdraw_reason: Mapped[str | None] = mapped_column(sa.String(500))

    __table_args__ = (
        sa.CheckConstraint(
            "kind IN ('inspection', 'bonus', 'auto_fail')", name="assess_record_kind_known"
        ),
        sa.CheckConstraint(
            "kind != 'inspection' OR due_on IS NOT NULL", name="assess_record_inspection_due"
        ),
    )

    @property
    def overdue(self) -> bool:
        """An inspection item not rectified by its deadline (item 7)."""
        return self.due_on is not None and (
            self.rectified_on is None or self.rectified_on > self.due_on
        )


class MonthSnapshot(db.Model):
    """A level-2 grid's month as frozen: the facts and their assessment, never changed again,
    so a notice can always be reproduced. A revision (an accepted appeal, a correction) is a
    new version; the earlier ones are kept and shown. `digest` is the SHA-256 of the
    version's content (assess/snapshots.py): a changed row no longer matches it."""

    __tablename__ = "assess_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"))
    month: Mapped[date] = mapped_column()  # the first day
    version: Mapped[int] = mapped_column()
    facts: Mapped[dict] = mapped_column(sa.JSON)
    result: Mapped[dict] = mapped_column(sa.JSON)
    veto: Mapped[str] = mapped_column(sa.String(8))
    # The county's share of the prefecture's item-4 problems that month (RULES §5 consequences).
    missed_share: Mapped[float] = mapped_column(default=0.0)
    reason: Mapped[str] = mapped_column(sa.String(500))  # why this version exists
    frozen_at: Mapped[datetime] = mapped_column(default=utcnow)
    frozen_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    digest: Mapped[str] = mapped_column(sa.String(64))

    __table_args__ = (
        sa.UniqueConstraint("county_id", "month", "version", name="assess_snapshot_version"),
        sa.Index("ix_assess_snapshot_month", "month", "county_id"),
    )


class AppealStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"  # a new version of the month, with the facts corrected
    REJECTED = "rejected"


class Appeal(db.Model):
    """A county's appeal (申诉) against a deduction of a frozen month, filed within the window
    (ASSESS_APPEAL_WORKING_DAYS after the freeze) and answered by the prefecture office with a
    reason; an accepted one points at the version it produced."""

    __tablename__ = "assess_appeal"

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(sa.ForeignKey("assess_snapshot.id"), index=True)
    item: Mapped[str] = mapped_column(sa.String(10))  # a line key: "item4", "media", "fail", ...
    reason: Mapped[str] = mapped_column(sa.String(2000))
    filed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(sa.String(10), default=AppealStatus.PENDING)
    answer: Mapped[str | None] = mapped_column(sa.String(2000))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    revision_id: Mapped[int | None] = mapped_column(sa.ForeignKey("assess_snapshot.id"))

    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected')", name="assess_appeal_status_known"
        ),
    )


class MonthLog(db.Model):
    """The head of a county's month's event log (assess/journal.py): every record made or
    withdrawn, every fact corrected, the freeze, each revision, appeal and decision is an event
    of the month's hash chain (`flask audit verify`); `last_event_hash` is its head, so a
    removed last event shows too."""

    __tablename__ = "assess_month"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"))
    month: Mapped[date] = mapped_column()  # the first day
    last_event_hash: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (sa.UniqueConstraint("county_id", "month", name="assess_month_county"),)


class MonthEvent(db.Model):
    """One event of a county's month: who, when, what (`event`), why (`comment`) and the
    particulars (`data`: the record, the fact and its values, the version...). Append-only and
    chained like a problem's events."""

    __tablename__ = "assess_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    month_id: Mapped[int] = mapped_column(sa.ForeignKey("assess_month.id"), index=True)
    seq: Mapped[int] = mapped_column()
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    event: Mapped[str] = mapped_column(sa.String(12))
    comment: Mapped[str | None] = mapped_column(sa.String(2000))
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))

    __table_args__ = (sa.UniqueConstraint("month_id", "seq", name="assess_event_seq"),)
