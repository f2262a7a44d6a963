"""The assessment's pages: the month's ranking of level-2 grids for the prefecture office, and
one grid's month (its breakdown, the records behind it, its versions and appeals) for the
prefecture and the grid's own people."""

from datetime import date

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from alerts.access import is_prefecture_office
from assess import appeals, queries, snapshots
from extensions import db
from grid import inputs
from grid.access import current_scope
from grid.models import Grid
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
    """The month's ranking of level-2 grids, for the prefecture's people; someone posted in a
    level-2 grid is sent to that grid's month (the navigation shows the tab to both)."""
    scope = current_scope()
    first = _month()
    if not scope.everything:
        mine = [p.grid_id for p in scope.posts if p.grid_level == 2]
        if not mine:
            abort(403)
        return redirect(url_for("assess.county", county_id=mine[0], month=f"{first:%Y-%m}"))
    rows = queries.month_rows(first)
    return render_template(
        "assess/index.html",
        month=first,
        rows=rows,
        consequences=queries.consequences(first, rows),
        frozen=any(r.version for r in rows),
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
    )
