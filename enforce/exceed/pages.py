"""The exceedance workflow's pages (RULES §8): the centre's day screen (compute, mark invalid,
issue the reports), the reports with the county's disposal form and the Excel download, and the
enterprises' monitoring points with their limits. Thin: read the form, authorise
(enforce.access), call the service, answer."""

from datetime import timedelta
from urllib.parse import quote

from flask import Response, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from alerts.access import is_prefecture_office, offices_of
from enforce.access import county_office_or_abort, office_or_abort, prefecture_or_abort
from enforce.exceed import documents, queries, rules, services
from enforce.exceed.models import (
    DailyReport,
    DisposalKind,
    Exceedance,
    MonitoringPoint,
    PointType,
    disposal_photo,
)
from enforce.views import bp
from evidence.services import capture, photo_store, photos_of, prepare_or_refuse, read_uploads
from extensions import db
from grid import inputs
from grid.access import Scope, current_account
from grid.forms import perform
from grid.models import Grid
from grid.time import local_today, utcnow
from sources.models import Source

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_DAY = _l("Day")


def _counties(scope: Scope) -> list[int] | None:
    """The counties whose exceedances this office sees: None for the prefecture (all)."""
    return None if is_prefecture_office(scope) else offices_of(scope)


def _day(form: inputs.Fields):
    return form.day("day", _DAY, default=local_today() - timedelta(days=1), latest=local_today())


def _screen(day) -> str:
    return url_for("enforce.exceed_day", day=day.isoformat())


# --- the centre's day -------------------------------------------------------------------------


@bp.route("/exceedances")
@login_required
def exceed_day():
    """The centre's screen of a day (yesterday by default): each county's enterprises with the
    hours over the limit, and the reports to issue."""
    prefecture_or_abort()
    day = _day(inputs.query())
    return render_template(
        "enforce/exceed/day.html",
        day=day,
        counties=queries.day_screen(day),
        today=local_today(),
        flag_names=rules.FLAG_NAMES,
    )


@bp.route("/exceedances/compute", methods=["POST"])
@login_required
def exceed_compute():
    """Compute (again) the day's exceedances now."""
    prefecture_or_abort()
    form = inputs.form()
    day = _day(form)
    return perform(
        lambda: services.compute_day(day),
        lambda done: _(
            "%(n)s exceedances and %(m)s hours of invalid data found.", n=done.valid, m=done.invalid
        ),
        _screen(day),
    )


@bp.route("/exceedances/<int:exceedance_id>/mark", methods=["POST"])
@login_required
def exceed_mark(exceedance_id):
    """The centre marks an exceedance invalid data (with a reason), or valid again."""
    prefecture_or_abort()
    item = db.session.get(Exceedance, exceedance_id)
    if item is None:
        abort(404)
    form = inputs.form()
    valid = form.choice("status", _l("Status"), ("valid", "invalid"), required=True) == "valid"
    reason = form.text("reason", _l("Reason"), max_length=services.REASON_MAX)
    return perform(
        lambda: services.mark(item, valid, reason, current_account()),
        _("Marked valid.") if valid else _("Marked invalid data."),
        _screen(item.day),
    )


@bp.route("/exceedances/reports", methods=["POST"])
@login_required
def exceed_issue():
    """The centre issues the day's report to one county, or to every county with data."""
    prefecture_or_abort()
    form = inputs.form()
    day = _day(form)
    county_id = form.id("county", _l("County"))
    if county_id is None:
        return perform(
            lambda: services.issue_reports(day, current_account()),
            lambda made: _("%(n)s daily reports issued.", n=len(made)),
            _screen(day),
        )
    return perform(
        lambda: services.issue_report(county_id, day, current_account()),
        _("Daily report issued."),
        _screen(day),
    )


# --- reports and disposals ------------------------------------------------------------------------


@bp.route("/exceedances/reports")
@login_required
def exceed_reports():
    """The daily reports: a county's own, the prefecture's every county's."""
    scope = office_or_abort()
    return render_template(
        "enforce/exceed/reports.html",
        reports=queries.reports(_counties(scope)),
        prefecture=is_prefecture_office(scope),
    )


def _report_or_abort(report_id: int) -> DailyReport:
    report = db.session.get(DailyReport, report_id)
    if report is None:
        abort(404)
    county_office_or_abort(report.county_id)
    return report


@bp.route("/exceedances/reports/<int:report_id>")
@login_required
def exceed_report(report_id):
    """A county's daily report, with the form to record a case or an opinion."""
    report = _report_or_abort(report_id)
    county = db.session.get(Grid, report.county_id)
    enterprises = queries.report_rows(report)
    disposals = {r.disposal.id: r.disposal for e in enterprises for r in e.rows if r.disposal}
    photos: dict[int, list] = {}
    for owner, photo in photos_of(disposal_photo, sorted(disposals)):
        photos.setdefault(owner, []).append(photo)
    waiting = [r for e in enterprises for r in e.rows if r.valid and r.disposal is None]
    return render_template(
        "enforce/exceed/report.html",
        report=report,
        county=county,
        enterprises=enterprises,
        waiting=waiting,
        disposals=[(disposals[i], photos.get(i, [])) for i in sorted(disposals)],
        max_photos=services.MAX_PHOTOS,
    )


