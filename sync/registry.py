"""The kinds of item and photo the phone's queue sends, each registered by the domain that
records it: patrol (a patrol's start, route, visits and end), problems (a problem found), and
those to come (an alert's on-site feedback)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grid.registry import Registry


@dataclass(frozen=True)
class ItemKind:
    """A kind of queued item: `record(upload, item, timing)` records it (flushing, never
    committing) and returns the new record's id, or raises SyncRefused or ServiceError, which
    change nothing (the item is applied in a savepoint)."""

    record: Callable[[Any, Any, Any], int]
    order: int = 100


@dataclass(frozen=True)
class PhotoParent:
    """A kind of record a queued photo may belong to (`parent_kind` of /sync/photos), under the
    same key as its evidence.registry.PHOTO_OWNERS entry (which holds its link table):
    `find(client_id)` gives (record id, the user who owns it, its grid id), or None when the
    record has not arrived yet."""

    find: Callable[[str], tuple[int, int | None, int] | None]
    order: int = 100


ITEM_KINDS: Registry[ItemKind] = Registry("sync.item_kinds")
PHOTO_PARENTS: Registry[PhotoParent] = Registry("sync.photo_parents")
