"""The monthly cycle of the exceedance workflow (RULES §8, seed 000): its steps, their calendar
deadlines, what is late, and which clues the detachment keeps. Pure: numbers in, decisions out.

For month M (the month reported), every step is due on a day of month M+1. The rule gives dates,
so a deadline that falls on a weekend or holiday stays where it is; the app warns in advance,
from a number of working days before it (grid.workdays), so that people finish before the
holiday. A step done after its date is late; one not done once its date has passed is overdue.
Both count against the body that owed it (RULES §8: late reporting is itself escalated)."""

import enum
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from i18n import N_


class Step(enum.StrEnum):
    """The steps of a month's cycle, in order."""

    COUNTY_REPORT = "county_report"  # each county: cases and opinions with evidence
    DETACHMENT_STATS = "detachment_stats"  # the detachment returns case statistics
    CENTRE_COMPILE = "centre_compile"  # the monitoring centre compiles the report
    REVIEW_MEETING = "review_meeting"  # the review group meets; the office writes minutes
    CLUE_HANDOVER = "clue_handover"  # the centre's clue handover list, 30% kept / 70% handed
    MONTHLY_NOTICE = "monthly_notice"  # the monthly report and notice


class Body(enum.StrEnum):
    """Who owes a step (the prefecture office acts for the three prefecture bodies)."""

    COUNTY = "county"  # 县市生态环境部门
    DETACHMENT = "detachment"  # 州生态环境执法支队
    CENTRE = "centre"  # 州生态环境监控中心
    REVIEW_GROUP = "review_group"  # 会审组 (its minutes written by the office)


# RULES §8: day of month M+1 by which each step is due. The clue handover list has no date of
# its own in the rule: it goes with the monthly report and notice, by the 15th.
DUE_DAY = {
    Step.COUNTY_REPORT: 5,
    Step.DETACHMENT_STATS: 7,
    Step.CENTRE_COMPILE: 10,
    Step.REVIEW_MEETING: 10,
    Step.CLUE_HANDOVER: 15,
    Step.MONTHLY_NOTICE: 15,
}

OWNER = {
    Step.COUNTY_REPORT: Body.COUNTY,
    Step.DETACHMENT_STATS: Body.DETACHMENT,
    Step.CENTRE_COMPILE: Body.CENTRE,
    Step.REVIEW_MEETING: Body.REVIEW_GROUP,
    Step.CLUE_HANDOVER: Body.CENTRE,
    Step.MONTHLY_NOTICE: Body.CENTRE,
}

STEP_LABELS = {
    Step.COUNTY_REPORT: N_("Counties report cases and opinions"),
    Step.DETACHMENT_STATS: N_("Detachment returns case statistics"),
    Step.CENTRE_COMPILE: N_("Centre compiles the report"),
    Step.REVIEW_MEETING: N_("Review meeting and minutes"),
    Step.CLUE_HANDOVER: N_("Clue handover list"),
    Step.MONTHLY_NOTICE: N_("Monthly report and notice"),
}

STEP_WORDS = {  # in the official documents
    Step.COUNTY_REPORT: "县市报送案件及调查处理意见",
    Step.DETACHMENT_STATS: "执法支队反馈案件统计",
    Step.CENTRE_COMPILE: "监控中心汇总",
    Step.REVIEW_MEETING: "会审会议及纪要",
    Step.CLUE_HANDOVER: "线索移交清单",
    Step.MONTHLY_NOTICE: "月度报告及通报",
}

BODY_WORDS = {
    Body.COUNTY: "县市",
    Body.DETACHMENT: "州生态环境执法支队",
    Body.CENTRE: "州生态环境监控中心",
    Body.REVIEW_GROUP: "会审组",
}

# The steps the prefecture records one per month (the counties' step is one per county).
PREFECTURE_STEPS = tuple(s for s in Step if s is not Step.COUNTY_REPORT)

DETACHMENT_SHARE_TENTHS = 3  # RULES §8: the detachment keeps 30%, the counties get 70%


def first_of(month: date) -> date:
    return month.replace(day=1)


def next_month(month: date) -> date:
    first = first_of(month)
    return (first + timedelta(days=32)).replace(day=1)


def deadline(step: Step, month: date) -> date:
    """The calendar date by which `step` of month `month` is due (RULES §8): a day of the next
    month, whatever day of the week or holiday it is."""
    return next_month(month).replace(day=DUE_DAY[step])


