"""Monitoring stations and their readings.

A reading is one value of one pollutant over one period at one station. Its key is the station,
the pollutant, the period and the period's start (`measured_at`, UTC): the same reading sent
twice, by a retrying device or a replayed batch, is stored once. That key is the table's primary
key, so the index that makes a station's series fast to read is the table itself, and there is no
surrogate id to keep up to date; on PostgreSQL the table is partitioned by month of `measured_at`
(migration 0006), so a year of minute data is twelve tables whose indexes stay the size of a month.
"""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column

from evidence.models import photo_links
from extensions import db
from grid.models import ClientId, PhoneTimed
from grid.time import utcnow


class StationKind(enum.StrEnum):
    NATIONAL = "national"  # 国控 (national network)
    REGIONAL = "regional"  # 区控/省控 (regional network)
    MICRO = "micro"  # 网格微站 (grid micro-station)


class StationStatus(enum.StrEnum):
    ACTIVE = "active"
    MAINTENANCE = "maintenance"  # readings kept, no alerts raised
    RETIRED = "retired"  # readings refused


class Period(enum.StrEnum):
    """What a value stands for, as HJ 212 sends it (CN 2011, 2051, 2061, 2031)."""

    REALTIME = "realtime"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"


POLLUTANTS = ("PM2.5", "PM10", "SO2", "NO2", "CO", "O3")
# HJ 212 data flags: N normal, F stopped, M maintenance, S manual, D fault, C calibration,
# T above the measuring limit, B communication failure. Only N counts as a valid measurement.
FLAGS = ("N", "F", "M", "S", "D", "C", "T", "B")


class Station(db.Model):
    """A national/regional monitoring station or a grid micro-station."""

    __tablename__ = "station"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(10))
    point = mapped_column(Geometry("POINT", srid=4326), nullable=False)  # WGS-84
    lon: Mapped[float] = mapped_column()
    lat: Mapped[float] = mapped_column()
    # The smallest regular grid that contains the point (found from it); alerts go to its county.
    grid_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    # HJ 212: the device's MN code and access password (PW, stored as its SHA-256: packets carry it
    # in clear, so it is compared, never shown again).
    mn: Mapped[str | None] = mapped_column(sa.String(24), unique=True)
    pw_hash: Mapped[str | None] = mapped_column(sa.String(64))
    # HTTP: a bearer token, stored as its SHA-256.
    token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    status: Mapped[str] = mapped_column(sa.String(12), default=StationStatus.ACTIVE)
    # Accept what real field devices are known to send (a byte-swapped CRC, over-long segments).
    lenient: Mapped[bool] = mapped_column(default=False)
    last_reading_at: Mapped[datetime | None] = mapped_column()  # received, UTC
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("kind IN ('national', 'regional', 'micro')", name="station_kind_known"),
        sa.CheckConstraint(
            "status IN ('active', 'maintenance', 'retired')", name="station_status_known"
        ),
    )

    def __repr__(self) -> str:
        return f"<Station {self.code} {self.name}>"


class StationChangeKind(enum.StrEnum):
    CREATED = "created"
    EDITED = "edited"
    STATUS = "status"
    TOKEN = "token"  # noqa: S105 - a new HTTP token issued (the old one stops working)
    PASSWORD = "password"  # noqa: S105 - a new HJ 212 password set


class StationChange(db.Model):
    """What was done to a station, by whom and when: its history, never rewritten. A status
    change keeps the new status and its reason (a station under maintenance raises no alerts,
    which an assessment must be able to see); an edit keeps what changed, old and new; a
    secret keeps only that it was changed."""

    __tablename__ = "station_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("station.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    status: Mapped[str | None] = mapped_column(sa.String(12))  # the new status
    detail: Mapped[str | None] = mapped_column(sa.String(1000))  # field: old → new, one a line
    note: Mapped[str | None] = mapped_column(sa.String(200))
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))  # None: a command
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint(
            "kind IN ('created', 'edited', 'status', 'token', 'password')",
            name="station_change_kind_known",
        ),
    )


class Reading(db.Model):
    """One value of one pollutant over one period at one station (see the module's note)."""

    __tablename__ = "reading"

    station_id: Mapped[int] = mapped_column(sa.ForeignKey("station.id"), primary_key=True)
    pollutant: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    measured_at: Mapped[datetime] = mapped_column(primary_key=True)  # the period's start, UTC
    value: Mapped[float] = mapped_column()
    flag: Mapped[str] = mapped_column(sa.String(1), default="N")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(sa.String(8))  # "http", "hj212" or "replay"

    # Every station's readings of one period in a time window (the neighbours of the spatial rule,
    # the prefecture's daily consultation).
    __table_args__ = (sa.Index("ix_reading_period_time", "period", "measured_at"),)


# On PostgreSQL the readings live in monthly partitions named reading_pYYYYMM, and a default one.
PARTITION_PREFIX = "reading_p"
DEFAULT_PARTITION = "reading_default"


# --- alerts and their two clocks ------------------------------------------------------------


