"""Problems on their way up the grid: a problem's page and acting on it, inboxes, the offices'
list and entry, the public complaint form, and upper-level findings."""

import re
from datetime import datetime

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
from geoalchemy2.shape import to_shape

from evidence.services import Prepared, capture, photo_store, prepare_or_refuse, read_uploads
from extensions import db, limiter
from grid.access import Action, current_account, current_scope, grid_or_abort
from grid.errors import ServiceError
from grid.fields import read_day, read_degrees, read_required_day
from grid.forms import perform, reads_first, submit
from grid.htmx import page_or_fragment
from grid.models import Grid, User, subtree_clause
from grid.paging import page_of
from grid.queries import locate, names_of
from grid.time import local_today, utcnow
from patrol import catalog
from problems import escalation, findings, queries, services
from problems.access import is_prefecture_staff, problem_or_abort
from problems.escalation import OPEN_STATES
from problems.findings import ALREADY_REPORTED, MISSED, PENDING
from problems.models import Problem, ProblemEvent, UpperFinding
from problems.settings import match_settings, recheck_by
from sources.models import Source

bp = Blueprint("problems", __name__)

MAX_PHOTOS = 5
PAGE_SIZE = 50


def _photos(grid: Grid | None, person: str, anonymous: bool = False) -> list[Prepared]:
    """The form's photos decoded, checked and stored, before the write transaction (the views
    that call it are `reads_first`); none when there is no grid (the action refuses it)."""
    data = read_uploads(request.files.getlist("photos"), MAX_PHOTOS, anonymous)
    if not data or grid is None:
        return []
    moment = capture(grid, person, utcnow())
    return [prepare_or_refuse(one, moment, photo_store(), anonymous) for one in data]


def _photos_at(form, person: str, anonymous: bool = False) -> list[Prepared]:
    """`_photos` for a problem placed by the form's latitude and longitude (its village)."""
    try:
        lat, lon = read_degrees(form.get("lat")), read_degrees(form.get("lon"))
    except ServiceError:
        return []
    village = locate(lon, lat, 4) if lon is not None and lat is not None else None
    return _photos(village, person, anonymous)


# --- one problem -------------------------------------------------------------------------------


@bp.route("/patrol/problems/<int:problem_id>")
@login_required
def show(problem_id):
    """A problem: its facts and photos, every step so far (both ways up and down the grid),
    and the steps this person may take now."""
    item = problem_or_abort(problem_id)
    grid = db.session.get(Grid, item.grid_id)
    photos = queries.problem_photos(item.id)
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
    caps = queries.capacities(current_user.id, item)
    allowed = escalation.events_for(item.state, caps, recheck_by())
    needs = {e: escalation.RULES[(escalation.State(item.state), e)].needs for e in allowed}
    by_event: dict[int, list] = {}
    for photo, event_id in photos:
        if event_id:
            by_event.setdefault(event_id, []).append(photo)
    return render_template(
        "problems/show.html",
        problem=item,
        grid=grid,
        photos=[photo for photo, _event in photos],
        events=events,
        actors=actors,
        allowed=allowed,
        needs=needs,
        capacities=caps,
        now=utcnow(),
        source=item.source_id and db.session.get(Source, item.source_id),
        photos_by_event=by_event,
        open_states=OPEN_STATES,
    )


@bp.route("/problems/<int:problem_id>/act", methods=["POST"])
@reads_first
@login_required
def act(problem_id):
    """Fire one step of the workflow (approve, assign, re-check, ...) on a problem."""
    problem = problem_or_abort(problem_id)
    form = request.form
    grid = db.session.get(Grid, problem.grid_id)

    def step(photos):
        try:
            version = int(form.get("version", ""))
        except ValueError as exc:
            raise ServiceError(_("The page is out of date. Reload it.")) from exc
        services.act(
            problem,
            current_account(),
            services.Act(
                event=form.get("event", ""),
                version=version,
                comment=form.get("comment", ""),
                assignee_login=form.get("assignee_login", ""),
                assignee_department=form.get("assignee_department", ""),
                lead_department=form.get("lead_department", ""),
                due_date=read_day(form.get("due_date")),
                photos=photos,
            ),
            photo_store(),
        )

    return perform(
        step,
        _("Done."),
        url_for("problems.show", problem_id=problem_id),
        prepare=lambda: _photos(grid, current_user.name),
    )


