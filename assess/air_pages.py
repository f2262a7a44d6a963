"""The air-quality ranking's and the weekly key areas' pages (RULES §6, §7), on the
assessment's blueprint.

Who: the ranking is read by everyone posted in the prefecture or a level-2 grid (the upper
staff, whom the navigation shows the assessment to); the key areas likewise, a level-2 grid's
people seeing their own grid's items. Only the prefecture office records a tampering, schedules
an item or records a check (alerts.access.is_prefecture_office). The work is done by
assess/air.py (reading) and assess/air_services.py (writing)."""

from datetime import date, timedelta

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from alerts.access import is_prefecture_office
from alerts.models import Station
from assess import air, air_services
from assess.access import is_upper, office_or_abort
from assess.air_models import KeyAreaItem, TamperedStation
from assess.labels import TAMPER_KINDS
from assess.views import bp
from extensions import db
from grid import inputs
from grid.access import Scope, current_account, current_scope
from grid.forms import perform
from grid.models import Grid
from grid.time import local_today

_LABEL_MONTH = _l("Month")
_LABEL_WEEK = _l("Week")
_LABEL_STATION = _l("Station")
_LABEL_COUNTY = _l("County")
_LABEL_KEY_GRID = _l("Key grid")


def _upper_or_abort() -> Scope:
    scope = current_scope()
    if not is_upper(scope):
        abort(403)
    return scope


def _month() -> date:
    """The month asked for (?month=YYYY-MM), by default the last one; never one to come."""
    today = local_today()
    chosen = inputs.query().month("month", _LABEL_MONTH, latest=today)
    return chosen or air.previous_month(today.replace(day=1))


def _found(form: inputs.Fields, name: str, label, model, *, required: bool = True):
    """The record a posted id names, or the field refused."""
    record_id = form.id(name, label, required=required)
    if record_id is None:
        return None
    record = db.session.get(model, record_id)
    if record is None:
        raise form.refuse(name, _l("%(field)s: there is no such record.", field=label))
    return record


# --- the ranking ------------------------------------------------------------------------------


@bp.route("/air")
@login_required
def air_ranking():
    """The month's air-quality ranking of level-2 grids, the tamperings that count in it and,
    for the prefecture office, the form that records one."""
    _upper_or_abort()
    first = _month()
    office = is_prefecture_office(current_scope())
    return render_template(
        "assess/air.html",
        month=first,
        rows=air.month_ranking(first),
        tamperings=air.tampering_rows(first),
        office=office,
        stations=air.station_choices() if office else [],
        kinds=TAMPER_KINDS,
        today=local_today(),
    )


def _to_month(day: date, message: str):
    flash(message, "success")
    return redirect(url_for("assess.air_ranking", month=f"{day:%Y-%m}")), 303


@bp.route("/air/tamperings", methods=["POST"])
@login_required
def air_tampering_new():
    """The prefecture office records a verified tampering: its days are replaced (RULES §6)."""
    office_or_abort()
    form = inputs.form()

    def act():
        station = _found(form, "station", _LABEL_STATION, Station)
        first_day = form.past_day("first_day", _l("First day"), required=True)
        last_day = form.past_day("last_day", _l("Last day"), required=True)
        kind = form.choice("kind", _l("What was done"), TAMPER_KINDS, required=True)
        reason = form.text(
            "reason", _l("What was found"), required=True, max_length=2000, multiline=True
        )
        return air_services.record_tampering(
            station, first_day, last_day, kind or "", reason, by=current_account()
        )

    return perform(
        act,
        "",
        url_for("assess.air_ranking"),
        then=lambda made: _to_month(made.last_day, _("The tampering is recorded.")),
    )


@bp.route("/air/tamperings/<int:tampering_id>/withdraw", methods=["POST"])
@login_required
def air_tampering_withdraw(tampering_id):
    """A mistaken tampering withdrawn, with the reason."""
    office_or_abort()
    record = db.session.get(TamperedStation, tampering_id)
    if record is None:
        abort(404)
    form = inputs.form()

    def act():
        reason = form.text("reason", _l("Reason"), required=True, max_length=500)
        air_services.withdraw_tampering(record, reason, by=current_account())
        return record

    return perform(
        act,
        "",
        url_for("assess.air_ranking", month=f"{record.last_day:%Y-%m}"),
        then=lambda made: _to_month(made.last_day, _("The tampering is withdrawn.")),
    )


# --- key areas, weekly ------------------------------------------------------------------------


def _counties_seen(scope: Scope) -> list[int] | None:
    """The level-2 grids whose key areas this person reads: None for all (the prefecture)."""
    if scope.everything:
        return None
    return [p.grid_id for p in scope.posts if p.grid_level == 2]


@bp.route("/key-areas")
@login_required
def key_areas():
    """A week's key-area items (or a month's, ?month=YYYY-MM), their checks and the rung of
    RULES §7 each has reached; the office's forms to schedule an item and record a check."""
    scope = _upper_or_abort()
    query = inputs.query()
    week = query.day("week", _LABEL_WEEK)
    month = query.month("month", _LABEL_MONTH)
    if week is None and month is None:
        week = local_today()
    if week is not None:
        month = None
    start, end = air.period_of(week=week, month=month)
    office = is_prefecture_office(scope)
    counties = air.county_choices() if office else []
    return render_template(
        "assess/key_areas.html",
        rows=air.key_area_rows(week=week, month=month, counties=_counties_seen(scope)),
        week=start if week is not None else None,
        month=start if month is not None else None,
        start=start,
        last_day=end - timedelta(days=1),
        office=office,
        counties=counties,
        key_grids=air.key_grid_choices() if office else [],
        today=local_today(),
    )


def _to_week(day: date, message: str):
    flash(message, "success")
    return redirect(url_for("assess.key_areas", week=day.isoformat())), 303


@bp.route("/key-areas/new", methods=["POST"])
@login_required
def key_area_new():
    """The prefecture office schedules a level-2 grid's key-area item in a week."""
    office_or_abort()
    form = inputs.form()

    def act():
        county = _found(form, "county", _LABEL_COUNTY, Grid)
        key_grid = _found(form, "key_grid", _LABEL_KEY_GRID, Grid, required=False)
        week = form.day("week", _LABEL_WEEK, required=True)
        title = form.text("title", _l("Problem or task"), required=True, max_length=200)
        detail = form.optional_text("detail", _l("Detail"), max_length=2000, multiline=True)
        return air_services.schedule_key_area(
            county, week, title, by=current_account(), detail=detail, key_grid=key_grid
        )

    return perform(
        act,
        "",
        url_for("assess.key_areas"),
        then=lambda item: _to_week(item.week, _("The item is scheduled.")),
    )


@bp.route("/key-areas/<int:item_id>/checks", methods=["POST"])
@login_required
def key_area_check(item_id):
    """The prefecture office records a weekly check of a key-area item (RULES §7)."""
    office_or_abort()
    item = db.session.get(KeyAreaItem, item_id)
    if item is None:
        abort(404)
    form = inputs.form()

    def act():
        checked_on = form.past_day("checked_on", _l("Checked on"), required=True)
        rectified = form.flag("rectified")
        note = form.optional_text("note", _l("Note"), max_length=2000, multiline=True)
        return air_services.record_check(
            item, checked_on, rectified, by=current_account(), note=note
        )

    return perform(
        act,
        "",
        url_for("assess.key_areas", week=item.week.isoformat()),
        then=lambda check: _to_week(check.checked_on, _("The check is recorded.")),
    )