def is_reportable(month: date, today: date) -> bool:
    """A month's cycle can be worked on once it is over: from the first of the next month."""
    return next_month(month) <= today


class Calendar(Protocol):
    def is_workday(self, day: date) -> bool: ...


def warning_starts(due: date, working_days: int, calendar: Calendar) -> date:
    """The day from which the coming deadline is shown: `working_days` working days before
    `due` (the deadline itself not counted); 0 gives the deadline itself."""
    day = due
    counted = 0
    while counted < working_days:
        day -= timedelta(days=1)
        if calendar.is_workday(day):
            counted += 1
    return day


def last_working_day(due: date, calendar: Calendar) -> date | None:
    """The deadline if it is a working day, or the last working day before it in its own
    month (the cycle's month: the work cannot be done before the month reported is over);
    None when the month has no working day up to the deadline (2026-10-05, National Day)."""
    day = due
    while not calendar.is_workday(day):
        if day.day == 1:
            return None
        day -= timedelta(days=1)
    return day


class State(enum.StrEnum):
    DONE = "done"  # done on or before its date
    DONE_LATE = "done_late"
    OVERDUE = "overdue"  # not done, its date passed
    DUE_SOON = "due_soon"  # not done, inside the warning days
    UPCOMING = "upcoming"  # not done, not yet inside the warning days


@dataclass(frozen=True)
class StepStatus:
    """Where one step stands on `today`."""

    due: date
    state: State
    done_on: date | None
    days: int  # days late (done late, overdue), days left (due soon, upcoming), 0 when done
    non_working: bool  # the due date is a weekend or holiday: finish before it
    finish_by: date | None  # the last working day of its month up to the due date, if any

    @property
    def late(self) -> bool:
        return self.state in (State.DONE_LATE, State.OVERDUE)


def status(
    due: date, done_on: date | None, today: date, working_days: int, calendar: Calendar
) -> StepStatus:
    """A step due on `due`, done on `done_on` (None: not done), seen on `today`, with the
    advance warning from `working_days` working days before the date."""
    finish_by = last_working_day(due, calendar)
    non_working = not calendar.is_workday(due)
    if done_on is not None:
        if done_on <= due:
            return StepStatus(due, State.DONE, done_on, 0, non_working, finish_by)
        return StepStatus(
            due, State.DONE_LATE, done_on, (done_on - due).days, non_working, finish_by
        )
    if today > due:
        return StepStatus(due, State.OVERDUE, None, (today - due).days, non_working, finish_by)
    left = (due - today).days
    if today >= warning_starts(due, working_days, calendar):
        return StepStatus(due, State.DUE_SOON, None, left, non_working, finish_by)
    return StepStatus(due, State.UPCOMING, None, left, non_working, finish_by)


def late_counts(owed: Iterable[tuple[str, StepStatus]]) -> Counter[str]:
    """How many late steps (done late or overdue) each party has: `owed` is (party, status)
    pairs, the party being a county's name or a body's."""
    return Counter(party for party, step in owed if step.late)


# --- the clue handover list: who keeps what (RULES §8) ----------------------------------------


@dataclass(frozen=True)
class Clue:
    """An enterprise the review meeting turned into a clue, with its flags."""

    key: int  # the source's id: the last tie-break, so the same clues always split the same
    escalated: bool  # the meeting gave an escalation opinion
    key_polluter: bool  # a key polluter in the ledger
    difficult: bool  # the meeting judged it difficult
    exceedances: int  # the month's valid exceedance hours


def detachment_count(total: int) -> int:
    """How many of `total` clues the detachment keeps: 30% rounded half up (2 of 5, 1 of 2,
    0 of 1, 3 of 10, 4 of 12)."""
    return (total * DETACHMENT_SHARE_TENTHS + 5) // 10


def priority(clue: Clue) -> tuple[bool, bool, bool, int, int]:
    """The order in which the detachment takes clues: escalated first, then key polluters,
    then difficult ones, then the most exceedances; the source's id breaks what is left."""
    return (
        not clue.escalated,
        not clue.key_polluter,
        not clue.difficult,
        -clue.exceedances,
        clue.key,
    )


def detachment_keeps(clues: Sequence[Clue]) -> set[int]:
    """The keys of the clues the detachment keeps (about 30%); the rest go to their counties."""
    ordered = sorted(clues, key=priority)
    return {clue.key for clue in ordered[: detachment_count(len(clues))]}
