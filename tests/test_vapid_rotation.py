"""Rotating the VAPID key without ending the browsers' subscriptions (docs/operations.md, "Key
rotation"): each subscription records the key it was made for, and its pushes are signed with
that key while the server keeps it, as the current key or a fallback. Real encryption and
signatures against the local push service of tests/test_channels.py, which refuses with 403 a
push signed with another key than the subscription's, as a real push service does."""

import json

import pytest
import sqlalchemy as sa

from extensions import db, huey
from notify import delivery, services, webpush
from notify.models import PushSubscription
from tests.conftest import csrf_token, make_app, sign_in
from tests.test_channels import (  # noqa: F401 - push_service is a fixture
    CONTACT,
    KEY_MISMATCH,
    new_vapid_keys,
    push_service,
)
from tests.test_notify_channels import later, log, run_tasks, tell

PAYLOAD = {"title": "网格巡查", "body": "测试"}


def pem(keys: webpush.VapidKeys) -> str:
    return keys.private_pem.decode()


@pytest.fixture
def keys(app, monkeypatch):
    """Two VAPID keys, the first current; `rotate(current, fallbacks)` changes the settings as
    the operator does (a bare PEM for one fallback, a list for several)."""
    old, new = new_vapid_keys(), new_vapid_keys()
    monkeypatch.setitem(app.config, "VAPID_CONTACT", CONTACT)

    def rotate(current, fallbacks=()):
        monkeypatch.setitem(app.config, "VAPID_PRIVATE_KEY", pem(current))
        fallbacks = [pem(k) for k in fallbacks]
        monkeypatch.setitem(
            app.config,
            "VAPID_PRIVATE_KEY_FALLBACKS",
            fallbacks[0] if len(fallbacks) == 1 else fallbacks,
        )

    rotate(old)
    return old, new, rotate


def answers_of(push_service, sub) -> list[int]:
    """The statuses the push service answered the pushes to one subscription."""
    n = sub["endpoint"].rsplit("/", 1)[1]
    return [status for browser, status in push_service.answers if browser == n]


def row(sub) -> PushSubscription:
    return db.session.scalar(
        sa.select(PushSubscription).where(PushSubscription.endpoint == sub["endpoint"])
    )


def test_the_push_service_refuses_a_push_signed_with_another_key(push_service):
    """The test's push service checks what the rotation relies on: the control."""
    old, new = new_vapid_keys(), new_vapid_keys()
    sub = push_service.subscribe(201, old)
    assert webpush.send(sub, PAYLOAD, new, CONTACT).status == 403
    assert push_service.problems == [KEY_MISMATCH]
    assert webpush.send(sub, PAYLOAD, old, CONTACT).ok
    assert answers_of(push_service, sub) == [403, 201]


def test_a_rotation_walked_through(make_world, push_service, keys):
    old, new, rotate = keys
    user = make_world().supervisor
    a_sub = push_service.subscribe(201, old)
    a = services.subscribe(user.id, a_sub, "Chromium A")  # from the page, with the key it showed
    assert a.vapid_public == old.application_server_key

    # The new key is current, the old one a fallback: A's pushes are still signed with the old.
    rotate(new, [old])
    assert [k.application_server_key for k in delivery.vapid_fallbacks()] == [
        old.application_server_key
    ]
    tell(user)
    run_tasks()
    assert answers_of(push_service, a_sub) == [201]
    assert push_service.problems == []

    # A browser subscribing now gets the new key.
    b_sub = push_service.subscribe(201, new)
    b = services.subscribe(user.id, b_sub, "Chromium B", new.application_server_key)
    assert b.vapid_public == new.application_server_key
    tell(user)
    run_tasks()
    assert answers_of(push_service, a_sub) == [201, 201]
    assert answers_of(push_service, b_sub) == [201]

    # The fallback dropped: A is not sent (nor retried), and it is said why; B still works.
    rotate(new)
    tell(user)
    run_tasks()
    assert answers_of(push_service, a_sub) == [201, 201]
    assert answers_of(push_service, b_sub) == [201, 201]
    assert push_service.problems == []
    last = log(channel="webpush", user_id=user.id)[-2:]
    by_status = {d.status: d for d in last}
    assert sorted(by_status) == ["failed", "sent"]
    assert by_status["failed"].answer == delivery.RETIRED
    assert by_status["failed"].http_status is None and by_status["failed"].next_attempt_at is None
    assert huey.read_schedule(later()) == []
    assert row(a_sub) is not None  # kept until its browser subscribes again


def test_a_subscription_of_unrecorded_key_finds_its_key(make_world, push_service, keys):
    """Kept from before keys were recorded: the current key is tried, then each fallback; the
    key the push service takes is recorded, and the next push is signed with it at once."""
    old, new, rotate = keys
    user = make_world().supervisor
    on_old, on_new = push_service.subscribe(201, old), push_service.subscribe(201, new)
    for sub in (on_old, on_new):
        services.subscribe(user.id, sub, "Chromium").vapid_public = None
    db.session.flush()
    rotate(new, [old])
    tell(user)
    run_tasks()
    assert answers_of(push_service, on_old) == [403, 201]  # the new key refused, the old taken
    assert answers_of(push_service, on_new) == [201]
    assert row(on_old).vapid_public == old.application_server_key
    assert row(on_new).vapid_public == new.application_server_key
    assert [d.status for d in log(channel="webpush", user_id=user.id)] == ["sent", "sent"]
    tell(user)
    run_tasks()
    assert answers_of(push_service, on_old) == [403, 201, 201]


