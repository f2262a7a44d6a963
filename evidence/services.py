"""Photo evidence kept: a photo processed (evidence/photos.py), its files stored (storage.py),
its record written and linked to the record it belongs to. Services flush; callers commit."""

import contextlib
import ctypes
import ctypes.util
import dataclasses
import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage

from evidence import photos
from evidence.models import Photo
from evidence.s3 import S3Settings, S3Store
from evidence.storage import LocalStore, PhotoStore, StoredPhoto, put_photo
from extensions import db
from grid.errors import ServiceError
from grid.inputs import Invalid
from grid.models import Grid, point, subtree_clause
from grid.queries import grid_shape
from grid.time import local_zone

DUPLICATE_WINDOW = timedelta(days=180)  # phash candidates: the township's photos of half a year
DUPLICATE_CANDIDATES = 2000


def photo_store() -> PhotoStore:
    """Where photos and documents live: PHOTO_STORE when configured (a test's store), else a
    bucket of S3-compatible object storage when PHOTO_S3_BUCKET is set (one client per app: it
    keeps its connections), else a local folder (PHOTO_STORAGE_DIR)."""
    configured = current_app.config.get("PHOTO_STORE")
    if configured is not None:
        return configured
    settings = S3Settings.from_config(current_app.config)
    if settings is not None:
        store = current_app.extensions.get("gridpatrol_s3")
        if store is None or store.settings != settings:
            store = current_app.extensions["gridpatrol_s3"] = S3Store(settings)
        return store
    folder = current_app.config.get("PHOTO_STORAGE_DIR") or os.path.join(
        current_app.instance_path, "photos"
    )
    return LocalStore(folder)


def limits(anonymous: bool = False) -> photos.Limits:
    """The pipeline's limits: stricter for a member of the public (the complaint form)."""
    most = current_app.config["PHOTO_MAX_BYTES"]
    if anonymous:
        base = photos.ANONYMOUS_LIMITS
        return dataclasses.replace(base, max_bytes=min(base.max_bytes, most))
    return dataclasses.replace(photos.DEFAULT_LIMITS, max_bytes=most)


def read_uploads(files: Sequence[FileStorage], most: int, anonymous: bool = False) -> list[bytes]:
    """The bytes of the photos a form sent (no more than `most`); a file over the size limit is
    read one byte past it, so that the pipeline refuses it rather than a cut copy."""
    chosen = [f for f in files if f and f.filename]
    if len(chosen) > most:
        raise Invalid("photos", _l("Send at most %(n)s photos.", n=most))
    most_bytes = limits(anonymous).max_bytes + 1
    data = []
    for upload in chosen:
        try:
            data.append(upload.read(most_bytes))
        finally:
            upload.close()  # a large upload is spooled to a temporary file: close it now
    return data


def refusal(exc: photos.PhotoRejected) -> Any:
    """The pipeline's reason for refusing a photo, in the reader's language (lazy)."""
    return _l(exc.msgid, **exc.params)


class Busy(ServiceError):
    """Too many anonymous photos are being decoded in this process: try again shortly (503)."""

    status = 503
    retry_after = 5


_SLOTS_LOCK = threading.Lock()


def _anonymous_slots() -> threading.BoundedSemaphore:
    """This process's permits for decoding anonymous photos (ANONYMOUS_PHOTO_DECODES at once):
    the public cannot take every worker thread's CPU, whatever it sends."""
    ext = current_app.extensions
    with _SLOTS_LOCK:
        if "anonymous_photo_decodes" not in ext:
            ext["anonymous_photo_decodes"] = threading.BoundedSemaphore(
                current_app.config["ANONYMOUS_PHOTO_DECODES"]
            )
        return ext["anonymous_photo_decodes"]


@contextlib.contextmanager
def decode_slot(anonymous: bool) -> Iterator[None]:
    """A permit to decode: none needed for staff; for the public, one of a few, waited for
    briefly (never while holding the database's write lock), else Busy."""
    if not anonymous:
        yield
        return
    slots = _anonymous_slots()
    if not slots.acquire(timeout=current_app.config["ANONYMOUS_PHOTO_WAIT_S"]):
        raise Busy(_l("The server is busy with other photos. Please try again in a moment."))
    try:
        yield
    finally:
        slots.release()


_LIBC = ctypes.util.find_library("c")
_malloc_trim = getattr(ctypes.CDLL(_LIBC), "malloc_trim", None) if _LIBC else None
_TRIM_ABOVE_PIXELS = 4_000_000


def give_back_memory() -> None:
    """After decoding a large image, hand the freed heap back to the system (glibc keeps it
    otherwise: a worker would stay at the size of its largest decode)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A photo processed and its files stored, before the write transaction: `keep` only adds
    its row (the database's write lock is not held while decoding). `fix` is the browser's
    position it was processed with (lon, lat, accuracy), kept on its row."""

    result: photos.ProcessedPhoto
    stored: StoredPhoto
    fix: tuple[float, float, float | None] | None = None


def prepare(
    data: bytes, moment: photos.Capture, store: PhotoStore, anonymous: bool = False
) -> Prepared:
    """Decode, check, derive and store one photo; PhotoRejected, or Busy for the public when
    too many of its photos are being decoded. Call it before unit_of_work()."""
    with decode_slot(anonymous):
        try:
            result = process(data, moment, limits(anonymous))
        except photos.PhotoRejected:
            give_back_memory()  # a decode may have failed half-way
            raise
    facts = result.facts
    if anonymous or facts.width * facts.height > _TRIM_ABOVE_PIXELS:
        give_back_memory()
    stored = put_photo(
        store, facts.sha256, facts.format, result.original, result.display, result.thumbnail
    )
    fix = (moment.fix[1], moment.fix[0], moment.fix_accuracy_m) if moment.fix else None
    return Prepared(result, stored, fix)


def prepare_or_refuse(
    data: bytes, moment: photos.Capture, store: PhotoStore, anonymous: bool = False
) -> Prepared:
    """`prepare`, with a refusal told as a ServiceError (for forms)."""
    try:
        return prepare(data, moment, store, anonymous)
    except photos.PhotoRejected as exc:
        raise Invalid("photos", _l("A photo was refused: %(why)s", why=refusal(exc))) from exc


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


def process(
    data: bytes, moment: photos.Capture, limits_: photos.Limits | None = None
) -> photos.ProcessedPhoto:
    """The whole pipeline with the configured limits and watermark font; PhotoRejected."""
    font = current_app.config.get("WATERMARK_FONT") or photos.DEFAULT_FONT
    return photos.process(data, moment, limits_ or limits(), font_path=font)


def process_or_refuse(data: bytes, moment: photos.Capture) -> photos.ProcessedPhoto:
    """`process`, with a refusal told as a ServiceError (for forms)."""
    try:
        return process(data, moment)
    except photos.PhotoRejected as exc:
        raise Invalid("photos", _l("A photo was refused: %(why)s", why=refusal(exc))) from exc


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
    store: PhotoStore | None,
    result: photos.ProcessedPhoto | Prepared,
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
    writes it with its link. A `Prepared` photo's files are already stored."""
    if isinstance(result, Prepared):
        stored, fix, result = result.stored, fix or result.fix, result.result
    else:
        if store is None:
            raise ValueError("a photo not prepared is stored here: give the store")
        stored = put_photo(
            store,
            result.facts.sha256,
            result.facts.format,
            result.original,
            result.display,
            result.thumbnail,
        )
    facts = result.facts
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
