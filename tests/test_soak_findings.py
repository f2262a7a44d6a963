"""What the soak (bench/soak.py, docs/reliability.md) found, fixed and kept fixed:

- a task meant for after the commit (a notification's delivery) was queued when a sync item's
  savepoint was released, before the batch committed: the consumer, quicker than the commit,
  read no notification and delivered nothing;
- a write whose task could not be queued after its commit (Redis unreachable) was answered 500
  although it was kept, and the task was lost;
- a photo store that cannot write (the photo disk read-only) answered 500 with a traceback, not
  a 503 the phone's queue keeps for later.
"""

import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from huey.storage import RedisStorage

import extensions
from evidence.models import Photo
from evidence.storage import LocalStore
from extensions import after_commit, db, huey
from grid.demo import point_in
from notify.models import Notification
from problems.models import Problem
from sync.models import SyncReceipt
from tests.conftest import sign_in
from tests.test_sync import Phone, item, jpeg


@pytest.fixture(autouse=True)
def _english(client):
    client.set_cookie("lang", "en")
    with force_locale("en"):
        yield


def test_a_task_after_the_commit_waits_for_the_transaction_not_a_savepoint(db_session):
    called = []
    db.session.execute(sa.select(1))
    with db.session.begin_nested():  # as each sync item is applied
        after_commit(lambda: called.append("queued"))
    assert called == []  # the batch has not committed: its rows are not there for a consumer
    db.session.commit()
    assert called == ["queued"]


def test_a_batch_of_items_queues_the_delivery_of_its_notifications_once_committed(
    client, make_world
):
    world = make_world()
    sign_in(client, world.supervisor)
    patrol, problem = _problem_items(world)
    response = Phone(client).send(patrol, problem)
    assert [r["status"] for r in response.json["results"]] == [201, 201]
    assert huey.pending_count() == 1  # queued once, for the notifications the problem made
    task = huey.dequeue()
    kept = db.session.scalar(sa.select(Problem).where(Problem.client_id == problem["client_id"]))
    made = db.session.scalars(
        sa.select(Notification.id).where(Notification.subject == f"problem:{kept.id}")
    ).all()
    assert sorted(task.args[0]) == sorted(made) and made


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _problem_items(world):
    village = world.villages[0]
    lon, lat = point_in(village)
    place = {"lon": lon, "lat": lat, "accuracy": 8}
    patrol = item("patrol.start", {"grid_id": village.id, **place})
    problem = item(
        "problem",
        {
            "patrol": patrol["client_id"],
            "category": "dust",
            "severity": "moderate",
            "description": "Dust from a building site",
            **place,
        },
    )
    return patrol, problem


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_a_write_whose_task_cannot_be_queued_is_answered_kept_and_its_task_queued_later(
    client, make_world, monkeypatch
):
    world = make_world()
    sign_in(client, world.supervisor)
    phone = Phone(client)
    token = phone.token()
    # The task queue on a Redis that is not there yet: a network cut, a Redis restarting.
    port = _free_port()
    monkeypatch.setattr(huey, "storage", RedisStorage("gridpatrol-soak-test", port=port))
    monkeypatch.setattr(extensions, "AFTER_COMMIT_RETRIES", (0.2,) * 100)
    patrol, problem = _problem_items(world)

    response = phone.send(patrol, problem, token=token)

    # The problem is kept (committed): the phone is told so, not "500, send it again".
    assert response.status_code == 200
    assert [r["status"] for r in response.json["results"]] == [201, 201]
    kept = db.session.scalar(sa.select(Problem).where(Problem.client_id == problem["client_id"]))
    assert kept is not None
    subject = f"problem:{kept.id}"
    told = db.session.scalars(sa.select(Notification.id).where(Notification.subject == subject))
    assert list(told), "the problem told nobody: nothing to deliver"
    assert _queued(huey.storage) == 0
    # Redis comes back: the delivery task is queued then, by the retry in the background.
    redis = subprocess.Popen(  # noqa: S603 - the test's own server, no shell
        [shutil.which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while _queued(huey.storage) == 0:
            assert time.monotonic() < deadline, "the task was never queued"
            time.sleep(0.1)
        assert _queued(huey.storage) == 1  # once, not once per try
        # A repeat of the run gets the first answers; nothing is recorded twice.
        again = phone.send(patrol, problem, token=token)
        assert [r["status"] for r in again.json["results"]] == [201, 201]
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(SyncReceipt)
                .where(SyncReceipt.client_id.in_([patrol["client_id"], problem["client_id"]]))
            )
            == 2
        )
    finally:
        redis.terminate()
        redis.wait(timeout=10)


def _queued(storage) -> int:
    try:
        return storage.queue_size()
    except Exception:  # noqa: BLE001 - not reachable yet
        return 0


def test_a_photo_the_store_cannot_write_is_a_503_the_phone_sends_again(
    app, client, make_world, monkeypatch, tmp_path
):
    world = make_world()
    sign_in(client, world.supervisor)
    phone = Phone(client)
    patrol, problem = _problem_items(world)
    assert [r["status"] for r in phone.send(patrol, problem).json["results"]] == [201, 201]
    # A store whose folder cannot be made: its parent is a file (as a read-only or full disk,
    # the operating system refuses the write).
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setitem(app.config, "PHOTO_STORE", LocalStore(blocker / "photos"))
    photo_id = str(uuid.uuid4())
    lon, lat = point_in(world.villages[0])
    data = jpeg(lon, lat)

    refused = phone.photo("problem", problem["client_id"], data, client_id=photo_id)

    assert refused.status_code == 503
    assert refused.json["error"] == "storage_unavailable"
    assert "could not be stored" in refused.json["message"]
    assert db.session.scalar(sa.select(Photo).where(Photo.client_id == photo_id)) is None
    assert db.session.get(SyncReceipt, photo_id) is None
    # The disk is writable again: the queue sends the same photo, which is kept once.
    store = tmp_path / "photos"
    monkeypatch.setitem(app.config, "PHOTO_STORE", LocalStore(store))
    kept = phone.photo("problem", problem["client_id"], data, client_id=photo_id)
    assert kept.status_code == 201
    repeat = phone.photo("problem", problem["client_id"], data, client_id=photo_id)
    assert repeat.status_code == 200 and repeat.json["id"] == kept.json["id"]
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Photo).where(Photo.client_id == photo_id)
        )
        == 1
    )
    assert any(Path(store).rglob("*.jpg"))


def test_the_delivery_fan_out_is_tried_again_after_a_database_error():
    """A PostgreSQL restart while it ran lost every delivery of its notifications; it reads
    everything before it queues anything, so trying it again sends nothing twice."""
    from notify import tasks

    assert tasks.deliver.retries >= 3
