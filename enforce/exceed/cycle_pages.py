"""The monthly cycle's pages (RULES §8), on the enforcement blueprint: where a month's cycle
stands (each county's report, each prefecture step against its date, the minutes, the clue
handover list, the late steps per party), the forms that record each step, and the three
documents as Excel.

Who: the prefecture office (acting for the detachment, the centre and the review group's
office) and any county's office or head read the page and the documents; a county's office or
head (or the prefecture office) submits the county's month; only the prefecture office records
the prefecture's steps, the minutes and the handover list. The work is done by
enforce/exceed/cycle_services.py; the rules are enforce/exceed/cycle.py."""

import re
from datetime import date, timedelta
from urllib.parse import quote

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from markupsafe import Markup

from alerts.access import is_prefecture_office, offices_of
from enforce.access import county_office_or_abort, is_office, office_or_abort, prefecture_or_abort
from enforce.exceed import cycle, cycle_documents, cycle_services
from enforce.exceed.cycle import State, Step
from enforce.views import bp
from extensions import db
from grid import inputs
from grid.access import Scope, current_account
from grid.forms import perform
from grid.htmx import render_error
from grid.models import Grid
from grid.queries import root_grid
from grid.time import local_today, work_calendar

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WARN_DAYS = 3  # working days before a deadline from which it is shown as coming (configurable)

_LABEL_MONTH = _l("Month")
_LABEL_STEP = _l("Step")
_LABEL_NOTE = _l("Note")

RECORDED_HERE = {step.value: cycle.STEP_LABELS[step] for step in cycle_services.RECORDED_HERE}


def warn_days() -> int:
    """ENFORCE_CYCLE_WARN_DAYS: working days of advance warning before each deadline."""
    return int(current_app.config.get("ENFORCE_CYCLE_WARN_DAYS", WARN_DAYS))


def _last_month(today: date) -> date:
    return cycle.first_of(cycle.first_of(today) - timedelta(days=1))


def _month_asked() -> date:
    """The month asked for (?month=YYYY-MM), by default last month (the cycle under way)."""
    today = local_today()
    return inputs.query().month("month", _LABEL_MONTH, latest=today) or _last_month(today)


def _month_posted(form: inputs.Fields) -> date:
    chosen = form.month("month", _LABEL_MONTH, latest=local_today())
    if chosen is None:
        raise form.refuse("month", _l("%(field)s: choose the month reported.", field=_LABEL_MONTH))
    return chosen


def month_cycle(month: date) -> cycle_services.MonthCycle:
    return cycle_services.month_cycle(month, local_today(), warn_days(), work_calendar())


def _back(month: date | None = None) -> str:
    """The cycle's page of `month`, or of the month posted when it reads as one."""
    if month is not None:
        return url_for("enforce.cycle", month=f"{month:%Y-%m}")
    posted = request.form.get("month", "")
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}", posted):
        return url_for("enforce.cycle", month=posted)
    return url_for("enforce.cycle")


def _to_month(month: date, message: str):
    flash(message, "success")
    return redirect(_back(month)), 303


def _prefecture_name() -> str:
    root = root_grid()
    return root.name if root else ""


@bp.route("/cycle", endpoint="cycle")
@login_required
def cycle_page():
    """A month's cycle: the counties' reports, the prefecture's steps, the minutes, the clue
    handover list and the late steps, with the forms of whoever may act."""
    scope = office_or_abort()
    made = month_cycle(_month_asked())
    office = is_prefecture_office(scope)
    return render_template(
        "enforce/exceed/cycle.html",
        made=made,
        office=office,
        mine=set(offices_of(scope)),
        uncased=cycle_services.uncased(made.month) if office and made.minutes is None else [],
        recordable=RECORDED_HERE,
        labels=cycle.STEP_LABELS,
        State=State,
        Step=Step,
    )


@bp.route("/cycle/counties/<int:county_id>/report", methods=["POST"])
@login_required
def cycle_report(county_id):
    """A county's office submits its month: its cases and opinions, with the counts shown."""
    county_office_or_abort(county_id)
    county = db.session.get(Grid, county_id)
    if county is None:
        abort(404)
    form = inputs.form()

    def act():
        month = _month_posted(form)
        note = form.optional_text("note", _LABEL_NOTE, max_length=2000, multiline=True)
        return cycle_services.report_county(
            county, month, by=current_account(), today=local_today(), note=note
        )

    return perform(
        act,
        "",
        _back(),
        then=lambda made: _to_month(
            made.month, _("%(county)s's month is reported.", county=county.name)
        ),
    )


@bp.route("/cycle/steps", methods=["POST"])
@login_required
def cycle_step():
    """The prefecture office records the detachment's statistics, the centre's compilation or
    the monthly report and notice as done today."""
    prefecture_or_abort()
    form = inputs.form()

    def act():
        month = _month_posted(form)
        step = form.choice("step", _LABEL_STEP, RECORDED_HERE, required=True)
        note = form.optional_text("note", _LABEL_NOTE, max_length=2000, multiline=True)
        return cycle_services.record_step(
            Step(step), month, by=current_account(), today=local_today(), note=note
        )

    return perform(
        act,
        "",
        _back(),
        then=lambda made: _to_month(made.month, _("The step is recorded as done today.")),
    )


