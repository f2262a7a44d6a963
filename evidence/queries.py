"""What pages and other domains read of the photos themselves (a record's photos are read
through its link table: evidence.services.photos_of)."""

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from evidence.models import Photo
from extensions import db


@dataclass
class Taken:
    """The photos one person took in a time: how many, and those that carry a flag."""

    total: int = 0
    flagged: list[Photo] = field(default_factory=list)


def photos_by(
    people: Collection[int] | sa.Select, start: datetime, end: datetime
) -> dict[int, Taken]:
    """The photos these people (ids, or a SELECT of them) uploaded, captured within [start, end)
    UTC, per person: the count, and the photos with at least one flag, oldest first (two
    queries). People without a photo are absent."""
    mine = sa.and_(
        Photo.uploaded_by_id.in_(people), Photo.captured_at >= start, Photo.captured_at < end
    )
    found: dict[int, Taken] = {}
    for user_id, total in db.session.execute(
        sa.select(Photo.uploaded_by_id, sa.func.count(Photo.id))
        .where(mine)
        .group_by(Photo.uploaded_by_id)
    ):
        found[user_id] = Taken(total)
    # json_array_length exists on both backends (SQLite's JSON1, PostgreSQL's json type).
    for photo in db.session.scalars(
        sa.select(Photo)
        .where(mine, sa.func.json_array_length(Photo.flags) > 0)
        .order_by(Photo.captured_at, Photo.id)
    ):
        found.setdefault(photo.uploaded_by_id, Taken()).flagged.append(photo)
    return found
