"""Upper-level findings (issue 4; scoring item 4, RULES §5): the prefecture records what an
upper-level inspection, supervision, complaint or the media found, the app proposes the grid's
reports that could be the same problem (patrol/findings.py), and staff confirm "already
reported" or "missed by the grid". The missed count per county and month is item 4's n4 and the
numerator of the share-of-problems rule.

The blueprint comes first, then (below the line) the services it calls, which the monthly
assessment calls too: `missed_counts`, `prefecture_missed_total`.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime

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

from extensions import db
from grid import services as grid_services
from grid.access import Action, Scope, current_scope, grid_or_abort
from grid.actions import perform
from grid.fields import read_degrees, read_required_day
from grid.models import Grid, Role, User, utcnow
from grid.services import ServiceError, local_today, local_zone
from patrol import catalog, findings
from patrol.findings import ALREADY_REPORTED, MISSED, PENDING
from patrol.models import Problem, UpperFinding, finding_match
from patrol.services import point

bp = Blueprint("findings", __name__, url_prefix="/findings")

PAGE_SIZE = 50


def _user() -> User:
    return db.session.get(User, current_user.id)


def is_prefecture_staff(scope: Scope) -> bool:
    """Office staff and heads of the level-1 grid record and decide findings. Administrators
    manage people and posts, not findings."""
    return scope.everything and any(
        p.grid_level == 1 and p.role in (Role.OFFICE, Role.HEAD) for p in scope.posts
    )


def _staff_or_403() -> None:
    if not is_prefecture_staff(current_scope()):
        abort(403)


def _finding_or_404(finding_id: int) -> UpperFinding:
    return db.session.get(UpperFinding, finding_id) or abort(404)


def _view(finding: UpperFinding) -> Grid:
    """The finding's county, if the user sees it (a county sees its own findings)."""
    return grid_or_abort(finding.county_id, Action.VIEW)


def _counties() -> list[Grid]:
    """The level-2 grids (counties, cities and parks), in the usual order."""
    return list(
        db.session.scalars(
            sa.select(Grid).where(Grid.level == 2).order_by(Grid.kind, Grid.code, Grid.id)
        )
    )


