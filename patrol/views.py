"""The patrol page (offline first), patrols as reviewers see them, and coverage."""

import json
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, jsonify, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from geoalchemy2.shape import to_shape

from evidence.services import photos_of
from extensions import db
from grid import inputs
from grid.access import current_scope, grid_or_abort
from grid.models import Grid, User
from grid.registry import render_sections
from grid.time import local_today
from i18n.language import gettext
from patrol import catalog, coverage, queries
from patrol.models import Patrol, Visit, visit_photo
from patrol.registry import PATROL_SECTIONS
from sources.catalog import SOURCE_KINDS
from sources.models import Source
from sources.queries import source_points

bp = Blueprint("patrol", __name__, url_prefix="/patrol")


@bp.route("/")
@login_required
def index():
    """Today's patrol: start, visit each source, report problems, end — works offline."""
    grids = queries.supervised_grids(current_user, local_today())
    chosen = inputs.query().id("grid", _l("Grid"))
    grid = next((g for g in grids if g.id == chosen), grids[0] if grids else None)
    return render_template(
        "patrol/index.html",
        grids=grids,
        grid=grid,
        categories=catalog.CATEGORIES,
        severities=catalog.SEVERITIES,
    )


@bp.route("/<int:grid_id>/sources.json")
@login_required
def sources_json(grid_id):
    """The grid's active sources with positions and today's visits, cached for offline use."""
    grid = grid_or_abort(grid_id)
    today = local_today()
    visited = queries.visited_on(grid, today)
    items = source_points(grid)
    for item in items:
        item["visited_today"] = item["id"] in visited
        item["kind_label"] = gettext(SOURCE_KINDS.get(item["kind"], item["kind"]))
    return jsonify(grid={"id": grid.id, "name": grid.name}, day=today.isoformat(), sources=items)


@bp.route("/<int:patrol_id>")
@login_required
def show(patrol_id):
    """A patrol as reviewers see it: route, visits, problems, photos and their flags."""
    patrol = db.session.get(Patrol, patrol_id) or abort(404)
    grid = grid_or_abort(patrol.grid_id)
    visits = db.session.execute(
        sa.select(Visit, Source.name)
        .join(Source, Source.id == Visit.source_id)
        .where(Visit.patrol_id == patrol.id)
        .order_by(Visit.visited_at)
    ).all()
    photo_rows = [photo for _visit, photo in photos_of(visit_photo, [v.id for v, _n in visits])]
    route = to_shape(patrol.route) if patrol.route is not None else None
    geojson = json.dumps({"type": "LineString", "coordinates": list(route.coords)}) if route else ""
    return render_template(
        "patrol/show.html",
        patrol=patrol,
        grid=grid,
        visits=visits,
        photos=photo_rows,
        sections=render_sections(PATROL_SECTIONS, patrol),
        route_geojson=geojson,
        supervisor=db.session.get(User, patrol.supervisor_id),
    )


@bp.route("/coverage")
@login_required
def coverage_page():
    """Which sources were patrolled on a day or in a month, per village and township
    (RULES §2: every active source once a day), computed from the records."""
    scope = current_scope()
    args = inputs.query()
    grid_id = args.id("grid", _l("Grid"))
    today = local_today()
    month = args.month("month", _l("Month"), latest=today)
    day = args.day("day", _l("Day"), default=today, latest=today)
    if grid_id is None:
        top = db.session.scalars(
            sa.select(Grid).where(scope.grid_clause()).order_by(Grid.path).limit(1)
        ).first()
        if top is None:
            abort(403)
        grid = top
    else:
        grid = grid_or_abort(grid_id)
    days = coverage.days_of(month.year, month.month, until=today) if month else [day]
    lives, visits = queries.coverage_inputs(grid, days[0], days[-1])
    per_village = coverage.by_grid(lives, visits, days)
    villages = {
        g.id: g
        for g in db.session.scalars(sa.select(Grid).where(Grid.id.in_(list(per_village) or [-1])))
    }
    groups = _group_coverage(grid, per_village, villages)
    # Names (who patrolled, which sources were missed) from a township down; above, thousands
    # of them would make a page no one reads: a summary, and the townships to open.
    named = grid.level >= 3
    missed = []
    missed_count = sum(len(c[0].missed) for c in per_village.values()) if len(days) == 1 else 0
    if len(days) == 1 and named:
        missed_ids = (
            set().union(*(c[0].missed for c in per_village.values())) if per_village else set()
        )
        missed = list(
            db.session.scalars(
                sa.select(Source)
                .where(Source.id.in_(list(missed_ids) or [-1]))
                .order_by(Source.grid_id, Source.name)
            )
        )
    patrollers = queries.patrols_on(grid, days[0]) if len(days) == 1 else []
    return render_template(
        "patrol/coverage.html",
        grid=grid,
        days=days,
        groups=groups,
        villages=villages,
        missed=missed,
        missed_count=missed_count,
        named=named,
        patrollers=patrollers,
        month=month.strftime("%Y-%m") if month else None,
        today=today,
        prev_day=(days[0] - timedelta(days=1)).isoformat(),
        next_day=(days[-1] + timedelta(days=1)).isoformat(),
    )


def _group_coverage(grid, per_village, villages):
    """Totals per child of `grid` (townships under a county, villages under a township)."""
    groups: dict[int, dict] = {}
    for village_id, day_list in per_village.items():
        village = villages[village_id]
        rest = village.path[len(grid.path) :]  # "<child id>/.../"
        key_id = int(rest.split("/")[0]) if rest else village.id
        group = groups.setdefault(
            key_id,
            {
                "expected": 0,
                "visited": 0,
                "missed": 0,
                "villages": 0,
                "complete_days": 0,
                "days": 0,
            },
        )
        group["villages"] += 1
        for day_cov in day_list:
            group["expected"] += len(day_cov.expected)
            group["visited"] += len(day_cov.visited)
            group["missed"] += len(day_cov.missed)
    names = {
        g.id: g
        for g in db.session.scalars(sa.select(Grid).where(Grid.id.in_(list(groups) or [-1])))
    }
    return sorted(
        ((names[k], v) for k, v in groups.items() if k in names),
        key=lambda gv: (gv[0].code or "", gv[0].id),
    )
