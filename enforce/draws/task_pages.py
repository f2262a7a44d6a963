"""The inspection tasks' pages: an inspector's tasks on the phone and one task with its
completion form (camera photos), and the office's publication list, with the due, due soon and
overdue results and the button that publishes one (RULES §9, seed 004 六).

Who: an inspector sees the tasks of the library's inspector linked to their account; the office
that may publish a task (the prefecture office for every draw, a county's office or head for its
own) sees it and its result too. Registrations of the workflow's tasks (`register`)."""

from flask import Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from geoalchemy2.shape import to_shape
from markupsafe import Markup

from enforce import access
from enforce.draws import publication, results
from enforce.draws.models import Draw, Task, enforce_task_photo
from enforce.draws.outcomes import outcome_phrase
from enforce.registry import HUB_SECTIONS, HubSection
from enforce.views import bp
from evidence.registry import PHOTO_OWNERS, PhotoOwner
from evidence.services import (
    Prepared,
    capture,
    photo_ids,
    photo_store,
    photos_of,
    prepare_or_refuse,
    read_uploads,
)
from extensions import db
from grid import inputs
from grid.access import Scope, current_account, current_scope
from grid.forms import perform, reads_first, submit
from grid.models import Grid
from grid.paging import page_of
from grid.registry import HOME_COUNTS, PUBLIC_ACTIONS, HomeCount, PublicAction
from grid.time import local_today, utcnow
from i18n import N_
from notify.registry import SUBJECTS, Subject
from sources.models import Source

PAGE_SIZE = 50
SHOWN = ("waiting", "overdue", "published", "all")  # the publication list's filters


def register(app: Flask) -> None:
    """The workflow's entries in the app's registries (called by enforce.init_app)."""
    SUBJECTS.add(app, "inspection", Subject("enforce.task", "task_id"))
    PHOTO_OWNERS.add(app, "enforce_task", PhotoOwner(enforce_task_photo, may_view_photo))
    HOME_COUNTS.add(
        app,
        "inspections",
        HomeCount(
            N_("My inspection tasks"),
            "enforce.tasks",
            results.open_tasks_home_count,
            results.open_tasks_statement,
            order=20,
            only_when_any=True,
        ),
    )
    HUB_SECTIONS.add(app, "inspection_results", HubSection(hub_section, order=25))
    app.jinja_env.filters["inspection_outcome"] = outcome_phrase
    PUBLIC_ACTIONS.add(
        app,
        "inspections",
        PublicAction(N_("Results of random inspections"), "enforce.public_inspections", 60),
    )


def may_view_photo(photo_id: int) -> bool:
    """A task's photos are seen by its inspectors and by the office that publishes it."""
    if not current_user.is_authenticated:
        return False
    task_id = db.session.scalar(
        enforce_task_photo.select()
        .with_only_columns(enforce_task_photo.c.enforce_task_id)
        .where(enforce_task_photo.c.photo_id == photo_id)
    )
    task = db.session.get(Task, task_id) if task_id else None
    return task is not None and _may_see(task, current_scope())


def _may_see(task: Task, scope: Scope) -> bool:
    inspector = results.is_inspector_of(task, scope.user_id) if scope.user_id else False
    return inspector or (access.is_office(scope) and results.may_publish(scope, task))


def _task_or_abort(task_id: int) -> Task:
    task = db.session.get(Task, task_id)
    if task is None:
        abort(404)
    if not _may_see(task, current_scope()):
        abort(403)
    return task


def hub_section(scope: Scope) -> Markup:
    """The enforcement page's line on results waiting for publication."""
    waiting, overdue = results.publication_counts(results.office_grid_ids(scope), local_today())
    html = render_template("enforce/draws/_task_hub.html", waiting=waiting, overdue=overdue)
    return Markup(html)  # noqa: S704 - an autoescaped template's output  # nosec B704


# --- the inspector's phone ----------------------------------------------------------------------


@bp.route("/tasks")
@login_required
def tasks():
    """My inspection tasks: open ones first (the draw's targets, with their address)."""
    page = page_of(results.tasks_of_user(current_user.id), PAGE_SIZE)
    sources = _sources(page.items)
    draws = _draws(page.items)
    return render_template(
        "enforce/draws/tasks.html",
        page=page,
        sources=sources,
        draws=draws,
        inspector=results.inspector_of(current_user.id),
        categories=results.CATEGORIES,
    )


@bp.route("/tasks/<int:task_id>")
@login_required
def task(task_id):
    """One task: the target, its address and map link, the other inspectors, and the result
    (the completion form for its inspectors while it is open)."""
    return render_template("enforce/draws/task.html", **_task_context(_task_or_abort(task_id)))


