"""Appeals (申诉) against a frozen month's deductions: filed by the county within the window,
answered by the prefecture office with a reason; an accepted appeal corrects the facts it names
and produces a new version of the month (snapshots.revise), the old one kept."""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from assess import journal, snapshots
from assess.models import Appeal, AppealStatus, MonthSnapshot
from extensions import db
from grid.errors import ServiceError
from grid.models import User
from grid.time import local_zone, utcnow, work_calendar

# What a county may appeal, and whether its month holds such a deduction (by its facts and
# result): the deductions of items 4-7 (with item 7's spill), the media and a forced fail.
APPEALABLE = {
    "item4": lambda facts, result: facts["missed_problems"] > 0,
    "item5": lambda facts, result: facts["unassigned_reports"] > 0,
    "item6": lambda facts, result: facts["poor_rectifications"] > 0,
    "item7": lambda facts, result: facts["overdue_inspection_items"] > 0,
    "media": lambda facts, result: bool(facts["media_exposures"]),
    "fail": lambda facts, result: bool(result["forced_fail"]),
}


def open_items(snapshot: MonthSnapshot) -> list[str]:
    """The deductions of this version that may be appealed (none under appeal already)."""
    pending = set(
        db.session.scalars(
            sa.select(Appeal.item).where(
                Appeal.snapshot_id == snapshot.id, Appeal.status == AppealStatus.PENDING
            )
        )
    )
    return [
        item
        for item, holds in APPEALABLE.items()
        if item not in pending and holds(snapshot.facts, snapshot.result)
    ]


def deadline(snapshot: MonthSnapshot) -> datetime:
    """The end of the appeal window (naive UTC): ASSESS_APPEAL_WORKING_DAYS working days after
    the month's first freeze, by the official calendar."""
    first = snapshots.versions(snapshot.county_id, snapshot.month)[-1]
    return working_deadline(first.frozen_at, current_app.config["ASSESS_APPEAL_WORKING_DAYS"])


def working_deadline(start: datetime, days: int) -> datetime:
    """`days` working days after `start` (naive UTC), counted in local time (naive UTC)."""
    local = start.replace(tzinfo=UTC).astimezone(local_zone())
    end = work_calendar().add_working_days(local, days)
    return end.astimezone(UTC).replace(tzinfo=None)


def file(
    snapshot: MonthSnapshot, item: str, reason: str, *, by: User | None, now: datetime | None = None
) -> Appeal:
    """The county appeals one deduction of its month's latest version."""
    now = now or utcnow()
    holds = APPEALABLE.get(item)
    if holds is None or not holds(snapshot.facts, snapshot.result):
        raise ServiceError(_l("Choose a deduction of this month to appeal."))
    if not reason.strip():
        raise ServiceError(_l("Say why the deduction is wrong."))
    latest = snapshots.latest(snapshot.month).get(snapshot.county_id)
    if latest is None or latest.id != snapshot.id:
        raise ServiceError(_l("Appeal the latest version of the month."))
    if now > deadline(snapshot):
        raise ServiceError(_l("The time to appeal this month has passed."))
    open_one = db.session.scalar(
        sa.select(Appeal.id).where(
            Appeal.snapshot_id == snapshot.id,
            Appeal.item == item,
            Appeal.status == AppealStatus.PENDING,
        )
    )
    if open_one is not None:
        raise ServiceError(_l("This deduction is already under appeal."))
    appeal = Appeal(
        snapshot_id=snapshot.id, item=item, reason=reason.strip(), filed_by_id=by.id if by else None
    )
    db.session.add(appeal)
    db.session.flush()
    journal.note(
        snapshot.county_id,
        snapshot.month,
        journal.APPEAL,
        by=by,
        comment=appeal.reason,
        data={"appeal": appeal.id, "item": item, "version": snapshot.version},
    )
    return appeal


def decide(
    appeal: Appeal,
    accept: bool,
    answer: str,
    *,
    by: User | None,
    changes: dict[str, Any] | None = None,
) -> MonthSnapshot | None:
    """Accept (with the facts corrected: a new version of the month) or reject, with the
    reason either way. Returns the new version when accepted."""
    if appeal.status != AppealStatus.PENDING:
        raise ServiceError(_l("This appeal has been answered."))
    if not answer.strip():
        raise ServiceError(_l("Give the reason for the decision."))
    appeal.answer, appeal.decided_at = answer.strip(), utcnow()
    appeal.decided_by_id = by.id if by else None
    snapshot = db.session.get(MonthSnapshot, appeal.snapshot_id)
    if not accept:
        appeal.status = AppealStatus.REJECTED
        _noted(appeal, snapshot, by, None)
        return None
    if not changes:
        raise ServiceError(_l("Say which facts the accepted appeal corrects."))
    revision = snapshots.revise(
        snapshot, changes, f"申诉 #{appeal.id} 成立：{answer.strip()}", by=by
    )
    appeal.status, appeal.revision_id = AppealStatus.ACCEPTED, revision.id
    _noted(appeal, snapshot, by, revision)
    return revision


def _noted(appeal: Appeal, snapshot: MonthSnapshot, by: User | None, revision) -> None:
    journal.note(
        snapshot.county_id,
        snapshot.month,
        journal.DECIDE,
        by=by,
        comment=appeal.answer,
        data={
            "appeal": appeal.id,
            "status": appeal.status,
            "version": revision.version if revision else None,
        },
    )


def of_month(county_id: int, month) -> list[Appeal]:
    """A county's appeals of a month (every version), oldest first."""
    return list(
        db.session.scalars(
            sa.select(Appeal)
            .join(MonthSnapshot, MonthSnapshot.id == Appeal.snapshot_id)
            .where(MonthSnapshot.county_id == county_id, MonthSnapshot.month == month)
            .order_by(Appeal.id)
        )
    )
