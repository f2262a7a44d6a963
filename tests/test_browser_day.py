"""A supervisor's day on a phone (issue 10): at 360 px, signed in as the demo's village
supervisor, the signal lost: every tab of the bottom bar still opens, and a page never kept
shows the offline page with the bottom bar and an honest status."""

import os

import pytest

from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.browser

# Whether every path has a copy kept by the signed-in person's service worker (not the shell's).
KEPT = """async (paths) => {
  const names = (await caches.keys()).filter((name) => name.startsWith('gridpatrol-pages-'));
  if (!names.length) return false;
  const pages = await caches.open(names[0]);
  for (const path of paths) {
    if (!(await pages.match(new URL(path, location.origin).href, {ignoreVary: true}))) {
      return false;
    }
  }
  return true;
}"""


@pytest.fixture
def supervisor_phone(browser, live_server):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    page = context.new_page()
    page.goto(live_server + "/login")
    page.fill("#login", "cun")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_url(live_server + "/")
    yield context, page
    context.close()


def wait_kept(page, paths, timeout_s=20):
    """Until the service worker keeps a copy of each page (it fetches them one by one)."""
    for _ in range(int(timeout_s / 0.25)):
        if page.evaluate(KEPT, paths):
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"the service worker did not keep {paths}")


def tabs(page) -> list[tuple[str, str]]:
    """(label, href) of each entry of the bottom bar."""
    return page.eval_on_selector_all(
        ".mainnav a[href]",
        "links => links.map(a => [a.textContent.trim(), a.getAttribute('href')])",
    )


def test_every_tab_opens_offline(supervisor_phone, live_server, artifacts_dir, database):
    context, page = supervisor_phone
    page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller")
    page.reload()  # controlled from the start: the page asks the worker to keep the tabs
    entries = tabs(page)
    assert len(entries) >= 3
    paths = [href for _label, href in entries] + ["/offline"]
    wait_kept(page, paths)

    context.set_offline(True)
    for label, href in entries:
        response = page.goto(live_server + href)
        assert response is not None and response.ok, (label, href)
        assert response.from_service_worker, (label, href)
        assert page.locator("h1", has_text="网络不可用").count() == 0, (label, href)
        assert [h for _l, h in tabs(page)] == [h for _l, h in entries], (label, href)
        assert page.locator("#net-status").is_visible(), (label, href)  # says it is offline
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, (label, href)

    # A page never opened: the offline page, as this person sees it, bottom bar included.
    response = page.goto(live_server + "/sources/?q=never-opened")
    assert response is not None and response.from_service_worker
    assert page.locator("h1", has_text="网络不可用").is_visible()
    assert [h for _l, h in tabs(page)] == [h for _l, h in entries]
    page.screenshot(path=os.path.join(artifacts_dir, f"offline-page-360-{database.backend}.png"))
    context.set_offline(False)
