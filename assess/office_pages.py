"""The prefecture office's and the county's posts on a month's page: recording, rectifying and
withdrawing the office's facts, correcting a measured fact, freezing the month, appealing a
deduction and answering the appeal. Each is done by the services (services.py, corrections.py,
snapshots.py, appeals.py), which write the month's log; a refusal comes back to the page with
its reason and nothing written."""

from datetime import date

from flask import abort, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from alerts.access import offices_of
from assess import appeals, corrections, services, snapshots
from assess.access import office_or_abort
from assess.labels import APPEAL_ITEMS, FACTS
from assess.models import Appeal, AppealStatus, AssessRecord, MonthSnapshot, RecordKind
from assess.views import bp
from extensions import db
from grid import inputs, scoring
from grid.access import current_account, current_scope
from grid.errors import ServiceError
from grid.forms import perform
from grid.models import Grid
from grid.time import local_today

# What an accepted appeal corrects, by the deduction appealed: a count typed by the office for
# items 4-7; the media deduction and a forced fail are struck as a whole (a partial acceptance
# is a rejection and a correction).
APPEAL_FACTS = {
    "item4": "missed_problems",
    "item5": "unassigned_reports",
    "item6": "poor_rectifications",
    "item7": "overdue_inspection_items",
}
_LABEL_MONTH = _l("Month")


def _county_or_abort(county_id: int) -> Grid:
    grid = db.session.get(Grid, county_id)
    if grid is None or grid.level != 2:
        abort(404)
    return grid


def _record_or_abort(record_id: int) -> AssessRecord:
    office_or_abort()
    item = db.session.get(AssessRecord, record_id)
    if item is None:
        abort(404)
    return item


def _month_of(form: inputs.Fields) -> date:
    first = form.month("month", _LABEL_MONTH, latest=local_today())
    if first is None:
        raise form.refuse("month", _l("Choose the month."))
    return first


def _page(county_id: int, first: date) -> str:
    return url_for("assess.county", county_id=county_id, month=f"{first:%Y-%m}")


@bp.route("/<int:county_id>/records", methods=["POST"])
@login_required
def record_new(county_id):
    """The office records an inspection item, a major discovery or an automatic fail."""
    office_or_abort()
    county = _county_or_abort(county_id)
    form = inputs.form()
    first = form.month("month", _LABEL_MONTH, latest=local_today()) or local_today()

    def act():
        return services.record(
            county,
            form.choice("kind", _l("What is recorded"), list(RecordKind), required=True) or "",
            form.text("title", _l("Title"), required=True, max_length=200),
            by=current_account(),
            month=_month_of(form),
            detail=form.optional_text("detail", _l("Details"), max_length=2000),
            due_on=form.day("due_on", _l("Deadline")),
            rectified_on=form.past_day("rectified_on", _l("Rectified on")),
            bad_influence=form.flag("bad_influence"),
        )

    return perform(act, _("Recorded."), _page(county.id, first.replace(day=1)))


@bp.route("/records/<int:record_id>/rectified", methods=["POST"])
@login_required
def record_rectified(record_id):
    item = _record_or_abort(record_id)
    form = inputs.form()

    def act():
        day = form.past_day("rectified_on", _l("Rectified on"), required=True)
        services.rectified(item, day, by=current_account())

    return perform(act, _("Saved."), _page(item.county_id, item.month))


@bp.route("/records/<int:record_id>/withdraw", methods=["POST"])
@login_required
def record_withdraw(record_id):
    item = _record_or_abort(record_id)
    form = inputs.form()

    def act():
        reason = form.text("reason", _l("Reason"), required=True, max_length=500)
        services.withdraw(item, reason, by=current_account())

    return perform(act, _("Withdrawn."), _page(item.county_id, item.month))


