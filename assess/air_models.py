"""What the prefecture office records for the air-quality ranking and the weekly key areas, which
no other domain holds (RULES §6, §7).

- A verified data tampering at a station (moving it, adding filters, cutting its power or
  network, changing its settings): the station's days from `first_day` to `last_day` are
  invalid and replaced by the month's highest value of each pollutant before ranking (§6).
- A key-area item: a level-2 grid's key task or key-area problem scheduled in a week, and its
  weekly checks; each check that finds it still not rectified climbs the ladder of §7.

A record is never deleted: a mistaken tampering is withdrawn with a reason and counts for
nothing from then on (like assess.models.AssessRecord). A key-area check is a dated fact and
is not changed; the item is closed by the check that finds it rectified."""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from grid.time import utcnow


class TamperKind(enum.StrEnum):
    """How the data was falsified (001 §四(二))."""

    MOVED = "moved"  # 擅自移动站点
    FILTER = "filter"  # 加装过滤装置
    POWER = "power"  # 断电、断网
    SETTINGS = "settings"  # 修改仪器设置


class TamperedStation(db.Model):
    """A verified tampering: `station_id`'s days `first_day` .. `last_day` (local dates, both
    included) are invalid, whatever its readings say."""

    __tablename__ = "air_tampering"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("station.id"), index=True)
    first_day: Mapped[date] = mapped_column()
    last_day: Mapped[date] = mapped_column()
    kind: Mapped[str] = mapped_column(sa.String(10))
    reason: Mapped[str] = mapped_column(sa.String(2000))  # what was found, the evidence
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column()
    withdrawn_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    withdraw_reason: Mapped[str | None] = mapped_column(sa.String(500))

    __table_args__ = (
        sa.CheckConstraint(
            "kind IN ('moved', 'filter', 'power', 'settings')", name="air_tampering_kind_known"
        ),
        sa.CheckConstraint("first_day <= last_day", name="air_tampering_days_in_order"),
        # The tamperings of a month: those whose days reach into it.
        sa.Index("ix_air_tampering_days", "last_day", "first_day"),
    )

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


class KeyAreaItem(db.Model):
    """A level-2 grid's key-area problem or task scheduled by the prefecture in the week that
    starts on `week` (a Monday), perhaps in one of its key grids (重点网格). `rectified_on` is
    the day of the check that found it rectified; None while it is not."""

    __tablename__ = "key_area_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    key_grid_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grid.id"))
    week: Mapped[date] = mapped_column(index=True)  # the Monday
    title: Mapped[str] = mapped_column(sa.String(200))
    detail: Mapped[str | None] = mapped_column(sa.String(2000))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    rectified_on: Mapped[date | None] = mapped_column()


class KeyAreaCheck(db.Model):
    """One weekly check of a key-area item: rectified or not, on `checked_on`. Each check that
    finds it not rectified counts once on the ladder (grid.scoring.key_area_action)."""

    __tablename__ = "key_area_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("key_area_item.id"), index=True)
    checked_on: Mapped[date] = mapped_column()
    rectified: Mapped[bool] = mapped_column()
    note: Mapped[str | None] = mapped_column(sa.String(2000))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("item_id", "checked_on", name="key_area_check_once_a_day"),
    )
