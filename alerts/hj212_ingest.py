"""HJ 212 packets into the database: the callbacks of the receiver (alerts.receiver), backed by
the app's stations and readings.

`DatabaseGate(app)` gives `recall(mn, pw)` and `store(station_id, packet)`, which never block
(the receiver calls them on its event loop), and `authenticate(mn, pw)`, which may read the
database (the receiver runs it on a thread, for a station `recall` does not know).

Authentication compares the SHA-256 of PW with the station's, in constant time, and refuses a
retired station. What it reads of a station (id, password hash, status, lenient) is kept for
`cache_seconds` (5 by default), so that a station sending every few seconds costs no query per
packet: `recall` answers from that cache (the password is checked all the same), and says MISS
when the entry is missing or older, so that `authenticate` reads it again. A changed password,
a new station, a retirement or a lenient setting takes effect within that time. Storing reads
the station again in its own transaction, so a retired station's data is refused from the
moment the retirement is committed.

What is stored of a data packet: CN 2011 as real-time values (the `-Rtd` fields), 2051 as minute,
2061 as hourly and 2031 as daily values (the `-Avg` fields). `-Min`, `-Max` and `-Cou` are not
stored (the app keeps one value per period), nor are codes outside the six pollutants of
`models.POLLUTANTS` (weather, NOx, TSP, TVOC, ...); both are counted in `stats`. DataTime is the
station's local time (config TIMEZONE), stored in UTC. Each value passes the checks of the JSON
API (`services.value_refusal`); one that fails is skipped and logged with the reason, and the
packet's other values are stored.

`store` reads the packet's values, queues them and returns a `concurrent.futures.Future` that
completes once they are committed (the receiver replies only then). One or two writer threads
each take all that is queued (up to `batch_max` packets) and store it in one transaction
(`services.store_batch`: one INSERT for every station's rows), then complete the packets'
futures. No thread waits for a packet: the packets in flight, at most one a connection awaiting
its reply, bound the batch. A transaction per packet managed about 1,000 readings a second on
PostgreSQL from 100 stations on a 2-core machine, batches with a thread waiting for each
packet's commit about 4,000, and batches with none waiting about 7,000 (docs/benchmarks.md),
the Python process being the limit each time.
A batch that fails is written again one packet per transaction, so a bad packet costs only its
own reply. `close()` writes what is queued and stops the writers.
"""

import hmac
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask

from alerts import hj212, services, tasks
from alerts.hj212 import Packet
from alerts.models import POLLUTANTS, Period, Station, StationStatus
from alerts.receiver import MISS, Miss
from extensions import db
from grid.forms import unit_of_work
from grid.time import utcnow

EVALUATE_EVERY_S = 30.0

# The data CNs: the period their values stand for, and the one field kind stored of each.
STORED = {
    "2011": (Period.REALTIME, "Rtd"),
    "2051": (Period.MINUTE, "Avg"),
    "2061": (Period.HOUR, "Avg"),
    "2031": (Period.DAY, "Avg"),
}
SOURCE = "hj212"


class StationGone(Exception):
    """The station was deleted or retired after its packet was authenticated: nothing stored,
    no reply."""


@dataclass(frozen=True)
class GateStation:
    """What `authenticate` hands the receiver: the station's id (its `key`) and whether its
    packets may be parsed leniently."""

    key: int
    lenient: bool


@dataclass
class _Job:
    """One packet's values waiting for a writer; `done` is set once they are committed."""

    station_id: int
    mn: str
    values: list[services.Value]
    done: Future[None] = field(default_factory=Future)


@dataclass(frozen=True)
class _Known:
    """A station as cached for authentication."""

    id: int
    pw_hash: str | None
    status: str
    lenient: bool


