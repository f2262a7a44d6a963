"""Notifications: what a person must act on, in the app (and, later, pushed to the phone)."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from grid.time import utcnow


class Notification(db.Model):
    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(30))  # e.g. "problem.township"
    subject: Mapped[str] = mapped_column(sa.String(40))  # "problem:123"
    message: Mapped[str] = mapped_column(sa.String(200))  # an English msgid, translated on show
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (sa.Index("ix_notification_unread", "user_id", "read_at"),)


class PushSubscription(db.Model):
    """One browser's Web Push subscription (a phone, a desktop): where to send, the keys its
    payloads are encrypted for, and the server's VAPID public key it was made for (its pushes
    must be signed with that key). Removed when the push service says it is gone."""

    __tablename__ = "push_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    endpoint: Mapped[str] = mapped_column(sa.String(2000), unique=True)
    p256dh: Mapped[str] = mapped_column(sa.String(100))
    auth: Mapped[str] = mapped_column(sa.String(40))
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_ok_at: Mapped[datetime | None] = mapped_column()
    # The VAPID public key it was made for (the applicationServerKey, base64url, 87 characters);
    # None for a subscription kept before keys were recorded, until a push or its browser tells
    # which key it was. Not named "*_key": that names a stored file (ops/backup.py).
    vapid_public: Mapped[str | None] = mapped_column(sa.String(100))

    def info(self) -> dict:
        """What webpush.send takes."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class Robot(db.Model):
    """A WeCom or DingTalk group robot of a county (level-2) or prefecture (level-1) grid. The
    webhook URL holds the robot's key and the signing secret signs: both are secrets, shown
    masked once saved."""

    __tablename__ = "robot"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))  # robots.ROBOT_KINDS
    name: Mapped[str] = mapped_column(sa.String(60))
    webhook_url: Mapped[str] = mapped_column(sa.String(2000))
    secret: Mapped[str | None] = mapped_column(sa.String(200))  # DingTalk 加签, optional
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelChoice(db.Model):
    """A person's choice of channels beyond the in-app list; no row means the defaults
    (Web Push on, mentions by group robots on, SMS off)."""

    __tablename__ = "channel_choice"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    web_push: Mapped[bool] = mapped_column(default=True)
    robot: Mapped[bool] = mapped_column(default=True)
    sms: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(db.Model):
    """One attempt to deliver a notification (to a person's device or phone) or a group message
    (to a robot): what was tried, what the other side answered, and when the next try is due."""

    __tablename__ = "delivery"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("notification.id", ondelete="SET NULL"), index=True
    )
    robot_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("robot.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))  # whose
    grid_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grid.id"))  # the robot's grid
    channel: Mapped[str] = mapped_column(sa.String(10))  # webpush | robot | sms
    target: Mapped[str] = mapped_column(sa.String(200))  # masked: never a key or a full number
    attempt: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(sa.String(10))  # sent | failed | retry | gone | logged
    http_status: Mapped[int | None] = mapped_column()
    errcode: Mapped[int | None] = mapped_column()
    answer: Mapped[str] = mapped_column(sa.String(500), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        sa.Index("ix_delivery_user_at", "user_id", "at"),
        sa.Index("ix_delivery_grid_at", "grid_id", "at"),
        # The metrics read the last hour of every delivery (ops/metrics.py).
        sa.Index("ix_delivery_at", "at"),
    )
