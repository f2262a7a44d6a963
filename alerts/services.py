"""Actions on stations and readings: registering a station with its secrets, and storing a
batch of readings from any path (the JSON API, the HJ 212 receiver, the demo's replay)."""

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite

from alerts.models import FLAGS, POLLUTANTS, Period, Reading, Station, StationStatus
from extensions import db
from grid.inputs import Fields, Invalid
from grid.models import point
from grid.queries import locate
from grid.time import local_zone, utcnow


def secret_hash(secret: str) -> str:
    """How a station's token and HJ 212 password are kept: their SHA-256, never the secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass
class NewStation:
    station: Station
    token: str | None = None  # shown once, when issued


def add_station(
    *,
    code: str,
    name: str,
    kind: str,
    lon: float,
    lat: float,
    mn: str | None = None,
    password: str | None = None,
    issue_token: bool = False,
    lenient: bool = False,
) -> NewStation:
    """A station at a WGS-84 point, in the smallest regular grid that contains it."""
    grid = locate(lon, lat, level=4) or locate(lon, lat, level=3) or locate(lon, lat, level=2)
    station = Station(
        code=code,
        name=name,
        kind=kind,
        lon=lon,
        lat=lat,
        point=point(lon, lat),
        grid_id=grid.id if grid else None,
        mn=mn,
        pw_hash=secret_hash(password) if password else None,
        lenient=lenient,
        status=StationStatus.ACTIVE,
    )
    token = None
    if issue_token:
        token = secrets.token_urlsafe(32)
        station.token_hash = secret_hash(token)
    db.session.add(station)
    db.session.flush()
    return NewStation(station, token)


def station_by_token(token: str) -> Station | None:
    if not token or len(token) > 200:
        return None
    return db.session.scalar(sa.select(Station).where(Station.token_hash == secret_hash(token)))


# --- readings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """One reading as read from any path, before it is stored."""

    pollutant: str
    period: str
    measured_at: datetime  # naive UTC
    value: float
    flag: str = "N"


@dataclass
class Outcome:
    """What became of a batch: how many were stored, how many were already there, and each
    refused item with its index and reason."""

    stored: int = 0
    duplicates: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)


_LABEL_TIME = _l("Time")
_LABEL_POLLUTANT = _l("Pollutant")
_LABEL_VALUE = _l("Value")
_LABEL_FLAG = _l("Data flag")
_LABEL_PERIOD = _l("Period")


def read_value(item: Any, index: int, now: datetime) -> Value:
    """One JSON item, typed and checked; Invalid names the item and what is wrong with it."""
    where = _l("Item %(n)s", n=index)
    if not isinstance(item, dict):
        raise Invalid("item", _l("%(where)s: each item must be an object.", where=where))
    fields = Fields(item, where)
    config = current_app.config
    earliest = now - timedelta(days=config["READING_BACKFILL_DAYS"])
    moment = fields.moment("time", _LABEL_TIME, required=True, earliest=earliest.date())
    if moment.tzinfo is None:
        raise fields.refuse("time", _l("Time must carry its UTC offset (+08:00 or Z)."))
    measured_at = moment.astimezone(UTC).replace(tzinfo=None)
    if measured_at > now + timedelta(minutes=config["READING_FUTURE_SLACK_MINUTES"]):
        raise fields.refuse("time", _l("Time is in the future."))
    if measured_at < earliest:
        raise fields.refuse("time", _l("Time is too long ago to be stored."))
    pollutant = fields.choice("pollutant", _LABEL_POLLUTANT, POLLUTANTS, required=True)
    limit = config["READING_VALUE_LIMITS"][pollutant]
    value = fields.number("value", _LABEL_VALUE, low=0, high=limit, required=True)
    flag = fields.choice("flag", _LABEL_FLAG, FLAGS, default="N")
    period = fields.choice("period", _LABEL_PERIOD, tuple(Period), default=Period.HOUR)
    if not _starts_its_period(moment.astimezone(local_zone()), period):
        raise fields.refuse("time", _PERIOD_START[period])
    return Value(pollutant, period, measured_at, value, flag)


_PERIOD_START = {
    Period.MINUTE: _l("Time must be the start of its minute."),
    Period.HOUR: _l("Time must be the start of its hour."),
    Period.DAY: _l("Time must be the start of its day (local midnight)."),
}


def _starts_its_period(local: datetime, period: str) -> bool:
    """A minute, hourly or daily value is stamped with its period's start (HJ 212 DataTime)."""
    if period == Period.REALTIME:
        return True
    whole_minute = not (local.second or local.microsecond)
    if period == Period.MINUTE:
        return whole_minute
    if period == Period.HOUR:
        return whole_minute and not local.minute
    return whole_minute and not (local.minute or local.hour)


def read_values(
    items: Sequence[Any], now: datetime
) -> tuple[list[tuple[int, Value]], list[tuple[int, str]]]:
    """Every item read on its own: the good ones, and the refused ones with their reasons."""
    good, refused = [], []
    for index, item in enumerate(items, start=1):
        try:
            good.append((index, read_value(item, index, now)))
        except Invalid as exc:
            refused.append((index, str(exc)))
    return good, refused


def store(
    station: Station, values: Sequence[Value], source: str, now: datetime | None = None
) -> Outcome:
    """Store readings in one statement. What is already stored (same station, pollutant, period
    and time), or sent twice in the batch, is left as it was and counted as a duplicate."""
    now = now or utcnow()
    rows = {}
    for v in values:
        rows.setdefault((v.pollutant, v.period, v.measured_at), v)
    outcome = Outcome()
    if rows:
        dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
        # Core, not the ORM's bulk path: one multi-row INSERT per batch of rows.
        table = Reading.__table__
        statement = dialect.insert(table).on_conflict_do_nothing().returning(table.c.pollutant)
        params = [
            {
                "station_id": station.id,
                "pollutant": v.pollutant,
                "period": v.period,
                "measured_at": v.measured_at,
                "value": v.value,
                "flag": v.flag,
                "received_at": now,
                "source": source,
            }
            for v in rows.values()
        ]
        outcome.stored = len(db.session.execute(statement, params).all())
        station.last_reading_at = now
    outcome.duplicates = len(values) - outcome.stored
    return outcome
