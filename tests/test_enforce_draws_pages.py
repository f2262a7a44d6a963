"""The offices' pages of the random inspections: the library, the draw form and a draw's page
with its verification, the statistics and their workbook; bad input answered with a reason."""

import io
import re

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from openpyxl import load_workbook

from enforce.draws import services
from enforce.draws.models import Draw, Inspector
from extensions import db
from grid.time import local_today
from tests import factories
from tests.conftest import csrf_token, sign_in


@pytest.fixture(autouse=True)
def _english(client):
    """Messages read in English (the msgids), in services and on pages, whatever the Chinese
    catalogue says (tests/test_i18n.py checks that every message has its translation)."""
    client.set_cookie("lang", "en")
    with force_locale("en"):
        yield


@pytest.fixture
def county(db_session):
    world = factories.make_world()
    for _ in range(4):
        factories.make_source(world, key_polluter=True)
    for _ in range(6):
        factories.make_source(world)
    db.session.flush()
    return world


def _post(client, path, data):
    return client.post(path, data={**data, "csrf_token": csrf_token(client)})


def _inspector_ids(world) -> list[int]:
    return list(
        db.session.scalars(sa.select(Inspector.id).where(Inspector.grid_id == world.county.id))
    )


def test_library_add_edit_deactivate_and_recuse(client, county):
    sign_in(client, county.county_office)
    assert client.get("/enforce/inspectors").status_code == 200
    for n in range(3):
        answer = _post(
            client,
            "/enforce/inspectors",
            {
                "office": county.county.id,
                "name": f"页面执法员{n}",
                "certificate_no": f"PG-{county.county.id}-{n}",
                "unit": "分局",
            },
        )
        assert answer.status_code == 303
    ids = _inspector_ids(county)
    assert len(ids) == 3
    html = client.get("/enforce/inspectors").get_data(as_text=True)
    assert "页面执法员0" in html and f"PG-{county.county.id}-2" in html
    # a duplicate certificate: refused with its reason, nothing added
    _post(
        client,
        "/enforce/inspectors",
        {
            "office": county.county.id,
            "name": "重复",
            "certificate_no": f"PG-{county.county.id}-0",
            "unit": "分局",
        },
    )
    assert "already in the library" in client.get("/enforce/inspectors").get_data(as_text=True)
    assert len(_inspector_ids(county)) == 3
    # link an account, by its login
    answer = _post(
        client,
        f"/enforce/inspectors/{ids[0]}",
        {
            "name": "页面执法员0",
            "certificate_no": f"PG-{county.county.id}-0",
            "unit": "分局",
            "login": county.supervisor.username,
        },
    )
    assert answer.status_code == 303
    assert db.session.get(Inspector, ids[0]).user_id == county.supervisor.id
    answer = _post(
        client,
        f"/enforce/inspectors/{ids[0]}",
        {"name": "x", "certificate_no": "y", "unit": "z", "login": "nobody-at-all"},
    )
    assert answer.status_code == 400 and "nobody-at-all" in answer.get_data(as_text=True)
    # recuse and deactivate
    source = factories.make_source(county, key_polluter=True)
    answer = _post(
        client, f"/enforce/inspectors/{ids[1]}/conflicts", {"source": source.id, "reason": "亲属"}
    )
    assert answer.status_code == 303
    assert source.name in client.get(f"/enforce/inspectors/{ids[1]}").get_data(as_text=True)
    _post(client, f"/enforce/inspectors/{ids[2]}/active", {"active": "no"})
    assert db.session.get(Inspector, ids[2]).active is False


def test_draw_form_draw_page_verify_and_statistics(client, county):
    for n in range(3):
        services.add_inspector(
            county.county, f"执法{n}", f"PD-{county.county.id}-{n}", "分局", by=county.county_office
        )
    sign_in(client, county.county_office)
    month = local_today().replace(day=1)
    page = client.get(f"/enforce/draws?office={county.county.id}&month={month:%Y-%m}")
    assert page.status_code == 200
    assert "draw-form" in page.get_data(as_text=True)
    answer = _post(
        client,
        "/enforce/draws",
        {
            "office": county.county.id,
            "month": f"{month:%Y-%m}",
            "key": 2,
            "general": 1,
            "seed": 12345,
        },
    )
    assert answer.status_code == 303
    item = db.session.scalars(sa.select(Draw).where(Draw.grid_id == county.county.id)).one()
    assert answer.location.endswith(f"/enforce/draws/{item.id}") and item.seed == 12345
    html = client.get(f"/enforce/draws/{item.id}").get_data(as_text=True)
    assert "12345" in html and item.snapshot_sha256[:16] in html
    assert len(re.findall(r'data-label="#"', html)) == 3
    verified = client.get(f"/enforce/draws/{item.id}/verify").get_data(as_text=True)
    assert "Verified" in verified
    # the same category again this month: refused, shown on the month's page
    answer = _post(
        client, "/enforce/draws", {"office": county.county.id, "month": f"{month:%Y-%m}", "key": 1}
    )
    assert answer.status_code == 303
    assert "drawn already" in client.get(answer.location).get_data(as_text=True)
    stats = client.get(f"/enforce/draws/stats?office={county.county.id}")
    assert stats.status_code == 200
    book = client.get(f"/enforce/draws/stats.xlsx?office={county.county.id}")
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.data)).active
    assert "双随机" in sheet["A1"].value
    assert sheet["A3"].value == "重点排污单位" and sheet["B3"].value == 4
    assert sheet["C3"].value == (
        2 if (month.month - 1) // 3 + 1 == (local_today().month - 1) // 3 + 1 else 0
    )
    # the hub shows the office's month
    assert "draws-hub" in client.get("/enforce/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "status", "says"),
    [
        ({"key": "lots"}, 400, "whole number from 0 to 10000"),
        ({"key": "-3"}, 400, "Key polluters"),
        ({"month": "2026-13"}, 400, "written as YYYY-MM"),
        ({"seed": "abc"}, 400, "must be a whole number from"),
        ({"key": "99"}, 303, "only 4 are eligible"),
    ],
)
def test_bad_draw_input_is_answered_with_its_reason(client, county, data, status, says):
    for n in range(2):
        services.add_inspector(
            county.county, f"执法{n}", f"PB-{county.county.id}-{n}", "分局", by=county.county_office
        )
    sign_in(client, county.county_office)
    form = {"office": county.county.id, "month": f"{local_today():%Y-%m}", **data}
    answer = _post(client, "/enforce/draws", form)
    assert answer.status_code == status
    text = (
        answer.get_data(as_text=True)
        if status == 400
        else client.get(answer.location).get_data(as_text=True)
    )
    assert says in text
    assert not db.session.scalars(sa.select(Draw).where(Draw.grid_id == county.county.id)).all()


def test_other_counties_and_supervisors_refused(client, county, make_world):
    other = make_world(villages=1)
    inspector = services.add_inspector(
        county.county, "甲", f"PX-{county.county.id}", "分局", by=county.county_office
    )
    sign_in(client, other.county_office)
    assert client.get(f"/enforce/inspectors/{inspector.id}").status_code == 403
    assert client.get(f"/enforce/draws?office={county.county.id}").status_code == 403
    sign_in(client, county.supervisor)
    assert client.get("/enforce/inspectors").status_code == 403
