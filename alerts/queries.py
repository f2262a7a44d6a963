"""What pages and other domains read of stations, readings and alerts."""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from alerts import aqi
from alerts.models import (
    POLLUTANTS,
    Alert,
    AlertStatus,
    Dispatch,
    Feedback,
    FeedbackKind,
    Period,
    Reading,
    Station,
    StationKind,
    StationStatus,
)
from extensions import db
from grid.access import Scope
from grid.models import Grid, User
from grid.time import local_day_utc, utcnow

POLLUTANT_CHOICES = POLLUTANTS


def visible_alerts(scope: Scope, user_id: int) -> sa.Select:
    """Alerts of the counties this person sees, and those they were sent to."""
    sent = sa.select(Dispatch.alert_id).where(Dispatch.supervisor_id == user_id)
    return (
        sa.select(Alert)
        .join(Grid, Grid.id == Alert.county_id)
        .where(sa.or_(scope.grid_clause(), Alert.id.in_(sent)))
    )


def stations_by_id(ids: Iterable[int]) -> dict[int, Station]:
    ids = set(ids)
    if not ids:
        return {}
    return {s.id: s for s in db.session.scalars(sa.select(Station).where(Station.id.in_(ids)))}


@dataclass(frozen=True)
class MyDispatch:
    dispatch: Dispatch
    alert: Alert
    station: Station
    answered: frozenset[str]


def my_dispatches(user_id: int) -> list[MyDispatch]:
    """What I was sent to and have not finished: alerts not closed, newest first."""
    rows = db.session.execute(
        sa.select(Dispatch, Alert, Station)
        .join(Alert, Alert.id == Dispatch.alert_id)
        .join(Station, Station.id == Alert.station_id)
        .where(Dispatch.supervisor_id == user_id, Alert.status != AlertStatus.CLOSED)
        .order_by(Dispatch.instructed_at.desc())
    ).all()
    answered = feedback_of([d.id for d, _a, _s in rows])
    return [MyDispatch(d, a, s, frozenset(answered.get(d.id, {}))) for d, a, s in rows]


def dispatches_of(alert_id: int) -> list[Dispatch]:
    return list(
        db.session.scalars(
            sa.select(Dispatch).where(Dispatch.alert_id == alert_id).order_by(Dispatch.id)
        )
    )


def feedback_of(dispatch_ids: list[int]) -> dict[int, dict[str, Feedback]]:
    """Each dispatch's answers by kind."""
    found: dict[int, dict[str, Feedback]] = {}
    if dispatch_ids:
        for f in db.session.scalars(
            sa.select(Feedback).where(Feedback.dispatch_id.in_(dispatch_ids))
        ):
            found.setdefault(f.dispatch_id, {})[f.kind] = f
    return found


def people(ids: Iterable[int]) -> list[User]:
    ids = set(ids)
    return list(db.session.scalars(sa.select(User).where(User.id.in_(ids)))) if ids else []


def recent_values(station_id: int, hours: int = 3) -> dict[str, list[tuple[datetime, float, str]]]:
    """A station's values of the last hours, by pollutant, newest first (at most 12 each)."""
    since = utcnow() - timedelta(hours=hours)
    rows = db.session.execute(
        sa.select(Reading.pollutant, Reading.measured_at, Reading.value, Reading.flag)
        .where(Reading.station_id == station_id, Reading.measured_at > since)
        .order_by(Reading.measured_at.desc())
    )
    found: dict[str, list[tuple[datetime, float, str]]] = {}
    for pollutant, at, value, flag in rows:
        series = found.setdefault(pollutant, [])
        if len(series) < 12:
            series.append((at, value, flag))
    return {p: found[p] for p in POLLUTANTS if p in found}


def active_stations() -> list[Station]:
    return list(
        db.session.scalars(
            sa.select(Station)
            .where(Station.status != StationStatus.RETIRED)
            .order_by(Station.kind, Station.code)
        )
    )


@dataclass(frozen=True)
class StationRow:
    station: Station
    county: str
    open_alerts: int


