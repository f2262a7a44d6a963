"""Problems on their way up the grid: who may act, acting (one event row each, chained and
versioned), inboxes, notifications, deadlines, public complaints. Services flush; callers commit.

The rules are in patrol/escalation.py (pure); this module finds out who a person is for a
problem (their capacities), applies the decision, records it and tells whoever acts next.
"""

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import groupby
from operator import attrgetter
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from extensions import db
from grid import services as grid_services
from grid.models import Grid, Membership, Role, User, active_on_clause, membership_cover, utcnow
from grid.services import ServiceError, local_zone
from notify.services import notify
from patrol import escalation, photos
from patrol.escalation import Capacity, Event, Refused, State
from patrol.models import Photo, Problem, ProblemEvent
from patrol.storage import PhotoStore, put_photo

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


class Conflict(ServiceError):
    """Someone acted on the problem first; nothing was changed."""


# --- configuration -------------------------------------------------------------------------------


def calendar() -> escalation.WorkCalendar:
    """China's official working days, with the overrides configured for years the package does
    not know yet (WORKDAY_OVERRIDES: {"2027-01-01": false, ...})."""
    import chinese_calendar

    overrides = {
        date.fromisoformat(k): bool(v)
        for k, v in (current_app.config.get("WORKDAY_OVERRIDES") or {}).items()
    }
    return escalation.WorkCalendar(chinese_calendar.is_workday, overrides)


def deadlines() -> escalation.Deadlines:
    config = current_app.config
    defaults = escalation.Deadlines()
    return escalation.Deadlines(
        township_hours=config.get("DEADLINE_TOWNSHIP_HOURS", defaults.township_hours),
        county_working_days=config.get(
            "DEADLINE_COUNTY_WORKING_DAYS", defaults.county_working_days
        ),
        prefecture_working_days=config.get(
            "DEADLINE_PREFECTURE_WORKING_DAYS", defaults.prefecture_working_days
        ),
        recheck_working_days=config.get(
            "DEADLINE_RECHECK_WORKING_DAYS", defaults.recheck_working_days
        ),
        confirm_hours=config.get("DEADLINE_CONFIRM_HOURS", defaults.confirm_hours),
    )


def recheck_by() -> escalation.RecheckBy:
    return escalation.RecheckBy(current_app.config.get("RECHECK_BY", "county"))


def now_local() -> datetime:
    return datetime.now(local_zone())


def to_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


# --- who someone is for a problem ---------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """The grids a problem belongs to: its village, township, county and the root."""

    village: int
    township: int | None
    county: int | None
    root: int

    @classmethod
    def of(cls, problem: Problem) -> "Place":
        path = db.session.scalar(sa.select(Grid.path).where(Grid.id == problem.grid_id))
        ids = [int(p) for p in path.strip("/").split("/")]
        return cls(
            village=ids[-1],
            township=ids[-2] if len(ids) >= 3 else None,
            county=ids[1] if len(ids) >= 2 else None,
            root=ids[0],
        )


def capacities(user_id: int, problem: Problem, day: date | None = None) -> frozenset[Capacity]:
    """What a person is for this problem, from the posts they hold today."""
    place = Place.of(problem)
    day = day or grid_services.local_today()
    rows = db.session.execute(
        sa.select(Membership.id, Membership.role, Membership.grid_id).where(
            Membership.user_id == user_id,
            active_on_clause(day),
            Membership.grid_id.in_(
                [g for g in (place.village, place.township, place.county, place.root) if g]
            ),
        )
    ).all()
    covers = grid_services.covers_of(m for m, role, _g in rows if role == Role.SUBHEAD)
    found = set()
    for mid, role, grid_id in rows:
        covered = covers.get(mid, frozenset())
        if grid_id == place.village and role in (Role.SUPERVISOR, Role.HEAD):
            found.add(Capacity.VILLAGE)
        if grid_id == place.township and (
            role == Role.HEAD or (role == Role.SUBHEAD and place.village in covered)
        ):
            found.add(Capacity.TOWNSHIP)
        if grid_id == place.county and (
            role in (Role.OFFICE, Role.HEAD) or (role == Role.SUBHEAD and place.township in covered)
        ):
            found.add(Capacity.COUNTY)
        if grid_id == place.root and role in (Role.OFFICE, Role.HEAD):
            found.add(Capacity.PREFECTURE)
    if problem.assignee_user_id == user_id:
        found.add(Capacity.ASSIGNEE)
    if problem.reporter_id == user_id:
        found.add(Capacity.REPORTER)
    return frozenset(found)


