"""Problems on their way up the grid: acting on one (one event row each, chained and versioned),
new problems from patrols, the public and the offices, deadlines, upper-level findings. Services
flush; callers commit.

The rules are in problems/escalation.py (pure); this module finds out who a person is for a
problem (queries.capacities), applies the decision, records it and tells whoever acts next.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from evidence import photos
from evidence import services as evidence
from evidence.storage import PhotoStore
from extensions import db
from grid import audit
from grid.errors import Conflict, ServiceError
from grid.inputs import Fields, read_position
from grid.models import Grid, User, point
from grid.queries import find_login, locate
from grid.registry import CHAINS
from grid.time import local_today, now_local, to_utc, utcnow, work_calendar
from i18n import N_
from notify.services import notify
from patrol import catalog
from patrol.models import Visit
from patrol.services import patrol_of, source_for
from problems import escalation, findings
from problems.escalation import NEXT_ACTOR, OPEN_STATES, Capacity, Event, Refused, State
from problems.findings import ALREADY_REPORTED, MISSED, PENDING
from problems.models import Problem, ProblemEvent, UpperFinding, finding_match, problem_photo
from problems.queries import Place, capacities, people_with
from problems.settings import deadlines, recheck_by
from sync import clock
from sync.services import Item, SyncRefused, Upload, client_id_of, set_times

REFUSALS = {  # escalation.Refused codes, in words
    "unknown_state": _l("The problem is in a state this version does not know."),
    "unknown_event": _l("Unknown action."),
    "closed": _l("The problem is closed."),
    "not_now": _l("This action is not possible at this stage."),
    "not_yours": _l("You may not take this action on this problem."),
    "needs_comment": _l("Write a comment: it is required for this action."),
    "needs_after_photo": _l("Add at least one photo of the place afterwards."),
    "needs_basic_facts": _l("Fill in the category, the description and the place first."),
    "needs_assignee": _l("Name the department or the person to assign it to."),
    "needs_lead_department": _l("Name the lead department of the joint enforcement."),
    "needs_due_date": _l("Set the rectification deadline."),
    "due_date_past": _l("The rectification deadline cannot be in the past."),
}


# --- the event chain (grid/chain.py, grid/audit.py) ---------------------------------------------


def event_record(event: Any) -> dict[str, Any]:
    """What a problem event's hash covers: every column but the id and its own hash, the
    previous hash as "prev". Changing it breaks every chain already stored."""
    return {
        "problem": event.problem_id,
        "seq": event.seq,
        "at": event.at.isoformat(timespec="microseconds"),
        "actor": event.actor_id,
        "capacity": event.capacity,
        "event": event.event,
        "from": event.from_state,
        "to": event.to_state,
        "comment": event.comment or "",
        "data": event.data or {},
        "deadline": event.deadline_at.isoformat(timespec="microseconds")
        if event.deadline_at
        else None,
        "prev": event.prev_hash,
    }


def append_event(
    problem: Problem,
    event: str,
    to_state: str,
    actor: User | None = None,
    capacity: str | None = None,
    comment: str | None = None,
    data: dict | None = None,
    deadline: datetime | None = None,
    from_state: str | None = None,
    at: datetime | None = None,
) -> ProblemEvent:
    """Add the next link of the problem's chain (never an update of an earlier one)."""
    row = ProblemEvent(
        problem_id=problem.id,
        at=at or utcnow(),
        actor_id=actor and actor.id,
        capacity=capacity,
        event=event,
        from_state=from_state,
        to_state=to_state,
        comment=(comment or "").strip() or None,
        data=data or {},
        deadline_at=deadline,
    )
    return audit.append(CHAINS.entries()["problem"], problem, row)


# --- acting on a problem ------------------------------------------------------------------------


@dataclass
class Act:
    """What a person submits on the problem page."""

    event: str
    version: int
    comment: str = ""
    assignee_login: str = ""  # a person with an account (optional)
    assignee_department: str = ""
    lead_department: str = ""
    due_date: date | None = None
    photos: list[bytes | evidence.Prepared] = field(default_factory=list)


def _has_basic_facts(problem: Problem) -> bool:
    return bool(
        problem.category and (problem.description or "").strip() and problem.location is not None
    )


