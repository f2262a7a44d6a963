"""A supervisor's day on a phone (issue 10): at 360 px, signed in as the demo's village
supervisor, the signal lost: every tab of the bottom bar still opens, and a page never kept
shows the offline page with the bottom bar and an honest status."""

import os

import pytest

from tests.conftest import browser_sign_in
from tests.test_browser_patrol import (
    open_patrol,
    photo_file,
    report_problem,
    start_patrol,
    visit_source,
    wait_synced,
    wait_until,
)

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


def wait_kept(page, paths, timeout_s=20):
    """Until the service worker keeps a copy of each page (it fetches them one by one)."""
    for _ in range(int(timeout_s / 0.25)):
        if page.evaluate(KEPT, paths):
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"the service worker did not keep {paths}")


def tabs(page) -> list[tuple[str, str]]:
    """(label, href) of each entry of the navigation, once each (on a phone an entry past the
    fourth is both in the side list, hidden, and behind 更多)."""
    found = page.eval_on_selector_all(
        ".mainnav a[href]",
        "links => links.map(a => [a.textContent.trim(), a.getAttribute('href')])",
    )
    return [(label, href) for href, label in dict((h, lab) for lab, h in found).items()]


def test_every_tab_opens_offline(phone, live_server, artifacts_dir, database):
    context, page = phone
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


def test_after_reporting_a_problem_the_page_says_what_happens_next(
    phone, live_server, village, artifacts_dir, database
):
    context, page = phone
    _grid_id, lon, lat = village
    open_patrol(page, live_server)
    start_patrol(page)
    context.set_offline(True)
    assert page.locator("#problem-next").is_hidden()
    report_problem(page, 0, [photo_file("p.jpg", lon, lat, 40)])
    notice = page.locator("#problem-next")
    assert notice.is_visible()
    assert "问题已记录" in notice.inner_text()
    assert "上报乡镇" in notice.inner_text()  # what to do next, in words
    assert notice.locator("a[href]").get_attribute("href") == "/problems/inbox"
    page.screenshot(
        path=os.path.join(artifacts_dir, f"patrol-problem-next-360-{database.backend}.png")
    )
    assert page.locator("#problem-send-up").is_hidden()  # not sent yet: nothing to send up
    context.set_offline(False)
    page.click("#sync-now")
    wait_synced(page)
    send_up = page.locator("#problem-send-up")
    send_up.wait_for(state="visible")  # sent: its next step is one tap away
    assert send_up.inner_text() == "上报乡镇"
    send_up.click()
    page.wait_for_url("**/patrol/problems/*#act-escalate")
    escalate = page.locator("details#act-escalate")
    assert escalate.get_attribute("open") is not None  # the problem's page, "send it up" open
    assert escalate.locator("button[type=submit]").is_visible()


# What the phone's queue holds, read from IndexedDB itself (static/js/queue.js).
HELD = """async () => {
  const c = await GridQueue.counts();
  return {items: c.items, photos: c.photos,
          routes: c.pending.filter((it) => it.kind === 'patrol.route').length};
}"""


def test_the_queue_count_is_what_was_recorded(phone, live_server, village):
    """Offline, a visit with one photo and a problem with two: the bar counts what the phone's
    queue holds and says it as recorded, two records and three photos; sent, nothing."""
    context, page = phone
    _grid_id, lon, lat = village
    open_patrol(page, live_server)
    start_patrol(page)
    assert page.inner_text("#queue-detail") == ""
    context.set_offline(True)
    visit_source(page, 0, [photo_file("v.jpg", lon, lat, 20)])
    report_problem(
        page, 1, [photo_file("p1.jpg", lon, lat, 90), photo_file("p2.jpg", lon, lat, 150)]
    )
    # the bar follows the queue as it changes: wait until it shows what the queue holds now
    wait_until(
        page,
        """async () => String((await GridQueue.counts()).waiting) ===
             document.getElementById('queue-count').textContent""",
    )
    held = page.evaluate(HELD)
    # two visits, the problem, and the route walked so far (a segment sent with each visit)
    assert held["items"] - held["routes"] == 3 and held["photos"] == 3
    assert page.inner_text("#queue-count") == str(held["items"] + held["photos"])
    detail = "2 条记录 · 3 张照片"  # the problem and the visit it was found on are one
    if held["routes"]:
        detail += f" · {held['routes']} 段轨迹"
    assert page.inner_text("#queue-detail") == detail
    assert "无网络" in page.inner_text("#sync-state")
    context.set_offline(False)
    page.click("#sync-now")
    wait_synced(page)
    assert page.evaluate(HELD) == {"items": 0, "photos": 0, "routes": 0}
    assert page.inner_text("#queue-detail") == ""


