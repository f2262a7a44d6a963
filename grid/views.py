"""Grid pages, the map and its GeoJSON, staffing lists, point lookup, and the public page."""

import hashlib
import json
import math
from collections import defaultdict

import shapely
import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from geoalchemy2.shape import to_shape

from extensions import db
from grid import services
from grid.access import Action, current_scope, grid_or_abort
from grid.actions import perform
from grid.models import ComplaintChannel, Grid, GridKind, Role, subtree_clause
from grid.services import local_today

bp = Blueprint("grid", __name__, url_prefix="/grids")
public_bp = Blueprint("public", __name__, url_prefix="/public")

ZOOMS = (5, 7, 9, 11, 13, 15)  # GeoJSON is simplified for the nearest of these


@bp.route("/")
@login_required
def index():
    """The grids at the top of the user's scope."""
    scope = current_scope()
    top = db.session.scalars(
        sa.select(Grid).where(scope.grid_clause()).order_by(Grid.path).limit(1)
    ).first()
    if top is None:
        return render_template("grid/none.html")
    return redirect(url_for("grid.show", grid_id=top.id))


@bp.route("/<int:grid_id>")
@login_required
def show(grid_id):
    """One grid: its posts, staffing warnings, children and channels."""
    grid = grid_or_abort(grid_id)
    scope = current_scope()
    day = local_today()
    history = request.args.get("history") == "1"
    kids = services.children(grid)
    findings = services.staffing_of([grid.id] + [k.id for k in kids], day)
    posts = services.posts_in(Grid.id == grid.id, None if history else day)
    cover = services.covers_of(p.membership_id for p in posts if p.role == Role.SUBHEAD)
    names = {k.id: k.name for k in kids}
    supervisors = defaultdict(int)
    for p in services.posts_in(Grid.parent_id == grid.id, day):
        if p.role == Role.SUPERVISOR:
            supervisors[p.grid_id] += 1
    channels = services.channels_for([grid.id]) if grid.level in (1, 2) else []
    trail = [a for a in services.ancestors(grid) if scope.sees(a.path)]
    return render_template(
        "grid/show.html",
        grid=grid,
        kids=kids,
        findings=findings,
        posts=posts,
        cover=cover,
        names=names,
        supervisors=supervisors,
        channels=channels,
        trail=trail,
        history=history,
        can_manage_people=scope.allows(Action.MANAGE_PEOPLE, grid),
        can_manage_channels=scope.allows(Action.MANAGE_CHANNELS, grid),
        today=day,
    )


@bp.route("/<int:grid_id>/staffing")
@login_required
def staffing(grid_id):
    """Every staffing warning under a grid (RULES §1), for the county and prefecture offices."""
    grid = grid_or_abort(grid_id)
    report = services.staffing_report(grid, local_today())
    only = request.args.get("severity")
    if only in ("warning", "notice"):
        report = [r for r in report if any(f.severity == only for f in r.findings)]
    counts = defaultdict(int)
    for r in report:
        for f in r.findings:
            counts[f.severity] += 1
    return render_template("grid/staffing.html", grid=grid, report=report, counts=counts, only=only)


@bp.route("/<int:grid_id>/channels", methods=["POST"])
@login_required
def add_channel(grid_id):
    """Publish a local complaint channel."""
    grid = grid_or_abort(grid_id, Action.MANAGE_CHANNELS)
    form = request.form
    return perform(
        lambda: services.add_channel(
            grid, form.get("name", ""), form.get("contact", ""), by=current_user
        ),
        _("The channel is published."),
        url_for("grid.show", grid_id=grid.id),
    )


@bp.route("/channels/<int:channel_id>/retire", methods=["POST"])
@login_required
def retire_channel(channel_id):
    """Withdraw a complaint channel from the public page."""
    channel = db.session.get(ComplaintChannel, channel_id) or abort(404)
    grid = grid_or_abort(channel.grid_id, Action.MANAGE_CHANNELS)
    return perform(
        lambda: services.retire_channel(channel, by=current_user),
        _("The channel is withdrawn."),
        url_for("grid.show", grid_id=grid.id),
    )


@bp.route("/map")
@login_required
def map_page():
    """A map of the user's grids; works without a tile server (the boundaries still show)."""
    scope = current_scope()
    focus_id = request.args.get("grid", type=int)
    if focus_id is not None:
        focus = grid_or_abort(focus_id)
    else:
        focus = db.session.scalars(
            sa.select(Grid).where(scope.grid_clause()).order_by(Grid.path).limit(1)
        ).first()
    return render_template(
        "grid/map.html",
        focus=focus,
        tile_url=current_app.config["TILE_URL"],
        tile_attribution=current_app.config["TILE_ATTRIBUTION"],
        tile_max_zoom=current_app.config["TILE_MAX_ZOOM"],
    )


