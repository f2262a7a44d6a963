"""The register of stations: the list, one station's page, adding a station, changing its
particulars and status, and issuing its secrets (alerts/stations.py does the work and says who
may; alerts/access.py says who may see and keep which station)."""

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from alerts import access, queries, stations
from alerts.labels import STATION_KINDS, STATION_STATUSES
from alerts.models import Station, StationKind
from alerts.views import bp
from extensions import db
from grid import inputs
from grid.access import current_account, current_scope
from grid.forms import perform, reads_first, submit
from grid.models import Grid, User
from grid.time import utcnow

_LABEL_PASSWORD = _l("HJ 212 password")


def _kinds() -> list[str]:
    """The kinds this person may register: a county office, micro-stations only."""
    if access.station_counties(current_scope()) is None:
        return list(StationKind)
    return [StationKind.MICRO]


def _fields(form: inputs.Fields) -> stations.StationFields:
    return stations.StationFields(
        name=form.text("name", _l("Station name"), required=True, max_length=100),
        kind=form.choice("kind", _l("Kind"), _kinds(), required=True) or "",
        lat=form.latitude("lat", _l("Latitude"), required=True) or 0.0,
        lon=form.longitude("lon", _l("Longitude"), required=True) or 0.0,
        mn=form.optional_text("mn", _l("HJ 212 MN"), max_length=24),
        lenient=form.flag("lenient"),
    )


def _form_of(station: Station) -> dict:
    return {
        "name": station.name,
        "kind": station.kind,
        "lat": f"{station.lat:.6f}",
        "lon": f"{station.lon:.6f}",
        "mn": station.mn or "",
        "lenient": "1" if station.lenient else "",
    }


def _issued(issued: stations.Issued, created: bool):
    """The page that shows the secrets just issued, once: never cached, never shown again."""
    page = render_template("alerts/station_secrets.html", issued=issued, created=created)
    return page, 200, {"Cache-Control": "no-store"}


@bp.route("/alerts/stations", endpoint="stations")
@login_required
def stations_index():
    """The monitoring stations in my area, their last reading and open alerts."""
    scope = current_scope()
    return render_template(
        "alerts/stations.html",
        rows=queries.station_rows(scope),
        now=utcnow(),
        can_add=access.may_keep_stations(scope),
    )


@bp.route("/alerts/stations/new", methods=["GET", "POST"])
@reads_first
@login_required
def station_new():
    """Register a station: its particulars, and the secrets it needs (shown once)."""
    scope = current_scope()
    if not access.may_keep_stations(scope):
        abort(403)
    context = {"kinds": _kinds(), "kind_labels": STATION_KINDS}
    if request.method == "GET":
        return render_template("alerts/station_new.html", form={}, **context)
    form = inputs.form()

    def act():
        code = form.text("code", _l("Station code"), required=True, max_length=20)
        fields = _fields(form)
        password = form.optional_text("password", _LABEL_PASSWORD, max_length=9)
        return stations.register(
            code,
            fields,
            by=current_account(),
            within=access.station_counties(scope),
            password=password,
            issue_password=form.flag("issue_password"),
            issue_token=form.flag("issue_token"),
        )

    return submit(
        act,
        template="alerts/station_new.html",
        context={"form": request.form, **context},
        then=lambda issued: _issued(issued, created=True),
    )


@bp.route("/alerts/stations/<int:station_id>")
@login_required
def station_show(station_id):
    """A station's particulars, last values, open alerts and history; its keeper's forms."""
    station = access.station_or_abort(station_id)
    changes = stations.history(station.id)
    grid = db.session.get(Grid, station.grid_id) if station.grid_id else None
    return render_template(
        "alerts/station.html",
        station=station,
        grid=grid,
        readings=queries.recent_values(station.id),
        changes=changes,
        people={u.id: u for u in queries.people({c.by_id for c in changes if c.by_id})},
        can_keep=access.may_keep(station),
        kinds=_kinds(),
        kind_labels=STATION_KINDS,
        statuses=STATION_STATUSES,
        form=_form_of(station),
    )


@bp.route("/alerts/stations/<int:station_id>", methods=["POST"])
@login_required
def station_update(station_id):
    station = access.station_or_abort(station_id, keep=True)
    form = inputs.form()
    back = url_for("alerts.station_show", station_id=station.id)
    within = access.station_counties(current_scope())

    def act():
        return stations.update(station, _fields(form), by=current_account(), within=within)

    return perform(act, lambda changes: _("Saved.") if changes else _("Nothing changed."), back)


@bp.route("/alerts/stations/<int:station_id>/status", methods=["POST"])
@login_required
def station_status(station_id):
    station = access.station_or_abort(station_id, keep=True)
    form = inputs.form()
    back = url_for("alerts.station_show", station_id=station.id)

    def act():
        status = form.choice("status", _l("Status"), STATION_STATUSES, required=True)
        note = form.optional_text("note", _l("Reason"), max_length=200)
        stations.set_status(station, status or "", by=current_account(), note=note)

    return perform(act, _("The status is changed."), back)


@bp.route("/alerts/stations/<int:station_id>/secret", methods=["POST"])
@reads_first
@login_required
def station_secret(station_id):
    """Issue a new HTTP token or set a new HJ 212 password; the page shows it once."""
    station = access.station_or_abort(station_id, keep=True)
    form = inputs.form()
    me: User = current_account()

    def act():
        which = form.choice("which", _l("Secret"), ("token", "password"), required=True)
        if which == "token":
            return stations.Issued(station, token=stations.issue_token(station, by=me))
        password = form.optional_text("password", _LABEL_PASSWORD, max_length=9)
        password = stations.set_password(station, by=me, password=password)
        return stations.Issued(station, password=password)

    return perform(
        act,
        "",
        url_for("alerts.station_show", station_id=station.id),
        then=lambda issued: _issued(issued, created=False),
    )
