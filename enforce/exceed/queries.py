"""What the exceedance pages, the hub and the documents read."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from enforce.exceed import rules, services
from enforce.exceed.models import (
    DailyReport,
    Disposal,
    EmissionLimit,
    Exceedance,
    ExceedanceStatus,
    MonitoringPoint,
    disposal_photo,
)
from extensions import db
from grid.models import Grid
from grid.time import local_zone
from sources.models import Source


@dataclass
class Row:
    """One exceedance as shown: the hour in local time, the pollutant's name."""

    item: Exceedance
    point: str
    local_hour: datetime
    pollutant: str
    disposal: Disposal | None = None

    @property
    def valid(self) -> bool:
        return self.item.status == ExceedanceStatus.VALID


@dataclass
class Enterprise:
    source: Source
    rows: list[Row] = field(default_factory=list)

    @property
    def valid(self) -> int:
        return sum(1 for r in self.rows if r.valid)


@dataclass
class CountyDay:
    """A county's part of a day: its enterprises over the limit, whether it had data, and the
    report if issued."""

    county: Grid
    has_data: bool
    report: DailyReport | None
    enterprises: list[Enterprise] = field(default_factory=list)

    @property
    def valid(self) -> int:
        return sum(e.valid for e in self.enterprises)

    @property
    def invalid(self) -> int:
        return sum(len(e.rows) - e.valid for e in self.enterprises)


def _local(hour: datetime) -> datetime:
    return hour.replace(tzinfo=UTC).astimezone(local_zone()).replace(tzinfo=None)


def pollutant_name(code: str) -> str:
    found = rules.POLLUTANTS.get(code)
    return f"{found.name}（{code}）" if found else code


def _rows(items: list[Exceedance]) -> list[Row]:
    points = dict(
        db.session.execute(
            sa.select(MonitoringPoint.id, MonitoringPoint.name).where(
                MonitoringPoint.id.in_({e.point_id for e in items} or {-1})
            )
        ).all()
    )
    disposals = {
        d.id: d
        for d in db.session.scalars(
            sa.select(Disposal).where(
                Disposal.id.in_({e.disposal_id for e in items if e.disposal_id} or {-1})
            )
        )
    }
    return [
        Row(
            e,
            points.get(e.point_id, "?"),
            _local(e.hour),
            pollutant_name(e.code),
            disposals.get(e.disposal_id) if e.disposal_id else None,
        )
        for e in items
    ]


def _by_enterprise(items: list[Exceedance]) -> list[Enterprise]:
    sources = {
        s.id: s
        for s in db.session.scalars(
            sa.select(Source).where(Source.id.in_({e.source_id for e in items} or {-1}))
        )
    }
    grouped: dict[int, Enterprise] = {}
    for row in _rows(items):
        grouped.setdefault(row.item.source_id, Enterprise(sources[row.item.source_id])).rows.append(
            row
        )
    return sorted(grouped.values(), key=lambda e: e.source.name)


def day_screen(day: date) -> list[CountyDay]:
    """The centre's day: each county with monitoring points, its enterprises' hours over the
    limit, whether it had data, its report."""
    items = list(
        db.session.scalars(
            sa.select(Exceedance)
            .where(Exceedance.day == day)
            .order_by(Exceedance.source_id, Exceedance.hour, Exceedance.code)
        )
    )
    with_points = set(db.session.scalars(sa.select(MonitoringPoint.county_id).distinct()))
    counties = db.session.scalars(
        sa.select(Grid).where(Grid.id.in_(with_points or {-1})).order_by(Grid.code, Grid.name)
    ).all()
    data = services.counties_with_data(day)
    reports = {
        r.county_id: r
        for r in db.session.scalars(sa.select(DailyReport).where(DailyReport.day == day))
    }
    by_county: dict[int, list[Exceedance]] = defaultdict(list)
    for item in items:
        by_county[item.county_id].append(item)
    return [
        CountyDay(c, c.id in data, reports.get(c.id), _by_enterprise(by_county[c.id]))
        for c in counties
    ]


def report_rows(report: DailyReport) -> list[Enterprise]:
    items = list(
        db.session.scalars(
            sa.select(Exceedance)
            .where(Exceedance.report_id == report.id)
            .order_by(Exceedance.source_id, Exceedance.hour, Exceedance.code)
        )
    )
    return _by_enterprise(items)