@bp.route("/exceedances/reports/<int:report_id>.xlsx")
@login_required
def exceed_report_xlsx(report_id):
    """The daily report (超标日报) as an Excel workbook, downloaded."""
    report = _report_or_abort(report_id)
    county = db.session.get(Grid, report.county_id)
    made = documents.workbook(report, county, queries.report_rows(report))
    name = f"超标日报-{county.name}-{report.day.isoformat()}.xlsx"
    disposition = (
        f'attachment; filename="exceedances-{report.day.isoformat()}.xlsx"; '
        f"filename*=UTF-8''{quote(name)}"
    )
    return Response(
        made,
        mimetype=XLSX,
        headers={"Content-Disposition": disposition, "Cache-Control": "private, no-store"},
    )


@bp.route("/exceedances/reports/<int:report_id>/disposals", methods=["POST"])
@login_required
def exceed_dispose(report_id):
    """The county records a case filed or an investigation opinion, with photos."""
    report = _report_or_abort(report_id)
    county = db.session.get(Grid, report.county_id)
    form = inputs.form()
    chosen = form.ids("exceedances", _l("Exceedances"))
    kind = form.choice("kind", _l("Disposal"), tuple(DisposalKind)) or ""
    case_number = form.text("case_number", _l("Case number"), max_length=services.CASE_NUMBER_MAX)
    opinion = form.text(
        "opinion", _l("Investigation opinion"), max_length=services.OPINION_MAX, multiline=True
    )
    back = url_for("enforce.exceed_report", report_id=report.id)
    person = current_account()

    def photos():
        data = read_uploads(request.files.getlist("photos"), services.MAX_PHOTOS)
        moment = capture(county, person.name, utcnow())
        return [prepare_or_refuse(one, moment, photo_store()) for one in data]

    return perform(
        lambda prepared: services.record_disposal(
            report,
            services.DisposalForm(chosen, kind, case_number, opinion, prepared),
            current_account(),
            photo_store(),
        ),
        lambda made: (
            _("Case %(number)s recorded.", number=made.case_number)
            if made.kind == DisposalKind.CASE
            else _("Investigation opinion recorded.")
        ),
        back,
        prepare=photos,
    )


# --- monitoring points and limits -----------------------------------------------------------------


@bp.route("/exceedances/points")
@login_required
def exceed_points():
    """The monitoring points and their limits: every county's for the prefecture, its own for a
    county; with the form to register a point on a source of the ledger."""
    scope = office_or_abort()
    counties = _counties(scope)
    points = queries.points_of(counties)
    sources = queries.sources_for_points(counties)
    return render_template(
        "enforce/exceed/points.html",
        points=points,
        limits=queries.limits_of([p.id for p, _s in points]),
        sources=sources,
        pollutants=rules.POLLUTANTS,
        kinds=list(PointType),
        today=local_today(),
    )


@bp.route("/exceedances/points", methods=["POST"])
@login_required
def exceed_point_new():
    """Register a monitoring point (a CEMS) on a source, with its HJ 212 MN and password."""
    office_or_abort()
    form = inputs.form()
    source_id = form.id("source", _l("Enterprise"), required=True)
    source = db.session.get(Source, source_id)
    if source is None:
        raise form.refuse("source", _l("Enterprise: no such source."))
    county_office_or_abort(source.county_id)
    name = form.text("name", _l("Name"), required=True, max_length=100)
    mn = form.text("mn", "MN", required=True, max_length=services.MN_MAX)
    password = form.text("password", _l("HJ 212 password"), required=True, max_length=64)
    st = form.choice("st", _l("Kind"), tuple(PointType), required=True) or ""
    return perform(
        lambda: services.add_point(source, name, mn, password, st, form.flag("lenient")),
        _("Monitoring point registered."),
        url_for("enforce.exceed_points"),
    )


@bp.route("/exceedances/points/<int:point_id>/limits", methods=["POST"])
@login_required
def exceed_limit_new(point_id):
    """Set a pollutant's emission limit at a point from a day on."""
    point = db.session.get(MonitoringPoint, point_id)
    if point is None:
        abort(404)
    county_office_or_abort(point.county_id)
    form = inputs.form()
    code = form.text("code", _l("Pollutant code"), required=True, max_length=10)
    value = form.number("value", _l("Limit"), low=-1e6, high=1e6, required=True)
    standard = form.text("standard", _l("Standard"), max_length=200)
    valid_from = form.day("valid_from", _l("From"), required=True)
    return perform(
        lambda: services.set_limit(point, code, value, standard, valid_from, current_account()),
        _("Limit set."),
        url_for("enforce.exceed_points") + f"#point-{point.id}",
    )