@bp.route("/<int:county_id>/corrections", methods=["POST"])
@login_required
def correction_new(county_id):
    """The office corrects a measured fact, with the reason."""
    office_or_abort()
    county = _county_or_abort(county_id)
    form = inputs.form()
    first = form.month("month", _LABEL_MONTH, latest=local_today()) or local_today()

    def act():
        month = _month_of(form)
        fact = form.choice("fact", _l("Fact"), corrections.CORRECTABLE, required=True) or ""
        typed = form.text("value", _l("Value"), required=True, max_length=10)
        reason = form.text("reason", _l("Reason"), required=True, max_length=500)
        value = corrections.value_of(fact, typed)
        return corrections.correct(county, month, fact, value, reason, by=current_account())

    return perform(act, _("Corrected."), _page(county.id, first.replace(day=1)))


@bp.route("/freeze", methods=["POST"])
@login_required
def freeze():
    """The office freezes a month that is over, for every level-2 grid at once."""
    office_or_abort()
    form = inputs.form()
    first = form.month("month", _LABEL_MONTH, latest=local_today()) or local_today()
    back = url_for("assess.index", month=f"{first:%Y-%m}")

    def act():
        month = _month_of(form)
        veto = form.choice("veto", _l("Veto"), scoring.VETOES) or scoring.VETO_TOTAL
        return snapshots.freeze(month.year, month.month, by=current_account(), veto=veto)

    return perform(act, lambda made: _("Frozen: %(n)s grids.", n=len(made)), back)


@bp.route("/<int:county_id>/appeals", methods=["POST"])
@login_required
def appeal_new(county_id):
    """The county's office or head appeals a deduction of its frozen month."""
    county = _county_or_abort(county_id)
    if county.id not in offices_of(current_scope()):
        abort(403)
    form = inputs.form()
    first = form.month("month", _LABEL_MONTH, latest=local_today()) or local_today()

    def act():
        month = _month_of(form)
        current = snapshots.latest(month).get(county.id)
        if current is None:
            raise ServiceError(_l("Only a frozen month can be appealed."))
        item = form.choice("item", _l("Deduction"), APPEAL_ITEMS, required=True) or ""
        reason = form.text("reason", _l("Reason"), required=True, max_length=2000)
        return appeals.file(current, item, reason, by=current_account())

    return perform(act, _("Appeal filed."), _page(county.id, first.replace(day=1)))


@bp.route("/appeals/<int:appeal_id>/decision", methods=["POST"])
@login_required
def appeal_decide(appeal_id):
    """The office accepts (correcting the deduction: a new version) or rejects, with reason."""
    office_or_abort()
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None:
        abort(404)
    snapshot = db.session.get(MonthSnapshot, appeal.snapshot_id)
    form = inputs.form()

    def act():
        accept = form.choice("decision", _l("Decision"), ("accept", "reject"), required=True)
        answer = form.text("answer", _l("Reason"), required=True, max_length=2000)
        changes = None
        if accept == "accept" and appeal.status == AppealStatus.PENDING:
            changes = _appeal_changes(appeal, snapshot, form)
        return appeals.decide(
            appeal, accept == "accept", answer, by=current_account(), changes=changes
        )

    return perform(act, _("Answered."), _page(snapshot.county_id, snapshot.month))


def _appeal_changes(appeal: Appeal, snapshot: MonthSnapshot, form: inputs.Fields) -> dict:
    """What the accepted appeal corrects (see APPEAL_FACTS)."""
    fact = APPEAL_FACTS.get(appeal.item)
    if fact is not None:
        value = form.integer(
            "value",
            _l(FACTS[fact]),  # a msgid of labels.py, translated when shown
            low=0,
            high=corrections.MOST,
            required=True,
        )
        if value == snapshot.facts[fact]:
            raise ServiceError(_l("An accepted appeal changes the count it appeals."))
        return {fact: value}
    if appeal.item == "media":
        return {"media_exposures": []}
    return {  # "fail": the conditions that failed the month, struck
        "auto_fail_reasons": [],
        "bad_influence": False,
        "media_exposures": [
            levels for levels in snapshot.facts["media_exposures"] if "national" not in levels
        ],
    }
