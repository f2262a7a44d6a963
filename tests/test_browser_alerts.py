"""An alert's hour, in Chromium at 360x740 (the supervisor) and 1440x900 (the county office),
against the live app with a real huey consumer: readings cross the threshold, the alert shows on
the county's list, the county sends cun, his phone shows both clocks ticking; offline, he
records the on-site situation with a photo by the station; the deadline passes before he is
back online, and the alert shows his answer as recorded in time but received late. After a
reload the countdowns are still right."""

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from alerts import services as alert_services
from alerts.models import Alert, Dispatch, Feedback, Station
from extensions import bind_tasks, db, huey
from grid.models import User
from notify import delivery
from notify.models import Notification
from notify.registry import subject_path
from tests.conftest import browser_sign_in
from tests.test_browser_patrol import photo_file, wait_until
from tests.test_browser_push import _registration_id

pytestmark = pytest.mark.browser


@pytest.fixture
def consumer(live_app):
    """A huey consumer on a thread of its own, running the live app's tasks as the worker
    process of `make run` does."""
    bind_tasks(live_app)
    running = huey.create_consumer(
        workers=1, worker_type="thread", periodic=False, initial_delay=0.05, max_delay=0.2
    )
    running.start()
    yield running
    running.stop(graceful=True)


@pytest.fixture
def station(live_app, village):
    """A micro-station in cun's village, with its token."""
    _grid_id, lon, lat = village
    with live_app.app_context():
        made = alert_services.add_station(
            code=f"BT{int(time.time() * 1000) % 10**8}",
            name="浏览器测试微站",
            kind="micro",
            lon=lon + 0.0005,
            lat=lat,
            issue_token=True,
        )
        db.session.commit()
        station_id, token = made.station.id, made.token
        db.session.remove()
    return station_id, token, lon + 0.0005, lat


def readings(value, minutes=60):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return [
        {
            "time": (now - timedelta(minutes=m)).isoformat().replace("+00:00", "Z"),
            "pollutant": "PM2.5",
            "value": value,
            "period": "minute",
        }
        for m in range(minutes)
    ]


def in_db(live_app, query):
    with live_app.app_context():
        try:
            return query()
        finally:
            db.session.remove()


