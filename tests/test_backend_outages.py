"""Parts the app needs out of reach for a while, as the soak (docs/reliability.md) made them:
PostgreSQL restarted, the database unreachable, the network to Redis cut. Each is passing
trouble, to be answered 503 (the phone's queue sends again) or ridden over, never a 500 or a
request held until the part comes back. Apps of their own here, outside the rolled-back
session of the other tests (whose requests would all use that session's connection)."""

import socket
import sqlite3
import threading

import pytest
import sqlalchemy as sa

import extensions
from extensions import db
from tests.conftest import AuthActions, _pg_admin, make_app
from tests.test_sync import Phone


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_connection_postgresql_dropped_is_replaced_not_answered_500(database):
    """After a PostgreSQL restart every worker's pooled connection is dead; each was used once
    more, for a 500, before the pool replaced it. The pool now checks a connection as it leaves."""
    if database.backend != "postgis":
        pytest.skip("PostgreSQL's connections (SQLite's are files)")
    application = make_app(database.clone())
    client = application.test_client()
    assert client.get("/public/").status_code == 200  # a connection now waits in the pool
    with application.app_context():
        name = db.engine.url.database
        db.session.remove()
    _pg_admin(  # as a restart does to every connection of the database
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    assert client.get("/public/").status_code == 200
    with application.app_context():
        db.engine.dispose()


def test_a_database_out_of_reach_is_a_503_to_try_again_not_a_500(database):
    if database.backend != "postgis":
        pytest.skip("a database server to be out of reach")
    nowhere = sa.make_url(database.template_url).set(host="127.0.0.1", port=_free_port())
    application = make_app(nowhere.render_as_string(hide_password=False))
    client = application.test_client()
    client.set_cookie("lang", "en")

    page = client.get("/public/")
    api = client.get("/public/", headers={"Accept": "application/json"})

    assert page.status_code == 503 and page.headers["Retry-After"].isdigit()
    assert "briefly unavailable" in page.get_data(as_text=True)
    assert api.status_code == 503 and api.json["error"] == 503
    # A fault of the code is still a fault: a missing table is no passing trouble.
    with application.app_context():
        missing = sa.exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table"))
        assert not extensions.backend_unavailable(missing)
        assert extensions.backend_unavailable(
            sa.exc.OperationalError("SELECT", {}, sqlite3.OperationalError("database is locked"))
        )


def test_the_task_queue_gives_up_on_a_redis_that_does_not_answer(monkeypatch):
    """The network to Redis cut (packets dropped): without timeouts every request that queued
    a task waited until the link came back (22 s at the soak's p95)."""
    silent = socket.create_server(("127.0.0.1", 0))  # connects, then never answers
    port = silent.getsockname()[1]
    monkeypatch.setenv("GRIDPATROL_TASKS_URL", f"redis://127.0.0.1:{port}/0")
    queue = extensions._task_queue()
    assert (
        queue.storage.pool.connection_kwargs["socket_timeout"]
        == (extensions.REDIS_TIMEOUTS["socket_timeout"])
    )
    raised = []

    def enqueue():
        try:
            queue.storage.enqueue(b"task")
        except Exception as exc:  # noqa: BLE001 - what it gives up with is checked below
            raised.append(exc)

    trying = threading.Thread(target=enqueue, daemon=True)
    trying.start()
    trying.join(60)  # without timeouts it waits as long as the link is cut: here, for ever
    silent.close()
    assert not trying.is_alive(), "the task queue is still waiting for a Redis that never answers"
    assert raised and extensions.backend_unavailable(raised[0])  # a 503 in a request


def test_a_signed_in_phone_gets_503s_while_the_database_is_down_and_works_after(database):
    """The soak's PostgreSQL restart: the error answer itself read the account again (for the
    language, for the page's menu), failed the same way and became a bare 500."""
    if database.backend != "postgis":
        pytest.skip("a database server to go down")
    application = make_app(database.clone())
    client = application.test_client()
    assert AuthActions(client).login("cun").status_code == 302
    token = Phone(client).token()
    with application.app_context():
        name = db.engine.url.database
    _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')  # down: nobody gets in
    _pg_admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    try:
        page = client.get("/")
        badge = client.get("/notifications/badge", headers={"HX-Request": "true"})
        sync = client.post("/sync/items", json={"items": []}, headers={"X-CSRFToken": token})
        expired = client.post("/sync/items", json={"items": []})  # the CSRF refusal's page too
    finally:
        _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    for answer in (page, badge, sync, expired):
        assert answer.status_code == 503, (answer.request.path, answer.status_code)
        assert answer.headers["Retry-After"].isdigit()
    assert "服务暂时不可用" in page.get_data(as_text=True)
    assert sync.json["error"] == 503 and sync.json["message"]
    # The database back: the same browser, still signed in, is served again.
    assert client.get("/").status_code == 200
    with application.app_context():
        db.engine.dispose()
