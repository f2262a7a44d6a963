"""Raising alerts: a station's recent readings through the anomaly rules (anomaly.py), each
finding raising an alert or updating the one already open, and telling the county.

What the rules see, for each pollutant:
- the hour: the mean of the valid values of the last 60 minutes (at least ALERT_HOUR_MIN_VALUES
  minute values, or the latest hourly value of a station that sends hours): the level rule
  compares its 1-hour IAQI (HJ 633; PM by the daily breakpoints) with the threshold;
- now: the mean of the valid values of the last 5 minutes (ADF's averaging), and before it the
  5 minutes before: the spike and spatial rules compare these, the spatial one with the same
  5 minutes at the stations within the neighbour radius;
- the history of the last flat_hours and more for the flat-line rule, and every value's HJ 212
  flag for the flag rule; the time of the last reading received for the silence rule.
A station under maintenance is not evaluated; a retired one never.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite

from alerts import anomaly, aqi
from alerts.labels import RULES as RULE_LABELS
from alerts.labels import alert_text
from alerts.models import (
    Alert,
    AlertKind,
    AlertStatus,
    Period,
    Reading,
    Station,
    StationDay,
    StationStatus,
)
from extensions import db
from grid.errors import ServiceError
from grid.models import Grid, Membership, Role, User, active_on_clause
from grid.time import local_date, local_today, utcnow
from i18n import N_
from notify.registry import subject_path
from notify.services import notify, to_group

log = logging.getLogger(__name__)
SHORT = timedelta(minutes=5)
HOUR = timedelta(hours=1)
AVERAGING_1H = {"O3": "1h", "SO2": "1h", "NO2": "1h", "CO": "1h", "PM10": "1h", "PM2.5": "1h"}


def rules() -> anomaly.Rules:
    return anomaly.Rules.from_mapping(current_app.config["ALERT_RULES"] or {})


@dataclass
class Window:
    """One station's readings of the last hours: minute and real-time values by pollutant,
    oldest first, and the latest hourly value of each (a station that sends hours)."""

    samples: dict[str, list[anomaly.Sample]]
    hourly: dict[str, anomaly.Sample]

    def valid(self, pollutant: str, start: datetime, end: datetime) -> list[float]:
        return [
            s.value
            for s in self.samples.get(pollutant, [])
            if start < s.at <= end and s.flag == "N"
        ]

    def short(self, pollutant: str, end: datetime) -> float | None:
        """The mean of the valid values of the 5 minutes up to `end`; for a station sending
        hours, its latest valid hourly value of the 2 hours before."""
        values = self.valid(pollutant, end - SHORT, end)
        if values:
            return sum(values) / len(values)
        latest = self.hourly.get(pollutant)
        if latest and end - 2 * HOUR < latest.at <= end and latest.flag == "N":
            return latest.value
        return None

    def hour(self, pollutant: str, end: datetime) -> float | None:
        """The mean of the last hour, from enough minute values, or the latest hourly value."""
        values = self.valid(pollutant, end - HOUR, end)
        if len(values) >= current_app.config["ALERT_HOUR_MIN_VALUES"]:
            return sum(values) / len(values)
        latest = self.hourly.get(pollutant)
        if latest and end - 2 * HOUR < latest.at <= end and latest.flag == "N":
            return latest.value
        return None

    def every(self) -> list[anomaly.Sample]:
        return [s for series in self.samples.values() for s in series] + list(self.hourly.values())


def _window(station_ids: list[int], since: datetime, until: datetime) -> dict[int, Window]:
    rows = db.session.execute(
        sa.select(
            Reading.station_id,
            Reading.pollutant,
            Reading.period,
            Reading.measured_at,
            Reading.value,
            Reading.flag,
        )
        .where(
            Reading.station_id.in_(station_ids),
            Reading.period.in_((Period.MINUTE, Period.REALTIME, Period.HOUR)),
            Reading.measured_at > since,
            Reading.measured_at <= until,
        )
        .order_by(Reading.measured_at)
    )
    windows = {sid: Window({}, {}) for sid in station_ids}
    for station_id, pollutant, period, at, value, flag in rows:
        sample = anomaly.Sample(at, pollutant, value, flag)
        window = windows[station_id]
        if period == Period.HOUR:
            window.hourly[pollutant] = sample  # ordered by time: the latest stays
        else:
            window.samples.setdefault(pollutant, []).append(sample)
    return windows


def _neighbours(station: Station, candidates: list[Station], radius_km: float) -> list[Station]:
    return [
        other
        for other in candidates
        if other.id != station.id
        and anomaly.distance_km(station.lat, station.lon, other.lat, other.lon) <= radius_km
    ]


def evaluate(station: Station, now: datetime | None = None) -> list[Alert]:
    """Run the rules for one station now; returns the alerts raised or updated."""
    return evaluate_many([station], now)


def evaluate_many(stations: list[Station], now: datetime | None = None) -> list[Alert]:
    """Run the rules for several stations at one moment (the replay's minute: every station),
    reading all their windows and their neighbours' in two queries."""
    # A station outside every county has nobody to tell: it is left out (and logged), so that
    # it cannot fail the evaluation of every other station of the batch.
    stations = [s for s in stations if s.status == StationStatus.ACTIVE and _routed(s)]
    if not stations:
        return []
    now = now or utcnow()
    params = rules()
    active = list(
        db.session.scalars(sa.select(Station).where(Station.status == StationStatus.ACTIVE))
    )
    near = {s.id: _neighbours(s, active, params.neighbour_radius_km) for s in stations}
    history = max(params.flat_hours, 1) + 1
    own = _window([s.id for s in stations], now - timedelta(hours=history), now)
    others = {n.id for found in near.values() for n in found} - set(own)
    windows = {**_window(sorted(others), now - 2 * HOUR, now), **own}
    ratios = anomaly_ratios([s.id for s in stations], local_date(now))
    raised, counted = [], {}
    for station in stations:
        around = [windows[n.id] for n in near[station.id]]
        window = own[station.id]
        findings = _findings(station, window, around, now, params, ratios.get(station.id))
        if window.samples or window.hourly:  # the rules looked at readings
            counted[station.id] = any(f.rule in ANOMALOUS for f in findings)
        raised += [raise_or_update(station, finding, now) for finding in findings]
    _count_days(counted, local_date(now))
    return raised


# What makes an evaluation anomalous for the suspect rule (ADF): a sudden rise, or a station
# above its neighbours. A level alert is the air, not the device.
ANOMALOUS = ("spike", "spatial")
SUSPECT_MIN_EVALUATIONS = 60  # a day's evaluations before the suspect rule speaks


def anomaly_ratios(station_ids: list[int], today: date) -> dict[int, tuple[float, float, float]]:
    """Each station's share of anomalous evaluations over the last 1, 7 and 14 days, for
    stations the rules looked at often enough today."""
    if not station_ids:
        return {}
    sums = []
    for days in (1, 7, 14):
        recent = StationDay.day >= today - timedelta(days=days - 1)
        sums += [
            sa.func.sum(sa.case((recent, StationDay.evaluations), else_=0)),
            sa.func.sum(sa.case((recent, StationDay.anomalous), else_=0)),
        ]
    rows = db.session.execute(
        sa.select(StationDay.station_id, *sums)
        .where(
            StationDay.station_id.in_(station_ids),
            StationDay.day >= today - timedelta(days=13),
        )
        .group_by(StationDay.station_id)
    )
    found = {}
    for station_id, e1, a1, e7, a7, e14, a14 in rows:
        if (e1 or 0) >= SUSPECT_MIN_EVALUATIONS:
            found[station_id] = (a1 / e1, a7 / e7, a14 / e14)
    return found


def _count_days(counted: dict[int, bool], day: date) -> None:
    """One more evaluation for each station (anomalous or not), in one statement."""
    if not counted:
        return
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    table = StationDay.__table__
    insert = dialect.insert(table)
    db.session.execute(
        insert.on_conflict_do_update(
            index_elements=[table.c.station_id, table.c.day],
            set_={
                "evaluations": table.c.evaluations + 1,
                "anomalous": table.c.anomalous + insert.excluded.anomalous,
            },
        ),
        [
            {"station_id": sid, "day": day, "evaluations": 1, "anomalous": int(bad)}
            for sid, bad in sorted(counted.items())
        ],
    )


def _findings(
    station: Station,
    own: Window,
    near: list[Window],
    now: datetime,
    params: anomaly.Rules,
    ratios: tuple[float, float, float] | None = None,
) -> list[anomaly.Finding]:
    latest, previous, neighbours, hour = [], {}, {}, {}
    for pollutant in set(own.samples) | set(own.hourly):
        current = own.short(pollutant, now)
        newest = max(
            own.samples.get(pollutant, [])[-1:]
            + ([own.hourly[pollutant]] if pollutant in own.hourly else []),
            key=lambda sample: sample.at,
        )
        if current is not None:
            latest.append(anomaly.Sample(now, pollutant, current, "N"))
        if newest.flag != "N":
            latest.append(newest)  # a flagged value is what the station says now
        before = own.short(pollutant, now - SHORT)
        if before is not None:
            previous[pollutant] = before
        neighbours[pollutant] = [
            value for window in near if (value := window.short(pollutant, now)) is not None
        ]
        hour[pollutant] = own.hour(pollutant, now)
    findings = anomaly.evaluate(
        now,
        latest,
        previous,
        own.every(),
        neighbours,
        _last_seen(station),
        params,
        ratios=ratios,
    )
    # The level rule on the hour's value, for pollutants the health items left alone.
    if not any(f.kind == "health" and f.pollutant is None for f in findings):
        broken = {f.pollutant for f in findings if f.kind == "health"}
        for pollutant, value in hour.items():
            if value is None or pollutant in broken:
                continue
            found = anomaly.level(pollutant, value, _iaqi(pollutant, value), params)
            if found:
                findings.append(found)
    return findings


def _last_seen(station: Station) -> datetime:
    """When the station last sent; one never heard from counts from when it was registered."""
    return station.last_reading_at or station.created_at


def _iaqi(pollutant: str, value: float) -> int | None:
    """The 1-hour IAQI; above the table counts as 500 (the worst there is, never nothing)."""
    result = aqi.iaqi(pollutant, value, AVERAGING_1H[pollutant], aqi.edition_on(local_today()))
    return 500 if result is None else result


def _routed(station: Station) -> bool:
    if county_of(station) is not None:
        return True
    log.warning("station %s lies outside every county: its readings raise no alert", station.code)
    return False


def county_of(station: Station) -> Grid | None:
    if station.grid_id is None:
        return None
    grid = db.session.get(Grid, station.grid_id)
    if grid.level <= 2:
        return grid if grid.level == 2 else None
    return db.session.get(Grid, grid.ancestor_ids[1])


def raise_or_update(
    station: Station, finding: anomaly.Finding, now: datetime, by_id: int | None = None
) -> Alert:
    """The open alert of this station, rule and pollutant, updated; or a new one, and the
    county told. Two evaluations at once meet at the partial unique index: the loser updates."""
    pollutant = finding.pollutant or ""
    open_alert = _open_alert(station.id, finding.rule, pollutant)
    if open_alert is None:
        county = county_of(station)
        if county is None:
            raise ValueError(f"station {station.code} lies outside every county")
        alert = Alert(
            station_id=station.id,
            county_id=county.id,
            rule=finding.rule,
            kind=finding.kind,
            pollutant=pollutant,
            status=AlertStatus.OPEN,
            message=finding.message,
            params=_json(finding.params),
            first_at=now,
            last_at=now,
            count=1,
            last_value=finding.value,
            peak_value=finding.value,
            threshold=finding.threshold,
            raised_by_id=by_id,
        )
        try:
            with db.session.begin_nested():
                db.session.add(alert)
        except sa.exc.IntegrityError:
            open_alert = _open_alert(station.id, finding.rule, pollutant)
        else:
            _tell_county(alert, station)
            return alert
    open_alert.count += 1
    open_alert.last_at = now
    open_alert.last_value = finding.value
    if finding.value is not None:
        open_alert.peak_value = max(open_alert.peak_value or finding.value, finding.value)
    open_alert.message = finding.message
    open_alert.params = _json(finding.params)
    return open_alert


def _open_alert(station_id: int, rule: str, pollutant: str) -> Alert | None:
    return db.session.scalar(
        sa.select(Alert).where(
            Alert.station_id == station_id,
            Alert.rule == rule,
            Alert.pollutant == pollutant,
            Alert.status != AlertStatus.CLOSED,
        )
    )


def _json(params: dict) -> dict:
    """Finding parameters as JSON keeps them (numbers and text)."""
    return {
        k: (v if isinstance(v, int | float | str) or v is None else str(v))
        for k, v in params.items()
    }


def county_office(county_id: int) -> list[int]:
    """The county's grid office (its office staff and its head) today."""
    return list(
        db.session.scalars(
            sa.select(Membership.user_id).where(
                Membership.grid_id == county_id,
                Membership.role.in_((Role.OFFICE, Role.HEAD)),
                active_on_clause(local_today()),
            )
        )
    )


def _tell_county(alert: Alert, station: Station) -> None:
    db.session.flush()
    message = (
        N_("Station %(station)s may be faulty: please have it checked.")
        if alert.kind == AlertKind.HEALTH
        else N_("New alert at %(station)s: please send someone.")
    )
    notify(
        county_office(alert.county_id),
        f"alert.{alert.kind}",
        f"alert:{alert.id}",
        message,
        {"station": station.name},
    )
    tell_group(alert, station, message, {"station": station.name})


def tell_group(
    alert: Alert, station: Station, message: str, params: dict, mobiles: tuple[str, ...] = ()
) -> None:
    """The county's group robots (WeCom, DingTalk), in Chinese: the offices work in those
    groups, and phones in China often cannot receive the browsers' push."""
    with force_locale("zh_CN"):
        title = gettext(message) % params
        lines = [
            f"{gettext('Station')}：{station.name}（{station.code}）",
            f"{gettext(RULE_LABELS.get(alert.rule, alert.rule))}：{alert_text(alert)}",
            f"#{alert.id} {subject_path(f'alert:{alert.id}') or ''}",
        ]
    to_group(alert.county_id, title, lines, mobiles)


def evaluate_all(now: datetime | None = None) -> int:
    """Every active station once (the silence check, and stations that sent nothing new)."""
    stations = list(
        db.session.scalars(sa.select(Station).where(Station.status == StationStatus.ACTIVE))
    )
    return len(evaluate_many(stations, now))


def push_by_hand(station: Station, pollutant: str | None, note: str, by: User) -> Alert:
    """The prefecture office pushes an alert at a station (RULES §4: level 1 pushes abnormal
    data to level 2); it goes to the station's county like any other."""
    if county_of(station) is None:
        raise ServiceError(_l("This station lies outside every county."))
    finding = anomaly.Finding(
        rule="manual",
        kind="alert",
        pollutant=pollutant,
        value=None,
        threshold=None,
        message=N_("Pushed by the prefecture office: %(note)s"),
        params={"note": note},
    )
    now = utcnow()
    alert = raise_or_update(station, finding, now, by_id=by.id)
    alert.note = note
    return alert


def push_list(county_ids: list[int], note: str, by: User) -> int:
    """The daily consultation's problem list, pushed to the counties' offices (RULES §4)."""
    if not county_ids:
        raise ServiceError(_l("Choose at least one county."))
    if not note:
        raise ServiceError(_l("Write the problems the counties are to deal with."))
    counties = db.session.scalars(
        sa.select(Grid).where(Grid.id.in_(county_ids), Grid.level == 2)
    ).all()
    if len(counties) != len(set(county_ids)):
        raise ServiceError(_l("Choose counties from the list."))
    for county in counties:
        notify(
            county_office(county.id),
            "alert.consultation",
            f"consultation:{county.id}",
            N_("From the daily consultation: %(note)s"),
            {"note": note[:180], "by": by.name},
        )
    return len(counties)
