"""Online-monitoring exceedances (RULES §8, seed 000): the enterprises' monitoring points, their
emission limits, the values their CEMS send over HJ 212, the hours over the limit, the daily
reports issued to the counties and what the counties did about each exceedance.

- A monitoring point (排放口) is one CEMS of one source of the ledger, known to the receiver by
  its HJ 212 MN and password (kept as its SHA-256, like a station's).
- An emission limit is the concentration limit of one pollutant at one point from a day on,
  with the standard it comes from; a new limit is a new row (the one in force on a day is the
  latest with `valid_from` on or before it), so what was in force is never rewritten.
- A value is one minute's or one hour's average of one pollutant, with its HJ 212 data flag;
  like the stations' readings, its key is (point, code, period, period start).
- An exceedance is one hour of one pollutant at one point whose average was over the limit in
  force that day, or an hour whose data carry a flag other than N (status "invalid", the flag as
  its reason). The centre may mark any exceedance invalid with a reason, or valid again;
  recomputing a day keeps those marks and the report and disposal links.
- A daily report is the list of one county's exceedances of one day, issued by the centre.
- A disposal is the county's answer to one or several exceedances of its report: a case filed
  (立案查处, with its number) or an investigation opinion (不予立案调查处理意见), with photos.
"""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from evidence.models import photo_links
from extensions import db
from grid.time import utcnow


class PointType(enum.StrEnum):
    """HJ 212 system codes (ST) a monitoring point sends with."""

    AIR = "31"  # 大气环境污染源
    WATER = "32"  # 地表水体环境污染源


class ValuePeriod(enum.StrEnum):
    MINUTE = "minute"  # CN 2051
    HOUR = "hour"  # CN 2061


class ExceedanceStatus(enum.StrEnum):
    VALID = "valid"
    INVALID = "invalid"  # invalid data: a flag other than N, or marked so by the centre


class DisposalKind(enum.StrEnum):
    CASE = "case"  # 立案查处
    OPINION = "opinion"  # 不予立案调查处理意见


class MonitoringPoint(db.Model):
    """One CEMS of a source: its MN and password for the HJ 212 receiver."""

    __tablename__ = "enforce_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("source.id"), index=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)  # level 2
    name: Mapped[str] = mapped_column(sa.String(100))  # 1号锅炉排放口
    mn: Mapped[str] = mapped_column(sa.String(24))
    pw_hash: Mapped[str | None] = mapped_column(sa.String(64))  # SHA-256 of the HJ 212 PW
    st: Mapped[str] = mapped_column(sa.String(2), default=PointType.AIR)
    lenient: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("mn", name="enforce_point_mn_unique"),
        sa.CheckConstraint("st IN ('31', '32')", name="enforce_point_st_known"),
    )


class EmissionLimit(db.Model):
    """A pollutant's concentration limit at a point from `valid_from` on (from its permit)."""

    __tablename__ = "enforce_limit"

    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(sa.ForeignKey("enforce_point.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(10))  # HJ 212 code: a21026, w01018, ...
    value: Mapped[float] = mapped_column()
    unit: Mapped[str] = mapped_column(sa.String(20))  # mg/m³, mg/L
    standard: Mapped[str] = mapped_column(sa.String(200))  # GB 13223-2011 表1
    valid_from: Mapped[date] = mapped_column()
    set_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("value > 0", name="enforce_limit_positive"),
        sa.UniqueConstraint("point_id", "code", "valid_from", name="enforce_limit_once_a_day"),
    )


class CemsValue(db.Model):
    """One minute's or hour's average of one pollutant at a point, with its data flag."""

    __tablename__ = "enforce_value"

    point_id: Mapped[int] = mapped_column(sa.ForeignKey("enforce_point.id"), primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(6), primary_key=True)
    at: Mapped[datetime] = mapped_column(primary_key=True)  # UTC, the period's start
    value: Mapped[float] = mapped_column()
    flag: Mapped[str] = mapped_column(sa.String(1), default="N")

    __table_args__ = (
        sa.CheckConstraint("period IN ('minute', 'hour')", name="enforce_value_period_known"),
        sa.CheckConstraint(
            "flag IN ('N', 'F', 'M', 'S', 'D', 'C', 'T', 'B')", name="enforce_value_flag_known"
        ),
    )


class DailyReport(db.Model):
    """The exceedance daily report (超标日报) of one county and one day, as issued."""

    __tablename__ = "enforce_daily_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    day: Mapped[date] = mapped_column()
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    __table_args__ = (
        sa.UniqueConstraint("county_id", "day", name="enforce_daily_report_once_a_day"),
    )


class Disposal(db.Model):
    """A county's answer to exceedances of its report: a case or an opinion, with photos."""

    __tablename__ = "enforce_disposal"

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    case_number: Mapped[str | None] = mapped_column(sa.String(60))
    opinion: Mapped[str | None] = mapped_column(sa.String(4000))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("kind IN ('case', 'opinion')", name="enforce_disposal_kind_known"),
        sa.CheckConstraint(
            "(kind = 'case' AND case_number IS NOT NULL) OR "
            "(kind = 'opinion' AND opinion IS NOT NULL)",
            name="enforce_disposal_says_what",
        ),
    )


class Exceedance(db.Model):
    """One hour of one pollutant at one point over the limit, or with invalid data."""

    __tablename__ = "enforce_exceedance"

    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(sa.ForeignKey("enforce_point.id"))
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("source.id"), index=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"))
    code: Mapped[str] = mapped_column(sa.String(10))
    hour: Mapped[datetime] = mapped_column()  # UTC, the hour's start
    day: Mapped[date] = mapped_column()  # the local date of the hour
    average: Mapped[float] = mapped_column()
    limit_value: Mapped[float | None] = mapped_column()
    unit: Mapped[str | None] = mapped_column(sa.String(20))
    standard: Mapped[str | None] = mapped_column(sa.String(200))
    minutes: Mapped[int | None] = mapped_column()  # valid minutes averaged; None: hour packet
    flag: Mapped[str] = mapped_column(sa.String(1), default="N")  # the hour's data flag
    status: Mapped[str] = mapped_column(sa.String(8), default=ExceedanceStatus.VALID)
    invalid_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # Who decided the status by hand (invalid, or valid again) and when; None: the data decided,
    # and a recomputation may change it. A decision is kept by every recomputation.
    invalid_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    invalid_at: Mapped[datetime | None] = mapped_column()
    report_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("enforce_daily_report.id"), index=True
    )
    disposal_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("enforce_disposal.id"), index=True
    )
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("point_id", "code", "hour", name="enforce_exceedance_once_an_hour"),
        sa.CheckConstraint(
            "status IN ('valid', 'invalid')", name="enforce_exceedance_status_known"
        ),
        sa.Index("ix_enforce_exceedance_county_day", "county_id", "day"),
    )


disposal_photo = photo_links("enforce_disposal")  # the evidence of the verification on site