# --- lists ---------------------------------------------------------------------------------------


@bp.route("/problems/inbox")
@login_required
def inbox():
    """What waits for me, the most pressing first (a fragment for htmx, or the page)."""
    items = queries.inbox(current_user.id)
    villages = {
        g.id: g
        for g in db.session.scalars(
            sa.select(Grid).where(Grid.id.in_({p.grid_id for p in items} or {-1}))
        )
    }
    return page_or_fragment(
        "problems/inbox.html", "problems/_inbox.html", items=items, villages=villages, now=utcnow()
    )


@bp.route("/problems/")
@login_required
def index():
    """Problems in my area, by state; overdue ones marked."""
    scope = current_scope()
    query = sa.select(Problem).join(Grid, Grid.id == Problem.grid_id).where(scope.grid_clause())
    state = request.args.get("state")
    if state in OPEN_STATES or state in ("resolved", "closed", "dismissed"):
        query = query.where(Problem.state == state)
    elif state == "open":
        query = query.where(Problem.state.in_(OPEN_STATES))
    if request.args.get("overdue") == "1":
        query = query.where(Problem.deadline_at < utcnow(), Problem.state.in_(OPEN_STATES))
    grid_id = request.args.get("grid", type=int)
    if grid_id:
        grid = db.session.get(Grid, grid_id)
        if grid is None or not scope.sees(grid.path):
            abort(403)
        query = query.where(subtree_clause(grid.path))
    items = page_of(query.order_by(Problem.found_at.desc(), Problem.id.desc()), PAGE_SIZE)
    villages = {
        g.id: g
        for g in db.session.scalars(
            sa.select(Grid).where(Grid.id.in_({p.grid_id for p in items.items} or {-1}))
        )
    }
    filters = {
        "state": state or None,
        "overdue": "1" if request.args.get("overdue") == "1" else None,
        "grid": grid_id or None,
    }
    return render_template(
        "problems/index.html",
        items=items,
        filters=filters,
        state=state,
        villages=villages,
        now=utcnow(),
        open_states=OPEN_STATES,
    )


# --- entered by an office, or by the public -----------------------------------------------------


@bp.route("/problems/new", methods=["GET", "POST"])
@reads_first
@login_required
def new():
    """An office enters a problem learned of otherwise (a call, a visit, a letter)."""
    scope = current_scope()
    offices = [p for p in scope.posts if p.role in ("office", "head") and p.grid_level <= 2]
    if not offices:
        abort(403)
    if request.method == "GET":
        return render_template("problems/new.html", form={}, categories=catalog.CATEGORIES)
    form = request.form

    def enter(photos):
        lat, lon = read_degrees(form.get("lat")), read_degrees(form.get("lon"))
        village = locate(lon, lat, 4) if lon is not None and lat is not None else None
        if village is None or not scope.sees(village.path):
            raise ServiceError(_("Give a place inside your area (latitude and longitude)."))
        return services.enter_by_office(
            current_account(),
            village,
            form.get("category", ""),
            form.get("severity", ""),
            form.get("description", ""),
            lon,
            lat,
            photos,
            photo_store(),
        )

    def entered(problem):
        flash(_("The problem is recorded."), "success")
        return redirect(url_for("problems.show", problem_id=problem.id)), 303

    return submit(
        enter,
        template="problems/new.html",
        context={"form": form, "categories": catalog.CATEGORIES},
        then=entered,
        prepare=lambda: _photos_at(form, current_user.name),
    )


