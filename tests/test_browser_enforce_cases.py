"""Typical cases in the browser: the public reads the demo's published case on a 360 px phone
without signing in (and never sees the original); the county office opens the demo's draft on
a desktop and on a phone, reviews the replacements and sees the live count as it types."""

import os

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from enforce.cases.models import CaseState, TypicalCase
from extensions import db
from tests.conftest import browser_sign_in

pytestmark = pytest.mark.browser

SECRETS = ("恒通建材", "马国强", "13899887766", "新B12345", "延安北路198号")


def _demo_cases(live_app) -> dict:
    with live_app.app_context():
        found = {
            c.state: c.id
            for c in db.session.scalars(sa.select(TypicalCase).order_by(TypicalCase.id.desc()))
        }
        db.session.remove()
    return found


def _fits(page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url}: {scroll} px wide on a {width} px screen"


def test_the_public_reads_a_published_case_on_a_phone(
    browser, live_server, live_app, artifacts_dir
):
    cases = _demo_cases(live_app)
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    page = context.new_page()
    page.goto(live_server + "/enforce/public/cases")
    link = page.locator(f"a[href$='/enforce/public/cases/{cases[CaseState.PUBLISHED]}']")
    expect(link).to_be_visible()
    _fits(page, 360)
    link.click()
    expect(page.locator("article h1")).to_contain_text("某建材公司")
    _fits(page, 360)
    body = page.content()
    for secret in SECRETS:
        assert secret not in body
    page.screenshot(path=os.path.join(artifacts_dir, "enforce-case-public-360.png"), full_page=True)
    # a draft is not public
    answer = page.goto(live_server + f"/enforce/public/cases/{cases[CaseState.DRAFT]}")
    assert answer is not None and answer.status == 404
    context.close()


@pytest.mark.parametrize("width", [360, 1440])
def test_the_office_reviews_the_replacements(browser, live_server, live_app, artifacts_dir, width):
    cases = _demo_cases(live_app)
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    page = context.new_page()
    browser_sign_in(page, live_server, "changji")
    page.goto(live_server + f"/enforce/cases/{cases[CaseState.DRAFT]}")
    table = page.locator("#replacements table")
    expect(table).to_be_visible()
    expect(table).to_contain_text("13899887766")
    expect(table).to_contain_text("新B×××××")
    expect(page.locator("#public-text")).not_to_contain_text("13899887766")
    expect(page.locator("#original")).to_contain_text("13899887766")
    _fits(page, width)
    count = page.locator("#case-count")
    area = page.locator("#original textarea[name=original]")
    before = count.inner_text()
    area.press("End")
    area.type("补充 说明")
    expect(count).not_to_have_text(before)
    typed = area.input_value()
    expected = len("".join(typed.split()))
    expect(count).to_contain_text(str(expected))
    page.screenshot(
        path=os.path.join(artifacts_dir, f"enforce-case-office-{width}.png"), full_page=True
    )
    page.goto(live_server + "/enforce/")
    expect(page.locator("#cases-hub")).to_be_visible()
    _fits(page, width)
    context.close()
