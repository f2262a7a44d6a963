"""The offline protocol: each queued item and photo a phone sends is recorded once (a repeat
gets the first answer), placed in time without trusting the phone's clock (sync/clock.py), and
handed to the domain that registered its kind (sync/registry.py). A refusal changes nothing and
is answered on its own, so one bad item never holds back the rest of a phone's queue."""

import json
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from evidence import photos
from evidence import services as evidence
from evidence.registry import PHOTO_OWNERS
from evidence.storage import PhotoStore
from extensions import backend_unavailable, db
from grid.errors import ServiceError
from grid.inputs import read_position
from grid.models import Grid, User
from grid.time import local_zone
from sync import clock
from sync.models import SyncReceipt
from sync.registry import ITEM_KINDS, PHOTO_PARENTS

# Plausible readings of a phone's clocks: Date.now() between 2000 and 2100, performance.now()
# from -1 (route points kept across a reload, placed by the device clock) to a year of uptime.
DEVICE_MS_RANGE = (946_684_800_000, 4_102_444_800_000)
ELAPSED_MS_RANGE = (-1.0, 366 * 86_400_000.0)
# Camera clocks (EXIF times): from the first digital cameras' years to 2100.
TAKEN_YEARS = (1990, 2100)
_SHA256 = re.compile(r"[0-9a-f]{64}")


class SyncRefused(ServiceError):
    """The item cannot be recorded as sent; `code` says why for the phone."""

    def __init__(self, code: str, message: Any, status: int = 422):
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Item:
    client_id: str
    kind: str
    data: dict
    stamp: clock.Stamp


def parse_item(raw: Any) -> Item:
    """Check the envelope of one queued item; SyncRefused if it is malformed. Its client id
    comes out in lower case (a UUID sent in upper case is the same item)."""
    if not isinstance(raw, dict):
        raise SyncRefused("malformed", _l("An item is not an object."), 400)
    client_id = client_id_of(raw.get("client_id"))
    if client_id is None:
        raise SyncRefused("malformed", _l("An item has no valid client id."), 400)
    kind = raw.get("kind")
    if not isinstance(kind, str) or ITEM_KINDS.get(kind) is None:
        raise SyncRefused("malformed", _l("Unknown kind of item."), 400)
    data = raw.get("data")
    if not isinstance(data, dict):
        raise SyncRefused("malformed", _l("An item has no data."), 400)
    return Item(client_id, kind, data, stamp_of(raw))


def _number(raw: Any) -> float | None:
    """A finite JSON number (or a number written as text), else None."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def device_ms_of(raw: Any, field: str = "device_ms") -> int:
    """A device clock reading (Date.now()) within the plausible years; SyncRefused naming it."""
    value = _number(raw)
    if value is None or not DEVICE_MS_RANGE[0] <= value <= DEVICE_MS_RANGE[1]:
        raise SyncRefused("malformed", _time_refusal(field), 400)
    return int(value)


def elapsed_ms_of(raw: Any, field: str = "elapsed_ms") -> float:
    """Milliseconds since the app started (performance.now()); SyncRefused naming it."""
    value = _number(raw)
    if value is None or not ELAPSED_MS_RANGE[0] <= value <= ELAPSED_MS_RANGE[1]:
        raise SyncRefused("malformed", _time_refusal(field), 400)
    return value


def _time_refusal(field: str) -> Any:
    return _l("The time stamp %(field)s is not a number in the plausible range.", field=field)


def stamp_of(raw: Any) -> clock.Stamp:
    """The phone's clocks as an item or upload gives them; SyncRefused naming the bad one."""
    if not isinstance(raw, dict):
        raise SyncRefused("malformed", _l("An item has no valid time stamps."), 400)
    boot = raw.get("boot")
    if not isinstance(boot, str) or not boot.strip():
        raise SyncRefused("malformed", _time_refusal("boot"), 400)
    return clock.Stamp(
        device_ms_of(raw.get("device_ms")), elapsed_ms_of(raw.get("elapsed_ms")), boot[:36]
    )


def client_id_of(value: Any) -> str | None:
    """A client id as the phones make them, a UUID in its 36-character form, in lower case;
    None for anything else."""
    if not isinstance(value, str) or len(value) != 36:
        return None
    try:
        canonical = str(uuid.UUID(value))
    except ValueError:
        return None
    return canonical if canonical == value.lower() else None


