"""Actions on stations and readings: registering a station with its secrets, and storing a
batch of readings from any path (the JSON API, the HJ 212 receiver, the demo's replay)."""

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import sqlite

from alerts.models import FLAGS, POLLUTANTS, Period, Reading, Station, StationStatus
from extensions import db
from grid.inputs import Fields, Invalid
from grid.models import Grid, point
from grid.queries import locate
from grid.time import utcnow


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
    grid = grid_at(lon, lat)
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


def grid_at(lon: float, lat: float) -> Grid | None:
    """The smallest regular grid (village, township or county) containing a WGS-84 point."""
    return locate(lon, lat, level=4) or locate(lon, lat, level=3) or locate(lon, lat, level=2)


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


@dataclass(frozen=True)
class Window:
    """What a batch's values are checked against, read from the configuration once per batch
    (a batch of 500 asked the configuration thousands of times)."""

    earliest: datetime
    latest: datetime
    limits: dict[str, float]
    zone: Any
    _local: dict[datetime, datetime] = field(default_factory=dict, compare=False, repr=False)

    def local(self, measured_at: datetime) -> datetime:
        """A stored (naive UTC) time in the local zone; each time converted once (the values
        of an HJ 212 packet share their DataTime)."""
        local = self._local.get(measured_at)
        if local is None:
            local = measured_at.replace(tzinfo=UTC).astimezone(self.zone)
            self._local[measured_at] = local
        return local

    @classmethod
    def at(cls, now: datetime, config: Mapping[str, Any] | None = None) -> "Window":
        """The window at `now`, by `config` (an app's; the current app's when None, which
        needs an app context)."""
        if config is None:
            config = current_app.config
        return cls(
            earliest=now - timedelta(days=config["READING_BACKFILL_DAYS"]),
            latest=now + timedelta(minutes=config["READING_FUTURE_SLACK_MINUTES"]),
            limits=config["READING_VALUE_LIMITS"],
            zone=ZoneInfo(config["TIMEZONE"]),
        )


def read_value(item: Any, index: int, window: Window) -> Value:
    """One JSON item, typed and checked; Invalid names the item and what is wrong with it."""
    where = _l("Item %(n)s", n=index)
    if not isinstance(item, dict):
        raise Invalid("item", _l("%(where)s: each item must be an object.", where=where))
    fields = Fields(item, where)
    moment = fields.moment("time", _LABEL_TIME, required=True, earliest=window.earliest.date())
    if moment.tzinfo is None:
        raise fields.refuse("time", _l("Time must carry its UTC offset (+08:00 or Z)."))
    measured_at = moment.astimezone(UTC).replace(tzinfo=None)
    if measured_at > window.latest:
        raise fields.refuse("time", _l("Time is in the future."))
    if measured_at < window.earliest:
        raise fields.refuse("time", _l("Time is too long ago to be stored."))
    pollutant = fields.choice("pollutant", _LABEL_POLLUTANT, POLLUTANTS, required=True)
    limit = window.limits[pollutant]
    value = fields.number("value", _LABEL_VALUE, low=0, high=limit, required=True)
    flag = fields.choice("flag", _LABEL_FLAG, FLAGS, default="N")
    period = fields.choice("period", _LABEL_PERIOD, PERIODS, default=Period.HOUR)
    if not _starts_its_period(moment.astimezone(window.zone), period):
        raise fields.refuse("time", _PERIOD_START[period])
    return Value(pollutant, period, measured_at, value, flag)


PERIODS = tuple(Period)


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
    window = Window.at(now)
    for index, item in enumerate(items, start=1):
        try:
            good.append((index, read_value(item, index, window)))
        except Invalid as exc:
            refused.append((index, str(exc)))
    return good, refused


def store(
    station: Station, values: Sequence[Value], source: str, now: datetime | None = None
) -> Outcome:
    """Store one station's readings in one statement (`store_batch`). What is already stored
    (same station, pollutant, period and time), or sent twice in the batch, is left as it was
    and counted as a duplicate."""
    now = now or utcnow()
    outcome = store_batch([(station.id, values)], source, now)
    if values:
        station.last_reading_at = now  # as the statement set it
    return outcome


