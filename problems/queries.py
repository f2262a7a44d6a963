"""What pages and other domains read of the problems: who someone is for a problem, inboxes and
their counts, the facts the monthly assessment counts, upper-level findings and their matches."""

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from geoalchemy2.shape import to_shape

from evidence.models import Photo
from extensions import db
from grid.models import (
    Grid,
    Membership,
    Role,
    User,
    active_on_clause,
    membership_cover,
)
from grid.queries import covers_of
from grid.time import local_today, local_zone
from problems import escalation, findings
from problems.escalation import Capacity, Event, State
from problems.findings import MISSED
from problems.models import Problem, ProblemEvent, UpperFinding, finding_match, problem_photo
from problems.settings import match_settings, recheck_by


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
    day = day or local_today()
    rows = db.session.execute(
        sa.select(Membership.id, Membership.role, Membership.grid_id).where(
            Membership.user_id == user_id,
            active_on_clause(day),
            Membership.grid_id.in_(
                [g for g in (place.village, place.township, place.county, place.root) if g]
            ),
        )
    ).all()
    covers = covers_of(m for m, role, _g in rows if role == Role.SUBHEAD)
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
    day = day or local_today()
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


Shape = tuple[tuple[str, int], ...]  # (kind of grids held, how many), and flags with 0


def _inbox_params(user_id: int, posts: Sequence[Any] | None) -> tuple[Shape, dict]:
    """What a person holds, for their inbox: the statement's shape (which parts it needs) and
    its parameters. `posts` are the person's posts today as grid.access.Post (the request has
    them already); without them they are read here."""
    if posts is None:
        rows = db.session.execute(
            sa.select(Membership.id, Membership.role, Membership.grid_id, Grid.level)
            .join(Grid, Grid.id == Membership.grid_id)
            .where(Membership.user_id == user_id, active_on_clause(local_today()))
        ).all()
    else:
        rows = [(p.membership_id, p.role, p.grid_id, p.grid_level) for p in posts]
    covers = covers_of(m for m, role, _g, _l in rows if role == Role.SUBHEAD)
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
        f"inbox_{name}_{i}": grid_id
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
        return [sa.bindparam(f"inbox_{name}_{i}") for i in range(has[name])]

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


# The home page's count of what waits for me (grid.registry.HOME_COUNTS): the same statement
# as the inbox, counted, with the inbox's parameters.


def inbox_home_count(user_id: int, posts: Sequence[Any]) -> tuple[Shape, dict[str, Any]]:
    """The form of this person's inbox statement and its parameters; `posts` are the person's
    posts today, which the request has already read."""
    return _inbox_params(user_id, posts)


@functools.lru_cache(maxsize=128)
def inbox_count_statement(shape: Shape) -> sa.ScalarSelect:
    return _count_of(_inbox_statement(shape)).scalar_subquery()


def receives_assignments(user_id: int) -> bool:
    """Whether rectifications have been assigned to this person: a department's officer, who
    holds no post in the grid, works from what is assigned (交办) to them."""
    return bool(
        db.session.scalar(sa.select(sa.exists().where(Problem.assignee_user_id == user_id)))
    )


def late_assignment_counts(
    first: datetime, last: datetime, county_id: int | None = None
) -> dict[int, int]:
    """Problems whose assignment (交办) came late or never came in time within [first, last)
    UTC, per county (scoring item 5), in one query for every county: a deadline missed while
    the problem waited for its county, or a step taken late from the county's state. Counties
    without one are absent; `county_id` narrows it to one."""
    data = ProblemEvent.data
    county_state = str(State.COUNTY)
    late = sa.or_(
        sa.and_(
            ProblemEvent.event == "deadline_missed",
            data["state"].as_string() == county_state,
        ),
        sa.and_(
            data["late"].as_boolean().is_(True),
            data["late_state"].as_string() == county_state,
        ),
    )
    return _per_county(
        sa.func.count(sa.distinct(ProblemEvent.problem_id)), late, first, last, county_id
    )


