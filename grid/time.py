"""Time as the app keeps it: stored in naive UTC, shown and counted in local days (China
Standard Time by default, `TIMEZONE`), and the official working-day calendar of this app."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

from grid.workdays import WorkCalendar, official_calendar


def utcnow() -> datetime:
    """Naive UTC, the form every timestamp is stored in."""
    return datetime.now(UTC).replace(tzinfo=None)


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def local_date(utc: datetime) -> date:
    """The local calendar day of a stored (naive UTC) timestamp."""
    return utc.replace(tzinfo=UTC).astimezone(local_zone()).date()


def local_today() -> date:
    """Today in the configured time zone (China Standard Time by default)."""
    return datetime.now(local_zone()).date()


def now_local() -> datetime:
    """The present moment, aware, in the configured zone."""
    return datetime.now(local_zone())


def to_utc(moment: datetime | None) -> datetime | None:
    """An aware moment as stored: naive UTC (None stays None)."""
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def local_day_utc(day: date) -> tuple[datetime, datetime]:
    """The stored (naive UTC) bounds [start, end) of a local calendar day."""
    start = to_utc(datetime.combine(day, time.min, local_zone()))
    return start, start + timedelta(days=1)


def datetime_local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (naive UTC) time, written in the configured zone."""
    if value is None:
        return ""
    return value.replace(tzinfo=UTC).astimezone(local_zone()).strftime(fmt)


def work_calendar() -> WorkCalendar:
    """China's official working days, with the overrides configured for years the calendar
    package does not know yet (WORKDAY_OVERRIDES: {"2027-01-01": false, ...})."""
    overrides = {
        date.fromisoformat(k): bool(v)
        for k, v in (current_app.config.get("WORKDAY_OVERRIDES") or {}).items()
    }
    return official_calendar(overrides)
