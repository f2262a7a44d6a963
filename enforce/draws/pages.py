"""The offices' pages of the double-random inspections: the inspector library with its
recusals, the month's draw (suggested numbers and warnings), a draw with its verification, the
quarter's statistics and their workbook.

Who: the prefecture office acts for the prefecture's own library and draws and, like a county's
office or head, for each county's; a county's office or head for its own county only."""

import json
from datetime import date
from urllib.parse import quote

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from markupsafe import Markup

from alerts.access import is_prefecture_office, offices_of
from enforce.access import office_or_abort
from enforce.draws import queries, ratios, services, stats
from enforce.draws.models import Draw, Inspector
from enforce.views import bp
from extensions import db
from grid import inputs
from grid.access import Scope, current_account
from grid.forms import perform
from grid.htmx import render_error
from grid.models import Grid, User
from grid.queries import find_login, root_grid
from grid.time import local_today
from sources.models import Source

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_LABEL_OFFICE = _l("Office")
_LABEL_MONTH = _l("Month")


def offices(scope: Scope) -> list[Grid]:
    """The offices (level 1 or 2) a person acts for."""
    if is_prefecture_office(scope):
        root = root_grid()
        counties = db.session.query(Grid).filter(Grid.level == 2).order_by(Grid.name).all()
        return ([root] if root else []) + counties
    ids = offices_of(scope)
    return db.session.query(Grid).filter(Grid.id.in_(ids)).order_by(Grid.name).all()


def _office_or_abort(office_id: int | None, scope: Scope) -> Grid:
    mine = offices(scope)
    if office_id is None:
        if not mine:
            abort(403)
        return mine[0]
    grid = db.session.get(Grid, office_id)
    if grid is None or grid.level not in (1, 2):
        abort(404)
    if grid.id not in {g.id for g in mine}:
        abort(403)
    return grid


def _inspector_or_abort(inspector_id: int) -> tuple[Inspector, Grid]:
    scope = office_or_abort()
    inspector = db.session.get(Inspector, inspector_id)
    if inspector is None:
        abort(404)
    return inspector, _office_or_abort(inspector.grid_id, scope)


def _draw_or_abort(draw_id: int) -> tuple[Draw, Grid]:
    scope = office_or_abort()
    item = db.session.get(Draw, draw_id)
    if item is None:
        abort(404)
    return item, _office_or_abort(item.grid_id, scope)


def _month_or_this(form: inputs.Fields) -> date:
    """The month asked for (next month at the latest), else this month."""
    today = local_today()
    latest = services.next_month(today)
    return form.month("month", _LABEL_MONTH, latest=latest) or today.replace(day=1)


# --- the hub ------------------------------------------------------------------------------------


def hub(scope: Scope) -> Markup:
    """This month's plan of each office the person acts for: asked so far vs suggested."""
    month = local_today().replace(day=1)
    plans = [queries.plan(office, month) for office in offices(scope)]
    html = render_template(
        "enforce/draws/_hub.html", plans=plans, month=month, labels=ratios.CATEGORY_LABELS
    )
    return Markup(html)  # noqa: S704 - an autoescaped template's output  # nosec B704


# --- the inspector library ----------------------------------------------------------------------


@bp.route("/inspectors")
@login_required
def inspectors():
    """The inspector library of the offices the person acts for, and the form to add one."""
    scope = office_or_abort()
    mine = offices(scope)
    people = queries.inspectors_of([g.id for g in mine])
    users = {
        u.id: u
        for u in db.session.query(User).filter(
            User.id.in_([p.user_id for p in people if p.user_id])
        )
    }
    return render_template(
        "enforce/draws/inspectors.html",
        inspectors=people,
        offices=mine,
        office_names={g.id: g.name for g in mine},
        users=users,
    )


def _user_of(form: inputs.Fields) -> User | None:
    login = form.optional_text("login", _l("Account"), max_length=64)
    if login is None:
        return None
    user = find_login(login)
    if user is None:
        raise form.refuse("login", _l("No account signs in as %(login)s.", login=login))
    return user


