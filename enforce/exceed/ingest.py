"""Enterprises' CEMS packets into the database: the exceedance workflow's HJ 212 gate, which the
receiver of the stations (alerts.receiver, `flask alerts hj212-serve`) asks after the stations'
own (alerts.registry.HJ212_GATES, alerts.gates.Router).

`PointGate(app)` authenticates a monitoring point by MN and password (the SHA-256 of PW compared
with the point's in constant time, as alerts.hj212_ingest.DatabaseGate does for a station) and
refuses an inactive one. What it reads of a point is kept for `cache_seconds`, unknown MNs too,
so `recall` answers most packets without the database.

It stores the `-Avg` values of CN 2051 (minute) and 2061 (hour) packets of the pollutants that
have limits (rules.POLLUTANTS), each with its `-Flag` (N without one); DataTime is the device's
local time (config TIMEZONE), stored in UTC. A value sent again (same point, code, period and
time) is stored once: the first kept. Other CNs (real-time, daily) and other codes (flow,
oxygen, temperature, ...) are counted in `stats` and not kept. A CEMS sends a packet a minute at
most, so one writer thread is plenty: `store` hands the packet to it and returns its future.
"""

import hmac
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.dialects import postgresql, sqlite

from alerts import hj212
from alerts.hj212 import Packet
from alerts.receiver import MISS, Miss
from alerts.services import secret_hash
from enforce.exceed.models import CemsValue, MonitoringPoint, ValuePeriod
from enforce.exceed.rules import FLAGS, POLLUTANTS
from extensions import db
from grid.forms import unit_of_work

PERIODS = {"2051": ValuePeriod.MINUTE, "2061": ValuePeriod.HOUR}


class PointGone(Exception):
    """The point was deactivated or deleted after its packet was authenticated."""


@dataclass(frozen=True)
class GatePoint:
    key: int
    lenient: bool


@dataclass(frozen=True)
class _Known:
    id: int
    pw_hash: str | None
    active: bool
    lenient: bool


class PointGate:
    """The receiver's `authenticate`, `recall`, `store` and `close` for monitoring points."""

    def __init__(
        self,
        app: Flask,
        cache_seconds: float = 5.0,
        max_cached: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        log: logging.Logger | None = None,
    ) -> None:
        self.app = app
        self.cache_seconds = cache_seconds
        self.max_cached = max_cached
        self.clock = clock
        self.zone = ZoneInfo(app.config["TIMEZONE"])
        self.log = log or logging.getLogger("gridpatrol.hj212.cems")
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, _Known | None]] = {}
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cems-writer")

    # --- authenticate ----------------------------------------------------------------------

    def authenticate(self, mn: str, pw: str) -> GatePoint | None:
        """The point of MN if PW is its password and it is active (may read the database)."""
        return self._check(mn, pw, self._point(mn))

    def recall(self, mn: str, pw: str) -> GatePoint | None | Literal[Miss.MISS]:
        """`authenticate` from the cache alone; MISS when not cached or stale."""
        cached = self._cache.get(mn)
        if cached is None or self.clock() - cached[0] >= self.cache_seconds:
            return MISS
        return self._check(mn, pw, cached[1])

    def _check(self, mn: str, pw: str, known: _Known | None) -> GatePoint | None:
        if known is None or not known.pw_hash:
            return None
        if not hmac.compare_digest(secret_hash(pw), known.pw_hash):
            return None
        if not known.active:
            self.log.warning("MN=%s: the monitoring point is inactive, its packets are refused", mn)
            return None
        return GatePoint(known.id, known.lenient)

    def _point(self, mn: str) -> _Known | None:
        moment = self.clock()
        with self._lock:
            cached = self._cache.get(mn)
        if cached is not None and moment - cached[0] < self.cache_seconds:
            return cached[1]
        points = MonitoringPoint.__table__.c
        with self.app.app_context():
            row = db.session.execute(
                sa.select(points.id, points.pw_hash, points.active, points.lenient).where(
                    points.mn == mn
                )
            ).one_or_none()
            db.session.remove()
        known = None if row is None else _Known(row.id, row.pw_hash, row.active, row.lenient)
        with self._lock:
            if len(self._cache) >= self.max_cached:
                self._cache.clear()
            self._cache[mn] = (moment, known)
        return known

    # --- store -----------------------------------------------------------------------------

    def store(self, point_id: int, packet: Packet) -> "Future[None]":
        """Hand the packet's values to the writer; the future completes once committed (or
        fails with PointGone). PacketError, raised here, for a CP that cannot be read."""
        values = self.values(packet)
        if not values:
            done: Future[None] = Future()
            done.set_running_or_notify_cancel()
            done.set_result(None)
            return done
        return self._writer.submit(self._write, point_id, packet.mn, values)

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        self._writer.shutdown(wait=True)

    def values(self, packet: Packet) -> list[dict]:
        """The rows to store of a packet (the others counted)."""
        period = PERIODS.get(packet.cn)
        if period is None:
            self._count(other_cn=1)
            return []
        rows: dict[tuple[str, datetime], dict] = {}
        counts: Counter[str] = Counter()
        for reading in hj212.readings(packet):
            if reading.kind != "Avg":
                counts["other_kind"] += 1
                continue
            if reading.code not in POLLUTANTS:
                counts["other_code"] += 1
                continue
            if reading.flag not in FLAGS:
                counts["skipped"] += 1
                self.log.warning(
                    "MN=%s QN=%s: %s-Flag %r is not an HJ 212 flag, value skipped",
                    packet.mn,
                    packet.qn,
                    reading.code,
                    reading.flag,
                )
                continue
            at = reading.at.replace(tzinfo=self.zone).astimezone(UTC).replace(tzinfo=None)
            rows.setdefault(
                (reading.code, at),
                {
                    "code": reading.code,
                    "period": str(period),
                    "at": at,
                    "value": reading.value,
                    "flag": reading.flag,
                },
            )
        if counts:
            self._count(**counts)
        return list(rows.values())

    def _write(self, point_id: int, mn: str, values: list[dict]) -> None:
        with self.app.app_context():
            try:
                with unit_of_work():
                    active = db.session.scalar(
                        sa.select(MonitoringPoint.active).where(MonitoringPoint.id == point_id)
                    )
                    if not active:
                        raise PointGone(f"MN={mn}: monitoring point {point_id} is gone or inactive")
                    stored = insert_values([{"point_id": point_id, **row} for row in values])
            finally:
                db.session.remove()
        self._count(stored=stored, duplicates=len(values) - stored)

    def _count(self, **counts: int) -> None:
        with self._lock:
            self.stats.update(counts)


def insert_values(rows: list[dict]) -> int:
    """Insert CEMS values, a value already there kept as it was; how many were new."""
    if not rows:
        return 0
    table = CemsValue.__table__
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing().returning(table.c.point_id)
    return len(db.session.execute(statement, rows).all())  # the rows inserted


def make_gate(app: Flask) -> PointGate:
    """The factory registered in alerts.registry.HJ212_GATES."""
    return PointGate(app)