def test_an_alert_from_reading_to_a_late_received_answer(
    browser, phone, live_server, live_app, consumer, station
):
    station_id, token, lon, lat = station
    context, page = phone
    # 1. An hour of bad air arrives through the API; the consumer runs the rules.
    office_context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    office = office_context.new_page()
    answer = office.request.post(
        live_server + "/api/v1/readings",
        data={"readings": readings(190.0)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.ok and answer.json()["stored"] == 60

    def raised():
        return in_db(
            live_app,
            lambda: db.session.scalar(
                sa.select(Alert.id).where(Alert.station_id == station_id, Alert.rule == "level")
            ),
        )

    deadline = time.monotonic() + 20
    while raised() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    alert_id = raised()
    assert alert_id is not None, "the consumer never raised the alert"

    # 2. The county office sees it on its list, and sends cun.
    browser_sign_in(office, live_server, "changji")
    office.goto(live_server + "/alerts/")
    expect(office.locator("#alert-list")).to_contain_text("浏览器测试微站")
    office.click(f"#alert-list a[href='/alerts/{alert_id}']")
    cun_id = in_db(
        live_app, lambda: db.session.scalar(sa.select(User.id).where(User.username == "cun"))
    )
    office.check(f"#dispatch-form input[name=supervisor][value='{cun_id}']")
    office.click("#dispatch-form button[type=submit]")
    expect(office.locator(".flash-success")).to_be_visible()
    dispatch_id = in_db(
        live_app,
        lambda: db.session.scalar(sa.select(Dispatch.id).where(Dispatch.alert_id == alert_id)),
    )

    # 3. cun's phone: both clocks tick.
    context.set_geolocation({"latitude": lat, "longitude": lon})
    page.goto(f"{live_server}/alerts/{alert_id}")
    page.evaluate("navigator.serviceWorker.ready")
    onsite = page.locator(f"#clock-{dispatch_id}-onsite .countdown")
    disposal = page.locator(f"#clock-{dispatch_id}-disposal .countdown")
    expect(onsite).to_have_text(re.compile(r"^\d"))  # drawn by alert.js
    first = onsite.inner_text()
    page.wait_for_timeout(1500)
    assert onsite.inner_text() != first, "the on-site clock does not tick"
    assert first.startswith(("59:", "1:00:")), first
    assert disposal.inner_text().startswith(("1:59:", "2:00:")), disposal.inner_text()

    # The instruction as a Web Push reaches his phone's service worker and is shown, with its
    # deadline: the payload the delivery task makes of his notification, delivered through
    # the DevTools protocol (headless Chromium has no push service of its own).
    def instruction_payload():
        told = db.session.scalar(
            sa.select(Notification).where(
                Notification.user_id == cun_id, Notification.subject == f"alert:{alert_id}"
            )
        )
        return delivery.push_payload(
            told.kind,
            told.subject,
            told.message,
            told.params,
            subject_path(told.subject),
            "zh_CN",
        )

    payload = in_db(live_app, instruction_payload)
    context.grant_permissions(["notifications"], origin=live_server)  # he allowed them
    cdp, registration = _registration_id(context, page, live_server)
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": live_server,
            "registrationId": registration,
            "data": json.dumps(payload, ensure_ascii=False),
        },
    )
    wait_until(
        page,
        "navigator.serviceWorker.ready.then(r => r.getNotifications()).then(n => n.length > 0)",
    )
    shown = page.evaluate(
        """navigator.serviceWorker.ready.then(r => r.getNotifications()).then(list =>
             list.map(n => [n.body, n.tag, n.requireInteraction, n.data.url]))"""
    )
    assert len(shown) == 1
    body, tag, sticky, url = shown[0]
    assert "浏览器测试微站" in body and payload["deadline_text"] in body
    assert (tag, sticky, url) == (f"alert:{alert_id}", True, f"/alerts/{alert_id}")

    # 4. Offline, he records the on-site situation with a photo by the station.
    wait_until(page, "async () => !!(await GridQueue.get('clock-offset'))")
    context.set_offline(True)
    page.set_input_files("#onsite-form input[name=photos]", [photo_file("s.jpg", lon, lat, 60)])
    page.fill("#onsite-form textarea[name=note]", "现场发现露天焚烧，已制止")
    expect(page.locator("#feedback-position")).to_contain_text("米")
    page.click("#onsite-form button[type=submit]")
    expect(page.locator("#feedback-state")).to_contain_text("已记录")

    # 5. The deadline passes while he is offline (moved to just before now, after the
    # answer was recorded: the server's clock is the one that counts).
    page.wait_for_timeout(1500)

    def move_deadline():
        d = db.session.get(Dispatch, dispatch_id)
        d.onsite_due = datetime.now(UTC).replace(tzinfo=None) - timedelta(milliseconds=500)
        db.session.commit()

    in_db(live_app, move_deadline)

    # After a reload (offline, from the phone's copy) the countdown is still right.
    before_ms = page.evaluate(
        "Number(document.querySelector('.clock[data-deadline-ms]').dataset.deadlineMs)"
    )
    page.reload()
    shown = page.locator(f"#clock-{dispatch_id}-disposal .countdown")
    expect(shown).not_to_have_text("")
    left = page.evaluate(
        """async () => {
             const kept = await GridQueue.get('clock-offset');
             const el = document.querySelector('.clock[data-deadline-ms]');
             return Number(el.dataset.deadlineMs) - (Date.now() + kept.offset_ms);
           }"""
    )
    assert before_ms and abs(left) < 3600_000 + 5_000

    # 6. Back online: the answer goes, recorded in time, received late.
    context.set_offline(False)
    page.evaluate("GridQueue.sync()")

    def answered():
        return in_db(
            live_app,
            lambda: (
                db.session.scalar(sa.select(Feedback).where(Feedback.dispatch_id == dispatch_id))
                and (lambda f: (f.captured_late, f.received_late, round(f.distance_m)))(
                    db.session.scalar(
                        sa.select(Feedback).where(Feedback.dispatch_id == dispatch_id)
                    )
                )
            ),
        )

    deadline = time.monotonic() + 20
    while not answered() and time.monotonic() < deadline:
        time.sleep(0.25)
    captured_late, received_late, distance = answered()
    assert (captured_late, received_late) == (False, True)
    assert distance < 50
    office.goto(f"{live_server}/alerts/{alert_id}")
    answer_box = office.locator(f"#answer-{dispatch_id}-onsite")
    expect(answer_box).to_contain_text("按时记录")
    expect(answer_box).to_contain_text("超时送达")
    office_context.close()
    in_db(live_app, lambda: _forget(station_id))


def _forget(station_id):
    """The live database is shared by the session's browser tests: leave no open alert."""
    db.session.execute(
        sa.update(Alert).where(Alert.station_id == station_id).values(status="closed")
    )
    db.session.execute(sa.update(Station).where(Station.id == station_id).values(status="retired"))
    db.session.commit()
