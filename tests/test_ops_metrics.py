"""GET /metrics (ops/metrics.py): requests counted by endpoint, method and status, failures
included; the latency histogram; the values read at scrape time from rows inserted here and from
a real huey queue; who may read it; and gunicorn's worker processes added up in one scrape, a
killed worker's counts kept."""

import gzip
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from flask import request
from huey import SqliteHuey
from prometheus_client import multiprocess
from prometheus_client.parser import text_string_to_metric_families

from alerts.models import Reading
from app import create_app
from extensions import db
from grid.time import utcnow
from notify.models import Delivery
from ops import metrics
from tests.conftest import BASE_CONFIG, make_app

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = "gridpatrol_http_requests_total"
LATENCY = "gridpatrol_http_request_duration_seconds"
TOKEN = "t0ken-for-the-tests-" + "x" * 20


def parse(text: str) -> dict:
    """{(sample name, sorted labels): value} of a scrape."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client, **kwargs) -> dict:
    answer = client.get("/metrics", **kwargs)
    assert answer.status_code == 200, answer.status_code
    return parse(answer.get_data(as_text=True))


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def own_app(app):
    """A second app on the session's database, to which a test may add routes of its own."""
    made = []

    def build(**overrides):
        application = make_app(app.config["SQLALCHEMY_DATABASE_URI"], **overrides)
        made.append(application)
        return application

    yield build
    for application in made:
        with application.app_context():
            db.engine.dispose()


# --- requests -----------------------------------------------------------------------------------


def test_a_request_is_counted_by_endpoint_method_and_status(client):
    labels = {"endpoint": "desk.offline", "method": "GET", "status": "200"}
    before = value(scrape(client), REQUESTS, **labels)
    assert client.get("/offline").status_code == 200
    assert client.get("/offline").status_code == 200
    after = scrape(client)
    assert value(after, REQUESTS, **labels) == before + 2
    # The scrape counts itself too, under its own endpoint.
    assert value(after, REQUESTS, endpoint="ops.metrics", method="GET", status="200") >= 1


def test_a_path_no_route_matches_counts_as_404_and_never_by_its_path(client):
    before = value(scrape(client), REQUESTS, endpoint="404", method="GET", status="404")
    path = f"/no/such/page-{uuid.uuid4().hex}"
    assert client.get(path).status_code == 404
    answer = client.get("/metrics")
    assert value(parse(answer.get_data(as_text=True)), REQUESTS, endpoint="404", method="GET",
                 status="404") == before + 1  # fmt: skip
    assert path not in answer.get_data(as_text=True)


def test_a_method_no_route_knows_counts_as_other(client):
    labels = {"endpoint": "405", "method": "other", "status": "405"}
    before = value(scrape(client), REQUESTS, **labels)
    assert client.open("/offline", method="BREW").status_code == 405
    assert value(scrape(client), REQUESTS, **labels) == before + 1


def test_a_failure_is_counted_as_a_500(own_app):
    """A view that fails (the app's error page answers) and a failure that escapes to the
    server (an after-request hook that fails: no later hook sees the response) both count."""

    def boom():
        raise RuntimeError("broken on purpose")

    def fail_after(response):
        if request.path == "/escapes":
            raise RuntimeError("broken on purpose")
        return response

    served = own_app()
    served.add_url_rule("/boom", "boom", boom)
    escaping = own_app()  # TESTING: an exception no handler takes reaches the caller
    escaping.add_url_rule("/escapes", "escapes", lambda: "fine")
    escaping.after_request(fail_after)  # runs before the app's own hooks
    client = served.test_client()
    before = scrape(client)
    assert client.get("/boom").status_code == 500
    with pytest.raises(RuntimeError, match="broken on purpose"):
        escaping.test_client().get("/escapes")
    after = scrape(client)
    for endpoint in ("boom", "escapes"):
        labels = {"endpoint": endpoint, "method": "GET", "status": "500"}
        assert value(after, REQUESTS, **labels) == value(before, REQUESTS, **labels) + 1
        count = value(after, f"{LATENCY}_count", endpoint=endpoint, method="GET")
        assert count == value(before, f"{LATENCY}_count", endpoint=endpoint, method="GET") + 1


