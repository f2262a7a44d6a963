"""What pages read of a person's notifications."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from extensions import db
from grid.access import Scope
from grid.models import Grid, subtree_clause
from notify.models import ChannelChoice, Delivery, Notification, PushSubscription, Robot


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


# --- channels -----------------------------------------------------------------------------------


def channel_choice(user_id: int) -> ChannelChoice:
    """The person's choice of channels (the defaults when they never chose)."""
    return db.session.get(ChannelChoice, user_id) or ChannelChoice(
        user_id=user_id, web_push=True, robot=True, sms=False
    )


def subscriptions(user_id: int) -> list[PushSubscription]:
    return list(
        db.session.scalars(
            sa.select(PushSubscription)
            .where(PushSubscription.user_id == user_id)
            .order_by(PushSubscription.created_at.desc(), PushSubscription.id.desc())
        )
    )


def subscriptions_by_vapid_key() -> dict[str | None, tuple[int, datetime | None]]:
    """Every browser subscription counted by the VAPID key it was made for (None: not recorded
    yet), with the last time a push to one of them was accepted."""
    rows = db.session.execute(
        sa.select(
            PushSubscription.vapid_public,
            sa.func.count(PushSubscription.id),
            sa.func.max(PushSubscription.last_ok_at),
        ).group_by(PushSubscription.vapid_public)
    )
    return {key: (count, last) for key, count, last in rows}


def unread_count(user_id: int) -> int:
    """How many of the user's notifications are unread: one COUNT on an index."""
    return (
        db.session.scalar(
            sa.select(sa.func.count(Notification.id)).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def manageable_grids(scope: Scope) -> list[Grid]:
    """The county and prefecture grids whose robots the user keeps (office staff and
    administrators there: grid.access Action.MANAGE_CHANNELS)."""
    if not scope.office_paths:
        return []
    return list(
        db.session.scalars(
            sa.select(Grid)
            .where(
                sa.or_(*(subtree_clause(p) for p in scope.office_paths)),
                Grid.level.in_((1, 2)),
            )
            .order_by(Grid.path)
        )
    )


def robots_of(grid_id: int) -> list[Robot]:
    return list(
        db.session.scalars(sa.select(Robot).where(Robot.grid_id == grid_id).order_by(Robot.id))
    )


def deliveries_statement(scope: Scope, user_id: int) -> sa.Select:
    """The delivery attempts a person may read, newest first: their own notifications', and
    the robots' of the grids whose robots they keep."""
    mine = Delivery.user_id == user_id
    if scope.office_paths:
        kept = (
            sa.select(Grid.id)
            .where(
                sa.or_(*(subtree_clause(p) for p in scope.office_paths)),
                Grid.level.in_((1, 2)),
            )
            .scalar_subquery()
        )
        mine = sa.or_(mine, Delivery.grid_id.in_(kept))
    return sa.select(Delivery).where(mine).order_by(Delivery.at.desc(), Delivery.id.desc())


# --- what the operator's metrics read (ops.metrics) ----------------------------------------------


def delivery_counts(since: datetime) -> dict[tuple[str, str], int]:
    """Delivery attempts made since `since` (naive UTC), by channel and status. A range on
    `at`, which has no index of its own yet: until it has one, this reads the whole log."""
    rows = db.session.execute(
        sa.select(Delivery.channel, Delivery.status, sa.func.count())
        .where(Delivery.at >= since)
        .group_by(Delivery.channel, Delivery.status)
    )
    return {(channel, status): count for channel, status, count in rows}