def act(
    problem: Problem, user: User, action: Act, store: PhotoStore, now: datetime | None = None
) -> ProblemEvent:
    """Fire one event on a problem; everything or nothing (a refusal changes nothing).

    `now` (local, aware) is the moment of the act: the present unless given (tests, imports)."""
    if action.version != problem.version:
        raise Conflict(
            _l("Someone else acted on this problem first. Reload it and check before acting again.")
        )
    caps = capacities(user.id, problem)
    assignee_user = None
    if action.assignee_login.strip():
        assignee_user = find_login(action.assignee_login)
        if assignee_user is None:
            raise ServiceError(_l("No person with that log-in name or mobile number."))
    assignee_text = action.assignee_department.strip() or (
        assignee_user.name if assignee_user else ""
    )
    request = escalation.Request(
        event=action.event,
        capacities=caps,
        comment=action.comment,
        after_photos=len(action.photos),
        has_basic_facts=_has_basic_facts(problem),
        assignee=assignee_text,
        lead_department=action.lead_department,
        due_date=action.due_date,
    )
    now = now or now_local()
    try:
        decision = escalation.decide(
            problem.state, request, now, work_calendar(), deadlines(), recheck_by()
        )
    except Refused as exc:
        raise ServiceError(REFUSALS.get(exc.code, exc.code)) from exc
    processed = [_process_photo(problem, user, data) for data in action.photos]  # all or none
    from_state = problem.state
    data: dict[str, Any] = {}
    if (
        decision.to != from_state
        and problem.deadline_at is not None
        and to_utc(now) > problem.deadline_at
    ):
        data.update(
            late=True,
            late_state=from_state,
            deadline=problem.deadline_at.isoformat(timespec="seconds"),
        )
    event = Event(action.event)
    if event in (Event.ASSIGN, Event.JOINT, Event.RECHECK_FAIL):
        problem.rectify_due = action.due_date
        data["due_date"] = action.due_date.isoformat()
    if event == Event.ASSIGN:
        problem.assignee_user_id = assignee_user.id if assignee_user else None
        problem.assignee_department = action.assignee_department.strip() or None
        problem.lead_department = None
        data.update(assignee=assignee_text, assignee_user=problem.assignee_user_id)
    if event == Event.JOINT:
        problem.lead_department = action.lead_department.strip()
        problem.assignee_user_id = assignee_user.id if assignee_user else None
        problem.assignee_department = None
        data.update(lead_department=problem.lead_department)
    if event == Event.SUPERVISE:
        problem.supervised = True
    if event == Event.CONFIRM:
        problem.priority = "normal"
    problem.state = decision.to.value
    if decision.rule.to is not None:
        problem.deadline_at = to_utc(decision.deadline)
    used = next(
        (c for c in Capacity if c in caps and c in decision.rule.by), next(iter(sorted(caps)), None)
    )
    try:
        row = append_event(
            problem,
            event.value,
            problem.state,
            actor=user,
            capacity=used,
            comment=action.comment,
            data=data,
            deadline=problem.deadline_at,
            from_state=from_state,
            at=to_utc(now),
        )
        for result in processed:
            _keep_photo(problem, user, row, result, store)
        db.session.flush()
        _tell(problem, event, from_state, user)
    except StaleDataError as exc:  # the version moved on between our read and our write
        raise Conflict(
            _l("Someone else acted on this problem first. Reload it and check before acting again.")
        ) from exc
    except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
        if not _is_race(exc):
            raise
        raise Conflict(
            _l(
                "Someone else was saving this problem at the same moment; nothing "
                "of yours was saved. Reload it and check before acting again."
            )
        ) from exc
    return row


def _is_race(exc: sa.exc.DBAPIError) -> bool:
    """A concurrent writer, not a bug: the event number taken by the other (a unique index),
    SQLite's single writer busy, or PostgreSQL's serialization failure."""
    text = str(exc.orig).lower()
    return ("problem_event" in text and ("unique" in text or "duplicate" in text)) or any(
        sign in text for sign in ("database is locked", "could not serialize", "deadlock")
    )