@bp.route("/complaint", methods=["GET", "POST"])
@reads_first
@limiter.limit(lambda: current_app.config["COMPLAINT_LIMIT"], methods=["POST"])
def complaint():
    """Anyone may report a problem: its place decides which village grid receives it
    (FixMyStreet-like routing by location)."""
    if request.method == "GET":
        return render_template("problems/complaint.html", form={}, categories=catalog.CATEGORIES)
    form = request.form

    def file(photos):
        try:
            lat, lon = read_degrees(form.get("lat")), read_degrees(form.get("lon"))
        except ServiceError:
            lat = lon = None
        if lat is None or lon is None:
            raise ServiceError(
                _("Mark the place on the map, use your location, or give latitude and longitude.")
            )
        return services.submit_complaint(
            services.Complaint(
                lon=lon,
                lat=lat,
                category=form.get("category", ""),
                description=form.get("description", ""),
                name=form.get("name", ""),
                contact=form.get("contact", ""),
                photos=photos,
            ),
            photo_store(),
        )

    def filed(problem):
        village = db.session.get(Grid, problem.grid_id)
        return render_template("problems/complaint_done.html", problem=problem, village=village)

    return submit(
        file,
        template="problems/complaint.html",
        context={"form": form, "categories": catalog.CATEGORIES},
        then=filed,
        prepare=lambda: _photos_at(form, "公众", anonymous=True),
    )


# --- upper-level findings (scoring item 4, RULES §5) --------------------------------------------
# The prefecture records what an upper-level inspection, supervision, complaint or the media
# found; the app proposes the grid's reports that could be the same problem
# (problems/findings.py), and staff confirm "already reported" or "missed by the grid".


def _staff_or_403() -> None:
    if not is_prefecture_staff(current_scope()):
        abort(403)


def _finding_or_404(finding_id: int) -> UpperFinding:
    return db.session.get(UpperFinding, finding_id) or abort(404)


def _counties() -> list[Grid]:
    """The level-2 grids (counties, cities and parks), in the usual order."""
    return list(
        db.session.scalars(
            sa.select(Grid).where(Grid.level == 2).order_by(Grid.kind, Grid.code, Grid.id)
        )
    )


def _finding_fields(form) -> services.FindingFields:
    """The finding as typed; ServiceError when a date or a number cannot be read."""
    kind = form.get("kind") or ""
    return services.FindingFields(
        county_id=form.get("county", type=int),
        found_on=read_required_day(form.get("found_on")),
        kind=kind,
        media_level=(form.get("media_level") or None) if kind == "media" else None,
        category=form.get("category") or "",
        lon=read_degrees(form.get("lon")),
        lat=read_degrees(form.get("lat")),
        place=(form.get("place") or "").strip() or None,
        description=(form.get("description") or "").strip(),
    )


def _problem_ids(form) -> list[int]:
    """The ticked candidates and any report numbers typed in."""
    raw = form.getlist("problem") + re.split(r"[\s,，、]+", form.get("other_problems") or "")
    try:
        return [int(r) for r in raw if r.strip()]
    except ValueError as exc:
        raise ServiceError(_("Report numbers are whole numbers, such as 1024.")) from exc


def _month(text: str) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        first = datetime.strptime(text, "%Y-%m")
    except ValueError:
        abort(400)
    return first.year, first.month


@bp.context_processor
def _vocabularies():
    return {
        "FINDING_KINDS": findings.KINDS,
        "MEDIA_LEVELS": findings.MEDIA_LEVELS,
        "DECISIONS": findings.DECISIONS,
        "CATEGORIES": catalog.CATEGORIES,
    }


