"""Problems on their way up the grid: a problem's page and acting on it, inboxes, the offices'
list and entry, the public complaint form, and upper-level findings."""

import re
from datetime import UTC, date, datetime, time, timedelta

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
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from geoalchemy2.shape import to_shape

from evidence.services import Prepared, capture, photo_store, prepare_or_refuse, read_uploads
from extensions import db, limiter
from grid import inputs
from grid.access import Action, current_account, current_scope, grid_or_abort
from grid.errors import ServiceError
from grid.forms import perform, reads_first, submit
from grid.htmx import page_or_fragment
from grid.models import Grid, User, subtree_clause
from grid.paging import page_of
from grid.queries import locate, names_of
from grid.time import datetime_local, local_today, local_zone, utcnow
from patrol import catalog
from problems import escalation, findings, labels, queries, services
from problems.access import enters_problems, is_prefecture_staff, problem_or_abort
from problems.escalation import OPEN_STATES, State
from problems.findings import ALREADY_REPORTED, MISSED, PENDING
from problems.models import Problem, ProblemEvent, UpperFinding
from problems.settings import match_settings, recheck_by
from sources.models import Source

bp = Blueprint("problems", __name__)

MAX_PHOTOS = 5
PAGE_SIZE = 50
MAX_VERSION = 2**31 - 1  # a problem's version counts its steps
FIRST_FINDING = date(2015, 1, 1)  # the grid system's rules date from 2015 on
LISTED_STATES = (*OPEN_STATES, "resolved", "closed", "dismissed", "open")


def _years_ahead(years: int) -> date:
    return local_today() + timedelta(days=366 * years)


def _photos(
    grid: Grid | None,
    person: str,
    anonymous: bool = False,
    fix: tuple[float, float, float | None] | None = None,
) -> list[Prepared]:
    """The form's photos decoded, checked and stored, before the write transaction (the views
    that call it are `reads_first`); none when there is no grid (the action refuses it). `fix`
    is where the phone was when they were sent (lon, lat, accuracy); without one they are
    flagged no_location."""
    data = read_uploads(request.files.getlist("photos"), MAX_PHOTOS, anonymous)
    if not data or grid is None:
        return []
    moment = capture(grid, person, utcnow(), fix=fix)
    return [prepare_or_refuse(one, moment, photo_store(), anonymous) for one in data]


def _photos_at(form: inputs.Fields, person: str, anonymous: bool = False) -> list[Prepared]:
    """`_photos` for a problem placed by the form's latitude and longitude (its village)."""
    try:
        lat, lon = form.latitude("lat", _l("Latitude")), form.longitude("lon", _l("Longitude"))
    except inputs.Invalid:
        return []  # the action names the field
    village = locate(lon, lat, 4) if lon is not None and lat is not None else None
    return _photos(village, person, anonymous)


def _fix(form: inputs.Fields) -> tuple[float, float, float | None] | None:
    """The phone's position sent with a step's photos (static/js/locate.js): (lon, lat,
    accuracy), or None when the browser gave none (refused, or no answer in time)."""
    lat, lon = form.latitude("lat", _l("Latitude")), form.longitude("lon", _l("Longitude"))
    accuracy = form.number("accuracy", _l("Accuracy"), low=0, high=1e6)
    if lat is None or lon is None:
        return None
    return lon, lat, accuracy


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
    picking = any("assignee" in n or "lead_department" in n for n in needs.values())
    county = db.session.get(Grid, item.county_id) if picking and item.county_id else None
    by_event: dict[int, list] = {}
    for photo, event_id in photos:
        if event_id:
            by_event.setdefault(event_id, []).append(photo)
    return render_template(
        "problems/show.html",
        problem=item,
        grid=grid,
        sees_grid=current_scope().sees(grid.path),  # its assignee may hold no post there
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
        departments=queries.departments_used(item.county_id) if picking else [],
        assignable=queries.assignable_people(county, grid, local_today()) if picking else [],
    )


@bp.route("/patrol/problems/sent/<uuid:client_id>")
@login_required
def sent(client_id):
    """A problem recorded on a phone, found by the id the phone gave it: once its queue has
    sent the problem, the patrol page offers its next step (send it up) through here, not
    knowing the number the server gave it. Not (yet) here: 404; another's: 403."""
    problem_id = db.session.scalar(
        sa.select(Problem.id).where(Problem.client_id == str(client_id).lower())
    )
    if problem_id is None:
        abort(404)
    problem_or_abort(problem_id)
    return redirect(url_for(".show", problem_id=problem_id))


