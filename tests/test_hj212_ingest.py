"""HJ 212 packets into the database, end to end: real sockets, the receiver with its database
gate on the live copy of the demo database (commits are real), on both backends. Each test
registers its own stations (unique MNs) and deletes them, with their readings, at the end."""

import asyncio
import contextlib
import logging
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from alerts import hj212, services
from alerts.hj212_ingest import DatabaseGate
from alerts.models import Reading, Station, StationStatus
from alerts.receiver import Limits, Receiver
from extensions import db, huey
from grid.time import local_zone, utcnow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "123456"
# The tests' clock: DataTime 2026-11-30 10:00 local (China Standard Time) is 02:00 UTC.
NOW = datetime(2026, 11, 30, 4, 0)
HOUR = "20261130100000"
HOUR_UTC = datetime(2026, 11, 30, 2, 0)
LIMITS = Limits(idle_timeout=5.0, frame_timeout=2.0, worker_threads=4, write_timeout=2.0)
SIX = {  # code: (pollutant, value, flag)
    "a34004": ("PM2.5", 35.5, "N"),
    "a34002": ("PM10", 80.0, "N"),
    "a21026": ("SO2", 9.0, "M"),
    "a21004": ("NO2", 41.0, "N"),
    "a21005": ("CO", 0.8, "C"),
    "a05024": ("O3", 120.0, "N"),
}


def data_packet(mn, cn="2061", data_time=HOUR, values=None, kind="Avg", pw=PASSWORD, qn=None):
    """A data packet as a station sends it: DataTime, then one item per pollutant (its value,
    flag and, in averages, a Min and a Max the app does not keep), then a temperature."""
    values = values or {code: (value, flag) for code, (_name, value, flag) in SIX.items()}
    items = [{"DataTime": data_time}]
    for code, (value, flag) in values.items():
        item = {f"{code}-{kind}": value, f"{code}-Flag": flag}
        if kind == "Avg":
            item |= {f"{code}-Min": value, f"{code}-Max": value}
        items.append(item)
    items.append({f"a01001-{kind}": 12.5, "a01001-Flag": "N"})
    qn = qn or datetime.now().strftime("%Y%m%d%H%M%S%f")[:17]
    return hj212.build("22", cn, pw, mn, items, qn=qn, flag=5)


class Client:
    """A station: a plain socket that sends packets and reads reply frames."""

    def __init__(self, port):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def send(self, data):
        self.socket.sendall(data)

    def reply(self, timeout=10.0):
        """The next reply, parsed; None when the server closes or says nothing in `timeout`."""
        self.socket.settimeout(timeout)
        try:
            while b"\r\n" not in self.buffer:
                chunk = self.socket.recv(4096)
                if not chunk:
                    return None
                self.buffer += chunk
        except TimeoutError:
            return None
        frame, self.buffer = self.buffer.split(b"\r\n", 1)
        return hj212.parse(frame + b"\r\n")

    def close(self):
        self.socket.close()


@pytest.fixture
def stations(live_app):
    """make(**fields) -> (id, mn): a station registered and committed in the live database;
    deleted with its readings at the end."""
    made = []

    def make(status=StationStatus.ACTIVE, password=PASSWORD, **fields):
        mn = "GP" + uuid.uuid4().hex[:20].upper()
        with live_app.app_context():
            station = services.add_station(
                code=mn[:20],
                name=f"HJ 212 测试站 {mn[-6:]}",
                kind="micro",
                lon=87.3,
                lat=44.0,
                mn=mn,
                password=password,
                **fields,
            ).station
            station.status = status
            db.session.commit()
            made.append(station.id)
            return station.id, mn

    yield make
    with live_app.app_context():
        db.session.execute(sa.delete(Reading).where(Reading.station_id.in_(made)))
        db.session.execute(sa.delete(Station).where(Station.id.in_(made)))
        db.session.commit()


@pytest.fixture
def receiver(live_app):
    """start(**gate options) -> (receiver, gate, port): the receiver with a database gate on
    127.0.0.1, its event loop in a thread; stopped at the end."""
    running = []

    def start(**options):
        gate = DatabaseGate(live_app, now=lambda: NOW, **options)
        server = Receiver(gate.authenticate, gate.store, LIMITS, recall=gate.recall)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        running.append((loop, thread, server, gate))
        listening = asyncio.run_coroutine_threadsafe(server.start("127.0.0.1", 0), loop).result(5)
        return server, gate, listening.sockets[0].getsockname()[1]

    yield start
    for loop, thread, server, gate in running:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
        gate.close()


