"""An exceedance day, in Chromium, against the live app: an enterprise's CEMS sends hourly HJ 212
packets over a real socket to the real receiver (the stations' gate and the CEMS gate behind the
router, as `flask alerts hj212-serve` runs them); the prefecture office (1440 px) computes the
day, sees the hours over the limit and the calibration hour as invalid data, and issues the
daily report to 昌吉市; the county office on a 360 px phone opens the report, ticks the two
exceedances and records a filed case with its number and a photo; the exceedances show as filed
and the Excel report says so."""

import io
import uuid
from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from playwright.sync_api import expect

from enforce.exceed import services
from enforce.exceed.models import (
    CemsValue,
    DailyReport,
    Disposal,
    EmissionLimit,
    Exceedance,
    MonitoringPoint,
    disposal_photo,
)
from extensions import db
from grid.demo import point_in
from grid.models import Grid
from grid.time import local_today
from sources import services as ledger
from tests.conftest import browser_sign_in
from tests.test_browser_patrol import photo_file
from tests.test_enforce_exceed_ingest import cems_packet
from tests.test_enforce_exceed_ingest import connect as connect  # noqa: F401 - fixtures
from tests.test_enforce_exceed_ingest import routed as routed  # noqa: F401

pytestmark = pytest.mark.browser
PASSWORD = "cems-pass-1"  # as cems_packet sends it
CASE = "昌环罚〔2026〕88号"


@pytest.fixture
def plant(live_app):
    """A power plant in 昌吉市 with its boiler's CEMS and an SO2 limit of 100 mg/m³; the day
    (six days ago, before the demo's days) and the point's id. Removed at the end."""
    mn = "BR" + uuid.uuid4().hex[:18].upper()
    with live_app.app_context():
        county = db.session.scalar(sa.select(Grid).where(Grid.code == "652301000000"))
        lon, lat = point_in(county)
        source = ledger.create_source(
            county,
            ledger.SourceFields(name="浏览器测试热电厂", kind="industrial", lon=lon, lat=lat),
            by=None,
        )
        point = services.add_point(source, "1号锅炉排放口", mn, PASSWORD, "31")
        services.set_limit(
            point, "a21026", 100.0, "GB 13223-2011 表1", local_today() - timedelta(days=400), None
        )
        db.session.commit()
        ids = (point.id, source.id, county.id, lon, lat)
        day = local_today() - timedelta(days=6)
        db.session.remove()
    yield mn, day, ids
    point_id, source_id, county_id = ids[:3]
    with live_app.app_context():
        found = db.session.scalars(
            sa.select(Exceedance).where(Exceedance.point_id == point_id)
        ).all()
        disposal_ids = {e.disposal_id for e in found if e.disposal_id}
        db.session.execute(sa.delete(Exceedance).where(Exceedance.point_id == point_id))
        db.session.execute(
            sa.delete(disposal_photo).where(disposal_photo.c.enforce_disposal_id.in_(disposal_ids))
        )
        db.session.execute(sa.delete(Disposal).where(Disposal.id.in_(disposal_ids)))
        db.session.execute(
            sa.delete(DailyReport).where(DailyReport.county_id == county_id, DailyReport.day == day)
        )
        db.session.execute(sa.delete(CemsValue).where(CemsValue.point_id == point_id))
        db.session.execute(sa.delete(EmissionLimit).where(EmissionLimit.point_id == point_id))
        db.session.execute(sa.delete(MonitoringPoint).where(MonitoringPoint.id == point_id))
        db.session.commit()


