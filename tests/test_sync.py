"""The phone's queue meets the server: every item recorded once, repeats answered the same,
refusals clear and harmless, photos validated and flagged (issue 3)."""

import io
import json
import time
import uuid
from datetime import datetime

import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from evidence.models import Photo
from extensions import db
from grid import queries as grid_queries
from grid.demo import point_in
from grid.models import Grid, Membership, Role, User
from grid.time import local_zone
from patrol.models import Patrol, RoutePoint, Visit
from problems.models import Problem
from sources.models import Source
from sync.models import SyncReceipt
from tests.conftest import sign_in

BOOT = str(uuid.uuid4())


def stamp(offset_ms=0.0, device_off_ms=0, boot=BOOT):
    return {
        "device_ms": int(time.time() * 1000) + device_off_ms,
        "elapsed_ms": 100_000.0 + offset_ms,
        "boot": boot,
    }


def item(kind, data, client_id=None, **kw):
    return {"client_id": client_id or str(uuid.uuid4()), "kind": kind, "data": data, **stamp(**kw)}


class Phone:
    """What queue.js does, from Python."""

    def __init__(self, client):
        self.client = client

    def token(self):
        response = self.client.get("/sync/token")
        assert response.status_code == 200, response.status_code
        return response.json["csrf_token"]

    def send(self, *items, sent=None, token=None):
        body = {"sent": sent or stamp(200_000.0), "items": list(items)}
        return self.client.post(
            "/sync/items", json=body, headers={"X-CSRFToken": token or self.token()}
        )

    def photo(self, parent_kind, parent_id, data, client_id=None, fix=None, **fields):
        form = {
            "client_id": client_id or str(uuid.uuid4()),
            "parent_kind": parent_kind,
            "parent_client_id": parent_id,
            "stamp": json.dumps(stamp(150_000.0)),
            "sent": json.dumps(stamp(200_000.0)),
            "file": (io.BytesIO(data), "photo.jpg", "image/jpeg"),
            **fields,
        }
        if fix:
            form.update(lat=str(fix[1]), lon=str(fix[0]), accuracy="8")
        return self.client.post(
            "/sync/photos",
            data=form,
            content_type="multipart/form-data",
            headers={"X-CSRFToken": self.token()},
        )


def to_dms(value):
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = (value - d - m / 60) * 3600
    return (IFDRational(d, 1), IFDRational(m, 1), IFDRational(round(s * 10000), 10000))


