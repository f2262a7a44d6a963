"""Monitoring stations and their readings.

A reading is one value of one pollutant over one period at one station. Its key is the station,
the pollutant, the period and the period's start (`measured_at`, UTC): the same reading sent
twice, by a retrying device or a replayed batch, is stored once. That key is the table's primary
key, so the index that makes a station's series fast to read is the table itself, and there is no
surrogate id to keep up to date; on PostgreSQL the table is partitioned by month of `measured_at`
(migration 0006), so a year of minute data is twelve tables whose indexes stay the size of a month.
"""

import enum
from datetime import datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
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
