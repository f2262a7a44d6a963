"""The exceedance workflow's actions (RULES §8, seed 000); they flush, the caller commits once.

- The office registers an enterprise's monitoring points (MN and HJ 212 password) and sets its
  emission limits; a limit is never rewritten, a new one starts on a later day.
- `compute_day` finds a day's hours over the limit (enforce.exceed.rules) at every active
  point. It can be run again at any time (each morning by the task queue, by hand with
  `flask enforce exceedances --day`): an hour found again keeps the centre's decision and its
  report and disposal; an hour no longer found is dropped unless a report already holds it.
- The centre (the prefecture office) marks an exceedance invalid with a reason, or valid again,
  until the day's report for its county is issued.
- It issues the day's report to each county that had data that day; a county without data
  that day gets none ("no data for <day>").
- The county records, for exceedances of its reports, a case filed with its number or an
  investigation opinion, with the photos of the verification.
"""

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from alerts.models import Station
from alerts.services import secret_hash
from enforce.exceed import rules
from enforce.exceed.models import (
    CemsValue,
    DailyReport,
    Disposal,
    DisposalKind,
    EmissionLimit,
    Exceedance,
    ExceedanceStatus,
    MonitoringPoint,
    PointType,
    ValuePeriod,
    disposal_photo,
)
from evidence import services as evidence
from evidence.storage import PhotoStore
from extensions import db
from grid.errors import ServiceError
from grid.models import Grid, User
from grid.time import local_zone, utcnow
from sources.models import Source

MN_MAX = 24
CASE_NUMBER_MAX = 60
OPINION_MAX = 4000
REASON_MAX = 500
MAX_PHOTOS = 9


def min_valid_minutes() -> int:
    """The valid minutes an hour needs (EXCEED_MIN_VALID_MINUTES, a project parameter)."""
    return int(current_app.config.get("EXCEED_MIN_VALID_MINUTES", rules.MIN_VALID_MINUTES))


# --- monitoring points and limits --------------------------------------------------------------


def add_point(
    source: Source, name: str, mn: str, password: str, st: str, lenient: bool = False
) -> MonitoringPoint:
    """Register a CEMS of `source` for the HJ 212 receiver."""
    name, mn = name.strip(), mn.strip()
    if not name:
        raise ServiceError(_l("Name the monitoring point (its outlet, say)."))
    if not mn or len(mn) > MN_MAX or not mn.isascii() or not mn.isalnum():
        raise ServiceError(_l("The MN must be 1 to 24 letters and digits, as set on the device."))
    if st not in tuple(PointType):
        raise ServiceError(_l("Choose the kind of emissions: 31 air or 32 water."))
    if not 6 <= len(password) <= 64 or ";" in password or "," in password:
        raise ServiceError(
            _l("The HJ 212 password must be 6 to 64 characters, without ';' or ','.")
        )
    taken = db.session.scalar(
        sa.select(sa.literal(1)).where(MonitoringPoint.mn == mn)
    ) or db.session.scalar(sa.select(sa.literal(1)).where(Station.mn == mn))
    if taken:
        raise ServiceError(_l("MN %(mn)s is already used by a point or a station.", mn=mn))
    point = MonitoringPoint(
        source_id=source.id,
        county_id=source.county_id,
        name=name[:100],
        mn=mn,
        pw_hash=secret_hash(password),
        st=st,
        lenient=lenient,
        active=True,
    )
    db.session.add(point)
    db.session.flush()
    return point


def set_active(point: MonitoringPoint, active: bool) -> None:
    """Take a point out of service (its packets are refused) or back in."""
    point.active = active
    db.session.flush()


