"""Freezing a month (RULES §5; issue: "a snapshot that never changes afterwards") and revising
a frozen one as a new version.

A snapshot keeps the facts as numbers (scoring.MonthFacts, sets as sorted lists) and their
assessment as assessed when frozen; `assess_again` recomputes the assessment from the kept facts
and must give the kept result (the rules are pure and versioned with the code), so a notice is
reproducible and a changed row is found: `digest` is the SHA-256 of the canonical JSON of the
county, month, version, veto, facts and result."""

import hashlib
import json
from dataclasses import asdict, fields, replace
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from assess import facts as gathering
from assess import journal
from assess.models import MonthSnapshot
from extensions import db
from grid import scoring
from grid.errors import ServiceError
from grid.models import User
from grid.time import local_today


def facts_to_json(facts: scoring.MonthFacts) -> dict[str, Any]:
    out = asdict(facts)
    out["media_exposures"] = [sorted(levels) for levels in facts.media_exposures]
    return out


def facts_from_json(data: dict[str, Any]) -> scoring.MonthFacts:
    known = {f.name for f in fields(scoring.MonthFacts)}
    values = {k: v for k, v in data.items() if k in known}
    values["media_exposures"] = [set(levels) for levels in data.get("media_exposures", [])]
    values["auto_fail_reasons"] = list(data.get("auto_fail_reasons", []))
    return scoring.MonthFacts(**values)


def result_to_json(result: scoring.Assessment) -> dict[str, Any]:
    out = asdict(result)
    out["items"] = {str(k): v for k, v in result.items.items()}
    return out


def digest_of(snapshot: MonthSnapshot) -> str:
    content = {
        "county": snapshot.county_id,
        "month": snapshot.month.isoformat(),
        "version": snapshot.version,
        "veto": snapshot.veto,
        "missed_share": snapshot.missed_share,
        "facts": snapshot.facts,
        "result": snapshot.result,
    }
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def latest(month: date) -> dict[int, MonthSnapshot]:
    """The latest version of each county's snapshot of `month` (first day), by county id."""
    newest = (
        sa.select(MonthSnapshot.county_id, sa.func.max(MonthSnapshot.version).label("version"))
        .where(MonthSnapshot.month == month)
        .group_by(MonthSnapshot.county_id)
        .subquery()
    )
    rows = db.session.scalars(
        sa.select(MonthSnapshot)
        .join(
            newest,
            sa.and_(
                MonthSnapshot.county_id == newest.c.county_id,
                MonthSnapshot.version == newest.c.version,
            ),
        )
        .where(MonthSnapshot.month == month)
    )
    return {row.county_id: row for row in rows}


def latest_between(first: date, last: date) -> dict[date, dict[int, MonthSnapshot]]:
    """The latest version of each county's snapshot of every month from `first` to `last`
    (first days, both included), by month then county id, in one query (the desktop's trend).
    A month not frozen is absent."""
    newest = (
        sa.select(
            MonthSnapshot.county_id,
            MonthSnapshot.month,
            sa.func.max(MonthSnapshot.version).label("version"),
        )
        .where(MonthSnapshot.month >= first, MonthSnapshot.month <= last)
        .group_by(MonthSnapshot.county_id, MonthSnapshot.month)
        .subquery()
    )
    rows = db.session.scalars(
        sa.select(MonthSnapshot).join(
            newest,
            sa.and_(
                MonthSnapshot.county_id == newest.c.county_id,
                MonthSnapshot.month == newest.c.month,
                MonthSnapshot.version == newest.c.version,
            ),
        )
    )
    found: dict[date, dict[int, MonthSnapshot]] = {}
    for row in rows:
        found.setdefault(row.month, {})[row.county_id] = row
    return found


def versions(county_id: int, month: date) -> list[MonthSnapshot]:
    """Every version of a county's month, newest first."""
    return list(
        db.session.scalars(
            sa.select(MonthSnapshot)
            .where(MonthSnapshot.county_id == county_id, MonthSnapshot.month == month)
            .order_by(MonthSnapshot.version.desc())
        )
    )


def freeze(year: int, month: int, *, by: User | None, veto: str = scoring.VETO_TOTAL):
    """Freeze a month that is over: version 1 of every level-2 grid's snapshot, all at once."""
    first = gathering.month_start(year, month)
    if gathering.next_month(first) > local_today():
        raise ServiceError(_l("A month can be frozen once it is over."))
    if latest(first):
        raise ServiceError(_l("This month is frozen already; revise a county's month instead."))
    made = []
    for county_month in gathering.gather(year, month, veto):
        snapshot = _add(
            county_month.county.id,
            first,
            1,
            county_month.facts,
            veto,
            "冻结",
            by,
            county_month.missed_share,
        )
        journal.note(snapshot.county_id, first, journal.FREEZE, by=by, data=_summary(snapshot))
        made.append(snapshot)
    return made


def revise(
    snapshot: MonthSnapshot, changes: dict[str, Any], reason: str, *, by: User | None
) -> MonthSnapshot:
    """A new version of a frozen month with some facts changed (an accepted appeal, a
    correction), assessed again; the earlier versions stay as they were."""
    if not reason.strip():
        raise ServiceError(_l("Say why the month is revised."))
    current = latest(snapshot.month).get(snapshot.county_id)
    if current is None or current.id != snapshot.id:
        raise ServiceError(_l("Revise the latest version of the month."))
    known = {f.name for f in fields(scoring.MonthFacts)}
    unknown = set(changes) - known
    if unknown:
        raise ServiceError(_l("Unknown facts: %(names)s.", names=", ".join(sorted(unknown))))
    revised = replace(facts_from_json(snapshot.facts), **changes)
    made = _add(
        snapshot.county_id,
        snapshot.month,
        snapshot.version + 1,
        revised,
        snapshot.veto,
        reason.strip(),
        by,
        snapshot.missed_share,
    )
    journal.note(
        made.county_id,
        made.month,
        journal.REVISE,
        by=by,
        comment=made.reason,
        data={
            **_summary(made),
            "changes": {k: [snapshot.facts[k], made.facts[k]] for k in changes},
        },
    )
    return made


def _summary(snapshot: MonthSnapshot) -> dict[str, Any]:
    return {
        "version": snapshot.version,
        "score": snapshot.result["score"],
        "grade": snapshot.result["grade"],
        "digest": snapshot.digest,
    }


def assess_again(snapshot: MonthSnapshot) -> scoring.Assessment:
    """The snapshot's facts assessed by today's rules (equal to its result if nothing
    changed)."""
    return scoring.assess(facts_from_json(snapshot.facts), snapshot.veto)


def intact(snapshot: MonthSnapshot) -> bool:
    """The row is as frozen, and its facts still give its result."""
    return snapshot.digest == digest_of(snapshot) and snapshot.result == result_to_json(
        assess_again(snapshot)
    )


def _add(county_id, month, version, month_facts, veto, reason, by, share) -> MonthSnapshot:
    result = scoring.assess(month_facts, veto)
    snapshot = MonthSnapshot(
        county_id=county_id,
        month=month,
        version=version,
        facts=facts_to_json(month_facts),
        result=result_to_json(result),
        veto=veto,
        missed_share=share,
        reason=reason,
        frozen_by_id=by.id if by else None,
    )
    snapshot.digest = digest_of(snapshot)
    db.session.add(snapshot)
    db.session.flush()
    return snapshot