def test_the_latency_histogram_puts_a_request_in_its_bucket(own_app):
    def slow():
        time.sleep(0.03)
        return "done"

    application = own_app()
    application.add_url_rule("/slow", "slow", slow)
    client = application.test_client()
    labels = {"endpoint": "slow", "method": "GET"}
    before = scrape(client)
    assert client.get("/slow").status_code == 200
    after = scrape(client)
    buckets = {
        dict(labels_)["le"]
        for (name, labels_) in after
        if name == f"{LATENCY}_bucket" and dict(labels_)["endpoint"] == "slow"
    }
    assert buckets == {*(str(float(b)) for b in metrics.BUCKETS), "+Inf"}
    assert float(min(buckets - {"+Inf"}, key=float)) == 0.005
    assert float(max(buckets - {"+Inf"}, key=float)) == 10.0

    def grew(name, **extra):
        return value(after, name, **labels, **extra) - value(before, name, **labels, **extra)

    took = grew(f"{LATENCY}_sum")
    assert took >= 0.03  # it slept 30 ms
    assert grew(f"{LATENCY}_count") == 1
    # Every bucket at or above the time it took holds the request, none below (how long it took
    # beyond its 30 ms depends on the machine's load, so the bucket is read off the sum).
    for bound in [*metrics.BUCKETS, float("inf")]:
        le = "+Inf" if bound == float("inf") else str(float(bound))
        assert grew(f"{LATENCY}_bucket", le=le) == (1 if took <= bound else 0), le


# --- read at scrape time --------------------------------------------------------------------------


def test_deliveries_of_the_last_hour_by_channel_and_status(client, db_session):
    before = scrape(client)
    now = utcnow()
    for channel, status, at in [
        ("sms", "failed", now - timedelta(minutes=1)),
        ("sms", "failed", now - timedelta(minutes=50)),
        ("webpush", "sent", now),
        ("sms", "failed", now - timedelta(hours=2)),  # before the hour: not counted
    ]:
        db_session.add(Delivery(channel=channel, target="138****0000", status=status, at=at))
    db_session.flush()
    after = scrape(client)
    name = "gridpatrol_delivery_attempts_last_hour"
    for channel, status, added in [("sms", "failed", 2), ("webpush", "sent", 1)]:
        labels = {"channel": channel, "status": status}
        assert value(after, name, **labels) == value(before, name, **labels) + added


def test_minute_readings_and_reporting_stations(client, db_session, make_world, make_station):
    before = scrape(client)
    station, _token = make_station(make_world(villages=1))
    now = utcnow()
    station.last_reading_at = now
    for pollutant, period, at, source in [
        ("PM2.5", "minute", now - timedelta(minutes=1), "hj212"),
        ("PM10", "minute", now - timedelta(minutes=1), "hj212"),
        ("PM2.5", "minute", now - timedelta(minutes=2), "http"),
        ("PM2.5", "minute", now - timedelta(minutes=10), "hj212"),  # too old
        ("PM2.5", "hour", now - timedelta(minutes=1), "hj212"),  # not a minute value
    ]:
        db_session.add(
            Reading(
                station_id=station.id,
                pollutant=pollutant,
                period=period,
                measured_at=at,
                value=35.0,
                source=source,
            )
        )
    db_session.flush()
    after = scrape(client)
    readings = "gridpatrol_minute_readings_last_5m"
    assert value(after, readings, source="hj212") == value(before, readings, source="hj212") + 2
    assert value(after, readings, source="http") == value(before, readings, source="http") + 1
    for name in ("gridpatrol_stations", "gridpatrol_stations_reporting_last_5m"):
        assert value(after, name, status="active") == value(before, name, status="active") + 1


def test_the_queue_depth_is_read_from_huey(client, monkeypatch, tmp_path):
    queue = SqliteHuey("metered", filename=str(tmp_path / "tasks.db"))

    @queue.task()
    def nothing():
        pass

    nothing.schedule(delay=3600)
    queue.add_schedule(queue.dequeue())  # as the consumer puts aside a task not yet due
    for _ in range(3):
        nothing()
    monkeypatch.setattr(metrics, "huey", queue)
    samples = scrape(client)
    assert value(samples, "gridpatrol_task_queue_pending") == 3
    assert value(samples, "gridpatrol_task_queue_scheduled") == 1
    assert value(samples, "gridpatrol_metrics_part_ok", part="queue") == 1


def test_a_part_that_cannot_be_read_is_reported_and_the_rest_is_read(client, monkeypatch, tmp_path):
    broken = SqliteHuey("broken", filename=str(tmp_path / "gone" / "tasks.db"), create_tables=False)
    monkeypatch.setattr(metrics, "huey", broken)
    samples = scrape(client)
    assert value(samples, "gridpatrol_metrics_part_ok", part="queue") == 0
    for part in ("deliveries", "readings", "stations"):
        assert value(samples, "gridpatrol_metrics_part_ok", part=part) == 1
    assert ("gridpatrol_task_queue_pending", ()) not in samples


# --- who may read it ----------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"])
def test_without_a_token_this_machine_may_read(client, address):
    answer = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.mimetype == "text/plain"


@pytest.mark.parametrize("address", ["203.0.113.5", "10.0.0.8", "2001:db8::1", "", "garbage"])
def test_without_a_token_anyone_else_gets_404(client, address):
    answer = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert answer.status_code == 404
    assert b"gridpatrol_" not in answer.data


