"""The problem workflow as a table (issue 4; problems/escalation.py). Pure: no app, no database.

The expected table below is written from the issue's text, not read back from `RULES`: every
(state, event, capacity) either moves to the expected state with the expected deadline or is
refused with the expected code. Working days are checked across real Chinese holidays with
adjusted working weekends (调休), using the chinese-calendar package.
"""

from datetime import date, datetime, timedelta
from itertools import combinations
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from problems.escalation import (
    CLOSED_STATES,
    HOLDER,
    RULES,
    Capacity,
    Event,
    RecheckBy,
    Refused,
    Request,
    State,
    WorkCalendar,
    decide,
    events_for,
)

SH = ZoneInfo("Asia/Shanghai")


def at(y, mo, d, h=0, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=SH)


# An ordinary working Wednesday, far from any holiday (Dragon Boat 2025 was May 31 - June 2).
NOW = at(2025, 6, 11, 10)
DUE = date(2025, 6, 20)  # a Friday, in the future

# --- the specification, as a table -------------------------------------------------------------

STATES = [
    "submitted", "village", "returned", "township", "county", "prefecture", "rectifying",
    "rechecking", "resolved", "closed", "dismissed",
]  # fmt: skip
CLOSED = {"resolved", "closed", "dismissed"}
OPEN = [s for s in STATES if s not in CLOSED]
EVENTS = [
    "confirm", "dismiss", "resolve", "escalate", "send_back", "approve", "assign", "joint",
    "refer", "submit", "recheck_pass", "recheck_fail", "comment", "supervise",
]  # fmt: skip
CAPACITIES = ["village", "township", "county", "prefecture", "assignee", "reporter"]
ALL = frozenset(CAPACITIES)

# (state, event) -> (target state, None = stays; who may fire it; what it needs)
SPEC: dict[tuple[str, str], tuple[str | None, frozenset[str], tuple[str, ...]]] = {
    ("submitted", "confirm"): ("village", frozenset({"village", "township"}), ()),
    ("submitted", "dismiss"): ("dismissed", frozenset({"village", "township"}), ("comment",)),
    ("village", "resolve"): ("resolved", frozenset({"village"}), ("comment", "after_photo")),
    ("village", "escalate"): ("township", frozenset({"village"}), ("basic_facts",)),
    ("returned", "resolve"): ("resolved", frozenset({"village"}), ("comment", "after_photo")),
    ("returned", "escalate"): ("township", frozenset({"village"}), ("basic_facts", "comment")),
    ("township", "resolve"): ("resolved", frozenset({"township"}), ("comment",)),
    ("township", "send_back"): ("returned", frozenset({"township"}), ("comment",)),
    ("township", "approve"): ("county", frozenset({"township"}), ()),
    ("county", "assign"): ("rectifying", frozenset({"county"}), ("assignee", "due_date")),
    ("county", "joint"): ("rectifying", frozenset({"county"}), ("lead_department", "due_date")),
    ("county", "refer"): ("prefecture", frozenset({"county"}), ("comment",)),
    ("prefecture", "assign"): ("rectifying", frozenset({"prefecture"}), ("assignee", "due_date")),
    ("prefecture", "joint"): (
        "rectifying",
        frozenset({"prefecture"}),
        ("lead_department", "due_date"),
    ),
    ("rectifying", "submit"): (
        "rechecking",
        frozenset({"assignee", "county"}),
        ("comment", "after_photo"),
    ),
    ("rechecking", "recheck_pass"): ("closed", frozenset({"county"}), ()),
    ("rechecking", "recheck_fail"): ("rectifying", frozenset({"county"}), ("comment", "due_date")),
}
for _state in OPEN:
    SPEC[(_state, "comment")] = (None, ALL, ("comment",))
    SPEC[(_state, "supervise")] = (None, frozenset({"prefecture"}), ("comment",))

