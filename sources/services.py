"""Actions on the ledger (一企一档): sources, their status, village, surveys and documents.
Services flush; callers commit."""

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from geoalchemy2.shape import to_shape

from evidence.storage import PhotoStore
from extensions import db
from grid.errors import ServiceError
from grid.inputs import Invalid, read_position
from grid.models import Grid, GridKind, User, point
from grid.queries import locate
from grid.time import local_today
from sources import catalog
from sources.models import Source, SourceChange, SourceDocument, SourceSurvey


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
    lon, lat, _accuracy = read_position({"lon": lon, "lat": lat}) or (lon, lat, None)
    village = locate(lon, lat, 4)
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
        created_on=on or local_today(),
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
                effective_on=local_today(),
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
            effective_on=local_today(),
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
    if effective_on > local_today() + timedelta(days=366):
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
    if surveyed_on > local_today():
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
    title = (title or "").strip()
    if not title or len(title) > 120:
        raise ServiceError(_l("A document needs a title (up to 120 characters)."))
    ext = DOCUMENT_TYPES.get(content_type)
    if ext is None or not _looks_like(data, ext):
        raise Invalid("file", _l("Documents must be PDF, JPEG or PNG files."))
    if len(data) > MAX_DOCUMENT_BYTES:
        raise Invalid("file", _l("The document is larger than 20 MB."))
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
