"""What the monthly cycle of the exceedance workflow records (RULES §8, seed 000).

- A step done: one of the month's steps (enforce.exceed.cycle.Step), by the body that owes it,
  on the local date it was recorded (never typed: the date is the record's, so lateness cannot
  be argued away). A county's report is one step per county and keeps the counts it showed
  when submitted. Each step is done once (`party` is the county's id, or "" for the
  prefecture's steps, so that the one-per-month constraint holds on every database).
- The review meeting's minutes, once per month.
- The clues: the enterprises without a case that the meeting decided on, with the flags that
  decide who handles each; `kept` is filled when the centre makes the handover list (True: the
  detachment keeps it, False: handed to its county).

Nothing here is changed once written: a step done is a fact with its date."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from grid.time import utcnow

STEP_NAMES = (
    "county_report",
    "detachment_stats",
    "centre_compile",
    "review_meeting",
    "clue_handover",
    "monthly_notice",
)


class CycleStep(db.Model):
    """One step of month `month`'s cycle, done on `done_on` (local date)."""

    __tablename__ = "enforce_cycle_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column()  # the first day of the month reported
    step: Mapped[str] = mapped_column(sa.String(20))
    party: Mapped[str] = mapped_column(sa.String(20))  # the county's id, "" for the prefecture
    county_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grid.id"))
    done_on: Mapped[date] = mapped_column()
    note: Mapped[str | None] = mapped_column(sa.String(2000))
    # A county's report: what it showed when submitted.
    exceedances: Mapped[int | None] = mapped_column()
    cases: Mapped[int | None] = mapped_column()
    opinions: Mapped[int | None] = mapped_column()
    undisposed: Mapped[int | None] = mapped_column()
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("month", "step", "party", name="enforce_cycle_step_once"),
        sa.CheckConstraint(
            "step IN ('county_report', 'detachment_stats', 'centre_compile', 'review_meeting', "
            "'clue_handover', 'monthly_notice')",
            name="enforce_cycle_step_known",
        ),
        sa.CheckConstraint(
            "(step = 'county_report') = (county_id IS NOT NULL)",
            name="enforce_cycle_step_county_reports",
        ),
    )


class ReviewMinutes(db.Model):
    """The minutes of month `month`'s review meeting (会审会议纪要), held on `met_on`."""

    __tablename__ = "enforce_cycle_minutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column()
    met_on: Mapped[date] = mapped_column()
    summary: Mapped[str] = mapped_column(sa.String(4000))  # 月度汇总
    county_cases: Mapped[str | None] = mapped_column(sa.String(4000))  # 各县市案件情况
    conclusions: Mapped[str] = mapped_column(sa.String(4000))  # 会审结论
    escalations: Mapped[str | None] = mapped_column(sa.String(4000))  # 升级处理意见
    accountability: Mapped[str | None] = mapped_column(sa.String(4000))  # 问责线索
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("month", name="enforce_cycle_minutes_once"),)


class CycleClue(db.Model):
    """An enterprise without a case in month `month`, as the review meeting decided on it."""

    __tablename__ = "enforce_cycle_clue"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column()
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("source.id"))
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"))
    exceedances: Mapped[int] = mapped_column()
    escalated: Mapped[bool] = mapped_column(default=False)
    key_polluter: Mapped[bool] = mapped_column(default=False)
    difficult: Mapped[bool] = mapped_column(default=False)
    kept: Mapped[bool | None] = mapped_column()  # True: the detachment; False: the county

    __table_args__ = (sa.UniqueConstraint("month", "source_id", name="enforce_cycle_clue_once"),)
