"""The kinds of record that hold photos (visits, problems, and those to come), each registered by
its domain with its link table (evidence.models.photo_links): the one entry per kind that the
photo pages and the sync API (sync.registry.PHOTO_PARENTS) refer to."""

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from grid.registry import Registry


@dataclass(frozen=True)
class PhotoOwner:
    """A kind of record holding photos: its link table, and who may see its photos besides
    those who see the photo's grid (`may_view(photo_id)`, asked about the signed-in person: a
    problem's assignee from a department, say)."""

    links: sa.Table
    may_view: Callable[[int], bool] | None = None
    order: int = 100


PHOTO_OWNERS: Registry[PhotoOwner] = Registry("photo_owners")
