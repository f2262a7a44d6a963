"""An inspection task's result and its publication (RULES §9, seed 004 六):

- the draw's inspectors are told of their task (in-app and by Web Push, `notify_assigned`);
- one of the task's inspectors, signed in with the account linked to them in the library,
  enters the result: one of the seven standard phrases, the check record, the day of the
  inspection and at least one photo (the evidence pipeline: EXIF, watermark, flags); the
  publication deadline is computed then (enforce.draws.publication);
- the office that drew publishes the result: what the public sees is the target's name, the
  category, the day, the standard phrase and the inspectors as seed 004's annex 1 lists them
  (name, unit, certificate number), never their accounts, phones or the check record.

Nothing is rewritten: a done task is not completed again, a published one not published again.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from alerts.access import is_prefecture_office, offices_of
from enforce.draws import outcomes, publication
from enforce.draws.models import Draw, Inspector, Task, enforce_task_photo, task_inspector
from evidence import services as evidence
from extensions import db
from grid.access import Scope
from grid.errors import ServiceError
from grid.inputs import Invalid
from grid.models import Grid, User
from grid.time import local_date, local_today, utcnow, work_calendar
from i18n import N_
from notify.services import notify
from sources.models import Source

RECORD_MAX = 2000  # characters of the check record (检查记录): a page of findings
MAX_PHOTOS = 5

OUTCOME_CODES = range(1, len(outcomes.OUTCOMES) + 1)
OUTCOME_CHOICES = [(n, outcomes.outcome_phrase(n)) for n in OUTCOME_CODES]

CATEGORIES = {
    "key": N_("Key polluter"),
    "general": N_("General unit"),
    "special": N_("Special-supervision unit"),
    "facility": N_("Automatic-monitoring facility"),
}


# --- reads -----------------------------------------------------------------------------------


def inspector_of(user_id: int) -> Inspector | None:
    """The library's inspector signed in with this account, if any."""
    return db.session.scalar(sa.select(Inspector).where(Inspector.user_id == user_id))


def inspectors_of(task_ids: Sequence[int]) -> dict[int, list[Inspector]]:
    """Each task's inspectors, in the draw's order."""
    found: dict[int, list[Inspector]] = {tid: [] for tid in task_ids}
    if not task_ids:
        return found
    rows = db.session.execute(
        sa.select(task_inspector.c.task_id, Inspector)
        .join(Inspector, Inspector.id == task_inspector.c.inspector_id)
        .where(task_inspector.c.task_id.in_(list(task_ids)))
        .order_by(task_inspector.c.task_id, task_inspector.c.position)
    )
    for task_id, inspector in rows:
        found[task_id].append(inspector)
    return found


def is_inspector_of(task: Task, user_id: int) -> bool:
    """Whether this account is linked to one of the task's inspectors."""
    return bool(
        db.session.scalar(
            sa.select(
                sa.exists()
                .where(task_inspector.c.task_id == task.id)
                .where(task_inspector.c.inspector_id == Inspector.id)
                .where(Inspector.user_id == user_id)
            )
        )
    )


def tasks_of_user(user_id: int) -> sa.Select:
    """The tasks of the inspector signed in with this account: open ones first, by month."""
    return (
        sa.select(Task)
        .join(task_inspector, task_inspector.c.task_id == Task.id)
        .join(Inspector, Inspector.id == task_inspector.c.inspector_id)
        .join(Draw, Draw.id == Task.draw_id)
        .where(Inspector.user_id == user_id)
        .order_by((Task.status == "done").asc(), Draw.month.desc(), Task.id)
    )


_OPEN_TASKS = (
    sa.select(sa.func.count(Task.id))
    .join(task_inspector, task_inspector.c.task_id == Task.id)
    .join(Inspector, Inspector.id == task_inspector.c.inspector_id)
    .where(Inspector.user_id == sa.bindparam("user_id"), Task.status == "assigned")
    .scalar_subquery()
)


def open_tasks_home_count(user_id: int, posts: Sequence) -> tuple[None, dict]:
    """The home page's count of the inspector's open tasks (grid.registry.HOME_COUNTS)."""
    return None, {}


