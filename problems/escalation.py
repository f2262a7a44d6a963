"""The problem workflow up the four grid levels (RULES.md §3; §5 items 4-7; §10). Pure.

States, the events that move a problem between them, who may fire each event (a *capacity*: the
problem's village, its township, its county, the prefecture, the assignee, the reporter — the
services work out which capacities a person holds for a given problem), what each event needs,
and the deadline each waiting state carries (in working days of grid/workdays.py). No Flask, no
database: inputs in, a decision out.

    public complaint ─confirm─▶ village ─escalate─▶ township ─approve─▶ county ─assign/joint─▶
    rectifying ─submit─▶ rechecking ─pass─▶ closed
                                    └fail─▶ rectifying (recorded: scoring item 6)
    village/returned ─resolve─▶ resolved    township ─send back─▶ returned ─escalate─▶ township
    county ─refer─▶ prefecture ─assign/joint─▶ rectifying      complaint ─dismiss─▶ dismissed
    any open state: comment (anyone concerned), supervise 督办 (the prefecture)
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from grid.workdays import WorkCalendar


class State(StrEnum):
    SUBMITTED = "submitted"  # a public complaint, until a supervisor confirms it
    VILLAGE = "village"  # held by the village: resolve there, or escalate
    RETURNED = "returned"  # sent back to the village by the township, with a reason
    TOWNSHIP = "township"  # escalated: the township resolves, sends back or approves
    COUNTY = "county"  # approved up: the county assigns (交办), enforces jointly, or refers
    PREFECTURE = "prefecture"  # a cross-county matter referred to the prefecture office
    RECTIFYING = "rectifying"  # assigned, with a rectification deadline
    RECHECKING = "rechecking"  # rectification submitted, to be re-checked (复查)
    RESOLVED = "resolved"  # resolved at the village or township
    CLOSED = "closed"  # rectified and re-checked
    DISMISSED = "dismissed"  # a complaint found unfounded


CLOSED_STATES = frozenset({State.RESOLVED, State.CLOSED, State.DISMISSED})
OPEN_STATES: tuple[str, ...] = tuple(s.value for s in State if s not in CLOSED_STATES)


class Event(StrEnum):
    CONFIRM = "confirm"
    DISMISS = "dismiss"
    RESOLVE = "resolve"
    ESCALATE = "escalate"
    SEND_BACK = "send_back"
    APPROVE = "approve"
    ASSIGN = "assign"
    JOINT = "joint"  # joint enforcement with a named lead department
    REFER = "refer"
    SUBMIT = "submit"  # the rectification, with after-photos
    RECHECK_PASS = "recheck_pass"  # noqa: S105 - an event name, not a password
    RECHECK_FAIL = "recheck_fail"
    COMMENT = "comment"
    SUPERVISE = "supervise"  # 督办


class Capacity(StrEnum):
    VILLAGE = "village"  # a supervisor or head of the problem's village
    TOWNSHIP = "township"  # a head of its township, or the sub-grid head covering the village
    COUNTY = "county"  # the county's grid office, heads and sub-grid heads
    PREFECTURE = "prefecture"  # the prefecture's office and heads
    ASSIGNEE = "assignee"  # the person the rectification was assigned to
    REPORTER = "reporter"  # who reported it


class Need(StrEnum):
    """What an event must come with."""

    COMMENT = "comment"  # a reason or an account
    AFTER_PHOTO = "after_photo"  # a photo of the place after (resolved, rectified)
    BASIC_FACTS = "basic_facts"  # category, description and place of the problem
    ASSIGNEE = "assignee"  # a department or a person
    LEAD_DEPARTMENT = "lead_department"
    DUE_DATE = "due_date"  # the rectification deadline (a day, not in the past)


@dataclass(frozen=True)
class Rule:
    to: State | None  # None: the problem stays where it is
    by: frozenset[Capacity]
    needs: tuple[Need, ...] = ()


_ANY = frozenset(Capacity)
_OPEN = [s for s in State if s not in CLOSED_STATES]


def _rules() -> dict[tuple[State, Event], Rule]:
    v, t, c, p = Capacity.VILLAGE, Capacity.TOWNSHIP, Capacity.COUNTY, Capacity.PREFECTURE
    S, E, N = State, Event, Need
    rules = {
        (S.SUBMITTED, E.CONFIRM): Rule(S.VILLAGE, frozenset({v, t})),
        (S.SUBMITTED, E.DISMISS): Rule(S.DISMISSED, frozenset({v, t}), (N.COMMENT,)),
        # the village resolves what it can (stopped on the spot, with an after-photo), or sends
        # it up once the basic facts are established (001 annex 1 art. 8)
        (S.VILLAGE, E.RESOLVE): Rule(S.RESOLVED, frozenset({v}), (N.COMMENT, N.AFTER_PHOTO)),
        (S.VILLAGE, E.ESCALATE): Rule(S.TOWNSHIP, frozenset({v}), (N.BASIC_FACTS,)),
        (S.RETURNED, E.RESOLVE): Rule(S.RESOLVED, frozenset({v}), (N.COMMENT, N.AFTER_PHOTO)),
        (S.RETURNED, E.ESCALATE): Rule(S.TOWNSHIP, frozenset({v}), (N.BASIC_FACTS, N.COMMENT)),
        # the township resolves, sends back with a reason, or approves it up to the county
        (S.TOWNSHIP, E.RESOLVE): Rule(S.RESOLVED, frozenset({t}), (N.COMMENT,)),
        (S.TOWNSHIP, E.SEND_BACK): Rule(S.RETURNED, frozenset({t}), (N.COMMENT,)),
        (S.TOWNSHIP, E.APPROVE): Rule(S.COUNTY, frozenset({t})),
        # the county assigns (交办) with a deadline, enforces jointly, or refers it up (art. 18)
        (S.COUNTY, E.ASSIGN): Rule(S.RECTIFYING, frozenset({c}), (N.ASSIGNEE, N.DUE_DATE)),
        (S.COUNTY, E.JOINT): Rule(S.RECTIFYING, frozenset({c}), (N.LEAD_DEPARTMENT, N.DUE_DATE)),
        (S.COUNTY, E.REFER): Rule(S.PREFECTURE, frozenset({c}), (N.COMMENT,)),
        (S.PREFECTURE, E.ASSIGN): Rule(S.RECTIFYING, frozenset({p}), (N.ASSIGNEE, N.DUE_DATE)),
        (S.PREFECTURE, E.JOINT): Rule(
            S.RECTIFYING, frozenset({p}), (N.LEAD_DEPARTMENT, N.DUE_DATE)
        ),
        # the assignee (or the county on a department's behalf) reports the rectification
        (S.RECTIFYING, E.SUBMIT): Rule(
            S.RECHECKING, frozenset({Capacity.ASSIGNEE, c}), (N.COMMENT, N.AFTER_PHOTO)
        ),
        # re-checked by the county (or the reporter, see RecheckBy); a failure is recorded
        (S.RECHECKING, E.RECHECK_PASS): Rule(S.CLOSED, frozenset({c})),
        (S.RECHECKING, E.RECHECK_FAIL): Rule(S.RECTIFYING, frozenset({c}), (N.COMMENT, N.DUE_DATE)),
    }
    for state in _OPEN:
        rules[(state, E.COMMENT)] = Rule(None, _ANY, (N.COMMENT,))
        rules[(state, E.SUPERVISE)] = Rule(None, frozenset({p}), (N.COMMENT,))
    return rules


RULES: dict[tuple[State, Event], Rule] = _rules()

# Which level holds a problem in each state (shown on lists; the county counts scoring items).
HOLDER: dict[State, str | None] = {
    State.SUBMITTED: "village",
    State.VILLAGE: "village",
    State.RETURNED: "village",
    State.TOWNSHIP: "township",
    State.COUNTY: "county",
    State.PREFECTURE: "prefecture",
    State.RECTIFYING: "assignee",
    State.RECHECKING: "county",
    State.RESOLVED: None,
    State.CLOSED: None,
    State.DISMISSED: None,
}


# Who acts next in each state (for notifications and inboxes).
NEXT_ACTOR: dict[State, Capacity] = {
    State.SUBMITTED: Capacity.VILLAGE,
    State.VILLAGE: Capacity.VILLAGE,
    State.RETURNED: Capacity.VILLAGE,
    State.TOWNSHIP: Capacity.TOWNSHIP,
    State.COUNTY: Capacity.COUNTY,
    State.PREFECTURE: Capacity.PREFECTURE,
    State.RECTIFYING: Capacity.ASSIGNEE,
    State.RECHECKING: Capacity.COUNTY,
}


class RecheckBy(StrEnum):
    COUNTY = "county"
    REPORTER = "reporter"


@dataclass(frozen=True)
class Deadlines:
    """How long each waiting state may last (issue 4 defaults; configurable)."""

    township_hours: int = 24  # the township decides within 24 hours
    county_working_days: int = 1  # the county assigns within 1 working day (scoring item 5)
    prefecture_working_days: int = 1
    recheck_working_days: int = 3  # not fixed by the documents: the project's default
    confirm_hours: int = 48  # a public complaint is confirmed or dismissed within 48 hours


@dataclass(frozen=True)
class Request:
    """An event as someone fires it, with what came with it."""

    event: Event
    capacities: frozenset[Capacity]  # what the person is, for this problem
    comment: str = ""
    after_photos: int = 0
    has_basic_facts: bool = True
    assignee: str = ""  # a department or a person's name
    lead_department: str = ""
    due_date: date | None = None


@dataclass(frozen=True)
class Decision:
    to: State  # the state after the event (the same one for comment/supervise)
    deadline: datetime | None  # local time by which the next step is due; None: no deadline
    rule: Rule = field(repr=False)


class Refused(Exception):
    """The event cannot be fired; `code` names why (the views put it in words)."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


