"""The grid supervisors' own month (issue 12: levels 3 and 4), as their township and county see
it. Each figure is counted from the records, read through the owning domain's public queries,
and the records are kept beside the figures, so that every number opens onto what makes it.

Who: everyone who held a supervisor post (RULES §1) in the township or the county asked for, or
in one of its villages, on at least one day of the month; key grids (重点网格) are the county
heads' and are left out. One row per person, under the township of their first post in tree
order.

Their days: the local calendar days of the month, up to today, on which they held such a post.
Working days come from the official calendar (grid.time.work_calendar: weekends and public
holidays off, the adjusted weekend days 调休 on), as the deadlines count them.

1. Patrol days of working days: the working days among their days on which at least one visit
   (a source seen, normal or with a problem) was recorded on one of their patrols of a grid in
   the township or county asked for, counted on the visit's local day (a patrol crossing
   midnight counts on both days, as patrol/coverage.py counts). A patrol started but with no
   visit makes no patrol day. Days off with a visit are shown beside, and counted in neither
   number.
2. Sources patrolled as required (RULES §2: a level-4 supervisor patrols every source of the
   grid at least once a day): on each working day among their days, every source expected in
   each village they supervise that day (patrol/coverage.py: located there, existing, active
   that day) is due once; a due source counts as patrolled as required when they themselves
   visited it that day. The figure is source-days patrolled / source-days due. Days off are not
   due, and a colleague's visit does not count for them. A township (level-3) supervisor
   has no per-source cadence (level 3 supervises and collects the villages' records), so
   their figure is "none" and the township's coverage page stands behind it.
3. Alerts answered within 1 h and within 2 h (RULES §4): of the dispatches to them instructed
   during the month (wherever the alert was), within 1 h counts those whose on-site situation
   was recorded by its 1-hour deadline, within 2 h those whose disposal result was recorded by
   its 2-hour deadline. "Recorded" is the time the answer was made on the phone, as the sync
   clock places it: an answer made in time offline and sent later is in time (alerts/
   dispatch.py). An answer never made is not in time; a clock still running counts as not
   answered yet.
4. Problems reported and confirmed: the problems they reported (they are the reporter),
   found during the month; confirmed are those the township upheld by now: approved up to
   the county, or resolved by the township itself (problems.queries.reports_of). A problem
   still waiting, sent back, or resolved in the village by its own people is not confirmed.
5. Photos flagged: the photos they uploaded, captured during the month, that carry a flag a
   reviewer should look at (evidence/photos.py: no location, outside the grid, poor location
   accuracy, a photo time differing from the capture, the photo's position far from the
   phone's, the same photo used before; and the phone's clock being off). "Watermark without
   Chinese font" is the server's doing, not theirs, and does not count. Shown beside the
   number of photos they took.

The work is done in a fixed number of queries whatever the number of people: the posts, the
grids, the coverage inputs (patrol.queries.coverage_inputs: the sources with their history and
the month's visits), the answers to dispatches, the problems reported, the photos (two).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from alerts import queries as alert_queries
from evidence import queries as evidence_queries
from evidence.models import Photo
from extensions import db
from grid.models import Grid, GridKind, Membership, Role, subtree_clause
from grid.queries import PostRow, posts_in
from grid.time import local_day_utc, local_today, work_calendar
from patrol import coverage
from patrol import queries as patrol_queries
from problems import queries as problem_queries

# Flags that say something about the server, not about the person who took the photo.
NOT_THEIRS = frozenset({"watermark_font_missing"})


@dataclass(frozen=True)
class Place:
    """A grid as the page names it."""

    id: int
    name: str
    level: int
    parent_id: int | None
    path: str


@dataclass(frozen=True)
class Day:
    """One of a person's days: whether it was a working day, their visits, and (on a working
    day, in a village they supervised) the sources due and those they patrolled."""

    day: date
    working: bool
    visits: int
    due: int | None
    patrolled: int | None
    villages: tuple[int, ...]  # the level-4 grids they supervised that day


@dataclass
class PersonMonth:
    """One supervisor's month: the figures (properties) and the records behind them."""

    user_id: int
    name: str
    township: Place
    posts: list[PostRow]
    grids: list[Place]  # where they held a supervisor post, in tree order
    days: list[Day] = field(default_factory=list)
    answers: list[alert_queries.Answered] = field(default_factory=list)
    reports: list[problem_queries.Reported] = field(default_factory=list)
    photos: int = 0
    flagged: list[Photo] = field(default_factory=list)

    @property
    def level(self) -> int:
        return max(g.level for g in self.grids)

    @property
    def working_days(self) -> int:
        return sum(1 for d in self.days if d.working)

    @property
    def patrol_days(self) -> int:
        return sum(1 for d in self.days if d.working and d.visits)

    @property
    def days_off_patrolled(self) -> int:
        return sum(1 for d in self.days if not d.working and d.visits)

    @property
    def due(self) -> int | None:
        counted = [d.due for d in self.days if d.due is not None]
        return sum(counted) if self.level == 4 else None

    @property
    def patrolled(self) -> int | None:
        counted = [d.patrolled for d in self.days if d.patrolled is not None]
        return sum(counted) if self.level == 4 else None

    @property
    def dispatched(self) -> int:
        return len(self.answers)

    @property
    def within_1h(self) -> int:
        return sum(1 for a in self.answers if a.onsite_in_time)

    @property
    def within_2h(self) -> int:
        return sum(1 for a in self.answers if a.disposal_in_time)

    @property
    def reported(self) -> int:
        return len(self.reports)

    @property
    def confirmed(self) -> int:
        return sum(1 for r in self.reports if r.confirmed)


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def month_days(first: date, today: date | None = None) -> list[date]:
    """The days of the month starting `first`, up to and including today."""
    return coverage.days_of(first.year, first.month, until=today or local_today())