def _tell(problem: Problem, event: Event, from_state: str, actor: User) -> None:
    state = State(problem.state)
    subject = f"problem:{problem.id}"
    params = {"id": problem.id}
    if event in (Event.COMMENT, Event.SUPERVISE):
        people = set()
        for capacity in (NEXT_ACTOR.get(state), Capacity.REPORTER):
            if capacity:
                people |= people_with(capacity, problem)
        if event == Event.SUPERVISE:
            people |= people_with(Capacity.COUNTY, problem)
        notify(people - {actor.id}, f"problem.{event.value}", subject, _msgid(event.value), params)
        return
    if state in escalation.CLOSED_STATES:
        notify(
            {problem.reporter_id} - {actor.id},
            f"problem.{state.value}",
            subject,
            _msgid(state.value),
            params,
        )
        return
    waiting = NEXT_ACTOR[state]
    people = people_with(waiting, problem)
    if state == State.RECTIFYING and not people:
        people = people_with(Capacity.COUNTY, problem)  # a department: the county follows up
    if state == State.RECHECKING and recheck_by() == escalation.RecheckBy.REPORTER:
        people = people_with(Capacity.REPORTER, problem)
    notify(people - {actor.id}, f"problem.{state.value}", subject, _msgid(state.value), params)


# Notification texts, stored as msgids and translated when shown (notify/views.py).
_MSGIDS = {
    "submitted": N_("A public complaint in your village waits for confirmation"),
    "village": N_("A problem in your village waits for you"),
    "returned": N_("The township sent a problem back to you"),
    "township": N_("A problem waits for your approval"),
    "county": N_("A problem waits to be assigned"),
    "prefecture": N_("A problem was referred to the prefecture"),
    "rectifying": N_("A problem was assigned to you for rectification"),
    "rechecking": N_("A rectification waits to be re-checked"),
    "resolved": N_("A problem you reported was resolved"),
    "closed": N_("A problem you reported was rectified and closed"),
    "dismissed": N_("A complaint was dismissed"),
    "supervise": N_("The prefecture ordered supervision (督办) of a problem"),
    "comment": N_("New comment on a problem"),
    "overdue": N_("A problem is overdue"),
}


def _msgid(key: str) -> str:
    return _MSGIDS[key]


def _process_photo(
    problem: Problem, user: User | None, data: bytes | evidence.Prepared
) -> photos.ProcessedPhoto | evidence.Prepared:
    """A photo sent with a problem or one of its steps, through the pipeline (all of a step's
    photos are processed before anything is written: one refused, none kept). The pages
    prepare theirs before the write transaction (views.py); bytes are processed here."""
    if isinstance(data, evidence.Prepared):
        return data
    grid = db.session.get(Grid, problem.grid_id)
    moment = evidence.capture(grid, user.name if user else "公众", utcnow())
    return evidence.process_or_refuse(data, moment)


def _keep_photo(
    problem: Problem,
    user: User | None,
    event: ProblemEvent | None,
    result: photos.ProcessedPhoto | evidence.Prepared,
    store: PhotoStore,
) -> None:
    photo = evidence.keep(
        store,
        result,
        grid_id=problem.grid_id,
        uploaded_by_id=user and user.id,
        captured_at=utcnow(),
    )
    evidence.attach(problem_photo, problem.id, photo, event_id=event and event.id)


# --- new problems -------------------------------------------------------------------------------


def start(
    problem: Problem,
    state: State,
    actor: User | None,
    capacity: str | None,
    now: datetime | None = None,
) -> None:
    """Place a newly recorded problem in its first state, with its first event."""
    now = now or now_local()
    problem.state = state.value
    problem.county_id = Place.of(problem).county
    problem.deadline_at = to_utc(
        escalation.deadline_on_entry(state, now, work_calendar(), deadlines())
    )
    db.session.flush()
    append_event(
        problem,
        "report",
        state.value,
        actor=actor,
        capacity=capacity,
        deadline=problem.deadline_at,
        at=to_utc(now),
    )
    waiting = NEXT_ACTOR.get(state)
    if waiting:
        notify(
            people_with(waiting, problem) - {actor.id if actor else 0},
            f"problem.{state.value}",
            f"problem:{problem.id}",
            _msgid(state.value),
            {"id": problem.id},
        )


@dataclass
class Complaint:
    lon: float
    lat: float
    category: str
    description: str
    name: str = ""
    contact: str = ""
    photos: list[bytes | evidence.Prepared] = field(default_factory=list)