def _fields(form) -> "FindingFields":
    """The finding as typed; ServiceError when a date or a number cannot be read."""
    kind = form.get("kind") or ""
    return FindingFields(
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


@bp.route("/")
@login_required
def index():
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
    page = max(request.args.get("page", 1, type=int), 1)
    query = sa.select(UpperFinding)
    if chosen is not None:
        query = query.where(UpperFinding.county_id == chosen.id)
    elif not scope.everything:
        query = query.where(UpperFinding.county_id.in_([c.id for c in counties]))
    if month is not None:
        first, after = _month_bounds(*month)
        query = query.where(UpperFinding.found_on >= first, UpperFinding.found_on < after)
    if decision in findings.DECISIONS:
        query = query.where(UpperFinding.decision == decision)
    rows = db.session.scalars(
        query.order_by(UpperFinding.found_on.desc(), UpperFinding.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    ).all()
    shares = None
    if month is not None:
        counts = missed_counts(*month)
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
        "findings/index.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page=page,
        counties=counties,
        county_names={c.id: c.name for c in counties},
        chosen=chosen,
        month=month_text,
        decision=decision,
        filters=filters,
        shares=shares,
        can_record=is_prefecture_staff(scope),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Record a finding of an upper-level inspection, supervision, complaint or the media."""
    _staff_or_403()
    counties = _counties()
    if request.method == "POST":
        form = request.form
        try:
            finding = record_finding(_fields(form), by=_user())
        except ServiceError as exc:
            db.session.rollback()
            return render_template(
                "findings/new.html",
                counties=counties,
                form=form,
                error=str(exc),
                today=local_today(),
            ), 400
        db.session.commit()
        flash(_("The finding is recorded."), "success")
        return redirect(url_for("findings.show", finding_id=finding.id)), 303
    form = {"found_on": local_today().isoformat(), "county": request.args.get("county", "")}
    return render_template(
        "findings/new.html", counties=counties, form=form, error=None, today=local_today()
    )


@bp.route("/<int:finding_id>")
@login_required
def show(finding_id):
    """A finding, the grid reports that could be the same problem, and the decision."""
    finding = _finding_or_404(finding_id)
    county = _view(finding)
    scope = current_scope()
    candidates = candidates_for(finding)
    linked = linked_problems(finding)
    villages = _names(Grid, {p.grid_id for _c, p in candidates} | {p.grid_id for p in linked})
    people = _names(User, {finding.recorded_by_id, finding.decided_by_id})
    distance_m, days = match_settings()
    return render_template(
        "findings/show.html",
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


@bp.route("/<int:finding_id>/decide", methods=["POST"], endpoint="decide")
@login_required
def decide_finding(finding_id):
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
        lambda: decide(finding, choice, _problem_ids(form), by=_user()),
        done,
        url_for("findings.show", finding_id=finding.id),
    )


def _names(model, ids) -> dict[int, str]:
    """Names of users or grids by id, in one query."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(model.id, model.name).where(model.id.in_(ids))).all())


# --- services: record, match, decide, count -----------------------------------------------------
# They flush; the request (or the caller) commits once.


@dataclass(frozen=True)
class FindingFields:
    county_id: int | None  # a level-2 grid
    found_on: date
    kind: str
    media_level: str | None
    category: str
    lon: float | None
    lat: float | None
    place: str | None
    description: str


def match_settings() -> tuple[float, int]:
    """(distance in metres, days before) from FINDING_MATCH_DISTANCE_M and FINDING_MATCH_DAYS."""
    config = current_app.config
    return (
        float(config["FINDING_MATCH_DISTANCE_M"]),
        int(config["FINDING_MATCH_DAYS"]),
    )


def _check(fields: FindingFields) -> Grid:
    """The finding's county if every field is acceptable; ServiceError on the first that is not."""
    county = db.session.get(Grid, fields.county_id) if fields.county_id is not None else None
    if county is None or county.level != 2:
        raise ServiceError(_l("Choose the county, city or park where it was found."))
    if fields.kind not in findings.KINDS:
        raise ServiceError(_l("Choose who found it: inspection, supervision, complaint or media."))
    if fields.kind == "media" and fields.media_level not in findings.MEDIA_LEVELS:
        raise ServiceError(
            _l("A media exposure needs its level: national, autonomous region or prefecture.")
        )
    if fields.kind != "media" and fields.media_level is not None:
        raise ServiceError(_l("Only a media exposure has a media level."))
    if fields.category not in catalog.CATEGORY_CODES:
        raise ServiceError(_l("Choose the category of the problem."))
    if fields.found_on > local_today():
        raise ServiceError(_l("The day it was found cannot be in the future."))
    if (fields.lon is None) != (fields.lat is None):
        raise ServiceError(_l("Give both latitude and longitude, or neither."))
    if fields.lon is not None and fields.lat is not None:
        if not (-180 <= fields.lon <= 180 and -90 <= fields.lat <= 90):
            raise ServiceError(
                _l("Latitude and longitude are decimal degrees (WGS-84), such as 44.0123.")
            )
        # A point in another county is most often swapped or mistyped coordinates.
        mapped = db.session.scalar(sa.select(Grid.geom.is_not(None)).where(Grid.id == county.id))
        if mapped:
            found = grid_services.locate(fields.lon, fields.lat, level=2)
            if found is None or found.id != county.id:
                raise ServiceError(
                    _l(
                        "The location is not in %(county)s; check the coordinates (WGS-84).",
                        county=county.name,
                    )
                )
    if not fields.description:
        raise ServiceError(_l("Describe the problem found."))
    if len(fields.description) > 2000 or len(fields.place or "") > 200:
        raise ServiceError(_l("The description or the place is too long."))
    return county


def record_finding(fields: FindingFields, by: User) -> UpperFinding:
    """Record a finding, pending a decision; nothing is written when a field is refused."""
    county = _check(fields)
    finding = UpperFinding(
        county_id=county.id,
        found_on=fields.found_on,
        kind=fields.kind,
        media_level=fields.media_level,
        category=fields.category,
        location=point(fields.lon, fields.lat) if fields.lon is not None else None,
        place=fields.place,
        description=fields.description,
        recorded_by_id=by.id,
        decision=PENDING,
    )
    db.session.add(finding)
    db.session.flush()
    return finding


def candidates_for(finding: UpperFinding) -> list[tuple[findings.Candidate, Problem]]:
    """The county's reports of the finding's category in the window (one indexed query), then
    the pure matching on distance and local day."""
    distance_m, days = match_settings()
    zone = local_zone()
    start, end = findings.window_utc(finding.found_on, days, zone)
    rows = db.session.execute(
        sa.select(
            Problem.id,
            Problem.category,
            sa.func.ST_X(Problem.location),
            sa.func.ST_Y(Problem.location),
            Problem.found_at,
        ).where(
            Problem.county_id == finding.county_id,
            Problem.category == finding.category,
            Problem.found_at >= start,
            Problem.found_at < end,
        )
    ).all()
    facts = [findings.ProblemFacts(*row) for row in rows]
    here = to_shape(finding.location) if finding.location is not None else None
    matched = findings.candidates(
        findings.FindingFacts(
            finding.category,
            here.x if here else None,
            here.y if here else None,
            finding.found_on,
            zone,
        ),
        facts,
        distance_m,
        days,
    )
    if not matched:
        return []
    problems = {
        p.id: p
        for p in db.session.scalars(
            sa.select(Problem).where(Problem.id.in_([c.problem_id for c in matched]))
        )
    }
    return [(c, problems[c.problem_id]) for c in matched]


def linked_problems(finding: UpperFinding) -> list[Problem]:
    """The reports confirmed as the finding's problem."""
    return list(
        db.session.scalars(
            sa.select(Problem)
            .join(finding_match, finding_match.c.problem_id == Problem.id)
            .where(finding_match.c.finding_id == finding.id)
            .order_by(Problem.found_at, Problem.id)
        )
    )


def decide(finding: UpperFinding, decision: str, problem_ids: list[int], by: User) -> None:
    """Already reported (linking at least one report of the finding's county) or missed by the
    grid (linking none). A decision is taken once: of two people deciding at the same time,
    exactly one succeeds."""
    if decision not in (ALREADY_REPORTED, MISSED):
        raise ServiceError(_l("Choose already reported or missed by the grid."))
    if finding.decision != PENDING:
        raise ServiceError(_l("This finding is already decided; a decision is not changed."))
    ids = sorted(set(problem_ids))
    if decision == MISSED and ids:
        raise ServiceError(
            _l("A missed problem links no report: untick them, or choose already reported.")
        )
    if decision == ALREADY_REPORTED:
        if not ids:
            raise ServiceError(_l("Tick the grid's report of this problem, or give its number."))
        known = set(
            db.session.scalars(
                sa.select(Problem.id).where(
                    Problem.id.in_(ids), Problem.county_id == finding.county_id
                )
            )
        )
        strangers = [str(i) for i in ids if i not in known]
        if strangers:
            raise ServiceError(
                _l("No report %(ids)s in this finding's county.", ids=", ".join(strangers))
            )
    taken = db.session.execute(
        sa.update(UpperFinding)
        .where(UpperFinding.id == finding.id, UpperFinding.decision == PENDING)
        .values(decision=decision, decided_by_id=by.id, decided_at=utcnow())
    )
    if taken.rowcount != 1:
        raise ServiceError(_l("This finding is already decided; a decision is not changed."))
    if ids:
        db.session.execute(
            finding_match.insert(), [{"finding_id": finding.id, "problem_id": i} for i in ids]
        )
    db.session.flush()


def _month_bounds(year: int, month: int) -> tuple[date, date]:
    """The first day of the month and of the next."""
    return date(year, month, 1), date(year + month // 12, month % 12 + 1, 1)


def missed_counts(year: int, month: int) -> dict[int, int]:
    """Findings decided "missed by the grid", per county, by the month they were found in
    (scoring item 4's n4; RULES §5). Counties without one are absent."""
    first, after = _month_bounds(year, month)
    rows = db.session.execute(
        sa.select(UpperFinding.county_id, sa.func.count(UpperFinding.id))
        .where(
            UpperFinding.decision == MISSED,
            UpperFinding.found_on >= first,
            UpperFinding.found_on < after,
        )
        .group_by(UpperFinding.county_id)
    ).all()
    return {county_id: n for county_id, n in rows}


def prefecture_missed_total(year: int, month: int) -> int:
    """The prefecture's missed findings in a month: the denominator of the share-of-problems
    rule (RULES §5; a share is 0 when this is 0)."""
    first, after = _month_bounds(year, month)
    return db.session.scalar(
        sa.select(sa.func.count(UpperFinding.id)).where(
            UpperFinding.decision == MISSED,
            UpperFinding.found_on >= first,
            UpperFinding.found_on < after,
        )
    )
