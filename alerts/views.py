"""The readings API for monitoring devices and platforms: `POST /api/v1/readings` with a
station's bearer token, and the OpenAPI document that describes it."""

import json
import os
from datetime import timedelta

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from alerts import access, dispatch, queries, raising, services, tasks
from alerts.labels import epoch_ms
from alerts.models import (
    Alert,
    AlertStatus,
    Station,
    StationStatus,
    feedback_photo,
)
from evidence.services import photos_of
from extensions import after_commit, csrf, db
from grid import inputs
from grid.access import current_account, current_scope
from grid.forms import perform, reads_first, unit_of_work
from grid.models import Grid
from grid.paging import page_of
from grid.queries import names_of
from grid.time import local_today, utcnow
from patrol import catalog

bp = Blueprint("alerts", __name__)

OPENAPI_PATH = os.path.join(os.path.dirname(__file__), "openapi.json")
MAX_BODY = 1024 * 1024  # a batch of 1,000 readings is about 100 KB


def _error(status: int, code: str, message: str, **headers: str):
    response = jsonify(error=code, message=message)
    response.status_code = status
    response.headers.update(headers)
    return response


@bp.route("/api/v1/readings", methods=["POST"])
@csrf.exempt  # machines authenticate with a bearer token, not a session cookie
def readings():
    """A batch of readings from one station. Good items are stored even when others are
    refused; each refused item comes back with its index (from 1) and the reason."""
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    station = services.station_by_token(token.strip()) if scheme.lower() == "bearer" else None
    if station is None:
        return _error(
            401,
            "unauthorized",
            _("Send the station's token: Authorization: Bearer <token>."),
            **{"WWW-Authenticate": 'Bearer realm="readings"'},
        )
    if station.status == StationStatus.RETIRED:
        return _error(403, "retired", _("This station is retired; its readings are refused."))
    if (request.content_length or 0) > MAX_BODY:
        return _error(413, "too_large", _("Send at most 1 MB at a time."))
    body = request.get_json(silent=True)
    items = body.get("readings") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return _error(400, "malformed", _('Send a JSON object: {"readings": [...]}.'))
    most = current_app.config["READINGS_BATCH_MAX"]
    if len(items) > most:
        return _error(413, "too_many", _("Send at most %(n)s readings at a time.", n=most))
    now = utcnow()
    good, refused = services.read_values(items, now)
    station_id = station.id
    with unit_of_work():
        outcome = services.store(station, [value for _index, value in good], "http", now)
        if outcome.stored:  # the rules look at the station once its readings are committed
            after_commit(lambda: tasks.evaluate_station(station_id))
    answer = {
        "stored": outcome.stored,
        "duplicates": outcome.duplicates,
        "refused": [{"index": index, "reason": reason} for index, reason in refused],
    }
    return jsonify(answer), 200 if good or not items else 422


@bp.route("/api/v1/openapi.json")
def openapi():
    """The API's OpenAPI 3.1 document."""
    with open(OPENAPI_PATH, encoding="utf-8") as file:
        document = json.load(file)
    return jsonify(document)


# --- alerts: the county's list, an alert's page, sending people, closing -----------------------

PAGE_SIZE = 50
STATUSES = ("open", "dispatched", "closed", "active")


@bp.route("/alerts/")
@login_required
def index():
    """Alerts in my area (and those I was sent to), newest first."""
    scope = current_scope()
    args = inputs.query()
    status = args.choice("status", _l("Status"), STATUSES, default="active")
    query = queries.visible_alerts(scope, current_account().id)
    if status == "active":
        query = query.where(Alert.status != AlertStatus.CLOSED)
    else:
        query = query.where(Alert.status == status)
    items = page_of(query.order_by(Alert.last_at.desc(), Alert.id.desc()), PAGE_SIZE)
    alerts = [row for row in items.items]
    return render_template(
        "alerts/index.html",
        items=items,
        stations=queries.stations_by_id({a.station_id for a in alerts}),
        counties=names_of(Grid, {a.county_id for a in alerts}),
        mine=queries.my_dispatches(current_account().id),
        status=status,
        filters={"status": status},
        can_push=access.may_push(scope),
        now=utcnow(),
        server_ms=epoch_ms(utcnow()),
    )


