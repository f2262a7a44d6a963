"""Actions on sources, patrols, visits, problems and photos. Services flush; callers commit."""

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from geoalchemy2 import WKTElement
from geoalchemy2.shape import to_shape
from shapely.geometry import LineString

from extensions import db
from grid import services as grid_services
from grid.geo import haversine_m
from grid.models import Grid, GridKind, Membership, Role, User, active_on_clause, subtree_clause
from grid.services import ServiceError, local_date, local_zone
from patrol import catalog, clock, photos
from patrol.models import (
    Patrol,
    Photo,
    Problem,
    RoutePoint,
    Source,
    SourceChange,
    SourceDocument,
    SourceSurvey,
    SyncReceipt,
    Visit,
)
from patrol.storage import LocalStore, PhotoStore, put_photo


def point(lon: float, lat: float) -> WKTElement:
    return WKTElement(f"POINT({float(lon)!r} {float(lat)!r})", srid=4326)


def _coordinates(data: dict, where: str = "") -> tuple[float, float, float | None] | None:
    """(lon, lat, accuracy) from an item's data, or None when it has no fix; refuse nonsense."""
    if data.get("lat") is None and data.get("lon") is None:
        return None
    try:
        lat, lon = float(data["lat"]), float(data["lon"])
        accuracy = None if data.get("accuracy") is None else float(data["accuracy"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ServiceError(
            _l("The position %(where)s is not a pair of numbers.", where=where)
        ) from exc
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ServiceError(_l("The position %(where)s is outside the globe.", where=where))
    if accuracy is not None and (not math.isfinite(accuracy) or accuracy < 0):
        accuracy = None
    return lon, lat, accuracy


# --- the ledger -------------------------------------------------------------------------------


@dataclass
class SourceFields:
    name: str
    kind: str
    lon: float | None = None
    lat: float | None = None
    address: str | None = None
    key_polluter: bool = False
    special_supervision: bool = False
    special_reason: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    notes: str | None = None


def _check_fields(fields: SourceFields) -> None:
    fields.name = (fields.name or "").strip()
    if not fields.name or len(fields.name) > 120:
        raise ServiceError(_l("A source needs a name (up to 120 characters)."))
    if fields.kind not in catalog.SOURCE_KINDS:
        raise ServiceError(_l("Choose the kind of source."))
    if fields.special_supervision and not (fields.special_reason or "").strip():
        raise ServiceError(_l("Say why the source is under special supervision."))


def _place(source: Source, county: Grid, lon: float | None, lat: float | None) -> None:
    """Locate the source and find its village from the point; it must lie in its county."""
    if lon is None or lat is None:
        source.location, source.grid_id = None, None
        return
    lon, lat, _accuracy = _coordinates({"lon": lon, "lat": lat}) or (lon, lat, None)
    village = grid_services.locate(lon, lat, 4)
    if village is None or not village.path.startswith(county.path):
        raise ServiceError(_l("The location is not inside %(county)s.", county=county.name))
    source.location = point(lon, lat)
    source.grid_id = village.id


def create_source(
    county: Grid, fields: SourceFields, by: User | None = None, on: date | None = None
) -> Source:
    """Add a source to a county's ledger; its village is found from its location."""
    if county.level != 2:
        raise ServiceError(_l("Sources belong to a county, city or park."))
    _check_fields(fields)
    source = Source(
        name=fields.name,
        kind=fields.kind,
        county_id=county.id,
        address=fields.address,
        key_polluter=fields.key_polluter,
        special_supervision=fields.special_supervision,
        special_reason=(fields.special_reason or "").strip() or None,
        contact_name=fields.contact_name,
        contact_phone=fields.contact_phone,
        notes=fields.notes,
        status=catalog.ACTIVE,
        created_on=on or grid_services.local_today(),
        created_by_id=by and by.id,
    )
    _place(source, county, fields.lon, fields.lat)
    db.session.add(source)
    db.session.flush()
    return source


def update_source(source: Source, fields: SourceFields, by: User | None = None) -> None:
    """Change a source's particulars; a new location may move it to another village."""
    _check_fields(fields)
    county = db.session.get(Grid, source.county_id)
    old_grid = source.grid_id
    for name in (
        "name",
        "kind",
        "address",
        "key_polluter",
        "special_supervision",
        "contact_name",
        "contact_phone",
        "notes",
    ):
        setattr(source, name, getattr(fields, name))
    source.special_reason = (fields.special_reason or "").strip() or None
    # Re-place only when the point changed: the county may have moved the source to another
    # village by hand (move_source), and an edit of its name must not undo that. The form
    # shows six decimals, so 1e-6 is "unchanged".
    old = to_shape(source.location) if source.location is not None else None
    unchanged = (
        old is not None
        and fields.lon is not None
        and fields.lat is not None
        and abs(old.x - fields.lon) < 1e-6
        and abs(old.y - fields.lat) < 1e-6
    )
    if not unchanged:
        _place(source, county, fields.lon, fields.lat)
    if source.grid_id != old_grid:
        db.session.add(
            SourceChange(
                source_id=source.id,
                grid_id=source.grid_id,
                effective_on=grid_services.local_today(),
                note="location changed",
                by_id=by and by.id,
            )
        )
    db.session.flush()


def move_source(
    source: Source, village: Grid, by: User | None = None, note: str | None = None
) -> None:
    """The county assigns a source to another village of the county (its point stays)."""
    county = db.session.get(Grid, source.county_id)
    if (
        village.level != 4
        or village.kind != GridKind.VILLAGE
        or not village.path.startswith(county.path)
    ):
        raise ServiceError(_l("Choose a village of %(county)s.", county=county.name))
    if village.id == source.grid_id:
        return
    source.grid_id = village.id
    db.session.add(
        SourceChange(
            source_id=source.id,
            grid_id=village.id,
            note=note,
            effective_on=grid_services.local_today(),
            by_id=by and by.id,
        )
    )
    db.session.flush()


def change_status(
    source: Source, status: str, effective_on: date, by: User | None = None, note: str | None = None
) -> None:
    """Relocated, long stopped or bankrupt sources leave daily patrols and random draws."""
    if status not in catalog.SOURCE_STATUSES:
        raise ServiceError(_l("Unknown status."))
    if status == source.status:
        raise ServiceError(_l("The source already has this status."))
    if effective_on > grid_services.local_today() + timedelta(days=366):
        raise ServiceError(_l("The date is too far ahead."))
    source.status = status
    source.status_since = effective_on
    db.session.add(
        SourceChange(
            source_id=source.id,
            status=status,
            effective_on=effective_on,
            note=(note or "").strip()[:200] or None,
            by_id=by and by.id,
        )
    )
    db.session.flush()


def record_survey(source: Source, surveyed_on: date, by: User, note: str | None = None) -> None:
    """The county's quarterly survey of a source (RULES §2)."""
    if surveyed_on > grid_services.local_today():
        raise ServiceError(_l("A survey cannot be recorded for a future day."))
    db.session.add(
        SourceSurvey(
            source_id=source.id,
            surveyed_on=surveyed_on,
            by_id=by.id,
            note=(note or "").strip()[:500] or None,
        )
    )
    if source.last_surveyed_on is None or surveyed_on >= source.last_surveyed_on:
        source.last_surveyed_on, source.last_surveyed_by_id = surveyed_on, by.id
    db.session.flush()


DOCUMENT_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


def add_document(
    source: Source, title: str, data: bytes, content_type: str, by: User, store: PhotoStore
) -> SourceDocument:
    """Attach a file (PDF, JPEG or PNG, up to 20 MB) to a source's dossier."""
    import hashlib

    title = (title or "").strip()
    if not title or len(title) > 120:
        raise ServiceError(_l("A document needs a title (up to 120 characters)."))
    ext = DOCUMENT_TYPES.get(content_type)
    if ext is None or not _looks_like(data, ext):
        raise ServiceError(_l("Documents must be PDF, JPEG or PNG files."))
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ServiceError(_l("The document is larger than 20 MB."))
    digest = hashlib.sha256(data).hexdigest()
    key = f"documents/{digest[:2]}/{digest}.{ext}"
    store.put(key, data)
    document = SourceDocument(
        source_id=source.id,
        title=title,
        storage_key=key,
        content_type=content_type,
        size_bytes=len(data),
        sha256=digest,
        by_id=by.id,
    )
    db.session.add(document)
    db.session.flush()
    return document


def _looks_like(data: bytes, ext: str) -> bool:
    magic = {"pdf": b"%PDF-", "jpg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n"}
    return data.startswith(magic[ext])


def sources_in(grid: Grid, active_only: bool = False) -> list[Source]:
    query = sa.select(Source).join(Grid, Grid.id == Source.grid_id).where(subtree_clause(grid.path))
    if active_only:
        query = query.where(Source.status == catalog.ACTIVE)
    return list(db.session.scalars(query.order_by(Source.name, Source.id)))


def source_points(grid: Grid) -> list[dict[str, Any]]:
    """The active sources of a grid with their positions: what the patrol page shows offline."""
    rows = db.session.execute(
        sa.select(
            Source.id,
            Source.name,
            Source.kind,
            Source.key_polluter,
            Source.special_supervision,
            Source.address,
            Source.location,
        )
        .join(Grid, Grid.id == Source.grid_id)
        .where(subtree_clause(grid.path), Source.status == catalog.ACTIVE)
        .order_by(Source.name, Source.id)
    )
    result = []
    for sid, name, kind, key, special, address, location in rows:
        shape = to_shape(location) if location is not None else None
        result.append(
            {
                "id": sid,
                "name": name,
                "kind": kind,
                "key": key,
                "special": special,
                "address": address,
                "lon": shape.x if shape else None,
                "lat": shape.y if shape else None,
            }
        )
    return result


def photo_store() -> PhotoStore:
    """Where photos and documents live (a local folder by default)."""
    import os

    folder = current_app.config.get("PHOTO_STORAGE_DIR") or os.path.join(
        current_app.instance_path, "photos"
    )
    return LocalStore(folder)


# --- sync from the phone --------------------------------------------------------------------


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


ITEM_KINDS = ("patrol.start", "patrol.route", "visit", "problem", "patrol.end")
MAX_ROUTE_SPEED_MS = 70.0  # m/s (about 250 km/h): a faster hop between fixes is a bad fix
MIN_ROUTE_STEP_M = 25.0  # issue 3: keep points at least 25 m apart


def parse_item(raw: Any) -> Item:
    """Check the envelope of one queued item; SyncRefused if it is malformed."""
    if not isinstance(raw, dict):
        raise SyncRefused("malformed", _l("An item is not an object."), 400)
    client_id = str(raw.get("client_id") or "")
    if not _is_uuid(client_id):
        raise SyncRefused("malformed", _l("An item has no valid client id."), 400)
    kind = raw.get("kind")
    if kind not in ITEM_KINDS:
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


def _is_uuid(value: str) -> bool:
    import uuid

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
    handler = _HANDLERS[item.kind]
    with db.session.begin_nested():
        record_id = handler(up, item, timing)
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


def _timed(record, stamp: clock.Stamp, timing: clock.Timing, received_at: datetime) -> None:
    record.device_ms = stamp.device_ms
    record.elapsed_ms = stamp.elapsed_ms
    record.boot = stamp.boot
    record.received_at = received_at
    record.clock_offset_s = timing.offset_s
    record.clock_basis = timing.basis
    record.clock_skewed = timing.skewed


def supervised_grids(user: User, day: date) -> list[Grid]:
    """The grids where the user is a supervisor on `day` (where they patrol)."""
    return list(
        db.session.scalars(
            sa.select(Grid)
            .join(Membership, Membership.grid_id == Grid.id)
            .where(
                Membership.user_id == user.id,
                Membership.role == Role.SUPERVISOR,
                active_on_clause(day),
            )
            .order_by(Grid.level.desc(), Grid.path)
        )
    )


def _patrol_of(user: User, client_id: Any) -> Patrol:
    patrol = db.session.scalar(sa.select(Patrol).where(Patrol.client_id == str(client_id)))
    if patrol is None:
        raise SyncRefused("unknown_patrol", _l("The patrol has not arrived yet."), 409)
    if patrol.supervisor_id != user.id:
        raise SyncRefused("forbidden", _l("This is someone else's patrol."), 403)
    return patrol


def _start(up: Upload, item: Item, timing: clock.Timing) -> int:
    user = up.user
    day = local_date(timing.at)
    grids = {g.id: g for g in supervised_grids(user, day)}
    try:
        grid_id = int(item.data.get("grid_id"))
    except (TypeError, ValueError):
        grid_id = None
    if grid_id not in grids:
        raise SyncRefused(
            "not_your_grid", _l("You are not a supervisor of this grid on that day."), 403
        )
    coords = _coordinates(item.data, "at the start")
    patrol = Patrol(
        client_id=item.client_id,
        supervisor_id=user.id,
        grid_id=grid_id,
        started_at=timing.at,
        start_point=point(*coords[:2]) if coords else None,
        start_accuracy_m=coords[2] if coords else None,
    )
    _timed(patrol, item.stamp, timing, up.received_at)
    db.session.add(patrol)
    db.session.flush()
    return patrol.id


def _route(up: Upload, item: Item, timing: clock.Timing) -> int:
    user = up.user
    patrol = _patrol_of(user, item.data.get("patrol"))
    points = item.data.get("points")
    if not isinstance(points, list) or len(points) > 2000:
        raise SyncRefused("malformed", _l("The route points are not a list."), 400)
    known = set(
        db.session.scalars(sa.select(RoutePoint.device_ms).where(RoutePoint.patrol_id == patrol.id))
    )
    for raw in points:
        try:
            device_ms, elapsed_ms, lon, lat = (
                int(raw[0]),
                float(raw[1]),
                float(raw[2]),
                float(raw[3]),
            )
            accuracy = None if len(raw) < 5 or raw[4] is None else float(raw[4])
        except (TypeError, ValueError, IndexError) as exc:
            raise SyncRefused(
                "malformed", _l("A route point is not [time, elapsed, lon, lat, accuracy]."), 400
            ) from exc
        if device_ms in known or _coordinates({"lon": lon, "lat": lat}) is None:
            continue
        at = up.place(clock.Stamp(device_ms, elapsed_ms, item.stamp.boot)).at
        db.session.add(
            RoutePoint(
                patrol_id=patrol.id,
                recorded_at=at,
                device_ms=device_ms,
                lon=lon,
                lat=lat,
                accuracy_m=accuracy,
            )
        )
        known.add(device_ms)
    db.session.flush()
    _rebuild_route(patrol)
    return patrol.id


def thin_route(points: Sequence[tuple[datetime, float, float]]) -> list[tuple[float, float]]:
    """Keep points at least MIN_ROUTE_STEP_M apart, dropping fixes that imply an impossible
    speed from the last kept point (the phone filters too; this is the server's guarantee)."""
    kept: list[tuple[datetime, float, float]] = []
    for at, lon, lat in points:
        if kept:
            last_at, last_lon, last_lat = kept[-1]
            distance = haversine_m(last_lon, last_lat, lon, lat)
            seconds = max((at - last_at).total_seconds(), 0.001)
            if distance < MIN_ROUTE_STEP_M or distance / seconds > MAX_ROUTE_SPEED_MS:
                continue
        kept.append((at, lon, lat))
    return [(lon, lat) for _at, lon, lat in kept]


def _rebuild_route(patrol: Patrol) -> None:
    rows = db.session.execute(
        sa.select(RoutePoint.recorded_at, RoutePoint.lon, RoutePoint.lat)
        .where(RoutePoint.patrol_id == patrol.id)
        .order_by(RoutePoint.recorded_at, RoutePoint.device_ms)
    ).all()
    coords = thin_route([tuple(r) for r in rows])
    if len(coords) >= 2:
        from geoalchemy2.shape import from_shape

        patrol.route = from_shape(LineString(coords), srid=4326)
        patrol.route_length_m = sum(haversine_m(*a, *b) for a, b in itertools.pairwise(coords))
    db.session.flush()


def _source_for(patrol: Patrol, source_id: Any) -> Source:
    try:
        source = db.session.get(Source, int(source_id))
    except (TypeError, ValueError):
        source = None
    grid = db.session.get(Grid, patrol.grid_id)
    if source is None or source.grid_id is None:
        raise SyncRefused("unknown_source", _l("Unknown source."), 422)
    village = db.session.get(Grid, source.grid_id)
    if not village.path.startswith(grid.path):
        raise SyncRefused("not_your_grid", _l("This source is not in the patrol's grid."), 403)
    return source


def _visit(up: Upload, item: Item, timing: clock.Timing) -> int:
    user = up.user
    patrol = _patrol_of(user, item.data.get("patrol"))
    source = _source_for(patrol, item.data.get("source_id"))
    outcome = item.data.get("outcome")
    if outcome not in catalog.VISIT_OUTCOMES:
        raise SyncRefused("malformed", _l("A visit is normal or found a problem."), 400)
    coords = _coordinates(item.data, "of the visit")
    visit = Visit(
        client_id=item.client_id,
        patrol_id=patrol.id,
        source_id=source.id,
        visited_at=timing.at,
        visited_on=local_date(timing.at),
        outcome=outcome,
        note=str(item.data.get("note") or "")[:1000] or None,
        point=point(*coords[:2]) if coords else None,
        accuracy_m=coords[2] if coords else None,
    )
    _timed(visit, item.stamp, timing, up.received_at)
    db.session.add(visit)
    db.session.flush()
    return visit.id


def _problem(up: Upload, item: Item, timing: clock.Timing) -> int:
    user = up.user
    data = item.data
    patrol = _patrol_of(user, data["patrol"]) if data.get("patrol") else None
    visit = None
    if data.get("visit"):
        visit = db.session.scalar(sa.select(Visit).where(Visit.client_id == str(data["visit"])))
        if visit is None:
            raise SyncRefused("unknown_visit", _l("The visit has not arrived yet."), 409)
    category = data.get("category")
    if category not in catalog.CATEGORY_CODES:
        raise SyncRefused("missing_field", _l("Choose the category of the problem."), 422)
    severity = data.get("severity")
    if severity not in catalog.SEVERITIES:
        raise SyncRefused("missing_field", _l("Choose how serious the problem is."), 422)
    description = str(data.get("description") or "").strip()
    if not description:
        raise SyncRefused("missing_field", _l("Describe the problem."), 422)
    coords = _coordinates(data, "of the problem")
    source = _source_for(patrol, data["source_id"]) if patrol and data.get("source_id") else None
    if patrol is not None:
        grid_id = patrol.grid_id
    elif coords is not None:
        village = grid_services.locate(coords[0], coords[1], 4)
        if village is None:
            raise SyncRefused("outside", _l("The place is outside every grid."), 422)
        grid_id = village.id
    else:
        raise SyncRefused("missing_field", _l("A problem needs a place."), 422)
    problem = Problem(
        client_id=item.client_id,
        reporter_id=user.id,
        grid_id=grid_id,
        patrol_id=patrol and patrol.id,
        visit_id=visit and visit.id,
        source_id=source and source.id,
        found_at=timing.at,
        location=point(*coords[:2]) if coords else None,
        accuracy_m=coords[2] if coords else None,
        category=category,
        severity=severity,
        description=description[:2000],
        stopped_on_spot=bool(data.get("stopped_on_spot")),
    )
    _timed(problem, item.stamp, timing, up.received_at)
    db.session.add(problem)
    db.session.flush()
    from patrol import escalation, problems  # the workflow sits above the patrol records

    problems.start(problem, escalation.State.VILLAGE, user, escalation.Capacity.VILLAGE)
    return problem.id


def _end(up: Upload, item: Item, timing: clock.Timing) -> int:
    user = up.user
    patrol = _patrol_of(user, item.data.get("patrol"))
    if patrol.ended_at is not None:
        raise SyncRefused("ended", _l("This patrol has already ended."), 409)
    coords = _coordinates(item.data, "at the end")
    patrol.ended_at = max(timing.at, patrol.started_at)
    patrol.end_point = point(*coords[:2]) if coords else None
    patrol.end_accuracy_m = coords[2] if coords else None
    patrol.end_client_id = item.client_id
    db.session.flush()
    _rebuild_route(patrol)
    return patrol.id


_HANDLERS = {
    "patrol.start": _start,
    "patrol.route": _route,
    "visit": _visit,
    "problem": _problem,
    "patrol.end": _end,
}


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


# --- photos -----------------------------------------------------------------------------------

DUPLICATE_WINDOW = timedelta(days=180)  # phash candidates: the grid's photos of half a year
DUPLICATE_CANDIDATES = 2000


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
    """Validate, process and keep one photo for a visit or problem of the user's, once.

    Returns (status, response); a repeat of the same client id returns the first answer.
    """
    user, received_at = up.user, up.received_at
    done = receipt(upload.client_id)
    if done is not None:
        if done.user_id != user.id:
            raise SyncRefused("conflict", _l("This item was sent by someone else."), 409)
        return 200, done.response
    visit = problem = None
    if upload.parent_kind == "visit":
        visit = db.session.scalar(
            sa.select(Visit).where(Visit.client_id == upload.parent_client_id)
        )
        patrol = visit and db.session.get(Patrol, visit.patrol_id)
        owner = patrol and patrol.supervisor_id
        grid_id = patrol and patrol.grid_id
    elif upload.parent_kind == "problem":
        problem = db.session.scalar(
            sa.select(Problem).where(Problem.client_id == upload.parent_client_id)
        )
        owner = problem and problem.reporter_id
        grid_id = problem and problem.grid_id
    else:
        raise SyncRefused("malformed", _l("A photo belongs to a visit or a problem."), 400)
    if visit is None and problem is None:
        raise SyncRefused(
            "unknown_parent", _l("The record of this photo has not arrived yet."), 409
        )
    if owner != user.id:
        raise SyncRefused("forbidden", _l("This is someone else's record."), 403)
    grid = db.session.get(Grid, grid_id)
    timing = up.place(upload.stamp)
    known = _known_hashes(grid, received_at, visit, problem)
    capture = photos.Capture(
        captured_at=timing.at,
        fix=(upload.fix[1], upload.fix[0]) if upload.fix else None,
        fix_accuracy_m=upload.fix[2] if upload.fix else None,
        grid_area=grid_services.grid_shape(grid),
        grid_name=grid.name,
        supervisor_name=user.name,
        timezone=local_zone(),
        reported_gps=upload.reported_gps,
        reported_taken_at=upload.reported_taken_at,
        reported_sha256=upload.reported_sha256,
        known_hashes=known,
    )
    try:
        result = photos.process(
            data, capture, font_path=current_app.config.get("WATERMARK_FONT") or photos.DEFAULT_FONT
        )
    except photos.PhotoRejected as exc:
        raise SyncRefused(exc.code, exc.message, exc.status) from exc
    flags = [{"code": f.code, "detail": f.detail} for f in result.flags]
    reused = db.session.scalar(
        sa.select(Photo.id)
        .where(Photo.sha256.in_([result.facts.sha256, upload.reported_sha256 or "-"]))
        .limit(1)
    )
    if reused is not None and not any(f["code"] == "duplicate" for f in flags):
        flags.append(
            {"code": "duplicate", "detail": {"reference": f"photo:{reused}", "distance": 0}}
        )
    if timing.skewed:
        flags.append({"code": "clock_skewed", "detail": {"offset_s": round(timing.offset_s)}})
    sha = result.facts.sha256
    stored = put_photo(
        store, sha, result.facts.format, result.original, result.display, result.thumbnail
    )
    exif_gps = result.facts.gps or upload.reported_gps
    photo = Photo(
        client_id=upload.client_id,
        uploaded_by_id=user.id,
        visit_id=visit and visit.id,
        problem_id=problem and problem.id,
        grid_id=grid.id,
        captured_at=timing.at,
        sha256=sha,
        reported_sha256=upload.reported_sha256,
        original_key=stored.original_key,
        display_key=stored.display_key,
        thumb_key=stored.thumb_key,
        content_type=stored.content_type,
        size_bytes=len(data),
        width=result.facts.width,
        height=result.facts.height,
        phash=result.phash,
        taken_at=result.facts.taken_at or upload.reported_taken_at,
        position=point(result.position[1], result.position[0]) if result.position else None,
        fix_lat=upload.fix[1] if upload.fix else None,
        fix_lon=upload.fix[0] if upload.fix else None,
        fix_accuracy_m=upload.fix[2] if upload.fix else None,
        exif_lat=exif_gps[0] if exif_gps else None,
        exif_lon=exif_gps[1] if exif_gps else None,
        sources=dict(result.sources),
        flags=flags,
    )
    _timed(photo, upload.stamp, timing, received_at)
    with db.session.begin_nested():
        db.session.add(photo)
        db.session.flush()
        response = {
            "client_id": upload.client_id,
            "kind": "photo",
            "status": 201,
            "id": photo.id,
            "flags": [f["code"] for f in flags],
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


def _known_hashes(
    grid: Grid, now: datetime, visit: Visit | None, problem: Problem | None
) -> list[tuple[str, str]]:
    """Perceptual hashes of photos already used in other records of the grid's township."""
    area = db.session.get(Grid, grid.parent_id) if grid.parent_id else grid
    rows = db.session.execute(
        sa.select(Photo.id, Photo.phash, Photo.visit_id, Photo.problem_id)
        .join(Grid, Grid.id == Photo.grid_id)
        .where(subtree_clause(area.path), Photo.received_at >= now - DUPLICATE_WINDOW)
        .order_by(Photo.id.desc())
        .limit(DUPLICATE_CANDIDATES)
    )
    same = {("visit", visit.id) if visit else None, ("problem", problem.id) if problem else None}
    return [
        (f"photo:{pid}", phash)
        for pid, phash, vid, prid in rows
        if ("visit", vid) not in same and ("problem", prid) not in same
    ]


# --- coverage ---------------------------------------------------------------------------------


def coverage_inputs(grid: Grid, first: date, last: date):
    """Sources of a grid's subtree with their history, and the visits between two days."""
    from patrol import coverage

    changes: dict[int, list[tuple[date, str]]] = {}
    sources = db.session.execute(
        sa.select(Source.id, Source.grid_id, Source.created_on)
        .join(Grid, Grid.id == Source.grid_id)
        .where(subtree_clause(grid.path))
    ).all()
    ids = [s.id for s in sources]
    for chunk in range(0, len(ids), 900):
        for sid, on, status in db.session.execute(
            sa.select(SourceChange.source_id, SourceChange.effective_on, SourceChange.status).where(
                SourceChange.source_id.in_(ids[chunk : chunk + 900]),
                SourceChange.status.is_not(None),
            )
        ):
            changes.setdefault(sid, []).append((on, status))
    lives = [
        coverage.SourceLife(s.id, s.grid_id, s.created_on, changes.get(s.id, ())) for s in sources
    ]
    visits = [
        coverage.Visit(source_id, day, supervisor, patrol_grid)
        for source_id, day, supervisor, patrol_grid in db.session.execute(
            sa.select(Visit.source_id, Visit.visited_on, Patrol.supervisor_id, Patrol.grid_id)
            .join(Patrol, Patrol.id == Visit.patrol_id)
            .join(Grid, Grid.id == Patrol.grid_id)
            .where(subtree_clause(grid.path), Visit.visited_on >= first, Visit.visited_on <= last)
        )
    ]
    return lives, visits


def patrols_on(grid: Grid, day: date) -> list[tuple[int, int, str, int]]:
    """(grid id, supervisor id, supervisor name, patrols) for patrols started or visiting on
    `day` in the grid's subtree."""
    start = datetime.combine(day, datetime.min.time(), ZoneInfo(str(local_zone())))
    start_utc = start.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    end_utc = start_utc + timedelta(days=1)
    rows = db.session.execute(
        sa.select(Patrol.grid_id, Patrol.supervisor_id, User.name, sa.func.count(Patrol.id))
        .join(User, User.id == Patrol.supervisor_id)
        .join(Grid, Grid.id == Patrol.grid_id)
        .where(
            subtree_clause(grid.path),
            Patrol.started_at < end_utc,
            sa.or_(Patrol.ended_at.is_(None), Patrol.ended_at >= start_utc),
        )
        .group_by(Patrol.grid_id, Patrol.supervisor_id, User.name)
    ).all()
    return [tuple(r) for r in rows]