def submit_complaint(complaint: Complaint, store: PhotoStore) -> Problem:
    """A member of the public reports a problem: routed to the village containing the point,
    a lower priority until a supervisor confirms it."""
    if complaint.category not in catalog.CATEGORY_CODES:
        raise ServiceError(_l("Choose what kind of problem it is."))
    description = complaint.description.strip()
    if not description or len(description) > 2000:
        raise ServiceError(_l("Describe the problem (up to 2,000 characters)."))
    village = locate(complaint.lon, complaint.lat, 4)
    if village is None:
        raise ServiceError(_l("The place is outside the area of this grid. Call 12369."))
    if len(complaint.photos) > 5:
        raise ServiceError(_l("Send at most 5 photos."))
    problem = Problem(
        origin="complaint",
        grid_id=village.id,
        found_at=utcnow(),
        location=point(complaint.lon, complaint.lat),
        category=complaint.category,
        severity="moderate",
        description=description,
        priority="low",
        complainant_name=complaint.name.strip()[:60] or None,
        complainant_contact=complaint.contact.strip()[:100] or None,
    )
    db.session.add(problem)
    db.session.flush()
    processed = [_process_photo(problem, None, data) for data in complaint.photos]
    start(problem, State.SUBMITTED, None, None)
    for result in processed:
        _keep_photo(problem, None, None, result, store)
    return problem


def enter_by_office(
    user: User,
    village: Grid,
    category: str,
    severity: str,
    description: str,
    lon: float | None,
    lat: float | None,
    photos_data: Sequence[bytes | evidence.Prepared],
    store: PhotoStore,
) -> Problem:
    """An office enters a problem it learned of; it starts at the office's own level."""
    if category not in catalog.CATEGORY_CODES:
        raise ServiceError(_l("Choose the category of the problem."))
    if severity not in catalog.SEVERITIES:
        raise ServiceError(_l("Choose how serious the problem is."))
    if not description.strip():
        raise ServiceError(_l("Describe the problem."))
    if village.level != 4:
        raise ServiceError(_l("Choose the village where the problem is."))
    problem = Problem(
        origin="office",
        reporter_id=user.id,
        grid_id=village.id,
        found_at=utcnow(),
        category=category,
        severity=severity,
        description=description.strip()[:2000],
        location=point(lon, lat) if lon is not None and lat is not None else None,
    )
    db.session.add(problem)
    db.session.flush()
    caps = capacities(user.id, problem)
    if Capacity.PREFECTURE in caps:
        state, capacity = State.PREFECTURE, Capacity.PREFECTURE
    elif Capacity.COUNTY in caps:
        state, capacity = State.COUNTY, Capacity.COUNTY
    else:
        raise ServiceError(_l("Only a county or prefecture office enters problems here."))
    processed = [_process_photo(problem, user, data) for data in photos_data]
    start(problem, state, user, capacity)
    for result in processed:
        _keep_photo(problem, user, None, result, store)
    return problem


# --- deadlines ----------------------------------------------------------------------------------


def check_deadlines(now: datetime | None = None) -> int:
    """Record every passed deadline once (a system event; 'the county did not assign in time'
    is what scoring item 5 counts) and tell who must act. Returns how many were recorded."""
    now = now or utcnow()
    overdue = list(
        db.session.scalars(
            sa.select(Problem).where(
                Problem.state.in_(OPEN_STATES),
                Problem.deadline_at.is_not(None),
                Problem.deadline_at < now,
            )
        )
    )
    recorded = 0
    for problem in overdue:
        stamp = problem.deadline_at.isoformat(timespec="seconds")
        already = db.session.scalars(
            sa.select(ProblemEvent.data).where(
                ProblemEvent.problem_id == problem.id, ProblemEvent.event == "deadline_missed"
            )
        ).all()
        if any((d or {}).get("deadline") == stamp for d in already):
            continue
        append_event(
            problem,
            "deadline_missed",
            problem.state,
            data={"state": problem.state, "deadline": stamp},
            from_state=problem.state,
        )
        waiting = NEXT_ACTOR.get(State(problem.state))
        if waiting:
            notify(
                people_with(waiting, problem),
                "problem.overdue",
                f"problem:{problem.id}",
                _msgid("overdue"),
                {"id": problem.id},
            )
        recorded += 1
    db.session.flush()
    return recorded


