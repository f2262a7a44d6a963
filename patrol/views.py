"""The patrol page (offline first), patrols and problems as reviewers see them, coverage, the
sync API the phone's queue talks to, and photos."""

import json
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from geoalchemy2.shape import to_shape

from desk.language import gettext
from extensions import db
from grid import services as grid_services
from grid.access import current_scope, grid_or_abort
from grid.models import Grid, GridKind, User, utcnow
from patrol import catalog, coverage, services
from patrol.models import Patrol, Photo, Problem, Source, Visit
from patrol.services import SyncRefused, Upload

bp = Blueprint("patrol", __name__, url_prefix="/patrol")
sync_bp = Blueprint("sync", __name__, url_prefix="/sync")


def _user() -> User:
    return db.session.get(User, current_user.id)


@bp.route("/")
@login_required
def index():
    """Today's patrol: start, visit each source, report problems, end — works offline."""
    grids = services.supervised_grids(current_user, grid_services.local_today())
    chosen = request.args.get("grid", type=int)
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
    today = grid_services.local_today()
    visited = set(
        db.session.scalars(
            sa.select(Visit.source_id)
            .join(Patrol, Patrol.id == Visit.patrol_id)
            .where(Patrol.grid_id == grid.id, Visit.visited_on == today)
        )
    )
    items = services.source_points(grid)
    for item in items:
        item["visited_today"] = item["id"] in visited
        item["kind_label"] = gettext(catalog.SOURCE_KINDS.get(item["kind"], item["kind"]))
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
    problems = list(
        db.session.scalars(
            sa.select(Problem).where(Problem.patrol_id == patrol.id).order_by(Problem.found_at)
        )
    )
    photo_rows = list(
        db.session.scalars(
            sa.select(Photo)
            .where(
                sa.or_(
                    Photo.visit_id.in_([v.id for v, _n in visits] or [-1]),
                    Photo.problem_id.in_([p.id for p in problems] or [-1]),
                )
            )
            .order_by(Photo.captured_at)
        )
    )
    route = to_shape(patrol.route) if patrol.route is not None else None
    geojson = json.dumps({"type": "LineString", "coordinates": list(route.coords)}) if route else ""
    return render_template(
        "patrol/show.html",
        patrol=patrol,
        grid=grid,
        visits=visits,
        problems=problems,
        photos=photo_rows,
        route_geojson=geojson,
        supervisor=db.session.get(User, patrol.supervisor_id),
    )


@bp.route("/problems/<int:problem_id>")
@login_required
def problem(problem_id):
    """A problem: its facts and photos, every step so far (both ways up and down the grid),
    and the steps this person may take now."""
    from patrol import escalation, problems
    from patrol.access import problem_or_abort
    from patrol.models import ProblemEvent

    item = problem_or_abort(problem_id)
    grid = db.session.get(Grid, item.grid_id)
    photo_rows = list(
        db.session.scalars(
            sa.select(Photo)
            .where(Photo.problem_id == item.id)
            .order_by(Photo.captured_at, Photo.id)
        )
    )
    events = list(
        db.session.scalars(
            sa.select(ProblemEvent)
            .where(ProblemEvent.problem_id == item.id)
            .order_by(ProblemEvent.seq)
        )
    )
    actors = {
        u.id: u
        for u in db.session.scalars(
            sa.select(User).where(
                User.id.in_(
                    {e.actor_id for e in events if e.actor_id}
                    | {item.reporter_id or 0, item.assignee_user_id or 0}
                )
            )
        )
    }
    caps = problems.capacities(current_user.id, item)
    allowed = escalation.events_for(item.state, caps, problems.recheck_by())
    needs = {e: escalation.RULES[(escalation.State(item.state), e)].needs for e in allowed}
    return render_template(
        "patrol/problem.html",
        problem=item,
        grid=grid,
        photos=photo_rows,
        events=events,
        actors=actors,
        allowed=allowed,
        needs=needs,
        capacities=caps,
        now=utcnow(),
        source=item.source_id and db.session.get(Source, item.source_id),
        photos_by_event=_by_event(photo_rows),
        open_states=problems.OPEN,
    )


def _by_event(photo_rows) -> dict[int, list]:
    """The photos that came with each step (after-photos of a rectification, say)."""
    found: dict[int, list] = {}
    for row in photo_rows:
        if row.event_id:
            found.setdefault(row.event_id, []).append(row)
    return found


