"""Problems on their way up the grid: acting on one, inboxes, the offices' list and entry, the
public complaint form, notifications."""

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from extensions import db, limiter
from grid import services as grid_services
from grid.access import current_scope
from grid.actions import perform
from grid.fields import read_day
from grid.models import Grid, GridKind, User, subtree_clause, utcnow
from grid.services import ServiceError
from notify import services as notify_services
from patrol import catalog, problems
from patrol.access import problem_or_abort
from patrol.models import Problem
from patrol.services import photo_store

bp = Blueprint("problems", __name__)

MAX_PHOTOS = 5


def _user() -> User:
    return db.session.get(User, current_user.id)


def _photos(field: str = "photos") -> list[bytes]:
    files = [f for f in request.files.getlist(field) if f and f.filename]
    if len(files) > MAX_PHOTOS:
        raise ServiceError(_("Send at most %(n)s photos.", n=MAX_PHOTOS))
    limit = current_app.config.get("PHOTO_MAX_BYTES", 20 * 1024 * 1024)
    return [f.read(limit + 1) for f in files]


@bp.route("/problems/<int:problem_id>/act", methods=["POST"])
@login_required
def act(problem_id):
    """Fire one step of the workflow (approve, assign, re-check, ...) on a problem."""
    problem = problem_or_abort(problem_id)
    form = request.form

    def step():
        try:
            version = int(form.get("version", ""))
        except ValueError as exc:
            raise ServiceError(_("The page is out of date. Reload it.")) from exc
        problems.act(
            problem,
            _user(),
            problems.Act(
                event=form.get("event", ""),
                version=version,
                comment=form.get("comment", ""),
                assignee_login=form.get("assignee_login", ""),
                assignee_department=form.get("assignee_department", ""),
                lead_department=form.get("lead_department", ""),
                due_date=read_day(form.get("due_date")),
                photos=_photos(),
            ),
            photo_store(),
        )

    return perform(step, _("Done."), url_for("patrol.problem", problem_id=problem.id))


@bp.route("/problems/inbox")
@login_required
def inbox():
    """What waits for me, the most pressing first (a fragment for htmx, or the page)."""
    items = problems.inbox(current_user.id)
    villages = {
        g.id: g
        for g in db.session.scalars(
            sa.select(Grid).where(Grid.id.in_({p.grid_id for p in items} or {-1}))
        )
    }
    template = (
        "problems/_inbox.html" if "HTTP_HX_REQUEST" in request.environ else "problems/inbox.html"
    )
    response = current_app.make_response(
        render_template(template, items=items, villages=villages, now=utcnow())
    )
    response.vary.add("HX-Request")
    return response


@bp.route("/problems/")
@login_required
def index():
    """Problems in my area, by state; overdue ones marked."""
    scope = current_scope()
    query = sa.select(Problem).join(Grid, Grid.id == Problem.grid_id).where(scope.grid_clause())
    state = request.args.get("state")
    if state in problems.OPEN or state in ("resolved", "closed", "dismissed"):
        query = query.where(Problem.state == state)
    elif state == "open":
        query = query.where(Problem.state.in_(problems.OPEN))
    if request.args.get("overdue") == "1":
        query = query.where(Problem.deadline_at < utcnow(), Problem.state.in_(problems.OPEN))
    grid_id = request.args.get("grid", type=int)
    if grid_id:
        grid = db.session.get(Grid, grid_id)
        if grid is None or not scope.sees(grid.path):
            abort(403)
        query = query.where(subtree_clause(grid.path))
    page = max(request.args.get("page", 1, type=int), 1)
    rows = list(
        db.session.scalars(
            query.order_by(Problem.found_at.desc(), Problem.id.desc())
            .offset((page - 1) * 50)
            .limit(51)
        )
    )
    villages = {
        g.id: g
        for g in db.session.scalars(
            sa.select(Grid).where(Grid.id.in_({p.grid_id for p in rows} or {-1}))
        )
    }
    return render_template(
        "problems/index.html",
        items=rows[:50],
        more=len(rows) > 50,
        page=page,
        state=state,
        villages=villages,
        now=utcnow(),
        open_states=problems.OPEN,
    )


