"""POST /api/v1/readings: a station's batch, its token, per-item refusals, idempotence, and the
OpenAPI document that describes it (checked by a validator, and the answers against it)."""

from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
import sqlalchemy as sa
from openapi_spec_validator import validate

from alerts.models import Reading, StationStatus
from extensions import db

URL = "/api/v1/readings"


def hour_ago(hours=1):
    """The start of an hour in the past, written with China's offset as a device would."""
    moment = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)
    return moment.astimezone(datetime.now().astimezone().tzinfo).isoformat()


def cst(hours=1):
    moment = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)
    return (moment + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S+08:00")


def post(client, token, readings, **headers):
    headers.setdefault("Authorization", f"Bearer {token}")
    return client.post(URL, json={"readings": readings}, headers=headers)


def stored(station):
    return db.session.scalars(
        sa.select(Reading).where(Reading.station_id == station.id).order_by(Reading.pollutant)
    ).all()


@pytest.fixture
def station(make_world, make_station):
    return make_station(make_world(villages=1))


@pytest.fixture(scope="module")
def document(app):
    with app.test_client() as client:
        return client.get("/api/v1/openapi.json").get_json()


def schema_of(document, name):
    """A component schema, resolvable on its own (its $refs point into the document)."""
    return {**document["components"]["schemas"][name], "components": document["components"]}


def test_the_openapi_document_is_valid(document):
    validate(document)  # raises on any error in the document
    assert "/api/v1/readings" in document["paths"]


def test_a_good_batch_is_stored_and_the_answer_matches_the_document(client, station, document):
    st, token = station
    response = post(
        client,
        token,
        [
            {"time": cst(), "pollutant": "PM2.5", "value": 38.5, "flag": "N", "period": "hour"},
            {"time": cst(), "pollutant": "PM10", "value": 71},
        ],
    )
    assert response.status_code == 200
    jsonschema.validate(response.get_json(), schema_of(document, "Outcome"))
    assert response.get_json() == {"stored": 2, "duplicates": 0, "refused": []}
    rows = stored(st)
    assert [(r.pollutant, r.value, r.flag, r.period, r.source) for r in rows] == [
        ("PM10", 71.0, "N", "hour", "http"),
        ("PM2.5", 38.5, "N", "hour", "http"),
    ]
    # stored in UTC: 08:00 earlier than the +08:00 time sent
    sent = datetime.fromisoformat(cst()).astimezone(UTC).replace(tzinfo=None)
    assert rows[0].measured_at == sent
    db.session.refresh(st)
    assert st.last_reading_at is not None


def test_the_same_batch_sent_again_is_stored_once(client, station):
    st, token = station
    batch = [{"time": cst(2), "pollutant": "SO2", "value": 12}]
    assert post(client, token, batch).get_json()["stored"] == 1
    again = post(client, token, batch + batch)
    assert again.get_json() == {"stored": 0, "duplicates": 2, "refused": []}
    assert len(stored(st)) == 1


@pytest.mark.parametrize(
    "item, words",
    [
        ({"time": "NaN", "pollutant": "PM2.5", "value": 1}, "Time"),
        ({"pollutant": "PM2.5", "value": 1}, "Time"),
        ({"time": "2026-11-30T10:00:00", "pollutant": "PM2.5", "value": 1}, "UTC offset"),
        ({"time": "FUTURE", "pollutant": "PM2.5", "value": 1}, "future"),
        ({"time": "HOUR", "pollutant": "PM2.6", "value": 1}, "Pollutant"),
        ({"time": "HOUR", "pollutant": "PM2.5", "value": -1}, "Value"),
        ({"time": "HOUR", "pollutant": "PM2.5", "value": "NaN"}, "Value"),
        ({"time": "HOUR", "pollutant": "PM2.5", "value": 1e308}, "Value"),
        ({"time": "HOUR", "pollutant": "PM2.5", "value": 5001}, "Value"),
        ({"time": "HOUR", "pollutant": "PM2.5", "value": True}, "Value"),
        ({"time": "HOUR", "pollutant": "PM2.5", "value": 1, "flag": "X"}, "flag"),
        ({"time": "HOUR", "pollutant": "PM2.5", "value": 1, "period": "week"}, "Period"),
        ({"time": "HALF", "pollutant": "PM2.5", "value": 1}, "start of its hour"),
        ("not an object", "object"),
    ],
)
def test_a_bad_item_is_refused_with_its_reason_and_the_good_ones_kept(client, station, item, words):
    st, token = station
    now = datetime.now(UTC)
    times = {
        "HOUR": cst(3),
        "FUTURE": (now + timedelta(hours=2)).replace(minute=0, second=0).isoformat(),
        "HALF": cst(3).replace(":00:00+", ":30:00+"),
    }
    if isinstance(item, dict) and item.get("time") in times:
        item = {**item, "time": times[item["time"]]}
    good = {"time": cst(4), "pollutant": "NO2", "value": 20}
    client.set_cookie("lang", "en")
    response = post(client, token, [good, item])
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["stored"] == 1 and len(answer["refused"]) == 1
    refusal = answer["refused"][0]
    assert refusal["index"] == 2
    assert refusal["reason"].startswith("Item 2: ")
    assert words.lower() in refusal["reason"].lower()
    assert [r.pollutant for r in stored(st)] == ["NO2"]


def test_a_batch_refused_whole_stores_nothing_and_says_why(client, station):
    st, token = station
    response = post(client, token, [{"time": "x", "pollutant": "PM2.5", "value": 1}])
    assert response.status_code == 422
    assert response.get_json()["stored"] == 0
    assert stored(st) == []


def test_reasons_are_in_chinese_by_default(client, station):
    _st, token = station
    response = post(client, token, [{"time": cst(), "pollutant": "PM2.5", "value": -5}])
    reason = response.get_json()["refused"][0]["reason"]
    assert reason == "第 1 项：「数值」应为 0 到 5000 之间的数字。"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}, {"Authorization": ""}],
)
def test_without_the_station_token_nothing_is_stored(client, station, headers, document):
    st, _token = station
    response = client.post(
        URL, json={"readings": [{"time": cst(), "pollutant": "CO", "value": 1}]}, headers=headers
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    jsonschema.validate(response.get_json(), schema_of(document, "Error"))
    assert stored(st) == []


def test_a_retired_station_is_refused(client, station):
    st, token = station
    st.status = StationStatus.RETIRED
    db.session.flush()
    response = post(client, token, [{"time": cst(), "pollutant": "CO", "value": 1}])
    assert response.status_code == 403
    assert stored(st) == []


@pytest.mark.parametrize(
    "body", [b"", b"[]", b'{"readings": {}}', b"{not json", b'{"readings": "x"}']
)
def test_a_malformed_body_is_refused(client, station, body):
    st, token = station
    response = client.post(
        URL,
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "malformed"
    assert stored(st) == []


def test_too_many_readings_at_once_are_refused(client, station, app):
    st, token = station
    many = [{"time": cst(), "pollutant": "CO", "value": 1}] * (app.config["READINGS_BATCH_MAX"] + 1)
    response = post(client, token, many)
    assert response.status_code == 413
    assert stored(st) == []


def test_a_station_is_placed_in_the_grid_that_contains_it(station, make_world):
    st, _token = station
    assert st.grid_id is not None
