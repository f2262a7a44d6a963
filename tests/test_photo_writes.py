"""Issue 9: heavy work outside the write transaction, and limits so that a small file cannot cost
seconds of CPU or a gigabyte. Photos are decoded, checked, derived and stored before the write
begins (SQLite's one write lock is free meanwhile); bombs are refused from the header; the public
has stricter limits and a few decodes at a time; one item's unexpected error is its own."""

import io
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
from PIL import Image

from evidence import photos
from evidence.models import Photo
from evidence.photos import ANONYMOUS_LIMITS, DEFAULT_LIMITS, PhotoRejected
from evidence.services import _anonymous_slots
from evidence.storage import LocalStore
from extensions import db, sqlite_module
from grid.demo import point_in
from problems.models import Problem
from sync.registry import ITEM_KINDS, ItemKind
from tests import photo_corpus as corpus
from tests.conftest import DEMO_PASSWORD, csrf_token, make_app
from tests.test_photos import capture
from tests.test_sync import Phone, item


def big_jpeg(width=6000, height=4500) -> bytes:
    image = Image.new("RGB", (width, height), (90, 140, 60))
    for x in range(0, width, 64):
        image.paste((x % 255, 80, 200 - x % 200), (x, 0, x + 32, height // 2))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=40)  # under 500 KB: the test client keeps it in memory
    return out.getvalue()


# --- limits, from the header ---------------------------------------------------------------------


def test_the_bomb_like_png_of_the_issue_is_refused_quickly():
    bomb = corpus.png_bomb(7740, 7740)  # 60 megapixels in a few KB: accepted before issue 9
    assert len(bomb) < 20_000
    began = time.perf_counter()
    with pytest.raises(PhotoRejected) as excinfo:
        photos.process(bomb, capture())
    assert time.perf_counter() - began < 0.5
    assert excinfo.value.code == "too_many_pixels" and excinfo.value.status == 413
    assert "60 megapixels" in excinfo.value.message


def test_too_many_pixels_for_the_bytes_is_refused_from_the_header():
    bomb = corpus.png_bomb(4000, 4000)  # 16 megapixels (within the limit) in ~ 2 KB
    began = time.perf_counter()
    with pytest.raises(PhotoRejected) as excinfo:
        photos.process(bomb, capture())
    assert time.perf_counter() - began < 0.5
    assert excinfo.value.code == "too_compressed"
    assert "4000 × 4000" in excinfo.value.message and "KB" in excinfo.value.message


def test_a_camera_photo_passes_the_ratio():
    data = big_jpeg(4000, 3000)
    assert photos.process(data, capture()).facts.width == 4000


def test_the_public_has_stricter_limits():
    data = big_jpeg()  # 27 megapixels: a staff photo, not a complaint's
    assert photos.process(data, capture(), DEFAULT_LIMITS).facts.width == 6000
    with pytest.raises(PhotoRejected) as excinfo:
        photos.process(data, capture(), ANONYMOUS_LIMITS)
    assert excinfo.value.code == "too_many_pixels"
    assert ANONYMOUS_LIMITS.max_bytes < DEFAULT_LIMITS.max_bytes


def test_sizes_in_messages_never_read_as_the_limit():
    for size, shown in ((21_000_000, "20.1"), (20 * 1024 * 1024 + 1, "20.1"), (22 * 2**20, "22")):
        with pytest.raises(PhotoRejected) as excinfo:
            photos.read_facts(b"\0" * size)
        assert excinfo.value.message == f"The file is {shown} MB; the limit is 20 MB."


def test_complaint_photo_over_the_public_limit_is_refused_in_chinese(client):
    from tests.test_problems import complaint_form

    before = db.session.scalar(sa.select(sa.func.count()).select_from(Problem))
    response = complaint_form(client, photos=(io.BytesIO(big_jpeg()), "big.jpg", "image/jpeg"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "图片有 27 百万像素，上限为 24 百万像素" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Problem)) == before


def test_public_decodes_are_few_at_a_time_then_503(app, client, monkeypatch):
    from tests.test_problems import complaint_form, photo

    monkeypatch.setitem(app.config, "ANONYMOUS_PHOTO_WAIT_S", 0.05)
    with app.app_context():
        slots = _anonymous_slots()
    taken = 0
    while slots.acquire(blocking=False):  # every permit busy with someone else's photos
        taken += 1
    assert taken == app.config["ANONYMOUS_PHOTO_DECODES"]
    try:
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Problem))
        response = complaint_form(client, photos=(io.BytesIO(photo(7)), "a.jpg", "image/jpeg"))
        assert response.status_code == 503
        # Flask-Limiter raises it to its own window's reset on this rate-limited route
        assert int(response.headers["Retry-After"]) >= 5
        assert "请稍后再试" in response.get_data(as_text=True)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Problem)) == before
    finally:
        for _ in range(taken):
            slots.release()
    response = complaint_form(client, photos=(io.BytesIO(photo(7)), "a.jpg", "image/jpeg"))
    assert response.status_code == 200