def reports(county_ids: list[int] | None, limit: int = 60) -> list[tuple[DailyReport, Grid, int]]:
    """Reports, newest first, with their county and how many valid exceedances still wait for
    a case or an opinion; `county_ids` None: every county."""
    waiting = (
        sa.select(sa.func.count())
        .where(
            Exceedance.report_id == DailyReport.id,
            Exceedance.status == ExceedanceStatus.VALID,
            Exceedance.disposal_id.is_(None),
        )
        .scalar_subquery()
    )
    query = (
        sa.select(DailyReport, Grid, waiting)
        .join(Grid, Grid.id == DailyReport.county_id)
        .order_by(DailyReport.day.desc(), Grid.name)
        .limit(limit)
    )
    if county_ids is not None:
        query = query.where(DailyReport.county_id.in_(county_ids or [-1]))
    return [(r, g, n) for r, g, n in db.session.execute(query)]


def waiting_disposals(county_ids: list[int] | None) -> int:
    """Valid exceedances of issued reports without a case or an opinion."""
    query = sa.select(sa.func.count()).where(
        Exceedance.report_id.is_not(None),
        Exceedance.status == ExceedanceStatus.VALID,
        Exceedance.disposal_id.is_(None),
    )
    if county_ids is not None:
        query = query.where(Exceedance.county_id.in_(county_ids or [-1]))
    return db.session.scalar(query) or 0


def reports_to_issue(today: date, days: int = 7) -> list[tuple[date, int]]:
    """(day, counties) of the last `days` days before today whose computed exceedances (valid
    or not) are in no report yet. A county with data and nothing over the limit gets its nil
    report from the day's screen (reading the values of every point is not for the hub)."""
    rows = db.session.execute(
        sa.select(Exceedance.day, sa.func.count(sa.distinct(Exceedance.county_id)))
        .where(
            Exceedance.day >= today - timedelta(days=days),
            Exceedance.day < today,
            Exceedance.report_id.is_(None),
        )
        .group_by(Exceedance.day)
        .order_by(Exceedance.day.desc())
    )
    return [(day, count) for day, count in rows]


def points_of(county_ids: list[int] | None) -> list[tuple[MonitoringPoint, Source]]:
    query = (
        sa.select(MonitoringPoint, Source)
        .join(Source, Source.id == MonitoringPoint.source_id)
        .order_by(Source.name, MonitoringPoint.name)
    )
    if county_ids is not None:
        query = query.where(MonitoringPoint.county_id.in_(county_ids or [-1]))
    return [(p, s) for p, s in db.session.execute(query)]


def limits_of(point_ids: list[int]) -> dict[int, list[EmissionLimit]]:
    found: dict[int, list[EmissionLimit]] = defaultdict(list)
    for limit in db.session.scalars(
        sa.select(EmissionLimit)
        .where(EmissionLimit.point_id.in_(point_ids or [-1]))
        .order_by(EmissionLimit.code, EmissionLimit.valid_from.desc())
    ):
        found[limit.point_id].append(limit)
    return found


def disposal_county(photo_id: int) -> int | None:
    """The county of the disposal a photo belongs to, if any."""
    return db.session.scalar(
        sa.select(Disposal.county_id)
        .join(disposal_photo, disposal_photo.c.enforce_disposal_id == Disposal.id)
        .where(disposal_photo.c.photo_id == photo_id)
    )


def disposal_photos(disposal_ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    for owner, photo in db.session.execute(
        sa.select(disposal_photo.c.enforce_disposal_id, disposal_photo.c.photo_id).where(
            disposal_photo.c.enforce_disposal_id.in_(disposal_ids or [-1])
        )
    ):
        found[owner].append(photo)
    return found


def sources_for_points(county_ids: list[int] | None, limit: int = 500) -> list[Source]:
    """Active industrial sources a point may be registered on, key polluters first."""
    query = (
        sa.select(Source)
        .where(Source.status == "active")
        .order_by(Source.key_polluter.desc(), Source.name)
        .limit(limit)
    )
    if county_ids is not None:
        query = query.where(Source.county_id.in_(county_ids or [-1]))
    return list(db.session.scalars(query))
