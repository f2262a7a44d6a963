"""The draws' office pages in the browser, on a 360 px phone and a 1440 px desktop: the county
office ("changji") opens its month's plan, the demo's draw of the month and verifies it, its
inspector library and the quarter's statistics; nothing is wider than the screen."""

import os

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from enforce.draws.models import Draw
from extensions import db
from grid.models import Grid
from tests.conftest import browser_sign_in

pytestmark = pytest.mark.browser


def _fits(page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url}: {scroll} px wide on a {width} px screen"


def _changji_draw(live_app) -> int:
    with live_app.app_context():
        county = db.session.scalar(sa.select(Grid.id).where(Grid.code == "652301000000"))
        found = db.session.scalar(
            sa.select(Draw.id).where(Draw.grid_id == county).order_by(Draw.id.desc()).limit(1)
        )
        db.session.remove()
    return found


@pytest.mark.parametrize("width", [360, 1440])
def test_the_county_office_draws_pages(browser, live_server, live_app, artifacts_dir, width):
    draw_id = _changji_draw(live_app)
    assert draw_id is not None, "the demo draws for 昌吉市 this month"
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    page = context.new_page()
    browser_sign_in(page, live_server, "changji")
    page.goto(live_server + "/enforce/draws")
    expect(page.locator("#plan")).to_be_visible()
    expect(page.locator("#draw-form")).to_be_visible()
    _fits(page, width)
    page.screenshot(path=os.path.join(artifacts_dir, f"enforce-draws-{width}.png"), full_page=True)
    page.goto(live_server + f"/enforce/draws/{draw_id}")
    expect(page.locator("#tasks tbody tr").first).to_be_visible()
    _fits(page, width)
    page.click("#verify")
    expect(page.locator("#verification")).to_contain_text("校验通过")
    _fits(page, width)
    page.screenshot(path=os.path.join(artifacts_dir, f"enforce-draw-{width}.png"), full_page=True)
    page.goto(live_server + "/enforce/inspectors")
    expect(page.locator("#inspectors tbody tr").first).to_be_visible()
    _fits(page, width)
    page.goto(live_server + "/enforce/draws/stats")
    expect(page.locator("#stats tbody tr")).to_have_count(4)
    _fits(page, width)
    page.screenshot(path=os.path.join(artifacts_dir, f"enforce-stats-{width}.png"), full_page=True)
    context.close()
