"""The channel pages: my channels and browsers, the county's group robots (kept by its office
only, their secrets masked once saved), the delivery log and the unread badge."""

import json
import re

import pytest
import sqlalchemy as sa

from extensions import db
from notify import services
from notify.models import ChannelChoice, Delivery, PushSubscription, Robot
from tests.conftest import csrf_token, sign_in
from tests.test_channels import (  # noqa: F401 - robot is a fixture
    browser_subscription,
    robot,
)


def post_json(client, path, data, token=None):
    return client.post(
        path,
        data=json.dumps(data) if not isinstance(data, str) else data,
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-CSRFToken": token or csrf_token(client),
        },
    )


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


# --- my channels ----------------------------------------------------------------------------------


def test_the_settings_page_offers_this_browser_and_my_choices(client, make_world):
    world = make_world()
    sign_in(client, world.supervisor)
    page = client.get("/notifications/settings")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="push"' in text and 'data-key="B' in text  # the VAPID key: an uncompressed point
    assert "/static/" in text and "push.js" in text
    assert 'name="web_push" value="1" checked' in text
    assert 'name="sms" value="1" >' in text or 'name="sms" value="1">' in text


def test_choices_are_kept(client, make_world):
    world = make_world()
    sign_in(client, world.supervisor)
    answer = client.post(
        "/notifications/settings",
        data={"csrf_token": csrf_token(client), "sms": "1", "robot": "1"},
    )
    assert answer.status_code == 303
    choice = db.session.get(ChannelChoice, world.supervisor.id)
    assert (choice.web_push, choice.robot, choice.sms) == (False, True, True)


def test_a_browser_subscribes_and_unsubscribes(client, make_world):
    world = make_world()
    sign_in(client, world.supervisor)
    sub, _private, _auth = browser_subscription("https://push.example.com/send/abc")
    answer = post_json(client, "/notifications/push", {**sub, "expirationTime": None})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.json["ok"] is True
    row = db.session.get(PushSubscription, answer.json["id"])
    assert row.user_id == world.supervisor.id and row.p256dh == sub["keys"]["p256dh"]
    page = client.get("/notifications/settings").get_data(as_text=True)
    assert "push.example.com" in page
    answer = client.post(
        "/notifications/push/delete",
        data={"csrf_token": csrf_token(client), "endpoint": sub["endpoint"]},
    )
    assert answer.status_code == 303
    assert count(PushSubscription, PushSubscription.user_id == world.supervisor.id) == 0


def test_a_subscription_needs_the_csrf_token(client, make_world):
    world = make_world()
    sign_in(client, world.supervisor)
    sub, _private, _auth = browser_subscription("https://push.example.com/send/abc")
    answer = post_json(client, "/notifications/push", sub, token="forged")
    assert answer.status_code == 400
    assert count(PushSubscription, PushSubscription.user_id == world.supervisor.id) == 0


def _good():
    return browser_subscription("https://push.example.com/send/abc")[0]