def supervisor_month(grid: Grid, first: date, only: int | None = None) -> list[PersonMonth]:
    """The month starting `first` of every supervisor posted in `grid` (a county or a
    township) and its villages, in tree order (see the module's note); `only` narrows it to one
    person. Empty for a month not begun."""
    days = month_days(first)
    if not days:
        return []
    last = days[-1]
    posted = sa.and_(
        subtree_clause(grid.path),
        Grid.kind != GridKind.KEY,
        Grid.level.in_((3, 4)),
        Membership.role == Role.SUPERVISOR,
        Membership.started_on <= last,
        sa.or_(Membership.ended_on.is_(None), Membership.ended_on >= first),
    )
    if only is not None:
        posted = sa.and_(posted, Membership.user_id == only)
    posts = posts_in(posted, None)
    if not posts:
        return []
    people = sa.select(Membership.user_id).join(Grid, Grid.id == Membership.grid_id).where(posted)
    places = _places(grid)
    start = local_day_utc(first)[0]
    end = local_day_utc(next_month(first))[0]
    lives, visits = patrol_queries.coverage_inputs(grid, first, last)
    answers = alert_queries.answers_of(people, start, end)
    reports = problem_queries.reports_of(people, start, end)
    photos = evidence_queries.photos_by(people, start, end)

    sources: dict[int, list[coverage.SourceLife]] = defaultdict(list)
    for life in lives:
        if life.grid_id is not None:
            sources[life.grid_id].append(life)
    visited: dict[tuple[int, date], list[coverage.Visit]] = defaultdict(list)
    for visit in visits:
        visited[(visit.supervisor_id, visit.day)].append(visit)
    calendar = work_calendar()
    working = {d: calendar.is_workday(d) for d in days}

    by_person: dict[int, list[PostRow]] = defaultdict(list)
    for post in posts:
        by_person[post.user_id].append(post)
    found = []
    for user_id, held in by_person.items():
        held.sort(key=lambda p: (places[p.grid_id].path, p.started_on))
        grids = list({p.grid_id: places[p.grid_id] for p in held}.values())
        home = grids[0]
        township = places[home.parent_id] if home.level == 4 and home.parent_id else home
        taken = photos.get(user_id, evidence_queries.Taken())
        found.append(
            PersonMonth(
                user_id=user_id,
                name=held[0].user_name,
                township=township,
                posts=held,
                grids=grids,
                days=_days(held, days, working, places, sources, visited, user_id),
                answers=answers.get(user_id, []),
                reports=reports.get(user_id, []),
                photos=taken.total,
                flagged=[p for p in taken.flagged if _theirs(p)],
            )
        )
    found.sort(key=lambda m: (m.township.path, -m.level, m.grids[0].path, m.name, m.user_id))
    return found


def _days(held, days, working, places, sources, visited, user_id) -> list[Day]:
    """The person's days with their visits and, where due, the coverage of their villages."""
    found = []
    for day in days:
        on = [p for p in held if p.started_on <= day and (p.ended_on is None or p.ended_on >= day)]
        if not on:
            continue
        villages = tuple(dict.fromkeys(p.grid_id for p in on if places[p.grid_id].level == 4))
        mine = visited.get((user_id, day), [])
        due = patrolled = None
        if working[day] and villages:
            due = patrolled = 0
            for village in villages:
                done = coverage.day_coverage(sources.get(village, []), mine, day)
                due += len(done.expected)
                patrolled += len(done.visited)
        found.append(Day(day, working[day], len(mine), due, patrolled, villages))
    return found


def _theirs(photo: Photo) -> bool:
    """Whether a photo carries a flag about the person's evidence (not about the server)."""
    return any(isinstance(f, dict) and f.get("code") not in NOT_THEIRS for f in (photo.flags or []))


def _places(grid: Grid) -> dict[int, Place]:
    """The townships and villages under `grid` (and itself), by id."""
    rows = db.session.execute(
        sa.select(Grid.id, Grid.name, Grid.level, Grid.parent_id, Grid.path).where(
            subtree_clause(grid.path), Grid.level.in_((2, 3, 4))
        )
    )
    return {row[0]: Place(*row) for row in rows}


def patrols_by_day(
    grid: Grid, person: PersonMonth, first: date
) -> dict[date, list[patrol_queries.PatrolDay]]:
    """The person's patrols with visits on each day of the month (for their month's page)."""
    days = month_days(first)
    found: dict[date, list[patrol_queries.PatrolDay]] = defaultdict(list)
    if days:
        for row in patrol_queries.patrol_days(grid, [person.user_id], first, days[-1]):
            found[row.day].append(row)
    return found


def by_township(rows: list[PersonMonth]) -> list[tuple[Place, list[PersonMonth]]]:
    """The rows grouped by township, in tree order (the rows come in that order)."""
    groups: dict[int, tuple[Place, list[PersonMonth]]] = {}
    for row in rows:
        groups.setdefault(row.township.id, (row.township, []))[1].append(row)
    return list(groups.values())
