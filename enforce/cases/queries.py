"""What the cases' pages read: the cases an office may see, the published ones (the public's:
never their originals), the closed problems a case may start from, and what waits."""

from dataclasses import dataclass

import sqlalchemy as sa

from alerts.access import is_prefecture_office, offices_of
from enforce.cases.models import CaseState, TypicalCase
from extensions import db
from grid.access import Scope
from grid.models import Grid
from problems.escalation import CLOSED_STATES
from problems.models import Problem

PUBLIC_PAGE = 10


def may_act(scope: Scope, county_id: int | None) -> bool:
    """The prefecture office on any case; a county's office or head on its own county's."""
    if is_prefecture_office(scope):
        return True
    return county_id is not None and county_id in offices_of(scope)


def cases_statement(scope: Scope) -> sa.Select:
    """The cases this office sees, the newest first."""
    query = sa.select(TypicalCase).order_by(TypicalCase.created_at.desc(), TypicalCase.id.desc())
    if not is_prefecture_office(scope):
        query = query.where(TypicalCase.county_id.in_(offices_of(scope) or [-1]))
    return query


def published_statement() -> sa.Select:
    """The public list: published cases, the latest first."""
    return (
        sa.select(TypicalCase)
        .where(TypicalCase.state == CaseState.PUBLISHED)
        .order_by(TypicalCase.published_at.desc(), TypicalCase.id.desc())
    )


@dataclass(frozen=True)
class PublicCase:
    """What the public page shows of a case: its public title and text, where and when; the
    original never leaves the office."""

    id: int
    title: str
    text: str
    county: str | None
    published_at: object


def public_case(case: TypicalCase) -> PublicCase:
    county = db.session.get(Grid, case.county_id) if case.county_id else None
    return PublicCase(
        case.id, case.title, case.text, county.name if county else None, case.published_at
    )


def published(case_id: int) -> PublicCase | None:
    case = db.session.get(TypicalCase, case_id)
    if case is None or case.state != CaseState.PUBLISHED:
        return None
    return public_case(case)


def closed_problems(scope: Scope, limit: int = 30) -> list[Problem]:
    """Closed problems a case may be prepared from, the latest first."""
    query = (
        sa.select(Problem)
        .where(Problem.state.in_([s.value for s in CLOSED_STATES]))
        .order_by(Problem.found_at.desc(), Problem.id.desc())
        .limit(limit)
    )
    if not is_prefecture_office(scope):
        query = query.where(Problem.county_id.in_(offices_of(scope) or [-1]))
    return list(db.session.scalars(query))


def counties(scope: Scope) -> list[Grid]:
    """The counties a new typed-in case may belong to."""
    query = sa.select(Grid).where(Grid.level == 2).order_by(Grid.code, Grid.id)
    if not is_prefecture_office(scope):
        query = query.where(Grid.id.in_(offices_of(scope) or [-1]))
    return list(db.session.scalars(query))


def waiting(scope: Scope) -> dict[str, int]:
    """How many of the cases this office sees are in each state."""
    cases = cases_statement(scope).order_by(None).subquery()
    rows = db.session.execute(
        sa.select(cases.c.state, sa.func.count()).group_by(cases.c.state)
    ).all()
    return {state: n for state, n in rows}
