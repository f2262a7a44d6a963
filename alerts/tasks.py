"""The alerts' background work on the task queue: evaluating a station when its readings
arrive, the minute's checks (silent stations, the two clocks), the demo's replay, and the
months ahead of the readings' partitions."""

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from huey import crontab
from huey.constants import EmptyData

from alerts import demo, dispatch, partitions, raising
from alerts.models import Station, StationKind, StationStatus
from extensions import db, huey, periodic_task, task
from grid.forms import unit_of_work
from grid.time import utcnow

log = logging.getLogger(__name__)


@task(retries=3, retry_delay=5)
def evaluate_station(station_id: int) -> int:
    """Run the rules for a station whose readings just arrived."""
    with unit_of_work():  # on SQLite, the write lock from the start (grid/forms.py)
        station = db.session.get(Station, station_id)
        return 0 if station is None else len(raising.evaluate(station))


@periodic_task(crontab(minute="*"))
def every_minute() -> None:
    """Stations gone silent (they send nothing that would trigger their evaluation; one never
    heard from counts from when it was registered), and the reminders and overdue notices of
    the two clocks."""
    now = utcnow()
    threshold = raising.rules().silent_after_minutes
    with unit_of_work():
        quiet = db.session.scalars(
            sa.select(Station).where(
                Station.status == StationStatus.ACTIVE,
                sa.func.coalesce(Station.last_reading_at, Station.created_at)
                <= now - timedelta(minutes=threshold),
            )
        ).all()
        raising.evaluate_many(list(quiet), now)
    with unit_of_work():
        dispatch.watch_clocks(now)


@periodic_task(crontab(minute="7", hour="3"))
def monthly_partitions() -> None:
    """The readings' partitions for the months ahead (PostgreSQL)."""
    partitions.ensure_ahead(months=3)


# --- the demo's replay -----------------------------------------------------------------------

REPLAY_START = "demo-replay-start"  # huey's key-value storage: when the replay began (UTC)
REPLAY_UNTIL = "demo-replay-until"  # and how far it has stored


@periodic_task(crontab(minute="*"))
def replay_demo() -> int:
    """With DEMO_REPLAY set (make run), store the demo stations' readings of the minutes since
    the last run (the first run: the last two hours, with the planted incidents under way),
    then run the rules for each station, so that alerts happen while the demo is served."""
    if not current_app.config["DEMO_REPLAY"]:
        return 0
    return replay_now(utcnow())


def replay_now(now: datetime) -> int:
    start = _kept(REPLAY_START)
    if start is None:
        start = now
        huey.storage.put_data(REPLAY_START, start.isoformat().encode())
    since = _kept(REPLAY_UNTIL)
    with unit_of_work():
        stored = demo.replay(now, since, start)
    huey.storage.put_data(REPLAY_UNTIL, now.isoformat().encode())
    with unit_of_work():
        stations = db.session.scalars(
            sa.select(Station).where(
                Station.status == StationStatus.ACTIVE, Station.kind == StationKind.MICRO
            )
        ).all()
        raising.evaluate_many(list(stations), now)
    log.info("demo replay: %d readings, %d stations evaluated", stored, len(stations))
    return stored


def _kept(key: str) -> datetime | None:
    """A time kept in huey's key-value storage (peeked, not taken)."""
    raw = huey.storage.peek_data(key)
    return None if raw is EmptyData else datetime.fromisoformat(raw.decode())