def jpeg(lon=None, lat=None, taken=None, colour=(120, 160, 90), size=(1200, 900)):
    """A test photo with EXIF GPS and time, made here."""
    image = Image.new("RGB", size, colour)
    for x in range(0, size[0], 40):  # some structure, so the perceptual hash means something
        image.paste((x % 255, 40, 200 - x % 200), (x, 0, x + 20, size[1] // 2))
    exif = Image.Exif()
    if lat is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        gps[ExifTags.GPS.GPSLatitude] = to_dms(lat)
        gps[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        gps[ExifTags.GPS.GPSLongitude] = to_dms(lon)
    if taken is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken.strftime(
            "%Y:%m:%d %H:%M:%S"
        )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, exif=exif)
    return out.getvalue()


@pytest.fixture
def cun(auth, db_session):
    auth.login("cun")
    user = db.session.scalar(sa.select(User).where(User.username == "cun"))
    village = db.session.scalar(
        sa.select(Grid)
        .join(Membership, Membership.grid_id == Grid.id)
        .where(Membership.user_id == user.id, Membership.role == Role.SUPERVISOR)
    )
    sources = list(
        db.session.scalars(
            sa.select(Source).where(Source.grid_id == village.id, Source.status == "active")
        )
    )
    assert len(sources) >= 2
    return user, village, sources


@pytest.fixture
def phone(client):
    return Phone(client)


def count(model):
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_whole_patrol_once(cun, phone):
    user, village, sources = cun
    lon, lat = point_in(village)
    start = item(
        "patrol.start", {"grid_id": village.id, "lat": lat, "lon": lon, "accuracy": 6}, offset_ms=0
    )
    pid = start["client_id"]
    route = item(
        "patrol.route",
        {
            "patrol": pid,
            "points": [
                [stamp()["device_ms"] + i * 60_000, 1000.0 + i * 60_000, lon + i * 0.001, lat, 5]
                for i in range(4)
            ],
        },
        offset_ms=50_000,
    )
    visit = item(
        "visit",
        {
            "patrol": pid,
            "source_id": sources[0].id,
            "outcome": "normal",
            "note": "无异常",
            "lat": lat,
            "lon": lon,
            "accuracy": 7,
        },
        offset_ms=60_000,
    )
    problem = item(
        "problem",
        {
            "patrol": pid,
            "source_id": sources[1].id,
            "category": "dust",
            "severity": "serious",
            "description": "料堆未苫盖",
            "stopped_on_spot": True,
            "lat": lat,
            "lon": lon,
        },
        offset_ms=70_000,
    )
    end = item("patrol.end", {"patrol": pid, "lat": lat, "lon": lon}, offset_ms=90_000)
    response = phone.send(start, route, visit, problem, end)
    assert response.status_code == 200
    results = response.json["results"]
    assert [r["status"] for r in results] == [201] * 5
    before = {m: count(m) for m in (Patrol, Visit, Problem, RoutePoint, SyncReceipt)}
    # the connection dropped after the server answered: the phone sends everything again
    again = phone.send(start, route, visit, problem, end)
    assert again.json["results"] == results
    assert {m: count(m) for m in (Patrol, Visit, Problem, RoutePoint, SyncReceipt)} == before
    patrol = db.session.scalar(sa.select(Patrol).where(Patrol.client_id == pid))
    assert patrol.ended_at > patrol.started_at and patrol.route is not None
    assert patrol.route_length_m > 200  # four points 0.001° of longitude apart
    assert patrol.clock_basis == "elapsed" and not patrol.clock_skewed
    saved = db.session.scalar(sa.select(Problem).where(Problem.client_id == problem["client_id"]))
    assert (saved.category, saved.severity, saved.stopped_on_spot) == ("dust", "serious", True)
    assert saved.grid_id == village.id and saved.reporter_id == user.id
    # the patrol page, knowing only the id it gave the problem, finds its page (upper case too)
    found = phone.client.get(f"/patrol/problems/sent/{problem['client_id'].upper()}")
    assert found.status_code == 302
    assert found.headers["Location"].endswith(f"/patrol/problems/{saved.id}")
    assert phone.client.get(f"/patrol/problems/sent/{uuid.uuid4()}").status_code == 404
    assert phone.client.get("/patrol/problems/sent/not-a-uuid").status_code == 404


def test_route_keeps_points_25_m_apart_at_possible_speeds(cun, phone):
    user, village, _ = cun
    lon, lat = point_in(village)
    start = item("patrol.start", {"grid_id": village.id, "lat": lat, "lon": lon})
    t0 = stamp()["device_ms"]
    points = [
        [t0, 0, lon, lat, 5],
        [t0 + 10_000, 10_000, lon + 0.0001, lat, 5],  # 8 m: too close
        [t0 + 20_000, 20_000, lon + 0.0005, lat, 5],  # 40 m in 20 s: kept
        [t0 + 21_000, 21_000, lon + 0.05, lat, 5],  # 4 km in 1 s: impossible
        [t0 + 60_000, 60_000, lon + 0.001, lat, 5],  # 40 m on: kept
    ]
    phone.send(start, item("patrol.route", {"patrol": start["client_id"], "points": points}))
    patrol = db.session.scalar(sa.select(Patrol).where(Patrol.client_id == start["client_id"]))
    from geoalchemy2.shape import to_shape

    assert len(to_shape(patrol.route).coords) == 3
    assert count(RoutePoint) >= 5  # every fix is kept as received; the line is filtered


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda it, ctx: it["data"].update(grid_id=ctx["other"]), "not_your_grid"),
        (lambda it, ctx: it.update(kind="patrol.teleport"), "malformed"),
        (lambda it, ctx: it.update(client_id="not-a-uuid"), "malformed"),
        (lambda it, ctx: it.pop("device_ms"), "malformed"),
        (lambda it, ctx: it["data"].update(lat="north", lon=87), None),
    ],
)
def test_bad_items_are_refused_alone(cun, phone, mutate, code):
    user, village, sources = cun
    other = grid_queries.grid_by_code("652328000000")
    good = item("patrol.start", {"grid_id": village.id})
    bad = item("patrol.start", {"grid_id": village.id})
    mutate(bad, {"other": other.id})
    results = phone.send(bad, good).json["results"]
    assert results[0]["status"] >= 400 and results[0]["message"]
    if code:
        assert results[0]["error"] == code
    assert results[1]["status"] == 201  # the next item is not held back
    assert count(Patrol) == 1 + db.session.scalar(
        sa.select(sa.func.count(Patrol.id)).where(Patrol.client_id != good["client_id"])
    )