def failed_rechecks_counts(
    first: datetime, last: datetime, county_id: int | None = None
) -> dict[int, int]:
    """Re-checks that failed within [first, last) UTC, per county (scoring item 6), in one
    query for every county; counties without one are absent."""
    return _per_county(
        sa.func.count(ProblemEvent.id),
        ProblemEvent.event == Event.RECHECK_FAIL,
        first,
        last,
        county_id,
    )


def _per_county(
    counted: Any, condition: Any, first: datetime, last: datetime, county_id: int | None
) -> dict[int, int]:
    """{county id: counted} over the problems' events within [first, last) that meet
    `condition` (read from the index on the events' time)."""
    query = (
        sa.select(Problem.county_id, counted)
        .join(Problem, Problem.id == ProblemEvent.problem_id)
        .where(ProblemEvent.at >= first, ProblemEvent.at < last, condition)
        .group_by(Problem.county_id)
    )
    if county_id is not None:
        query = query.where(Problem.county_id == county_id)
    return {county: n for county, n in db.session.execute(query) if county is not None}


def late_assignments(county_id: int, first: datetime, last: datetime) -> int:
    """One county's count of late_assignment_counts."""
    return late_assignment_counts(first, last, county_id).get(county_id, 0)


def failed_rechecks(county_id: int, first: datetime, last: datetime) -> int:
    """One county's count of failed_rechecks_counts."""
    return failed_rechecks_counts(first, last, county_id).get(county_id, 0)


def candidates_for(finding: UpperFinding) -> list[tuple[findings.Candidate, Problem]]:
    """The county's reports of the finding's category in the window (one indexed query), then
    the pure matching on distance and local day."""
    distance_m, days = match_settings()
    zone = local_zone()
    start, end = findings.window_utc(finding.found_on, days, zone)
    rows = db.session.execute(
        sa.select(
            Problem.id,
            Problem.category,
            sa.func.ST_X(Problem.location),
            sa.func.ST_Y(Problem.location),
            Problem.found_at,
        ).where(
            Problem.county_id == finding.county_id,
            Problem.category == finding.category,
            Problem.found_at >= start,
            Problem.found_at < end,
        )
    ).all()
    facts = [findings.ProblemFacts(*row) for row in rows]
    here = to_shape(finding.location) if finding.location is not None else None
    matched = findings.candidates(
        findings.FindingFacts(
            finding.category,
            here.x if here else None,
            here.y if here else None,
            finding.found_on,
            zone,
        ),
        facts,
        distance_m,
        days,
    )
    if not matched:
        return []
    problems = {
        p.id: p
        for p in db.session.scalars(
            sa.select(Problem).where(Problem.id.in_([c.problem_id for c in matched]))
        )
    }
    return [(c, problems[c.problem_id]) for c in matched]


