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