class AlertStatus(enum.StrEnum):
    OPEN = "open"  # raised, waiting for the county to send someone
    DISPATCHED = "dispatched"  # someone is on the way or there
    CLOSED = "closed"  # the prefecture office (or the county, for a health item) closed it


class AlertKind(enum.StrEnum):
    ALERT = "alert"  # send people: the air is bad here
    HEALTH = "health"  # the device is suspect: the county checks the station, nobody runs


class Alert(db.Model):
    """An alert at a station, raised by a rule (anomaly.py) or pushed by the prefecture office.

    One open alert per station, rule and pollutant: a rule that fires again while it is open
    updates it (count, last value, peak) instead of raising another."""

    __tablename__ = "alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("station.id"), index=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    rule: Mapped[str] = mapped_column(sa.String(10))  # anomaly rule, or "manual"
    kind: Mapped[str] = mapped_column(sa.String(8))
    pollutant: Mapped[str] = mapped_column(sa.String(8), default="")  # "" when none
    status: Mapped[str] = mapped_column(sa.String(10), default=AlertStatus.OPEN)
    message: Mapped[str] = mapped_column(sa.String(200))  # an English msgid, shown translated
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)
    count: Mapped[int] = mapped_column(default=1)
    last_value: Mapped[float | None] = mapped_column()
    peak_value: Mapped[float | None] = mapped_column()
    threshold: Mapped[float | None] = mapped_column()
    raised_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(sa.String(1000))
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    close_note: Mapped[str | None] = mapped_column(sa.String(1000))

    __table_args__ = (
        sa.CheckConstraint("status IN ('open', 'dispatched', 'closed')", name="alert_status_known"),
        sa.CheckConstraint("kind IN ('alert', 'health')", name="alert_kind_known"),
        # One open alert per station, rule and pollutant (a partial unique index).
        sa.Index(
            "ix_alert_one_open",
            "station_id",
            "rule",
            "pollutant",
            unique=True,
            sqlite_where=sa.text("status != 'closed'"),
            postgresql_where=sa.text("status != 'closed'"),
        ),
        sa.Index("ix_alert_county_status", "county_id", "status"),
    )


class Dispatch(db.Model):
    """The county's instruction to one supervisor about an alert, and its two deadlines:
    the on-site situation within 1 hour, the disposal result within 2 hours (RULES §4)."""

    __tablename__ = "alert_dispatch"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alert.id"), index=True)
    supervisor_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    dispatched_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    instructed_at: Mapped[datetime] = mapped_column(default=utcnow)
    onsite_due: Mapped[datetime] = mapped_column()
    disposal_due: Mapped[datetime] = mapped_column()
    note: Mapped[str | None] = mapped_column(sa.String(1000))
    # What the task queue has said about each clock: 0 nothing, 1 the 15-minute reminder,
    # 2 the deadline passed without an answer (the county was told).
    onsite_notice: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    disposal_notice: Mapped[int] = mapped_column(sa.SmallInteger, default=0)

    __table_args__ = (sa.UniqueConstraint("alert_id", "supervisor_id", name="alert_dispatch_once"),)


class FeedbackKind(enum.StrEnum):
    ONSITE = "onsite"  # 现场情况, within 1 hour
    DISPOSAL = "disposal"  # 处置结果, within 2 hours


class Feedback(PhoneTimed, db.Model):
    """A supervisor's answer to a dispatch, recorded on the phone (perhaps offline) and placed
    in time by the server's clock rules: `captured_at` is when it was recorded, `received_at`
    when it arrived. Late means captured after the deadline; arriving late is shown apart."""

    __tablename__ = "alert_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ClientId, unique=True)
    dispatch_id: Mapped[int] = mapped_column(sa.ForeignKey("alert_dispatch.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    captured_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()  # the deadline it answered
    point = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    accuracy_m: Mapped[float | None] = mapped_column()
    distance_m: Mapped[float | None] = mapped_column()  # from the station: proof of arrival
    note: Mapped[str | None] = mapped_column(sa.String(2000))
    problem_id: Mapped[int | None] = mapped_column(sa.ForeignKey("problem.id"))

    __table_args__ = (
        sa.CheckConstraint("kind IN ('onsite', 'disposal')", name="alert_feedback_kind_known"),
        sa.UniqueConstraint("dispatch_id", "kind", name="alert_feedback_once"),
    )

    @property
    def captured_late(self) -> bool:
        return self.captured_at > self.due_at

    @property
    def received_late(self) -> bool:
        return self.received_at > self.due_at


feedback_photo = photo_links("alert_feedback")  # the photos taken on site


class StationDay(db.Model):
    """How often the rules looked at a station on a local day, and how often they found its
    readings anomalous (a sudden rise, or above its neighbours): ADF's anomaly ratio over 1, 7
    and 14 days, which makes a device suspect (anomaly.suspect)."""

    __tablename__ = "station_day"

    station_id: Mapped[int] = mapped_column(sa.ForeignKey("station.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    evaluations: Mapped[int] = mapped_column(default=0)
    anomalous: Mapped[int] = mapped_column(default=0)
