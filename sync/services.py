"""The offline protocol: each queued item and photo a phone sends is recorded once (a repeat
gets the first answer), placed in time without trusting the phone's clock (sync/clock.py), and
handed to the domain that registered its kind (sync/registry.py). A refusal changes nothing and
is answered on its own, so one bad item never holds back the rest of a phone's queue."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from evidence import photos
from evidence import services as evidence
from evidence.registry import PHOTO_OWNERS
from evidence.storage import PhotoStore
from extensions import db
from grid.errors import ServiceError
from grid.models import Grid, User
from sync import clock
from sync.models import SyncReceipt
from sync.registry import ITEM_KINDS, PHOTO_PARENTS


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
    """Check the envelope of one queued item; SyncRefused if it is malformed."""
    if not isinstance(raw, dict):
        raise SyncRefused("malformed", _l("An item is not an object."), 400)
    client_id = str(raw.get("client_id") or "")
    if not is_uuid(client_id):
        raise SyncRefused("malformed", _l("An item has no valid client id."), 400)
    kind = raw.get("kind")
    if not isinstance(kind, str) or ITEM_KINDS.get(kind) is None:
        raise SyncRefused("malformed", _l("Unknown kind of item."), 400)
    data = raw.get("data")
    if not isinstance(data, dict):
        raise SyncRefused("malformed", _l("An item has no data."), 400)
    return Item(client_id, kind, data, stamp_of(raw))


def stamp_of(raw: dict) -> clock.Stamp:
    try:
        return clock.Stamp(int(raw["device_ms"]), float(raw["elapsed_ms"]), str(raw["boot"])[:36])
    except (KeyError, TypeError, ValueError) as exc:
        raise SyncRefused("malformed", _l("An item has no valid time stamps."), 400) from exc


def is_uuid(value: str) -> bool:
    """A client id as the phones make them: a UUID in its canonical 36-character form."""
    try:
        return str(uuid.UUID(value)) == value.lower() and len(value) == 36
    except ValueError:
        return False


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


def apply_item(up: Upload, item: Item) -> dict:
    """Record one item once: a repeat returns the first answer; a refusal changes nothing."""
    user = up.user
    done = receipt(item.client_id)
    if done is not None:
        if done.user_id != user.id:
            raise SyncRefused("conflict", _l("This item was sent by someone else."), 409)
        return done.response
    timing = up.place(item.stamp)
    kind = ITEM_KINDS.entries()[item.kind]
    with db.session.begin_nested():
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
    """Apply the items in order. Each is recorded once or refused on its own; the phone drops
    what was answered 2xx and shows the refusals."""
    results = []
    for raw in raw_items:
        client_id = raw.get("client_id") if isinstance(raw, dict) else None
        try:
            results.append(apply_item(up, parse_item(raw)))
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


def ingest_photo(
    up: Upload, upload: PhotoUpload, data: bytes, store: PhotoStore
) -> tuple[int, dict]:
    """Validate, process and keep one photo for a record of the user's, once.

    Returns (status, response); a repeat of the same client id returns the first answer.
    """
    user, received_at = up.user, up.received_at
    done = receipt(upload.client_id)
    if done is not None:
        if done.user_id != user.id:
            raise SyncRefused("conflict", _l("This item was sent by someone else."), 409)
        return 200, done.response
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
    try:
        result = evidence.process(data, moment)
    except photos.PhotoRejected as exc:
        raise SyncRefused(exc.code, exc.message, exc.status) from exc
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
            store,
            result,
            grid_id=grid.id,
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
        evidence.attach(owner.links, owner_id, photo)
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