def open_map(page):
    """Touch the patrol page's map preview: Leaflet, with its zoom buttons, takes its place."""
    page.click("#patrol-map .map-preview")
    page.wait_for_selector("#patrol-map .leaflet-control-zoom-in")


def test_the_map_stays_under_the_bars_when_scrolled(phone, live_server):
    """Scrolling the patrol page, the map passes under the sticky bars: its zoom buttons never
    cover the queue count a supervisor relies on."""
    _context, page = phone
    open_patrol(page, live_server)
    open_map(page)
    page.mouse.move(1, 1)  # off the map: a wheel over Leaflet zooms the map, not the page
    bar = page.locator(".sync-bar").bounding_box()
    map_top = page.locator("#patrol-map").bounding_box()["y"]
    page.mouse.wheel(0, map_top - bar["y"] - 10)  # the map's top under the sync bar
    page.wait_for_function("() => window.scrollY > 0")
    count = page.locator("#queue-count").bounding_box()
    x, y = count["x"] + count["width"] / 2, count["y"] + count["height"] / 2
    on_top = page.evaluate("([x, y]) => document.elementFromPoint(x, y).id", [x, y])
    assert on_top == "queue-count"
    zoom = page.locator(".leaflet-control-zoom-in").bounding_box()
    top = page.locator(".topbar").bounding_box()
    zx, zy = zoom["x"] + zoom["width"] / 2, zoom["y"] + zoom["height"] / 2
    if zy < top["y"] + top["height"] or zy < bar["y"] + bar["height"]:
        hit = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y).closest('.leaflet-control') !== null",
            [zx, zy],
        )
        assert not hit  # under a bar, hidden by it


@pytest.mark.parametrize("login", ["cun", "sangong", "changji", "zhou", "admin"])
def test_the_bottom_bar_holds_at_most_five_and_the_rest_is_behind_more(
    browser, live_server, login, artifacts_dir, database
):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    page = context.new_page()
    browser_sign_in(page, live_server, login)
    everything = tabs(page)
    shown = page.locator(".mainnav > a:visible, .mainnav > details > summary:visible")
    assert 3 <= shown.count() <= 5
    for i in range(shown.count()):  # within the screen and a thumb's size
        box = shown.nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["height"] >= 48
    visible = {a.get_attribute("href") for a in page.locator(".mainnav > a:visible").all()}
    if len(everything) > 5:
        page.click(".mainnav .more summary")
        menu = page.locator(".mainnav .more-menu a:visible")
        visible |= {a.get_attribute("href") for a in menu.all()}
        for i in range(menu.count()):
            box = menu.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["height"] >= 44
            hit = page.evaluate(
                "([x, y]) => document.elementFromPoint(x, y)?.getAttribute('href')",
                [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
            )
            assert hit == menu.nth(i).get_attribute("href")  # drawn on top, not clipped away
        page.screenshot(
            path=os.path.join(artifacts_dir, f"more-{login}-360-{database.backend}.png")
        )
    assert visible == {href for _label, href in everything}  # every entry within reach
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()


def test_lists_are_cards_on_a_phone_and_tables_on_a_desktop(browser, live_server):
    """At 360 px a list's rows are cards, nothing cut off or scrolled sideways; at 1440 px it
    is the table with its header."""
    for width, height in ((360, 740), (1440, 900)):
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        page = context.new_page()
        browser_sign_in(page, live_server, "changji")
        for path in ("/problems/", "/sources/"):
            page.goto(live_server + path)
            wrap = page.locator(".table-wrap").first
            assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth"), path  # nothing cut off
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            header = page.locator("table.stack thead")
            assert header.is_visible() == (width >= 900), path
            rows = page.locator("table.stack tbody tr")
            assert rows.count() > 0, path
            if width < 900:
                first = rows.first.bounding_box()
                assert first["width"] <= width and first["height"] >= 60  # a card, stacked
        context.close()


def test_tap_targets_on_the_patrol_page_are_a_thumbs_size(phone, live_server):
    """已当场制止, 立即同步 and the map's zoom buttons were 13 to 32 px (issue 10)."""
    _context, page = phone
    open_patrol(page, live_server)
    open_map(page)
    for selector in ("#sync-now", ".leaflet-control-zoom-in", ".leaflet-control-zoom-out"):
        box = page.locator(selector).bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44, selector
    size = page.locator("input[name=stopped_on_spot]").evaluate(
        "e => [parseFloat(getComputedStyle(e).width), parseFloat(getComputedStyle(e).height)]"
    )  # in the problem dialog, closed here
    assert size[0] >= 24 and size[1] >= 24
