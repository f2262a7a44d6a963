"""Issue 9: one bad item never blocks a phone's queue. Each item is accepted or refused on its own,
in a savepoint of its own; implausible clocks, positions and EXIF facts are refused naming the
field; an unexpected error answers that item alone; client ids are case-normalised. Property
tests (hypothesis) cover the item parser."""

import json
import math
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extensions import db
from grid.demo import point_in
from patrol.models import Patrol, RoutePoint, Visit
from problems.models import Problem
from sync import services
from sync.services import Item, SyncRefused
from tests.test_sync import count, item, jpeg, stamp
from tests.test_sync import cun as cun  # noqa: F401 - the fixture, shared
from tests.test_sync import phone as phone  # noqa: F401 - the fixture, shared

# --- the parser, as properties ------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
KINDS = st.sampled_from(["visit", "patrol.start", "patrol.route", "patrol.end", "problem", "x"])
NUMBERS = (
    st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.none()
    | st.booleans()
)
# Envelopes close to a real item, with any field possibly wrong: reaches past the first check.
NEAR_ITEMS = st.fixed_dictionaries(
    {
        "client_id": st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper()) | JSON,
        "kind": KINDS | JSON,
        "data": st.dictionaries(st.text(max_size=8), JSON) | JSON,
        "device_ms": NUMBERS,
        "elapsed_ms": NUMBERS,
        "boot": st.uuids().map(str) | JSON,
    }
)
HYPOTHESIS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@HYPOTHESIS
@given(raw=JSON | NEAR_ITEMS)
def test_any_json_is_an_item_or_a_refusal(app, raw):
    with app.app_context():
        try:
            parsed = services.parse_item(raw)
        except SyncRefused as exc:
            assert exc.status == 400 and str(exc)  # a message, in words
            return
    assert isinstance(parsed, Item)
    low, high = services.DEVICE_MS_RANGE
    assert low <= parsed.stamp.device_ms <= high
    assert math.isfinite(parsed.stamp.elapsed_ms)
    assert parsed.client_id == str(uuid.UUID(parsed.client_id))  # canonical, lower case


@HYPOTHESIS
@given(
    client_id=st.uuids(),
    upper=st.booleans(),
    kind=st.sampled_from(["visit", "patrol.start", "patrol.route", "patrol.end", "problem"]),
    data=st.dictionaries(st.text(max_size=8), JSON, max_size=4),
    device_ms=st.integers(*services.DEVICE_MS_RANGE),
    elapsed_ms=st.floats(*services.ELAPSED_MS_RANGE),
    boot=st.uuids().map(str),
)
def test_a_valid_item_round_trips(app, client_id, upper, kind, data, device_ms, elapsed_ms, boot):
    text = str(client_id).upper() if upper else str(client_id)
    raw = json.loads(
        json.dumps(
            {
                "client_id": text,
                "kind": kind,
                "data": data,
                "device_ms": device_ms,
                "elapsed_ms": elapsed_ms,
                "boot": boot,
            }
        )
    )
    with app.app_context():
        parsed = services.parse_item(raw)
    assert parsed.client_id == str(client_id)  # lower case, whatever was sent
    assert (parsed.kind, parsed.data) == (kind, raw["data"])
    assert (parsed.stamp.device_ms, parsed.stamp.elapsed_ms, parsed.stamp.boot) == (
        device_ms,
        elapsed_ms,
        boot,
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("device_ms", 1e300),
        ("device_ms", math.inf),
        ("device_ms", -math.inf),
        ("device_ms", 0),
        ("device_ms", "soon"),
        ("device_ms", True),
        ("elapsed_ms", math.nan),
        ("elapsed_ms", 1e308),
        ("boot", None),
    ],
)
def test_implausible_stamps_name_the_field(app, field, value):
    raw = item("visit", {})
    raw[field] = value
    with app.app_context(), pytest.raises(SyncRefused) as excinfo:
        services.parse_item(raw)
    assert field in str(excinfo.value)


# --- over HTTP: a batch never fails because of one item -----------------------------------------


def _start(village):
    lon, lat = point_in(village)
    return item("patrol.start", {"grid_id": village.id, "lat": lat, "lon": lon}, offset_ms=0)


def _visit(pid, source, lon, lat, **over):
    data = {"patrol": pid, "source_id": source.id, "outcome": "normal", "lat": lat, "lon": lon}
    return item("visit", data, offset_ms=10_000, **over)


def _post_raw(phone, items):
    """What a phone (or anyone) might send: JSON with NaN and Infinity as Python writes them."""
    body = json.dumps({"sent": stamp(200_000.0), "items": items})  # allow_nan: NaN, Infinity
    return phone.client.post(
        "/sync/items",
        data=body,
        content_type="application/json",
        headers={"X-CSRFToken": phone.token(), "Accept-Language": "zh-CN"},
    )