def _zoom_bucket(z: int | None, level: int) -> int:
    if z is None:
        z = {1: 6, 2: 8, 3: 10, 4: 12}.get(level, 8)
    return min(ZOOMS, key=lambda b: abs(b - z))


@bp.route("/<int:grid_id>/map.geojson")
@login_required
def geojson(grid_id):
    """The grid and its children as GeoJSON, simplified to about half a pixel at zoom `z`."""
    grid = grid_or_abort(grid_id)
    z = _zoom_bucket(request.args.get("z", type=int), grid.level)
    version = hashlib.sha256(repr(services.geometry_version()).encode()).hexdigest()[:16]
    etag = f"{grid.id}-{z}-{version}"
    if request.if_none_match.contains(etag):
        response = current_app.response_class(status=304)
        response.set_etag(etag)
        response.headers["Cache-Control"] = "private, no-cache"
        return response
    tolerance = 360.0 / (256 * 2**z) / 2
    rows = db.session.execute(
        sa.select(Grid.id, Grid.name, Grid.code, Grid.level, Grid.kind, Grid.geom_source, Grid.geom)
        .where(sa.or_(Grid.id == grid.id, Grid.parent_id == grid.id), Grid.geom.is_not(None))
        .order_by(Grid.level, Grid.code, Grid.id)
    ).all()
    features = []
    for gid, name, code, level, kind, source, geom in rows:
        shape = to_shape(geom).simplify(tolerance, preserve_topology=True)
        features.append(
            {
                "type": "Feature",
                "id": gid,
                "geometry": json.loads(shapely.to_geojson(shapely.set_precision(shape, 1e-6))),
                "properties": {
                    "name": name,
                    "code": code,
                    "level": level,
                    "kind": kind,
                    "source": source,
                    "focus": gid == grid.id,
                    "url": url_for("grid.show", grid_id=gid),
                    "children_url": url_for("grid.geojson", grid_id=gid) if level < 4 else None,
                },
            }
        )
    body = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    return current_app.response_class(
        body,
        mimetype="application/geo+json",
        headers={"ETag": etag, "Cache-Control": "private, no-cache"},
    )


@bp.route("/locate")
@login_required
def locate():
    """The level-3 and level-4 grids containing a WGS-84 point (?lat=..&lon=..)."""
    try:
        lat = float(request.args["lat"])
        lon = float(request.args["lon"])
    except (KeyError, ValueError):
        return jsonify(
            error="bad_request", message=_("Give lat and lon as decimal degrees (WGS-84).")
        ), 400
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return jsonify(
            error="bad_request", message=_("lat must lie in -90..90 and lon in -180..180.")
        ), 400
    found = {}
    for level in (3, 4):
        g = services.locate(lon, lat, level)
        found[f"level{level}"] = {"id": g.id, "name": g.name, "code": g.code} if g else None
    return jsonify(lat=lat, lon=lon, **found)


# --- the public disclosure page (RULES §1 art. 19; scoring item 3) ----------------------------


@public_bp.route("/")
def disclosure_index():
    """The counties, cities and parks whose grid people are published."""
    counties = db.session.scalars(
        sa.select(Grid).where(Grid.level == 2).order_by(Grid.kind, Grid.code, Grid.id)
    ).all()
    return render_template("public/index.html", counties=counties)


@public_bp.route("/<int:grid_id>")
def disclosure(grid_id):
    """A county's grid heads, sub-grid heads and supervisors down to villages, and where to
    complain; no log-in needed."""
    county = db.session.get(Grid, grid_id)
    if county is None or county.level != 2:
        abort(404)
    day = local_today()
    grids = db.session.execute(
        sa.select(Grid.id, Grid.parent_id, Grid.name, Grid.level, Grid.kind, Grid.code)
        .where(subtree_clause(county.path))
        .order_by(Grid.level, Grid.code, Grid.id)
    ).all()
    posts = services.posts_in(subtree_clause(county.path), day)
    cover = services.covers_of(p.membership_id for p in posts if p.role == Role.SUBHEAD)
    by_grid = defaultdict(list)
    for p in posts:
        if p.role in (Role.HEAD, Role.SUBHEAD, Role.SUPERVISOR):
            by_grid[p.grid_id].append(p)
    kids = defaultdict(list)
    for g in grids:
        if g.parent_id is not None:
            kids[g.parent_id].append(g)
    names = {g.id: g.name for g in grids}
    channels = services.channels_for(county.ancestor_ids + [county.id])
    return render_template(
        "public/disclosure.html",
        county=county,
        kids=kids,
        by_grid=by_grid,
        cover=cover,
        names=names,
        channels=channels,
        hotline=current_app.config["COMPLAINT_HOTLINE"],
        contact=current_app.config["DISCLOSURE_CONTACT"],
        changed=services.last_changed(county, day),
        key_kind=GridKind.KEY,
    )