# --- from the phone's queue -----------------------------------------------------------------------


def record_problem(up: Upload, item: Item, timing: clock.Timing) -> int:
    """A problem found on patrol (or anywhere, by its place), sent from the phone's queue: it
    starts at the village, with its first event (a kind of sync item)."""
    user = up.user
    data = item.data
    patrol = patrol_of(user, data["patrol"]) if data.get("patrol") else None
    visit = None
    if data.get("visit"):
        wanted = client_id_of(data["visit"]) or str(data["visit"])
        visit = db.session.scalar(sa.select(Visit).where(Visit.client_id == wanted))
        if visit is None:
            raise SyncRefused("unknown_visit", _l("The visit has not arrived yet."), 409)
    category = data.get("category")
    if category not in catalog.CATEGORY_CODES:
        raise SyncRefused("missing_field", _l("Choose the category of the problem."), 422)
    severity = data.get("severity")
    if severity not in catalog.SEVERITIES:
        raise SyncRefused("missing_field", _l("Choose how serious the problem is."), 422)
    description = Fields(data).text(
        "description", _l("Description"), max_length=2000, multiline=True
    )
    if not description:
        raise SyncRefused("missing_field", _l("Describe the problem."), 422)
    coords = read_position(data, _l("Place of the problem"))
    source = source_for(patrol, data["source_id"]) if patrol and data.get("source_id") else None
    if patrol is not None:
        grid_id = patrol.grid_id
    elif coords is not None:
        village = locate(coords[0], coords[1], 4)
        if village is None:
            raise SyncRefused("outside", _l("The place is outside every grid."), 422)
        grid_id = village.id
    else:
        raise SyncRefused("missing_field", _l("A problem needs a place."), 422)
    problem = Problem(
        client_id=item.client_id,
        reporter_id=user.id,
        grid_id=grid_id,
        patrol_id=patrol and patrol.id,
        visit_id=visit and visit.id,
        source_id=source and source.id,
        found_at=timing.at,
        location=point(*coords[:2]) if coords else None,
        accuracy_m=coords[2] if coords else None,
        category=category,
        severity=severity,
        description=description,
        stopped_on_spot=bool(data.get("stopped_on_spot")),
    )
    set_times(problem, item.stamp, timing, up.received_at)
    db.session.add(problem)
    db.session.flush()
    start(problem, State.VILLAGE, user, Capacity.VILLAGE)
    return problem.id


def report_from_alert(
    user: User,
    lon: float,
    lat: float,
    found_at: datetime,
    category: str,
    severity: str,
    description: str,
) -> Problem:
    """A problem found while disposing of an alert (alerts/dispatch.py): it starts at the
    village that contains the place, reported by the supervisor, like one found on patrol."""
    if category not in catalog.CATEGORY_CODES:
        raise ServiceError(_l("Choose the category of the problem."))
    if severity not in catalog.SEVERITIES:
        raise ServiceError(_l("Choose how serious the problem is."))
    if not description.strip():
        raise ServiceError(_l("Describe the problem."))
    village = locate(lon, lat, 4)
    if village is None:
        raise ServiceError(_l("The place is outside every grid."))
    problem = Problem(
        origin="alert",
        reporter_id=user.id,
        grid_id=village.id,
        found_at=found_at,
        location=point(lon, lat),
        category=category,
        severity=severity,
        description=description.strip()[:2000],
    )
    db.session.add(problem)
    db.session.flush()
    start(problem, State.VILLAGE, user, Capacity.VILLAGE)
    return problem