@bp.route("/cycle/minutes", methods=["POST"])
@login_required
def cycle_minutes():
    """The prefecture office records the review meeting held today and its minutes; the
    enterprises without a case become clues, with the meeting's flags."""
    prefecture_or_abort()
    form = inputs.form()

    def act():
        month = _month_posted(form)
        fields = cycle_services.MinutesFields(
            summary=form.text(
                "summary", _l("Monthly summary"), required=True, max_length=4000, multiline=True
            ),
            county_cases=form.optional_text(
                "county_cases", _l("Counties' cases"), max_length=4000, multiline=True
            ),
            conclusions=form.text(
                "conclusions", _l("Conclusions"), required=True, max_length=4000, multiline=True
            ),
            escalations=form.optional_text(
                "escalations", _l("Escalation opinions"), max_length=4000, multiline=True
            ),
            accountability=form.optional_text(
                "accountability", _l("Accountability leads"), max_length=4000, multiline=True
            ),
        )
        return cycle_services.record_minutes(
            month,
            fields,
            escalated=form.ids("escalated", _l("Escalated")),
            difficult=form.ids("difficult", _l("Difficult")),
            by=current_account(),
            today=local_today(),
        )

    return perform(
        act,
        "",
        _back(),
        then=lambda made: _to_month(made.month, _("The minutes are recorded.")),
    )


@bp.route("/cycle/handover", methods=["POST"])
@login_required
def cycle_handover():
    """The prefecture office makes the clue handover list: about 30% kept by the detachment."""
    prefecture_or_abort()
    form = inputs.form()
    month: list[date] = []

    def act():
        month.append(_month_posted(form))
        return cycle_services.make_handover(month[0], by=current_account(), today=local_today())

    return perform(
        act,
        "",
        _back(),
        then=lambda made: _to_month(month[0], _("The clue handover list is made.")),
    )


DOCUMENTS = {
    "notice": ("月度通报", cycle_documents.notice_workbook),
    "minutes": ("会议纪要", cycle_documents.minutes_workbook),
    "clues": ("线索移交清单", cycle_documents.clues_workbook),
}


@bp.route("/cycle/<any(notice, minutes, clues):kind>.xlsx")
@login_required
def cycle_document(kind):
    """The month's notice, minutes or clue handover list as an Excel workbook."""
    office_or_abort()
    made = month_cycle(_month_asked())
    if kind == "minutes" and made.minutes is None:
        return render_error(
            409, _("The review meeting's minutes are not recorded yet."), back=_back(made.month)
        )
    if kind == "clues" and not made.line(Step.CLUE_HANDOVER).record:
        return render_error(
            409, _("The clue handover list is not made yet."), back=_back(made.month)
        )
    words, write = DOCUMENTS[kind]
    name = f"{words}-{made.month:%Y-%m}.xlsx"
    disposition = (
        f"attachment; filename=\"{kind}-{made.month:%Y-%m}.xlsx\"; filename*=UTF-8''{quote(name)}"
    )
    return Response(
        write(made, _prefecture_name()),
        mimetype=XLSX,
        headers={"Content-Disposition": disposition, "Cache-Control": "private, no-store"},
    )


def cycle_due(scope: Scope) -> Markup:
    """The hub's part: this person's steps of the cycle under way (last month's) that are
    overdue or due soon, and this month's already inside their warning days (a deadline in a
    holiday is shown before the holiday); an empty Markup for who is no office."""
    if not is_office(scope):
        return Markup("")
    return Markup(  # noqa: S704 - the template autoescapes what it shows  # nosec B704
        render_template(
            "enforce/exceed/cycle_due.html",
            month=_last_month(local_today()),
            lines=due_lines(scope, local_today()),
            labels=cycle.STEP_LABELS,
            State=State,
        )
    )


def due_lines(scope: Scope, today: date) -> list[cycle_services.Line]:
    """What cycle_due lists on `today`: last month's steps overdue or due soon, this month's
    due soon; the prefecture office's steps and every county's, or a county's own report."""
    office = is_prefecture_office(scope)
    mine = set(offices_of(scope))

    def ours(line: cycle_services.Line) -> bool:
        return office if line.county_id is None else (office or line.county_id in mine)

    def of(month: date) -> list[cycle_services.Line]:
        return cycle_services.month_cycle(month, today, warn_days(), work_calendar()).lines

    return [
        line
        for line in of(_last_month(today))
        if line.status.state in (State.OVERDUE, State.DUE_SOON) and ours(line)
    ] + [
        line
        for line in of(cycle.first_of(today))
        if line.status.state is State.DUE_SOON and ours(line)
    ]