# The deadline carried on entering each state, for a move at NOW with due date DUE (hand-worked):
EXPECTED_DEADLINE = {
    "township": at(2025, 6, 12, 10),  # now + 24 h
    "county": at(2025, 6, 12, 10),  # Wed 10:00 + 1 working day = Thu 10:00
    "prefecture": at(2025, 6, 12, 10),
    "rectifying": at(2025, 6, 21, 0),  # the end of the due date Fri 2025-06-20
    "rechecking": at(2025, 6, 16, 10),  # Wed 10:00 + 3 working days: Thu, Fri, (weekend), Mon
    # the issue sets no deadline on these
    "village": None,
    "returned": None,
    "resolved": None,
    "closed": None,
    "dismissed": None,
}

FULL = {
    "comment": "checked on site",
    "after_photos": 1,
    "has_basic_facts": True,
    "assignee": "County Ecology Bureau",
    "lead_department": "County Air Office",
    "due_date": DUE,
}
# a request field emptied -> the refusal code it must cause
WITHOUT = {
    "comment": ({"comment": ""}, "needs_comment"),
    "after_photo": ({"after_photos": 0}, "needs_after_photo"),
    "basic_facts": ({"has_basic_facts": False}, "needs_basic_facts"),
    "assignee": ({"assignee": ""}, "needs_assignee"),
    "lead_department": ({"lead_department": ""}, "needs_lead_department"),
    "due_date": ({"due_date": None}, "needs_due_date"),
}
BARE = {
    "comment": "",
    "after_photos": 0,
    "has_basic_facts": False,
    "assignee": "",
    "lead_department": "",
    "due_date": None,
}


def calendar() -> WorkCalendar:
    return WorkCalendar(chinese_calendar.is_workday)


def request(event, capacities, **fields) -> Request:
    return Request(event, frozenset(capacities), **{**FULL, **fields})


def refusal(state, req, now=NOW, **kwargs) -> str:
    with pytest.raises(Refused) as caught:
        decide(state, req, now, calendar(), **kwargs)
    return caught.value.code


def assert_local(actual: datetime | None, expected: datetime | None) -> None:
    """Same instant and the same wall clock (so the same Asia/Shanghai offset)."""
    assert actual == expected
    if expected is not None:
        assert actual.utcoffset() == timedelta(hours=8)
        assert actual.replace(tzinfo=None) == expected.replace(tzinfo=None)


def expected_outcome(state, event, capacities, recheck_by="county"):
    """("moves", to, deadline) or ("refused", code), from the table above."""
    if state in CLOSED:
        return ("refused", "closed")
    if (state, event) not in SPEC:
        return ("refused", "not_now")
    to, by, _ = SPEC[(state, event)]
    if event in ("recheck_pass", "recheck_fail") and recheck_by == "reporter":
        by = frozenset({"reporter"})
    if not by & set(capacities):
        return ("refused", "not_yours")
    if to is None:
        return ("moves", state, None)
    return ("moves", to, EXPECTED_DEADLINE[to])


def test_the_vocabulary_is_the_issues():
    assert sorted(State) == sorted(STATES)
    assert sorted(Event) == sorted(EVENTS)
    assert sorted(Capacity) == sorted(CAPACITIES)
    assert set(CLOSED_STATES) == CLOSED


# --- 1. the full table ---------------------------------------------------------------------------


@pytest.mark.parametrize("capacity", [*CAPACITIES, None], ids=[*CAPACITIES, "nobody"])
@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("state", STATES)
def test_table(state, event, capacity):
    capacities = {capacity} if capacity else set()
    expected = expected_outcome(state, event, capacities)
    req = request(event, capacities)
    if expected[0] == "refused":
        assert refusal(state, req) == expected[1]
        return
    decision = decide(state, req, NOW, calendar())
    assert decision.to == expected[1]
    assert_local(decision.deadline, expected[2])


def test_unknown_state_and_event():
    assert refusal("archived", request("comment", ALL)) == "unknown_state"
    assert refusal("", request("comment", ALL)) == "unknown_state"
    assert refusal("village", request("frobnicate", ALL)) == "unknown_event"
    assert events_for("archived", ALL) == []


# --- 2. each need, one at a time ----------------------------------------------------------------