def set_limit(
    point: MonitoringPoint,
    code: str,
    value: float | None,
    standard: str,
    valid_from: date | None,
    by: User | None,
) -> EmissionLimit:
    """A pollutant's limit at the point from `valid_from` on, with the standard it comes from."""
    code = code.strip()
    pollutant = rules.POLLUTANTS.get(code)
    if pollutant is None:
        raise ServiceError(
            _l(
                "Unknown pollutant code %(code)s: use one of %(codes)s.",
                code=code or "-",
                codes=", ".join(rules.POLLUTANTS),
            )
        )
    if pollutant.st != point.st:
        raise ServiceError(
            _l(
                "%(code)s (%(name)s) is not measured at a point of kind %(st)s.",
                code=code,
                name=pollutant.name,
                st=point.st,
            )
        )
    if value is None or not value > 0:
        raise ServiceError(_l("The limit must be a number above zero."))
    if not standard.strip():
        raise ServiceError(_l("Name the standard the limit comes from (GB 13223-2011 表1, say)."))
    if valid_from is None:
        raise ServiceError(_l("Say from which day the limit applies."))
    clash = db.session.scalar(
        sa.select(EmissionLimit.id).where(
            EmissionLimit.point_id == point.id,
            EmissionLimit.code == code,
            EmissionLimit.valid_from == valid_from,
        )
    )
    if clash is not None:
        raise ServiceError(
            _l(
                "A limit of %(code)s from %(day)s is already set; set a new one from a later day.",
                code=code,
                day=valid_from.isoformat(),
            )
        )
    limit = EmissionLimit(
        point_id=point.id,
        code=code,
        value=value,
        unit=pollutant.unit,
        standard=standard.strip()[:200],
        valid_from=valid_from,
        set_by_id=by.id if by else None,
        set_at=utcnow(),
    )
    db.session.add(limit)
    db.session.flush()
    return limit


# --- the daily computation ---------------------------------------------------------------------


@dataclass
class Computed:
    """What `compute_day` did."""

    day: date
    points: int = 0
    valid: int = 0  # exceedances
    invalid: int = 0  # hours over the limit with invalid data
    dropped: int = 0  # found before, not any more


def compute_day(day: date) -> Computed:
    """Every point's hours of `day` (local) over the limit in force, kept as
    exceedances; the centre's decisions, reports and disposals of hours found again kept.
    The hours are averaged by the database (`day_hours`): a day of minute values is never read
    into Python, only a row per point, pollutant, hour and flag."""
    zone = local_zone()
    start, end = rules.day_bounds(day, zone)
    needed = min_valid_minutes()
    outcome = Computed(day)
    # Every point, out of service or not: what it sent while it was in service counts.
    points = {p.id: p for p in db.session.scalars(sa.select(MonitoringPoint))}
    limits: dict[tuple[int, str], list[rules.Limit]] = defaultdict(list)
    for row in db.session.scalars(
        sa.select(EmissionLimit).where(
            EmissionLimit.point_id.in_(points), EmissionLimit.valid_from <= day
        )
    ):
        limits[(row.point_id, row.code)].append(
            rules.Limit(row.value, row.valid_from, row.unit, row.standard)
        )
    codes = sorted({code for _point_id, code in limits})
    values = day_hours(sorted({point_id for point_id, _code in limits}), codes, start, end, needed)
    found: dict[tuple[int, str, datetime], rules.Finding] = {}
    for (point_id, code), hours in values.items():
        if (point_id, code) not in limits:
            continue
        for finding in rules.over_limits(hours, limits[(point_id, code)], zone):
            found[(point_id, code, finding.hour.hour)] = finding
    outcome.points = len({point_id for point_id, code in values if (point_id, code) in limits})
    existing = {
        (e.point_id, e.code, e.hour): e
        for e in db.session.scalars(
            sa.select(Exceedance).where(Exceedance.hour >= start, Exceedance.hour < end)
        )
    }
    now = utcnow()
    for key, finding in found.items():
        point = points[key[0]]
        row = existing.pop(key, None)
        if row is None:
            row = Exceedance(point_id=point.id, code=key[1], hour=key[2], day=day)
            db.session.add(row)
        _fill(row, point, finding, now)
        if row.status == ExceedanceStatus.VALID:
            outcome.valid += 1
        else:
            outcome.invalid += 1
    for row in existing.values():
        if row.report_id is None and row.disposal_id is None:
            db.session.delete(row)
            outcome.dropped += 1
    db.session.flush()
    return outcome