def test_a_forwarded_for_header_from_outside_is_not_believed(client):
    """TRUSTED_PROXIES is 0: X-Forwarded-For is anyone's to write."""
    answer = client.get(
        "/metrics",
        environ_base={"REMOTE_ADDR": "203.0.113.5"},
        headers={"X-Forwarded-For": "127.0.0.1"},
    )
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong-token-of-the-same-kind", 401),
        (f"Bearer {TOKEN}x", 401),
        (f"Basic {TOKEN}", 401),
        (TOKEN, 401),
        (f"Bearer {TOKEN}", 200),
        (f"bearer {TOKEN}", 200),
    ],
)
def test_with_a_token_only_its_bearer_may_read(client, app, monkeypatch, authorization, status):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    headers = {"Authorization": authorization} if authorization else {}
    for address in ("127.0.0.1", "203.0.113.5"):  # this machine needs it too
        answer = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": address})
        assert answer.status_code == status
        if status == 401:
            assert answer.headers["WWW-Authenticate"] == "Bearer"
            assert b"gridpatrol_" not in answer.data


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer " + "x" * 100_000,
        "Bearer \x00" + TOKEN,
        "Bearer " + TOKEN + "\x00",
        "Bearer 令牌令牌令牌令牌令牌令牌令牌令牌",
        "Bearer",
        "Bearer  ",
        " " * 50,
    ],
)
def test_a_hostile_authorization_header_is_refused_plainly(client, app, monkeypatch, authorization):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    answer = client.get("/metrics", headers={"Authorization": authorization})
    assert answer.status_code == 401


@pytest.mark.parametrize("token", ["short", 12345678901234567890, ["a" * 20]])
def test_a_weak_or_malformed_token_stops_the_app_from_starting(token):
    with pytest.raises(RuntimeError, match="GRIDPATROL_METRICS_TOKEN"):
        create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://", "METRICS_TOKEN": token})


def test_the_scrape_is_gzipped_for_prometheus(client):
    plain = client.get("/metrics")
    packed = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert REQUESTS in gzip.decompress(packed.data).decode()


# --- several processes --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:  # loopback, a server of our own
        return answer.read().decode()


def _offline_count(base: str) -> float:
    samples = parse(_get(base + "/metrics"))
    return value(samples, REQUESTS, endpoint="desk.offline", method="GET", status="200")


def _offline_served_by(folder: Path) -> dict[int, float]:
    """Each worker's own count of /offline, read from its file alone."""
    served = {}
    for path in folder.glob("counter_*.db"):
        pid = int(path.stem.split("_")[-1])
        families = multiprocess.MultiProcessCollector.merge([str(path)], accumulate=False)
        served[pid] = sum(
            sample.value
            for family in families
            for sample in family.samples
            if sample.name == REQUESTS and sample.labels.get("endpoint") == "desk.offline"
        )
    return served


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.1)


def test_gunicorn_workers_add_up_and_a_killed_worker_keeps_its_counts(tmp_path):
    """gunicorn.conf.py as deployed, two workers and PROMETHEUS_MULTIPROC_DIR: a scrape answered
    by either adds up both; a worker killed with SIGKILL keeps its counts in the total, and the
    child_exit hook removes its live-process gauge files."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "GRIDPATROL_SECRET_KEY": "gunicorn-test-" + "k" * 40,
        "GRIDPATROL_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "GRIDPATROL_TASKS_FILE": str(tmp_path / "tasks.db"),
        "GRIDPATROL_PHOTO_STORAGE_DIR": f'"{tmp_path / "photos"}"',
        "GRIDPATROL_TILE_URL": '""',
        "GRIDPATROL_SESSION_COOKIE_SECURE": "false",
    }
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-c",
                "gunicorn.conf.py",
                "app:create_app()",
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:  # asks another page than the one counted
        assert server.poll() is None, log_path.read_text()[-3000:]
        try:
            _get(base + "/manifest.webmanifest")
        except OSError:
            return False
        return True

    try:
        _wait_for(up, 60, "gunicorn to serve")
        for _ in range(8):
            _get(base + "/offline")
        assert _offline_count(base) == 8
        served = _offline_served_by(folder)
        assert sum(served.values()) == 8
        killed = max(served, key=served.get)  # a worker that served some
        live_gauge = folder / f"gauge_livesum_{killed}.db"  # what mark_process_dead removes
        live_gauge.write_bytes(b"")
        os.kill(killed, signal.SIGKILL)
        _wait_for(lambda: not live_gauge.exists(), 30, "child_exit to mark the worker dead")
        _wait_for(up, 60, "the workers after the kill")
        assert _offline_count(base) == 8  # the dead worker's counts are still there
        for _ in range(4):
            _get(base + "/offline")
        assert _offline_count(base) == 12
    finally:
        server.terminate()
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
