"""Delivering notifications on their channels, with the real tasks against real local servers: a
push service that checks the VAPID signature and decrypts each payload with the browser's keys,
and group robots that check the message shapes and DingTalk's signature (tests/test_channels.py).
Retries are run by taking the retried task out of huey's schedule, as the consumer would once its
delay had passed; every attempt must be in the delivery log, with the back-off it waited."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from extensions import db, huey
from grid.inputs import Invalid
from notify import services, tasks
from notify.models import ChannelChoice, Delivery, Notification, PushSubscription, Robot
from tests.conftest import run_tasks
from tests.test_channels import (  # noqa: F401 - push_service and robot are fixtures
    CONTACT,
    SECRET,
    Served,
    browser_subscription,
    closed_port,
    errcode,
    push_service,
    robot,
)

MSGID = "A problem waits for your approval"


@pytest.fixture
def vapid(app, push_service, monkeypatch):  # noqa: F811 - the fixture imported above
    """The app signs with the push service's expected key and contact."""
    monkeypatch.setitem(app.config, "VAPID_PRIVATE_KEY", push_service.keys.private_pem.decode())
    monkeypatch.setitem(app.config, "VAPID_CONTACT", CONTACT)
    return push_service


def later() -> datetime:
    """A moment past every back-off (huey keeps its schedule in naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)


def run_retries() -> int:
    """Run the retried tasks waiting in huey's schedule as if their time had come, and what
    they enqueue, until none is left; how many retries ran."""
    ran = 0
    while due := huey.read_schedule(later()):
        for waiting in due:
            huey.execute(waiting, timestamp=later())
            ran += 1
        run_tasks()
    return ran


def log(**where) -> list[Delivery]:
    return list(
        db.session.scalars(
            sa.select(Delivery).filter_by(**where).order_by(Delivery.at, Delivery.id)
        )
    )


def subscribe(user, sub):
    return services.subscribe(user.id, sub, "Chromium 测试")


def tell(user, kind="problem.township", subject="problem:123", params=None):
    count = services.notify([user.id], kind, subject, MSGID, params or {"id": 123})
    db.session.commit()  # the task is enqueued once the transaction commits
    return count


def test_a_notification_reaches_two_browsers(make_world, vapid):
    world = make_world()
    user = world.supervisor
    first, second = subscribe(user, vapid.subscribe(201)), subscribe(user, vapid.subscribe(201))
    tell(user)
    assert run_tasks() == 3  # the fan-out, and one push per browser
    assert vapid.problems == []
    assert len(vapid.requests) == 2
    for payload in vapid.requests:
        assert payload["title"] == "网格巡查"
        assert payload["body"] == "有一个问题等待您审核 #123"
        assert payload["url"] == "/patrol/problems/123"
        assert payload["tag"] == "problem:123"
        assert payload["urgent"] is False and "deadline" not in payload
    sent = log(channel="webpush")
    assert [(d.status, d.attempt, d.http_status, d.user_id) for d in sent] == [
        ("sent", 1, 201, user.id),
        ("sent", 1, 201, user.id),
    ]
    assert all(d.notification_id and "127.0.0.1" in d.target for d in sent)
    assert first.last_ok_at is not None and second.last_ok_at is not None


def test_an_alert_push_carries_its_deadline_in_english_too(make_world, vapid):
    world = make_world()
    user = world.supervisor
    user.locale = "en"
    subscribe(user, vapid.subscribe(201))
    deadline = datetime(2026, 12, 1, 4, 30, tzinfo=UTC)  # 12:30 in China
    tell(user, kind="alert.new", subject="alert:9", params={"deadline": deadline.isoformat()})
    run_tasks()
    (payload,) = vapid.requests
    assert payload["urgent"] is True
    assert payload["deadline"] == "2026-12-01T04:30:00Z"
    assert payload["deadline_text"] == "Deadline: 2026-12-01 12:30"
    assert payload["body"] == "A problem waits for your approval"
    assert payload["url"] == "/alerts/9"  # the page alerts/ registered for its subjects
    assert payload["tag"] == "alert:9"


def test_a_gone_browser_is_forgotten(make_world, vapid):
    world = make_world()
    gone = subscribe(world.supervisor, vapid.subscribe(410))
    gone_id = gone.id
    tell(world.supervisor)
    run_tasks()
    assert db.session.get(PushSubscription, gone_id) is None
    assert [(d.status, d.http_status) for d in log(channel="webpush")] == [("gone", 410)]
    assert huey.scheduled_count() == 0  # nothing to retry


def test_a_busy_push_service_is_retried_with_back_off(make_world, vapid):
    world = make_world()
    subscribe(world.supervisor, vapid.subscribe(503))
    tell(world.supervisor)
    run_tasks()
    assert huey.scheduled_count() == 1
    assert run_retries() == tasks.PUSH["retries"]
    attempts = log(channel="webpush")
    assert [(d.attempt, d.status, d.http_status) for d in attempts] == [
        (1, "retry", 503),
        (2, "retry", 503),
        (3, "retry", 503),
        (4, "retry", 503),
        (5, "failed", 503),
    ]
    waits = [round((d.next_attempt_at - d.at).total_seconds()) for d in attempts[:-1]]
    assert waits == [30, 60, 120, 240]
    assert attempts[-1].next_attempt_at is None
    assert huey.scheduled_count() == 0


def test_channels_turned_off_send_nothing(make_world, vapid):
    world = make_world()
    subscribe(world.supervisor, vapid.subscribe(201))
    services.choose_channels(world.supervisor.id, web_push=False, robot=True, sms=False)
    tell(world.supervisor)
    run_tasks()
    assert vapid.requests == []
    assert log() == []
    # the notification itself is in the list all the same
    assert db.session.scalar(
        sa.select(sa.func.count(Notification.id)).where(Notification.user_id == world.supervisor.id)
    )


def test_sms_is_logged_without_a_gateway(make_world, vapid, caplog, monkeypatch):
    # The migrations' logging.config.fileConfig disabled the loggers that existed then.
    monkeypatch.setattr(logging.getLogger("notify.delivery"), "disabled", False)
    world = make_world()
    world.supervisor.mobile = "13812345678"
    services.choose_channels(world.supervisor.id, web_push=True, robot=True, sms=True)
    with caplog.at_level(logging.INFO, logger="notify.delivery"):
        tell(world.supervisor)
        run_tasks()
    (sms,) = log(channel="sms")
    assert (sms.status, sms.target, sms.attempt) == ("logged", "138****5678", 1)
    assert "【网格巡查】有一个问题等待您审核 #123" in caplog.text
    assert "13812345678" not in caplog.text


def test_nothing_is_sent_for_a_rolled_back_notification(make_world, vapid):
    world = make_world()
    subscribe(world.supervisor, vapid.subscribe(201))
    db.session.commit()
    services.notify([world.supervisor.id], "problem.township", "problem:1", MSGID, {"id": 1})
    db.session.rollback()
    assert run_tasks() == 0
    assert vapid.requests == []


def test_a_device_signed_in_by_someone_else_becomes_theirs(make_world, vapid):
    world = make_world()
    sub = vapid.subscribe(201)
    subscribe(world.supervisor, sub)
    moved = subscribe(world.village_head, sub)
    assert moved.user_id == world.village_head.id
    assert (
        db.session.scalar(
            sa.select(sa.func.count(PushSubscription.id)).where(
                PushSubscription.endpoint == sub["endpoint"]
            )
        )
        == 1
    )


def test_production_refuses_local_push_endpoints(app, db_session, make_world, monkeypatch):
    monkeypatch.setitem(app.config, "PUSH_ALLOW_LOOPBACK", False)
    world = make_world()
    for endpoint in (
        "http://127.0.0.1:8090/push/1",
        "https://127.0.0.1/push/1",
        "https://localhost/push/1",
        "https://10.0.0.8/push/1",
        "https://[::1]/push/1",
        "http://fcm.googleapis.com/fcm/send/abc",
    ):
        sub, _private, _auth = browser_subscription(endpoint)
        with pytest.raises(Invalid) as refused:
            services.subscribe(world.supervisor.id, sub)
        assert refused.value.name == "endpoint", endpoint
    sub, _private, _auth = browser_subscription("https://fcm.googleapis.com/fcm/send/abc")
    assert services.subscribe(world.supervisor.id, sub).id


# --- group robots ---------------------------------------------------------------------------------


@pytest.fixture
def flaky_robot():
    """A WeCom robot that is busy twice (HTTP 502, then its rate limit) and then takes it."""
    answers = [
        (502, b"<html>502 Bad Gateway</html>"),
        (200, errcode(45009, "api freq out of limit")),
    ]

    def handle(request, body):
        served.requests.append(body.decode())
        return answers.pop(0) if answers else (200, errcode(0, "ok"))

    served = Served(lambda request, body: handle(request, body))
    yield served
    served.close()


def add_robot(world, url, kind="wecom", secret=None, name="县大气办群"):
    return services.add_robot(world.county, kind, name, url, secret, by=world.county_office)


def test_a_robot_that_fails_twice_is_retried_until_it_takes_the_message(make_world, flaky_robot):
    world = make_world()
    bot = add_robot(world, f"{flaky_robot.base}/cgi-bin/webhook/send?key=k-12345678")
    # a village's message goes to its county's robots
    assert services.to_group(world.village.id, "新问题", ["河道漂浮物", "上报人：张三"]) == 1
    db.session.commit()
    run_tasks()
    assert run_retries() == 2
    attempts = log(robot_id=bot.id)
    assert [(d.attempt, d.status, d.http_status, d.errcode) for d in attempts] == [
        (1, "retry", 502, None),
        (2, "retry", 200, 45009),
        (3, "sent", 200, 0),
    ]
    assert [round((d.next_attempt_at - d.at).total_seconds()) for d in attempts[:2]] == [20, 40]
    assert attempts[1].answer == "api freq out of limit"
    assert all(d.grid_id == world.county.id and d.target == "县大气办群" for d in attempts)
    assert len(flaky_robot.requests) == 3 and "河道漂浮物" in flaky_robot.requests[-1]
    assert huey.scheduled_count() == 0


def test_a_refusal_is_not_retried_and_the_key_stays_out_of_the_log(make_world):
    world = make_world()
    key = "never-shown-key-123"
    bot = add_robot(world, f"http://127.0.0.1:{closed_port()}/cgi-bin/webhook/send?key={key}")
    services.to_group(world.county.id, "测试", ["一行"])
    db.session.commit()
    run_tasks()
    run_retries()
    attempts = log(robot_id=bot.id)
    assert len(attempts) == tasks.ROBOT["retries"] + 1  # no connection: worth retrying
    assert attempts[-1].status == "failed"
    assert all(key not in d.answer for d in attempts)
    assert all("ConnectionError" in d.answer for d in attempts)


def test_dingtalk_is_signed_and_muted_people_are_not_mentioned(make_world, robot):  # noqa: F811
    world = make_world()
    world.supervisor.mobile, world.village_head.mobile = "13900000001", "13900000002"
    services.choose_channels(world.village_head.id, web_push=True, robot=False, sms=False)
    add_robot(world, f"{robot.base}/robot/send?access_token=good-token", "dingtalk", SECRET)
    disabled = add_robot(world, f"{robot.base}/robot/send?access_token=good-token", "dingtalk")
    disabled.enabled = False
    services.to_group(
        world.township.id, "预警", ["PM10 超标"], mobiles=["13900000001", "13900000002", "x"]
    )
    db.session.commit()
    run_tasks()
    (request,) = robot.requests  # the disabled robot was not asked
    path, _query, payload, _type = request
    assert path == "/robot/send"
    assert payload["at"]["atMobiles"] == ["13900000001"]
    assert [d.status for d in log(channel="robot")] == ["sent"]


def test_robots_of_other_counties_and_the_prefecture_hear_nothing(make_world, robot):  # noqa: F811
    world, other = make_world(), make_world()
    add_robot(other, f"{robot.base}/cgi-bin/webhook/send?key=good-key")
    services.add_robot(
        world.root,
        "wecom",
        "州群",
        f"{robot.base}/cgi-bin/webhook/send?key=good-key",
        None,
        by=world.county_office,
    )
    assert services.to_group(world.village.id, "t", ["l"]) == 0
    db.session.commit()
    assert run_tasks() == 0


def test_robot_urls_and_secrets_are_checked(app, make_world, monkeypatch):
    world = make_world()
    monkeypatch.setitem(app.config, "ROBOTS_ALLOW_ANY_HOST", False)
    with pytest.raises(Invalid) as refused:
        add_robot(world, "https://example.com/cgi-bin/webhook/send?key=abc")
    assert refused.value.name == "webhook_url"
    with pytest.raises(Invalid) as refused:
        add_robot(world, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc", secret="S")
    assert refused.value.name == "secret"
    ok = add_robot(world, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc")
    assert ok.enabled and db.session.get(Robot, ok.id)
    assert db.session.get(ChannelChoice, world.supervisor.id) is None  # defaults, no row