def _fill(row: Exceedance, point: MonitoringPoint, finding: rules.Finding, now: datetime) -> None:
    hour = finding.hour
    row.source_id = point.source_id
    row.county_id = point.county_id
    row.average = hour.average
    row.limit_value = finding.limit.value
    row.unit = finding.limit.unit
    row.standard = finding.limit.standard
    row.minutes = hour.minutes
    row.flag = hour.flag
    row.computed_at = now
    if row.invalid_at is None:  # no decision of the centre's: the data say
        row.status = ExceedanceStatus.VALID if finding.valid else ExceedanceStatus.INVALID
        row.invalid_reason = hour.reason


# --- the centre's screening and reports ---------------------------------------------------------


def mark(exceedance: Exceedance, valid: bool, reason: str, by: User) -> Exceedance:
    """The centre's decision: invalid data (with a reason) or a valid exceedance."""
    if exceedance.report_id is not None:
        raise ServiceError(
            _l("The daily report with this hour is already issued: it cannot be changed.")
        )
    reason = reason.strip()
    if not valid and not reason:
        raise ServiceError(_l("Say why the data are invalid (maintenance, calibration, ...)."))
    exceedance.status = ExceedanceStatus.VALID if valid else ExceedanceStatus.INVALID
    exceedance.invalid_reason = None if valid else reason[:REASON_MAX]
    exceedance.invalid_by_id = by.id
    exceedance.invalid_at = utcnow()
    db.session.flush()
    return exceedance


CHUNK = 500  # points per query


def hour_key(at: sa.ColumnElement) -> sa.ColumnElement[datetime]:
    """The start of the hour of `at` (naive UTC), in SQL: date_trunc on PostgreSQL; on SQLite,
    where SQLAlchemy stores a DateTime as text 'YYYY-MM-DD HH:MM:SS.ffffff', strftime to
    'YYYY-MM-DD HH:00:00', which SQLAlchemy's DateTime reads back as the same naive datetime."""
    if db.engine.dialect.name == "postgresql":
        return sa.func.date_trunc("hour", at, type_=sa.DateTime)
    return sa.type_coerce(sa.func.strftime("%Y-%m-%d %H:00:00", at), sa.DateTime)


def minute_tallies(
    point_ids: list[int], codes: list[str], start: datetime, end: datetime
) -> Iterator[sa.Row]:
    """The minute values of the points from `start` to `end` (UTC), counted and summed by the
    database per point, code, hour start and flag: rows (point_id, code, hour, flag, minutes,
    total). Read along the primary key (point, code, period, time), a range per point and
    code, so a day costs the same whatever the table holds."""
    values = CemsValue.__table__.c
    hour = hour_key(values.at).label("hour")
    for first in range(0, len(point_ids), CHUNK):
        chunk = point_ids[first : first + CHUNK]
        yield from db.session.execute(
            sa.select(
                values.point_id,
                values.code,
                hour,
                values.flag,
                sa.func.count().label("minutes"),
                sa.func.sum(values.value).label("total"),
            )
            .where(
                values.point_id.in_(chunk),
                values.code.in_(codes),
                values.period == ValuePeriod.MINUTE,
                values.at >= start,
                values.at < end,
            )
            .group_by(values.point_id, values.code, hour, values.flag)
        )