def value_refusal(value: Value, now: datetime, window: Window | None = None) -> str | None:
    """Why a value read by another path than the JSON API (the HJ 212 receiver) may not be
    stored, by the rules `read_value` applies: a known pollutant, period and flag, a value from
    0 to its READING_VALUE_LIMITS, a time neither in the future (beyond the slack) nor before
    the backfill window, at its period's start. None when it may be stored. In English: it is
    written to the server's log, not shown to a person. `window` is `Window.at(now)`, made once
    for many values (made here from the current app's configuration when None)."""
    if window is None:
        window = Window.at(now)
    if value.pollutant not in POLLUTANTS:
        return f"pollutant {value.pollutant!r} is not one of {', '.join(POLLUTANTS)}"
    if value.period not in PERIODS:
        return f"period {value.period!r} is unknown"
    if value.flag not in FLAGS:
        return f"data flag {value.flag!r} is not one of {''.join(FLAGS)}"
    limit = window.limits[value.pollutant]
    if not 0 <= value.value <= limit:
        return f"value {value.value:g} is outside 0 to {limit:g}"
    if value.measured_at > window.latest:
        return f"time {value.measured_at:%Y-%m-%d %H:%M:%S} UTC is in the future"
    if value.measured_at < window.earliest:
        return f"time {value.measured_at:%Y-%m-%d %H:%M:%S} UTC is too long ago to be stored"
    local = window.local(value.measured_at)
    if not _starts_its_period(local, value.period):
        return f"time {local:%Y-%m-%d %H:%M:%S} (local) is not the start of its {value.period}"
    return None


def store_batch(
    batch: Sequence[tuple[int, Sequence[Value]]], source: str, now: datetime | None = None
) -> Outcome:
    """`store` for several stations at once, by station id: every row in one statement, every
    station's `last_reading_at` in another (the HJ 212 receiver's group commit, where a
    statement per station cost more than the rows). On PostgreSQL the rows go as arrays
    (unnest): one statement text whatever their number, which the driver prepares once,
    where a VALUES list of thousands of parameters was parsed again for every batch."""
    now = now or utcnow()
    rows: dict[tuple[int, str, str, datetime], Value] = {}
    for station_id, values in batch:
        for v in values:
            rows.setdefault((station_id, v.pollutant, v.period, v.measured_at), v)
    outcome = Outcome()
    if rows:
        keys, values = list(rows), list(rows.values())
        if db.engine.dialect.name == "postgresql":
            arrays = {  # as array literals: the driver's list adapter cost 5 times as much
                "stations": _array([str(key[0]) for key in keys]),
                "pollutants": _array([_quoted(v.pollutant) for v in values]),
                "periods": _array([_quoted(v.period) for v in values]),
                "times": _array([v.measured_at.isoformat() for v in values]),
                "values": _array([repr(float(v.value)) for v in values]),
                "flags": _array([_quoted(v.flag) for v in values]),
            }
            result = db.session.execute(
                _INSERT_ARRAYS, {**arrays, "received_at": now, "source": source}
            )
            outcome.stored = result.rowcount
        else:
            statement = sqlite.insert(Reading).on_conflict_do_nothing().returning(Reading.pollutant)
            params = [
                {
                    "station_id": key[0],
                    "pollutant": v.pollutant,
                    "period": v.period,
                    "measured_at": v.measured_at,
                    "value": v.value,
                    "flag": v.flag,
                    "received_at": now,
                    "source": source,
                }
                for key, v in rows.items()
            ]
            outcome.stored = len(db.session.execute(statement, params).all())
        ids = sorted({station_id for station_id, values in batch if values})
        # Core, not the ORM's bulk update: no bookkeeping (the session's objects keep their
        # last_reading_at, as synchronize_session=False left them).
        stations = Station.__table__
        db.session.execute(
            sa.update(stations).where(stations.c.id.in_(ids)).values(last_reading_at=now)
        )
    outcome.duplicates = sum(len(values) for _station_id, values in batch) - outcome.stored
    return outcome


def _array(elements: list[str]) -> str:
    """A PostgreSQL array literal of elements already written as its input reads them."""
    return "{" + ",".join(elements) + "}"


def _quoted(text: str) -> str:
    """A string as an element of an array literal: double-quoted, backslash and quote escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_INSERT_ARRAYS = sa.text(
    """
    INSERT INTO reading
        (station_id, pollutant, period, measured_at, value, flag, received_at, source)
    SELECT s, p, d, m, v, f, :received_at, :source
    FROM unnest(
        CAST(:stations AS integer[]), CAST(:pollutants AS varchar[]),
        CAST(:periods AS varchar[]), CAST(:times AS timestamp[]),
        CAST(:values AS double precision[]), CAST(:flags AS varchar[])
    ) AS t(s, p, d, m, v, f)
    ON CONFLICT DO NOTHING
    """
)