def station_rows(scope: Scope) -> list[StationRow]:
    """The stations in the grids this person sees, with their county and open alerts."""
    open_alerts = (
        sa.select(sa.func.count(Alert.id))
        .where(Alert.station_id == Station.id, Alert.status != AlertStatus.CLOSED)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(Station, Grid.path, open_alerts)
        .join(Grid, Grid.id == Station.grid_id)
        .where(scope.grid_clause())
        .order_by(Station.kind, Station.code)
    ).all()
    counties = {s.id: _county_id(path) for s, path, _n in rows}
    names = dict(
        db.session.execute(
            sa.select(Grid.id, Grid.name).where(Grid.id.in_(set(counties.values()) or {-1}))
        ).all()
    )
    return [StationRow(s, names.get(counties[s.id], ""), n) for s, _path, n in rows]


def _county_id(path: str) -> int | None:
    """The level-2 grid on a materialised path "/1/8/93/" (8), or None for the root."""
    ids = path.strip("/").split("/")
    return int(ids[1]) if len(ids) > 1 else None


# --- the daily consultation ----------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """A national or regional station's day: each pollutant's daily value and the AQI."""

    station: Station
    values: dict[str, float | None]  # "O3" is the daily maximum 8-hour mean
    result: aqi.AqiResult