NEED_CASES = [
    (state, event, need)
    for (state, event), (_, _, needs) in SPEC.items()
    for need in needs
]  # fmt: skip


@pytest.mark.parametrize(("state", "event", "need"), NEED_CASES)
def test_each_need_refused_on_its_own(state, event, need):
    _, by, _ = SPEC[(state, event)]
    fields, code = WITHOUT[need]
    assert refusal(state, request(event, by, **fields)) == code


@pytest.mark.parametrize(("state", "event"), list(SPEC))
def test_nothing_beyond_the_needs_is_required(state, event):
    to, by, needs = SPEC[(state, event)]
    fields = dict(BARE)
    for need in needs:  # give only what the rule needs
        if need == "after_photo":
            fields["after_photos"] = 1
        elif need == "basic_facts":
            fields["has_basic_facts"] = True
        else:
            fields[need] = FULL[need]
    decision = decide(state, Request(event, frozenset(by), **fields), NOW, calendar())
    assert decision.to == (to or state)


@pytest.mark.parametrize(
    ("state", "event"),
    [key for key, (_, _, needs) in SPEC.items() if "due_date" in needs],
)
def test_due_date_in_the_past_is_refused_today_is_not(state, event):
    _, by, _ = SPEC[(state, event)]
    yesterday = NOW.date() - timedelta(days=1)
    assert refusal(state, request(event, by, due_date=yesterday)) == "due_date_past"
    decision = decide(state, request(event, by, due_date=NOW.date()), NOW, calendar())
    assert decision.to == "rectifying"
    assert_local(decision.deadline, at(2025, 6, 12, 0))  # the end of today


def test_a_blank_comment_is_no_comment():
    assert refusal("township", request("send_back", {"township"}, comment="  \n")) == (
        "needs_comment"
    )


# --- 3. re-checked by the reporter ---------------------------------------------------------------


@pytest.mark.parametrize("event", ["recheck_pass", "recheck_fail"])
@pytest.mark.parametrize("capacity", CAPACITIES)
def test_recheck_by_reporter(event, capacity):
    req = request(event, {capacity})
    if capacity == "reporter":
        decision = decide("rechecking", req, NOW, calendar(), recheck_by=RecheckBy.REPORTER)
        assert decision.to == {"recheck_pass": "closed", "recheck_fail": "rectifying"}[event]
        assert_local(decision.deadline, EXPECTED_DEADLINE[decision.to])
    else:  # the county included
        assert refusal("rechecking", req, recheck_by=RecheckBy.REPORTER) == "not_yours"


def test_recheck_by_reporter_leaves_other_events_alone():
    by = RecheckBy.REPORTER
    assert decide("rectifying", request("submit", {"assignee"}), NOW, calendar(), recheck_by=by)
    assert refusal("rectifying", request("submit", {"reporter"}), recheck_by=by) == "not_yours"
    decision = decide("rechecking", request("comment", {"county"}), NOW, calendar(), recheck_by=by)
    assert decision.to == "rechecking"
    assert set(events_for("rechecking", frozenset({"county"}), by)) == {"comment"}
    assert set(events_for("rechecking", frozenset({"reporter"}), by)) == {
        "recheck_pass",
        "recheck_fail",
        "comment",
    }


# --- 4. no dead ends -----------------------------------------------------------------------------


def _moves() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {s: set() for s in STATES}
    for (state, _event), rule in RULES.items():
        if rule.to is not None and rule.to != state:
            graph[state].add(rule.to)
    return graph


