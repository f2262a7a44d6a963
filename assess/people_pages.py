"""The supervisors' own month (assess/people.py) as their township and county see it: every
supervisor's figures, grouped by township, and one person's month with the records behind each
figure. Seen by whoever sees the grid (grid.access): a village supervisor does not see their
township's page, and is offered nothing else here."""

from datetime import date

import sqlalchemy as sa
from flask import abort, render_template
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from assess import people as people_month
from assess.queries import previous_month
from assess.views import bp
from extensions import db
from grid import inputs
from grid.access import current_scope
from grid.models import Grid, GridKind
from grid.time import local_today


def _grid(grid_id: int) -> Grid:
    """A county or township this person sees: 404 for any other grid, 403 out of sight."""
    grid = db.session.get(Grid, grid_id)
    if grid is None or grid.level not in (2, 3) or grid.kind == GridKind.KEY:
        abort(404)
    if not current_scope().sees(grid.path):
        abort(403)
    return grid


def _month() -> date:
    """The month asked for (?month=YYYY-MM), by default the last one; never one to come."""
    today = local_today()
    chosen = inputs.query().month("month", _l("Month"), latest=today)
    return chosen or previous_month(today.replace(day=1))


@bp.route("/people/<int:grid_id>")
@login_required
def people(grid_id):
    """Each supervisor's own figures for a month: a township's, or a county's by township."""
    grid = _grid(grid_id)
    first = _month()
    rows = people_month.supervisor_month(grid, first)
    parent = db.session.get(Grid, grid.parent_id) if grid.level == 3 else None
    return render_template(
        "assess/people.html",
        grid=grid,
        month=first,
        groups=people_month.by_township(rows),
        parent=parent if parent and current_scope().sees(parent.path) else None,
    )


@bp.route("/people/<int:grid_id>/<int:user_id>")
@login_required
def person(grid_id, user_id):
    """One supervisor's month: the records behind each of their figures."""
    grid = _grid(grid_id)
    first = _month()
    found = people_month.supervisor_month(grid, first, only=user_id)
    if not found:
        abort(404)  # not a supervisor here that month
    row = found[0]
    scope = current_scope()
    counties = {a.county_id for a in row.answers}
    paths = dict(
        db.session.execute(sa.select(Grid.id, Grid.path).where(Grid.id.in_(counties or {-1}))).all()
    )
    return render_template(
        "assess/person.html",
        grid=grid,
        month=first,
        row=row,
        patrols=people_month.patrols_by_day(grid, row, first),
        sees_county={cid: scope.sees(path) for cid, path in paths.items()},
    )
