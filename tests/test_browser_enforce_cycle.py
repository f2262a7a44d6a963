"""The monthly cycle in a browser (enforce/exceed/cycle_pages.py): a county office submits
last month on a 360 px phone; the prefecture office, at 360 px and at 1440 px, records the
review meeting with an escalated enterprise, makes the clue handover list and downloads the
monthly notice. Each page fits its width; screenshots go to test-artifacts/."""

import io
import os
from datetime import timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from enforce.exceed.cycle_models import CycleClue, CycleStep
from extensions import db
from grid.time import local_today
from tests import factories
from tests.conftest import browser_sign_in
from tests.test_enforce_cycle import _disposal, _hours, _point

pytestmark = pytest.mark.browser


@pytest.fixture
def month(live_app):
    """Last month in a fresh county of the live demo: A with a case, B without."""
    with live_app.app_context():
        world = factories.make_world()
        first = (local_today().replace(day=1) - timedelta(days=1)).replace(day=1)
        a, b = factories.make_source(world), factories.make_source(world)
        _hours(_point(world, a), first + timedelta(days=3), 2, disposal=_disposal(world, "case"))
        _hours(_point(world, b), first + timedelta(days=4), 3)
        made = {
            "county": world.county.id,
            "county_name": world.county.name,
            "office": world.county_office.username,
            "b": b.id,
            "b_name": b.name,
            "month": f"{first:%Y-%m}",
        }
        db.session.commit()
        db.session.remove()
    return made


def _in_db(live_app, query):
    with live_app.app_context():
        try:
            return query()
        finally:
            db.session.remove()


def _fits(page, width):
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_month_from_the_county_to_the_handover_list(
    browser, live_server, live_app, artifacts_dir, database, month
):
    path = f"{live_server}/enforce/cycle?month={month['month']}"
    # 1. The county's office, on a phone: its counts, then it submits the month.
    phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    page = phone.new_page()
    page.goto(live_server + "/login")
    page.fill("#login", month["office"])
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(live_server + "/")
    page.goto(path)
    row = page.locator(f"#cycle-county-{month['county']}")
    assert "5" in row.inner_text() and "3" in row.inner_text()  # 5 hours, 3 without disposal
    _fits(page, 360)
    page.screenshot(
        path=os.path.join(artifacts_dir, f"cycle-county-360-{database.backend}.png"),
        full_page=True,
    )
    row.locator("textarea[name=note]").fill("均已现场核实")
    row.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".flash-success").count() == 1
    assert row.locator("form").count() == 0  # done: no second submission offered
    assert (
        _in_db(
            live_app,
            lambda: db.session.scalar(
                sa.select(CycleStep.undisposed).where(CycleStep.county_id == month["county"])
            ),
        )
        == 3
    )
    phone.close()

    # 2. The prefecture office on a phone: the page fits too.
    small = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    page = small.new_page()
    browser_sign_in(page, live_server, "zhou")
    page.goto(path)
    _fits(page, 360)
    page.screenshot(
        path=os.path.join(artifacts_dir, f"cycle-zhou-360-{database.backend}.png"),
        full_page=True,
    )
    small.close()

    # 3. At the desk: the minutes with B escalated, then the handover list and the notice.
    desk = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = desk.new_page()
    browser_sign_in(page, live_server, "zhou")
    page.goto(path)
    form = page.locator("#cycle-minutes-form")
    form.locator("textarea[name=summary]").fill("上月超标5小时，立案1件")
    form.locator("textarea[name=conclusions]").fill("对未立案企业移交线索")
    form.locator(f"input[name=escalated][value='{month['b']}']").check()
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#cycle-minutes").count() == 1
    page.locator("#cycle-handover-form button").click()
    page.wait_for_load_state()
    clue = page.locator("#cycle-clues tr", has_text=month["b_name"])
    assert clue.count() == 1
    assert _in_db(
        live_app,
        lambda: db.session.scalar(
            sa.select(CycleClue.kept).where(CycleClue.source_id == month["b"])
        ),
    )
    _fits(page, 1440)
    page.screenshot(
        path=os.path.join(artifacts_dir, f"cycle-zhou-1440-{database.backend}.png"),
        full_page=True,
    )
    with page.expect_download() as waiting:
        page.locator("a[href*='notice.xlsx']").click()
    with open(waiting.value.path(), "rb") as downloaded:
        book = load_workbook(io.BytesIO(downloaded.read()))
    cells = [c for row in book.active.iter_rows(values_only=True) for c in row if c]
    assert month["county_name"] in cells
    desk.close()