def is_uuid(value: str) -> bool:
    """A client id as the phones make them (in either case)."""
    return client_id_of(value) is not None


@dataclass(frozen=True)
class Upload:
    """Who sent a batch, and the phone's and server's clocks when it was sent and arrived."""

    user: User
    sent: clock.Stamp
    received_at: datetime

    def place(self, stamp: clock.Stamp) -> clock.Timing:
        return clock.place(stamp, self.sent, self.received_at)


def receipt(client_id: str) -> SyncReceipt | None:
    return db.session.get(SyncReceipt, client_id)


def one_sender_at_a_time(user: User) -> None:
    """Hold the sender's row until the write transaction ends, so that two runs of one phone's
    queue (the page's and the service worker's Background Sync, or a retry sent while the
    first is still being answered) are applied one after the other: the second finds the
    first's receipts and gets its answers, instead of racing it into "already visited". On
    SQLite the write transaction's lock does this already (FOR UPDATE is not emitted there)."""
    db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())


def apply_item(up: Upload, item: Item) -> dict:
    """Record one item once: a repeat returns the first answer. Call it inside a savepoint of
    the item's own (apply_batch does), so that a refusal changes nothing."""
    user = up.user
    done = receipt(item.client_id)
    if done is not None:
        if done.user_id != user.id:
            raise SyncRefused("conflict", _l("This item was sent by someone else."), 409)
        return done.response
    timing = up.place(item.stamp)
    kind = ITEM_KINDS.entries()[item.kind]
    record_id = kind.record(up, item, timing)
    response = {
        "client_id": item.client_id,
        "kind": item.kind,
        "status": 201,
        "id": record_id,
        "clock_skewed": timing.skewed,
    }
    db.session.add(
        SyncReceipt(
            client_id=item.client_id,
            user_id=user.id,
            kind=item.kind,
            status=201,
            response=response,
        )
    )
    return response


def set_times(record, stamp: clock.Stamp, timing: clock.Timing, received_at: datetime) -> None:
    """Write the phone's clocks and ours onto a record made on a phone (grid.models.PhoneTimed)."""
    record.device_ms = stamp.device_ms
    record.elapsed_ms = stamp.elapsed_ms
    record.boot = stamp.boot
    record.received_at = received_at
    record.clock_offset_s = timing.offset_s
    record.clock_basis = timing.basis
    record.clock_skewed = timing.skewed


def apply_batch(up: Upload, raw_items: Iterable[Any]) -> list[dict]:
    """Apply the items in order, each in a savepoint of its own: recorded once, or refused on
    its own (4xx, nothing of it kept), or, on an unexpected error, answered 500 (logged, its
    savepoint rolled back) while the others are recorded; the database or Redis out of reach
    ends the whole batch (503, nothing kept). The phone drops what was answered 2xx, shows the
    refusals and keeps a 5xx item to send again."""
    one_sender_at_a_time(up.user)
    results = []
    for raw in raw_items:
        client_id = raw.get("client_id") if isinstance(raw, dict) else None
        client_id = client_id_of(client_id) or (client_id if isinstance(client_id, str) else None)
        try:
            item = parse_item(raw)
            with db.session.begin_nested():
                results.append(apply_item(up, item))
        except SyncRefused as exc:
            results.append(
                {
                    "client_id": client_id,
                    "status": exc.status,
                    "error": exc.code,
                    "message": str(exc),
                }
            )
        except ServiceError as exc:  # any other rule the item breaks
            results.append(
                {"client_id": client_id, "status": 422, "error": "invalid", "message": str(exc)}
            )
        except Exception as exc:  # a bug or a database error: this item only; the phone retries it
            if backend_unavailable(exc):
                # The database or Redis out of reach: the batch's transaction is lost with it,
                # the items before this one too. The whole request is a 503 (desk/errors.py):
                # nothing kept, and the phone sends the batch again.
                raise
            current_app.logger.exception("sync item %s of user %s failed", client_id, up.user.id)
            results.append(
                {
                    "client_id": client_id,
                    "status": 500,
                    "error": "server_error",
                    "message": str(_l("Something went wrong on the server. Nothing was saved.")),
                }
            )
    return results


