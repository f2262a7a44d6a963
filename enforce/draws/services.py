"""What changes the double-random inspections: the inspector library (人员信息库) and its
recusals, the month's draw of an office, and drawing it again to verify. Services flush; the
request commits (grid.forms). A refusal (ServiceError) says what was wrong and writes nothing:
every check is made before the first write.

Decisions where the rules are silent:
- an office draws for the current month, a past month (a draw made offline and recorded), or
  next month; not later;
- a category is drawn once per office and month: a second draw of the month may ask for the
  categories not drawn yet (a supplementary draw), never one drawn already;
- the seed comes from `secrets` unless given (to reproduce a draw elsewhere); it is kept with
  the population drawn from, so the draw can be made again and compared (`verify`)."""

import json
import secrets
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from enforce.draws import drawing, queries, ratios, results
from enforce.draws.models import Conflict, Draw, Inspector, Task, task_inspector
from extensions import db
from grid.errors import ServiceError
from grid.models import Grid, User
from grid.time import local_today
from sources.models import Source

SEED_LIMIT = 2**63  # the seed fits a signed BigInteger


def _office_or_refuse(office: Grid) -> None:
    if office.level not in (ratios.PREFECTURE, ratios.COUNTY):
        raise ServiceError(_("Only the prefecture and the counties keep inspectors and draw."))


def _certificate_free(certificate_no: str, inspector_id: int | None) -> None:
    query = sa.select(Inspector.id).where(Inspector.certificate_no == certificate_no)
    found = db.session.scalar(query)
    if found is not None and found != inspector_id:
        raise ServiceError(
            _("Certificate number %(number)s is already in the library.", number=certificate_no)
        )


def _user_free(user: User | None, inspector_id: int | None) -> None:
    if user is None:
        return
    found = db.session.scalar(sa.select(Inspector).where(Inspector.user_id == user.id))
    if found is not None and found.id != inspector_id:
        raise ServiceError(
            _(
                "The account %(login)s already signs in for %(name)s.",
                login=user.username,
                name=found.name,
            )
        )


def add_inspector(
    office: Grid,
    name: str,
    certificate_no: str,
    unit: str,
    *,
    by: User | None,
    user: User | None = None,
) -> Inspector:
    _office_or_refuse(office)
    _certificate_free(certificate_no, None)
    _user_free(user, None)
    inspector = Inspector(
        name=name,
        certificate_no=certificate_no,
        unit=unit,
        grid_id=office.id,
        user_id=user.id if user else None,
        active=True,
        created_by_id=by.id if by else None,
    )
    db.session.add(inspector)
    db.session.flush()
    return inspector


def update_inspector(
    inspector: Inspector, name: str, certificate_no: str, unit: str, user: User | None
) -> Inspector:
    _certificate_free(certificate_no, inspector.id)
    _user_free(user, inspector.id)
    inspector.name, inspector.certificate_no, inspector.unit = name, certificate_no, unit
    inspector.user_id = user.id if user else None
    db.session.flush()
    return inspector


def set_active(inspector: Inspector, active: bool) -> Inspector:
    """Deactivate (left, retired, certificate lapsed) or reactivate: an inactive inspector is
    not drawn; the tasks given already stay theirs."""
    inspector.active = active
    db.session.flush()
    return inspector


def add_conflict(inspector: Inspector, source: Source, reason: str, *, by: User | None) -> Conflict:
    """Record a recusal (RULES §1): the draw never sends `inspector` to `source`."""
    exists = db.session.scalar(
        sa.select(Conflict.id).where(
            Conflict.inspector_id == inspector.id, Conflict.source_id == source.id
        )
    )
    if exists is not None:
        raise ServiceError(
            _(
                "%(name)s is already recused from %(source)s.",
                name=inspector.name,
                source=source.name,
            )
        )
    conflict = Conflict(
        inspector_id=inspector.id,
        source_id=source.id,
        reason=reason,
        recorded_by_id=by.id if by else None,
    )
    db.session.add(conflict)
    db.session.flush()
    return conflict


def next_month(today: date) -> date:
    first = today.replace(day=1)
    return (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )


def _check_month(month: date, today: date) -> None:
    if month.day != 1:
        raise ServiceError(_("A draw is for a month: give its first day."))
    if month > next_month(today):
        raise ServiceError(
            _(
                "A draw for %(month)s cannot be made yet: next month at the latest.",
                month=f"{month:%Y-%m}",
            )
        )


def _check_asked(asked: dict[str, int]) -> None:
    for category, number in asked.items():
        if category not in ratios.CATEGORIES:
            raise ServiceError(_("Unknown category %(category)s.", category=category))
        if number < 0:
            raise ServiceError(
                _(
                    "The number of %(category)s cannot be negative.",
                    category=_(ratios.CATEGORY_LABELS[category]),
                )
            )
    if not sum(asked.values()):
        raise ServiceError(_("Ask for at least one target."))