def test_problem_needs_its_fields(cun, phone):
    user, village, sources = cun
    start = item("patrol.start", {"grid_id": village.id})
    phone.send(start)
    before = count(Problem)
    for data, code in [
        ({"severity": "minor", "description": "x"}, "missing_field"),
        ({"category": "dust", "description": "x"}, "missing_field"),
        ({"category": "dust", "severity": "minor"}, "missing_field"),
        (
            {"category": "dust", "severity": "minor", "description": "x", "source_id": 999999},
            "unknown_source",
        ),
    ]:
        result = phone.send(item("problem", {"patrol": start["client_id"], **data})).json
        assert result["results"][0]["error"] == code
    assert count(Problem) == before


def test_items_wait_for_their_patrol(cun, phone):
    user, village, sources = cun
    orphan = item(
        "visit", {"patrol": str(uuid.uuid4()), "source_id": sources[0].id, "outcome": "normal"}
    )
    result = phone.send(orphan).json["results"][0]
    assert (result["status"], result["error"]) == (409, "unknown_patrol")
    assert receipt_count(orphan) == 0  # not remembered: it may succeed later


def receipt_count(it):
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(SyncReceipt)
        .where(SyncReceipt.client_id == it["client_id"])
    )


def test_someone_elses_patrol_is_refused(cun, phone, auth, client):
    user, village, sources = cun
    start = item("patrol.start", {"grid_id": village.id})
    phone.send(start)
    auth.login("sangong")  # the township head: not a supervisor, not their patrol
    result = phone.send(
        item(
            "visit", {"patrol": start["client_id"], "source_id": sources[0].id, "outcome": "normal"}
        )
    ).json["results"][0]
    assert result["status"] == 403
    refused = phone.send(item("patrol.start", {"grid_id": village.id})).json["results"][0]
    assert refused["error"] == "not_your_grid"
    # replaying cun's own item as someone else is a conflict, not a copy
    assert phone.send(start).json["results"][0]["status"] == 409


def test_clock_skew_is_flagged(cun, phone):
    user, village, _ = cun
    fast = 20 * 60 * 1000  # the phone's clock is 20 minutes fast
    start = item("patrol.start", {"grid_id": village.id}, device_off_ms=fast)
    result = phone.send(start, sent=stamp(200_000.0, device_off_ms=fast)).json["results"][0]
    assert result["clock_skewed"] is True
    patrol = db.session.scalar(sa.select(Patrol).where(Patrol.client_id == start["client_id"]))
    assert patrol.clock_skewed and abs(patrol.clock_offset_s - 1200) < 5
    assert abs((patrol.received_at - patrol.started_at).total_seconds() - 200) < 5


def test_sync_needs_a_session_and_a_token(client, phone, cun):
    response = client.post("/sync/items", json={"sent": stamp(), "items": []})
    assert response.status_code == 400  # no CSRF token
    client.post("/logout", data={"csrf_token": phone.token()})
    assert client.get("/sync/token").status_code == 401  # the queue is kept; sign in again
    response = client.post(
        "/sync/items", json={"sent": stamp(), "items": []}, headers={"Accept": "application/json"}
    )
    assert response.status_code in (400, 401)


def test_malformed_batches(cun, phone):
    token = phone.token()
    for body in ({"items": "x"}, {"sent": stamp()}, {"sent": {}, "items": []}):
        response = phone.client.post("/sync/items", json=body, headers={"X-CSRFToken": token})
        assert response.status_code == 400 and response.json["message"]


# --- photos -----------------------------------------------------------------------------------