@pytest.fixture
def client():
    opened = []

    def connect(port):
        opened.append(Client(port))
        return opened[-1]

    yield connect
    for each in opened:
        each.close()


def rows(live_app, station_id):
    """The station's readings as committed, read in a fresh session."""
    with live_app.app_context():
        found = db.session.scalars(
            sa.select(Reading)
            .where(Reading.station_id == station_id)
            .order_by(Reading.period, Reading.measured_at, Reading.pollutant)
        ).all()
        return [(r.pollutant, r.period, r.measured_at, r.value, r.flag, r.source) for r in found]


def last_reading_at(live_app, station_id):
    with live_app.app_context():
        return db.session.get(Station, station_id).last_reading_at


def test_an_hourly_packet_is_stored_and_committed_before_the_reply(
    live_app, stations, receiver, client
):
    station_id, mn = stations()
    server, gate, port = receiver()
    station = client(port)
    sent = data_packet(mn)
    station.send(sent)
    reply = station.reply()
    assert reply is not None and reply.cn == "9014" and reply.qn == hj212.parse(sent).qn
    # Read at once, from another session: what was replied to is committed.
    expected = sorted(
        (name, "hour", HOUR_UTC, value, flag, "hj212") for name, value, flag in SIX.values()
    )
    assert sorted(rows(live_app, station_id)) == expected
    assert last_reading_at(live_app, station_id) == NOW
    # Min and Max of each pollutant, and the temperature, are left out.
    assert gate.stats["stored"] == 6
    assert gate.stats["other_kind"] == 12
    assert gate.stats["other_code"] == 1
    assert server.stats.stored == 1 and server.stats.replied == 1
    # and the rules are asked to look at the station (a task, once per station for a while)
    waiting = [t for t in huey.pending() if t.name == "evaluate_station"]
    assert [t.args for t in waiting] == [(station_id,)]
    station.send(data_packet(mn, data_time="20261130090000"))
    assert station.reply() is not None
    assert len([t for t in huey.pending() if t.name == "evaluate_station"]) == 1


def test_each_data_cn_is_stored_as_its_period(live_app, stations, receiver, client):
    station_id, mn = stations()
    _server, _gate, port = receiver()
    station = client(port)
    pm25 = {"a34004": (20.0, "N")}
    sent = [
        ("2011", "20261130101523", "Rtd", "realtime", datetime(2026, 11, 30, 2, 15, 23)),
        ("2051", "20261130101000", "Avg", "minute", datetime(2026, 11, 30, 2, 10)),
        ("2031", "20261130000000", "Avg", "day", datetime(2026, 11, 29, 16, 0)),
    ]
    for cn, data_time, kind, _period, _at in sent:
        station.send(data_packet(mn, cn, data_time, pm25, kind=kind))
        assert station.reply() is not None
    stored = {(period, at) for _name, period, at, *_rest in rows(live_app, station_id)}
    assert stored == {(period, at) for _cn, _time, _kind, period, at in sent}


def test_a_wrong_password_is_refused_and_nothing_stored(
    live_app, stations, receiver, client, caplog
):
    station_id, mn = stations()
    server, _gate, port = receiver()
    station = client(port)
    station.send(data_packet(mn, pw="654321"))
    assert station.reply(timeout=1.0) is None
    assert server.stats.refused["auth"] == 1
    assert rows(live_app, station_id) == []
    assert f"unknown MN or wrong PW (MN={mn})" in caplog.text


def test_a_retired_station_is_refused(live_app, stations, receiver, client, caplog):
    station_id, mn = stations(status=StationStatus.RETIRED)
    server, _gate, port = receiver()
    station = client(port)
    station.send(data_packet(mn))
    assert station.reply(timeout=1.0) is None
    station.send(data_packet(mn))  # the station as cached, this time
    assert station.reply(timeout=1.0) is None
    assert server.stats.refused["auth"] == 2
    assert rows(live_app, station_id) == []
    assert caplog.text.count(f"MN={mn}: the station is retired") == 2


