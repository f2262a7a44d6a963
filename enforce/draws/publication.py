"""When an inspection's result must be public, and where it stands on a given day (RULES §9).
Pure: dates and a working-day calendar in, dates and a status out.

- Seed 004 六: every double-random result is published within 20 working days of the task's
  completion; the day of completion is not counted (the first day is the next one, as in the
  Administrative Licensing Law's periods), and only the official calendar's working days count
  (holidays off, the adjusted weekend days on: grid.workdays).
- Seed 002 (五): the synchronized monitoring and enforcement of automatic-monitoring facilities
  is published by the 10th day of the next quarter. A facility task is also a double-random
  task, so both rules bind it: its deadline is the earlier of the two.
- The office sees, for each done task, whether its publication is pending, due soon, overdue,
  published in time or published late.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Protocol

WORKING_DAYS = 20  # seed 004 六: 随机抽查任务完成后的20个工作日内
QUARTER_DAY = 10  # seed 002 (五): 每季度10日前公开上一季度……处理结果
DUE_SOON = 5  # working days left at which the office is warned (the project's choice)
FACILITY = "facility"  # the draw category that seed 002's rule covers


class Calendar(Protocol):
    def is_workday(self, day: date) -> bool: ...


class Status(StrEnum):
    PENDING = "pending"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    PUBLISHED = "published"
    PUBLISHED_LATE = "published_late"


@dataclass(frozen=True)
class Standing:
    """A done task's publication on a day: its status and the working days left before the
    deadline (0 on the deadline itself, negative once overdue: working days past it)."""

    status: Status
    working_days_left: int


def after_working_days(start: date, days: int, calendar: Calendar) -> date:
    """The `days`-th working day after `start` (`start` itself not counted)."""
    if days < 1:
        raise ValueError("count at least one working day")
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        if calendar.is_workday(day):
            counted += 1
    return day


def next_quarter_day(done_on: date, day: int = QUARTER_DAY) -> date:
    """The `day`-th of the first month of the quarter after the one `done_on` falls in."""
    first_month = (done_on.month - 1) // 3 * 3 + 1  # of done_on's quarter
    month = first_month + 3
    year = done_on.year + (month > 12)
    return date(year, (month - 1) % 12 + 1, day)


def publish_due(done_on: date, category: str, calendar: Calendar) -> date:
    """The last day on which a task done on `done_on` may be published."""
    due = after_working_days(done_on, WORKING_DAYS, calendar)
    if category == FACILITY:
        due = min(due, next_quarter_day(done_on))
    return due


def working_days_between(start: date, end: date, calendar: Calendar) -> int:
    """Working days after `start` up to and including `end`; negative (the working days after
    `end` up to and including `start`) when `end` is before `start`."""
    if end < start:
        return -working_days_between(end, start, calendar)
    return sum(
        1 for n in range(1, (end - start).days + 1) if calendar.is_workday(start + timedelta(n))
    )


def standing(
    due: date,
    published_on: date | None,
    today: date,
    calendar: Calendar,
    soon: int = DUE_SOON,
) -> Standing:
    """Where a done task's publication stands on `today`. An overdue task still counts its
    working days past the deadline, for the office's list."""
    if published_on is not None:
        late = published_on > due
        left = working_days_between(published_on, due, calendar)
        return Standing(Status.PUBLISHED_LATE if late else Status.PUBLISHED, left)
    left = working_days_between(today, due, calendar)
    if today > due:
        return Standing(Status.OVERDUE, left)
    return Standing(Status.DUE_SOON if left <= soon else Status.PENDING, left)
