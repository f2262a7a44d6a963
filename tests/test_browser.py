"""What only a browser shows: the service worker, offline reloads, the 360 px layout.

Playwright drives the system Chromium (headless) against the app on a real socket.
"""

import os

import pytest

from tests.conftest import browser_sign_in

pytestmark = pytest.mark.browser


def test_installable_shell_works_offline(page, context, live_server, artifacts_dir, database):
    browser_sign_in(page, live_server, "cun")
    assert page.viewport_size == {"width": 360, "height": 740}
    page.evaluate("navigator.serviceWorker.ready")
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    # one-handed at 360 px: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    name = page.inner_text(".who")
    assert name and page.is_visible(".mainnav")

    context.set_offline(True)
    try:
        response = page.reload()
        assert response.ok and response.from_service_worker
        assert page.inner_text(".who") == name  # the shell and the page as last seen
        page.wait_for_function("() => !document.getElementById('net-status').hidden")
        page.screenshot(path=os.path.join(artifacts_dir, f"offline-home-{database.backend}.png"))

        # a page never opened before (and no tab of the bottom bar, which the worker keeps):
        # the offline page
        response = page.goto(live_server + "/grids/999999/staffing")
        assert response.from_service_worker
        assert page.locator("h1").inner_text() in ("网络不可用", "No network")
    finally:
        context.set_offline(False)


def test_service_worker_caches_are_versioned(page, live_server):
    page.goto(live_server + "/login")
    page.evaluate("navigator.serviceWorker.ready")
    # the worker claims the page only after activation has cleaned up (one waitUntil)
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    names = page.evaluate("caches.keys()")
    shell = [n for n in names if n.startswith("gridpatrol-shell-")]
    assert len(shell) == 1
    version = shell[0].removeprefix("gridpatrol-shell-")
    assert len(version) == 12
    cached = page.evaluate(
        "async (name) => (await (await caches.open(name)).keys())"
        ".map(r => new URL(r.url).pathname)",
        shell[0],
    )
    assert "/offline" in cached and any(p.endswith("htmx.min.js") for p in cached)


def test_activation_deletes_caches_of_other_versions(page, live_server):
    page.goto(live_server + "/login")
    page.evaluate("navigator.serviceWorker.ready")
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    page.evaluate("caches.open('gridpatrol-shell-000000000000')")
    page.evaluate("caches.open('gridpatrol-pages-000000000000')")
    page.evaluate("caches.open('someone-else')")
    # a fresh installation activates again: it must delete the stale versions, and only them
    page.evaluate("(async () => (await navigator.serviceWorker.getRegistration()).unregister())()")
    page.reload()
    page.evaluate("navigator.serviceWorker.ready")
    # the worker claims the page only after activation has cleaned up (one waitUntil)
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    names = page.evaluate("caches.keys()")
    assert "gridpatrol-pages-000000000000" not in names and "someone-else" in names
    assert any(n.startswith("gridpatrol-shell-") for n in names)


def test_map_works_when_no_tile_server_answers(page, live_server, artifacts_dir, database):
    browser_sign_in(page, live_server, "sangong")
    page.goto(live_server + "/grids/map")
    page.wait_for_function("() => document.getElementById('map').dataset.loaded > 0")
    assert page.locator(".leaflet-interactive").count() >= 2  # the township and its villages
    # the configured tile server refuses connections: the map says so and still shows the grid
    page.wait_for_function("() => document.getElementById('map-note').textContent.length > 0")
    page.screenshot(path=os.path.join(artifacts_dir, f"map-{database.backend}.png"))


def test_desktop_layout_uses_the_width(browser, live_server, artifacts_dir, database):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    try:
        browser_sign_in(page, live_server, "changji")
        box = page.locator(".mainnav").bounding_box()
        assert box["width"] < 300 and box["height"] > 100  # a side column, not a bottom bar
        assert page.locator("main").bounding_box()["width"] > 800
        page.screenshot(path=os.path.join(artifacts_dir, f"desktop-home-{database.backend}.png"))
    finally:
        context.close()
