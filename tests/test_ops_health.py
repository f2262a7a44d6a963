"""GET /healthz (ops/health.py): each check against the real part, healthy and failing for real: a
database that cannot be reached, a photo folder missing or read-only, a task queue whose file
cannot be opened or is locked, a receiver's port closed or never answering."""

import json
import os
import socket
import sqlite3
import subprocess
import threading
import time

import pytest
from huey import SqliteHuey

from app import create_app
from evidence.storage import LocalStore
from ops import health
from tests.conftest import BASE_CONFIG, make_app

CHECKS = {"database", "storage", "queue", "receiver"}


def healthz(client):
    answer = client.get("/healthz")
    return answer, json.loads(answer.get_data(as_text=True))


def failing_only(body, name):
    """The answer fails on `name` alone: every other check passed."""
    assert body["status"] == "failing"
    assert {n for n, c in body["checks"].items() if not c["ok"]} == {name}, body


@pytest.fixture
def listening():
    """A TCP server socket on loopback (the kernel completes connections; nobody accepts)."""
    server = socket.create_server(("127.0.0.1", 0))
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.fixture
def closed_port():
    """A loopback port nobody listens on (taken from the kernel, then let go)."""
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"127.0.0.1:{port}"


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder no one may write to: without write permission, or for root (whom permissions do
    not stop) a read-only tmpfs mounted on it."""
    folder = tmp_path / "photos"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_healthy_server_answers_200_with_every_check(client, app):
    answer, body = healthz(client)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.mimetype == "application/json"
    assert "Set-Cookie" not in answer.headers
    assert body["status"] == "ok"
    assert set(body["checks"]) == CHECKS
    for check in body["checks"].values():
        assert check["ok"] is True
        assert isinstance(check["ms"], float) and check["ms"] >= 0
        assert isinstance(check["detail"], str) and check["detail"]
    assert body["checks"]["receiver"] == {"ok": True, "ms": 0.0, "detail": "not configured"}
    assert body["checks"]["queue"]["detail"].endswith("scheduled")
    # The probe object is gone again: nothing left in the photo folder's health/.
    leftovers = os.path.join(app.config["PHOTO_STORAGE_DIR"], "health")
    assert not os.path.isdir(leftovers) or os.listdir(leftovers) == []


def test_head_answers_as_get_without_a_body(client):
    answer = client.head("/healthz")
    assert answer.status_code == 200
    assert answer.data == b""


def test_a_signed_in_session_is_not_needed_nor_a_csrf_token(client):
    for _ in range(3):  # a load balancer asks again and again, from one address
        assert client.get("/healthz").status_code == 200


# --- the receiver -------------------------------------------------------------------------------


def test_a_listening_receiver_passes(client, app, monkeypatch, listening):
    monkeypatch.setitem(app.config, "HJ212_HEALTH_ADDRESS", listening)
    answer, body = healthz(client)
    assert answer.status_code == 200
    assert body["checks"]["receiver"]["ok"] is True
    assert body["checks"]["receiver"]["detail"] == "accepts connections"


def test_a_closed_receiver_port_fails_the_whole(client, app, monkeypatch, closed_port):
    monkeypatch.setitem(app.config, "HJ212_HEALTH_ADDRESS", closed_port)
    answer, body = healthz(client)
    assert answer.status_code == 503
    failing_only(body, "receiver")
    detail = body["checks"]["receiver"]["detail"]
    assert detail == "ConnectionRefusedError: Connection refused"
    assert closed_port.split(":")[1] not in answer.get_data(as_text=True)


def test_a_receiver_that_never_answers_fails_at_the_deadline(client, app, monkeypatch):
    """A listening socket whose queue of connections is full: the kernel drops further SYNs,
    so a connection attempt hangs, as to a host that went away."""
    server = socket.create_server(("127.0.0.1", 0), backlog=0)
    address = server.getsockname()
    held = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(address)
        held.append(filler)
    monkeypatch.setitem(app.config, "HJ212_HEALTH_ADDRESS", f"127.0.0.1:{address[1]}")
    monkeypatch.setitem(app.config, "HEALTH_TIMEOUT_SECONDS", 0.5)
    try:
        began = time.monotonic()
        answer, body = healthz(client)
        took = time.monotonic() - began
    finally:
        for filler in held:
            filler.close()
        server.close()
    assert answer.status_code == 503
    failing_only(body, "receiver")
    assert body["checks"]["receiver"]["detail"] in (
        "no answer within 0.5 s",
        "TimeoutError: timed out",
    )
    assert took < 2.0


# --- storage ------------------------------------------------------------------------------------


def test_a_missing_photo_folder_fails(client, app, monkeypatch, tmp_path):
    """A missing folder is a missing mount: the store would otherwise create it on the local
    disk and fill that instead."""
    missing = tmp_path / "not-mounted"
    monkeypatch.setitem(app.config, "PHOTO_STORAGE_DIR", str(missing))
    answer, body = healthz(client)
    assert answer.status_code == 503
    failing_only(body, "storage")
    assert body["checks"]["storage"]["detail"] == "the photo folder does not exist (not mounted?)"
    assert not missing.exists()  # the check created nothing


def test_a_read_only_photo_folder_fails(client, app, monkeypatch, read_only_folder):
    monkeypatch.setitem(app.config, "PHOTO_STORAGE_DIR", str(read_only_folder))
    answer, body = healthz(client)
    assert answer.status_code == 503
    failing_only(body, "storage")
    detail = body["checks"]["storage"]["detail"]
    assert detail in ("OSError: Read-only file system", "PermissionError: Permission denied")
    assert str(read_only_folder) not in answer.get_data(as_text=True)


def test_a_configured_store_is_checked_through_its_port(client, app, monkeypatch, tmp_path):
    """PHOTO_STORE (object storage in production) is what the check uses, not a folder."""
    monkeypatch.setitem(app.config, "PHOTO_STORE", LocalStore(tmp_path / "store"))
    monkeypatch.setitem(app.config, "PHOTO_STORAGE_DIR", str(tmp_path / "unused"))
    (tmp_path / "store").mkdir()
    answer, body = healthz(client)
    assert answer.status_code == 200, body
    assert body["checks"]["storage"]["detail"] == "put, get and delete"
    assert list((tmp_path / "store" / "health").iterdir()) == []


# --- the task queue -----------------------------------------------------------------------------


def test_a_queue_that_cannot_be_opened_fails(client, monkeypatch, tmp_path):
    broken = SqliteHuey("broken", filename=str(tmp_path / "gone" / "tasks.db"), create_tables=False)
    monkeypatch.setattr(health, "huey", broken)
    answer, body = healthz(client)
    assert answer.status_code == 503
    failing_only(body, "queue")
    assert body["checks"]["queue"]["detail"] == "OperationalError: unable to open database file"


def test_a_queue_that_hangs_fails_at_the_deadline(client, app, monkeypatch, tmp_path):
    """Another process holds the queue's file locked (rollback journal, exclusive lock): huey
    would wait its own 5 s; the check gives up at HEALTH_TIMEOUT_SECONDS."""
    path = str(tmp_path / "tasks.db")
    locked = SqliteHuey("locked", filename=path, journal_mode="delete", timeout=3)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(health, "huey", locked)
    monkeypatch.setitem(app.config, "HEALTH_TIMEOUT_SECONDS", 0.5)
    try:
        began = time.monotonic()
        answer, body = healthz(client)
        took = time.monotonic() - began
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert answer.status_code == 503
    failing_only(body, "queue")
    assert body["checks"]["queue"] == {"ok": False, "ms": 500.0, "detail": "no answer within 0.5 s"}
    assert took < 2.0
    _wait_for_threads()


def test_a_check_that_keeps_hanging_stops_taking_threads_and_spares_the_others(
    client, app, monkeypatch, tmp_path
):
    """Each check holds at most 4 threads of a process: a load balancer asking every few
    seconds of a queue that never answers gets "still hang" at once from the fifth time,
    and the database, storage and receiver are still checked."""
    path = str(tmp_path / "tasks.db")
    locked = SqliteHuey("locked", filename=path, journal_mode="delete", timeout=3)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(health, "huey", locked)
    monkeypatch.setitem(app.config, "HEALTH_TIMEOUT_SECONDS", 0.2)
    try:
        details = [healthz(client)[1]["checks"] for _ in range(5)]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [c["queue"]["detail"] for c in details] == ["no answer within 0.2 s"] * 4 + [
        "earlier checks of this process still hang"
    ]
    assert all(c[name]["ok"] for c in details for name in ("database", "storage", "receiver"))
    _wait_for_threads()


def _wait_for_threads():
    """Until the hung checks' threads have finished (the lock is released), so that the next
    test starts with every slot free."""
    deadline = time.monotonic() + 10
    while any(t.name == "healthz" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "health check threads still running"
        time.sleep(0.05)


def test_the_queue_counts_what_waits(client, monkeypatch, tmp_path):
    queue = SqliteHuey("counted", filename=str(tmp_path / "tasks.db"))

    @queue.task()
    def nothing():
        pass

    nothing.schedule(delay=3600)
    queue.add_schedule(queue.dequeue())  # as the consumer puts aside a task not yet due
    nothing()
    nothing()
    monkeypatch.setattr(health, "huey", queue)
    _answer, body = healthz(client)
    assert body["checks"]["queue"]["detail"] == "2 pending, 1 scheduled"


# --- the database -------------------------------------------------------------------------------


def test_an_unreachable_database_fails_without_saying_where(database, tmp_path):
    """A server whose database cannot be reached: the answer says so in a few words, with
    neither the address nor the password of its URL."""
    if database.backend == "spatialite":
        url = f"sqlite:///{tmp_path / 'no-such-folder' / 'gridpatrol.db'}"
        secrets_in_url = [str(tmp_path)]
    else:
        port = socket.create_server(("127.0.0.1", 0))
        closed = port.getsockname()[1]
        port.close()
        url = f"postgresql+psycopg://gridpatrol:s3cret-pw@127.0.0.1:{closed}/gridpatrol"
        secrets_in_url = ["s3cret-pw", str(closed), "gridpatrol:"]
    application = make_app(url, PHOTO_STORAGE_DIR=str(tmp_path))
    answer, body = healthz(application.test_client())
    assert answer.status_code == 503
    failing_only(body, "database")
    assert body["checks"]["database"]["detail"] == "cannot connect (OperationalError)"
    text = answer.get_data(as_text=True)
    for secret in secrets_in_url:
        assert secret not in text


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("127.0.0.1:2120", ("127.0.0.1", 2120)),
        ("hj212.internal:9212", ("hj212.internal", 9212)),
        ("[::1]:9212", ("::1", 9212)),
    ],
)
def test_the_receiver_address_is_read(value, expected):
    assert health.receiver_address(value) == expected


@pytest.mark.parametrize(
    "value", ["127.0.0.1", ":2120", "host:", "host:0", "host:65536", "host:abc", "host:١٢", 9212]
)
def test_a_wrong_receiver_address_stops_the_app_from_starting(value):
    with pytest.raises(RuntimeError, match="GRIDPATROL_HJ212_HEALTH_ADDRESS"):
        create_app(
            {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://", "HJ212_HEALTH_ADDRESS": value}
        )


@pytest.mark.parametrize("value", [0, -1, 61, "2", True, None])
def test_a_wrong_timeout_stops_the_app_from_starting(value):
    with pytest.raises(RuntimeError, match="GRIDPATROL_HEALTH_TIMEOUT_SECONDS"):
        create_app(
            {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://", "HEALTH_TIMEOUT_SECONDS": value}
        )


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (
            FileNotFoundError(2, "No such file or directory", "/srv/photos/x"),
            "FileNotFoundError: No such file or directory",
        ),
        (
            ConnectionError("Error 111 connecting to redis.internal:6379. Connection refused."),
            "ConnectionError: Error 111 connecting to <address>. Connection refused.",
        ),
        (
            RuntimeError('Could not connect to the endpoint URL: "http://s3.internal:9000/b/k"'),
            'RuntimeError: Could not connect to the endpoint URL: "<url>"',
        ),
        (RuntimeError("at 10.1.2.3 failed"), "RuntimeError: at <address> failed"),
        (RuntimeError("first line\nsecond line"), "RuntimeError: first line"),
        (RuntimeError(""), "RuntimeError"),
        (RuntimeError("x" * 500), "RuntimeError: " + "x" * 100),
    ],
)
def test_a_detail_names_the_error_without_paths_urls_or_addresses(error, shown):
    assert health.describe(error) == shown