def day_values(
    point_ids: list[int], codes: list[str], start: datetime, end: datetime
) -> Iterator[sa.Row]:
    """The hour values (CN 2061 packets, as sent) of the points from `start` to `end` (UTC):
    rows (point_id, code, at, value, flag), read along the primary key. The minute values are
    not read: the database counts and sums them per hour (`minute_tallies`)."""
    values = CemsValue.__table__.c
    for first in range(0, len(point_ids), CHUNK):
        chunk = point_ids[first : first + CHUNK]
        yield from db.session.execute(
            sa.select(values.point_id, values.code, values.at, values.value, values.flag).where(
                values.point_id.in_(chunk),
                values.code.in_(codes),
                values.period == ValuePeriod.HOUR,
                values.at >= start,
                values.at < end,
            )
        )


def day_hours(
    point_ids: list[int], codes: list[str], start: datetime, end: datetime, min_valid: int
) -> dict[tuple[int, str], list[rules.HourValue]]:
    """Each hour's value from `start` to `end` (UTC) of each (point, code) with data
    (rules.hours_from_tallies): the hour packet's, else from the hour's minutes as counted
    and summed by the database."""
    tallies: dict[tuple[int, str], dict[datetime, dict[str, rules.Tally]]] = defaultdict(dict)
    for row in minute_tallies(point_ids, codes, start, end):
        by_hour = tallies[(row.point_id, row.code)].setdefault(row.hour, {})
        by_hour[row.flag] = rules.Tally(int(row.minutes), float(row.total))
    packets: dict[tuple[int, str], list[rules.Sample]] = defaultdict(list)
    for row in day_values(point_ids, codes, start, end):
        packets[(row.point_id, row.code)].append(rules.Sample(row.at, row.value, row.flag))
    return {
        key: rules.hours_from_tallies(tallies.get(key, {}), packets.get(key, []), min_valid)
        for key in tallies.keys() | packets.keys()
    }


def points_with_data(point_ids: list[int], day: date) -> set[int]:
    """Which of the points sent a value of that (local) day (a probe of the primary key per
    point, code and period)."""
    start, end = rules.day_bounds(day, local_zone())
    values = CemsValue.__table__.c
    found: set[int] = set()
    for first in range(0, len(point_ids), CHUNK):
        chunk = point_ids[first : first + CHUNK]
        found |= set(
            db.session.scalars(
                sa.select(MonitoringPoint.id).where(
                    MonitoringPoint.id.in_(chunk),
                    sa.exists().where(
                        values.point_id == MonitoringPoint.id,
                        values.code.in_(list(rules.POLLUTANTS)),
                        values.period.in_(list(ValuePeriod)),
                        values.at >= start,
                        values.at < end,
                    ),
                )
            )
        )
    return found


def counties_with_data(day: date) -> set[int]:
    """The counties one of whose points sent a value of that (local) day."""
    points = dict(
        db.session.execute(sa.select(MonitoringPoint.id, MonitoringPoint.county_id)).all()
    )
    return {points[p] for p in points_with_data(sorted(points), day)}


def county_has_data(county_id: int, day: date) -> bool:
    """Whether any point of the county sent a value of that (local) day."""
    points = db.session.scalars(
        sa.select(MonitoringPoint.id).where(MonitoringPoint.county_id == county_id)
    ).all()
    return bool(points_with_data(list(points), day))


def issue_report(county_id: int, day: date, by: User | None) -> DailyReport:
    """The exceedance daily report of `day` to the county, with the day's exceedances."""
    county = db.session.get(Grid, county_id)
    if county is None or county.level != 2:
        raise ServiceError(_l("No such county."))
    if not county_has_data(county_id, day):
        raise ServiceError(
            _l(
                "No data for %(day)s from the monitoring points of %(county)s: no report issued.",
                day=day.isoformat(),
                county=county.name,
            )
        )
    issued = db.session.scalar(
        sa.select(DailyReport).where(DailyReport.county_id == county_id, DailyReport.day == day)
    )
    if issued is not None:
        raise ServiceError(
            _l(
                "The report of %(day)s for %(county)s is already issued.",
                day=day.isoformat(),
                county=county.name,
            )
        )
    report = DailyReport(
        county_id=county_id, day=day, issued_at=utcnow(), issued_by_id=by.id if by else None
    )
    db.session.add(report)
    db.session.flush()
    db.session.execute(
        sa.update(Exceedance)
        .where(
            Exceedance.county_id == county_id,
            Exceedance.day == day,
            Exceedance.report_id.is_(None),
        )
        .values(report_id=report.id)
        .execution_options(synchronize_session="fetch")
    )
    return report


