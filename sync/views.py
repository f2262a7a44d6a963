"""The sync API the phone's queue talks to: a fresh form token, queued items, photos."""

import json
import time

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf

from evidence.services import limits, photo_store
from grid.access import current_account
from grid.forms import reads_first, unit_of_work
from grid.time import utcnow
from sync import services
from sync.services import SyncRefused, Upload

bp = Blueprint("sync", __name__, url_prefix="/sync")


@bp.route("/token")
@login_required
def token():
    """A fresh form token for a sync run (a queue replayed hours later has a stale one)."""
    # The server's time, so the phone can keep its clock offset (the alerts' countdowns).
    response = jsonify(
        csrf_token=generate_csrf(), user_id=current_user.id, server_ms=round(time.time() * 1000)
    )
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


@bp.route("/photos", methods=["POST"])
@reads_first
@login_required
def photos():
    """One photo for a visit or problem already sent; idempotent by its client id. Read,
    decoded and stored before the write transaction, which holds the lock for the row only."""
    try:
        status, response = _ingest(request.form, request.files.get("file"))
    except SyncRefused as exc:
        return jsonify(error=exc.code, message=str(exc)), exc.status
    return jsonify(response), status


def _ingest(form, file) -> tuple[int, dict]:
    """Read the upload's fields strictly, then plan (reads), prepare (decode and store, no
    lock) and record (the write) the photo."""
    if file is None:
        raise SyncRefused("missing_file", _("No photo in the upload."), 400)
    upload = services.read_photo_upload(form)
    up = Upload(current_account(), _sent(), utcnow())
    plan = services.plan_photo(up, upload)
    if not isinstance(plan, services.PhotoPlan):
        return 200, plan  # a repeat: the first answer
    store = photo_store()
    prepared = services.prepare_photo(plan, file.read(limits().max_bytes + 1), store)
    try:
        with unit_of_work():
            return services.record_photo(up, upload, plan, prepared)
    except Exception:
        # The files stay: content-addressed, never served without a row, and what a retry of
        # the same photo stores again; deleting them could take another record's files.
        current_app.logger.warning(
            "photo %s not recorded; its stored files stay unreferenced: %s",
            upload.client_id,
            prepared.stored,
        )
        raise