@bp.route("/alerts/<int:alert_id>")
@reads_first
@login_required
def show(alert_id):
    alert = access.alert_or_abort(alert_id)
    me = current_account()
    station = db.session.get(Station, alert.station_id)
    dispatches = queries.dispatches_of(alert.id)
    feedback = queries.feedback_of([d.id for d in dispatches])
    people = {u.id: u for u in queries.people({d.supervisor_id for d in dispatches})}
    photos: dict[int, list] = {}
    answer_ids = [f.id for answers in feedback.values() for f in answers.values()]
    for answer_id, photo in photos_of(feedback_photo, answer_ids):
        photos.setdefault(answer_id, []).append(photo)
    mine = next((d for d in dispatches if d.supervisor_id == me.id), None)
    can_dispatch = access.may_dispatch(alert) and alert.status != AlertStatus.CLOSED
    return render_template(
        "alerts/show.html",
        alert=alert,
        station=station,
        county=db.session.get(Grid, alert.county_id),
        dispatches=dispatches,
        feedback=feedback,
        people=people,
        photos=photos,
        mine=mine,
        candidates=dispatch.candidates(alert) if can_dispatch else [],
        can_dispatch=can_dispatch,
        can_close=access.may_close(alert) and alert.status != AlertStatus.CLOSED,
        arrival_m=current_app.config["ALERT_ARRIVAL_DISTANCE_M"],
        now=utcnow(),
        server_ms=epoch_ms(utcnow()),
        readings=queries.recent_values(station.id),
        categories=catalog.CATEGORIES,
        severities=catalog.SEVERITIES,
    )


@bp.route("/alerts/<int:alert_id>/dispatch", methods=["POST"])
@login_required
def send(alert_id):
    """The county sends one or more supervisors; each gets the 1-hour and 2-hour deadlines."""
    alert = access.alert_or_abort(alert_id)
    if not access.may_dispatch(alert):
        abort(403)
    form = inputs.form()
    back = url_for("alerts.show", alert_id=alert.id)

    def act():
        people = form.ids("supervisor", _l("Supervisors"), limit=20)
        note = form.optional_text("note", _l("Instruction"), max_length=1000, multiline=True)
        return dispatch.dispatch(alert, people, current_account(), note)

    return perform(
        act, lambda made: _("Sent %(n)s supervisor(s); the clocks are running.", n=len(made)), back
    )


@bp.route("/alerts/<int:alert_id>/close", methods=["POST"])
@login_required
def close(alert_id):
    alert = access.alert_or_abort(alert_id)
    if not access.may_close(alert):
        abort(403)
    form = inputs.form()
    back = url_for("alerts.show", alert_id=alert.id)

    def act():
        note = form.text("note", _l("How it was dealt with"), max_length=1000, multiline=True)
        dispatch.close(alert, current_account(), note)

    return perform(act, _("The alert is closed."), back)


@bp.route("/alerts/new", methods=["GET", "POST"])
@reads_first
@login_required
def new():
    """The prefecture office pushes an alert by hand, at a station."""
    scope = current_scope()
    if not access.may_push(scope):
        abort(403)
    stations = queries.active_stations()
    if request.method == "GET":
        return render_template("alerts/new.html", stations=stations, form={})
    form = inputs.form()
    back = url_for("alerts.new")

    def act():
        station_id = form.id("station", _l("Station"), required=True)
        station = db.session.get(Station, station_id)
        if station is None or station.status == StationStatus.RETIRED:
            raise inputs.Invalid("station", _l("Choose a station from the list."))
        pollutant = form.choice("pollutant", _l("Pollutant"), queries.POLLUTANT_CHOICES)
        note = form.text("note", _l("What to look into"), max_length=1000, multiline=True)
        return raising.push_by_hand(station, pollutant, note, current_account())

    return perform(act, lambda alert: _("Alert #%(n)s pushed to the county.", n=alert.id), back)


# --- the prefecture's daily consultation (RULES §4) -------------------------------------------


@bp.route("/alerts/consultation")
@reads_first
@login_required
def consultation():
    """Yesterday's national and regional station figures, the micro-stations' anomalies and the
    open alerts, per county: the prefecture office's daily consultation."""
    if not access.may_push(current_scope()):
        abort(403)
    day = inputs.query().past_day("day", _l("Day")) or (local_today() - timedelta(days=1))
    return render_template(
        "alerts/consultation.html",
        day=day,
        figures=queries.station_figures(day),
        counties=queries.county_summary(day),
    )


@bp.route("/alerts/consultation", methods=["POST"])
@login_required
def consultation_push():
    """Push the consultation's problem list down to the counties chosen."""
    if not access.may_push(current_scope()):
        abort(403)
    form = inputs.form()
    back = url_for("alerts.consultation")

    def act():
        county_ids = form.ids("county", _l("Counties"), limit=50)
        note = form.text("note", _l("Problems to deal with"), max_length=2000, multiline=True)
        return raising.push_list(county_ids, note, current_account())

    return perform(act, lambda n: _("Sent to %(n)s county office(s).", n=n), back)
