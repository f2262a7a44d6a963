"""The monthly cycle's pure rules (enforce/exceed/cycle.py, RULES §8): deadlines on the
calendar, the advance warning by working days, late and overdue, and the 30/70 clue split."""

from datetime import date

import pytest

from enforce.exceed import cycle
from enforce.exceed.cycle import Clue, State, Step
from grid.workdays import official_calendar

CAL = official_calendar()
SEPTEMBER = date(2026, 9, 1)  # its cycle runs in October 2026: 1-7 October are holidays


# RULES §8: by the 5th, 7th, 10th (compile and meeting), the list and notice by the 15th.
@pytest.mark.parametrize(
    ("step", "month", "due"),
    [
        (Step.COUNTY_REPORT, date(2026, 9, 1), date(2026, 10, 5)),
        (Step.DETACHMENT_STATS, date(2026, 9, 1), date(2026, 10, 7)),
        (Step.CENTRE_COMPILE, date(2026, 9, 1), date(2026, 10, 10)),
        (Step.REVIEW_MEETING, date(2026, 9, 1), date(2026, 10, 10)),
        (Step.CLUE_HANDOVER, date(2026, 9, 1), date(2026, 10, 15)),
        (Step.MONTHLY_NOTICE, date(2026, 9, 1), date(2026, 10, 15)),
        (Step.COUNTY_REPORT, date(2026, 12, 1), date(2027, 1, 5)),  # over the year's end
        (Step.MONTHLY_NOTICE, date(2026, 1, 31), date(2026, 2, 15)),  # any day of the month
        (Step.DETACHMENT_STATS, date(2026, 1, 1), date(2026, 2, 7)),
    ],
)
def test_every_deadline_is_a_date_of_the_next_month(step, month, due):
    assert cycle.deadline(step, month) == due


def test_a_fifth_on_a_holiday_stays_the_fifth_but_is_flagged():
    # 2026-10-05 is a Monday inside the National Day holiday: the date stands.
    due = cycle.deadline(Step.COUNTY_REPORT, SEPTEMBER)
    assert due == date(2026, 10, 5)
    seen = cycle.status(due, None, date(2026, 9, 28), 3, CAL)
    assert seen.state is State.DUE_SOON
    assert seen.days == 7  # calendar days left
    assert seen.non_working is True
    assert seen.finish_by is None  # 1-5 October are all holidays: no working day before it
    # Three working days before the 5th: 30, 29, 28 September; not the Sunday before.
    assert cycle.warning_starts(due, 3, CAL) == date(2026, 9, 28)
    assert cycle.status(due, None, date(2026, 9, 27), 3, CAL).state is State.UPCOMING
    # On the 5th itself (a holiday) it is still due, not late; on the 6th it is overdue.
    assert cycle.status(due, None, date(2026, 10, 5), 3, CAL).state is State.DUE_SOON
    overdue = cycle.status(due, None, date(2026, 10, 6), 3, CAL)
    assert (overdue.state, overdue.days, overdue.late) == (State.OVERDUE, 1, True)


def test_a_deadline_on_a_working_day_is_not_flagged():
    due = cycle.deadline(Step.CENTRE_COMPILE, SEPTEMBER)  # Saturday 10 October 2026, worked
    seen = cycle.status(due, None, date(2026, 10, 9), 1, CAL)
    assert (seen.state, seen.days, seen.non_working, seen.finish_by) == (
        State.DUE_SOON,
        1,
        False,
        due,
    )
    assert cycle.warning_starts(due, 1, CAL) == date(2026, 10, 9)
    assert cycle.warning_starts(due, 0, CAL) == due


@pytest.mark.parametrize(
    ("done_on", "state", "days", "late"),
    [
        (date(2026, 9, 30), State.DONE, 0, False),  # before the holiday
        (date(2026, 10, 5), State.DONE, 0, False),  # on the date, holiday or not
        (date(2026, 10, 6), State.DONE_LATE, 1, True),
        (date(2026, 10, 12), State.DONE_LATE, 7, True),
    ],
)
def test_done_on_time_or_late(done_on, state, days, late):
    seen = cycle.status(date(2026, 10, 5), done_on, date(2026, 10, 20), 3, CAL)
    assert (seen.state, seen.days, seen.late, seen.done_on) == (state, days, late, done_on)


