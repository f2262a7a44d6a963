"""Web Push in a real browser: a village supervisor turns pushes on in the settings page, the
server keeps the subscription, and a push like the delivery task's (delivered through the
DevTools protocol, TOOLING.md §3) is shown by the service worker.

Headless Chromium has no push service of its own (no GCM), so pushManager.subscribe may be
refused there; the page then says so, and the test sends a browser-made subscription to the
same endpoint the page uses (POST /notifications/push with the page's CSRF token). The push
itself goes to the service worker directly (ServiceWorker.deliverPushMessage), which needs no
push service."""

import json

import sqlalchemy as sa

from extensions import db
from grid.models import User
from notify import delivery
from notify.models import PushSubscription
from tests.conftest import browser_sign_in
from tests.test_browser_patrol import wait_until
from tests.test_channels import browser_subscription

ALERT_DEADLINE = "2026-12-01T04:30:00+00:00"  # 12:30 China time


def _subscriptions(live_app, username):
    with live_app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.username == username))
        rows = db.session.scalars(
            sa.select(PushSubscription.endpoint).where(PushSubscription.user_id == user_id)
        ).all()
        db.session.remove()
        return user_id, list(rows)


def _forget(live_app, user_id):
    with live_app.app_context():
        db.session.execute(sa.delete(PushSubscription).where(PushSubscription.user_id == user_id))
        db.session.commit()
        db.session.remove()


def _registration_id(context, page, live_server):
    cdp = context.new_cdp_session(page)
    regs = {}
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda ev: regs.update({r["scopeURL"]: r["registrationId"] for r in ev["registrations"]}),
    )
    cdp.send("ServiceWorker.enable")
    for _ in range(50):
        if live_server + "/" in regs:
            break
        page.wait_for_timeout(100)
    return cdp, regs[live_server + "/"]


def test_a_supervisor_turns_pushes_on_and_an_alert_is_shown(page, context, live_server, live_app):
    browser_sign_in(page, live_server, "cun")
    page.goto(live_server + "/notifications/settings")
    page.evaluate("navigator.serviceWorker.ready")
    # Predicates as functions: Playwright polls an expression string with eval, which the
    # page's Content-Security-Policy refuses (it passed only when true at the first look).
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    page.wait_for_function("() => document.getElementById('push-state').dataset.state === 'off'")
    user_id, before = _subscriptions(live_app, "cun")
    try:
        page.click("#push-subscribe")
        page.wait_for_function(
            "() => ['on', 'off'].includes(document.getElementById('push-state').dataset.state)"
        )
        subscribed = page.get_attribute("#push-state", "data-state") == "on"
        print(
            "pushManager.subscribe:", "subscribed" if subscribed else page.inner_text("#push-state")
        )
        if not subscribed:
            # No push service in headless Chromium: the page said why; send a browser-made
            # subscription the way the page does.
            assert page.inner_text("#push-state").startswith("浏览器无法开启推送")
            sub, _private, _auth = browser_subscription("https://push.example.com/send/cun-1")
            answer = page.evaluate(
                """async (sub) => {
                  const token = document.querySelector('meta[name="csrf-token"]').content;
                  const r = await fetch('/notifications/push', {method: 'POST',
                    headers: {'Content-Type': 'application/json', 'X-CSRFToken': token},
                    body: JSON.stringify(sub)});
                  return [r.status, await r.json()];
                }""",
                sub,
            )
            assert answer[0] == 200 and answer[1]["ok"] is True, answer
        _user, after = _subscriptions(live_app, "cun")
        assert len(after) == len(before) + 1
        page.reload()
        assert "push.example.com" in page.content() or subscribed

        with live_app.app_context():
            payload = delivery.push_payload(
                "alert.new",
                "alert:7",
                "A problem waits for your approval",
                {"id": 7, "deadline": ALERT_DEADLINE},
                "/notifications",
                "zh_CN",
            )
        cdp, registration = _registration_id(context, page, live_server)
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": live_server,
                "registrationId": registration,
                "data": json.dumps(payload, ensure_ascii=False),
            },
        )
        wait_until(  # awaits the promise (wait_for_function would take it as true at once)
            page,
            """navigator.serviceWorker.ready
                 .then(r => r.getNotifications()).then(n => n.length > 0)""",
        )
        shown = page.evaluate(
            """navigator.serviceWorker.ready.then(r => r.getNotifications()).then(list =>
                 list.map(n => [n.title, n.body, n.tag, n.requireInteraction, n.data.url]))"""
        )
        assert shown == [
            [
                "网格巡查",
                "有一个问题等待您审核 #7\n" + payload["deadline_text"],
                "alert:7",
                True,
                "/notifications",
            ]
        ]
        assert "12:30" in payload["deadline_text"]
    finally:
        _forget(live_app, user_id)