def test_a_cached_station_costs_no_query_and_its_password_is_still_checked(
    live_app, stations, receiver, client, caplog
):
    station_id, mn = stations()
    server, gate, port = receiver(cache_seconds=60)
    station = client(port)
    station.send(data_packet(mn, data_time="20261130080000"))
    assert station.reply() is not None
    queries = []

    def note(_conn, _cursor, statement, *_rest):
        queries.append(statement)

    with live_app.app_context():
        engine = db.engine
    server.authenticate = None  # not called again: the cache answers on the event loop
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        station.send(data_packet(mn, pw="654321"))
        assert station.reply(timeout=1.0) is None
        station.send(data_packet(mn, data_time="20261130090000"))
        assert station.reply() is not None
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    assert queries  # the second packet's rows were written
    assert not [q for q in queries if "pw_hash" in q]  # no station read: the cache answered
    assert server.stats.refused["auth"] == 1
    assert f"unknown MN or wrong PW (MN={mn})" in caplog.text
    assert not [q for q in queries if "pw_hash" in q]  # no station read: the cache answered
    assert len(rows(live_app, station_id)) == 12


def test_a_station_retired_while_cached_stores_nothing_more(live_app, stations, receiver, client):
    station_id, mn = stations()
    server, _gate, port = receiver(cache_seconds=60)
    station = client(port)
    station.send(data_packet(mn))
    assert station.reply() is not None
    with live_app.app_context():
        db.session.get(Station, station_id).status = StationStatus.RETIRED
        db.session.commit()
    station.send(data_packet(mn, data_time="20261130110000"))
    assert station.reply(timeout=1.0) is None
    assert {at for _n, _p, at, *_r in rows(live_app, station_id)} == {HOUR_UTC}
    assert server.stats.refused["store"] == 1


def test_a_changed_password_takes_effect_once_the_cache_expires(
    live_app, stations, receiver, client
):
    station_id, mn = stations()
    _server, gate, port = receiver(cache_seconds=0.3)
    station = client(port)
    station.send(data_packet(mn))
    assert station.reply() is not None
    with live_app.app_context():
        db.session.get(Station, station_id).pw_hash = services.secret_hash("new-pw")
        db.session.commit()
    time.sleep(0.4)
    station.send(data_packet(mn, data_time="20261130110000"))
    assert station.reply(timeout=1.0) is None  # the old password no longer opens
    station.send(data_packet(mn, data_time="20261130110000", pw="new-pw"))
    assert station.reply() is not None


def test_the_same_packet_twice_is_stored_once(live_app, stations, receiver, client):
    station_id, mn = stations()
    _server, gate, port = receiver()
    station = client(port)
    sent = data_packet(mn)
    for _ in range(2):
        station.send(sent)
        assert station.reply() is not None  # the resend is answered too: it is stored
    assert len(rows(live_app, station_id)) == 6
    assert gate.stats["stored"] == 6 and gate.stats["duplicates"] == 6


def test_a_value_that_fails_a_check_is_skipped_and_the_others_stored(
    live_app, stations, receiver, client, caplog
):
    station_id, mn = stations()
    _server, gate, port = receiver()
    station = client(port)
    values = {code: (value, flag) for code, (_name, value, flag) in SIX.items()}
    values["a34004"] = (5000.1, "N")  # over PM2.5's limit of 5000
    values["a21004"] = (40.0, "K")  # not a flag of HJ 212
    with caplog.at_level(logging.WARNING, logger="gridpatrol.hj212.ingest"):
        station.send(data_packet(mn, values=values))
        assert station.reply() is not None
    assert {name for name, *_rest in rows(live_app, station_id)} == {"PM10", "SO2", "CO", "O3"}
    assert gate.stats["skipped"] == 2
    assert re.search(
        rf"MN={mn} .*a34004-Avg skipped \(PM2.5\): value 5000.1 is outside", caplog.text
    )
    assert re.search(r"a21004-Avg skipped \(NO2\): data flag 'K'", caplog.text)