# --- the write lock is not held while a photo is decoded -----------------------------------------


class GateStore(LocalStore):
    """A real local store that, on its first write, says so and waits to be let through: the
    moment a request has decoded a photo and is storing it, held still for the test."""

    def __init__(self, root):
        super().__init__(root)
        self.arrived = threading.Event()
        self.go = threading.Event()

    def put(self, key, data):
        self.arrived.set()
        assert self.go.wait(30), "the test never let the upload through"
        super().put(key, data)


@pytest.fixture
def fresh(database, tmp_path):
    """The app on its own copy of the demo database (commits are real), photos in a gate."""
    if database.backend != "spatialite":
        pytest.skip("SQLite's single write lock; PostgreSQL locks rows")
    store = GateStore(tmp_path / "photos")
    application = make_app(database.clone(), PHOTO_STORE=store)
    yield application, store
    with application.app_context():
        db.engine.dispose()


def _sqlite_path(application) -> str:
    return sa.make_url(application.config["SQLALCHEMY_DATABASE_URI"]).database


def _can_write_now(path: str) -> bool:
    """Whether another connection gets the write lock at once (no waiting). The same SQLite
    library as the app's: two copies in one process do not see each other's POSIX locks."""
    sqlite3 = sqlite_module()
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        conn.close()


def _login(client, login="cun"):
    token = csrf_token(client, "/login")
    client.post("/login", data={"login": login, "password": DEMO_PASSWORD, "csrf_token": token})


def _while_held(store, send):
    """Run `send` in a thread; once it is storing the decoded photo, return (it is held)."""
    answer = {}
    thread = threading.Thread(target=lambda: answer.update(response=send()), daemon=True)
    thread.start()
    assert store.arrived.wait(30), "the request never reached the store"
    return thread, answer


def test_a_second_writer_is_not_locked_out_while_a_sync_photo_is_processed(fresh):
    application, store = fresh
    client = application.test_client()
    _login(client)
    phone = Phone(client)
    with application.app_context():
        from grid.models import Grid, Membership, Role, User
        from sources.models import Source

        user = db.session.scalar(sa.select(User).where(User.username == "cun"))
        village = db.session.scalar(
            sa.select(Grid)
            .join(Membership, Membership.grid_id == Grid.id)
            .where(Membership.user_id == user.id, Membership.role == Role.SUPERVISOR)
        )
        source = db.session.scalar(sa.select(Source).where(Source.grid_id == village.id))
        lon, lat = point_in(village)
        start = item("patrol.start", {"grid_id": village.id, "lat": lat, "lon": lon})
        visit = item(
            "visit",
            {"patrol": start["client_id"], "source_id": source.id, "outcome": "normal"},
            offset_ms=1000,
        )
        db.session.remove()
    assert [r["status"] for r in phone.send(start, visit).json["results"]] == [201, 201]
    token = phone.token()
    photo_id = str(uuid.uuid4())
    data = big_jpeg(4000, 3000)

    def send():
        import json

        from tests.test_sync import stamp

        form = {
            "client_id": photo_id,
            "parent_kind": "visit",
            "parent_client_id": visit["client_id"],
            "stamp": json.dumps(stamp(150_000.0)),
            "sent": json.dumps(stamp(200_000.0)),
            "file": (io.BytesIO(data), "photo.jpg", "image/jpeg"),
        }
        return client.post(
            "/sync/photos",
            data=form,
            content_type="multipart/form-data",
            headers={"X-CSRFToken": token},
        )

    thread, answer = _while_held(store, send)
    try:
        assert _can_write_now(_sqlite_path(application))  # before issue 9: "database is locked"
    finally:
        store.go.set()
        thread.join(30)
    assert answer["response"].status_code == 201, answer["response"].json
    with application.app_context():
        assert db.session.scalar(sa.select(Photo).where(Photo.client_id == photo_id)) is not None
        db.session.remove()


def test_a_second_writer_is_not_locked_out_while_a_complaint_photo_is_processed(fresh):
    from tests.test_problems import photo

    application, store = fresh
    client = application.test_client()
    with application.app_context():
        from tests.test_problems import village

        lon, lat = point_in(village())
        db.session.remove()
    token = csrf_token(client, "/complaint")

    def send():
        return client.post(
            "/complaint",
            data={
                "csrf_token": token,
                "lat": str(lat),
                "lon": str(lon),
                "category": "dust",
                "description": "工地扬尘",
                "photos": (io.BytesIO(photo(11)), "a.jpg", "image/jpeg"),
            },
            content_type="multipart/form-data",
        )

    thread, answer = _while_held(store, send)
    try:
        assert _can_write_now(_sqlite_path(application))
    finally:
        store.go.set()
        thread.join(30)
    assert answer["response"].status_code == 200


