"""The typical cases' pages: the office's list, a new case (from a closed problem, or typed in),
one case with its replacements and its steps, and their posts; and the public's list and case,
without signing in, which show the public text only (never the original)."""

import sqlalchemy as sa
from flask import abort, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from alerts.access import is_prefecture_office
from enforce.access import office_or_abort, prefecture_or_abort
from enforce.cases import anonymise, queries, services
from enforce.cases.models import CaseState, CaseStep, TypicalCase
from enforce.views import bp
from extensions import db
from grid import inputs
from grid.access import current_account
from grid.forms import perform, submit
from grid.models import User
from grid.paging import paginate
from problems.models import Problem

_TITLE = _l("Title")
_TEXT = _l("Case text")
_COMMENT = _l("Comment")
_DECISION = _l("Decision")
DECISIONS = ("pass", "return")
KIND_LABELS = {
    anonymise.PERSON: _l("person"),
    anonymise.COMPANY: _l("company or unit"),
    anonymise.ID_CARD: _l("ID-card number"),
    anonymise.MOBILE: _l("mobile number"),
    anonymise.LANDLINE: _l("landline number"),
    anonymise.PLATE: _l("licence plate"),
    anonymise.ADDRESS: _l("address"),
    anonymise.EXTRA: _l("added by the editor"),
}
STEP_LABELS = {
    CaseStep.PREPARED: _l("prepared"),
    CaseStep.EDITED: _l("edited"),
    CaseStep.SUBMITTED: _l("submitted for review"),
    CaseStep.REVIEWED: _l("reviewed"),
    CaseStep.APPROVED: _l("approved and published"),
    CaseStep.RETURNED: _l("returned to the draft"),
}
STATE_LABELS = {
    CaseState.DRAFT: _l("Draft"),
    CaseState.SUBMITTED: _l("Waiting for review"),
    CaseState.REVIEWED: _l("Waiting for approval"),
    CaseState.PUBLISHED: _l("Published"),
}


def _case_or_abort(case_id: int) -> TypicalCase:
    scope = office_or_abort()
    case = db.session.get(TypicalCase, case_id)
    if case is None:
        abort(404)
    if not queries.may_act(scope, case.county_id):
        abort(403)
    return case


def _show_context(case: TypicalCase, form=None) -> dict:
    scope = office_or_abort()
    steps = list(services.steps(case))
    ids = {s.actor_id for s in steps if s.actor_id}
    people = {u.id: u.name for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}
    return {
        "case": case,
        "steps": steps,
        "people": people,
        "step_labels": STEP_LABELS,
        "form": form or {"title": case.original_title, "original": case.original},
        "kinds": KIND_LABELS,
        "states": STATE_LABELS,
        "length_refusal": services.length_refusal(case),
        "minimum": anonymise.LENGTH_MIN,
        "maximum": anonymise.LENGTH_MAX,
        "may_approve": is_prefecture_office(scope),
        "distinct": _distinct(case.replacements),
    }


def _distinct(replacements: list) -> list:
    """One row per original (undoing one undoes it everywhere), with how often it occurs."""
    rows: dict = {}
    for r in replacements:
        row = rows.setdefault(r["original"], {**r, "times": 0})
        row["times"] += 1
    return list(rows.values())


@bp.route("/cases/")
@login_required
def cases():
    """The office's typical cases, the newest first."""
    scope = office_or_abort()
    page = paginate(queries.cases_statement(scope), per_page=30)
    return render_template("enforce/cases/index.html", page=page, states=STATE_LABELS)


def _new_context(problem: Problem | None, form: dict) -> dict:
    scope = office_or_abort()
    return {
        "problem": problem,
        "form": form,
        "problems": queries.closed_problems(scope),
        "counties": queries.counties(scope),
        "prefecture": is_prefecture_office(scope),
        "minimum": anonymise.LENGTH_MIN,
        "maximum": anonymise.LENGTH_MAX,
    }


def _problem_or_abort(problem_id: int | None) -> Problem | None:
    if problem_id is None:
        return None
    problem = db.session.get(Problem, problem_id)
    if problem is None:
        abort(404)
    return problem


@bp.route("/cases/new")
@login_required
def case_new():
    """A new case: from a closed problem (?problem=), or typed in."""
    office_or_abort()
    problem = _problem_or_abort(inputs.query().id("problem", _l("Problem")))
    form = {}
    if problem is not None:
        _problem_allowed(problem)
        form = {"original": services.problem_text(problem), "problem": problem.id}
    return render_template("enforce/cases/new.html", **_new_context(problem, form))


def _problem_allowed(problem: Problem) -> None:
    scope = office_or_abort()
    if not queries.may_act(scope, problem.county_id):
        abort(403)