def open_tasks_statement(_shape: None) -> sa.ScalarSelect:
    return _OPEN_TASKS


def office_grid_ids(scope: Scope) -> list[int] | None:
    """The draws' offices whose tasks this person publishes: None for the prefecture office
    (every draw), else the counties whose office or head they are."""
    if is_prefecture_office(scope):
        return None
    return sorted(offices_of(scope))


def may_publish(scope: Scope, task: Task) -> bool:
    """The prefecture office publishes every draw's results; a county's office its own."""
    grid_ids = office_grid_ids(scope)
    if grid_ids is None:
        return True
    draw = db.session.get(Draw, task.draw_id)
    return draw is not None and draw.grid_id in grid_ids


def done_tasks(grid_ids: list[int] | None) -> sa.Select:
    """Done tasks of these offices' draws (None: all), unpublished first, by deadline."""
    query = (
        sa.select(Task)
        .join(Draw, Draw.id == Task.draw_id)
        .where(Task.status == "done")
        .order_by(Task.published_at.is_not(None), Task.publish_due, Task.id)
    )
    if grid_ids is not None:
        query = query.where(Draw.grid_id.in_(grid_ids))
    return query


def publication_counts(grid_ids: list[int] | None, today: date) -> tuple[int, int]:
    """(results waiting for publication, of which overdue) of these offices' draws."""
    waiting = done_tasks(grid_ids).where(Task.published_at.is_(None)).order_by(None).subquery()
    row = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(waiting.c.publish_due < today),
        ).select_from(waiting)
    ).one()
    return row[0], row[1]


def standing_of(task: Task, today: date) -> publication.Standing:
    published_on = local_date(task.published_at) if task.published_at else None
    return publication.standing(task.publish_due, published_on, today, work_calendar())


@dataclass(frozen=True)
class PublicResult:
    """What the public page shows of one published result."""

    task_id: int
    source_name: str
    county: str
    category: str  # a msgid of CATEGORIES
    done_on: date
    outcome: str  # the standard phrase (Chinese, official text)
    inspectors: list[tuple[str, str, str]]  # (name, unit, certificate number): annex 1


def published() -> sa.Select:
    """Published results, the latest inspection first."""
    return (
        sa.select(Task)
        .where(Task.published_at.is_not(None))
        .order_by(Task.done_on.desc(), Task.id.desc())
    )


def public_results(tasks: Sequence[Task]) -> list[PublicResult]:
    """The public's view of published tasks (nothing else is shown: not the record)."""
    ids = [t.id for t in tasks]
    sources = {
        s.id: s
        for s in db.session.scalars(
            sa.select(Source).where(Source.id.in_({t.source_id for t in tasks}))
        )
    }
    counties = {
        g.id: g.name
        for g in db.session.scalars(
            sa.select(Grid).where(Grid.id.in_({s.county_id for s in sources.values()}))
        )
    }
    people = inspectors_of(ids)
    return [
        PublicResult(
            task_id=t.id,
            source_name=sources[t.source_id].name,
            county=counties.get(sources[t.source_id].county_id, ""),
            category=CATEGORIES.get(t.category, t.category),
            done_on=t.done_on,
            outcome=outcomes.outcome_phrase(t.outcome),
            inspectors=[(i.name, i.unit, i.certificate_no) for i in people[t.id]],
        )
        for t in tasks
        if t.done_on is not None and t.outcome is not None
    ]


# --- actions ----------------------------------------------------------------------------------


def notify_assigned(tasks: Sequence[Task]) -> int:
    """Tell each task's inspectors who have an account (in-app and by Web Push) that the draw
    gave them the task; returns how many notifications were made."""
    if not tasks:
        return 0
    db.session.flush()  # the tasks' ids and inspector links
    people = inspectors_of([t.id for t in tasks])
    names = dict(
        db.session.execute(
            sa.select(Source.id, Source.name).where(Source.id.in_({t.source_id for t in tasks}))
        ).all()
    )
    told = 0
    for task in tasks:
        told += notify(
            [i.user_id for i in people[task.id] if i.user_id],
            "inspection.assigned",
            f"inspection:{task.id}",
            N_("An inspection was assigned to you: %(source)s"),
            {"source": names.get(task.source_id, ""), "id": task.id},
        )
    return told