def _check_once_a_month(office: Grid, month: date, asked: dict[str, int]) -> None:
    for earlier in queries.draws_of(office, month):
        for category, number in queries.asked_of(earlier).items():
            if number and asked.get(category):
                raise ServiceError(
                    _(
                        "%(category)s were drawn already for %(month)s (draw %(id)s): a category "
                        "is drawn once a month.",
                        category=_(ratios.CATEGORY_LABELS[category]),
                        month=f"{month:%Y-%m}",
                        id=earlier.id,
                    )
                )


def refusal(exc: drawing.DrawRefused) -> str:
    """A refused draw, in words."""
    if isinstance(exc, drawing.TooFewTargets):
        return _(
            "Asked %(asked)s %(category)s, only %(eligible)s are eligible.",
            asked=exc.asked,
            category=_(ratios.CATEGORY_LABELS[exc.category]).lower(),
            eligible=exc.eligible,
        )
    if isinstance(exc, drawing.TooFewInspectors) and exc.source_id is None:
        return _(
            "The office has %(available)s active inspectors; each task needs %(needed)s.",
            available=exc.available,
            needed=exc.needed,
        )
    if isinstance(exc, drawing.TooFewInspectors):
        source = db.session.get(Source, exc.source_id)
        return _(
            "Only %(available)s inspectors may inspect %(source)s (the others are recused); "
            "each task needs %(needed)s.",
            available=exc.available,
            source=source.name if source else exc.source_id,
            needed=exc.needed,
        )
    return str(exc)


def make_draw(
    office: Grid,
    month: date,
    asked: dict[str, int],
    *,
    by: User | None,
    seed: int | None = None,
    note: str | None = None,
    today: date | None = None,
) -> Draw:
    """Draw the month's targets and inspectors of an office, as asked per category."""
    _office_or_refuse(office)
    _check_month(month, today or local_today())
    asked = {c: n for c, n in asked.items() if n}
    _check_asked(asked)
    _check_once_a_month(office, month, asked)
    if seed is None:
        seed = secrets.randbelow(SEED_LIMIT)
    if not 0 <= seed < SEED_LIMIT:
        raise ServiceError(
            _("The seed must be a whole number from 0 to %(limit)s.", limit=SEED_LIMIT - 1)
        )
    population = queries.snapshot(office, month)
    try:
        drawn = drawing.draw(seed, asked, population)
    except drawing.TooFewTargets as exc:
        if exc.asked <= population.eligible(exc.category):  # the other categories took them
            raise ServiceError(
                _(
                    "Asked %(asked)s %(category)s, only %(eligible)s are sure to remain once the "
                    "other categories of this draw are taken: draw them on their own.",
                    asked=exc.asked,
                    category=_(ratios.CATEGORY_LABELS[exc.category]).lower(),
                    eligible=exc.eligible,
                )
            ) from exc
        raise ServiceError(refusal(exc)) from exc
    except drawing.DrawRefused as exc:
        raise ServiceError(refusal(exc)) from exc
    item = Draw(
        grid_id=office.id,
        month=month,
        seed=seed,
        asked=json.dumps(asked, sort_keys=True),
        snapshot=population.to_json(),
        snapshot_sha256=population.digest(),
        drawn_by_id=by.id if by else None,
        note=note,
    )
    db.session.add(item)
    db.session.flush()
    tasks = [
        Task(draw_id=item.id, source_id=d.source_id, category=d.category, status="assigned")
        for d in drawn
    ]
    db.session.add_all(tasks)
    db.session.flush()
    db.session.execute(
        task_inspector.insert(),
        [
            {"task_id": task.id, "inspector_id": inspector, "position": position}
            for task, d in zip(tasks, drawn, strict=True)
            for position, inspector in enumerate(d.inspector_ids, start=1)
        ],
    )
    db.session.flush()
    results.notify_assigned(tasks)  # in-app now, Web Push once the request commits
    return item


@dataclass(frozen=True)
class Verification:
    """A draw drawn again from its seed and recorded population."""

    snapshot_intact: bool  # the recorded population still has its recorded SHA-256
    matches: bool  # the same tasks, categories and inspectors, in the same order
    differences: list[str] = field(default_factory=list)


def _recorded(item: Draw) -> list[drawing.Drawn]:
    return [
        drawing.Drawn(row.task.category, row.source.id, tuple(i.id for i in row.inspectors))
        for row in queries.tasks_of(item)
    ]


def verify(item: Draw) -> Verification:
    """Draw again from the seed and the recorded population, and compare with the tasks kept."""
    population = drawing.Snapshot.from_json(item.snapshot)
    intact = population.digest() == item.snapshot_sha256
    try:
        again = drawing.draw(item.seed, queries.asked_of(item), population)
    except drawing.DrawRefused as exc:
        return Verification(intact, False, [refusal(exc)])
    kept = _recorded(item)
    differences = []
    if len(again) != len(kept):
        differences.append(
            str(_l("%(kept)s tasks kept, %(again)s drawn again.", kept=len(kept), again=len(again)))
        )
    for n, (a, k) in enumerate(zip(again, kept, strict=False), start=1):
        if a != k:
            differences.append(str(_l("Task %(n)s differs.", n=n)))
    return Verification(intact, intact and not differences, differences)