@bp.route("/coverage")
@login_required
def coverage_page():
    """Which sources were patrolled on a day or in a month, per village and township
    (RULES §2: every active source once a day), computed from the records."""
    scope = current_scope()
    grid_id = request.args.get("grid", type=int)
    if grid_id is None:
        top = db.session.scalars(
            sa.select(Grid).where(scope.grid_clause()).order_by(Grid.path).limit(1)
        ).first()
        if top is None:
            abort(403)
        grid = top
    else:
        grid = grid_or_abort(grid_id)
    today = grid_services.local_today()
    month = request.args.get("month")
    try:
        if month:
            first = datetime.strptime(month, "%Y-%m").date()
            days = coverage.days_of(first.year, first.month, until=today)
        else:
            day = date.fromisoformat(request.args.get("day") or today.isoformat())
            days = [day]
    except ValueError:
        abort(400)
    if not days:
        abort(400)
    lives, visits = services.coverage_inputs(grid, days[0], days[-1])
    per_village = coverage.by_grid(lives, visits, days)
    villages = {
        g.id: g
        for g in db.session.scalars(sa.select(Grid).where(Grid.id.in_(list(per_village) or [-1])))
    }
    groups = _group_coverage(grid, per_village, villages)
    missed = []
    if len(days) == 1:
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
    patrollers = services.patrols_on(grid, days[0]) if len(days) == 1 else []
    return render_template(
        "patrol/coverage.html",
        grid=grid,
        days=days,
        groups=groups,
        villages=villages,
        missed=missed,
        patrollers=patrollers,
        month=month,
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


# --- photos -----------------------------------------------------------------------------------


@bp.route("/photos/<int:photo_id>/<any(display, thumb, original):variant>")
@login_required
def photo(photo_id, variant):
    """A photo, to those who may see its grid. Originals are kept exactly as received."""
    from patrol.access import photo_or_abort

    item = photo_or_abort(photo_id)
    key = {"display": item.display_key, "thumb": item.thumb_key, "original": item.original_key}[
        variant
    ]
    try:
        data = services.photo_store().get(key)
    except KeyError:
        abort(404)
    mimetype = item.content_type if variant == "original" else "image/jpeg"
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    if variant == "original":
        response.headers["Content-Disposition"] = f'attachment; filename="photo-{item.id}"'
    return response


# --- the sync API -----------------------------------------------------------------------------


@sync_bp.route("/token")
@login_required
def token():
    """A fresh form token for a sync run (a queue replayed hours later has a stale one)."""
    response = jsonify(csrf_token=generate_csrf(), user_id=current_user.id)
    response.headers["Cache-Control"] = "no-store"
    return response


def _sent() -> services.clock.Stamp:
    try:
        return services.stamp_of(
            request.get_json(silent=True)["sent"]
            if request.is_json
            else json.loads(request.form.get("sent", ""))
        )
    except (TypeError, KeyError, ValueError) as exc:
        raise SyncRefused("malformed", _("The upload has no valid time stamps."), 400) from exc


@sync_bp.route("/items", methods=["POST"])
@login_required
def items():
    """Record queued items in order; each is answered on its own (2xx kept, 4xx refused)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return jsonify(error="malformed", message=_('Send {"sent": ..., "items": [...]}.')), 400
    if len(body["items"]) > 200:
        return jsonify(error="too_many", message=_("Send at most 200 items at a time.")), 413
    try:
        upload = Upload(_user(), _sent(), utcnow())
    except SyncRefused as exc:
        return jsonify(error=exc.code, message=str(exc)), exc.status
    results = services.apply_batch(upload, body["items"])
    db.session.commit()
    return jsonify(results=results)


def _floats(*names):
    values = []
    for name in names:
        raw = request.form.get(name)
        values.append(None if raw in (None, "", "null") else float(raw))
    return values


@sync_bp.route("/photos", methods=["POST"])
@login_required
def photos():
    """One photo for a visit or problem already sent; idempotent by its client id."""
    form = request.form
    file = request.files.get("file")
    try:
        if file is None:
            raise SyncRefused("missing_file", _("No photo in the upload."), 400)
        lon, lat, accuracy = _floats("lon", "lat", "accuracy")
        exif_lat, exif_lon = _floats("exif_lat", "exif_lon")
        taken = form.get("exif_taken_at") or None
        upload = services.PhotoUpload(
            client_id=form.get("client_id", ""),
            parent_kind=form.get("parent_kind", ""),
            parent_client_id=form.get("parent_client_id", ""),
            stamp=services.stamp_of(json.loads(form.get("stamp", "{}"))),
            fix=(lon, lat, accuracy) if lon is not None and lat is not None else None,
            reported_gps=(exif_lat, exif_lon)
            if exif_lat is not None and exif_lon is not None
            else None,
            reported_taken_at=datetime.fromisoformat(taken) if taken else None,
            reported_sha256=(form.get("sha256") or "").lower() or None,
        )
        if not services._is_uuid(upload.client_id):
            raise SyncRefused("malformed", _("The photo has no valid client id."), 400)
        data = file.read(current_app.config.get("PHOTO_MAX_BYTES", 20 * 1024 * 1024) + 1)
        status, response = services.ingest_photo(
            Upload(_user(), _sent(), utcnow()), upload, data, services.photo_store()
        )
    except (ValueError, TypeError):
        db.session.rollback()
        return jsonify(error="malformed", message=_("The photo's details are not valid.")), 400
    except SyncRefused as exc:
        db.session.rollback()
        return jsonify(error=exc.code, message=str(exc)), exc.status
    db.session.commit()
    return jsonify(response), status


@bp.app_template_global()
def photo_url(photo_id: int, variant: str = "thumb") -> str:
    return url_for("patrol.photo", photo_id=photo_id, variant=variant)


@bp.app_context_processor
def _vocabularies():
    return {
        "SOURCE_KINDS": catalog.SOURCE_KINDS,
        "SOURCE_STATUSES": catalog.SOURCE_STATUSES,
        "VISIT_OUTCOMES": catalog.VISIT_OUTCOMES,
        "KEY_KIND": GridKind.KEY,
    }
