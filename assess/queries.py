"""What the assessment's pages read: a month's rows for every level-2 grid (from its snapshots
once frozen, assessed from the data before), and the consequences the last months trigger."""

from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from assess import facts, snapshots
from assess.models import AssessRecord
from extensions import db
from grid import scoring
from grid.models import Grid
from grid.queries import names_of


@dataclass(frozen=True)
class MonthRow:
    county_id: int
    name: str
    score: int
    grade: str
    share: float  # of the prefecture's item-4 problems
    forced: list[str]
    lines: list[dict[str, Any]]
    facts: dict[str, Any]
    version: int | None  # None: not frozen, assessed from the data as it stands


def previous_month(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def month_rows(first: date) -> list[MonthRow]:
    """Every level-2 grid's month, best score first (then by name)."""
    frozen = _frozen_rows(first)
    if frozen:
        names = names_of(Grid, frozen)
        rows = [replace(row, name=names[county_id]) for county_id, row in frozen.items()]
    else:
        rows = [
            MonthRow(
                m.county.id,
                m.county.name,
                m.assessment.score,
                m.assessment.grade,
                m.missed_share,
                m.assessment.forced_fail,
                [asdict(line) for line in m.assessment.lines],
                snapshots.facts_to_json(m.facts),
                None,
            )
            for m in facts.gather(first.year, first.month)
        ]
    return sorted(rows, key=lambda r: (-r.score, r.name))


def consequences(first: date, rows: list[MonthRow]) -> dict[int, list[str]]:
    """What the latest months trigger for each grid (RULES §5): the share-of-problems ladder
    and three 不合格 months in a row. The months before count as frozen (the official record);
    one not frozen breaks a run, as a month without data would."""
    months = [previous_month(previous_month(first)), previous_month(first)]
    history = [_frozen_rows(m) for m in months]
    history.append({r.county_id: r for r in rows})
    out = {}
    for row in rows:
        past = [h.get(row.county_id) for h in history]
        grades = [r.grade if r else "" for r in past]
        shares = [r.share if r else 0.0 for r in past]
        actions = scoring.grade_actions(grades)
        share = scoring.share_action(shares)
        if share and share not in actions:
            actions = [share, *actions]
        out[row.county_id] = actions
    return out


def _frozen_rows(first: date) -> dict[int, MonthRow]:
    frozen = snapshots.latest(first)
    return {
        county_id: MonthRow(
            county_id,
            "",
            s.result["score"],
            s.result["grade"],
            s.missed_share,
            s.result["forced_fail"],
            s.result["lines"],
            s.facts,
            s.version,
        )
        for county_id, s in frozen.items()
    }


def records_of(county_id: int, first: date) -> list[AssessRecord]:
    """The prefecture office's records of a grid's month, withdrawn ones included (shown so)."""
    return list(
        db.session.scalars(
            sa.select(AssessRecord)
            .where(AssessRecord.county_id == county_id, AssessRecord.month == first)
            .order_by(AssessRecord.kind, AssessRecord.id)
        )
    )
