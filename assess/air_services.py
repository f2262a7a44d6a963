"""Recording what the air-quality ranking and the weekly key areas need from the prefecture
office (assess/air_models.py): a verified tampering and its withdrawal (RULES §6), a key-area
item scheduled in a week and its weekly checks (§7).

Each service checks everything before it writes: a ServiceError names what is wrong, and
nothing is written then. They flush; the request commits once."""

from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from alerts.models import Station
from assess.air import monday_of
from assess.air_models import KeyAreaCheck, KeyAreaItem, TamperedStation, TamperKind
from extensions import db
from grid.errors import ServiceError
from grid.models import Grid, GridKind, User
from grid.time import local_today, utcnow

SCHEDULE_AHEAD_WEEKS = 1  # the prefecture schedules this week's and next week's items


def _who(by: User | None) -> int | None:
    return by.id if by else None


# --- tampering (RULES §6) ---------------------------------------------------------------------


def record_tampering(
    station: Station,
    first_day: date,
    last_day: date,
    kind: str,
    reason: str,
    *,
    by: User | None,
) -> TamperedStation:
    """A verified tampering at `station` over the local days `first_day` .. `last_day`: from
    now on those days' data counts as the month's highest value of each pollutant there."""
    if kind not in set(TamperKind):
        raise ServiceError(_l("Choose what was done to the station from the list."))
    if first_day > last_day:
        raise ServiceError(_l("The first day of the tampering is after its last day."))
    if last_day > local_today():
        raise ServiceError(_l("A tampering is recorded once verified: its days cannot be ahead."))
    if not reason.strip():
        raise ServiceError(_l("Say what was found and how it was verified."))
    if station.grid_id is None:
        raise ServiceError(_l("The station stands outside every grid: no ranking counts it."))
    overlapping = db.session.scalar(
        sa.select(TamperedStation)
        .where(
            TamperedStation.station_id == station.id,
            TamperedStation.withdrawn_at.is_(None),
            TamperedStation.last_day >= first_day,
            TamperedStation.first_day <= last_day,
        )
        .limit(1)
    )
    if overlapping is not None:
        raise ServiceError(
            _l(
                "A tampering at this station is already recorded for %(first)s to %(last)s; "
                "withdraw it first to record these days again.",
                first=overlapping.first_day.isoformat(),
                last=overlapping.last_day.isoformat(),
            )
        )
    made = TamperedStation(
        station_id=station.id,
        first_day=first_day,
        last_day=last_day,
        kind=kind,
        reason=reason.strip(),
        recorded_by_id=_who(by),
    )
    db.session.add(made)
    db.session.flush()
    return made


def withdraw_tampering(record: TamperedStation, reason: str, *, by: User | None) -> None:
    """A mistaken tampering withdrawn, with the reason: its days count as measured again."""
    if record.withdrawn_at is not None:
        raise ServiceError(_l("The tampering is already withdrawn."))
    if not reason.strip():
        raise ServiceError(_l("Say why it is withdrawn."))
    record.withdrawn_at = utcnow()
    record.withdrawn_by_id = _who(by)
    record.withdraw_reason = reason.strip()
    db.session.flush()


# --- key areas, weekly (RULES §7) -------------------------------------------------------------


def schedule_key_area(
    county: Grid,
    week_of: date,
    title: str,
    *,
    by: User | None,
    detail: str | None = None,
    key_grid: Grid | None = None,
) -> KeyAreaItem:
    """A key-area problem or task of `county` scheduled in the week containing `week_of`,
    perhaps in one of its key grids."""
    if county.level != 2:
        raise ServiceError(_l("Choose a county, city or park (a level-2 grid)."))
    if key_grid is not None and (key_grid.kind != GridKind.KEY or key_grid.parent_id != county.id):
        raise ServiceError(_l("The key grid must be one of the chosen grid's key grids."))
    if not title.strip():
        raise ServiceError(_l("Say what is to be done."))
    week = monday_of(week_of)
    latest = monday_of(local_today()) + timedelta(weeks=SCHEDULE_AHEAD_WEEKS)
    if week > latest:
        raise ServiceError(
            _l("Items are scheduled for this week or the next, not after %(day)s.", day=latest)
        )
    made = KeyAreaItem(
        county_id=county.id,
        key_grid_id=key_grid.id if key_grid else None,
        week=week,
        title=title.strip(),
        detail=(detail or "").strip() or None,
        recorded_by_id=_who(by),
    )
    db.session.add(made)
    db.session.flush()
    return made


def record_check(
    item: KeyAreaItem,
    checked_on: date,
    rectified: bool,
    *,
    by: User | None,
    note: str | None = None,
) -> KeyAreaCheck:
    """A weekly check of a key-area item: one a week, in order, from its week on; the check
    that finds it rectified closes it. Each that does not climbs the ladder of RULES §7."""
    # Two checks of one item at once must not both pass the one-a-week rule.
    db.session.execute(sa.select(KeyAreaItem.id).where(KeyAreaItem.id == item.id).with_for_update())
    db.session.refresh(item)
    if item.rectified_on is not None:
        raise ServiceError(
            _l("The item was found rectified on %(day)s: it is closed.", day=item.rectified_on)
        )
    if checked_on > local_today():
        raise ServiceError(_l("The day of the check is ahead."))
    if checked_on < item.week:
        raise ServiceError(
            _l("The item was scheduled in the week of %(day)s: check it from then.", day=item.week)
        )
    last = db.session.scalar(
        sa.select(sa.func.max(KeyAreaCheck.checked_on)).where(KeyAreaCheck.item_id == item.id)
    )
    if last is not None and monday_of(checked_on) <= monday_of(last):
        raise ServiceError(
            _l(
                "The item was last checked on %(day)s: the next check is in a later week.",
                day=last,
            )
        )
    made = KeyAreaCheck(
        item_id=item.id,
        checked_on=checked_on,
        rectified=rectified,
        note=(note or "").strip() or None,
        recorded_by_id=_who(by),
    )
    db.session.add(made)
    if rectified:
        item.rectified_on = checked_on
    db.session.flush()
    return made