def issue_reports(day: date, by: User | None) -> list[DailyReport]:
    """The day's report to every county that had data that day and has none yet."""
    counties = counties_with_data(day)
    done = set(db.session.scalars(sa.select(DailyReport.county_id).where(DailyReport.day == day)))
    wanted = sorted(set(counties) - done)
    if not wanted:
        raise ServiceError(
            _l("No report to issue for %(day)s: no data, or every report issued.", day=day)
        )
    return [issue_report(county_id, day, by) for county_id in wanted]


# --- the county's disposals ---------------------------------------------------------------------


@dataclass
class DisposalForm:
    """What the county sends: the exceedances it answers, and how."""

    exceedance_ids: Sequence[int]
    kind: str
    case_number: str = ""
    opinion: str = ""
    photos: Sequence[evidence.Prepared] = ()


def record_disposal(
    report: DailyReport, form: DisposalForm, by: User, store: PhotoStore | None
) -> Disposal:
    """A case filed (with its number) or an investigation opinion (with its text) for one or
    several exceedances of the county's report, with the verification's photos."""
    if not form.exceedance_ids:
        raise ServiceError(_l("Tick the exceedances this case or opinion is for."))
    chosen = db.session.scalars(
        sa.select(Exceedance)
        .where(Exceedance.id.in_(form.exceedance_ids), Exceedance.report_id == report.id)
        .with_for_update()
    ).all()
    if len(chosen) != len(set(form.exceedance_ids)):
        raise ServiceError(_l("Some of the ticked exceedances are not in this report."))
    if any(e.status != ExceedanceStatus.VALID for e in chosen):
        raise ServiceError(_l("Invalid data need neither a case nor an opinion."))
    if any(e.disposal_id is not None for e in chosen):
        raise ServiceError(_l("Some of the ticked exceedances already have a case or an opinion."))
    case_number = form.case_number.strip()
    opinion = form.opinion.strip()
    if form.kind == DisposalKind.CASE:
        if not case_number:
            raise ServiceError(_l("A case filed needs its case number."))
        if len(case_number) > CASE_NUMBER_MAX:
            raise ServiceError(_l("The case number is too long (at most 60 characters)."))
        opinion = opinion[:OPINION_MAX] or None
    elif form.kind == DisposalKind.OPINION:
        if not opinion:
            raise ServiceError(_l("Write the investigation opinion."))
        if len(opinion) > OPINION_MAX:
            raise ServiceError(_l("The opinion is too long (at most 4,000 characters)."))
        case_number = ""
    else:
        raise ServiceError(_l("Choose: a case filed, or an investigation opinion."))
    if len(form.photos) > MAX_PHOTOS:
        raise ServiceError(_l("Send at most %(n)s photos.", n=MAX_PHOTOS))
    now = utcnow()
    disposal = Disposal(
        county_id=report.county_id,
        kind=form.kind,
        case_number=case_number or None,
        opinion=opinion or None,
        recorded_by_id=by.id,
        recorded_at=now,
    )
    db.session.add(disposal)
    db.session.flush()
    for exceedance in chosen:
        exceedance.disposal_id = disposal.id
    for data in form.photos:
        photo = evidence.keep(
            store, data, grid_id=report.county_id, uploaded_by_id=by.id, captured_at=now
        )
        evidence.attach(disposal_photo, disposal.id, photo)
    db.session.flush()
    return disposal