def test_a_value_that_is_not_a_number_refuses_the_packet_with_its_reason(
    live_app, stations, receiver, client, caplog
):
    """A CP whose values cannot be read is the station's fault: refused with the reason (no
    traceback of a failed store), nothing of it stored, no reply; the next packet is served."""
    station_id, mn = stations()
    server, _gate, port = receiver()
    station = client(port)
    values = {code: (value, flag) for code, (_name, value, flag) in SIX.items()}
    values["a34004"] = ("12.5x", "N")
    station.send(data_packet(mn, values=values))
    assert station.reply(timeout=1.0) is None
    assert server.stats.refused["value"] == 1 and server.stats.refused["store"] == 0
    assert "a34004-Avg is not a number: '12.5x'" in caplog.text
    assert "Traceback" not in caplog.text and "store failed" not in caplog.text
    assert rows(live_app, station_id) == []
    station.send(data_packet(mn))
    assert station.reply() is not None


def test_stations_sending_at_once_are_all_stored(live_app, stations, receiver, client):
    """Packets that arrive together are committed together (one transaction for what waits),
    each answered once its rows are in."""
    made = [stations() for _ in range(12)]
    _server, gate, port = receiver()
    connections = [client(port) for _ in made]
    hours = ["20261130080000", "20261130090000", HOUR]
    answered = []

    def send(connection, mn):
        for hour in hours:
            connection.send(data_packet(mn, data_time=hour))
            answered.append(connection.reply() is not None)

    threads = [
        threading.Thread(target=send, args=(connection, mn))
        for connection, (_id, mn) in zip(connections, made, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answered == [True] * len(made) * len(hours)
    for station_id, _mn in made:
        assert len(rows(live_app, station_id)) == 6 * len(hours)
        assert last_reading_at(live_app, station_id) == NOW
    assert gate.stats["stored"] == 6 * len(hours) * len(made)
    assert gate.stats["batches"] <= len(made) * len(hours)


def test_the_crc_table_gives_annex_a_crc():
    """crc16 reads annex A's bit loop from a table: the same CRC for any bytes."""

    def annex_a(data):
        crc = 0xFFFF
        for byte in data:
            crc = (crc >> 8) ^ byte
            for _ in range(8):
                lsb = crc & 1
                crc >>= 1
                if lsb:
                    crc ^= 0xA001
        return crc

    samples = [b"", bytes(range(256)), os.urandom(1024)] + [os.urandom(n) for n in range(1, 64)]
    for data in samples:
        assert hj212.crc16(data) == annex_a(data)


@pytest.mark.parametrize(
    ("cn", "data_time", "words"),
    [
        ("2061", "20261130103000", "is not the start of its hour"),
        ("2051", "20261130101030", "is not the start of its minute"),
        ("2061", "20261130130000", "is in the future"),  # 05:00 UTC, an hour after NOW
        ("2061", "20241130100000", "too long ago"),  # over 400 days back
    ],
)
def test_times_are_checked_as_the_json_api_checks_them(
    live_app, stations, receiver, client, caplog, cn, data_time, words
):
    station_id, mn = stations()
    _server, _gate, port = receiver()
    station = client(port)
    station.send(data_packet(mn, cn, data_time, {"a34004": (20.0, "N")}))
    assert station.reply() is not None  # the packet is taken; its value is not
    assert rows(live_app, station_id) == []
    assert last_reading_at(live_app, station_id) is None
    assert words in caplog.text


# --- the command ---------------------------------------------------------------------------------


class Lines:
    """A stream's lines as they come, read by a thread."""

    def __init__(self, stream):
        self.seen = []
        self._stream = stream
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def close(self):
        """Once the process has ended: the reader is at the end of the stream."""
        self._thread.join(5)
        self._stream.close()

    def rest(self) -> str:
        """Once the process has ended: every line, those seen and those still queued."""
        self._thread.join(5)
        while not self._queue.empty():
            self.seen.append(self._queue.get_nowait())
        return "".join(self.seen)

    def _read(self, stream):
        for line in stream:
            self._queue.put(line)

    def wait_for(self, pattern, timeout=30.0):
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.seen)}")


