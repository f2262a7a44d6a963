"""China's official working days (weekends and public holidays off, the adjusted weekend days
on: 调休), and adding working days to a moment. Pure: no Flask, no database.

Deadlines counted in working days (RULES §3, §5 item 5) use this; the alerts and the monthly
assessment count the same way.
"""

from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta

import chinese_calendar


class WorkCalendar:
    """`official(day)` answers for the years it knows and raises NotImplementedError for others;
    `overrides` (day -> working?) come first; where neither knows, Monday to Friday is assumed
    and the day is reported in `guessed`."""

    def __init__(
        self, official: Callable[[date], bool], overrides: Mapping[date, bool] | None = None
    ):
        self._official = official
        self._overrides = dict(overrides or {})
        self.guessed: set[date] = set()

    def is_workday(self, day: date) -> bool:
        if day in self._overrides:
            return self._overrides[day]
        try:
            return self._official(day)
        except NotImplementedError:
            self.guessed.add(day)
            return day.weekday() < 5

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """`start` plus `days` x 24 hours of working-day time: only time on working days counts.

        Friday 16:00 + 1 working day = the next working day at 16:00; from a holiday, the clock
        starts at the beginning of the next working day.
        """
        remaining = timedelta(days=days)
        moment = start
        while True:
            day_end = datetime.combine(moment.date() + timedelta(days=1), time.min, moment.tzinfo)
            if self.is_workday(moment.date()):
                available = day_end - moment
                if remaining <= available:
                    return moment + remaining
                remaining -= available
            moment = day_end


def official_calendar(overrides: Mapping[date, bool] | None = None) -> WorkCalendar:
    """The calendar of the State Council's holiday notices (the chinese-calendar package, which
    must be upgraded each winter for the next year), with `overrides` first."""
    return WorkCalendar(chinese_calendar.is_workday, overrides)
