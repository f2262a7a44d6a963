"""The assessment's pages: the month's ranking of level-2 grids for the prefecture office, and
one grid's month (its breakdown, the records behind it, its versions and appeals) for the
prefecture and the grid's own people."""

from datetime import date

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from alerts.access import is_prefecture_office, offices_of
from assess import appeals, corrections, desktop, journal, queries, snapshots
from assess.access import may_read_notice
from assess.facts import next_month
from extensions import db
from grid import inputs
from grid.access import current_scope
from grid.models import Grid, User
from grid.queries import names_of
from grid.time import local_today

bp = Blueprint("assess", __name__, url_prefix="/assess")


def _month() -> date:
    """The month asked for (?month=YYYY-MM), by default the last one; never one to come."""
    today = local_today()
    chosen = inputs.query().month("month", _l("Month"), latest=today)
    return chosen or queries.previous_month(today.replace(day=1))


@bp.route("/")
@login_required
def index():
    """The prefecture's desktop (assess/desktop.py): the month's ranking of level-2 grids with
    their last twelve months, a map and the prefecture's months, for the prefecture's people;
    someone posted in a level-2 grid is sent to that grid's month (the navigation shows the
    tab to both), someone who sees a whole township to its supervisors' figures."""
    scope = current_scope()
    first = _month()
    month = f"{first:%Y-%m}"
    if not scope.everything:
        counties = [p.grid_id for p in scope.posts if p.grid_level == 2]
        if counties:
            return redirect(url_for("assess.county", county_id=counties[0], month=month))
        townships = [
            p.grid_id for p in scope.posts if p.grid_level == 3 and scope.sees(p.grid_path)
        ]
        if townships:  # a township's people: its supervisors' own figures
            return redirect(url_for("assess.people", grid_id=townships[0], month=month))
        abort(403)
    today = local_today()
    return render_template(
        "assess/index.html",
        desktop=desktop.page(first),
        can_freeze=is_prefecture_office(scope) and next_month(first) <= today,
    )


@bp.route("/<int:county_id>")
@login_required
def county(county_id):
    """One level-2 grid's month: each line of its score with the records behind it."""
    grid = db.session.get(Grid, county_id)
    if grid is None or grid.level != 2:
        abort(404)
    scope = current_scope()
    if not (is_prefecture_office(scope) or scope.sees(grid.path)):
        abort(403)
    first = _month()
    rows = queries.month_rows(first)
    row = next((r for r in rows if r.county_id == grid.id), None)
    if row is None:  # a grid made after the month was frozen: it has no month to show
        abort(404)
    place = 1 + sum(1 for r in rows if r.score > row.score)
    history = snapshots.versions(grid.id, first)
    events = journal.events_of(grid.id, first)
    office = is_prefecture_office(scope)
    return render_template(
        "assess/county.html",
        county=grid,
        month=first,
        row=row,
        place=place,
        counted=len(rows),
        actions=queries.consequences(first, rows).get(grid.id, []),
        records=queries.records_of(grid.id, first),
        versions=history,
        appeals=appeals.of_month(grid.id, first),
        deadline=appeals.deadline(history[0]) if history else None,
        trend=desktop.county_trend(first, grid.id, rows),
        events=events,
        actors=names_of(User, {e.actor_id for e in events if e.actor_id}),
        measured=_measured(events, history),
        can_keep=office,
        can_appeal=bool(history) and grid.id in offices_of(scope),
        appealable=appeals.open_items(history[0]) if history else [],
        correctable=corrections.CORRECTABLE,
        can_read_notice=may_read_notice(scope),
    )


def _measured(events, history) -> dict[str, tuple]:
    """The facts corrected before the freeze (the version shown being provisional or the
    first): fact -> (value measured, the reason), from the month's log."""
    if len(history) > 1:
        return {}
    out = {}
    for event in events:
        if event.event == journal.CORRECT:
            fact = event.data["fact"]
            measured = out[fact][0] if fact in out else event.data["measured"]
            out[fact] = (measured, event.comment)
    return out