@bp.route("/problems/new", methods=["GET", "POST"])
@login_required
def new():
    """An office enters a problem learned of otherwise (a call, a visit, a letter)."""
    scope = current_scope()
    offices = [p for p in scope.posts if p.role in ("office", "head") and p.grid_level <= 2]
    if not offices:
        abort(403)
    if request.method == "POST":
        form = request.form
        try:
            lat = float(form["lat"]) if form.get("lat") else None
            lon = float(form["lon"]) if form.get("lon") else None
        except ValueError:
            lat = lon = None
            flash(
                _("Latitude and longitude are decimal degrees (WGS-84), such as 44.0123."), "error"
            )
            return render_template(
                "problems/new.html", form=form, categories=catalog.CATEGORIES
            ), 400
        village = grid_services.locate(lon, lat, 4) if lon is not None and lat is not None else None
        if village is None or not scope.sees(village.path):
            flash(_("Give a place inside your area (latitude and longitude)."), "error")
            return render_template(
                "problems/new.html", form=form, categories=catalog.CATEGORIES
            ), 400
        try:
            problem = problems.enter_by_office(
                _user(),
                village,
                form.get("category", ""),
                form.get("severity", ""),
                form.get("description", ""),
                lon,
                lat,
                _photos(),
                photo_store(),
            )
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return render_template(
                "problems/new.html", form=form, categories=catalog.CATEGORIES
            ), 400
        db.session.commit()
        flash(_("The problem is recorded."), "success")
        return redirect(url_for("patrol.problem", problem_id=problem.id)), 303
    return render_template("problems/new.html", form={}, categories=catalog.CATEGORIES)


# --- the public complaint form (FixMyStreet-like routing by location) ---------------------------


@bp.route("/complaint", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["COMPLAINT_LIMIT"], methods=["POST"])
def complaint():
    """Anyone may report a problem: its place decides which village grid receives it."""
    if request.method == "POST":
        form = request.form
        try:
            lat, lon = float(form.get("lat", "")), float(form.get("lon", ""))
        except ValueError:
            flash(
                _("Mark the place on the map, use your location, or give latitude and longitude."),
                "error",
            )
            return render_template(
                "public/complaint.html", form=form, categories=catalog.CATEGORIES
            ), 400
        try:
            problem = problems.submit_complaint(
                problems.Complaint(
                    lon=lon,
                    lat=lat,
                    category=form.get("category", ""),
                    description=form.get("description", ""),
                    name=form.get("name", ""),
                    contact=form.get("contact", ""),
                    photos=_photos(),
                ),
                photo_store(),
            )
        except ServiceError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return render_template(
                "public/complaint.html", form=form, categories=catalog.CATEGORIES
            ), 400
        db.session.commit()
        village = db.session.get(Grid, problem.grid_id)
        return render_template("public/complaint_done.html", problem=problem, village=village)
    return render_template("public/complaint.html", form={}, categories=catalog.CATEGORIES)


# --- notifications ------------------------------------------------------------------------------


@bp.route("/notifications")
@login_required
def notifications():
    """My notifications, newest first."""
    items = notify_services.recent(current_user.id)
    return render_template(
        "notify/index.html", items=items, unread=sum(1 for n in items if n.read_at is None)
    )


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_read():
    """Mark all my notifications read."""
    return perform(
        lambda: notify_services.mark_read(current_user.id),
        _("Marked as read."),
        url_for("problems.notifications"),
    )


@bp.app_template_global()
def deadline_class(problem: Problem, now) -> str:
    if problem.deadline_at is None or problem.state not in problems.OPEN:
        return ""
    return "overdue" if problem.deadline_at < now else ""


@bp.app_template_global()
def key_kind() -> str:
    return GridKind.KEY
