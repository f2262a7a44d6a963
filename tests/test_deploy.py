"""The deployment on real parts (`make e2e-deploy`; part of `make test` where nginx and Redis are
installed): deploy/stack.py starts two gunicorn servers behind nginx with the shipped
configuration, Redis, two huey consumers and the HJ 212 receiver, on a copy of the demo in
PostGIS. The tests go through nginx as phones and offices do."""

import http.cookiejar
import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from deploy.stack import Stack, available
from extensions import db
from grid.models import UserSession
from patrol.models import Patrol, Visit
from tests.conftest import _pg_admin, browser_sign_in, make_app
from tests.slownet import SlowRelay
from tests.test_browser_enforce_draws import test_a_month_from_the_draw_to_the_public_page
from tests.test_browser_patrol import (
    open_patrol,
    photo_file,
    start_patrol,
    test_patrol_offline_and_synced_once,
    visit_source,
    wait_synced,
)
from tests.test_browser_problems import names, phones, test_problem_up_the_grid_and_back

STALL_S = 5  # a request through nginx answers well within this while slow uploads hang


@pytest.fixture(scope="module")
def stack(database):
    if database.backend != "postgis":
        pytest.skip("the deployment runs on PostgreSQL with PostGIS")
    why = available()
    if why:
        if os.environ.get("GRIDPATROL_REQUIRE_DEPLOY"):
            pytest.fail(why)
        pytest.skip(why)
    with Stack(database.clone()) as running:
        yield running


@pytest.fixture(scope="module")
def stack_app(stack):
    """The app in this process on the stack's database and photos, to look at what was stored."""
    application = make_app(
        stack.database_url, PHOTO_STORAGE_DIR=str(stack.photos), RATELIMIT_ENABLED=False
    )
    yield application
    with application.app_context():
        db.engine.dispose()


# The browser suite's main journeys, run here through nginx: the fixtures they take, `live_server`
# and `live_app`, are the stack's address and the app on its database in this module.
JOURNEYS = (
    test_patrol_offline_and_synced_once,
    test_problem_up_the_grid_and_back,
    test_a_month_from_the_draw_to_the_public_page,
    names,
    phones,
)


@pytest.fixture(scope="module")
def live_server(stack):
    return stack.url


@pytest.fixture(scope="module")
def live_app(stack_app):
    return stack_app


def fetch(url, data=None, headers=None, timeout=30):
    """(status, headers, body) of a request; an HTTP error is an answer like any other."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def served_by(stack, index, path):
    """How many requests for `path` server `index`'s access log shows."""
    return stack.services[f"web{index}"].log(stack.logs).count(f"GET {path}")


def test_pages_come_through_nginx_from_both_servers(stack):
    for _ in range(12):
        status, _headers, body = fetch(stack.url + "/login?from=both")
        assert status == 200 and b'name="csrf_token"' in body
    # nginx spreads the requests (round robin): each server took some.
    assert served_by(stack, 0, "/login?from=both") > 0
    assert served_by(stack, 1, "/login?from=both") > 0


def test_static_files_are_cached_for_a_year_and_compressed(stack):
    _status, _headers, page = fetch(stack.url + "/login")
    asset = re.search(rb'href="(/static/css/app\.css\?v=[0-9a-f]+)"', page).group(1).decode()
    status, headers, _ = fetch(stack.url + asset, headers={"Accept-Encoding": "br, gzip"})
    assert status == 200
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Content-Encoding"] in ("br", "gzip")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    # Without its hash, an hour: the file may change under that name.
    _status, headers, _ = fetch(stack.url + "/static/css/app.css")
    assert headers["Cache-Control"] == "public, max-age=3600"
    # The service worker is asked again every time (the app says so; nginx passes it on).
    status, headers, _ = fetch(stack.url + "/sw.js")
    assert status == 200 and headers["Cache-Control"] == "no-cache"
    # Served by nginx, never by the app.
    assert served_by(stack, 0, "/static/") + served_by(stack, 1, "/static/") == 0


def test_metrics_are_not_served_through_the_site(stack):
    status, _headers, _body = fetch(stack.url + "/metrics")
    assert status == 404


