"""Enterprises' CEMS packets through the stations' receiver, end to end: real sockets, the
receiver with the stations' gate and the monitoring points' gate behind the router
(alerts.gates), on the live copy of the demo database (commits are real). Each test registers
its own points and stations (unique MNs) and deletes them with their values at the end."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from alerts import hj212
from alerts import services as alert_services
from alerts.gates import Router
from alerts.hj212_ingest import DatabaseGate
from alerts.models import Reading, Station
from alerts.receiver import Limits, Receiver
from alerts.registry import HJ212_GATES
from enforce.exceed import services
from enforce.exceed.ingest import PointGate
from enforce.exceed.models import CemsValue, EmissionLimit, MonitoringPoint
from extensions import db
from sources.models import Source
from tests.test_hj212_ingest import Client, Lines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "cems-pass-1"
LIMITS = Limits(idle_timeout=5.0, frame_timeout=2.0, worker_threads=4, write_timeout=2.0)
# DataTime 2026-11-30 10:00 local (China Standard Time) is 02:00 UTC.
LOCAL = datetime(2026, 11, 30, 10, 0)
UTC_HOUR = datetime(2026, 11, 30, 2, 0)


def cems_packet(mn, cn="2061", at=LOCAL, values=None, pw=PASSWORD):
    """A CEMS data packet (ST 31): SO2 and NOx averages with flags, the flue gas flow and
    oxygen (not kept), and Min/Max (not kept)."""
    values = values or {"a21026": (150.5, "N"), "a21002": (80.0, "M")}
    items = [{"DataTime": at.strftime("%Y%m%d%H%M%S")}]
    for code, (value, flag) in values.items():
        items.append(
            {f"{code}-Avg": value, f"{code}-Min": value, f"{code}-Max": value, f"{code}-Flag": flag}
        )
    items.append({"a00000-Avg": 12000.0, "a00000-Flag": "N", "a19001-Avg": 8.5})
    qn = datetime.now().strftime("%Y%m%d%H%M%S%f")[:17]
    return hj212.build("31", cn, pw, mn, items, qn=qn, flag=5)


@pytest.fixture
def points(live_app):
    """make(active=True) -> (id, mn): a monitoring point on a demo source, committed; deleted
    with its values at the end."""
    made = []

    def make(active=True):
        mn = "CE" + uuid.uuid4().hex[:18].upper()
        with live_app.app_context():
            source = db.session.scalar(sa.select(Source).order_by(Source.id).limit(1))
            point = services.add_point(source, "测试排放口", mn, PASSWORD, "31")
            point.active = active
            db.session.commit()
            made.append(point.id)
            return point.id, mn

    yield make
    with live_app.app_context():
        db.session.execute(sa.delete(CemsValue).where(CemsValue.point_id.in_(made)))
        db.session.execute(sa.delete(EmissionLimit).where(EmissionLimit.point_id.in_(made)))
        db.session.execute(sa.delete(MonitoringPoint).where(MonitoringPoint.id.in_(made)))
        db.session.commit()


@pytest.fixture
def station(live_app):
    """A micro-station (id, mn) with password PASSWORD; deleted with its readings."""
    mn = "GP" + uuid.uuid4().hex[:20].upper()
    with live_app.app_context():
        made = alert_services.add_station(
            code=mn[:20],
            name="路由测试站",
            kind="micro",
            lon=87.3,
            lat=44.0,
            mn=mn,
            password=PASSWORD,
        ).station
        db.session.commit()
        station_id = made.id
    yield station_id, mn
    with live_app.app_context():
        db.session.execute(sa.delete(Reading).where(Reading.station_id == station_id))
        db.session.execute(sa.delete(Station).where(Station.id == station_id))
        db.session.commit()


@pytest.fixture
def routed(live_app):
    """The receiver on 127.0.0.1 with the router over the stations' gate and the registered
    ones (as `flask alerts hj212-serve` builds it); -> (receiver, router, port)."""
    running = []

    def start():
        stations = DatabaseGate(live_app, now=lambda: datetime(2026, 11, 30, 4, 0))
        others = [entry.make(live_app) for entry in HJ212_GATES.ordered(live_app)]
        router = Router([stations, *others])
        server = Receiver(router.authenticate, router.store, LIMITS, recall=router.recall)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        running.append((loop, thread, server, router))
        listening = asyncio.run_coroutine_threadsafe(server.start("127.0.0.1", 0), loop).result(5)
        return server, router, listening.sockets[0].getsockname()[1]

    yield start
    for loop, thread, server, router in running:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
        router.close()


@pytest.fixture
def connect():
    opened = []

    def make(port):
        opened.append(Client(port))
        return opened[-1]

    yield make
    for each in opened:
        each.close()


def values_of(live_app, point_id):
    with live_app.app_context():
        return [
            (v.code, v.period, v.at, v.value, v.flag)
            for v in db.session.scalars(
                sa.select(CemsValue)
                .where(CemsValue.point_id == point_id)
                .order_by(CemsValue.period, CemsValue.at, CemsValue.code)
            )
        ]


def test_the_cems_gate_is_registered(live_app):
    assert list(HJ212_GATES.entries(live_app)) == ["enforce.exceed"]


def test_cems_and_station_packets_on_one_connection(live_app, points, station, routed, connect):
    point_id, mn = points()
    station_id, station_mn = station
    server, router, port = routed()
    assert isinstance(router.gates[1], PointGate)
    device = connect(port)
    device.send(cems_packet(mn))
    reply = device.reply()
    assert reply is not None and reply.cn == "9014"
    # Read at once from another session: committed before the reply. SO2 and NOx with their
    # flags; flow, oxygen, Min and Max left out.
    assert values_of(live_app, point_id) == [
        ("a21002", "hour", UTC_HOUR, 80.0, "M"),
        ("a21026", "hour", UTC_HOUR, 150.5, "N"),
    ]
    gate = router.gates[1]
    assert gate.stats["stored"] == 2 and gate.stats["other_code"] == 2
    assert gate.stats["other_kind"] == 4
    # a station's packet on the same connection goes to the stations' gate
    station_packet = hj212.build(
        "22",
        "2061",
        PASSWORD,
        station_mn,
        [{"DataTime": "20261130100000"}, {"a34004-Avg": 35.0, "a34004-Flag": "N"}],
        qn="20261130100000001",
        flag=5,
    )
    device.send(station_packet)
    assert device.reply() is not None
    with live_app.app_context():
        assert (
            db.session.scalar(sa.select(Reading.value).where(Reading.station_id == station_id))
            == 35.0
        )
    assert values_of(live_app, point_id)[1][3] == 150.5  # nothing of the station's here


def test_minute_packets_and_a_resend(live_app, points, routed, connect):
    point_id, mn = points()
    _server, _router, port = routed()
    device = connect(port)
    for minute, (value, flag) in enumerate([(120.0, "N"), (0.0, "C"), (130.0, "N")]):
        device.send(
            cems_packet(mn, "2051", LOCAL + timedelta(minutes=minute), {"a21026": (value, flag)})
        )
        assert device.reply() is not None
    device.send(cems_packet(mn, "2051", LOCAL, {"a21026": (999.0, "N")}))  # sent again
    assert device.reply() is not None
    assert values_of(live_app, point_id) == [
        ("a21026", "minute", UTC_HOUR, 120.0, "N"),
        ("a21026", "minute", UTC_HOUR + timedelta(minutes=1), 0.0, "C"),
        ("a21026", "minute", UTC_HOUR + timedelta(minutes=2), 130.0, "N"),
    ]


def test_wrong_password_and_inactive_points_are_refused(live_app, points, routed, connect):
    point_id, mn = points()
    off_id, off_mn = points(active=False)
    server, _router, port = routed()
    device = connect(port)
    device.send(cems_packet(mn, pw="wrong-pass"))
    device.send(cems_packet(off_mn))
    device.send(cems_packet("NOSUCHMN0001"))
    assert device.reply(timeout=1.0) is None
    assert values_of(live_app, point_id) == [] and values_of(live_app, off_id) == []
    assert server.stats.refused["auth"] == 3


def test_the_command_serves_cems_packets(live_app, points, connect):
    """`flask alerts hj212-serve` puts the registered gate behind its router."""
    point_id, mn = points()
    env = {
        **os.environ,
        "GRIDPATROL_SECRET_KEY": "test-secret-key",
        "DATABASE_URL": live_app.config["SQLALCHEMY_DATABASE_URI"],
    }
    command = [sys.executable, "-m", "flask", "--app", "app:create_app", "alerts"]
    command += ["hj212-serve", "--host", "127.0.0.1", "--port", "0", "--max-connections", "10"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    log = Lines(process.stderr)
    try:
        # A generous wait: the command imports the whole app (slow on a loaded machine).
        listening = r"HJ 212 receiver listening on .*'127\.0\.0\.1', (\d+)"
        port = int(log.wait_for(listening, timeout=120.0)[1])
        device = connect(port)
        device.send(cems_packet(mn))
        assert device.reply() is not None
        assert [v[0] for v in values_of(live_app, point_id)] == ["a21002", "a21026"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