def test_the_browser_says_which_key_and_which_subscription_it_replaces(
    client, make_world, push_service, keys
):
    old, new, rotate = keys
    world = make_world()
    sign_in(client, world.supervisor)
    a_sub = push_service.subscribe(201, old)
    services.subscribe(world.supervisor.id, a_sub, "Chromium")
    rotate(new, [old])
    token = csrf_token(client)

    def post(body):
        return client.post(
            "/notifications/push",
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "X-CSRFToken": token},
        )

    # The old subscription reported with its key: kept, and the answer names the current key.
    answer = post({**a_sub, "applicationServerKey": old.application_server_key})
    assert answer.status_code == 200
    assert answer.json["key"] == new.application_server_key
    assert row(a_sub).vapid_public == old.application_server_key
    # Subscribed again with the current key, in place of the old one.
    b_sub = push_service.subscribe(201, new)
    answer = post(
        {**b_sub, "applicationServerKey": new.application_server_key, "replaces": a_sub["endpoint"]}
    )
    assert answer.status_code == 200
    assert row(a_sub) is None
    assert row(b_sub).vapid_public == new.application_server_key
    # A key the server does not keep is refused, and nothing is kept.
    c_sub = push_service.subscribe(201, new_vapid_keys())
    stranger = new_vapid_keys().application_server_key
    answer = post({**c_sub, "applicationServerKey": stranger, "replaces": b_sub["endpoint"]})
    assert answer.status_code == 400
    assert "刷新页面" in answer.json["message"]
    assert row(c_sub) is None and row(b_sub) is not None


def test_vapid_status_counts_the_browsers_of_each_key(runner, make_world, push_service, keys):
    old, new, rotate = keys
    world = make_world()
    retired = new_vapid_keys()
    db.session.execute(sa.delete(PushSubscription))  # the demo's, if any: rolled back after
    subs = {}
    for name, key in [("a", old), ("b", new), ("c", new), ("d", retired)]:
        subs[name] = push_service.subscribe(201, key)
        services.subscribe(world.supervisor.id, subs[name], "Chromium")
        row(subs[name]).vapid_public = key.application_server_key
    db.session.flush()
    rotate(new, [old])
    result = runner.invoke(args=["notify", "vapid-status"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"current        {new.application_server_key}  2 browsers",
        f"fallback       {old.application_server_key}  1 browser",
        f"retired        {retired.application_server_key}  1 browser (not sent)",
        "Keep the fallbacks: 1 browser(s) may still need them.",
    ]

    result = runner.invoke(args=["notify", "vapid-status", "--forget-retired"])
    assert result.exit_code == 0, result.output
    assert "Forgot 1 subscription(s) made with a retired key." in result.output
    assert row(subs["d"]) is None and row(subs["a"]) is not None

    # A's browser moved to the new key: the fallback is needed by no one.
    row(subs["a"]).vapid_public = new.application_server_key
    db.session.flush()
    result = runner.invoke(args=["notify", "vapid-status"])
    assert result.output.splitlines()[-1] == "No browser needs a fallback: they may be dropped."


def test_a_fallback_file_that_is_missing_is_named(app, tmp_path, monkeypatch, runner):
    monkeypatch.setitem(app.config, "VAPID_KEY_FALLBACK_FILES", str(tmp_path / "old.pem"))
    with app.app_context():
        with pytest.raises(FileNotFoundError, match="old.pem"):
            delivery.vapid_fallbacks()
    result = runner.invoke(args=["notify", "vapid-status"])
    assert result.exit_code == 1 and "old.pem" in result.output


def test_fallbacks_from_the_environment_and_files(monkeypatch, tmp_path):
    """One bare PEM is one key (not a list of its characters), a JSON list several; files too."""
    one, two, three = new_vapid_keys(), new_vapid_keys(), new_vapid_keys()
    path = tmp_path / "old.pem"
    path.write_bytes(three.private_pem)
    for value, files, expected in [
        (pem(one), None, [one]),
        (json.dumps([pem(one), pem(two)]), None, [one, two]),
        (None, str(path), [three]),
        (json.dumps([pem(one)]), json.dumps([str(path)]), [one, three]),
    ]:
        for name, setting in [
            ("GRIDPATROL_VAPID_PRIVATE_KEY_FALLBACKS", value),
            ("GRIDPATROL_VAPID_KEY_FALLBACK_FILES", files),
        ]:
            if setting is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, setting)
        app = make_app(f"sqlite:///{tmp_path / 'unused.db'}")
        with app.app_context():
            found = [k.application_server_key for k in delivery.vapid_fallbacks()]
        assert found == [k.application_server_key for k in expected]
