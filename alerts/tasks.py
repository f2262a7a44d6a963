"""The alerts' background work on the task queue: evaluating a station when its readings
arrive, the minute's checks (silent stations, the two clocks), the demo's replay, and the
months ahead of the readings' partitions."""

import logging
from datetime import timedelta

import sqlalchemy as sa
from huey import crontab

from alerts import dispatch, partitions, raising
from alerts.models import Station, StationStatus
from extensions import db, periodic_task, task
from grid.time import utcnow

log = logging.getLogger(__name__)


@task(retries=3, retry_delay=5)
def evaluate_station(station_id: int) -> int:
    """Run the rules for a station whose readings just arrived."""
    station = db.session.get(Station, station_id)
    if station is None:
        return 0
    raised = raising.evaluate(station)
    db.session.commit()
    return len(raised)


@periodic_task(crontab(minute="*"))
def every_minute() -> None:
    """Stations gone silent (they send nothing that would trigger their evaluation), and the
    reminders and overdue notices of the two clocks."""
    now = utcnow()
    threshold = raising.rules().silent_after_minutes
    quiet = db.session.scalars(
        sa.select(Station).where(
            Station.status == StationStatus.ACTIVE,
            sa.or_(
                Station.last_reading_at.is_(None),
                Station.last_reading_at <= now - timedelta(minutes=threshold),
            ),
        )
    ).all()
    for station in quiet:
        raising.evaluate(station, now)
    dispatch.watch_clocks(now)
    db.session.commit()


@periodic_task(crontab(minute="7", hour="3"))
def monthly_partitions() -> None:
    """The readings' partitions for the months ahead (PostgreSQL)."""
    partitions.ensure_ahead(months=3)
