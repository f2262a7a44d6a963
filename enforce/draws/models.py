"""Double-random inspections (RULES §9, seeds 004 and 002): the inspector library (人员信息库),
the recusals, the monthly draws and the tasks they make.

A draw keeps its seed and the population it drew from (`snapshot`, the eligible targets and
inspectors as canonical JSON, with its SHA-256) so that anyone can draw again and compare
(enforce.draws.drawing.draw): the draw is random, and provably so."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from evidence.models import photo_links
from extensions import db
from grid.time import utcnow


class Inspector(db.Model):
    """A law-enforcement officer of the library (执法人员), belonging to an office: the
    prefecture (level 1) or a county (level 2). `user_id` is the account they sign in with,
    to see their tasks on the phone; an inspector without one is drawn all the same."""

    __tablename__ = "enforce_inspector"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    certificate_no: Mapped[str] = mapped_column(sa.String(30))  # 执法证号
    unit: Mapped[str] = mapped_column(sa.String(120))  # 所在单位
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)  # level 1 or 2
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    __table_args__ = (
        sa.UniqueConstraint("certificate_no", name="enforce_inspector_certificate_once"),
        sa.UniqueConstraint("user_id", name="enforce_inspector_user_once"),
    )


class Conflict(db.Model):
    """An inspector who must not inspect a source (RULES §1 recusal: kin, former employer...):
    the draw never gives them a task there."""

    __tablename__ = "enforce_conflict"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspector_id: Mapped[int] = mapped_column(sa.ForeignKey("enforce_inspector.id"), index=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("source.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(500))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("inspector_id", "source_id", name="enforce_conflict_once"),
    )


class Draw(db.Model):
    """An office's draw for a month: the numbers asked per category (`asked`, JSON), the seed
    of `random.Random`, and the population drawn from (`snapshot`, canonical JSON, and its
    SHA-256), so that the draw can be made again and compared."""

    __tablename__ = "enforce_draw"

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)  # level 1 or 2
    month: Mapped[date] = mapped_column()  # the first day
    seed: Mapped[int] = mapped_column(sa.BigInteger)
    asked: Mapped[str] = mapped_column(sa.Text)  # JSON: {category: number}
    snapshot: Mapped[str] = mapped_column(sa.Text)  # JSON: drawing.Snapshot
    snapshot_sha256: Mapped[str] = mapped_column(sa.String(64))
    drawn_at: Mapped[datetime] = mapped_column(default=utcnow)
    drawn_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(sa.String(500))

    __table_args__ = (sa.Index("ix_enforce_draw_grid_month", "grid_id", "month"),)


class Task(db.Model):
    """A target drawn, with its inspectors (enforce_task_inspector, two or more), and once
    inspected its outcome: one of the seven standard phrases (enforce.draws.outcomes), the
    record, and its publication, due 20 working days after completion (RULES §9)."""

    __tablename__ = "enforce_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(sa.ForeignKey("enforce_draw.id"), index=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("source.id"), index=True)
    category: Mapped[str] = mapped_column(sa.String(10))
    status: Mapped[str] = mapped_column(sa.String(10), default="assigned")
    outcome: Mapped[int | None] = mapped_column(sa.SmallInteger)
    record: Mapped[str | None] = mapped_column(sa.Text)
    done_on: Mapped[date | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    completed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    publish_due: Mapped[date | None] = mapped_column()
    published_at: Mapped[datetime | None] = mapped_column()
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    __table_args__ = (
        sa.UniqueConstraint("draw_id", "source_id", name="enforce_task_once_a_draw"),
        sa.CheckConstraint(
            "category IN ('key', 'general', 'special', 'facility')",
            name="enforce_task_category_known",
        ),
        sa.CheckConstraint("status IN ('assigned', 'done')", name="enforce_task_status_known"),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome BETWEEN 1 AND 7", name="enforce_task_outcome_range"
        ),
    )


task_inspector = sa.Table(
    "enforce_task_inspector",
    db.metadata,
    sa.Column("task_id", sa.ForeignKey("enforce_task.id"), primary_key=True),
    sa.Column("inspector_id", sa.ForeignKey("enforce_inspector.id"), primary_key=True),
    sa.Column("position", sa.SmallInteger, nullable=False),  # 1, 2, ... in the draw's order
    sa.UniqueConstraint("task_id", "position", name="enforce_task_inspector_position_once"),
    sa.Index("ix_enforce_task_inspector_inspector_id", "inspector_id"),
)

enforce_task_photo = photo_links("enforce_task")  # the inspection's photos (TASKS)
