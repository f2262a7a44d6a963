"""The prefecture office corrects a fact of a county's month, always with a reason.

Before the month is frozen, a correction is an event of the month's log (journal.py) that
gathering applies over the value measured from the data; after, it is a new version of the
snapshot (snapshots.revise), the earlier kept. Either way the log keeps who, when, why, the
value measured and the value set.

What may be corrected: the facts measured from other domains' data (items 1-6). Item 7, the
bonus and the automatic fails are the office's own records: those are withdrawn or recorded,
not corrected; media exposures follow the findings' decisions."""

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l

from assess import facts, journal, snapshots
from extensions import db
from grid.errors import ServiceError
from grid.models import Grid, User
from grid.time import local_today

FLAGS = ("grid_established", "sub_heads_full_coverage", "disclosure_published")
COUNTS = ("missed_problems", "unassigned_reports", "poor_rectifications")
CORRECTABLE = FLAGS + COUNTS
MOST = 10_000  # a count above this is a typing mistake, not a month


def value_of(fact: str, typed: str) -> bool | int:
    """The value typed for `fact`: yes/no for items 1-3, a count for items 4-6."""
    if fact not in CORRECTABLE:
        raise ServiceError(_l("Choose a fact that can be corrected."))
    typed = typed.strip()
    if fact in FLAGS:
        if typed not in ("0", "1"):
            raise ServiceError(_l("Choose whether it is in place."))
        return typed == "1"
    if not typed.isdigit() or int(typed) > MOST:
        raise ServiceError(_l("Write the count as a whole number from 0 to %(most)s.", most=MOST))
    return int(typed)


def correct(
    county: Grid, first: date, fact: str, value: bool | int, reason: str, *, by: User | None
) -> Any:
    """Set `fact` of `county`'s month to `value`, for `reason`. Returns the new version when
    the month is frozen, else the log's event."""
    if county.level != 2:
        raise ServiceError(_l("Choose a county, city or park (a level-2 grid)."))
    if fact not in CORRECTABLE:
        raise ServiceError(_l("Choose a fact that can be corrected."))
    if not reason.strip():
        raise ServiceError(_l("Say why the fact is corrected."))
    if first > local_today():
        raise ServiceError(_l("This month has not begun."))
    frozen = snapshots.latest(first).get(county.id)
    if frozen is not None:
        if frozen.facts[fact] == value:
            raise ServiceError(_l("The month already holds this value."))
        return snapshots.revise(frozen, {fact: value}, f"更正：{reason.strip()}", by=by)
    [measured] = [m for m in facts.gather(first.year, first.month) if m.county.id == county.id]
    before = measured.measured.get(fact, getattr(measured.facts, fact))
    if getattr(measured.facts, fact) == value:
        raise ServiceError(_l("The month already holds this value."))
    event = journal.note(
        county.id,
        first,
        journal.CORRECT,
        by=by,
        comment=reason.strip(),
        data={"fact": fact, "value": value, "measured": before},
    )
    db.session.flush()
    return event
