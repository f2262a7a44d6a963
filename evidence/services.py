"""Photo evidence kept: a photo processed (evidence/photos.py), its files stored (storage.py),
its record written and linked to the record it belongs to. Services flush; callers commit."""

import dataclasses
import os
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage

from evidence import photos
from evidence.models import Photo
from evidence.storage import LocalStore, PhotoStore, put_photo
from extensions import db
from grid.errors import ServiceError
from grid.models import Grid, point, subtree_clause
from grid.queries import grid_shape
from grid.time import local_zone

DUPLICATE_WINDOW = timedelta(days=180)  # phash candidates: the township's photos of half a year
DUPLICATE_CANDIDATES = 2000


def photo_store() -> PhotoStore:
    """Where photos and documents live (a local folder by default: PHOTO_STORAGE_DIR)."""
    folder = current_app.config.get("PHOTO_STORAGE_DIR") or os.path.join(
        current_app.instance_path, "photos"
    )
    return LocalStore(folder)


def limits() -> photos.Limits:
    return dataclasses.replace(
        photos.DEFAULT_LIMITS, max_bytes=current_app.config["PHOTO_MAX_BYTES"]
    )


def read_uploads(files: Sequence[FileStorage], most: int) -> list[bytes]:
    """The bytes of the photos a form sent (no more than `most`); a file over the size limit is
    read one byte past it, so that the pipeline refuses it rather than a cut copy."""
    chosen = [f for f in files if f and f.filename]
    if len(chosen) > most:
        raise ServiceError(_l("Send at most %(n)s photos.", n=most))
    return [f.read(limits().max_bytes + 1) for f in chosen]


def capture(
    grid: Grid,
    person: str,
    captured_at: datetime,
    *,
    fix: tuple[float, float, float | None] | None = None,
    reported_gps: tuple[float, float] | None = None,
    reported_taken_at: datetime | None = None,
    reported_sha256: str | None = None,
    known_hashes: Sequence[tuple[str, str]] = (),
) -> photos.Capture:
    """What the pipeline is told of the moment of capture; `fix` is (lon, lat, accuracy)."""
    return photos.Capture(
        captured_at=captured_at,
        fix=(fix[1], fix[0]) if fix else None,
        fix_accuracy_m=fix[2] if fix else None,
        grid_area=grid_shape(grid),
        grid_name=grid.name,
        supervisor_name=person,
        timezone=local_zone(),
        reported_gps=reported_gps,
        reported_taken_at=reported_taken_at,
        reported_sha256=reported_sha256,
        known_hashes=known_hashes,
    )


def process(data: bytes, moment: photos.Capture) -> photos.ProcessedPhoto:
    """The whole pipeline with the configured limits and watermark font; PhotoRejected."""
    font = current_app.config.get("WATERMARK_FONT") or photos.DEFAULT_FONT
    return photos.process(data, moment, limits(), font_path=font)


def process_or_refuse(data: bytes, moment: photos.Capture) -> photos.ProcessedPhoto:
    """`process`, with a refusal told as a ServiceError (for forms)."""
    try:
        return process(data, moment)
    except photos.PhotoRejected as exc:
        raise ServiceError(_l("A photo was refused: %(why)s", why=exc.message)) from exc


def known_hashes(grid: Grid, now: datetime, besides: Any = None) -> list[tuple[str, str]]:
    """Perceptual hashes of the photos of the grid's township in the last half year, for the
    duplicate flag; `besides` (a SELECT of photo ids) leaves out the record's own photos."""
    area = db.session.get(Grid, grid.parent_id) if grid.parent_id else grid
    query = (
        sa.select(Photo.id, Photo.phash)
        .join(Grid, Grid.id == Photo.grid_id)
        .where(subtree_clause(area.path), Photo.received_at >= now - DUPLICATE_WINDOW)
        .order_by(Photo.id.desc())
        .limit(DUPLICATE_CANDIDATES)
    )
    if besides is not None:
        query = query.where(Photo.id.not_in(besides))
    return [(f"photo:{pid}", phash) for pid, phash in db.session.execute(query)]


def reused(*sha256: str | None) -> int | None:
    """A photo already kept with one of these SHA-256 (of the file, or of the phone's
    original), if any."""
    wanted = [s for s in sha256 if s]
    if not wanted:
        return None
    return db.session.scalar(sa.select(Photo.id).where(Photo.sha256.in_(wanted)).limit(1))


def keep(
    store: PhotoStore,
    result: photos.ProcessedPhoto,
    *,
    grid_id: int,
    uploaded_by_id: int | None,
    captured_at: datetime,
    client_id: str | None = None,
    fix: tuple[float, float, float | None] | None = None,
    reported_gps: tuple[float, float] | None = None,
    reported_taken_at: datetime | None = None,
    reported_sha256: str | None = None,
    extra_flags: Sequence[dict[str, Any]] = (),
) -> Photo:
    """Store a processed photo's files (first: a cut connection leaves at worst a file without
    a record, never a record without its file) and add its record to the session; `attach`
    writes it with its link."""
    facts = result.facts
    stored = put_photo(
        store, facts.sha256, facts.format, result.original, result.display, result.thumbnail
    )
    exif_gps = facts.gps or reported_gps
    photo = Photo(
        client_id=client_id or str(uuid.uuid4()),
        uploaded_by_id=uploaded_by_id,
        grid_id=grid_id,
        captured_at=captured_at,
        sha256=facts.sha256,
        reported_sha256=reported_sha256,
        original_key=stored.original_key,
        display_key=stored.display_key,
        thumb_key=stored.thumb_key,
        content_type=stored.content_type,
        size_bytes=len(result.original),
        width=facts.width,
        height=facts.height,
        phash=result.phash,
        taken_at=facts.taken_at or reported_taken_at,
        position=point(result.position[1], result.position[0]) if result.position else None,
        fix_lat=fix[1] if fix else None,
        fix_lon=fix[0] if fix else None,
        fix_accuracy_m=fix[2] if fix else None,
        exif_lat=exif_gps[0] if exif_gps else None,
        exif_lon=exif_gps[1] if exif_gps else None,
        sources=dict(result.sources),
        flags=[{"code": f.code, "detail": f.detail} for f in result.flags] + list(extra_flags),
    )
    db.session.add(photo)
    return photo


def attach(links: sa.Table, owner_id: int, photo: Photo, **extra: Any) -> None:
    """Link a kept photo to the record it belongs to (through the record's link table)."""
    db.session.flush()  # the photo's id
    owner = _owner_column(links).name
    db.session.execute(links.insert().values({owner: owner_id, "photo_id": photo.id, **extra}))


def photos_of(links: sa.Table, owner_ids: Sequence[int]) -> list[tuple[int, Photo]]:
    """(record id, photo) for the records' photos, each record's in the order they came."""
    if not owner_ids:
        return []
    owner = _owner_column(links)
    rows = db.session.execute(
        sa.select(owner, Photo)
        .join(Photo, Photo.id == links.c.photo_id)
        .where(owner.in_(list(owner_ids)))
        .order_by(Photo.captured_at, Photo.id)
    )
    return [(owner_id, photo) for owner_id, photo in rows]


def photo_ids(links: sa.Table, owner_id: int) -> sa.Select:
    """The ids of a record's photos (a SELECT, for use inside another query)."""
    return sa.select(links.c.photo_id).where(_owner_column(links) == owner_id)


def _owner_column(links: sa.Table) -> sa.Column:
    """The link table's column naming the record (`visit_id` of `visit_photo`)."""
    return next(c for c in links.c if c.primary_key and c.name != "photo_id")