def _reachable(start: str, graph: dict[str, set[str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_rules_graph_is_the_specs():
    spec_graph: dict[str, set[str]] = {s: set() for s in STATES}
    for (state, _event), (to, _, _) in SPEC.items():
        if to is not None and to != state:
            spec_graph[state].add(to)
    assert _moves() == spec_graph


@pytest.mark.parametrize("entry", ["submitted", "village"])
def test_no_dead_ends(entry):
    graph = _moves()
    reachable = _reachable(entry, graph)
    assert set(OPEN) - {"submitted"} <= reachable  # every open state after the complaint
    assert CLOSED <= reachable | {"dismissed"}
    for state in reachable - CLOSED:
        assert graph[state], f"{state} is a dead end"
        assert _reachable(state, graph) & CLOSED, f"{state} never closes"
    for state in CLOSED:
        assert not graph[state]
        assert not [key for key in RULES if key[0] == state]


def test_holders():
    assert set(HOLDER) == set(STATES)
    for state in STATES:
        if state in CLOSED:
            assert HOLDER[state] is None
        else:
            assert HOLDER[state], f"nobody holds an open problem in {state}"


# --- 5. events_for agrees with decide ------------------------------------------------------------

SUBSETS = [frozenset(c) for n in range(len(CAPACITIES) + 1) for c in combinations(CAPACITIES, n)]


@pytest.mark.parametrize("recheck_by", ["county", "reporter"])
@pytest.mark.parametrize("state", STATES)
def test_events_for_agrees_with_decide(state, recheck_by):
    cal = calendar()
    for capacities in SUBSETS:
        listed = events_for(state, capacities, RecheckBy(recheck_by))
        assert len(listed) == len(set(listed))
        allowed = set()
        for event in EVENTS:
            try:
                decide(
                    state, request(event, capacities), NOW, cal, recheck_by=RecheckBy(recheck_by)
                )
            except Refused as refused:
                assert refused.code in ("not_yours", "not_now", "closed")
            else:
                allowed.add(event)
            assert (event in allowed) == (
                expected_outcome(state, event, capacities, recheck_by)[0] == "moves"
            )
        assert set(listed) == allowed, (state, sorted(capacities))


# --- 6. working days across real holidays --------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # a plain weekend: Fri 16:00 + 1 = Mon 16:00
        (at(2025, 6, 13, 16), 1, at(2025, 6, 16, 16)),
        (at(2025, 6, 11, 10), 3, at(2025, 6, 16, 10)),
        # National Day 2025: Oct 1-8 off (Oct 6 Mid-autumn); Sun Sep 28 and Sat Oct 11 worked
        (at(2025, 9, 30, 15), 1, at(2025, 10, 9, 15)),  # Tue before -> Thu after
        (at(2025, 9, 27, 10), 1, at(2025, 9, 29, 0)),  # Sat off; Sun 28 worked from 00:00
        (at(2025, 10, 10, 18), 1, at(2025, 10, 11, 18)),  # Fri -> Sat 11 (worked)
        (at(2025, 9, 30, 15), 3, at(2025, 10, 11, 15)),  # Oct 9, 10, 11
        (at(2025, 10, 3, 9), 1, at(2025, 10, 10, 0)),  # from inside the holiday: Oct 9 00:00
        # Spring Festival 2026, per chinese_calendar.get_holiday_detail:
        #   Feb 15 (Sun) .. Feb 23 (Mon): (True, 'Spring Festival') -> holidays
        #   Feb 14 (Sat), Feb 28 (Sat): (False, 'Spring Festival') -> adjusted working days
        #   Feb 13 (Fri), Feb 24 (Tue): ordinary working days; Mar 1 (Sun) off
        (at(2026, 2, 13, 16), 1, at(2026, 2, 14, 16)),  # Fri -> Sat 14 (worked)
        (at(2026, 2, 14, 16), 1, at(2026, 2, 24, 16)),  # Sat 14 -> across the holiday -> Tue 24
        (at(2026, 2, 12, 10), 3, at(2026, 2, 24, 10)),  # Feb 13, 14, 24
        (at(2026, 2, 18, 9), 1, at(2026, 2, 25, 0)),  # from inside the holiday: Feb 24 00:00 + 24 h
        (at(2026, 2, 27, 16), 1, at(2026, 2, 28, 16)),  # Fri -> Sat 28 (worked)
        (at(2026, 2, 27, 16), 3, at(2026, 3, 3, 16)),  # Feb 28, (Sun Mar 1 off), Mar 2, Mar 3
    ],
)
def test_working_days(start, days, expected):
    assert_local(calendar().add_working_days(start, days), expected)


def test_the_calendar_says_what_the_expectations_assume():
    # the facts the table above relies on, straight from the package
    assert chinese_calendar.get_holiday_detail(date(2026, 2, 14)) == (False, "Spring Festival")
    assert chinese_calendar.get_holiday_detail(date(2026, 2, 28)) == (False, "Spring Festival")
    assert all(
        chinese_calendar.get_holiday_detail(date(2026, 2, d))[0] for d in range(15, 24)
    )  # fmt: skip
    assert chinese_calendar.is_workday(date(2025, 9, 28))
    assert chinese_calendar.is_workday(date(2025, 10, 11))


def test_county_deadline_across_national_day():
    cal = calendar()
    approved = at(2025, 9, 30, 15)
    decision = decide("township", request("approve", {"township"}), approved, cal)
    assert decision.to == "county"
    assert_local(decision.deadline, at(2025, 10, 9, 15))
    referred = decide("county", request("refer", {"county"}), approved, cal)
    assert_local(referred.deadline, at(2025, 10, 9, 15))
    submitted = decide("rectifying", request("submit", {"assignee"}), approved, cal)
    assert_local(submitted.deadline, at(2025, 10, 11, 15))  # Oct 9, 10, Sat 11


# --- 7. beyond the package's years ---------------------------------------------------------------


def test_2027_is_not_in_the_package():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))


