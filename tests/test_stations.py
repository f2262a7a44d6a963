"""The register of stations: adding one (page and command), its secrets shown once and then
working, editing, status, replacing secrets, the history, and who may do what."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from alerts import stations
from alerts.models import Station, StationChange, StationStatus
from alerts.services import secret_hash
from extensions import db
from grid import services as grid_services
from grid.models import Role
from grid.time import local_today, utcnow
from tests import factories
from tests.conftest import csrf_token, sign_in


@pytest.fixture
def world(make_world):
    return make_world(villages=2)


@pytest.fixture
def prefecture(world):
    """A person in the prefecture's office (the root grid)."""
    person = factories.person("prefecture-office")
    grid_services.appoint(person, world.root, Role.OFFICE, local_today() - timedelta(days=1))
    return person


def station_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Station.id)))


def changes_of(station) -> list[StationChange]:
    return db.session.scalars(
        sa.select(StationChange).where(StationChange.station_id == station.id)
    ).all()


def form(world, **fields):
    lon, lat = world.inside(0)
    data = {
        "code": "CJ-T001",
        "name": "测试新微站",
        "kind": "micro",
        "lat": f"{lat:.6f}",
        "lon": f"{lon:.6f}",
        "mn": "CJT652300000000000000777",
        "issue_token": "1",
        "issue_password": "1",
    }
    data.update(fields)
    return data


def post(client, url, data):
    return client.post(url, data={"csrf_token": csrf_token(client), **data})


def shown(html: str, element: str) -> str:
    return re.search(rf'<code id="{element}">([^<]+)</code>', html).group(1)


def readings_with(client, token):
    an_hour_ago = (utcnow() - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    body = {
        "readings": [{"time": f"{an_hour_ago.isoformat()}Z", "pollutant": "PM2.5", "value": 35}]
    }
    return client.post("/api/v1/readings", json=body, headers={"Authorization": f"Bearer {token}"})


def test_a_county_office_registers_a_micro_station_and_its_secrets_work(client, world):
    sign_in(client, world.county_office)
    page = post(client, "/alerts/stations/new", form(world))
    assert page.status_code == 200, page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    token, password = shown(html, "token"), shown(html, "password")
    station = db.session.scalar(sa.select(Station).where(Station.code == "CJ-T001"))
    assert station.grid_id == world.village.id and station.status == StationStatus.ACTIVE
    # Kept as fingerprints only: the page shows what nobody can read back.
    assert station.token_hash == secret_hash(token) and station.pw_hash == secret_hash(password)
    assert token not in client.get(f"/alerts/stations/{station.id}").get_data(as_text=True)
    assert re.fullmatch(r"[0-9A-Za-z]{6}", password)
    answer = readings_with(client, token)
    assert answer.json["stored"] == 1, answer.json
    [created] = changes_of(station)
    assert created.kind == "created" and created.by_id == world.county_office.id


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"kind": "national"}, "不是可选的值"),  # a county keeps micro-stations only
        ({"code": "has space"}, "站点编号"),
        ({"mn": "MN;PW=1"}, "MN"),
        ({"issue_password": "", "password": "a;b=cdef"}, "密码"),
        ({"mn": "", "issue_password": "1"}, "MN"),
        ({"lat": "95"}, "纬度"),
        ({"name": ""}, "站点名称"),
    ],
)
def test_a_bad_registration_is_refused_with_its_reason(client, world, change, reason):
    sign_in(client, world.county_office)
    before = station_count()
    page = post(client, "/alerts/stations/new", form(world, **change))
    assert page.status_code == 400
    assert reason in page.get_data(as_text=True)
    assert station_count() == before


def test_a_station_outside_the_county_or_a_taken_code_is_refused(client, world, make_world):
    other = make_world(villages=1)
    lon, lat = other.inside(0)
    sign_in(client, world.county_office)
    before = station_count()
    outside = post(client, "/alerts/stations/new", form(world, lon=f"{lon:.6f}", lat=f"{lat:.6f}"))
    assert outside.status_code == 400 and "不在您的区县" in outside.get_data(as_text=True)
    nowhere = post(client, "/alerts/stations/new", form(world, lon="10.0", lat="10.0"))
    assert nowhere.status_code == 400 and "不在网格" in nowhere.get_data(as_text=True)
    made, _token = factories.make_station(world)
    taken = post(client, "/alerts/stations/new", form(world, code=made.code))
    assert taken.status_code == 400 and made.code in taken.get_data(as_text=True)
    same_mn = post(client, "/alerts/stations/new", form(world, mn=made.mn))
    assert same_mn.status_code == 400 and made.mn in same_mn.get_data(as_text=True)
    assert station_count() == before + 1


def test_the_prefecture_registers_a_national_station(client, world, prefecture):
    sign_in(client, prefecture)
    page = post(client, "/alerts/stations/new", form(world, kind="national", issue_token=""))
    assert page.status_code == 200
    station = db.session.scalar(sa.select(Station).where(Station.code == "CJ-T001"))
    assert station.kind == "national" and station.token_hash is None
    assert 'id="token"' not in page.get_data(as_text=True)