def _task_context(item: Task, typed: dict | None = None) -> dict:
    scope = current_scope()
    source = db.session.get(Source, item.source_id)
    position = to_shape(source.location) if source.location is not None else None
    standing = results.standing_of(item, local_today()) if item.status == "done" else None
    return {
        "task": item,
        "source": source,
        "county": db.session.get(Grid, source.county_id),
        "draw": db.session.get(Draw, item.draw_id),
        "position": position,
        "inspectors": results.inspectors_of([item.id])[item.id],
        "photos": [photo for _tid, photo in photos_of(enforce_task_photo, [item.id])],
        "may_complete": item.status == "assigned"
        and results.is_inspector_of(item, current_user.id),
        "may_publish": item.status == "done"
        and item.published_at is None
        and access.is_office(scope)
        and results.may_publish(scope, item),
        "standing": standing,
        "categories": results.CATEGORIES,
        "record_max": results.RECORD_MAX,
        "outcome_choices": results.OUTCOME_CHOICES,
        "max_photos": results.MAX_PHOTOS,
        "today": local_today(),
        "typed": typed or {},
    }


def _fix(form: inputs.Fields) -> tuple[float, float, float | None] | None:
    """The phone's position sent with the photos (static/js/locate.js), if any."""
    lat, lon = form.latitude("lat", _l("Latitude")), form.longitude("lon", _l("Longitude"))
    accuracy = form.number("accuracy", _l("Accuracy"), low=0, high=1e6)
    if lat is None or lon is None:
        return None
    return lon, lat, accuracy


def _photos(item: Task, form: inputs.Fields) -> list[Prepared]:
    """The form's photos decoded, checked, watermarked and stored before the write
    transaction, placed in the target's village (its county when it has none)."""
    data = read_uploads(request.files.getlist("photos"), results.MAX_PHOTOS)
    if not data:
        return []
    source = db.session.get(Source, item.source_id)
    grid = db.session.get(Grid, source.grid_id or source.county_id)
    moment = capture(grid, current_user.name, utcnow(), fix=_fix(form))
    return [prepare_or_refuse(one, moment, photo_store()) for one in data]


@bp.route("/tasks/<int:task_id>/complete", methods=["POST"])
@reads_first
@login_required
def task_complete(task_id):
    """An inspector enters the task's result: the standard phrase, record, day and photos; a
    refusal shows the form again as typed, with the reason, and keeps nothing."""
    item = _task_or_abort(task_id)
    form = inputs.form()
    month = db.session.get(Draw, item.draw_id).month

    def complete(photos):
        outcome = form.choice("outcome", _l("Result"), [str(c) for c in results.OUTCOME_CODES])
        return results.complete(
            item,
            current_account(),
            results.Completion(
                outcome=int(outcome) if outcome else None,
                record=form.text(
                    "record", _l("Check record"), max_length=results.RECORD_MAX, multiline=True
                ),
                done_on=form.day(
                    "done_on", _l("Day of the inspection"), earliest=month, latest=local_today()
                ),
            ),
            photos,
        )

    def done(_task):
        flash(_("The result is recorded. The office will publish it."), "success")
        return redirect(url_for("enforce.task", task_id=task_id), 303)

    return submit(
        complete,
        template="enforce/draws/task.html",
        context=_task_context(item, typed=request.form.to_dict()),
        then=done,
        prepare=lambda: _photos(item, form),
    )


# --- the office's publication list ---------------------------------------------------------------


@bp.route("/tasks/publication")
@login_required
def publication_list():
    """Done tasks of the office's draws with their publication deadline: due soon, overdue,
    published (in time or late)."""
    scope = access.office_or_abort()
    shown = inputs.query().choice("show", _l("Show"), SHOWN, default="waiting")
    query = results.done_tasks(results.office_grid_ids(scope))
    if shown in ("waiting", "overdue"):
        query = query.where(Task.published_at.is_(None))
    if shown == "overdue":
        query = query.where(Task.publish_due < local_today())
    if shown == "published":
        query = query.where(Task.published_at.is_not(None))
    page = page_of(query, PAGE_SIZE)
    today = local_today()
    return render_template(
        "enforce/draws/task_publication.html",
        page=page,
        shown=shown,
        shown_choices=SHOWN,
        sources=_sources(page.items),
        standings={t.id: results.standing_of(t, today) for t in page.items},
        categories=results.CATEGORIES,
        Status=publication.Status,
        photo_counts={t.id: _photo_count(t.id) for t in page.items},
    )


@bp.route("/tasks/<int:task_id>/publish", methods=["POST"])
@login_required
def task_publish(task_id):
    """The office publishes a done task's result on the public page."""
    scope = access.office_or_abort()
    item = db.session.get(Task, task_id)
    if item is None:
        abort(404)
    if not results.may_publish(scope, item):
        abort(403)
    back = inputs.form().choice("back", _l("Back"), ("task", "list"), default="list")
    return perform(
        lambda: results.publish(item, current_account()),
        _("The result is published."),
        url_for("enforce.task", task_id=task_id)
        if back == "task"
        else url_for("enforce.publication_list"),
    )


def _sources(items: list[Task]) -> dict[int, Source]:
    ids = {t.source_id for t in items}
    if not ids:
        return {}
    return {s.id: s for s in db.session.scalars(db.select(Source).where(Source.id.in_(ids)))}


def _draws(items: list[Task]) -> dict[int, Draw]:
    ids = {t.draw_id for t in items}
    if not ids:
        return {}
    return {d.id: d for d in db.session.scalars(db.select(Draw).where(Draw.id.in_(ids)))}


def _photo_count(task_id: int) -> int:
    return len(list(db.session.scalars(photo_ids(enforce_task_photo, task_id))))
