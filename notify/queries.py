"""What pages read of a person's notifications."""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from extensions import db
from notify.models import Notification


def recent(user_id: int, limit: int = 50) -> list[Notification]:
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        )
    )


# The home page's count of unread notifications (grid.registry.HOME_COUNTS).

_UNREAD = (
    sa.select(sa.func.count(Notification.id))
    .where(Notification.user_id == sa.bindparam("user_id"), Notification.read_at.is_(None))
    .scalar_subquery()
)


def unread_home_count(user_id: int, posts: Sequence[Any]) -> tuple[None, dict[str, Any]]:
    return None, {}  # one form for everyone; `user_id` is given to every count


def unread_statement(_shape: None) -> sa.ScalarSelect:
    return _UNREAD