@dataclass(frozen=True)
class PhotoUpload:
    client_id: str
    parent_kind: str  # "visit" | "problem"
    parent_client_id: str
    stamp: clock.Stamp
    fix: tuple[float, float, float | None] | None  # lon, lat, accuracy
    reported_gps: tuple[float, float] | None  # lat, lon from the original's EXIF, read on the phone
    reported_taken_at: datetime | None
    reported_sha256: str | None


def _field(form: Mapping[str, Any], name: str) -> Any:
    value = form.get(name)
    return None if value in (None, "", "null") else value


def read_photo_upload(form: Mapping[str, Any]) -> PhotoUpload:
    """The fields of an upload to /sync/photos, read strictly: SyncRefused names the first one
    that is not acceptable. Client ids come out in lower case."""
    client_id = client_id_of(form.get("client_id"))
    if client_id is None:
        raise SyncRefused("malformed", _l("The photo has no valid client id."), 400)
    parent_id = client_id_of(form.get("parent_client_id"))
    if parent_id is None:
        raise SyncRefused(
            "malformed", _l("The photo does not say which record it belongs to."), 400
        )
    try:
        raw_stamp = json.loads(form.get("stamp") or "{}")
    except ValueError:
        raw_stamp = None
    fix = _position(
        {k: _field(form, k) for k in ("lat", "lon", "accuracy")}, _l("The photo's position")
    )
    exif = _position(
        {"lat": _field(form, "exif_lat"), "lon": _field(form, "exif_lon")},
        _l("The position in the photo's EXIF"),
    )
    sha256 = _field(form, "sha256")
    if sha256 is not None:
        sha256 = str(sha256).lower()
        if not _SHA256.fullmatch(sha256):
            raise SyncRefused("malformed", _l("The field sha256 is not a SHA-256 digest."), 400)
    return PhotoUpload(
        client_id=client_id,
        parent_kind=str(form.get("parent_kind") or ""),
        parent_client_id=parent_id,
        stamp=stamp_of(raw_stamp),
        fix=fix,
        reported_gps=(exif[1], exif[0]) if exif else None,
        reported_taken_at=taken_at_of(_field(form, "exif_taken_at")),
        reported_sha256=sha256,
    )


def _position(data: dict, label: Any) -> tuple[float, float, float | None] | None:
    try:
        return read_position(data, label)
    except SyncRefused:
        raise
    except ServiceError as exc:
        raise SyncRefused("malformed", exc.args[0], 400) from exc


def taken_at_of(raw: Any) -> datetime | None:
    """When the phone read that the photo was taken (EXIF, ISO 8601), as naive local time;
    SyncRefused for text that is not such a time, or one outside the plausible years."""
    if raw is None:
        return None
    refused = SyncRefused(
        "malformed",
        _l(
            "The field exif_taken_at is not a date and time between %(first)s and %(last)s.",
            first=TAKEN_YEARS[0],
            last=TAKEN_YEARS[1],
        ),
        400,
    )
    try:
        value = datetime.fromisoformat(str(raw))
    except ValueError as exc:
        raise refused from exc
    if not TAKEN_YEARS[0] <= value.year <= TAKEN_YEARS[1]:
        raise refused
    if value.tzinfo is not None:  # camera times are local: compare like with like
        value = value.astimezone(local_zone()).replace(tzinfo=None)
    return value


@dataclass(frozen=True)
class PhotoPlan:
    """What was read before decoding a photo: whose record it joins and how it is placed."""

    owner_links: Any  # the owner's link table
    owner_id: int
    grid_id: int
    timing: clock.Timing
    moment: photos.Capture