# --- an unexpected error is that item's alone ---------------------------------------------------


def _broken(up, it, timing):
    """A kind of item whose recording meets a real database error (a table that is not there)."""
    db.session.execute(sa.text("SELECT * FROM no_such_table"))
    return 0


@pytest.fixture
def with_broken_kind(database):
    application = make_app(database.clone())
    ITEM_KINDS.add(application, "test.broken", ItemKind(_broken))
    yield application
    with application.app_context():
        db.engine.dispose()


def test_an_unexpected_error_answers_that_item_only(with_broken_kind, caplog):
    application = with_broken_kind
    # Alembic's fileConfig (the migrations, run by another fixture) disables loggers it finds.
    application.logger.disabled = False
    client = application.test_client()
    _login(client)
    phone = Phone(client)
    with application.app_context():
        from grid.models import Grid, Membership, Role, User

        user = db.session.scalar(sa.select(User).where(User.username == "cun"))
        village = db.session.scalar(
            sa.select(Grid)
            .join(Membership, Membership.grid_id == Grid.id)
            .where(Membership.user_id == user.id, Membership.role == Role.SUPERVISOR)
        )
        lon, lat = point_in(village)
        db.session.remove()
    first = item("patrol.start", {"grid_id": village.id, "lat": lat, "lon": lon})
    broken = item("test.broken", {})
    after = item("patrol.end", {"patrol": first["client_id"]}, offset_ms=5000)
    response = phone.send(first, broken, after)
    assert response.status_code == 200
    results = response.json["results"]
    assert [r["status"] for r in results] == [201, 500, 201]
    assert results[1]["error"] == "server_error" and results[1]["client_id"] == broken["client_id"]
    assert "no_such_table" in caplog.text and "Traceback" in caplog.text
    with application.app_context():
        from patrol.models import Patrol
        from sync.models import SyncReceipt

        patrol = db.session.scalar(sa.select(Patrol).where(Patrol.client_id == first["client_id"]))
        assert patrol is not None and patrol.ended_at is not None
        assert db.session.get(SyncReceipt, broken["client_id"]) is None  # sent again later
        db.session.remove()


# --- one phone's queue sent twice at once --------------------------------------------------------


class Gate:
    """A kind of item that, the first time it is recorded, says so and waits to be let through:
    a batch held half-applied, its first items written and not yet committed."""

    def __init__(self):
        self.arrived = threading.Event()
        self.go = threading.Event()

    def record(self, up, it, timing):
        self.arrived.set()
        assert self.go.wait(30), "the test never let the batch through"
        return 0


@pytest.fixture
def gated(database):
    application = make_app(database.clone())
    gate = Gate()
    ITEM_KINDS.add(application, "test.gate", ItemKind(gate.record))
    yield application, gate
    with application.app_context():
        db.engine.dispose()


def test_a_batch_sent_again_while_the_first_is_applied_gets_the_first_answers(gated):
    """The page and the service worker both run the queue, or a phone retries a batch whose
    answer it has not had yet: the second copy waits for the first and gets its answers
    (before: on PostgreSQL it raced the first into a unique violation and a 500)."""
    application, gate = gated
    phones = []
    for _ in range(2):  # two sessions of one person, as a page and a retry would be
        client = application.test_client()
        _login(client)
        phones.append(Phone(client))
    with application.app_context():
        from grid.models import Grid, Membership, Role, User

        user = db.session.scalar(sa.select(User).where(User.username == "cun"))
        village = db.session.scalar(
            sa.select(Grid)
            .join(Membership, Membership.grid_id == Grid.id)
            .where(Membership.user_id == user.id, Membership.role == Role.SUPERVISOR)
        )
        lon, lat = point_in(village)
        db.session.remove()
    batch = [
        item("patrol.start", {"grid_id": village.id, "lat": lat, "lon": lon}),
        item("test.gate", {}, offset_ms=1000),
    ]
    answers = {}

    def send(n):
        answers[n] = phones[n].send(*batch)

    first = threading.Thread(target=send, args=(0,), daemon=True)
    first.start()
    assert gate.arrived.wait(30), "the first batch never reached its second item"
    second = threading.Thread(target=send, args=(1,), daemon=True)
    second.start()
    time.sleep(1)  # the time for the second copy to overtake the first, were it let through
    gate.go.set()
    first.join(30)
    second.join(30)
    assert answers[0].status_code == answers[1].status_code == 200
    assert answers[1].json["results"] == answers[0].json["results"]
    assert [r["status"] for r in answers[0].json["results"]] == [201, 201]
    with application.app_context():
        from patrol.models import Patrol

        patrols = db.session.scalars(
            sa.select(Patrol).where(Patrol.client_id == batch[0]["client_id"])
        ).all()
        assert len(patrols) == 1
        db.session.remove()
