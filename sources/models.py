"""The pollution-source ledger (一企一档): sources, their dated changes, surveys, documents."""

from datetime import date, datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from grid.time import utcnow


class Source(db.Model):
    """A pollution source in the ledger, kept by the county (RULES §2)."""

    __tablename__ = "source"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(20))
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)  # level 2
    grid_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grid.id"), index=True)  # level 4
    location = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    address: Mapped[str | None] = mapped_column(sa.String(200))
    key_polluter: Mapped[bool] = mapped_column(default=False)  # 重点排污单位
    special_supervision: Mapped[bool] = mapped_column(default=False)  # 特殊监管对象
    special_reason: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20), default="active")
    status_since: Mapped[date | None] = mapped_column()
    contact_name: Mapped[str | None] = mapped_column(sa.String(60))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(30))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    last_surveyed_on: Mapped[date | None] = mapped_column()
    last_surveyed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_on: Mapped[date] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('active', 'relocated', 'long_stopped', 'bankrupt')",
            name="source_status_known",
        ),
        sa.Index("ix_source_grid_status", "grid_id", "status"),
    )


class SourceChange(db.Model):
    """A dated change of a source's status or grid: the ledger's history, never rewritten."""

    __tablename__ = "source_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("source.id"), index=True)
    effective_on: Mapped[date] = mapped_column()
    status: Mapped[str | None] = mapped_column(sa.String(20))
    grid_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grid.id"))
    note: Mapped[str | None] = mapped_column(sa.String(200))
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SourceSurvey(db.Model):
    """The county's quarterly survey of a source (RULES §2)."""

    __tablename__ = "source_survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("source.id"), index=True)
    surveyed_on: Mapped[date] = mapped_column()
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SourceDocument(db.Model):
    """A file in a source's dossier (permits, assessments, ...)."""

    __tablename__ = "source_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("source.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    storage_key: Mapped[str] = mapped_column(sa.String(200))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size_bytes: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64))
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