def _visit(cun, phone):
    user, village, sources = cun
    lon, lat = point_in(village)
    start = item("patrol.start", {"grid_id": village.id, "lat": lat, "lon": lon})
    visit = item(
        "visit",
        {
            "patrol": start["client_id"],
            "source_id": sources[0].id,
            "outcome": "normal",
            "lat": lat,
            "lon": lon,
        },
    )
    assert [r["status"] for r in phone.send(start, visit).json["results"]] == [201, 201]
    return visit, (lon, lat)


def test_photo_once_with_facts_and_no_flags(cun, phone, app):
    visit, (lon, lat) = _visit(cun, phone)
    local_now = datetime.now(local_zone()).replace(tzinfo=None)
    data = jpeg(lon, lat, taken=local_now)
    client_id = str(uuid.uuid4())
    first = phone.photo("visit", visit["client_id"], data, client_id=client_id, fix=(lon, lat))
    assert first.status_code == 201, first.json
    assert first.json["flags"] == []
    again = phone.photo("visit", visit["client_id"], data, client_id=client_id, fix=(lon, lat))
    assert again.status_code == 200 and again.json == first.json
    assert count(Photo) == 1 + db.session.scalar(
        sa.select(sa.func.count(Photo.id)).where(Photo.client_id != client_id)
    )
    photo = db.session.scalar(sa.select(Photo).where(Photo.client_id == client_id))
    assert photo.exif_lat == pytest.approx(lat, abs=1e-5)
    assert photo.sources["position"] == "browser"
    for variant, kind in (("display", "image/jpeg"), ("thumb", "image/jpeg")):
        with phone.client.get(f"/patrol/photos/{photo.id}/{variant}") as served:
            assert served.status_code == 200 and served.mimetype == kind
            assert max(Image.open(io.BytesIO(served.data)).size) <= (
                1600 if variant == "display" else 320
            )
    with phone.client.get(f"/patrol/photos/{photo.id}/original") as original:
        assert original.data == data  # kept exactly as received


def test_photo_flags(cun, phone):
    visit, (lon, lat) = _visit(cun, phone)
    far = jpeg(lon + 0.1, lat, taken=datetime(2020, 1, 1, 12))  # 8 km away, years old
    response = phone.photo("visit", visit["client_id"], far, fix=(lon, lat))
    assert response.status_code == 201
    assert {"exif_far_from_fix", "time_mismatch"} <= set(response.json["flags"])
    # no browser fix: the EXIF position is used, and it is outside the grid
    outside = phone.photo("visit", visit["client_id"], jpeg(lon + 0.5, lat + 0.5, colour=(9, 9, 9)))
    assert "outside_grid" in outside.json["flags"]
    bare = phone.photo("visit", visit["client_id"], jpeg(colour=(200, 10, 10)))
    assert "no_location" in bare.json["flags"]
    reused = phone.photo("visit", visit["client_id"], far, fix=(lon, lat))
    assert "duplicate" in reused.json["flags"]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"%PDF-1.4 not a photo", 415),
        (jpeg()[:5000], 400),  # truncated
        (b"", 400),
    ],
)
def test_bad_photos_change_nothing(cun, phone, data, status):
    visit, _ = _visit(cun, phone)
    before = count(Photo)
    response = phone.photo("visit", visit["client_id"], data)
    assert response.status_code == status and response.json["message"]
    assert count(Photo) == before


def test_photo_for_a_record_not_yet_sent(cun, phone):
    response = phone.photo("visit", str(uuid.uuid4()), jpeg())
    assert (response.status_code, response.json["error"]) == (409, "unknown_parent")


def test_photos_are_private_to_the_grid(cun, phone, auth, client):
    visit, (lon, lat) = _visit(cun, phone)
    photo_id = phone.photo("visit", visit["client_id"], jpeg(lon, lat), fix=(lon, lat)).json["id"]
    auth.login("changji")  # the county office sees it
    with client.get(f"/patrol/photos/{photo_id}/thumb") as r:
        assert r.status_code == 200
    other = db.session.scalar(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .join(Grid, Grid.id == Membership.grid_id)
        .where(Grid.code == "652328000000", Membership.role == "office")
    )
    sign_in(client, other)
    assert client.get(f"/patrol/photos/{photo_id}/thumb").status_code == 403
