"""Daily patrols: a supervisor's patrol of their grid, its route, and the sources visited."""

from datetime import date, datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column

from evidence.models import photo_links
from extensions import db
from grid.models import ClientId, PhoneTimed


class Patrol(PhoneTimed, db.Model):
    """A supervisor's patrol of their grid: start and end with a fix, the route between."""

    __tablename__ = "patrol"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ClientId, unique=True)
    supervisor_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grid.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    start_point = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    start_accuracy_m: Mapped[float | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    end_point = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    end_accuracy_m: Mapped[float | None] = mapped_column()
    end_client_id: Mapped[str | None] = mapped_column(ClientId, unique=True)
    route = mapped_column(Geometry("LINESTRING", srid=4326), nullable=True, deferred=True)
    route_length_m: Mapped[float | None] = mapped_column()


class RoutePoint(db.Model):
    """A kept point of the route (at least 25 m from the previous, at a possible speed)."""

    __tablename__ = "route_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    patrol_id: Mapped[int] = mapped_column(sa.ForeignKey("patrol.id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column()
    device_ms: Mapped[int] = mapped_column(sa.BigInteger)
    lon: Mapped[float] = mapped_column()
    lat: Mapped[float] = mapped_column()
    accuracy_m: Mapped[float | None] = mapped_column()

    __table_args__ = (sa.UniqueConstraint("patrol_id", "device_ms", name="route_point_once"),)


class Visit(PhoneTimed, db.Model):
    """A source seen on a patrol: normal, or a problem found."""

    __tablename__ = "visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ClientId, unique=True)
    patrol_id: Mapped[int] = mapped_column(sa.ForeignKey("patrol.id"), index=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("source.id"), index=True)
    visited_at: Mapped[datetime] = mapped_column(index=True)
    visited_on: Mapped[date] = mapped_column(index=True)  # local calendar day (coverage)
    point = mapped_column(Geometry("POINT", srid=4326), nullable=True)
    accuracy_m: Mapped[float | None] = mapped_column()
    outcome: Mapped[str] = mapped_column(sa.String(10))
    note: Mapped[str | None] = mapped_column(sa.String(1000))

    __table_args__ = (
        sa.CheckConstraint("outcome IN ('normal', 'problem')", name="visit_outcome_known"),
    )


visit_photo = photo_links("visit")  # the photos taken at a visit