def test_editing_moves_the_station_and_records_what_changed(client, world):
    station, _token = factories.make_station(world)
    sign_in(client, world.county_office)
    lon, lat = world.inside(1)
    data = form(world, name="改名微站", lon=f"{lon:.6f}", lat=f"{lat:.6f}", mn="", lenient="1")
    answer = post(client, f"/alerts/stations/{station.id}", data)
    assert answer.status_code == 303
    db.session.refresh(station)
    assert station.name == "改名微站" and station.grid_id == world.villages[1].id
    assert station.mn is None and station.pw_hash is None and station.lenient
    [edit] = [c for c in changes_of(station) if c.kind == "edited"]
    assert "name: " in edit.detail and "location: " in edit.detail and "password: " in edit.detail
    page = client.get(f"/alerts/stations/{station.id}").get_data(as_text=True)
    assert "改名微站" in page and "站点名称" in page  # the detail's fields in the user's language


def test_status_needs_a_reason_and_a_retired_station_is_refused(client, world):
    station, token = factories.make_station(world)
    sign_in(client, world.county_office)
    url = f"/alerts/stations/{station.id}/status"
    post(client, url, {"status": "maintenance"})
    db.session.refresh(station)
    assert station.status == StationStatus.ACTIVE  # refused: no reason given
    assert post(client, url, {"status": "retired", "note": "设备拆除"}).status_code == 303
    db.session.refresh(station)
    assert station.status == StationStatus.RETIRED
    assert readings_with(client, token).status_code == 403
    [change] = [c for c in changes_of(station) if c.kind == "status"]
    assert change.status == "retired" and change.note == "设备拆除"


def test_a_new_token_stops_the_old_one_and_a_new_password_replaces_the_old(client, world):
    station, old = factories.make_station(world)
    sign_in(client, world.county_office)
    page = post(client, f"/alerts/stations/{station.id}/secret", {"which": "token"})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    new = shown(page.get_data(as_text=True), "token")
    assert readings_with(client, old).status_code == 401
    assert readings_with(client, new).status_code == 200
    typed = post(
        client,
        f"/alerts/stations/{station.id}/secret",
        {"which": "password", "password": "Ab12345"},
    )
    assert shown(typed.get_data(as_text=True), "password") == "Ab12345"
    db.session.refresh(station)
    assert station.pw_hash == secret_hash("Ab12345")
    bad = post(
        client, f"/alerts/stations/{station.id}/secret", {"which": "password", "password": "a&b"}
    )
    assert bad.status_code == 303  # refused, back to the page with the reason
    db.session.refresh(station)
    assert station.pw_hash == secret_hash("Ab12345")
    assert [c.kind for c in changes_of(station)] == ["token", "password"]


def test_who_may_keep_which_station(client, world, make_world, prefecture):
    national, _t = factories.make_station(world, kind="national")
    micro, _t = factories.make_station(world)
    other = make_world(villages=1)
    sign_in(client, world.supervisor)
    assert client.get("/alerts/stations/new").status_code == 403
    assert client.get(f"/alerts/stations/{micro.id}").status_code == 200  # sees his county's
    assert (
        post(client, f"/alerts/stations/{micro.id}/secret", {"which": "token"}).status_code == 403
    )
    sign_in(client, world.county_office)
    assert 'id="secret' not in client.get(f"/alerts/stations/{national.id}").get_data(as_text=True)
    refused = post(
        client, f"/alerts/stations/{national.id}/status", {"status": "retired", "note": "x"}
    )
    assert refused.status_code == 403
    sign_in(client, other.county_office)
    assert client.get(f"/alerts/stations/{micro.id}").status_code == 403
    sign_in(client, prefecture)
    answer = post(
        client, f"/alerts/stations/{national.id}/status", {"status": "maintenance", "note": "校准"}
    )
    assert answer.status_code == 303
    db.session.refresh(national)
    assert national.status == StationStatus.MAINTENANCE


def test_the_commands_register_and_replace_secrets(runner, world):
    lon, lat = world.inside(0)
    added = runner.invoke(
        args=[
            "alerts",
            "station-add",
            "CJ-C001",
            "--name",
            "命令微站",
            "--lon",
            str(lon),
            "--lat",
            str(lat),
            "--mn",
            "CJC652300000000000000001",
            "--make-password",
            "--token",
        ]
    )
    assert added.exit_code == 0, added.output
    station = db.session.scalar(sa.select(Station).where(Station.code == "CJ-C001"))
    password = re.search(r"PW\) for MN \S+: (\S+)", added.output).group(1)
    token = re.search(r"Bearer \.\.\.\): (\S+)", added.output).group(1)
    assert station.pw_hash == secret_hash(password) and station.token_hash == secret_hash(token)
    retired = runner.invoke(args=["alerts", "station-status", "CJ-C001", "retired"])
    assert retired.exit_code != 0 and "说明原因" in retired.output
    replaced = runner.invoke(args=["alerts", "station-secret", "CJ-C001", "--password", "654321"])
    assert replaced.exit_code == 0, replaced.output
    db.session.refresh(station)
    assert station.pw_hash == secret_hash("654321")
    assert runner.invoke(args=["alerts", "station-secret", "NOPE", "--token"]).exit_code != 0
    assert [c.by_id for c in changes_of(station)] == [None, None]


def test_the_service_refuses_a_password_without_an_mn(world):
    station, _t = factories.make_station(world, mn=None, password=None)
    with pytest.raises(stations.ServiceError):
        stations.set_password(station, by=None)