class DatabaseGate:
    """The receiver's `authenticate` and `store`, on the database of `app`."""

    def __init__(
        self,
        app: Flask,
        cache_seconds: float = 5.0,
        max_cached: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
        log: logging.Logger | None = None,
        writers: int | None = None,
        batch_max: int = 500,
    ) -> None:
        self.app = app
        self.cache_seconds = cache_seconds
        self.max_cached = max_cached  # a flood of made-up MNs empties the cache, no more
        self.clock = clock
        self.now = now  # naive UTC, for the future and backfill checks and last_reading_at
        self.zone = ZoneInfo(app.config["TIMEZONE"])
        # Got here, not at import: alembic's logging setup disables the loggers that exist.
        self.log = log or logging.getLogger("gridpatrol.hj212.ingest")
        self.stats: Counter[str] = Counter()  # stored, duplicates, skipped, other_kind, ...
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, _Known | None]] = {}
        # Writers: SQLite takes one writer at a time, PostgreSQL overlaps a few.
        with app.app_context():
            sqlite = db.engine.dialect.name == "sqlite"
        self.writers = writers or (1 if sqlite else 2)
        self.batch_max = batch_max  # packets in one transaction
        self._evaluated: dict[int, float] = {}  # station id -> when its rules were last asked for
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._writers: list[threading.Thread] = []
        self._closed = False

    # --- authenticate ----------------------------------------------------------------------

    def authenticate(self, mn: str, pw: str) -> GateStation | None:
        """The station of MN if PW is its password and it is not retired, else None. Reads the
        station when the cache does not hold it (blocks: the receiver runs it on a thread)."""
        return self._check(mn, pw, self._station(mn))

    def recall(self, mn: str, pw: str) -> GateStation | None | Literal[Miss.MISS]:
        """`authenticate` from the cache alone, without blocking (the receiver calls it on its
        event loop): MISS when the station is not cached or its entry is older than
        `cache_seconds`."""
        cached = self._cache.get(mn)  # one dict read: atomic, no lock needed
        if cached is None or self.clock() - cached[0] >= self.cache_seconds:
            return MISS
        return self._check(mn, pw, cached[1])

    def _check(self, mn: str, pw: str, known: _Known | None) -> GateStation | None:
        if known is None or not known.pw_hash:
            return None
        if not hmac.compare_digest(services.secret_hash(pw), known.pw_hash):
            return None
        if known.status == StationStatus.RETIRED:
            self.log.warning("MN=%s: the station is retired, its packets are refused", mn)
            return None
        return GateStation(known.id, known.lenient)

    def forget(self, mn: str | None = None) -> None:
        """Drop the cached station of `mn` (every station without one)."""
        with self._lock:
            if mn is None:
                self._cache.clear()
            else:
                self._cache.pop(mn, None)

    def _station(self, mn: str) -> _Known | None:
        moment = self.clock()
        with self._lock:
            cached = self._cache.get(mn)
        if cached is not None and moment - cached[0] < self.cache_seconds:
            return cached[1]
        with self.app.app_context():
            row = db.session.execute(
                sa.select(Station.id, Station.pw_hash, Station.status, Station.lenient).where(
                    Station.mn == mn
                )
            ).one_or_none()
        known = None if row is None else _Known(row.id, row.pw_hash, row.status, row.lenient)
        with self._lock:
            if len(self._cache) >= self.max_cached:
                self._cache.clear()
            self._cache[mn] = (moment, known)  # unknown MNs too: a stray device costs no query
        return known

    # --- store -----------------------------------------------------------------------------

    def store(self, station_id: int, packet: Packet) -> Future[None]:
        """Queue the packet's values for a writer, without blocking (the receiver calls it on
        its event loop); the future completes once they are committed (see the module's note),
        or fails with StationGone for a station deleted or retired since, or the database's
        error: the receiver then gives no reply. PacketError, raised here, for a CP that cannot
        be read."""
        done: Future[None] = Future()
        done.set_running_or_notify_cancel()  # queued work is not taken back: no cancel
        stored = STORED.get(packet.cn)
        if stored is None:  # not a data packet: the receiver hands over DATA_CNS only
            done.set_result(None)
            return done
        period, kind = stored
        values = self._values(packet, period, kind, self.now())
        if not values:
            done.set_result(None)
            return done
        job = _Job(station_id, packet.mn, values, done)
        with self._lock:
            if self._closed:
                raise RuntimeError("the gate is closed")
            if not self._writers:
                self._start_writers()
            self._queue.put(job)
        return done

    def close(self) -> None:
        """Write what is queued, then stop the writer threads."""
        with self._lock:
            self._closed = True
            writers, self._writers = self._writers, []
            for _writer in writers:
                self._queue.put(None)
        for writer in writers:
            writer.join()

    def _start_writers(self) -> None:
        for number in range(1, self.writers + 1):
            thread = threading.Thread(
                target=self._write_loop, name=f"hj212-writer-{number}", daemon=True
            )
            thread.start()
            self._writers.append(thread)

    def _write_loop(self) -> None:
        """Take what the receiver's threads queued since the last write, up to `batch_max`
        packets, and write it in one transaction; until close() sends None."""
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs, stop = [job], False
            while len(jobs) < self.batch_max:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
            self._write_batch(jobs)
            if stop:
                return

    def _write_batch(self, jobs: list["_Job"]) -> None:
        """One transaction for the batch; should it fail, one per packet, so that a packet the
        database refuses (or a deadlock) costs that packet alone its reply."""
        try:
            results = self._write(jobs)
        except Exception as error:
            if len(jobs) == 1:
                jobs[0].done.set_exception(error)
                return
            self.log.warning("batch of %d packets failed (%r): one at a time", len(jobs), error)
            for job in jobs:
                self._write_batch([job])
            return
        for job, result in zip(jobs, results, strict=True):
            if result is None:
                job.done.set_result(None)
            else:
                job.done.set_exception(result)

    def _write(self, jobs: list["_Job"]) -> list[Exception | None]:
        """The jobs' values in one committed transaction; for each job None, or StationGone for
        a station deleted or retired since it was authenticated."""
        now = self.now()
        ids = sorted({job.station_id for job in jobs})
        stations = Station.__table__.c  # Core, not the ORM: what the ORM adds costs the batch
        with self.app.app_context(), unit_of_work():
            found = db.session.execute(
                sa.select(stations.id, stations.status).where(stations.id.in_(ids))
            )
            storing = {row.id for row in found if row.status != StationStatus.RETIRED}
            results: list[Exception | None] = [
                None
                if job.station_id in storing
                else StationGone(f"MN={job.mn}: station {job.station_id} is gone or retired")
                for job in jobs
            ]
            batch = [(job.station_id, job.values) for job in jobs if job.station_id in storing]
            outcome = services.store_batch(batch, SOURCE, now)
        self._count(stored=outcome.stored, duplicates=outcome.duplicates, batches=1)
        self._evaluate([station_id for station_id, values in batch if values])
        return results

    def _evaluate(self, station_ids: list[int]) -> None:
        """Ask the task queue to run the rules for stations whose readings were just
        committed; at most once per EVALUATE_EVERY_S a station (a device sends every minute or
        more often, and the rules read the last hours anyway)."""
        moment = time.monotonic()
        for station_id in station_ids:
            if moment - self._evaluated.get(station_id, -EVALUATE_EVERY_S) >= EVALUATE_EVERY_S:
                self._evaluated[station_id] = moment
                tasks.evaluate_station(station_id)

    def _values(
        self, packet: Packet, period: str, kind: str, now: datetime
    ) -> list[services.Value]:
        """The packet's values to store; the others counted, the refused ones logged."""
        values = []
        counts: Counter[str] = Counter()
        window = services.Window.at(now, self.app.config)  # the configuration read once
        utc: dict[datetime, datetime] = {}  # DataTime (local) in UTC, once per packet
        for reading in hj212.readings(packet):
            if reading.kind != kind:
                counts["other_kind"] += 1  # Min, Max, Cou, or Rtd in an average packet
                continue
            pollutant = hj212.POLLUTANT_CODES.get(reading.code)
            if pollutant not in POLLUTANTS:
                counts["other_code"] += 1
                continue
            measured_at = utc.get(reading.at)
            if measured_at is None:
                local = reading.at.replace(tzinfo=self.zone)
                measured_at = utc[reading.at] = local.astimezone(UTC).replace(tzinfo=None)
            value = services.Value(pollutant, period, measured_at, reading.value, reading.flag)
            reason = services.value_refusal(value, now, window)
            if reason is not None:
                counts["skipped"] += 1
                self.log.warning(
                    "MN=%s QN=%s CN=%s: %s-%s skipped (%s): %s",
                    packet.mn,
                    packet.qn,
                    packet.cn,
                    reading.code,
                    reading.kind,
                    pollutant,
                    reason,
                )
                continue
            values.append(value)
        if counts:
            self._count(**counts)
        return values

    def _count(self, **counts: int) -> None:
        with self._lock:
            self.stats.update(counts)
