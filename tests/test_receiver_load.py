"""The HJ 212 receiver under load, in seconds: 200 connections at once of every kind the soak
uses (bench/soak_hj212.py, whose load generator this runs), against a receiver on a real socket
in this process with limits scaled down. No database: the store collects what it is handed, so
that "acknowledged" can be compared with "stored" exactly."""

import asyncio
import logging
import threading
import time
from collections import Counter
from concurrent.futures import Future
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from alerts import hj212
from alerts.receiver import Limits, Receiver
from bench.soak_hj212 import (
    GARBAGE,
    PASSWORD,
    Load,
    Timing,
    attribute,
    closed_with_reason,
    minute_packet,
)

ZONE = ZoneInfo("Asia/Shanghai")
SECONDS = 5.0
MIX = {
    "good": 60,
    "slow": 30,
    "idle": 30,
    "random": 20,
    "oversized": 15,
    "bad_crc": 15,
    "wrong_pw": 15,
    "half": 15,
}
LIMITS = Limits(
    max_connections=300,
    idle_timeout=2.0,
    frame_timeout=1.0,
    max_refused_per_connection=5,
    worker_threads=4,
    write_timeout=2.0,
)
TIMING = Timing(
    idle_timeout=LIMITS.idle_timeout,
    frame_timeout=LIMITS.frame_timeout,
    good_every=0.3,
    dribble_every=0.2,
    reply_timeout=5.0,
    garbage_every=0.05,
    pause=(0.05, 0.2),
)
STATIONS = [f"LOAD{n:04d}" for n in range(MIX["good"])]
# What the receiver closes each kind for (the first word of its reason), and the code of a
# refused packet it logs for them. Random bytes may hold a ## that starts a frame of sorts; on
# a busy machine the frame timeout may come first for a half frame or an oversized one.
EXPECTED = {
    "slow": ({"frame_timeout"}, "frame_timeout"),
    "idle": ({"idle"}, None),
    "random": ({"idle", "refused", "frame_timeout"}, None),
    "oversized": ({"buffer", "frame_timeout"}, "too_long"),
    "bad_crc": ({"refused"}, "crc"),
    "wrong_pw": ({"refused"}, "auth"),
    "half": ({"peer closed", "frame_timeout"}, "truncated"),
}


def authenticate(mn, pw):
    known = mn in STATIONS and pw == PASSWORD
    return SimpleNamespace(key=mn, lenient=False) if known else None


class Store:
    """The store callback: counts each (MN, QN) handed to it; completes at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.stored = Counter()

    def __call__(self, key, message):
        with self.lock:
            self.stored[(key, message.qn)] += 1
        done = Future()
        done.set_running_or_notify_cancel()
        done.set_result(None)
        return done


def good_packets(slot):
    """((MN, QN), frame) of one station's minute packets, each minute once."""
    minute = datetime(2024, 1, 5, 6, 0)
    while True:
        frame = minute_packet(STATIONS[slot], minute, ZONE)
        yield (STATIONS[slot], hj212.parse(frame).qn), frame
        minute -= timedelta(minutes=1)


@pytest.fixture
def receiver():
    """(receiver, store, port, loop): a receiver on its own event loop in a thread.

    The clients run on that loop too: the test thread may already have an
    event loop running (Playwright's sync API leaves one in a browser run), and
    asyncio.run() refuses to start a second one there.
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    store = Store()
    served = Receiver(authenticate, store, LIMITS)
    server = asyncio.run_coroutine_threadsafe(served.start("127.0.0.1", 0), loop).result(5)
    yield served, store, server.sockets[0].getsockname()[1], loop
    asyncio.run_coroutine_threadsafe(served.close(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


async def run_load(load):
    running = asyncio.ensure_future(load.run())
    peak = 0
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        assert not running.done(), running.exception()
        peak = max(peak, load.open)
    load.stop()
    await running
    final = minute_packet(STATIONS[0], datetime(2024, 1, 6), ZONE)
    return peak, await load.answered(final)


def test_200_connections_of_stations_slow_senders_idlers_and_garbage(receiver, caplog):
    served, store, port, loop = receiver
    load = Load(port, MIX, good_packets, STATIONS, ZONE, TIMING)
    with caplog.at_level(logging.INFO, logger="gridpatrol.hj212"):
        running = asyncio.run_coroutine_threadsafe(run_load(load), loop)
        peak, answered = running.result(SECONDS + 60)
        for _ in range(300):  # the receiver ends the connections the client closed
            if served.stats.active == 0:
                break
            time.sleep(0.01)
        # Every connection's close is logged. The receiver's thread logs the last one just
        # after the count drops: read the log, still at INFO, until every close is in it.
        for _ in range(300):
            messages = [record.getMessage() for record in caplog.records]
            unmatched = attribute(messages, load.conns)
            missing = [(c.kind, c.port) for c in load.conns if c.reason is None]
            if not missing:
                break
            time.sleep(0.01)
    # No crash: the server still answers, and holds nothing for connections gone.
    assert answered
    assert served.stats.active == 0 and not served._connections
    assert peak > 0.9 * sum(MIX.values())  # they were open at once
    assert served.stats.rejected_connections == 0 and not load.connect_errors

    # Every packet acknowledged was handed to the store once; nothing else was.
    acked = Counter(load.acked)
    assert len(acked) > MIX["good"] * 5
    assert max(acked.values()) == 1
    assert store.stored == Counter(list(acked) + [(STATIONS[0], "20240106080000000")])
    assert load.unanswered == 0 and load.good_lost == 0

    # Every close was logged; every garbage connection was closed with what was wrong with it.
    assert unmatched == 0
    assert not missing, f"no close logged for {missing}"
    garbage = [c for c in load.conns if c.kind in GARBAGE and c.closed_by != "end"]
    assert garbage and all(closed_with_reason(conn) for conn in garbage)
    for kind, (reasons, code) in EXPECTED.items():
        cut = [c for c in load.conns if c.kind == kind and c.closed_by != "end"]
        assert cut, f"no {kind} connection was closed in {SECONDS} s"
        assert {c.reason.split(":")[0] for c in cut} <= reasons, kind
        if kind in GARBAGE or kind == "slow":
            assert all(c.refused for c in cut), kind
        if code:
            assert any(c.refused[code] for c in cut), kind
    assert not [m for m in messages if "failed" in m]  # no connection ended by an exception