@pytest.mark.parametrize(
    "poison, words",
    [
        ({"device_ms": 1e300}, "device_ms"),
        ({"device_ms": math.inf}, "device_ms"),
        ({"elapsed_ms": math.nan}, "elapsed_ms"),
        ({"data": {"lat": math.nan, "lon": math.nan}}, "走访地点"),
        ({"data": {"lat": 999, "lon": -999}}, "走访地点：位置超出"),
        ({"data": {"lat": "1e308", "lon": 87}}, "走访地点"),
        ({"data": {"note": {"a": 1}}}, "「备注」应为文字"),
        ({"data": {"note": "a\x00b"}}, "「备注」含有"),
        ({"data": {"note": "x" * 100_000}}, "「备注」过长"),
        ({"data": {"source_id": 2**70}}, "未知的污染源"),
    ],
)
def test_a_poisoned_item_between_good_ones_is_refused_alone(cun, phone, poison, words):
    _user, village, sources = cun
    lon, lat = point_in(village)
    start = _start(village)
    pid = start["client_id"]
    good_before = _visit(pid, sources[0], lon, lat)
    bad = _visit(pid, sources[1], lon, lat)
    bad.update({k: v for k, v in poison.items() if k != "data"})
    bad["data"].update(poison.get("data", {}))
    good_after = _visit(pid, sources[1], lon, lat)
    visits = count(Visit)
    response = _post_raw(phone, [start, good_before, bad, good_after])
    assert response.status_code == 200, response.get_data(as_text=True)
    statuses = [r["status"] for r in response.json["results"]]
    assert statuses == [201, 201, 400 if "data" not in poison else 422, 201]
    refusal = response.json["results"][2]
    assert refusal["client_id"] == bad["client_id"]
    assert words in refusal["message"], refusal["message"]
    assert count(Visit) == visits + 2


def test_route_points_with_implausible_values_are_refused_naming_them(cun, phone):
    _user, village, _sources = cun
    lon, lat = point_in(village)
    start = _start(village)
    now = stamp()["device_ms"]
    points = [[now, 1000.0, lon, lat, 5]]
    for bad, words in (
        ([1e300, 1000.0, lon, lat, 5], "points[].device_ms"),
        ([now, math.nan, lon, lat, 5], "points[].elapsed_ms"),
        ([now, 1000.0, 999, -999, 5], "轨迹点"),
    ):
        route = item("patrol.route", {"patrol": start["client_id"], "points": [*points, bad]})
        response = _post_raw(phone, [start, route])
        assert response.status_code == 200
        result = response.json["results"][1]
        assert result["status"] in (400, 422) and words in result["message"], result
    # nothing of a refused item is kept
    patrol = db.session.scalar(sa.select(Patrol).where(Patrol.client_id == start["client_id"]))
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(RoutePoint.patrol_id == patrol.id)) == 0
    )


def test_the_same_client_id_in_either_case_is_one_record(cun, phone):
    _user, village, sources = cun
    lon, lat = point_in(village)
    start = _start(village)
    start["client_id"] = start["client_id"].upper()
    visit = _visit(start["client_id"].lower(), sources[0], lon, lat)  # parent named in lower case
    first = phone.send(start, visit)
    assert [r["status"] for r in first.json["results"]] == [201, 201]
    patrols, visits = count(Patrol), count(Visit)
    again = dict(visit, client_id=visit["client_id"].upper())
    second = phone.send(dict(start, client_id=start["client_id"].lower()), again)
    assert [r["status"] for r in second.json["results"]] == [201, 201]  # the first answers
    assert second.json["results"][1]["id"] == first.json["results"][1]["id"]
    assert (count(Patrol), count(Visit)) == (patrols, visits)
    saved = db.session.scalar(sa.select(Patrol).where(Patrol.id == first.json["results"][0]["id"]))
    assert saved.client_id == start["client_id"].lower()
    # a photo naming its visit in upper case finds it
    response = phone.photo(
        "visit", visit["client_id"].upper(), jpeg(lon, lat), client_id=str(uuid.uuid4()).upper()
    )
    assert response.status_code == 201, response.json
    assert response.json["client_id"] == response.json["client_id"].lower()


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"lat": "NaN", "lon": "NaN"}, "照片位置"),
        ({"lat": "999", "lon": "-999"}, "照片位置：位置超出"),
        ({"exif_lat": "1e308", "exif_lon": "87"}, "照片 EXIF 中的位置"),
        ({"exif_taken_at": "0001-01-01T00:00:00+14:00"}, "exif_taken_at"),
        ({"exif_taken_at": "yesterday"}, "exif_taken_at"),
        ({"sha256": "x" * 100_000}, "sha256"),
        ({"stamp": json.dumps({"device_ms": 1e300, "elapsed_ms": 1, "boot": "b"})}, "device_ms"),
    ],
)
def test_implausible_photo_fields_are_refused_naming_them(cun, phone, fields, words):
    _user, village, sources = cun
    lon, lat = point_in(village)
    start = _start(village)
    visit = _visit(start["client_id"], sources[0], lon, lat)
    assert phone.send(start, visit).status_code == 200
    response = phone.photo("visit", visit["client_id"], jpeg(lon, lat), **fields)
    assert response.status_code == 400, response.json
    assert words in response.json["message"], response.json["message"]


def test_photo_refusals_are_in_chinese(cun, phone):
    _user, village, sources = cun
    lon, lat = point_in(village)
    start = _start(village)
    visit = _visit(start["client_id"], sources[0], lon, lat)
    phone.send(start, visit)
    response = phone.photo("visit", visit["client_id"], b"")
    assert response.status_code == 400
    assert response.json["message"] == "文件是空的。"
    response = phone.photo("visit", visit["client_id"], b"GIF89a" + b"\0" * 100)
    assert response.status_code == 415 and "不是 JPEG" in response.json["message"]


@pytest.mark.parametrize(
    "description, words",
    [
        ({"text": "扬尘"}, "「问题描述」应为文字"),
        (["扬尘"], "「问题描述」应为文字"),
        ("扬\x00尘", "控制字符"),
    ],
)
def test_a_problem_description_that_is_not_text_is_refused(cun, phone, description, words):
    _user, village, _sources = cun
    lon, lat = point_in(village)
    data = {"category": "dust", "severity": "minor", "description": description}
    bad = item("problem", {**data, "lat": lat, "lon": lon}, offset_ms=5_000)
    problems = count(Problem)
    response = _post_raw(phone, [bad])
    result = response.json["results"][0]
    assert result["status"] == 422 and words in result["message"], result
    assert count(Problem) == problems