def plan_photo(up: Upload, upload: PhotoUpload) -> dict | PhotoPlan:
    """Read what a photo needs before it is decoded (no write): the first answer for a
    repeat, else its plan; SyncRefused when its record is unknown or not the user's."""
    user, received_at = up.user, up.received_at
    done = receipt(upload.client_id)
    if done is not None:
        if done.user_id != user.id:
            raise SyncRefused("conflict", _l("This item was sent by someone else."), 409)
        return done.response
    parent = PHOTO_PARENTS.get(upload.parent_kind)
    owner = PHOTO_OWNERS.get(upload.parent_kind)
    if parent is None or owner is None:
        raise SyncRefused("malformed", _l("A photo belongs to a record of a known kind."), 400)
    found = parent.find(upload.parent_client_id)
    if found is None:
        raise SyncRefused(
            "unknown_parent", _l("The record of this photo has not arrived yet."), 409
        )
    owner_id, owner_user_id, grid_id = found
    if owner_user_id != user.id:
        raise SyncRefused("forbidden", _l("This is someone else's record."), 403)
    grid = db.session.get(Grid, grid_id)
    timing = up.place(upload.stamp)
    moment = evidence.capture(
        grid,
        user.name,
        timing.at,
        fix=upload.fix,
        reported_gps=upload.reported_gps,
        reported_taken_at=upload.reported_taken_at,
        reported_sha256=upload.reported_sha256,
        known_hashes=evidence.known_hashes(
            grid, received_at, besides=evidence.photo_ids(owner.links, owner_id)
        ),
    )
    return PhotoPlan(owner.links, owner_id, grid.id, timing, moment)


def prepare_photo(plan: PhotoPlan, data: bytes, store: PhotoStore) -> evidence.Prepared:
    """Decode, check, derive and store the photo (outside the write transaction). A store that
    cannot write (a disk full or read-only) is the server's passing trouble, not the photo's:
    503, which the phone's queue keeps and sends again."""
    try:
        return evidence.prepare(data, plan.moment, store)
    except photos.PhotoRejected as exc:
        raise SyncRefused(exc.code, evidence.refusal(exc), exc.status) from exc
    except OSError as exc:
        current_app.logger.error("photo storage failed: %s", exc)
        raise SyncRefused(
            "storage_unavailable",
            _l("The photo could not be stored just now; it will be sent again."),
            503,
        ) from exc


def record_photo(
    up: Upload, upload: PhotoUpload, plan: PhotoPlan, prepared: evidence.Prepared
) -> tuple[int, dict]:
    """Write a prepared photo's row, link and receipt, once (in the write transaction): a
    repeat that arrived meanwhile gets the first answer."""
    user, received_at, timing = up.user, up.received_at, plan.timing
    one_sender_at_a_time(user)
    done = receipt(upload.client_id)
    if done is not None:
        if done.user_id != user.id:
            raise SyncRefused("conflict", _l("This item was sent by someone else."), 409)
        return 200, done.response
    result = prepared.result
    extra = []
    reused = evidence.reused(result.facts.sha256, upload.reported_sha256)
    if reused is not None and not any(f.code == "duplicate" for f in result.flags):
        extra.append(
            {"code": "duplicate", "detail": {"reference": f"photo:{reused}", "distance": 0}}
        )
    if timing.skewed:
        extra.append({"code": "clock_skewed", "detail": {"offset_s": round(timing.offset_s)}})
    with db.session.begin_nested():
        photo = evidence.keep(
            None,
            prepared,
            grid_id=plan.grid_id,
            uploaded_by_id=user.id,
            captured_at=timing.at,
            client_id=upload.client_id,
            fix=upload.fix,
            reported_gps=upload.reported_gps,
            reported_taken_at=upload.reported_taken_at,
            reported_sha256=upload.reported_sha256,
            extra_flags=extra,
        )
        set_times(photo, upload.stamp, timing, received_at)
        evidence.attach(plan.owner_links, plan.owner_id, photo)
        response = {
            "client_id": upload.client_id,
            "kind": "photo",
            "status": 201,
            "id": photo.id,
            "flags": [f["code"] for f in photo.flags],
        }
        db.session.add(
            SyncReceipt(
                client_id=upload.client_id,
                user_id=user.id,
                kind="photo",
                status=201,
                response=response,
            )
        )
    return 201, response


def ingest_photo(
    up: Upload, upload: PhotoUpload, data: bytes, store: PhotoStore
) -> tuple[int, dict]:
    """Validate, process and keep one photo for a record of the user's, once, in one go (the
    view does the same in three steps, around its write transaction).

    Returns (status, response); a repeat of the same client id returns the first answer.
    """
    plan = plan_photo(up, upload)
    if not isinstance(plan, PhotoPlan):
        return 200, plan
    return record_photo(up, upload, plan, prepare_photo(plan, data, store))