def test_an_exceedance_day_from_the_receiver_to_a_filed_case(
    browser,
    live_server,
    live_app,
    plant,
    routed,
    connect,  # noqa: F811
):
    mn, day, (point_id, _source_id, county_id, lon, lat) = plant
    # 1. The CEMS sends four hours of the day (local time): 10:00 and 11:00 over the limit,
    # 12:00 under it, 13:00 over it but flagged C (calibration).
    _server, _router, port = routed()
    device = connect(port)
    for hour, value, flag in [
        (10, 180.0, "N"),
        (11, 240.5, "N"),
        (12, 60.0, "N"),
        (13, 300.0, "C"),
    ]:
        at = datetime.combine(day, time(hour))
        device.send(cems_packet(mn, "2061", at, {"a21026": (value, flag)}))
        assert device.reply() is not None, f"no reply for {hour}:00"

    # 2. The prefecture office computes the day and issues the county's report.
    office_context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    office = office_context.new_page()
    browser_sign_in(office, live_server, "zhou")
    office.goto(live_server + "/enforce/")
    expect(office.locator("#hub-exceed")).to_be_visible()
    office.goto(f"{live_server}/enforce/exceedances?day={day.isoformat()}")
    office.click("#compute")
    section = office.locator(f"#county-{county_id}")
    expect(section).to_contain_text("浏览器测试热电厂")
    rows = section.locator("table.exceedances tbody tr")
    plant_rows = rows.filter(has_text="1号锅炉排放口")
    expect(plant_rows).to_have_count(3)
    expect(plant_rows.filter(has_text="240.5")).to_have_count(1)
    expect(plant_rows.filter(has_text="数据标记C（校准）")).to_have_count(1)
    section.locator("h2 form button").click()
    expect(office.locator(f"#county-{county_id} h2 a.badge")).to_be_visible()
    with live_app.app_context():
        report_id = db.session.scalar(
            sa.select(DailyReport.id).where(
                DailyReport.county_id == county_id, DailyReport.day == day
            )
        )
        db.session.remove()
    assert report_id is not None
    office_context.close()

    # 3. The county office, on a phone, records a filed case for both exceedances.
    phone_context = browser.new_context(
        viewport={"width": 360, "height": 740},
        locale="zh-CN",
        permissions=["geolocation"],
        geolocation={"latitude": lat, "longitude": lon},
    )
    phone = phone_context.new_page()
    browser_sign_in(phone, live_server, "changji")
    phone.goto(live_server + "/enforce/exceedances/reports")
    phone.click(f"a[href='/enforce/exceedances/reports/{report_id}']")
    mine = phone.locator("table.exceedances tbody tr", has_text="1号锅炉排放口")
    expect(mine).to_have_count(3)
    boxes = mine.locator("input[type=checkbox]")
    expect(boxes).to_have_count(2)  # the invalid hour needs no disposal
    for i in range(2):
        boxes.nth(i).check()
    phone.check("input[name=kind][value=case]")
    phone.fill("input[name=case_number]", CASE)
    phone.set_input_files("input[name=photos]", [photo_file("现场.jpg", lon, lat, 90)])
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the report is {width}px wide on a 360px phone"
    phone.click("#disposal-form button[type=submit]")
    expect(phone.locator(".flash")).to_contain_text(CASE)
    filed = phone.locator("table.exceedances tbody tr", has_text="1号锅炉排放口")
    expect(filed.filter(has_text=CASE)).to_have_count(2)
    expect(phone.locator("#disposals img")).to_have_count(1)

    with live_app.app_context():
        found = db.session.scalars(
            sa.select(Exceedance).where(Exceedance.point_id == point_id).order_by(Exceedance.hour)
        ).all()
        assert [(e.average, e.status) for e in found] == [
            (180.0, "valid"),
            (240.5, "valid"),
            (300.0, "invalid"),
        ]
        disposal = db.session.get(Disposal, found[0].disposal_id)
        assert disposal.kind == "case" and disposal.case_number == CASE
        assert found[1].disposal_id == disposal.id and found[2].disposal_id is None
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(disposal_photo)
                .where(disposal_photo.c.enforce_disposal_id == disposal.id)
            )
            == 1
        )
        db.session.remove()

    # 4. The daily report downloaded as Excel says the case was filed.
    answer = phone.request.get(f"{live_server}/enforce/exceedances/reports/{report_id}.xlsx")
    assert answer.ok
    sheet = load_workbook(io.BytesIO(answer.body())).active
    cells = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert any("超标日报" in c for c in cells)
    assert sum(f"立案查处（案号：{CASE}）" == c for c in cells) == 2
    assert "数据标记C（校准）" in cells
    phone_context.close()
