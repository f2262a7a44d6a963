"""What pages and other domains read of the patrols: where a person patrols, coverage inputs,
who patrolled on a day, a source's latest visits."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from extensions import db
from grid.models import Grid, Membership, Role, User, active_on_clause, subtree_clause
from grid.queries import names_of
from grid.time import local_day_utc
from patrol import coverage
from patrol.models import Patrol, RoutePoint, Visit
from sources.models import Source, SourceChange


def supervised_grids(user: User, day: date) -> list[Grid]:
    """The grids where the user is a supervisor on `day` (where they patrol)."""
    return list(
        db.session.scalars(
            sa.select(Grid)
            .join(Membership, Membership.grid_id == Grid.id)
            .where(
                Membership.user_id == user.id,
                Membership.role == Role.SUPERVISOR,
                active_on_clause(day),
            )
            .order_by(Grid.level.desc(), Grid.path)
        )
    )


def coverage_inputs(grid: Grid, first: date, last: date):
    """Sources of a grid's subtree with their history, and the visits between two days."""
    changes: dict[int, list[tuple[date, str]]] = {}
    sources = db.session.execute(
        sa.select(Source.id, Source.grid_id, Source.created_on)
        .join(Grid, Grid.id == Source.grid_id)
        .where(subtree_clause(grid.path))
    ).all()
    ids = [s.id for s in sources]
    for chunk in range(0, len(ids), 900):
        for sid, on, status in db.session.execute(
            sa.select(SourceChange.source_id, SourceChange.effective_on, SourceChange.status).where(
                SourceChange.source_id.in_(ids[chunk : chunk + 900]),
                SourceChange.status.is_not(None),
            )
        ):
            changes.setdefault(sid, []).append((on, status))
    lives = [
        coverage.SourceLife(s.id, s.grid_id, s.created_on, changes.get(s.id, ())) for s in sources
    ]
    visits = [
        coverage.Visit(source_id, day, supervisor, patrol_grid)
        for source_id, day, supervisor, patrol_grid in db.session.execute(
            sa.select(Visit.source_id, Visit.visited_on, Patrol.supervisor_id, Patrol.grid_id)
            .join(Patrol, Patrol.id == Visit.patrol_id)
            .join(Grid, Grid.id == Patrol.grid_id)
            .where(subtree_clause(grid.path), Visit.visited_on >= first, Visit.visited_on <= last)
        )
    ]
    return lives, visits


def patrols_on(grid: Grid, day: date) -> list[tuple[int, int, str, int]]:
    """(grid id, supervisor id, supervisor name, patrols) for patrols started or visiting on
    `day` in the grid's subtree."""
    start_utc, end_utc = local_day_utc(day)
    rows = db.session.execute(
        sa.select(Patrol.grid_id, Patrol.supervisor_id, User.name, sa.func.count(Patrol.id))
        .join(User, User.id == Patrol.supervisor_id)
        .join(Grid, Grid.id == Patrol.grid_id)
        .where(
            subtree_clause(grid.path),
            Patrol.started_at < end_utc,
            sa.or_(Patrol.ended_at.is_(None), Patrol.ended_at >= start_utc),
        )
        .group_by(Patrol.grid_id, Patrol.supervisor_id, User.name)
    ).all()
    return [tuple(r) for r in rows]


def visited_on(grid: Grid, day: date) -> set[int]:
    """The sources visited on `day` on patrols of this grid."""
    return set(
        db.session.scalars(
            sa.select(Visit.source_id)
            .join(Patrol, Patrol.id == Visit.patrol_id)
            .where(Patrol.grid_id == grid.id, Visit.visited_on == day)
        )
    )


RECENT = 20  # visits shown in a source's dossier


def source_visits(source: Source) -> dict:
    """The latest visits of a source and who made them (a section of its dossier)."""
    visits = db.session.execute(
        sa.select(Visit, Patrol)
        .join(Patrol, Patrol.id == Visit.patrol_id)
        .where(Visit.source_id == source.id)
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
        .limit(RECENT)
    ).all()
    return {"visits": visits, "names": names_of(User, (p.supervisor_id for _v, p in visits))}


def last_positions(user_ids: list[int], day: date) -> dict[int, tuple[float, float]]:
    """Each supervisor's last known position on a local day: the newest kept point of their
    patrols' routes that day, as (lon, lat)."""
    if not user_ids:
        return {}
    start, end = local_day_utc(day)
    newest = (
        sa.select(
            Patrol.supervisor_id,
            RoutePoint.lon,
            RoutePoint.lat,
            sa.func.row_number()
            .over(partition_by=Patrol.supervisor_id, order_by=RoutePoint.recorded_at.desc())
            .label("n"),
        )
        .join(Patrol, Patrol.id == RoutePoint.patrol_id)
        .where(
            Patrol.supervisor_id.in_(user_ids),
            RoutePoint.recorded_at >= start,
            RoutePoint.recorded_at < end,
        )
        .subquery()
    )
    rows = db.session.execute(
        sa.select(newest.c.supervisor_id, newest.c.lon, newest.c.lat).where(newest.c.n == 1)
    )
    return {uid: (lon, lat) for uid, lon, lat in rows}


@dataclass(frozen=True)
class PatrolDay:
    """A patrol's visits on one local day (a patrol crossing midnight has two)."""

    patrol_id: int
    supervisor_id: int
    grid_id: int
    started_at: datetime
    ended_at: datetime | None
    day: date
    visits: int


def patrol_days(
    grid: Grid, people: Collection[int] | sa.Select, first: date, last: date
) -> list[PatrolDay]:
    """The patrols of these people in the grid's subtree, per local day between two days on
    which they visited at least one source, with the visits that day (one query)."""
    rows = db.session.execute(
        sa.select(
            Patrol.id,
            Patrol.supervisor_id,
            Patrol.grid_id,
            Patrol.started_at,
            Patrol.ended_at,
            Visit.visited_on,
            sa.func.count(Visit.id),
        )
        .join(Visit, Visit.patrol_id == Patrol.id)
        .join(Grid, Grid.id == Patrol.grid_id)
        .where(
            subtree_clause(grid.path),
            Patrol.supervisor_id.in_(people),
            Visit.visited_on >= first,
            Visit.visited_on <= last,
        )
        .group_by(
            Patrol.id,
            Patrol.supervisor_id,
            Patrol.grid_id,
            Patrol.started_at,
            Patrol.ended_at,
            Visit.visited_on,
        )
        .order_by(Visit.visited_on, Patrol.started_at, Patrol.id)
    )
    return [PatrolDay(*row) for row in rows]
