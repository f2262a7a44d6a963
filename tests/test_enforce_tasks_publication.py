"""The publication deadline of an inspection's result (RULES §9; seed 004 六, seed 002 (五)),
on the official calendar, across National Day, the Spring Festival and the adjusted weekend
working days. Every expected date is counted by hand from the State Council's notices:

- 2024 National Day: 1-7 October off; Sunday 29 September and Saturday 12 October worked.
- 2025 Spring Festival: 28 January - 4 February off; Sunday 26 January and Saturday 8 February
  worked.
- 2025 National Day and Mid-Autumn: 1-8 October off; Sunday 28 September and Saturday
  11 October worked.
- 2024 New Year's Day: 1 January off; 2025 New Year's Day: 1 January off.
"""

from datetime import date

import pytest

from enforce.draws.publication import (
    FACILITY,
    Standing,
    Status,
    after_working_days,
    next_quarter_day,
    publish_due,
    standing,
    working_days_between,
)
from grid.workdays import WorkCalendar, official_calendar

CAL = official_calendar()
WEEKDAYS = WorkCalendar(lambda d: d.weekday() < 5)  # a plain Monday-to-Friday week


@pytest.mark.parametrize(
    ("done_on", "due"),
    [
        # an ordinary month: Mon 4 March 2024 + 20 working days (5-8, 11-15, 18-22, 25-29, 1 Apr)
        (date(2024, 3, 4), date(2024, 4, 1)),
        # National Day 2024: Sun 29 Sep (1), 30 (2), 8-11 Oct (6), Sat 12 Oct (7), 14-18 (12),
        # 21-25 (17), 28-30 (20)
        (date(2024, 9, 27), date(2024, 10, 30)),
        # done during the holiday: 8-11 Oct (4), Sat 12 (5), 14-18 (10), 21-25 (15), 28 Oct - 1 Nov
        (date(2024, 10, 3), date(2024, 11, 1)),
        # done on the adjusted Saturday itself, which is not counted: 14 Oct (1) ... 8 Nov (20)
        (date(2024, 10, 12), date(2024, 11, 8)),
        # Spring Festival 2025: Sun 26 Jan (1), 27 (2), 5-7 Feb (5), Sat 8 Feb (6), 10-14 (11),
        # 17-21 (16), 24-27 (20)
        (date(2025, 1, 24), date(2025, 2, 27)),
        # the eve of the festival's days off: 5-7 Feb (3), Sat 8 (4), 10-14 (9), 17-21 (14),
        # 24-28 (19), 3 Mar (20)
        (date(2025, 1, 27), date(2025, 3, 3)),
        # National Day 2025: Sun 28 Sep (1), 29-30 (3), 9-10 Oct (5), Sat 11 Oct (6), 13-17 (11),
        # 20-24 (16), 27-30 (20)
        (date(2025, 9, 26), date(2025, 10, 30)),
        # across New Year's Day 2025: 30-31 Dec (2), 2-3 Jan (4), 6-10 (9), 13-17 (14), 20-24
        # (19), and the Spring Festival's adjusted Sunday 26 Jan (20)
        (date(2024, 12, 27), date(2025, 1, 26)),
    ],
)
def test_twenty_working_days_on_the_official_calendar(done_on, due):
    assert publish_due(done_on, "key", CAL) == due
    assert after_working_days(done_on, 20, CAL) == due


def test_the_holidays_make_a_difference():
    """Without the official calendar the National Day example would fall five days earlier."""
    assert publish_due(date(2024, 9, 27), "key", WEEKDAYS) == date(2024, 10, 25)
    assert publish_due(date(2024, 9, 27), "key", CAL) == date(2024, 10, 30)


def test_one_working_day_after_a_friday_is_the_adjusted_sunday():
    assert after_working_days(date(2024, 9, 27), 1, CAL) == date(2024, 9, 29)
    assert after_working_days(date(2025, 2, 7), 1, CAL) == date(2025, 2, 8)
    with pytest.raises(ValueError):
        after_working_days(date(2025, 2, 7), 0, CAL)


@pytest.mark.parametrize(
    ("done_on", "tenth"),
    [
        (date(2024, 1, 1), date(2024, 4, 10)),
        (date(2024, 3, 31), date(2024, 4, 10)),
        (date(2024, 4, 1), date(2024, 7, 10)),
        (date(2024, 6, 30), date(2024, 7, 10)),
        (date(2024, 7, 15), date(2024, 10, 10)),
        (date(2024, 9, 30), date(2024, 10, 10)),
        (date(2024, 10, 1), date(2025, 1, 10)),
        (date(2024, 12, 31), date(2025, 1, 10)),
    ],
)
def test_the_tenth_of_the_next_quarter(done_on, tenth):
    assert next_quarter_day(done_on) == tenth


@pytest.mark.parametrize(
    ("done_on", "due"),
    [
        # late in a quarter: the 10th of the next quarter comes first (20 working days = 30 Oct)
        (date(2024, 9, 27), date(2024, 10, 10)),
        # early in a quarter: 20 working days come first (2-5, 8-12, 15-19, 22-26, 29 July)
        (date(2024, 7, 1), date(2024, 7, 29)),
        # at the year's end: 20 working days would be 26 January; the 10th of January binds
        (date(2024, 12, 27), date(2025, 1, 10)),
    ],
)
def test_facility_tasks_take_the_earlier_of_both_rules(done_on, due):
    assert publish_due(done_on, FACILITY, CAL) == due


def test_working_days_between_counts_after_start_up_to_end():
    assert working_days_between(date(2024, 10, 22), date(2024, 10, 30), CAL) == 6
    assert working_days_between(date(2024, 9, 30), date(2024, 10, 8), CAL) == 1
    assert working_days_between(date(2024, 10, 30), date(2024, 10, 30), CAL) == 0
    assert working_days_between(date(2024, 10, 30), date(2024, 10, 22), CAL) == -6


DUE = date(2024, 10, 30)  # done on 27 September 2024


@pytest.mark.parametrize(
    ("today", "published_on", "expected"),
    [
        # 23-25, 28-30 Oct: six working days left, more than five
        (date(2024, 10, 22), None, Standing(Status.PENDING, 6)),
        (date(2024, 9, 27), None, Standing(Status.PENDING, 20)),
        # five left: warned
        (date(2024, 10, 23), None, Standing(Status.DUE_SOON, 5)),
        # the weekend before: 28-30 Oct left
        (date(2024, 10, 26), None, Standing(Status.DUE_SOON, 3)),
        (date(2024, 10, 30), None, Standing(Status.DUE_SOON, 0)),
        (date(2024, 10, 31), None, Standing(Status.OVERDUE, -1)),
        # Sat 2 Nov: 31 Oct and 1 Nov past
        (date(2024, 11, 2), None, Standing(Status.OVERDUE, -2)),
        # published in time, whatever the day asked about
        (date(2024, 12, 1), date(2024, 10, 8), Standing(Status.PUBLISHED, 17)),
        (date(2024, 12, 1), date(2024, 10, 30), Standing(Status.PUBLISHED, 0)),
        (date(2024, 12, 1), date(2024, 11, 1), Standing(Status.PUBLISHED_LATE, -2)),
    ],
)
def test_standing_on_a_day(today, published_on, expected):
    assert standing(DUE, published_on, today, CAL) == expected


def test_the_warning_threshold_is_configurable():
    assert standing(DUE, None, date(2024, 10, 22), CAL, soon=6).status == Status.DUE_SOON
    assert standing(DUE, None, date(2024, 10, 23), CAL, soon=4).status == Status.PENDING
