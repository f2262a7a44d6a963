"""Each county's month has an event log in a hash chain (models.MonthLog, MonthEvent), like a
problem's: what the prefecture office recorded or withdrew, a fact corrected (with the value
measured, the value set and the reason), the freeze, each revision, appeal and decision. The
log is the audit trail of a score: `flask audit verify` checks it with the others, and the
month's page shows it.

A correction before the freeze is an event here and nothing else: gathering the month applies
the latest correction of each fact (`corrections`), so the data it corrects stays as it was."""

from collections import defaultdict
from datetime import date
from typing import Any

import sqlalchemy as sa

from assess.models import MonthEvent, MonthLog
from extensions import db
from grid import audit
from grid.models import User
from grid.registry import CHAINS
from grid.time import utcnow

RECORD, WITHDRAW, RECTIFY = "record", "withdraw", "rectify"
CORRECT, FREEZE, REVISE = "correct", "freeze", "revise"
APPEAL, DECIDE = "appeal", "decide"
EVENTS = (RECORD, WITHDRAW, RECTIFY, CORRECT, FREEZE, REVISE, APPEAL, DECIDE)


def event_record(event: Any) -> dict[str, Any]:
    """What a month event's hash covers: every column but the id and its own hash, the previous
    hash as "prev". Changing it breaks every chain already stored."""
    return {
        "month": event.month_id,
        "seq": event.seq,
        "at": event.at.isoformat(timespec="microseconds"),
        "actor": event.actor_id,
        "event": event.event,
        "comment": event.comment or "",
        "data": event.data or {},
        "prev": event.prev_hash,
    }


def log_of(county_id: int, month: date) -> MonthLog:
    """The county's month's log, begun on its first event."""
    log = db.session.scalar(
        sa.select(MonthLog).where(MonthLog.county_id == county_id, MonthLog.month == month)
    )
    if log is None:
        log = MonthLog(county_id=county_id, month=month)
        db.session.add(log)
        db.session.flush()
    return log


def note(
    county_id: int,
    month: date,
    event: str,
    *,
    by: User | None,
    comment: str | None = None,
    data: dict[str, Any] | None = None,
) -> MonthEvent:
    """Append `event` to the county's month's chain."""
    log = log_of(county_id, month)
    row = MonthEvent(
        month_id=log.id,
        at=utcnow(),
        actor_id=by.id if by else None,
        event=event,
        comment=comment,
        data=data or {},
    )
    return audit.append(CHAINS.entries()["assessment"], log, row)


def events_of(county_id: int, month: date) -> list[MonthEvent]:
    """A county's month's events, oldest first."""
    return list(
        db.session.scalars(
            sa.select(MonthEvent)
            .join(MonthLog, MonthLog.id == MonthEvent.month_id)
            .where(MonthLog.county_id == county_id, MonthLog.month == month)
            .order_by(MonthEvent.seq)
        )
    )


def log_id(county_id: int, month: date) -> int | None:
    return db.session.scalar(
        sa.select(MonthLog.id).where(MonthLog.county_id == county_id, MonthLog.month == month)
    )


def corrections(month: date) -> dict[int, dict[str, Any]]:
    """The facts corrected before the freeze, per county: the latest value set of each fact
    (one query for every county)."""
    found: dict[int, dict[str, Any]] = defaultdict(dict)
    rows = db.session.execute(
        sa.select(MonthLog.county_id, MonthEvent.data)
        .join(MonthLog, MonthLog.id == MonthEvent.month_id)
        .where(MonthLog.month == month, MonthEvent.event == CORRECT)
        .order_by(MonthLog.county_id, MonthEvent.seq)
    )
    for county_id, data in rows:
        found[county_id][data["fact"]] = data["value"]
    return dict(found)