def _details(form: inputs.Fields) -> tuple[str, str, str]:
    return (
        form.text("name", _l("Name"), required=True, max_length=60),
        form.text("certificate_no", _l("Certificate number"), required=True, max_length=30),
        form.text("unit", _l("Unit"), required=True, max_length=120),
    )


@bp.route("/inspectors", methods=["POST"])
@login_required
def inspector_create():
    scope = office_or_abort()
    form = inputs.form()

    def act():
        office = _office_or_abort(form.id("office", _LABEL_OFFICE, required=True), scope)
        name, number, unit = _details(form)
        return services.add_inspector(
            office, name, number, unit, by=current_account(), user=_user_of(form)
        )

    return perform(act, _("Inspector added."), url_for("enforce.inspectors"))


@bp.route("/inspectors/<int:inspector_id>")
@login_required
def inspector(inspector_id):
    """An inspector: details, the account they sign in with, recusals."""
    person, office = _inspector_or_abort(inspector_id)
    user = db.session.get(User, person.user_id) if person.user_id else None
    return render_template(
        "enforce/draws/inspector.html",
        inspector=person,
        office=office,
        user=user,
        conflicts=queries.conflicts_of(person),
        sources=queries.sources_of(office),
    )


@bp.route("/inspectors/<int:inspector_id>", methods=["POST"])
@login_required
def inspector_update(inspector_id):
    person, _office = _inspector_or_abort(inspector_id)
    form = inputs.form()

    def act():
        name, number, unit = _details(form)
        return services.update_inspector(person, name, number, unit, _user_of(form))

    return perform(act, _("Saved."), url_for("enforce.inspector", inspector_id=person.id))


@bp.route("/inspectors/<int:inspector_id>/active", methods=["POST"])
@login_required
def inspector_active(inspector_id):
    person, _office = _inspector_or_abort(inspector_id)
    form = inputs.form()

    def act():
        active = form.choice("active", _l("Active"), ["yes", "no"], required=True) == "yes"
        return services.set_active(person, active)

    done = _("Reactivated.") if not person.active else _("Deactivated: no longer drawn.")
    return perform(act, done, url_for("enforce.inspector", inspector_id=person.id))


@bp.route("/inspectors/<int:inspector_id>/conflicts", methods=["POST"])
@login_required
def conflict_create(inspector_id):
    person, office = _inspector_or_abort(inspector_id)
    form = inputs.form()

    def act():
        source_id = form.id("source", _l("Source"), required=True)
        source = db.session.get(Source, source_id)
        if source is None or source.id not in {s.id for s in queries.sources_of(office)}:
            raise form.refuse("source", _l("Choose a source of the office's area."))
        reason = form.text("reason", _l("Reason"), required=True, max_length=500)
        return services.add_conflict(person, source, reason, by=current_account())

    return perform(
        act, _("Recusal recorded."), url_for("enforce.inspector", inspector_id=person.id)
    )


# --- draws --------------------------------------------------------------------------------------


@bp.route("/draws")
@login_required
def draws():
    """An office's month: suggested numbers, warnings, its draws, and the form to draw."""
    scope = office_or_abort()
    query = inputs.query()
    office = _office_or_abort(query.id("office", _LABEL_OFFICE), scope)
    month = _month_or_this(query)
    plan = queries.plan(office, month)
    return render_template(
        "enforce/draws/draws.html",
        plan=plan,
        office=office,
        offices=offices(scope),
        month=month,
        labels=ratios.CATEGORY_LABELS,
        recent=queries.recent_draws([g.id for g in offices(scope)], limit=24),
        office_names={g.id: g.name for g in offices(scope)},
        asked_of=queries.asked_of,
    )