def test_the_health_endpoint_sees_every_part(stack):
    status, headers, body = fetch(stack.url + "/healthz")
    report = json.loads(body)
    assert status == 200, report
    assert report["status"] == "ok"
    for part in ("database", "storage", "queue", "receiver"):
        assert report["checks"][part]["ok"], (part, report)
    assert "no-store" in headers["Cache-Control"]


def test_a_body_over_the_limit_is_refused_by_nginx(stack):
    body = b"x" * (25 * 1024 * 1024)
    status, _headers, page = fetch(
        stack.url + "/sync/photos?over=limit",
        data=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert status == 413
    assert "超过 24 MB" in page.decode()
    for index in (0, 1):  # the app never saw it
        assert "over=limit" not in stack.services[f"web{index}"].log(stack.logs)


def _half_upload(port: int, path: str, total: int = 3_000_000) -> socket.socket:
    """A client that sends the headers and half the body of a photo upload, then waits."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {total}\r\n\r\n"
        ).encode()
        + b"a=" * (total // 4)
    )
    return sock


def _answers_in_time(url: str, count: int) -> list[bool]:
    def one(_):
        try:
            status, _headers, _body = fetch(url, timeout=STALL_S)
            return status == 200
        except OSError:  # timed out: stalled
            return False

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_slow_uploads_hold_nginx_not_the_workers(stack):
    # Straight at one server (two sync workers), two half-sent uploads hold both workers: the
    # next visitor waits for as long as they do. This is what nginx is in front for.
    direct = [_half_upload(stack.server_ports[0], "/login") for _ in range(2)]
    try:
        time.sleep(0.5)
        assert _answers_in_time(stack.server_url(0) + "/login", 1) == [False]
    finally:
        for sock in direct:
            sock.close()
    # Through nginx, eight of them cost nginx eight connections; everyone else is served.
    slow = [_half_upload(stack.nginx_port, "/login?slow=1") for _ in range(8)]
    try:
        time.sleep(0.5)
        assert all(_answers_in_time(stack.url + "/login", 16))
        # The app has not seen one of those uploads: nginx still holds their bodies.
        for index in (0, 1):
            assert "slow=1" not in stack.services[f"web{index}"].log(stack.logs)
    finally:
        for sock in slow:
            sock.close()


def test_a_server_going_down_is_taken_over_by_the_other(stack):
    stack.services["web1"].stop()
    try:
        statuses = [fetch(stack.url + "/login?one=down")[0] for _ in range(10)]
        assert statuses == [200] * 10
    finally:
        stack.services["web1"].start(stack.logs)
    # Back up, it takes requests again once nginx tries it (after fail_timeout).
    deadline = time.monotonic() + 30
    while served_by(stack, 1, "/login?both=again") == 0:
        assert time.monotonic() < deadline, "nginx never went back to the restarted server"
        assert fetch(stack.url + "/login?both=again")[0] == 200
        time.sleep(0.2)


def test_the_database_down_is_a_503_and_takes_no_server_out_of_nginx(stack):
    """The app answers 503 when the database every server shares is out of reach. nginx once
    took those for failing servers (docs/reliability.md, finding 5): it left both out for ten
    seconds and answered 502 to everyone, the database long back."""
    name = sa.make_url(stack.database_url).database
    _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    _pg_admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    try:
        down = [fetch(stack.url + f"/public/?down={n}") for n in range(8)]
    finally:
        _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert [status for status, _headers, _body in down] == [503] * 8
    assert all(headers["Retry-After"] for _status, headers, _body in down)
    assert [fetch(stack.url + f"/public/?back={n}")[0] for n in range(4)] == [200] * 4
    # Both still in nginx's turns: one left out would take none of these for ten seconds.
    for n in range(20):
        if served_by(stack, 0, "/public/?back") and served_by(stack, 1, "/public/?back"):
            break
        assert fetch(stack.url + f"/public/?back=more{n}")[0] == 200
    assert served_by(stack, 0, "/public/?back") and served_by(stack, 1, "/public/?back")


def test_the_app_sees_the_address_nginx_saw_not_a_forged_one(stack, stack_app, browser):
    context = browser.new_context(extra_http_headers={"X-Forwarded-For": "203.0.113.9"})
    page = context.new_page()
    try:
        browser_sign_in(page, stack.url, "changji")
    finally:
        context.close()
    with stack_app.app_context():
        newest = db.session.scalar(sa.select(UserSession).order_by(UserSession.id.desc()).limit(1))
        assert newest.address == "127.0.0.1"
        db.session.remove()


def _failed_sign_in(stack, login: str) -> int:
    """A new browser (no cookie, no device cookie) signing in with a wrong password."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(stack.url + "/login", timeout=30) as answer:
        token = re.search(rb'name="csrf_token" value="([^"]+)"', answer.read()).group(1)
    form = {"login": login, "password": "not-the-password", "csrf_token": token.decode()}
    try:
        with opener.open(
            stack.url + "/login?attempt=wrong", urllib.parse.urlencode(form).encode(), timeout=30
        ) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_log_in_throttling_counts_across_every_server_and_worker(stack):
    """The counters are in Redis: five failures spread over two servers and four workers are
    five failures, and the sixth is made to wait (with per-process counters no process would
    have seen more than two)."""
    statuses = [_failed_sign_in(stack, "nobody-tries-this") for _ in range(6)]
    assert statuses[:5] == [401] * 5  # the form again, with "wrong name or password"
    assert statuses[5] == 429
    # Each try is a GET and a POST, and nginx takes turns: the POSTs can all fall on one server.
    # Shift the turns until both have had one; wherever it lands, the account waits.
    for _ in range(10):
        posted = [
            stack.services[f"web{index}"].log(stack.logs).count("POST /login?attempt=wrong")
            for index in (0, 1)
        ]
        if all(posted):
            break
        assert fetch(stack.url + "/login?turn")[0] == 200
        assert _failed_sign_in(stack, "nobody-tries-this") == 429
    assert all(posted), f"POSTs per server: {posted}"


def _count(stack_app, model) -> int:
    with stack_app.app_context():
        value = db.session.scalar(sa.select(sa.func.count()).select_from(model))
        db.session.remove()
        return value


def test_a_phone_on_3g_uploads_a_patrol_while_an_office_keeps_working(
    stack, stack_app, browser, village
):
    """cun patrols through a 3G link (every byte of the page, its service worker and the
    uploads throttled); the county office opens its pages through nginx meanwhile."""
    _grid_id, lon, lat = village
    relay = SlowRelay(("127.0.0.1", stack.nginx_port))
    phone = browser.new_context(
        viewport={"width": 360, "height": 740},
        locale="zh-CN",
        permissions=["geolocation"],
        geolocation={"latitude": lat, "longitude": lon},
    )
    office = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    before = {m: _count(stack_app, m) for m in (Patrol, Visit)}
    office_loads: list[bool] = []
    try:
        page = phone.new_page()
        browser_sign_in(page, relay.url, "cun")
        open_patrol(page, relay.url)
        start_patrol(page)
        sent_before = relay.sent_up
        photos = [photo_file(f"g{i}.jpg", lon, lat, 30 + 60 * i) for i in range(3)]
        visit_source(page, 0, photos, note="3G")
        desk = office.new_page()
        browser_sign_in(desk, stack.url, "changji")
        # While the photos crawl up the 3G link, the office's pages keep coming.
        while page.evaluate("async () => (await GridQueue.counts()).waiting") > 0:
            started = time.monotonic()
            answer = desk.goto(stack.url + "/problems/")
            office_loads.append(answer.ok and time.monotonic() - started < STALL_S)
            if len(office_loads) > 200:
                break
        wait_synced(page, timeout_s=120)
        assert relay.sent_up - sent_before > 100_000  # the photos really went through it
    finally:
        phone.close()
        office.close()
        relay.close()
    assert office_loads and all(office_loads)
    assert _count(stack_app, Patrol) - before[Patrol] == 1
    assert _count(stack_app, Visit) - before[Visit] == 1
