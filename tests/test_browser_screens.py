"""The screens of each role's day, at a phone's 360 px and a desk's 1440 px (issue 10): home,
to-do list, a problem's page, the patrol page and the lists, each saved whole in test-artifacts/
as screens-<role>-<page>-<width>-<backend>.png for people to look at, each checked to open,
to fit its width and to be in Chinese."""

import os
import re

import pytest

from tests.conftest import browser_sign_in

pytestmark = pytest.mark.browser

ROLES = ["cun", "sangong", "changji", "zhou", "zhifa"]
PAGES = [  # (name, path); "problem" is the first of the to-do list, or else of the list
    ("home", "/"),
    ("inbox", "/problems/inbox"),
    ("problems", "/problems/"),
    ("problem", None),
    ("patrol", "/patrol/"),
    ("sources", "/sources/"),
]
SIZES = [(360, 740), (1440, 900)]


@pytest.mark.parametrize(("width", "height"), SIZES, ids=lambda v: str(v))
@pytest.mark.parametrize("login", ROLES)
def test_each_roles_screens(browser, live_server, artifacts_dir, database, login, width, height):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    browser_sign_in(page, live_server, login)
    problem = None
    shot = 0
    for name, path in PAGES:
        if name == "problem":
            if problem is None:
                continue  # nothing on this person's list today
            path = problem
        response = page.goto(live_server + path)
        assert response is not None and response.status in (200, 403, 404), (name, path)
        if response.status != 200:
            continue  # a page this role does not have (the lists of a department officer)
        page.wait_for_load_state("networkidle")
        if name in ("inbox", "problems") and problem is None:
            first = page.locator("main a[href*='/patrol/problems/']").first
            if first.count():
                problem = first.get_attribute("href")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, path)
        title = page.locator("h1").first.inner_text()
        assert re.search(r"[\u4e00-\u9fff]", title), (name, path, title)
        page.screenshot(
            path=os.path.join(
                artifacts_dir, f"screens-{login}-{name}-{width}-{database.backend}.png"
            ),
            full_page=True,
        )
        shot += 1
    assert shot >= 3  # home, to-do list and one more at least, for every role
    context.close()