def find_problem(client_id: str) -> tuple[int, int | None, int] | None:
    """(problem id, its reporter, its grid) for a queued photo of a problem; None until it came."""
    row = db.session.execute(
        sa.select(Problem.id, Problem.reporter_id, Problem.grid_id).where(
            Problem.client_id == client_id
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


@dataclass(frozen=True)
class FindingFields:
    county_id: int | None  # a level-2 grid
    found_on: date
    kind: str
    media_level: str | None
    category: str
    lon: float | None
    lat: float | None
    place: str | None
    description: str


def _check(fields: FindingFields) -> Grid:
    """The finding's county if every field is acceptable; ServiceError on the first that is not."""
    county = db.session.get(Grid, fields.county_id) if fields.county_id is not None else None
    if county is None or county.level != 2:
        raise ServiceError(_l("Choose the county, city or park where it was found."))
    if fields.kind not in findings.KINDS:
        raise ServiceError(_l("Choose who found it: inspection, supervision, complaint or media."))
    if fields.kind == "media" and fields.media_level not in findings.MEDIA_LEVELS:
        raise ServiceError(
            _l("A media exposure needs its level: national, autonomous region or prefecture.")
        )
    if fields.kind != "media" and fields.media_level is not None:
        raise ServiceError(_l("Only a media exposure has a media level."))
    if fields.category not in catalog.CATEGORY_CODES:
        raise ServiceError(_l("Choose the category of the problem."))
    if fields.found_on > local_today():
        raise ServiceError(_l("The day it was found cannot be in the future."))
    if (fields.lon is None) != (fields.lat is None):
        raise ServiceError(_l("Give both latitude and longitude, or neither."))
    if fields.lon is not None and fields.lat is not None:
        if not (-180 <= fields.lon <= 180 and -90 <= fields.lat <= 90):
            raise ServiceError(
                _l("Latitude and longitude are decimal degrees (WGS-84), such as 44.0123.")
            )
        # A point in another county is most often swapped or mistyped coordinates.
        mapped = db.session.scalar(sa.select(Grid.geom.is_not(None)).where(Grid.id == county.id))
        if mapped:
            found = locate(fields.lon, fields.lat, level=2)
            if found is None or found.id != county.id:
                raise ServiceError(
                    _l(
                        "The location is not in %(county)s; check the coordinates (WGS-84).",
                        county=county.name,
                    )
                )
    if not fields.description:
        raise ServiceError(_l("Describe the problem found."))
    if len(fields.description) > 2000 or len(fields.place or "") > 200:
        raise ServiceError(_l("The description or the place is too long."))
    return county


def record_finding(fields: FindingFields, by: User) -> UpperFinding:
    """Record a finding, pending a decision; nothing is written when a field is refused."""
    county = _check(fields)
    finding = UpperFinding(
        county_id=county.id,
        found_on=fields.found_on,
        kind=fields.kind,
        media_level=fields.media_level,
        category=fields.category,
        location=point(fields.lon, fields.lat) if fields.lon is not None else None,
        place=fields.place,
        description=fields.description,
        recorded_by_id=by.id,
        decision=PENDING,
    )
    db.session.add(finding)
    db.session.flush()
    return finding


def decide(finding: UpperFinding, decision: str, problem_ids: list[int], by: User) -> None:
    """Already reported (linking at least one report of the finding's county) or missed by the
    grid (linking none). A decision is taken once: of two people deciding at the same time,
    exactly one succeeds."""
    if decision not in (ALREADY_REPORTED, MISSED):
        raise ServiceError(_l("Choose already reported or missed by the grid."))
    if finding.decision != PENDING:
        raise ServiceError(_l("This finding is already decided; a decision is not changed."))
    ids = sorted(set(problem_ids))
    if decision == MISSED and ids:
        raise ServiceError(
            _l("A missed problem links no report: untick them, or choose already reported.")
        )
    if decision == ALREADY_REPORTED:
        if not ids:
            raise ServiceError(_l("Tick the grid's report of this problem, or give its number."))
        known = set(
            db.session.scalars(
                sa.select(Problem.id).where(
                    Problem.id.in_(ids), Problem.county_id == finding.county_id
                )
            )
        )
        strangers = [str(i) for i in ids if i not in known]
        if strangers:
            raise ServiceError(
                _l("No report %(ids)s in this finding's county.", ids=", ".join(strangers))
            )
    taken = db.session.execute(
        sa.update(UpperFinding)
        .where(UpperFinding.id == finding.id, UpperFinding.decision == PENDING)
        .values(decision=decision, decided_by_id=by.id, decided_at=utcnow())
    )
    if taken.rowcount != 1:
        raise ServiceError(_l("This finding is already decided; a decision is not changed."))
    if ids:
        db.session.execute(
            finding_match.insert(), [{"finding_id": finding.id, "problem_id": i} for i in ids]
        )
    db.session.flush()
