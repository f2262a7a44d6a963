"""Recording and withdrawing the prefecture office's facts of a month (models.AssessRecord),
each an event of the month's log (journal.py)."""

from datetime import date

from flask_babel import lazy_gettext as _l

from assess import journal
from assess.models import AssessRecord, RecordKind
from extensions import db
from grid.errors import ServiceError
from grid.models import Grid, User
from grid.time import utcnow


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def record(
    county: Grid,
    kind: str,
    title: str,
    *,
    by: User | None,
    month: date | None = None,
    detail: str | None = None,
    due_on: date | None = None,
    rectified_on: date | None = None,
    bad_influence: bool = False,
    problem_id: int | None = None,
) -> AssessRecord:
    """A fact of `county`'s month. An inspection item counts in the month of its deadline;
    the others in `month`. ServiceError names what is wrong; nothing is written then."""
    if county.level != 2:
        raise ServiceError(_l("Choose a county, city or park (a level-2 grid)."))
    if kind not in set(RecordKind):
        raise ServiceError(_l("Choose what is recorded from the list."))
    if not title.strip():
        raise ServiceError(_l("Say what it is."))
    if kind == RecordKind.INSPECTION:
        if due_on is None:
            raise ServiceError(_l("An inspection item needs its deadline."))
        month = first_of_month(due_on)
    else:
        if month is None:
            raise ServiceError(_l("Choose the month it counts in."))
        if due_on or rectified_on or bad_influence:
            raise ServiceError(_l("Only an inspection item has a deadline."))
        month = first_of_month(month)
    made = AssessRecord(
        county_id=county.id,
        kind=kind,
        month=month,
        title=title.strip(),
        detail=detail,
        due_on=due_on,
        rectified_on=rectified_on,
        bad_influence=bad_influence,
        problem_id=problem_id,
        recorded_by_id=by.id if by else None,
    )
    db.session.add(made)
    db.session.flush()
    journal.note(county.id, month, journal.RECORD, by=by, comment=detail, data=_particulars(made))
    return made


def _particulars(item: AssessRecord) -> dict:
    return {
        "record": item.id,
        "kind": item.kind,
        "title": item.title,
        "due_on": item.due_on.isoformat() if item.due_on else None,
        "rectified_on": item.rectified_on.isoformat() if item.rectified_on else None,
        "bad_influence": item.bad_influence,
    }


def rectified(item: AssessRecord, on: date, *, by: User | None) -> None:
    """An inspection item reported rectified on `on`."""
    if item.kind != RecordKind.INSPECTION:
        raise ServiceError(_l("Only an inspection item is rectified."))
    if on > utcnow().date():
        raise ServiceError(_l("The date of rectification is in the future."))
    if item.withdrawn_at is not None:
        raise ServiceError(_l("The record is withdrawn."))
    item.rectified_on = on
    journal.note(item.county_id, item.month, journal.RECTIFY, by=by, data=_particulars(item))


def withdraw(item: AssessRecord, reason: str, *, by: User | None) -> None:
    """A mistaken record withdrawn, with the reason: it counts for nothing from now on."""
    if item.withdrawn_at is not None:
        raise ServiceError(_l("The record is already withdrawn."))
    if not reason.strip():
        raise ServiceError(_l("Say why it is withdrawn."))
    item.withdrawn_at = utcnow()
    item.withdrawn_by_id = by.id if by else None
    item.withdraw_reason = reason.strip()
    journal.note(
        item.county_id,
        item.month,
        journal.WITHDRAW,
        by=by,
        comment=item.withdraw_reason,
        data={"record": item.id},
    )