def linked_problems(finding: UpperFinding) -> list[Problem]:
    """The reports confirmed as the finding's problem."""
    return list(
        db.session.scalars(
            sa.select(Problem)
            .join(finding_match, finding_match.c.problem_id == Problem.id)
            .where(finding_match.c.finding_id == finding.id)
            .order_by(Problem.found_at, Problem.id)
        )
    )


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """The first day of the month and of the next."""
    return date(year, month, 1), date(year + month // 12, month % 12 + 1, 1)


def missed_counts(year: int, month: int) -> dict[int, int]:
    """Findings decided "missed by the grid", per county, by the month they were found in
    (scoring item 4's n4; RULES §5). Counties without one are absent."""
    first, after = month_bounds(year, month)
    rows = db.session.execute(
        sa.select(UpperFinding.county_id, sa.func.count(UpperFinding.id))
        .where(
            UpperFinding.decision == MISSED,
            UpperFinding.found_on >= first,
            UpperFinding.found_on < after,
        )
        .group_by(UpperFinding.county_id)
    ).all()
    return {county_id: n for county_id, n in rows}


def prefecture_missed_total(year: int, month: int) -> int:
    """The prefecture's missed findings in a month: the denominator of the share-of-problems
    rule (RULES §5; a share is 0 when this is 0)."""
    first, after = month_bounds(year, month)
    return db.session.scalar(
        sa.select(sa.func.count(UpperFinding.id)).where(
            UpperFinding.decision == MISSED,
            UpperFinding.found_on >= first,
            UpperFinding.found_on < after,
        )
    )


def media_exposures(year: int, month: int) -> dict[int, list[set[str]]]:
    """Media findings of a month per county, one set of levels per exposed problem (RULES §5:
    the same problem exposed at several levels counts once, at the highest): findings linked to
    the same report are one problem; a finding linked to none is a problem of its own."""
    first, after = month_bounds(year, month)
    rows = db.session.execute(
        sa.select(
            UpperFinding.id,
            UpperFinding.county_id,
            UpperFinding.media_level,
            sa.func.min(finding_match.c.problem_id),
        )
        .outerjoin(finding_match, finding_match.c.finding_id == UpperFinding.id)
        .where(
            UpperFinding.kind == "media",
            UpperFinding.media_level.is_not(None),
            UpperFinding.found_on >= first,
            UpperFinding.found_on < after,
        )
        .group_by(UpperFinding.id, UpperFinding.county_id, UpperFinding.media_level)
        .order_by(UpperFinding.id)
    ).all()
    problems: dict[int, dict[tuple[str, int], set[str]]] = {}
    for finding_id, county_id, level, problem_id in rows:
        key = ("problem", problem_id) if problem_id is not None else ("finding", finding_id)
        problems.setdefault(county_id, {}).setdefault(key, set()).add(level)
    return {county: list(levels.values()) for county, levels in problems.items()}


# --- a problem's photos, and what other domains' pages show of the problems ---------------------


def problem_photos(problem_id: int) -> list[tuple[Photo, int | None]]:
    """The problem's photos and the step each came with (None: with the report), in order."""
    rows = db.session.execute(
        sa.select(Photo, problem_photo.c.event_id)
        .join(problem_photo, problem_photo.c.photo_id == Photo.id)
        .where(problem_photo.c.problem_id == problem_id)
        .order_by(Photo.captured_at, Photo.id)
    )
    return [(photo, event_id) for photo, event_id in rows]


RECENT = 20  # problems shown in a source's dossier


def source_problems(source) -> dict[str, Any]:
    """The latest problems found at a source (a section of its dossier)."""
    problems = db.session.scalars(
        sa.select(Problem)
        .where(Problem.source_id == source.id)
        .order_by(Problem.found_at.desc(), Problem.id.desc())
        .limit(RECENT)
    ).all()
    return {"problems": problems}


def patrol_problems(patrol) -> dict[str, Any]:
    """The problems found on a patrol and their photos (a section of the patrol's page)."""
    problems = list(
        db.session.scalars(
            sa.select(Problem).where(Problem.patrol_id == patrol.id).order_by(Problem.found_at)
        )
    )
    photos = db.session.scalars(
        sa.select(Photo)
        .join(problem_photo, problem_photo.c.photo_id == Photo.id)
        .where(problem_photo.c.problem_id.in_([p.id for p in problems] or [-1]))
        .order_by(Photo.captured_at, Photo.id)
    ).all()
    return {"problems": problems, "photos": photos}


# --- who and what a rectification can be assigned to (the 交办 form's pickers) ------------------

# The departments a county usually assigns rectifications to, offered before any were used.
COMMON_DEPARTMENTS = (
    "生态环境局",
    "生态环境执法大队",
    "住房和城乡建设局",
    "城市管理局",
    "自然资源局",
    "农业农村局",
    "水利局",
    "交通运输局",
    "公安局",
    "市场监督管理局",
    "乡镇人民政府（街道办事处）",
)


def departments_used(county_id: int | None, limit: int = 50) -> list[str]:
    """Departments the county has assigned or led rectifications with, most used first, then
    the common ones."""
    used: dict[str, int] = {}
    if county_id is not None:
        for column in (Problem.assignee_department, Problem.lead_department):
            rows = db.session.execute(
                sa.select(column, sa.func.count())
                .where(Problem.county_id == county_id, column.is_not(None), column != "")
                .group_by(column)
            )
            for name, count in rows:
                used[name] = used.get(name, 0) + count
    ordered = sorted(used, key=lambda name: (-used[name], name))
    return (ordered + [d for d in COMMON_DEPARTMENTS if d not in used])[:limit]


@dataclass(frozen=True)
class Assignable:
    login: str
    name: str
    why: str  # "assigned" (there before), "department" (no grid post), "post" (one in the county)


def assignable_people(
    county: Grid | None, village: Grid | None, day: date, limit: int = 200
) -> list[Assignable]:
    """People a rectification in the county can go to: those it went to before, those with no
    grid post (department officers), then those with a post today in the county's own grid, the
    problem's township or its village (not every village's staff: a county has thousands)."""
    if county is None:
        return []
    near = {county.id} | ({village.id, village.parent_id} if village else set())
    from_posts = (
        sa.select(User.username, User.name, User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(User.active, Membership.grid_id.in_(near - {None}), active_on_clause(day))
        .distinct()
    )
    before = (
        sa.select(User.username, User.name, User.id)
        .join(Problem, Problem.assignee_user_id == User.id)
        .where(User.active, Problem.county_id == county.id)
        .distinct()
        .limit(limit)
    )
    ever_posted = sa.select(Membership.user_id)
    without_post = (  # department officers and the like: never a grid post
        sa.select(User.username, User.name, User.id)
        .where(User.active, User.id.not_in(ever_posted))
        .order_by(User.name)
        .limit(limit)
    )
    people: dict[str, Assignable] = {}
    for login, name, _id in db.session.execute(without_post):
        people[login] = Assignable(login, name, "department")
    for login, name, _id in db.session.execute(before):
        people[login] = Assignable(login, name, "assigned")
    for login, name, _id in db.session.execute(from_posts):
        people.setdefault(login, Assignable(login, name, "post"))
    order = {"assigned": 0, "department": 1, "post": 2}
    return sorted(people.values(), key=lambda p: (order[p.why], p.name, p.login))


# --- a supervisor's month (assess/people.py) --------------------------------------------------


@dataclass(frozen=True)
class Reported:
    """A problem someone reported, and whether the township upheld it: approved it up to the
    county, or resolved it itself (RULES §3: the township checks what the villages send up)."""

    problem_id: int
    reporter_id: int
    grid_id: int
    found_at: datetime
    category: str
    state: str
    confirmed: bool


def reports_of(
    people: Collection[int] | sa.Select, start: datetime, end: datetime
) -> dict[int, list[Reported]]:
    """The problems these people (ids, or a SELECT of them) reported, found within [start, end)
    UTC, per person, oldest first, each with whether the township has upheld it by now (one
    query)."""
    upheld = (
        sa.exists()
        .where(
            ProblemEvent.problem_id == Problem.id,
            sa.or_(
                ProblemEvent.event == Event.APPROVE.value,
                sa.and_(
                    ProblemEvent.event == Event.RESOLVE.value,
                    ProblemEvent.capacity == Capacity.TOWNSHIP.value,
                ),
            ),
        )
        .label("upheld")
    )
    rows = db.session.execute(
        sa.select(
            Problem.id,
            Problem.reporter_id,
            Problem.grid_id,
            Problem.found_at,
            Problem.category,
            Problem.state,
            upheld,
        )
        .where(Problem.reporter_id.in_(people), Problem.found_at >= start, Problem.found_at < end)
        .order_by(Problem.found_at, Problem.id)
    )
    found: dict[int, list[Reported]] = {}
    for problem_id, reporter, grid_id, found_at, category, state, confirmed in rows:
        found.setdefault(reporter, []).append(
            Reported(problem_id, reporter, grid_id, found_at, category, state, bool(confirmed))
        )
    return found