@contextlib.contextmanager
def serving(live_app):
    """`flask alerts hj212-serve` in its own process on the live database -> (process, its
    stderr as Lines, port); killed at the end if it has not stopped."""
    env = {
        **os.environ,
        "GRIDPATROL_SECRET_KEY": "test-secret-key",
        "DATABASE_URL": live_app.config["SQLALCHEMY_DATABASE_URI"],
    }
    command = [sys.executable, "-m", "flask", "--app", "app:create_app", "alerts"]
    command += ["hj212-serve", "--host", "127.0.0.1", "--port", "0", "--max-connections", "50"]
    command += ["--idle-timeout", "20", "--frame-timeout", "5"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    log = Lines(process.stderr)
    try:
        port = int(log.wait_for(r"HJ 212 receiver listening on .*'127\.0\.0\.1', (\d+)")[1])
        yield process, log, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def test_the_command_serves_packets_and_stops_on_sigterm(live_app, stations, client):
    station_id, mn = stations()
    with serving(live_app) as (process, log, port):
        # The last whole local hour, so the real clock's checks pass.
        local_hour = datetime.now(zone(live_app)).replace(minute=0, second=0)
        local_hour -= timedelta(hours=1)
        station = client(port)
        station.send(data_packet(mn, data_time=local_hour.strftime("%Y%m%d%H%M%S")))
        assert station.reply() is not None
        assert len(rows(live_app, station_id)) == 6
        assert utcnow() - last_reading_at(live_app, station_id) < timedelta(minutes=1)
        station.send(data_packet(mn, pw="000000"))
        log.wait_for(rf"WARNING gridpatrol\.hj212: refused .*\[auth\]: unknown MN .*MN={mn}")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        log.wait_for(r"HJ 212 receiver stopped: .*1 packets stored \(6 values")


def test_sigterm_while_every_connection_is_busy_closes_each_one_cleanly(live_app, stations):
    """The stop is taken between two steps of the connections: each one ends as "server
    closing", and no interrupt lands in the middle of a read, a store or a reply (the ten-minute
    soak saw a KeyboardInterrupt's traceback from inside a reply's write)."""
    _station_id, mn = stations()
    local_hour = datetime.now(zone(live_app)).replace(minute=0, second=0) - timedelta(hours=1)
    packet = data_packet(mn, data_time=local_hour.strftime("%Y%m%d%H%M%S"))
    stop = threading.Event()
    answered = threading.Semaphore(0)  # released once by each station at its first reply

    def station(port):  # the same packet again and again: a duplicate is answered all the same
        first = True
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)) as sock:
            while not stop.is_set():
                sock.sendall(packet * 5)
                if not sock.recv(4096):
                    return
                if first:
                    answered.release()
                    first = False

    with serving(live_app) as (process, log, port):
        senders = [threading.Thread(target=station, args=(port,)) for _ in range(20)]
        for sender in senders:
            sender.start()
        for _ in senders:  # every connection sending, storing and replying
            assert answered.acquire(timeout=30), "a station got no reply"
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=30) == 0
        finally:
            stop.set()
            for sender in senders:
                sender.join(10)
        text = log.rest()
    assert "Traceback" not in text
    assert re.search(r"HJ 212 receiver stopping: 20 connections open", text), text[-3000:]
    closes = re.findall(r"connection from \S+ closed: (.*)", text)
    assert closes == ["server closing"] * 20, closes
    assert re.search(r"HJ 212 receiver stopped: 20 connections, \d+ frames", text)


def zone(live_app):
    with live_app.app_context():
        return local_zone()


ARENAS_PROBE = """
import ctypes, os, re, sys, tempfile, threading
from alerts import cli
if sys.argv[1] == "capped":
    cli._fewer_malloc_arenas()
barrier = threading.Barrier(8)
def allocate():
    barrier.wait()  # all at once, so that glibc hands out arenas to avoid contention
    for _ in range(200):
        [bytearray(2048) for _ in range(200)]
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fdopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
with tempfile.TemporaryFile("w+") as out:
    stream = libc.fdopen(os.dup(out.fileno()), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    out.seek(0)
    print(len(re.findall(r"<heap nr=", out.read())))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc arenas")
def test_the_receiver_caps_malloc_arenas_so_freed_memory_is_reused():
    """What `hj212-serve` does before its threads start: without it, eight threads allocating
    at once get arenas of their own (whose freed memory only they reuse)."""

    def heaps(mode):
        env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
        done = subprocess.run(
            [sys.executable, "-c", ARENAS_PROBE, mode],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return int(done.stdout)

    assert heaps("capped") <= 2
    assert heaps("default") > 2