@bp.route("/draws", methods=["POST"])
@login_required
def draw_create():
    scope = office_or_abort()
    form = inputs.form()
    try:
        office = _office_or_abort(form.id("office", _LABEL_OFFICE, required=True), scope)
        month = _month_or_this(form)
    except inputs.Invalid as exc:
        return render_error(400, str(exc), back=url_for("enforce.draws"))
    back = url_for("enforce.draws", office=office.id, month=f"{month:%Y-%m}")

    def act():
        asked = {
            c: form.integer(c, _(ratios.CATEGORY_LABELS[c]), low=0, high=10000, default=0) or 0
            for c in ratios.CATEGORIES
        }
        seed = form.integer("seed", _l("Seed"), low=0, high=services.SEED_LIMIT - 1)
        note = form.optional_text("note", _l("Note"), max_length=500)
        return services.make_draw(office, month, asked, by=current_account(), seed=seed, note=note)

    return perform(act, _("Drawn."), back, then=_drawn)


def _drawn(item: Draw):
    flash(_("Drawn: %(n)s tasks.", n=len(queries.tasks_of(item))), "success")
    return redirect(url_for("enforce.draw", draw_id=item.id)), 303


@bp.route("/draws/<int:draw_id>")
@login_required
def draw(draw_id):
    """A draw: seed, population digest, tasks with inspectors, the month's warnings."""
    item, office = _draw_or_abort(draw_id)
    return _draw_page(item, office, None)


@bp.route("/draws/<int:draw_id>/verify")
@login_required
def draw_verify(draw_id):
    """The draw made again from its seed and recorded population, compared with its tasks."""
    item, office = _draw_or_abort(draw_id)
    return _draw_page(item, office, services.verify(item))


def _draw_page(item: Draw, office: Grid, verification: services.Verification | None):
    plan = queries.plan(office, item.month)
    return render_template(
        "enforce/draws/draw.html",
        draw=item,
        office=office,
        rows=queries.tasks_of(item),
        asked=queries.asked_of(item),
        plan=plan,
        labels=ratios.CATEGORY_LABELS,
        drawn_by=db.session.get(User, item.drawn_by_id) if item.drawn_by_id else None,
        verification=verification,
        population=json.loads(item.snapshot),
    )


# --- statistics ---------------------------------------------------------------------------------


def _quarter(query: inputs.Fields) -> tuple[int, int]:
    today = local_today()
    year = query.integer("year", _l("Year"), low=2000, high=today.year + 1, default=today.year)
    quarter = query.integer(
        "quarter", _l("Quarter"), low=1, high=4, default=(today.month - 1) // 3 + 1
    )
    return year or today.year, quarter or 1


@bp.route("/draws/stats")
@login_required
def draw_stats():
    """The quarter's statistics of an office: drawn and done per category against the minimums,
    and the outcomes."""
    scope = office_or_abort()
    query = inputs.query()
    office = _office_or_abort(query.id("office", _LABEL_OFFICE), scope)
    year, quarter = _quarter(query)
    return render_template(
        "enforce/draws/stats.html",
        office=office,
        offices=offices(scope),
        year=year,
        quarter=quarter,
        rows=queries.quarter_rows(office, year, quarter),
        labels=ratios.CATEGORY_LABELS,
        headings=stats.HEADINGS,
    )


@bp.route("/draws/stats.xlsx")
@login_required
def draw_stats_xlsx():
    scope = office_or_abort()
    query = inputs.query()
    office = _office_or_abort(query.id("office", _LABEL_OFFICE), scope)
    year, quarter = _quarter(query)
    data = stats.workbook(office.name, year, quarter, queries.quarter_rows(office, year, quarter))
    name = f"双随机统计-{office.name}-{year}Q{quarter}.xlsx"
    disposition = (
        f"attachment; filename=\"draws-{year}Q{quarter}.xlsx\"; filename*=UTF-8''{quote(name)}"
    )
    return Response(
        data,
        mimetype=XLSX,
        headers={"Content-Disposition": disposition, "Cache-Control": "private, no-store"},
    )