def test_beyond_the_package_falls_back_to_weekdays():
    cal = calendar()
    assert cal.is_workday(date(2027, 1, 1))  # a Friday (New Year's Day, but unknown)
    assert not cal.is_workday(date(2027, 1, 2))  # Saturday
    assert cal.guessed == {date(2027, 1, 1), date(2027, 1, 2)}
    assert cal.is_workday(date(2026, 12, 31))
    assert cal.guessed == {date(2027, 1, 1), date(2027, 1, 2)}  # 2026 is known
    cal = calendar()
    assert_local(cal.add_working_days(at(2026, 12, 31, 10), 1), at(2027, 1, 1, 10))
    assert cal.guessed == {date(2027, 1, 1)}


def test_overrides_win():
    cal = WorkCalendar(
        chinese_calendar.is_workday,
        overrides={
            date(2027, 1, 1): False,  # beyond the package
            date(2025, 10, 8): True,  # an official holiday made a working day
            date(2025, 10, 9): False,  # an official working day made a day off
        },
    )
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.is_workday(date(2025, 10, 8))
    assert not cal.is_workday(date(2025, 10, 9))
    assert date(2027, 1, 1) not in cal.guessed
    # Thu Dec 31 10:00 -> Jan 1 off (override), Jan 2-3 weekend (guessed) -> Mon Jan 4 10:00
    assert_local(cal.add_working_days(at(2026, 12, 31, 10), 1), at(2027, 1, 4, 10))
    assert {date(2027, 1, 2), date(2027, 1, 3), date(2027, 1, 4)} <= cal.guessed
    assert date(2027, 1, 1) not in cal.guessed
    assert not {d for d in cal.guessed if d.year < 2027}
    # Tue Sep 30 15:00 -> Oct 8 (override: worked) 15:00
    assert_local(cal.add_working_days(at(2025, 9, 30, 15), 1), at(2025, 10, 8, 15))


# --- 8. the township's 24 hours are clock hours --------------------------------------------------


@pytest.mark.parametrize(
    ("escalated", "expected"),
    [
        (at(2025, 6, 14, 10), at(2025, 6, 15, 10)),  # Saturday -> Sunday
        (at(2025, 10, 1, 10), at(2025, 10, 2, 10)),  # National Day -> still 24 h
        (at(2025, 6, 13, 16), at(2025, 6, 14, 16)),  # Friday -> Saturday
    ],
)
def test_township_deadline_is_clock_time(escalated, expected):
    for state in ("village", "returned"):
        decision = decide(state, request("escalate", {"village"}), escalated, calendar())
        assert decision.to == "township"
        assert_local(decision.deadline, expected)