def station_figures(day: date) -> list[Figures]:
    """The day's figures of the national and regional stations, from their hourly values (or
    their minute values averaged by the hour), by HJ 633 with the validity rules of GB 3095."""
    start, end = local_day_utc(day)
    stations = list(
        db.session.scalars(
            sa.select(Station)
            .where(Station.kind.in_((StationKind.NATIONAL, StationKind.REGIONAL)))
            .order_by(Station.code)
        )
    )
    rows = db.session.execute(
        sa.select(Reading.station_id, Reading.pollutant, Reading.measured_at, Reading.value).where(
            Reading.station_id.in_([s.id for s in stations] or [-1]),
            Reading.measured_at >= start,
            Reading.measured_at < end,
            Reading.flag == "N",
            Reading.period.in_((Period.HOUR, Period.MINUTE)),
        )
    )
    hourly: dict[tuple[int, str], dict[int, list[float]]] = {}
    for station_id, pollutant, at, value in rows:
        index = int((at - start).total_seconds() // 3600)
        hourly.setdefault((station_id, pollutant), {}).setdefault(index, []).append(value)
    edition = aqi.edition_on(day)
    found = []
    for station in stations:
        values: dict[str, float | None] = {}
        for pollutant in POLLUTANTS:
            hours = hourly.get((station.id, pollutant), {})
            series = [(sum(hours[h]) / len(hours[h])) if h in hours else None for h in range(24)]
            if pollutant == "O3":
                values[pollutant] = aqi.daily_max_8h(series)
            else:
                values[pollutant] = aqi.daily_mean(series)
        keys = {(p, "8h" if p == "O3" else "24h"): v for p, v in values.items()}
        found.append(Figures(station, values, aqi.aqi(keys, edition)))
    return found


@dataclass(frozen=True)
class CountyDay:
    county: Grid
    raised: dict[str, int]  # alerts raised that day, by rule
    open_alerts: int
    overdue: int  # dispatches whose deadline passed unanswered


def county_summary(day: date) -> list[CountyDay]:
    """Per county: the alerts raised that day by rule, the alerts still open, and the clocks
    that ran out unanswered."""
    start, end = local_day_utc(day)
    counties = list(
        db.session.scalars(sa.select(Grid).where(Grid.level == 2).order_by(Grid.code, Grid.id))
    )
    raised: dict[int, dict[str, int]] = {}
    for county_id, rule, n in db.session.execute(
        sa.select(Alert.county_id, Alert.rule, sa.func.count(Alert.id))
        .where(Alert.first_at >= start, Alert.first_at < end)
        .group_by(Alert.county_id, Alert.rule)
    ):
        raised.setdefault(county_id, {})[rule] = n
    open_counts = dict(
        db.session.execute(
            sa.select(Alert.county_id, sa.func.count(Alert.id))
            .where(Alert.status != AlertStatus.CLOSED)
            .group_by(Alert.county_id)
        ).all()
    )
    overdue = dict(
        db.session.execute(
            sa.select(Alert.county_id, sa.func.count(Dispatch.id))
            .join(Alert, Alert.id == Dispatch.alert_id)
            .where(sa.or_(Dispatch.onsite_notice == 2, Dispatch.disposal_notice == 2))
            .where(Dispatch.instructed_at >= start, Dispatch.instructed_at < end)
            .group_by(Alert.county_id)
        ).all()
    )
    return [
        CountyDay(c, raised.get(c.id, {}), open_counts.get(c.id, 0), overdue.get(c.id, 0))
        for c in counties
    ]


# --- a supervisor's month (assess/people.py) --------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """A dispatch to one supervisor and when each of its two answers was recorded (None: not
    recorded); in time means recorded by the deadline it answers (RULES §4: the on-site
    situation within 1 hour, the disposal result within 2 hours)."""

    dispatch_id: int
    alert_id: int
    county_id: int
    station: str
    supervisor_id: int
    instructed_at: datetime
    onsite_due: datetime
    disposal_due: datetime
    onsite_at: datetime | None
    disposal_at: datetime | None

    @property
    def onsite_in_time(self) -> bool:
        return self.onsite_at is not None and self.onsite_at <= self.onsite_due

    @property
    def disposal_in_time(self) -> bool:
        return self.disposal_at is not None and self.disposal_at <= self.disposal_due


def answers_of(
    people: Collection[int] | sa.Select, start: datetime, end: datetime
) -> dict[int, list[Answered]]:
    """The dispatches sent to these people (ids, or a SELECT of them) instructed within
    [start, end) UTC, per person, oldest first, with their answers' recorded times (one
    query)."""
    onsite = sa.orm.aliased(Feedback)
    disposal = sa.orm.aliased(Feedback)
    rows = db.session.execute(
        sa.select(
            Dispatch.id,
            Dispatch.alert_id,
            Alert.county_id,
            Station.name,
            Dispatch.supervisor_id,
            Dispatch.instructed_at,
            Dispatch.onsite_due,
            Dispatch.disposal_due,
            onsite.captured_at,
            disposal.captured_at,
        )
        .join(Alert, Alert.id == Dispatch.alert_id)
        .join(Station, Station.id == Alert.station_id)
        .outerjoin(
            onsite,
            sa.and_(onsite.dispatch_id == Dispatch.id, onsite.kind == FeedbackKind.ONSITE.value),
        )
        .outerjoin(
            disposal,
            sa.and_(
                disposal.dispatch_id == Dispatch.id, disposal.kind == FeedbackKind.DISPOSAL.value
            ),
        )
        .where(
            Dispatch.supervisor_id.in_(people),
            Dispatch.instructed_at >= start,
            Dispatch.instructed_at < end,
        )
        .order_by(Dispatch.instructed_at, Dispatch.id)
    )
    found: dict[int, list[Answered]] = {}
    for row in rows:
        answered = Answered(*row)
        found.setdefault(answered.supervisor_id, []).append(answered)
    return found


# --- what the operator's metrics read (ops.metrics) ----------------------------------------------


def minute_readings_since(since: datetime) -> dict[str, int]:
    """Minute values measured since `since` (naive UTC), by how they came ("hj212", "http",
    "replay"): one range on the (period, measured_at) index, and on PostgreSQL only the newest
    monthly partitions."""
    rows = db.session.execute(
        sa.select(Reading.source, sa.func.count())
        .where(Reading.period == Period.MINUTE.value, Reading.measured_at >= since)
        .group_by(Reading.source)
    )
    return {source: count for source, count in rows}


def stations_reporting(since: datetime) -> dict[str, tuple[int, int]]:
    """Stations by status: how many, and how many had a reading arrive since `since` (naive UTC).
    The register is small (hundreds of stations), so this reads it whole."""
    heard = sa.case((Station.last_reading_at >= since, 1), else_=0)
    rows = db.session.execute(
        sa.select(
            Station.status, sa.func.count(), sa.func.coalesce(sa.func.sum(heard), 0)
        ).group_by(Station.status)
    )
    return {status: (count, reporting) for status, count, reporting in rows}