def people_with(capacity: Capacity, problem: Problem, day: date | None = None) -> set[int]:
    """Who holds `capacity` for this problem today (to tell them it waits for them)."""
    place = Place.of(problem)
    day = day or grid_services.local_today()
    if capacity == Capacity.ASSIGNEE:
        return {problem.assignee_user_id} if problem.assignee_user_id else set()
    if capacity == Capacity.REPORTER:
        return {problem.reporter_id} if problem.reporter_id else set()
    grid_id, roles, covered = {
        Capacity.VILLAGE: (place.village, (Role.SUPERVISOR, Role.HEAD), None),
        Capacity.TOWNSHIP: (place.township, (Role.HEAD,), place.village),
        Capacity.COUNTY: (place.county, (Role.OFFICE, Role.HEAD), place.township),
        Capacity.PREFECTURE: (place.root, (Role.OFFICE, Role.HEAD), None),
    }[capacity]
    if grid_id is None:
        return set()
    users = set(
        db.session.scalars(
            sa.select(Membership.user_id).where(
                Membership.grid_id == grid_id, Membership.role.in_(roles), active_on_clause(day)
            )
        )
    )
    if covered is not None:
        users |= set(
            db.session.scalars(
                sa.select(Membership.user_id)
                .join(membership_cover, membership_cover.c.membership_id == Membership.id)
                .where(
                    Membership.grid_id == grid_id,
                    Membership.role == Role.SUBHEAD,
                    membership_cover.c.grid_id == covered,
                    active_on_clause(day),
                )
            )
        )
    return users


# --- the event chain ----------------------------------------------------------------------------