@bp.route("/problems/<int:problem_id>/act", methods=["POST"])
@reads_first
@login_required
def act(problem_id):
    """Fire one step of the workflow (approve, assign, re-check, ...) on a problem."""
    problem = problem_or_abort(problem_id)
    form = inputs.form()
    grid = db.session.get(Grid, problem.grid_id)

    def step(photos):
        version = form.integer("version", _l("Version"), low=0, high=MAX_VERSION)
        if version is None:
            raise ServiceError(_("The page is out of date. Reload it."))
        row = services.act(
            problem,
            current_account(),
            services.Act(
                event=form.text("event", _l("Step"), max_length=20),
                version=version,
                comment=form.text("comment", _l("Comment"), max_length=2000, multiline=True),
                assignee_login=form.text("assignee_login", _l("Assignee"), max_length=64),
                assignee_department=form.text(
                    "assignee_department", _l("Department"), max_length=100
                ),
                lead_department=form.text("lead_department", _l("Lead department"), max_length=100),
                due_date=form.day(
                    "due_date", _l("Rectify by"), earliest=local_today(), latest=_years_ahead(5)
                ),
                photos=photos,
            ),
            photo_store(),
        )
        return _done(row)  # worded now: the commit expires the row

    return perform(
        step,
        lambda message: message,
        url_for("problems.show", problem_id=problem_id),
        prepare=lambda: _photos(grid, current_user.name, fix=_fix(form)),
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
    source_ids = {p.source_id for p in items if p.source_id is not None}
    sources = dict(
        db.session.execute(
            sa.select(Source.id, Source.name).where(Source.id.in_(source_ids or {-1}))
        ).all()
    )
    return page_or_fragment(
        "problems/inbox.html",
        "problems/_inbox.html",
        items=items,
        villages=villages,
        sources=sources,
        now=utcnow(),
    )


@bp.route("/problems/")
@login_required
def index():
    """Problems in my area, by state; overdue ones marked."""
    scope = current_scope()
    query = sa.select(Problem).join(Grid, Grid.id == Problem.grid_id).where(scope.grid_clause())
    args = inputs.query()
    state = args.choice("state", _l("State"), LISTED_STATES)
    overdue = args.flag("overdue")
    grid_id = args.id("grid", _l("Grid"))
    if state in OPEN_STATES or state in ("resolved", "closed", "dismissed"):
        query = query.where(Problem.state == state)
    elif state == "open":
        query = query.where(Problem.state.in_(OPEN_STATES))
    if overdue:
        query = query.where(Problem.deadline_at < utcnow(), Problem.state.in_(OPEN_STATES))
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
        "overdue": "1" if overdue else None,
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
        can_enter=enters_problems(scope),
    )


# --- entered by an office, or by the public -----------------------------------------------------