def test_the_notice_of_january_falls_in_the_spring_festival():
    due = cycle.deadline(Step.MONTHLY_NOTICE, date(2026, 1, 1))
    assert due == date(2026, 2, 15)  # Sunday, and the Spring Festival holiday
    seen = cycle.status(due, None, date(2026, 2, 12), 2, CAL)
    # Friday 13 and Saturday 14 (a worked weekend day) are the two working days before it.
    assert cycle.warning_starts(due, 2, CAL) == date(2026, 2, 13)
    assert seen.state is State.UPCOMING
    assert seen.finish_by == date(2026, 2, 14)
    assert seen.non_working is True


def test_the_last_working_day_stays_in_the_deadlines_month():
    assert cycle.last_working_day(date(2026, 10, 10), CAL) == date(2026, 10, 10)  # worked Sat
    assert cycle.last_working_day(date(2026, 10, 11), CAL) == date(2026, 10, 10)
    assert cycle.last_working_day(date(2026, 12, 5), CAL) == date(2026, 12, 4)  # Saturday
    assert cycle.last_working_day(date(2026, 10, 7), CAL) is None


def test_late_steps_are_counted_per_party():
    late = cycle.status(date(2026, 10, 5), date(2026, 10, 8), date(2026, 10, 20), 3, CAL)
    overdue = cycle.status(date(2026, 10, 7), None, date(2026, 10, 20), 3, CAL)
    fine = cycle.status(date(2026, 10, 5), date(2026, 10, 5), date(2026, 10, 20), 3, CAL)
    soon = cycle.status(date(2026, 10, 25), None, date(2026, 10, 20), 3, CAL)
    counts = cycle.late_counts(
        [
            ("昌吉市", late),
            ("呼图壁县", fine),
            ("支队", overdue),
            ("昌吉市", overdue),
            ("中心", soon),
        ]
    )
    assert counts == {"昌吉市": 2, "支队": 1}


def test_a_month_is_reported_once_it_is_over():
    assert cycle.is_reportable(date(2026, 9, 1), date(2026, 10, 1))
    assert not cycle.is_reportable(date(2026, 10, 1), date(2026, 10, 31))
    assert not cycle.is_reportable(date(2026, 11, 1), date(2026, 10, 31))


# RULES §8: the detachment keeps 30% (rounded half up), the counties get 70%.
@pytest.mark.parametrize(
    ("total", "kept"),
    [(0, 0), (1, 0), (2, 1), (3, 1), (4, 1), (5, 2), (6, 2), (7, 2), (10, 3), (12, 4), (15, 5)],
)
def test_the_detachment_keeps_thirty_percent_rounded_half_up(total, kept):
    assert cycle.detachment_count(total) == kept


def _clue(key, escalated=False, key_polluter=False, difficult=False, exceedances=1):
    return Clue(key, escalated, key_polluter, difficult, exceedances)


def test_escalated_then_key_then_difficult_then_most_exceedances():
    clues = [
        _clue(1, exceedances=50),
        _clue(2, difficult=True, exceedances=2),
        _clue(3, key_polluter=True, exceedances=1),
        _clue(4, escalated=True, exceedances=1),
        _clue(5, exceedances=9),
        _clue(6, exceedances=3),
        _clue(7, exceedances=4),
        _clue(8, key_polluter=True, difficult=True, exceedances=1),
        _clue(9, exceedances=1),
        _clue(10, exceedances=1),
    ]
    # 10 clues: 3 kept. Escalated (4), then the key polluters, difficult first (8), then 3.
    assert cycle.detachment_keeps(clues) == {4, 8, 3}
    order = [c.key for c in sorted(clues, key=cycle.priority)]
    assert order == [4, 8, 3, 2, 1, 5, 7, 6, 9, 10]


def test_exceedances_decide_among_equals_and_the_id_last():
    clues = [_clue(k, exceedances=n) for k, n in [(1, 5), (2, 7), (3, 7), (4, 1), (5, 2)]]
    assert cycle.detachment_keeps(clues) == {2, 3}  # 5 clues: 2 kept, tie of 7 both in
    clues = [_clue(k, exceedances=3) for k in (9, 4, 7)]
    assert cycle.detachment_keeps(clues) == {4}  # 3 clues: 1 kept, the smallest id


def test_more_escalated_than_the_share_keeps_the_share():
    clues = [_clue(k, escalated=True, exceedances=k) for k in range(1, 5)]
    assert cycle.detachment_keeps(clues) == {4}  # 4 clues: 1 kept, the most exceedances