def _canonical(event: ProblemEvent) -> str:
    return json.dumps(
        {
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
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def event_hash(event: ProblemEvent) -> str:
    return hashlib.sha256(_canonical(event).encode()).hexdigest()


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
    with db.session.no_autoflush:  # the problem's changes and its new head: one UPDATE
        last = (
            db.session.scalar(
                sa.select(sa.func.max(ProblemEvent.seq)).where(
                    ProblemEvent.problem_id == problem.id
                )
            )
            or 0
        )
    row = ProblemEvent(
        problem_id=problem.id,
        seq=last + 1,
        at=at or utcnow(),
        actor_id=actor and actor.id,
        capacity=capacity,
        event=event,
        from_state=from_state,
        to_state=to_state,
        comment=(comment or "").strip() or None,
        data=data or {},
        deadline_at=deadline,
        prev_hash=problem.last_event_hash,
    )
    row.hash = event_hash(row)
    problem.last_event_hash = row.hash
    db.session.add(row)
    db.session.flush()
    return row


@dataclass(frozen=True)
class Break:
    problem_id: int
    seq: int | None
    reason: str


def verify_chain(problem_ids: Sequence[int] | None = None) -> Break | None:
    """The first broken link of the event log (in problem order), or None when every chain holds.

    One streamed query over the events in (problem, seq) order, read as plain rows: the whole
    log is checked without holding it in memory."""
    heads = sa.select(Problem.id, Problem.last_event_hash).order_by(Problem.id)
    events = sa.select(*ProblemEvent.__table__.c).order_by(
        ProblemEvent.problem_id, ProblemEvent.seq
    )
    if problem_ids is not None:
        ids = list(problem_ids)
        heads = heads.where(Problem.id.in_(ids))
        events = events.where(ProblemEvent.problem_id.in_(ids))
    head_of = db.session.execute(heads).all()
    rows = db.session.execute(events.execution_options(yield_per=5000))
    chains = groupby(rows, key=attrgetter("problem_id"))
    pending = next(chains, None)
    for problem_id, head in head_of:
        chain: list = []
        while pending is not None and pending[0] < problem_id:  # events of no problem (none)
            pending = next(chains, None)
        if pending is not None and pending[0] == problem_id:
            chain = list(pending[1])
            pending = next(chains, None)
        broken = _first_break(problem_id, head, chain)
        if broken is not None:
            rows.close()
            return broken
    return None


def _first_break(problem_id: int, head: str | None, chain: Sequence[Any]) -> Break | None:
    previous, expected_seq = None, 1
    for event in chain:
        if event.seq != expected_seq:
            return Break(problem_id, expected_seq, "an event is missing")
        if event.prev_hash != previous:
            return Break(problem_id, event.seq, "it does not follow the event before")
        if event_hash(event) != event.hash:
            return Break(problem_id, event.seq, "its content was changed")
        previous, expected_seq = event.hash, expected_seq + 1
    if previous != head:
        return Break(problem_id, None, "the last event is missing or the head was changed")
    return None


# --- acting on a problem ------------------------------------------------------------------------

NEXT_ACTOR = {  # who acts next in each state (for notifications and inboxes)
    State.SUBMITTED: Capacity.VILLAGE,
    State.VILLAGE: Capacity.VILLAGE,
    State.RETURNED: Capacity.VILLAGE,
    State.TOWNSHIP: Capacity.TOWNSHIP,
    State.COUNTY: Capacity.COUNTY,
    State.PREFECTURE: Capacity.PREFECTURE,
    State.RECTIFYING: Capacity.ASSIGNEE,
    State.RECHECKING: Capacity.COUNTY,
}


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
    photos: list[bytes] = field(default_factory=list)


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
        assignee_user = grid_services.find_login(action.assignee_login)
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
            problem.state, request, now, calendar(), deadlines(), recheck_by()
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


def N_(msgid: str) -> str:  # noqa: N802 - the extraction marker
    return msgid


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


def _process_photo(problem: Problem, user: User | None, data: bytes) -> photos.ProcessedPhoto:
    grid = db.session.get(Grid, problem.grid_id)
    capture = photos.Capture(
        captured_at=utcnow(),
        fix=None,
        fix_accuracy_m=None,
        grid_area=grid_services.grid_shape(grid),
        grid_name=grid.name,
        supervisor_name=user.name if user else "公众",
        timezone=local_zone(),
    )
    try:
        return photos.process(
            data, capture, font_path=current_app.config.get("WATERMARK_FONT") or photos.DEFAULT_FONT
        )
    except photos.PhotoRejected as exc:
        raise ServiceError(_l("A photo was refused: %(why)s", why=exc.message)) from exc


def _keep_photo(
    problem: Problem,
    user: User | None,
    event: ProblemEvent | None,
    result: photos.ProcessedPhoto,
    store: PhotoStore,
) -> Photo:
    import uuid

    sha = result.facts.sha256
    stored = put_photo(
        store, sha, result.facts.format, result.original, result.display, result.thumbnail
    )
    photo = Photo(
        client_id=str(uuid.uuid4()),
        uploaded_by_id=user and user.id,
        problem_id=problem.id,
        event_id=event and event.id,
        grid_id=problem.grid_id,
        captured_at=utcnow(),
        sha256=sha,
        original_key=stored.original_key,
        display_key=stored.display_key,
        thumb_key=stored.thumb_key,
        content_type=stored.content_type,
        size_bytes=len(result.original),
        width=result.facts.width,
        height=result.facts.height,
        phash=result.phash,
        taken_at=result.facts.taken_at,
        exif_lat=result.facts.gps[0] if result.facts.gps else None,
        exif_lon=result.facts.gps[1] if result.facts.gps else None,
        sources=dict(result.sources),
        flags=[{"code": f.code, "detail": f.detail} for f in result.flags],
    )
    db.session.add(photo)
    db.session.flush()
    return photo


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
    problem.deadline_at = to_utc(escalation.deadline_on_entry(state, now, calendar(), deadlines()))
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
    photos: list[bytes] = field(default_factory=list)


def submit_complaint(complaint: Complaint, store: PhotoStore) -> Problem:
    """A member of the public reports a problem: routed to the village containing the point,
    a lower priority until a supervisor confirms it."""
    from patrol import catalog
    from patrol.services import point

    if complaint.category not in catalog.CATEGORY_CODES:
        raise ServiceError(_l("Choose what kind of problem it is."))
    description = complaint.description.strip()
    if not description or len(description) > 2000:
        raise ServiceError(_l("Describe the problem (up to 2,000 characters)."))
    village = grid_services.locate(complaint.lon, complaint.lat, 4)
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
    photos_data: Sequence[bytes],
    store: PhotoStore,
) -> Problem:
    """An office enters a problem it learned of; it starts at the office's own level."""
    from patrol import catalog
    from patrol.services import point

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


# --- inboxes and deadlines ----------------------------------------------------------------------

OPEN = [s.value for s in State if s not in escalation.CLOSED_STATES]


Shape = tuple[tuple[str, int], ...]  # (kind of grids held, how many), and flags with 0


def _inbox_params(user_id: int, posts: Sequence[Any] | None) -> tuple[Shape, dict]:
    """What a person holds, for their inbox: the statement's shape (which parts it needs) and
    its parameters. `posts` are the person's posts today as grid.access.Post (the request has
    them already); without them they are read here."""
    if posts is None:
        rows = db.session.execute(
            sa.select(Membership.id, Membership.role, Membership.grid_id, Grid.level)
            .join(Grid, Grid.id == Membership.grid_id)
            .where(Membership.user_id == user_id, active_on_clause(grid_services.local_today()))
        ).all()
    else:
        rows = [(p.membership_id, p.role, p.grid_id, p.grid_level) for p in posts]
    covers = grid_services.covers_of(m for m, role, _g, _l in rows if role == Role.SUBHEAD)
    held: dict[str, set[int]] = {
        "villages": set(),
        "townships": set(),
        "covered_villages": set(),
        "counties": set(),
        "covered_townships": set(),
    }
    flags = set()
    for mid, role, grid_id, level in rows:
        if level == 4 and role in (Role.SUPERVISOR, Role.HEAD):
            held["villages"].add(grid_id)
        elif level == 3 and role == Role.HEAD:
            held["townships"].add(grid_id)
        elif level == 3 and role == Role.SUBHEAD:
            held["covered_villages"] |= covers.get(mid, frozenset())
        elif level == 2 and role in (Role.OFFICE, Role.HEAD):
            held["counties"].add(grid_id)
        elif level == 2 and role == Role.SUBHEAD:
            held["covered_townships"] |= covers.get(mid, frozenset())
        elif level == 1 and role in (Role.OFFICE, Role.HEAD):
            flags.add("prefecture")
    if recheck_by() == escalation.RecheckBy.REPORTER:
        flags.add("reporter_rechecks")
    # One parameter per grid, not an expanding IN: the statement then compiles once per shape
    # and is reused as it is (an expanding list is re-rendered on every execution).
    shape = tuple((name, len(ids)) for name, ids in sorted(held.items()) if ids)
    params: dict[str, Any] = {
        f"{name}_{i}": grid_id
        for name, ids in held.items()
        for i, grid_id in enumerate(sorted(ids))
    }
    params["user_id"] = user_id
    return shape + tuple((flag, 0) for flag in sorted(flags)), params


@functools.lru_cache(maxsize=128)
def _inbox_statement(shape: Shape) -> sa.Select | sa.CompoundSelect:
    """The ids of the open problems waiting for a person who holds `shape`.

    A UNION of one select per kind of post, each answered from an index (by village, by
    township, by county and state, by assignee): an OR over all of them would scan every
    problem, and the home page asks this on every visit. Built once per shape; the grids and
    the person are parameters."""
    has = dict(shape)

    def ids(name: str) -> list[sa.BindParameter]:
        return [sa.bindparam(f"{name}_{i}") for i in range(has[name])]

    def problems_where(*conditions) -> sa.Select:
        return sa.select(Problem.id).where(*conditions)

    def under_townships(name: str, *conditions) -> sa.Select:
        return (
            sa.select(Problem.id)
            .join(Grid, Grid.id == Problem.grid_id)
            .where(Grid.parent_id.in_(ids(name)), *conditions)
        )

    def county_side(*conditions) -> list[sa.Select]:
        found = []
        if "counties" in has:
            found.append(problems_where(Problem.county_id.in_(ids("counties")), *conditions))
        if "covered_townships" in has:
            found.append(under_townships("covered_townships", *conditions))
        return found

    S = State
    me = sa.bindparam("user_id")
    parts = [problems_where(Problem.state == S.RECTIFYING, Problem.assignee_user_id == me)]
    if "villages" in has:
        parts.append(
            problems_where(
                Problem.grid_id.in_(ids("villages")),
                sa.or_(*(Problem.state == s for s in (S.SUBMITTED, S.VILLAGE, S.RETURNED))),
            )
        )
    township_states = sa.or_(Problem.state == S.SUBMITTED, Problem.state == S.TOWNSHIP)
    if "townships" in has:
        parts.append(under_townships("townships", township_states))
    if "covered_villages" in has:
        parts.append(problems_where(Problem.grid_id.in_(ids("covered_villages")), township_states))
    parts += county_side(Problem.state == S.COUNTY)
    parts += county_side(Problem.state == S.RECTIFYING, Problem.assignee_user_id.is_(None))
    if "reporter_rechecks" in has:
        parts.append(problems_where(Problem.state == S.RECHECKING, Problem.reporter_id == me))
    else:
        parts += county_side(Problem.state == S.RECHECKING)
    if "prefecture" in has:
        parts.append(problems_where(Problem.state == S.PREFECTURE))
    return sa.union(*parts) if len(parts) > 1 else parts[0]


def inbox(user_id: int, limit: int = 200) -> list[Problem]:
    """What waits for this person, the most pressing deadline first, overdue on top."""
    shape, params = _inbox_params(user_id, None)
    return list(
        db.session.scalars(
            sa.select(Problem)
            .where(Problem.id.in_(_inbox_statement(shape)))
            .order_by(Problem.deadline_at.is_(None), Problem.deadline_at, Problem.id.desc())
            .limit(limit),
            params,
        )
    )


def _count_of(ids: sa.Select | sa.CompoundSelect) -> sa.Select:
    return sa.select(sa.func.count()).select_from(ids.subquery())


def inbox_count(user_id: int) -> int:
    shape, params = _inbox_params(user_id, None)
    return db.session.scalar(_count_of(_inbox_statement(shape)), params) or 0


@functools.lru_cache(maxsize=128)
def _desk_statement(shape: Shape) -> sa.Select:
    from notify.models import Notification

    unread = (
        sa.select(sa.func.count(Notification.id))
        .where(Notification.user_id == sa.bindparam("user_id"), Notification.read_at.is_(None))
        .scalar_subquery()
    )
    return sa.select(_count_of(_inbox_statement(shape)).scalar_subquery(), unread)


def desk_counts(user_id: int, posts: Sequence[Any]) -> tuple[int, int]:
    """(problems waiting for me, unread notifications) in one round trip, for the home page."""
    shape, params = _inbox_params(user_id, posts)
    row = db.session.connection().execute(_desk_statement(shape), params).one()
    return int(row[0] or 0), int(row[1] or 0)


def check_deadlines(now: datetime | None = None) -> int:
    """Record every passed deadline once (a system event; 'the county did not assign in time'
    is what scoring item 5 counts) and tell who must act. Returns how many were recorded."""
    now = now or utcnow()
    overdue = list(
        db.session.scalars(
            sa.select(Problem).where(
                Problem.state.in_(OPEN), Problem.deadline_at.is_not(None), Problem.deadline_at < now
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


def late_assignments(county_id: int, first: datetime, last: datetime) -> int:
    """Problems of a county whose assignment (交办) came late or never came in time within
    [first, last) UTC (scoring item 5)."""
    rows = db.session.execute(
        sa.select(ProblemEvent.problem_id, ProblemEvent.event, ProblemEvent.data)
        .join(Problem, Problem.id == ProblemEvent.problem_id)
        .where(Problem.county_id == county_id, ProblemEvent.at >= first, ProblemEvent.at < last)
    ).all()
    late = set()
    for problem_id, event, data in rows:
        data = data or {}
        if event == "deadline_missed" and data.get("state") == State.COUNTY:
            late.add(problem_id)
        if data.get("late") and data.get("late_state") == State.COUNTY:
            late.add(problem_id)
    return len(late)


def failed_rechecks(county_id: int, first: datetime, last: datetime) -> int:
    """Re-checks that failed within [first, last) UTC (scoring item 6)."""
    return (
        db.session.scalar(
            sa.select(sa.func.count(ProblemEvent.id))
            .join(Problem, Problem.id == ProblemEvent.problem_id)
            .where(
                Problem.county_id == county_id,
                ProblemEvent.event == Event.RECHECK_FAIL,
                ProblemEvent.at >= first,
                ProblemEvent.at < last,
            )
        )
        or 0
    )