def decide(
    state: str,
    request: Request,
    now: datetime,
    calendar: WorkCalendar,
    deadlines: Deadlines = Deadlines(),
    recheck_by: RecheckBy = RecheckBy.COUNTY,
) -> Decision:
    """The outcome of `request` on a problem in `state` at local time `now`, or Refused."""
    try:
        current = State(state)
    except ValueError:
        raise Refused("unknown_state", state) from None
    try:
        event = Event(request.event)
    except ValueError:
        raise Refused("unknown_event", str(request.event)) from None
    if current in CLOSED_STATES:
        raise Refused("closed", current)
    rule = RULES.get((current, event))
    if rule is None:
        raise Refused("not_now", f"{event} in {current}")
    allowed = set(rule.by)
    if event in (Event.RECHECK_PASS, Event.RECHECK_FAIL) and recheck_by == RecheckBy.REPORTER:
        allowed = {Capacity.REPORTER}
    if not allowed & request.capacities:
        raise Refused("not_yours", f"{event} needs {', '.join(sorted(allowed))}")
    _check_needs(rule.needs, request, now)
    to = rule.to or current
    deadline = _deadline(to, request, now, calendar, deadlines) if rule.to else None
    return Decision(to, deadline, rule)


def _check_needs(needs: Iterable[Need], request: Request, now: datetime) -> None:
    for need in needs:
        if need == Need.COMMENT and not request.comment.strip():
            raise Refused("needs_comment")
        if need == Need.AFTER_PHOTO and request.after_photos < 1:
            raise Refused("needs_after_photo")
        if need == Need.BASIC_FACTS and not request.has_basic_facts:
            raise Refused("needs_basic_facts")
        if need == Need.ASSIGNEE and not request.assignee.strip():
            raise Refused("needs_assignee")
        if need == Need.LEAD_DEPARTMENT and not request.lead_department.strip():
            raise Refused("needs_lead_department")
        if need == Need.DUE_DATE:
            if request.due_date is None:
                raise Refused("needs_due_date")
            if request.due_date < now.date():
                raise Refused("due_date_past")


