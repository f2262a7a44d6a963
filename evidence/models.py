"""Photo evidence, and how any record holds photos: a link table of its own per kind of record
(`visit_photo`, `problem_photo`, ...), made by `photo_links`, so that every link has real foreign
keys and a new domain attaches photos by adding its table, not a column here."""

from datetime import datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from grid.models import ClientId, PhoneTimed


class Photo(PhoneTimed, db.Model):
    """Photo evidence: the original as received (with its SHA-256), a watermarked display
    image and a thumbnail, the facts and where each came from, and the flags for reviewers."""

    __tablename__ = "photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ClientId, unique=True)
    # None for a member of the public (complaint form)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    captured_at: Mapped[datetime] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)  # of the file received
    reported_sha256: Mapped[str | None] = mapped_column(sa.String(64))  # of the phone's original
    original_key: Mapped[str] = mapped_column(sa.String(200))
    display_key: Mapped[str] = mapped_column(sa.String(200))
    thumb_key: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int] = mapped_column()
    width: Mapped[int] = mapped_column()
    height: Mapped[int] = mapped_column()
    phash: Mapped[str] = mapped_column(sa.String(16), index=True)
    taken_at: Mapped[datetime | None] = mapped_column()  # EXIF, camera local time
    position = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    fix_lat: Mapped[float | None] = mapped_column()
    fix_lon: Mapped[float | None] = mapped_column()
    fix_accuracy_m: Mapped[float | None] = mapped_column()
    exif_lat: Mapped[float | None] = mapped_column()
    exif_lon: Mapped[float | None] = mapped_column()
    sources: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # which fact came from where
    flags: Mapped[list] = mapped_column(sa.JSON, default=list)  # [{"code": ..., "detail": {...}}]


def photo_links(owner: str, *columns: sa.Column) -> sa.Table:
    """The table `<owner>_photo` linking records of the table `owner` to their photos, in the
    order they came; the table holds a photo once. `columns` add what the link says besides
    (the step of a problem a photo came with, say)."""
    return sa.Table(
        f"{owner}_photo",
        db.metadata,
        sa.Column(f"{owner}_id", sa.ForeignKey(f"{owner}.id"), primary_key=True),
        sa.Column("photo_id", sa.ForeignKey("photo.id"), primary_key=True),
        *columns,
        sa.Index(f"ix_{owner}_photo_photo_id", "photo_id", unique=True),
    )
