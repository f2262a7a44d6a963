"""The exceedance pages over HTTP: the hub's lines, the day screen, the bad input the issue
names through the forms (a report for a day with no data, a case without number, an unknown
pollutant code, a negative limit: the reason shown, nothing written), and the command
`flask enforce exceedances --day`."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from enforce.exceed import rules, services
from enforce.exceed.models import DailyReport, Disposal, EmissionLimit, Exceedance
from extensions import db
from grid.time import local_today, local_zone
from tests.conftest import csrf_token, sign_in
from tests.test_enforce_exceed import exceedances, hour_value
from tests.test_enforce_exceed import plant as plant  # noqa: F401 - the fixture
from tests.test_enforce_exceed import zhou as zhou  # noqa: F401


@pytest.fixture(autouse=True)
def _english(client):
    """Messages read in English (the msgids), in services and on pages, whatever the Chinese
    catalogue says (tests/test_i18n.py checks that every message has its translation)."""
    client.set_cookie("lang", "en")
    with force_locale("en"):
        yield


@pytest.fixture
def day(app):
    with app.app_context():
        return local_today() - timedelta(days=2)


def _hour(day, hour):
    return rules.day_bounds(day, local_zone())[0] + timedelta(hours=hour)


def _flashed(client):
    with client.session_transaction() as sess:
        return [m for _c, m in sess.get("_flashes", [])]


def test_the_hub_and_the_day_screen(client, plant, zhou, day):  # noqa: F811
    world, source, point = plant
    hour_value(point, "a21026", _hour(day, 3), 150.0)
    hour_value(point, "a21026", _hour(day, 4), 180.0, "M")
    services.compute_day(day)
    sign_in(client, zhou)
    hub = client.get("/enforce/").get_data(as_text=True)
    assert 'id="hub-exceed"' in hub
    assert f"?day={day.isoformat()}" in hub  # reports to issue that day
    page = client.get(f"/enforce/exceedances?day={day.isoformat()}").get_data(as_text=True)
    assert source.name in page and "150.0" in page and "数据标记M（维护）" in page
    assert f'id="county-{world.county.id}"' in page


def test_the_county_sees_what_waits_for_a_disposal(client, plant, zhou, day):  # noqa: F811
    world, _source, point = plant
    hour_value(point, "a21026", _hour(day, 3), 150.0)
    services.compute_day(day)
    report = services.issue_report(world.county.id, day, zhou)
    sign_in(client, world.county_office)
    hub = client.get("/enforce/").get_data(as_text=True)
    assert 'id="hub-exceed"' in hub and "badge-warning" in hub  # one waits for a disposal
    listed = client.get("/enforce/exceedances/reports").get_data(as_text=True)
    assert f"/enforce/exceedances/reports/{report.id}" in listed


def test_a_report_for_a_day_without_data_is_refused(client, plant, zhou, day):  # noqa: F811
    world = plant[0]
    sign_in(client, zhou)
    answer = client.post(
        "/enforce/exceedances/reports",
        data={"csrf_token": csrf_token(client), "day": day.isoformat(), "county": world.county.id},
    )
    assert answer.status_code == 303
    assert any(f"No data for {day.isoformat()}" in m for m in _flashed(client))
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(DailyReport)
            .where(DailyReport.county_id == world.county.id)
        )
        == 0
    )


def test_a_case_without_number_is_refused(client, plant, zhou, day):  # noqa: F811
    world, _source, point = plant
    hour_value(point, "a21026", _hour(day, 3), 150.0)
    services.compute_day(day)
    report = services.issue_report(world.county.id, day, zhou)
    (one,) = exceedances(point)
    sign_in(client, world.county_office)
    answer = client.post(
        f"/enforce/exceedances/reports/{report.id}/disposals",
        data={
            "csrf_token": csrf_token(client),
            "exceedances": str(one.id),
            "kind": "case",
            "case_number": "",
        },
    )
    assert answer.status_code == 303
    assert _flashed(client)
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Disposal)
            .where(Disposal.county_id == world.county.id)
        )
        == 0
    )
    assert db.session.get(Exceedance, one.id).disposal_id is None


@pytest.mark.parametrize("code, value", [("a99999", "50"), ("a21026", "-5")])
def test_bad_limits_are_refused_through_the_form(client, plant, code, value):  # noqa: F811
    world, _source, point = plant
    before = db.session.scalar(sa.select(sa.func.count()).select_from(EmissionLimit))
    sign_in(client, world.county_office)
    answer = client.post(
        f"/enforce/exceedances/points/{point.id}/limits",
        data={
            "csrf_token": csrf_token(client),
            "code": code,
            "value": value,
            "standard": "GB 13223-2011",
            "valid_from": "2026-06-01",
        },
    )
    assert answer.status_code == 303
    assert _flashed(client)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmissionLimit)) == before


def test_the_command_computes_a_day(runner, plant, day):  # noqa: F811
    _world, _source, point = plant
    hour_value(point, "a21026", _hour(day, 3), 150.0)
    result = runner.invoke(args=["enforce", "exceedances", "--day", day.isoformat()])
    assert result.exit_code == 0, result.output
    assert f"{day.isoformat()}:" in result.output and "exceedances" in result.output
    assert [e.average for e in exceedances(point)] == [150.0]