@bp.route("/problems/new", methods=["GET", "POST"])
@reads_first
@login_required
def new():
    """An office enters a problem learned of otherwise (a call, a visit, a letter)."""
    scope = current_scope()
    if not enters_problems(scope):
        abort(403)
    if request.method == "GET":
        return render_template("problems/new.html", form={}, categories=catalog.CATEGORIES)
    form = inputs.form()

    def enter(photos):
        lat, lon = form.latitude("lat", _l("Latitude")), form.longitude("lon", _l("Longitude"))
        category = form.text("category", _l("Category"), max_length=30)
        severity = form.text("severity", _l("Severity"), max_length=10)
        description = form.text("description", _l("Description"), max_length=2000, multiline=True)
        village = locate(lon, lat, 4) if lon is not None and lat is not None else None
        if village is None or not scope.sees(village.path):
            raise ServiceError(_("Give a place inside your area (latitude and longitude)."))
        return services.enter_by_office(
            current_account(),
            village,
            category,
            severity,
            description,
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
        context={"form": request.form, "categories": catalog.CATEGORIES},
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
    form = inputs.form()

    def file(photos):
        lat, lon = form.latitude("lat", _l("Latitude")), form.longitude("lon", _l("Longitude"))
        if lat is None or lon is None:
            raise ServiceError(
                _("Mark the place on the map, use your location, or give latitude and longitude.")
            )
        return services.submit_complaint(
            services.Complaint(
                lon=lon,
                lat=lat,
                category=form.text("category", _l("Category"), max_length=30),
                description=form.text(
                    "description", _l("Description"), max_length=2000, multiline=True
                ),
                name=form.text("name", _l("Your name"), max_length=60),
                contact=form.text("contact", _l("Contact"), max_length=100),
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
        context={"form": request.form, "categories": catalog.CATEGORIES},
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


def _finding_fields(form: inputs.Fields) -> services.FindingFields:
    """The finding as typed; Invalid when a field cannot be read."""
    kind = form.text("kind", _l("Kind"), max_length=12)
    return services.FindingFields(
        county_id=form.id("county", _l("County")),
        found_on=form.day(
            "found_on", _l("Found on"), required=True, earliest=FIRST_FINDING, latest=local_today()
        ),
        kind=kind,
        media_level=(
            form.optional_text("media_level", _l("Media level"), max_length=12)
            if kind == "media"
            else None
        ),
        category=form.text("category", _l("Category"), max_length=30),
        lon=form.longitude("lon", _l("Longitude")),
        lat=form.latitude("lat", _l("Latitude")),
        place=form.optional_text("place", _l("Place"), max_length=200),
        description=form.text("description", _l("Description"), max_length=2000, multiline=True),
    )


def _problem_ids(form: inputs.Fields) -> list[int]:
    """The ticked candidates and any report numbers typed in."""
    typed = form.text("other_problems", _l("Other report numbers"), max_length=2000)
    numbers = [n for n in re.split(r"[\s,，、]+", typed) if n]
    label = _l("Other report numbers")
    others = inputs.Fields({"other_problems": numbers}).ids("other_problems", label)
    return form.ids("problem", _l("Reports")) + [n for n in others if n]


@bp.route("/findings/")
@login_required
def findings_index():
    """The findings of the counties the user sees, filtered by county, month and decision;
    for a month, each county's missed count and its share of the prefecture's."""
    scope = current_scope()
    counties = [c for c in _counties() if scope.sees(c.path)]
    if not counties:
        abort(403)  # village and township posts: findings concern counties
    args = inputs.query()
    county_id = args.id("county", _l("County"))
    month = args.month("month", _l("Month"))
    decision = args.choice("decision", _l("Decision"), findings.DECISIONS, default="")
    chosen = None
    if county_id is not None:
        chosen = grid_or_abort(county_id)
        if chosen.level != 2:
            abort(404)
    month_text = month.strftime("%Y-%m") if month else ""
    query = sa.select(UpperFinding)
    if chosen is not None:
        query = query.where(UpperFinding.county_id == chosen.id)
    elif not scope.everything:
        query = query.where(UpperFinding.county_id.in_([c.id for c in counties]))
    if month is not None:
        first, after = queries.month_bounds(month.year, month.month)
        query = query.where(UpperFinding.found_on >= first, UpperFinding.found_on < after)
    if decision in findings.DECISIONS:
        query = query.where(UpperFinding.decision == decision)
    rows = page_of(query.order_by(UpperFinding.found_on.desc(), UpperFinding.id.desc()), PAGE_SIZE)
    shares = None
    if month is not None:
        counts = queries.missed_counts(month.year, month.month)
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
        "decision": decision or None,
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
        county_id = inputs.query().id("county", _l("County"))
        form = {"found_on": local_today().isoformat(), "county": str(county_id or "")}
        return render_template(
            "problems/findings/new.html", counties=counties, form=form, today=local_today()
        )
    form = inputs.form()

    def recorded(finding):
        flash(_("The finding is recorded."), "success")
        return redirect(url_for("problems.findings_show", finding_id=finding.id)), 303

    return submit(
        lambda: services.record_finding(_finding_fields(form), by=current_account()),
        template="problems/findings/new.html",
        context={"counties": counties, "form": request.form, "today": local_today()},
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
    form = inputs.form()
    choice = form.choice("decision", _l("Decision"), (ALREADY_REPORTED, MISSED), default="")
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


def day_included(day: date | str) -> str:
    """A last day on which the work may still be done: "2026-12-07 (that day included)"."""
    return _("%(day)s (that day included)", day=str(day))


def due_text(deadline: datetime | None) -> str:
    """A deadline as people read it. One at local midnight is the end of the day before (a
    rectification's, set as a day: escalation._deadline), so it is shown as that day,
    included, the way the day was set; any other as its local date and time."""
    if deadline is None:
        return ""
    moment = deadline.replace(tzinfo=UTC).astimezone(local_zone())
    if moment.time() == time.min:
        return day_included(moment.date() - timedelta(days=1))
    return datetime_local(deadline)


def deadline_text(problem: Problem) -> str:
    """The deadline line of a problem in a list or on its page: the rectification's while it is
    being rectified (the same words as its assignment), the step's otherwise."""
    when = due_text(problem.deadline_at)
    if problem.state == State.RECTIFYING:
        return _("Rectify by: %(when)s", when=when)
    return _("Due by: %(when)s", when=when)


def _done(row: ProblemEvent) -> str:
    """The message after a step: what was done and what happens next."""
    data = row.data or {}
    return _(
        labels.DONE[row.event],
        assignee=data.get("assignee") or "",
        department=data.get("lead_department") or "",
        when=day_included(data["due_date"]) if data.get("due_date") else "",
    )