@dataclass(frozen=True)
class Completion:
    """What the inspector sends (the page reads it; the service checks it again)."""

    outcome: int | None
    record: str
    done_on: date | None


def check_completion(task: Task, form: Completion, photo_count: int) -> None:
    """Refuse, with a message naming the field, what cannot be a result of this task."""
    if form.outcome is None:
        raise Invalid("outcome", _l("Choose the result: one of the seven standard phrases."))
    if form.outcome not in OUTCOME_CODES:
        raise Invalid("outcome", _l("The result must be one of the seven standard phrases."))
    record = (form.record or "").strip()
    if not record:
        raise Invalid("record", _l("Write the check record: what was inspected and found."))
    if len(record) > RECORD_MAX:
        raise Invalid(
            "record",
            _l(
                "The check record is too long: at most %(max)s characters (this is %(length)s).",
                max=RECORD_MAX,
                length=len(record),
            ),
        )
    if form.done_on is None:
        raise Invalid("done_on", _l("Give the day of the inspection."))
    if form.done_on > local_today():
        raise Invalid("done_on", _l("The day of the inspection cannot be in the future."))
    draw = db.session.get(Draw, task.draw_id)
    if form.done_on < draw.month:
        raise Invalid(
            "done_on",
            _l(
                "The inspection cannot be before the draw's month (%(month)s).",
                month=draw.month.strftime("%Y-%m"),
            ),
        )
    if photo_count < 1:
        raise Invalid("photos", _l("Add at least one photo of the inspection."))
    if photo_count > MAX_PHOTOS:
        raise Invalid("photos", _l("Send at most %(n)s photos.", n=MAX_PHOTOS))


def complete(
    task: Task,
    user: User,
    form: Completion,
    photos: Sequence[evidence.Prepared],
) -> Task:
    """The inspector's result of their task, with its photos (prepared before the write
    transaction, evidence.services.prepare); the publication deadline computed."""
    if not is_inspector_of(task, user.id):
        raise ServiceError(_l("Only an inspector of this task can enter its result."))
    if task.status == "done":
        raise ServiceError(_l("This task's result has already been entered."))
    check_completion(task, form, len(photos))
    values = {
        "status": "done",
        "outcome": form.outcome,
        "record": form.record.strip(),
        "done_on": form.done_on,
        "completed_at": utcnow(),
        "completed_by_id": user.id,
        "publish_due": publication.publish_due(form.done_on, task.category, work_calendar()),
    }
    _claim(
        task, Task.status == "assigned", values, _l("This task's result has already been entered.")
    )
    source = db.session.get(Source, task.source_id)
    grid_id = source.grid_id or source.county_id
    for prepared in photos:
        photo = evidence.keep(
            None, prepared, grid_id=grid_id, uploaded_by_id=user.id, captured_at=utcnow()
        )
        evidence.attach(enforce_task_photo, task.id, photo)
    db.session.flush()
    return task


def _claim(task: Task, still: sa.ColumnElement[bool], values: dict, taken: object) -> None:
    """Change the task only if it is still as it was read (`still`): of two people sending at
    once, the second is refused rather than overwriting the first."""
    changed = db.session.execute(
        sa.update(Task).where(Task.id == task.id, still).values(**values)
    ).rowcount
    if changed != 1:
        raise ServiceError(taken)
    for key, value in values.items():
        setattr(task, key, value)


def publish(task: Task, user: User) -> Task:
    """The office publishes a done task's result (the public page shows it from now on)."""
    if task.status != "done":
        raise ServiceError(_l("Only a done inspection can be published: its result is missing."))
    if task.published_at is not None:
        raise ServiceError(_l("This result is already published."))
    values = {"published_at": utcnow(), "published_by_id": user.id}
    _claim(task, Task.published_at.is_(None), values, _l("This result is already published."))
    return task