HOSTILE_SUBSCRIPTIONS = [
    "not json",
    "[1, 2]",
    {},
    {**_good(), "endpoint": 12},
    {**_good(), "endpoint": "javascript:alert(1)"},
    {**_good(), "endpoint": "https://push.example.com/" + "x" * 3000},
    {**_good(), "endpoint": "https://push.example.com/a\r\nSet-Cookie: x=1"},
    {**_good(), "endpoint": "https://push.example.com/\x00"},
    {**_good(), "endpoint": "ftp://push.example.com/a"},
    {**_good(), "endpoint": "https://user:pw@push.example.com/a"},
    {**_good(), "keys": "p256dh"},
    {**_good(), "keys": {"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
    {**_good(), "keys": {"p256dh": _good()["keys"]["p256dh"], "auth": "not base64!"}},
    {**_good(), "keys": {"p256dh": _good()["keys"]["p256dh"]}},
    {**_good(), "keys": {"p256dh": "B" * 87, "auth": _good()["keys"]["auth"]}},
    {**_good(), "keys": {"p256dh": ["x"], "auth": _good()["keys"]["auth"]}},
]


@pytest.mark.parametrize("data", HOSTILE_SUBSCRIPTIONS, ids=range(len(HOSTILE_SUBSCRIPTIONS)))
def test_a_broken_subscription_is_refused_in_words(client, make_world, data):
    world = make_world()
    sign_in(client, world.supervisor)
    client.set_cookie("lang", "zh_CN")
    answer = post_json(client, "/notifications/push", data)
    assert answer.status_code == 400
    # named in the request's language (English until the catalogue has the new words)
    assert answer.is_json and re.search("push subscription|推送订阅", answer.json["message"], re.I)
    assert count(PushSubscription, PushSubscription.user_id == world.supervisor.id) == 0


# --- group robots ---------------------------------------------------------------------------------


def _add(client, grid_id, **fields):
    data = {
        "csrf_token": csrf_token(client),
        "name": "县大气办群",
        "kind": "wecom",
        "webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcdef-123456-XYZ",
        **fields,
    }
    return client.post(f"/notifications/robots?grid={grid_id}", data=data)


def test_the_county_office_keeps_its_robots(client, make_world):
    world = make_world()
    sign_in(client, world.county_office)
    answer = _add(client, world.county.id)
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/notifications/robots?grid={world.county.id}")
    bot = db.session.scalar(sa.select(Robot).where(Robot.grid_id == world.county.id))
    assert bot.created_by_id == world.county_office.id and bot.enabled
    page = client.get(f"/notifications/robots?grid={world.county.id}").get_data(as_text=True)
    assert "县大气办群" in page and "…-XYZ" in page
    assert "abcdef-123456-XYZ" not in page  # the key is masked once saved
    edit = client.get(f"/notifications/robots/{bot.id}/edit").get_data(as_text=True)
    assert "abcdef-123456-XYZ" not in edit
    # a blank webhook keeps the saved one
    answer = client.post(
        f"/notifications/robots/{bot.id}/edit",
        data={"csrf_token": csrf_token(client), "name": "改名", "webhook_url": ""},
    )
    assert answer.status_code == 303
    db.session.refresh(bot)
    assert (bot.name, bot.enabled) == ("改名", False)
    assert bot.webhook_url.endswith("key=abcdef-123456-XYZ")
    answer = client.post(
        f"/notifications/robots/{bot.id}/delete", data={"csrf_token": csrf_token(client)}
    )
    assert answer.status_code == 303
    assert count(Robot, Robot.grid_id == world.county.id) == 0


def test_a_bad_webhook_is_refused_and_nothing_kept(app, client, make_world, monkeypatch):
    monkeypatch.setitem(app.config, "ROBOTS_ALLOW_ANY_HOST", False)
    world = make_world()
    sign_in(client, world.county_office)
    client.set_cookie("lang", "zh_CN")
    answer = _add(client, world.county.id, webhook_url="https://evil.example.com/x?key=1")
    assert answer.status_code == 400
    assert "Webhook" in answer.get_data(as_text=True)
    assert count(Robot, Robot.grid_id == world.county.id) == 0


def test_others_may_not_keep_robots(client, make_world):
    world = make_world()
    for person in (world.supervisor, world.township_head):
        sign_in(client, person)
        assert client.get("/notifications/robots").status_code == 403
        assert _add(client, world.county.id).status_code == 403
    sign_in(client, world.county_office)
    assert client.get(f"/notifications/robots?grid={world.township.id}").status_code == 403
    assert count(Robot, Robot.grid_id == world.county.id) == 0


def test_a_test_message_reaches_the_robot_and_the_log(client, make_world, robot):  # noqa: F811
    world = make_world()
    bot = services.add_robot(
        world.county,
        "wecom",
        "测试群",
        f"{robot.base}/cgi-bin/webhook/send?key=good-key",
        None,
        by=world.county_office,
    )
    sign_in(client, world.county_office)
    answer = client.post(
        f"/notifications/robots/{bot.id}/test", data={"csrf_token": csrf_token(client)}
    )
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "flash-success" in page
    (request,) = robot.requests
    assert world.county.name in json.dumps(request[2], ensure_ascii=False)
    (attempt,) = db.session.scalars(sa.select(Delivery).where(Delivery.robot_id == bot.id))
    assert (attempt.status, attempt.errcode, attempt.grid_id) == ("sent", 0, world.county.id)


# --- the delivery log and the badge ---------------------------------------------------------------


def test_the_delivery_log_shows_mine_and_my_countys_robots(client, make_world):
    world, other = make_world(), make_world()
    own = services.add_robot(
        world.county,
        "wecom",
        "本县群",
        "https://x/cgi-bin/webhook/send?key=k",
        None,
        by=world.county_office,
    )
    far = services.add_robot(
        other.county,
        "wecom",
        "外县群",
        "https://x/cgi-bin/webhook/send?key=k",
        None,
        by=other.county_office,
    )
    for bot in (own, far):
        db.session.add(
            Delivery(
                robot_id=bot.id,
                grid_id=bot.grid_id,
                channel="robot",
                target=bot.name,
                status="sent",
            )
        )
    db.session.add(
        Delivery(
            user_id=world.supervisor.id,
            channel="webpush",
            target="push.example.com …abc",
            status="gone",
            http_status=410,
        )
    )
    db.session.flush()
    sign_in(client, world.county_office)
    page = client.get("/notifications/deliveries").get_data(as_text=True)
    assert "本县群" in page and "外县群" not in page and "push.example.com" not in page
    sign_in(client, world.supervisor)
    page = client.get("/notifications/deliveries?page=1").get_data(as_text=True)
    assert "push.example.com" in page and "本县群" not in page and "HTTP 410" in page


def test_the_badge_counts_unread_with_one_query(app, client, make_world):
    world = make_world()
    services.notify([world.supervisor.id], "problem.township", "problem:1", "x", {"id": 1})
    services.notify([world.supervisor.id], "problem.county", "problem:2", "y", {"id": 2})
    sign_in(client, world.supervisor)
    home = client.get("/").get_data(as_text=True)
    assert 'id="unread-badge"' in home and 'hx-get="/notifications/badge"' in home
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        answer = client.get("/notifications/badge", headers={"HX-Request": "true"})
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "<html" not in body
    assert '<span class="badge badge-warning">2</span>' in body
    assert answer.headers["Cache-Control"] == "no-store" and "HX-Request" in answer.headers["Vary"]
    counts = [s for s in statements if "count(notification.id)" in s.lower()]
    assert len(counts) == 1
    client.post("/notifications/read", data={"csrf_token": csrf_token(client)})
    body = client.get("/notifications/badge").get_data(as_text=True)
    assert "badge-warning" not in body
