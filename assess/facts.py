"""A month's facts for every level-2 grid, gathered through each domain's public queries, and
their assessment by the pure rules (grid/scoring.py).

Items 1-3 (RULES §5) are read from the posts held on the month's last day (today for the month
under way): item 1, the county has a grid head and a grid office; item 2, its sub-grid heads
cover every township and each township's sub-grid heads cover every village (full coverage);
item 3, the published page (`/public/<county>`, kept current by construction: it shows the
posts as they stand) has heads and sub-grid heads to show. Items 4-6 come from problems/ (upper
findings decided "missed", assignments the county let pass, failed re-checks), media exposures
from its media findings, item 7, the bonus and the automatic fails from what the prefecture
office recorded (assess/models.py)."""

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from assess import journal
from assess.models import AssessRecord, RecordKind
from extensions import db
from grid import scoring
from grid.models import Grid, GridKind, Role
from grid.queries import covers_of, posts_in
from grid.time import local_today, local_zone
from problems import queries as problem_queries


@dataclass
class CountyMonth:
    """One level-2 grid's month: its facts, their assessment and the records behind them."""

    county: Grid
    facts: scoring.MonthFacts
    assessment: scoring.Assessment
    records: dict[str, list[AssessRecord]] = field(default_factory=dict)  # by kind
    missed_share: float = 0.0  # of the prefecture's item-4 problems
    measured: dict[str, Any] = field(default_factory=dict)  # corrected facts: value measured


def month_start(year: int, month: int) -> date:
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1 to 12, not {month}")
    return date(year, month, 1)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def utc_bounds(first: date) -> tuple[datetime, datetime]:
    """The local month starting `first` as naive UTC [start, end)."""
    zone = local_zone()

    def at(day: date) -> datetime:
        local = datetime.combine(day, time(), tzinfo=zone)
        return local.astimezone(UTC).replace(tzinfo=None)

    return at(first), at(next_month(first))


def counties() -> list[Grid]:
    return list(
        db.session.scalars(sa.select(Grid).where(Grid.level == 2).order_by(Grid.path, Grid.id))
    )


def gather(year: int, month: int, veto: str = scoring.VETO_TOTAL) -> list[CountyMonth]:
    """Every level-2 grid's month, assessed (in tree order)."""
    first = month_start(year, month)
    after = next_month(first)
    today = local_today()
    if first > today:
        raise ValueError(f"{year}-{month:02d} has not begun")
    as_of = min(after - timedelta(days=1), today)
    start, end = utc_bounds(first)
    grids = counties()
    system = _system_items(grids, as_of)
    missed = problem_queries.missed_counts(year, month)
    media = problem_queries.media_exposures(year, month)
    late = problem_queries.late_assignment_counts(start, end)
    failed = problem_queries.failed_rechecks_counts(start, end)
    records = _records(first, today)
    corrected = journal.corrections(first)
    counted = {
        g.id: corrected.get(g.id, {}).get("missed_problems", missed.get(g.id, 0)) for g in grids
    }
    total_missed = sum(counted.values())  # as corrected: the shares add up to 1
    out = []
    for county in grids:
        item1, item2, item3 = system[county.id]
        mine = records.get(county.id, {})
        overdue = [r for r in mine.get(RecordKind.INSPECTION, []) if r.overdue]
        facts = scoring.MonthFacts(
            grid_established=item1,
            sub_heads_full_coverage=item2,
            disclosure_published=item3,
            missed_problems=missed.get(county.id, 0),
            unassigned_reports=late.get(county.id, 0),
            poor_rectifications=failed.get(county.id, 0),
            overdue_inspection_items=len(overdue),
            bad_influence=any(r.bad_influence for r in overdue),
            major_discoveries=len(mine.get(RecordKind.BONUS, [])),
            media_exposures=media.get(county.id, []),
            auto_fail_reasons=[r.title for r in mine.get(RecordKind.AUTO_FAIL, [])],
        )
        changes = corrected.get(county.id, {})
        measured = {fact: getattr(facts, fact) for fact in changes}
        facts = replace(facts, **changes)
        out.append(
            CountyMonth(
                county=county,
                facts=facts,
                assessment=scoring.assess(facts, veto),
                records={kind: list(rows) for kind, rows in mine.items()},
                missed_share=scoring.share(counted[county.id], total_missed),
                measured=measured,
            )
        )
    return out


def _records(first: date, today: date) -> dict[int, dict[str, list[AssessRecord]]]:
    """The month's records not withdrawn, per county and kind; an inspection item not yet
    rectified only once its deadline has passed (before `today`)."""
    found: dict[int, dict[str, list[AssessRecord]]] = defaultdict(lambda: defaultdict(list))
    for row in db.session.scalars(
        sa.select(AssessRecord)
        .where(AssessRecord.month == first, AssessRecord.withdrawn_at.is_(None))
        .order_by(AssessRecord.id)
    ):
        if row.kind == RecordKind.INSPECTION and row.rectified_on is None:
            if row.due_on is not None and row.due_on >= today:
                continue  # its deadline has not passed yet
        found[row.county_id][row.kind].append(row)
    return found


def _system_items(grids: list[Grid], day: date) -> dict[int, tuple[bool, bool, bool]]:
    """Items 1-3 of each level-2 grid on `day` (see the module's note), in three queries."""
    ids = [g.id for g in grids]
    children = db.session.execute(
        sa.select(Grid.id, Grid.parent_id, Grid.level).where(
            Grid.level.in_((3, 4)), Grid.kind != GridKind.KEY
        )
    ).all()
    townships: dict[int, list[int]] = defaultdict(list)
    villages: dict[int, list[int]] = defaultdict(list)
    for grid_id, parent_id, level in children:
        (townships if level == 3 else villages)[parent_id].append(grid_id)
    posts = posts_in(Grid.level.in_((2, 3)), day)
    subheads = [p for p in posts if p.role == Role.SUBHEAD]
    covers = covers_of(p.membership_id for p in subheads)
    roles: dict[int, set[str]] = defaultdict(set)
    covered: dict[int, set[int]] = defaultdict(set)  # grid -> the children its subheads cover
    for post in posts:
        roles[post.grid_id].add(post.role)
    for post in subheads:
        covered[post.grid_id] |= covers.get(post.membership_id, frozenset())
    result = {}
    for county_id in ids:
        towns = townships.get(county_id, [])
        item1 = {Role.HEAD, Role.OFFICE} <= roles[county_id]
        item2 = set(towns) <= covered[county_id] and all(
            set(villages.get(t, [])) <= covered[t] for t in towns
        )
        item3 = Role.HEAD in roles[county_id] and (not towns or Role.SUBHEAD in roles[county_id])
        result[county_id] = (item1, item2, item3)
    return result