@bp.route("/findings/")
@login_required
def findings_index():
    """The findings of the counties the user sees, filtered by county, month and decision;
    for a month, each county's missed count and its share of the prefecture's."""
    scope = current_scope()
    counties = [c for c in _counties() if scope.sees(c.path)]
    if not counties:
        abort(403)  # village and township posts: findings concern counties
    county_id = request.args.get("county", type=int)
    chosen = None
    if county_id is not None:
        chosen = grid_or_abort(county_id)
        if chosen.level != 2:
            abort(404)
    month_text = (request.args.get("month") or "").strip()
    month = _month(month_text)
    decision = request.args.get("decision") or ""
    query = sa.select(UpperFinding)
    if chosen is not None:
        query = query.where(UpperFinding.county_id == chosen.id)
    elif not scope.everything:
        query = query.where(UpperFinding.county_id.in_([c.id for c in counties]))
    if month is not None:
        first, after = queries.month_bounds(*month)
        query = query.where(UpperFinding.found_on >= first, UpperFinding.found_on < after)
    if decision in findings.DECISIONS:
        query = query.where(UpperFinding.decision == decision)
    rows = page_of(query.order_by(UpperFinding.found_on.desc(), UpperFinding.id.desc()), PAGE_SIZE)
    shares = None
    if month is not None:
        counts = queries.missed_counts(*month)
        total = sum(counts.values())
        shares = {
            "total": total,
            "rows": [
                (c, counts.get(c.id, 0), counts.get(c.id, 0) / total if total else 0.0)
                for c in (counties if chosen is None else [chosen])
            ],
        }
    filters = {
        "county": county_id,
        "month": month_text or None,
        "decision": decision if decision in findings.DECISIONS else None,
    }
    return render_template(
        "problems/findings/index.html",
        rows=rows,
        counties=counties,
        county_names={c.id: c.name for c in counties},
        chosen=chosen,
        month=month_text,
        decision=decision,
        filters=filters,
        shares=shares,
        can_record=is_prefecture_staff(scope),
    )


@bp.route("/findings/new", methods=["GET", "POST"])
@login_required
def findings_new():
    """Record a finding of an upper-level inspection, supervision, complaint or the media."""
    _staff_or_403()
    counties = _counties()
    if request.method == "GET":
        form = {"found_on": local_today().isoformat(), "county": request.args.get("county", "")}
        return render_template(
            "problems/findings/new.html", counties=counties, form=form, today=local_today()
        )
    form = request.form

    def recorded(finding):
        flash(_("The finding is recorded."), "success")
        return redirect(url_for("problems.findings_show", finding_id=finding.id)), 303

    return submit(
        lambda: services.record_finding(_finding_fields(form), by=current_account()),
        template="problems/findings/new.html",
        context={"counties": counties, "form": form, "today": local_today()},
        then=recorded,
    )


@bp.route("/findings/<int:finding_id>")
@login_required
def findings_show(finding_id):
    """A finding, the grid reports that could be the same problem, and the decision."""
    finding = _finding_or_404(finding_id)
    county = grid_or_abort(finding.county_id, Action.VIEW)  # a county sees its own findings
    scope = current_scope()
    candidates = queries.candidates_for(finding)
    linked = queries.linked_problems(finding)
    villages = names_of(Grid, {p.grid_id for _c, p in candidates} | {p.grid_id for p in linked})
    people = names_of(User, {finding.recorded_by_id, finding.decided_by_id})
    distance_m, days = match_settings()
    return render_template(
        "problems/findings/show.html",
        finding=finding,
        county=county,
        position=to_shape(finding.location) if finding.location is not None else None,
        candidates=candidates,
        linked=linked,
        villages=villages,
        people=people,
        distance_m=distance_m,
        days=days,
        can_decide=finding.decision == PENDING and is_prefecture_staff(scope),
        today=local_today(),
    )


@bp.route("/findings/<int:finding_id>/decide", methods=["POST"])
@login_required
def findings_decide(finding_id):
    """Confirm that the grid had already reported the problem (linking its reports), or that
    it missed it."""
    finding = _finding_or_404(finding_id)
    _staff_or_403()
    form = request.form
    choice = form.get("decision") or ""
    done = {
        ALREADY_REPORTED: _("The finding is marked as already reported by the grid."),
        MISSED: _("The finding is marked as missed by the grid."),
    }.get(choice, "")
    return perform(
        lambda: services.decide(finding, choice, _problem_ids(form), by=current_account()),
        done,
        url_for("problems.findings_show", finding_id=finding.id),
    )


def deadline_class(problem: Problem, now) -> str:
    """The CSS class of a problem's deadline: "overdue" once it has passed."""
    if problem.deadline_at is None or problem.state not in OPEN_STATES:
        return ""
    return "overdue" if problem.deadline_at < now else ""