def _deadline(
    to: State, request: Request, now: datetime, calendar: WorkCalendar, deadlines: Deadlines
) -> datetime | None:
    if to == State.SUBMITTED:
        return now + timedelta(hours=deadlines.confirm_hours)
    if to == State.TOWNSHIP:
        return now + timedelta(hours=deadlines.township_hours)
    if to == State.COUNTY:
        return calendar.add_working_days(now, deadlines.county_working_days)
    if to == State.PREFECTURE:
        return calendar.add_working_days(now, deadlines.prefecture_working_days)
    if to == State.RECTIFYING and request.due_date is not None:
        return datetime.combine(request.due_date + timedelta(days=1), time.min, now.tzinfo)
    if to == State.RECHECKING:
        return calendar.add_working_days(now, deadlines.recheck_working_days)
    return None


def deadline_on_entry(
    to: State, now: datetime, calendar: WorkCalendar, deadlines: Deadlines = Deadlines()
) -> datetime | None:
    """The deadline of a problem that starts in `to` (a new report or complaint)."""
    return _deadline(to, Request(Event.COMMENT, frozenset()), now, calendar, deadlines)


def events_for(
    state: str, capacities: frozenset[Capacity], recheck_by: RecheckBy = RecheckBy.COUNTY
) -> list[Event]:
    """The events this person may fire now (for the buttons on the problem page)."""
    try:
        current = State(state)
    except ValueError:
        return []
    result = []
    for (s, event), rule in RULES.items():
        if s != current:
            continue
        allowed = set(rule.by)
        if event in (Event.RECHECK_PASS, Event.RECHECK_FAIL) and recheck_by == RecheckBy.REPORTER:
            allowed = {Capacity.REPORTER}
        if allowed & capacities:
            result.append(event)
    return result
