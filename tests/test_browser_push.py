"""Web Push in a real browser: a village supervisor turns pushes on in the settings page, the
server keeps the subscription, and a push like the delivery task's (delivered through the
DevTools protocol, TOOLING.md §3) is shown by the service worker.

Headless Chromium has no push service of its own (no GCM), so pushManager.subscribe may be
refused there; the page then says so, and the test sends a browser-made subscription to the
same endpoint the page uses (POST /notifications/push with the page's CSRF token). The push
itself goes to the service worker directly (ServiceWorker.deliverPushMessage), which needs no
push service."""

import json

import pytest
import sqlalchemy as sa

from extensions import db
from grid.models import User
from notify import delivery
from notify.models import PushSubscription
from tests.conftest import browser_sign_in
from tests.test_browser_patrol import wait_until
from tests.test_channels import browser_subscription, new_vapid_keys

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


# --- a rotated VAPID key --------------------------------------------------------------------------

# This stands in for the browser's push service, which cannot run here: headless Chromium has
# none, so pushManager.subscribe cannot succeed. The page's PushManager and PushSubscription
# methods are replaced before any script runs, and keep one subscription at a time in the page's
# localStorage, as a browser keeps it across pages: getSubscription() gives it (with
# options.applicationServerKey as the bytes it was made with), unsubscribe() drops it and
# subscribe() makes the prepared one for the key asked, unless that key is in `refuse`.
# Everything else (push.js, the service worker, the server) is real.
FAKE_PUSH_SERVICE = """
(() => {
  const SETUP = %s;
  const STORE = 'fake-push-service';
  const bytes = (text) => Uint8Array.from(
    atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - text.length %% 4) %% 4)),
    (c) => c.charCodeAt(0));
  const text = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const load = () => JSON.parse(localStorage.getItem(STORE) ||
    JSON.stringify({current: SETUP.current, made: [], log: []}));
  const save = (state) => localStorage.setItem(STORE, JSON.stringify(state));
  const made = (name) => {
    const sub = SETUP.subscriptions[name];
    return {
      endpoint: sub.endpoint,
      expirationTime: null,
      options: {userVisibleOnly: true, applicationServerKey: bytes(sub.key).buffer},
      toJSON: () => ({endpoint: sub.endpoint, expirationTime: null, keys: sub.keys}),
      unsubscribe: PushSubscription.prototype.unsubscribe,
    };
  };
  PushManager.prototype.getSubscription = async function () {
    const state = load();
    return state.current ? made(state.current) : null;
  };
  PushManager.prototype.subscribe = async function (options) {
    const state = load();
    const key = text(options.applicationServerKey);
    state.log.push('subscribe ' + key.slice(0, 8));
    if (state.current) {
      save(state);
      throw new DOMException('already subscribed with another key', 'InvalidStateError');
    }
    const name = Object.keys(SETUP.subscriptions).find((n) =>
      SETUP.subscriptions[n].key === key && !state.made.includes(n) && n !== SETUP.current);
    if (!name || SETUP.refuse.includes(key)) {
      save(state);
      throw new DOMException('the push service refused', 'AbortError');
    }
    state.current = name;
    state.made.push(name);
    save(state);
    return made(name);
  };
  PushSubscription.prototype.unsubscribe = async function () {
    const state = load();
    state.log.push('unsubscribe ' + this.endpoint.split('/').pop());
    state.current = null;
    save(state);
    return true;
  };
})();
"""


def _fake_push_service(page, current, subscriptions, refuse=()):
    """`subscriptions`: name -> (subscription as toJSON() gives it, the key it was made with)."""
    setup = {
        "current": current,
        "refuse": list(refuse),
        "subscriptions": {
            name: {**sub, "key": key.application_server_key}
            for name, (sub, key) in subscriptions.items()
        },
    }
    page.add_init_script(FAKE_PUSH_SERVICE % json.dumps(setup))


def _rows(live_app, user_id):
    with live_app.app_context():
        rows = db.session.execute(
            sa.select(PushSubscription.endpoint, PushSubscription.vapid_public)
            .where(PushSubscription.user_id == user_id)
            .order_by(PushSubscription.id)
        ).all()
        db.session.remove()
        return [tuple(r) for r in rows]


def _rows_become(page, live_app, user_id, expected, timeout_s=20):
    for _ in range(int(timeout_s / 0.1)):
        if _rows(live_app, user_id) == expected:
            return
        page.wait_for_timeout(100)
    assert _rows(live_app, user_id) == expected


def _fake_log(page):
    return page.evaluate("JSON.parse(localStorage.getItem('fake-push-service')).log")


