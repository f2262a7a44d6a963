"""The readings API for monitoring devices and platforms: `POST /api/v1/readings` with a
station's bearer token, and the OpenAPI document that describes it."""

import json
import os

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _

from alerts import services
from alerts.models import StationStatus
from extensions import csrf
from grid.forms import unit_of_work
from grid.time import utcnow

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
    with unit_of_work():
        outcome = services.store(station, [value for _index, value in good], "http", now)
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
