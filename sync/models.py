"""What the server answered each item a phone sent."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from grid.models import ClientId
from grid.time import utcnow


class SyncReceipt(db.Model):
    """The answer given to each item a phone sent: a repeat gets the same answer, and nothing
    is recorded twice (issue 3: a retry never loses or doubles anything)."""

    __tablename__ = "sync_receipt"

    client_id: Mapped[str] = mapped_column(ClientId, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[int] = mapped_column(sa.SmallInteger)  # the HTTP-like status answered
    response: Mapped[dict] = mapped_column(sa.JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)
