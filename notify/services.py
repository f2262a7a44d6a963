"""One way to tell people something needs them: an in-app notification now; pushing it to their
phones (Web Push) plugs in here later, for the problems and the alerts alike. Services flush;
callers commit."""

from collections.abc import Iterable

import sqlalchemy as sa

from extensions import db
from grid.time import utcnow
from notify.models import Notification


def notify(
    user_ids: Iterable[int], kind: str, subject: str, message: str, params: dict | None = None
) -> int:
    """Tell each user (once, whatever the iterable repeats); `message` is an English msgid
    with %(name)s placeholders filled from `params` when shown. Returns how many were told."""
    ids = sorted({uid for uid in user_ids if uid})
    if ids:
        db.session.execute(
            sa.insert(Notification),
            [
                {
                    "user_id": uid,
                    "kind": kind,
                    "subject": subject,
                    "message": message,
                    "params": dict(params or {}),
                    "created_at": utcnow(),
                }
                for uid in ids
            ],
        )
    return len(ids)


def mark_read(user_id: int, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all of them when `ids` is None)."""
    query = sa.update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if ids is not None:
        query = query.where(Notification.id.in_(list(ids)))
    return db.session.execute(query.values(read_at=utcnow())).rowcount or 0