@pytest.fixture
def rotated(live_app, monkeypatch):
    """The live server after a rotation: a new current key, the old one a fallback; cun's
    browser subscribed with the old key before it (its row records that key)."""
    old, new = new_vapid_keys(), new_vapid_keys()
    monkeypatch.setitem(live_app.config, "VAPID_PRIVATE_KEY", new.private_pem.decode())
    monkeypatch.setitem(live_app.config, "VAPID_PRIVATE_KEY_FALLBACKS", [old.private_pem.decode()])
    user_id, _endpoints = _subscriptions(live_app, "cun")
    _forget(live_app, user_id)
    made = {
        name: browser_subscription(f"https://push.example.com/send/{name}")[0]
        for name in ("old-1", "new-1", "old-2")
    }
    with live_app.app_context():
        db.session.add(
            PushSubscription(
                user_id=user_id,
                endpoint=made["old-1"]["endpoint"],
                p256dh=made["old-1"]["keys"]["p256dh"],
                auth=made["old-1"]["keys"]["auth"],
                vapid_public=old.application_server_key,
            )
        )
        db.session.commit()
        db.session.remove()
    yield old, new, made, user_id
    _forget(live_app, user_id)


def test_a_browser_on_the_old_key_moves_to_the_new_one_on_any_page(
    page, live_server, live_app, rotated
):
    old, new, made, user_id = rotated
    _fake_push_service(
        page,
        "old-1",
        {
            "old-1": (made["old-1"], old),
            "new-1": (made["new-1"], new),
            "old-2": (made["old-2"], old),
        },
    )
    browser_sign_in(page, live_server, "cun")  # the home page: no push settings on it
    _rows_become(page, live_app, user_id, [(made["new-1"]["endpoint"], new.application_server_key)])
    assert _fake_log(page) == ["unsubscribe old-1", "subscribe " + new.application_server_key[:8]]
    # Settled: the next pages send nothing and change nothing.
    page.goto(live_server + "/notifications")
    page.evaluate("navigator.serviceWorker.ready")
    page.wait_for_timeout(500)
    assert _fake_log(page) == ["unsubscribe old-1", "subscribe " + new.application_server_key[:8]]
    assert _rows(live_app, user_id) == [(made["new-1"]["endpoint"], new.application_server_key)]


def test_a_browser_that_cannot_move_keeps_a_subscription_on_the_old_key(
    page, live_server, live_app, rotated
):
    old, new, made, user_id = rotated
    _fake_push_service(
        page,
        "old-1",
        {
            "old-1": (made["old-1"], old),
            "new-1": (made["new-1"], new),
            "old-2": (made["old-2"], old),
        },
        refuse=[new.application_server_key],
    )
    browser_sign_in(page, live_server, "cun")
    # The push service made none with the new key: subscribed again with the old (a fallback).
    _rows_become(page, live_app, user_id, [(made["old-2"]["endpoint"], old.application_server_key)])
    tried = [
        "unsubscribe old-1",
        "subscribe " + new.application_server_key[:8],
        "subscribe " + old.application_server_key[:8],
    ]
    assert _fake_log(page) == tried
    # Not tried again on every page (a day later it is).
    page.goto(live_server + "/notifications")
    page.evaluate("navigator.serviceWorker.ready")
    page.wait_for_timeout(500)
    assert _fake_log(page) == tried


PUSH_SCRIPTS = "() => [...document.scripts].filter((s) => s.src.includes('/push.js')).length"
ONE_PUSH_SCRIPT = PUSH_SCRIPTS.replace("() =>", "() => 1 ===")


def test_push_js_is_loaded_after_the_page_and_only_where_notifications_are_allowed(
    phone, page, live_server
):
    """A first visit has not allowed notifications, so it cannot hold a subscription to keep
    current: push.js stays off its page (and off its critical path). A browser that allowed them
    gets it once the page has loaded, with the key and address its tag should carry."""
    _context, first = phone  # no notifications permission: as on a first visit
    first.wait_for_load_state("load")
    first.wait_for_timeout(300)
    assert first.evaluate("Notification.permission") != "granted"
    assert first.evaluate(PUSH_SCRIPTS) == 0
    # The settings page loads it whatever the permission: it is where one turns pushes on.
    first.goto(live_server + "/notifications/settings")
    first.wait_for_function(ONE_PUSH_SCRIPT)
    first.wait_for_function("() => document.getElementById('push-state').dataset.state")

    browser_sign_in(page, live_server, "cun")  # allowed (tests/conftest.py browser_context_args)
    page.wait_for_function(ONE_PUSH_SCRIPT)
    tag = page.evaluate(
        "() => { const s = [...document.scripts].find((s) => s.src.includes('/push.js'));"
        " return {key: s.dataset.key, url: s.dataset.subscribeUrl}; }"
    )
    assert tag["key"].startswith("B") and tag["url"].endswith("/notifications/push")