@bp.route("/cases/new", methods=["POST"])
@login_required
def case_create():
    """The office prepares a draft; its public text is made at once."""
    scope = office_or_abort()
    form = inputs.form()
    problem = _problem_or_abort(form.id("problem", _l("Problem")))
    if problem is not None:
        _problem_allowed(problem)
    typed = {
        "title": form.source.get("title", ""),
        "original": form.source.get("original", ""),
        "problem": problem.id if problem else None,
        "county": form.source.get("county", ""),
    }

    def act():
        county_id = None
        if problem is None:
            county_id = form.id("county", _l("County"))
            if county_id is None and not is_prefecture_office(scope):
                raise form.refuse("county", _l("Choose the county of the case."))
            allowed = {c.id for c in queries.counties(scope)}
            if county_id is not None and county_id not in allowed:
                raise form.refuse("county", _l("County: not one of yours."))
        title = form.text("title", _TITLE, required=True, max_length=services.TITLE_MAX)
        original = form.text(
            "original", _TEXT, required=True, max_length=services.ORIGINAL_MAX, multiline=True
        )
        return services.prepare(county_id, problem, title, original, by=current_account())

    return submit(
        act,
        template="enforce/cases/new.html",
        context=_new_context(problem, typed),
        then=lambda case: redirect(url_for("enforce.case", case_id=case.id), 303),
    )


@bp.route("/cases/<int:case_id>")
@login_required
def case(case_id):
    """One case: the original and the public text side by side, each replacement, the steps."""
    item = _case_or_abort(case_id)
    return render_template("enforce/cases/show.html", **_show_context(item))


def _back(item: TypicalCase) -> str:
    return url_for("enforce.case", case_id=item.id)


@bp.route("/cases/<int:case_id>/edit", methods=["POST"])
@login_required
def case_edit(case_id):
    """The draft's title and text, rewritten; the public text is made again."""
    item = _case_or_abort(case_id)
    form = inputs.form()
    typed = {"title": form.source.get("title", ""), "original": form.source.get("original", "")}

    def act():
        title = form.text("title", _TITLE, required=True, max_length=services.TITLE_MAX)
        original = form.text(
            "original", _TEXT, required=True, max_length=services.ORIGINAL_MAX, multiline=True
        )
        return services.edit(item, title, original, by=current_account())

    def shown(_done):
        return redirect(_back(item), 303)

    context = _show_context(item, typed)
    return submit(act, template="enforce/cases/show.html", context=context, then=shown)


@bp.route("/cases/<int:case_id>/phrases", methods=["POST"])
@login_required
def case_phrase(case_id):
    """A word or phrase the editor adds, with its replacement."""
    item = _case_or_abort(case_id)
    form = inputs.form()

    def act():
        phrase = form.text("phrase", _l("Word or phrase"), required=True, max_length=100)
        replacement = form.text("replacement", _l("Replaced by"), required=True, max_length=100)
        services.add_phrase(item, phrase, replacement, by=current_account())

    return perform(act, _("Added to the replacements."), _back(item))


@bp.route("/cases/<int:case_id>/keep", methods=["POST"])
@login_required
def case_keep(case_id):
    """Undo a replacement (keep the word as written), or replace it again."""
    item = _case_or_abort(case_id)
    form = inputs.form()

    def act():
        original = form.text("phrase", _l("Word or phrase"), required=True, max_length=200)
        what = form.choice("do", _l("Replacement"), ("keep", "replace"), required=True)
        services.keep(item, original, what == "keep", by=current_account())

    return perform(act, _("Saved."), _back(item))


@bp.route("/cases/<int:case_id>/submit", methods=["POST"])
@login_required
def case_submit(case_id):
    """The draft goes to review."""
    item = _case_or_abort(case_id)
    form = inputs.form()

    def act():
        comment = form.optional_text("comment", _COMMENT, max_length=2000, multiline=True)
        services.submit(item, comment, by=current_account())

    return perform(act, _("Submitted for review."), _back(item))


@bp.route("/cases/<int:case_id>/review", methods=["POST"])
@login_required
def case_review(case_id):
    """A second person of the office reviews (审核): passed on, or returned with the reason."""
    item = _case_or_abort(case_id)
    form = inputs.form()

    def act():
        decision = form.choice("decision", _DECISION, DECISIONS, required=True)
        comment = form.optional_text("comment", _COMMENT, max_length=2000, multiline=True)
        services.review(item, decision == "pass", comment, by=current_account())

    return perform(act, _("Review recorded."), _back(item))


@bp.route("/cases/<int:case_id>/approve", methods=["POST"])
@login_required
def case_approve(case_id):
    """The prefecture office approves (审批/签发): published, or returned with the reason."""
    prefecture_or_abort()
    item = _case_or_abort(case_id)
    form = inputs.form()

    def act():
        decision = form.choice("decision", _DECISION, DECISIONS, required=True)
        comment = form.optional_text("comment", _COMMENT, max_length=2000, multiline=True)
        services.approve(item, decision == "pass", comment, by=current_account())

    return perform(act, _("Approval recorded."), _back(item))


# --- the public's pages: no sign-in ------------------------------------------------------------


@bp.route("/public/cases")
def public_cases():
    """Published typical cases, the latest first, for anyone."""
    page = paginate(queries.published_statement(), per_page=queries.PUBLIC_PAGE)
    shown = [queries.public_case(c) for c in page.items]
    return render_template("enforce/cases/public_index.html", page=page, cases=shown)


@bp.route("/public/cases/<int:case_id>")
def public_case(case_id):
    """One published case: its public title and text only."""
    shown = queries.published(case_id)
    if shown is None:
        abort(404)
    return render_template("enforce/cases/public_show.html", case=shown)
