"""The sync API the phone's queue talks to: a fresh form token, queued items, photos."""

import json
from datetime import datetime

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf

from evidence.services import limits, photo_store
from grid.access import current_account
from grid.forms import unit_of_work
from grid.time import utcnow
from sync import services
from sync.services import SyncRefused, Upload

bp = Blueprint("sync", __name__, url_prefix="/sync")


@bp.route("/token")
@login_required
def token():
    """A fresh form token for a sync run (a queue replayed hours later has a stale one)."""
    response = jsonify(csrf_token=generate_csrf(), user_id=current_user.id)
    response.headers["Cache-Control"] = "no-store"
    return response


def _sent() -> services.clock.Stamp:
    try:
        return services.stamp_of(
            request.get_json(silent=True)["sent"]
            if request.is_json
            else json.loads(request.form.get("sent", ""))
        )
    except (TypeError, KeyError, ValueError) as exc:
        raise SyncRefused("malformed", _("The upload has no valid time stamps."), 400) from exc


@bp.route("/items", methods=["POST"])
@login_required
def items():
    """Record queued items in order; each is answered on its own (2xx kept, 4xx refused)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return jsonify(error="malformed", message=_('Send {"sent": ..., "items": [...]}.')), 400
    if len(body["items"]) > 200:
        return jsonify(error="too_many", message=_("Send at most 200 items at a time.")), 413
    try:
        upload = Upload(current_account(), _sent(), utcnow())
    except SyncRefused as exc:
        return jsonify(error=exc.code, message=str(exc)), exc.status
    with unit_of_work():  # each item was applied in a savepoint of its own
        results = services.apply_batch(upload, body["items"])
    return jsonify(results=results)


def _floats(*names):
    values = []
    for name in names:
        raw = request.form.get(name)
        values.append(None if raw in (None, "", "null") else float(raw))
    return values


@bp.route("/photos", methods=["POST"])
@login_required
def photos():
    """One photo for a visit or problem already sent; idempotent by its client id."""
    form = request.form
    file = request.files.get("file")
    try:
        with unit_of_work():
            status, response = _ingest(form, file)
    except (ValueError, TypeError):
        return jsonify(error="malformed", message=_("The photo's details are not valid.")), 400
    except SyncRefused as exc:
        return jsonify(error=exc.code, message=str(exc)), exc.status
    return jsonify(response), status


def _ingest(form, file) -> tuple[int, dict]:
    """Read the upload's fields strictly and hand the photo to the sync service."""
    if file is None:
        raise SyncRefused("missing_file", _("No photo in the upload."), 400)
    lon, lat, accuracy = _floats("lon", "lat", "accuracy")
    exif_lat, exif_lon = _floats("exif_lat", "exif_lon")
    taken = form.get("exif_taken_at") or None
    upload = services.PhotoUpload(
        client_id=form.get("client_id", ""),
        parent_kind=form.get("parent_kind", ""),
        parent_client_id=form.get("parent_client_id", ""),
        stamp=services.stamp_of(json.loads(form.get("stamp", "{}"))),
        fix=(lon, lat, accuracy) if lon is not None and lat is not None else None,
        reported_gps=(exif_lat, exif_lon)
        if exif_lat is not None and exif_lon is not None
        else None,
        reported_taken_at=datetime.fromisoformat(taken) if taken else None,
        reported_sha256=(form.get("sha256") or "").lower() or None,
    )
    if not services.is_uuid(upload.client_id):
        raise SyncRefused("malformed", _("The photo has no valid client id."), 400)
    data = file.read(limits().max_bytes + 1)
    return services.ingest_photo(
        Upload(current_account(), _sent(), utcnow()), upload, data, photo_store()
    )
