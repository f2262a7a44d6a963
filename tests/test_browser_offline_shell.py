"""A repeat visit with no network (issue 14, field performance): the village supervisor's home,
patrol page and the alert the county sent him, each seen once online, reload with the network
gone. Every request of the reload is answered by the service worker (templates/desk/sw.js): the
page as last seen, its stylesheet and scripts, so the shell is styled and its scripts run."""

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from alerts import dispatch, raising
from alerts.services import Value, add_station, store
from extensions import db
from grid.models import User
from grid.time import utcnow

pytestmark = pytest.mark.browser


@pytest.fixture
def sent_alert(live_app, village):
    """An alert the city office sent cun: an hour of bad air at a micro-station in his
    village, the rules run, the office sends him (tests/test_browser_alerts.py does it
    through the pages)."""
    _grid_id, lon, lat = village
    with live_app.app_context():
        people = {
            u.username: u
            for u in db.session.scalars(
                sa.select(User).where(User.username.in_(["cun", "changji"]))
            )
        }
        station = add_station(
            code=f"OS{int(time.time() * 1000) % 10**8}",
            name="离线测试微站",
            kind="micro",
            lon=lon + 0.0005,
            lat=lat,
        ).station
        now = utcnow().replace(second=0, microsecond=0)
        store(
            station,
            [Value("PM2.5", "minute", now - timedelta(minutes=m), 260.0) for m in range(60)],
            "test",
            now,
        )
        alert = next(a for a in raising.evaluate(station, now) if a.rule == "level")
        dispatch.dispatch(alert, [people["cun"].id], people["changji"], None)
        db.session.commit()
        alert_id = alert.id
        db.session.remove()
    return alert_id


# What each page shows of its own once its scripts have run, besides the shell.
PAGES = {
    "home": ("/", ".card.post .post-grid"),  # his posts
    "patrol": ("/patrol/", "#source-list .source"),  # drawn by patrol.js from its sources
    "alert": ("/alerts/{alert}", ".clock[data-deadline-ms] .countdown:not(:empty)"),  # alert.js
}


# What the shell is made of. The pages' data requests may fail offline (a sync's token, a
# boundary never fetched): each page says it is offline and shows what it has kept.
SHELL = {"document", "stylesheet", "script", "image", "manifest"}


@pytest.mark.parametrize("name", PAGES)
def test_a_repeat_visit_loads_the_shell_with_no_network(name, phone, live_server, sent_alert):
    context, page = phone
    path, own = PAGES[name]
    url = live_server + path.format(alert=sent_alert)
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    page.goto(url, wait_until="networkidle")  # the visit online: the worker keeps what passes
    page.locator(own).first.wait_for()

    answered, failed = [], []
    page.on("response", lambda r: answered.append(r))
    page.on("requestfailed", lambda r: failed.append(r))
    context.set_offline(True)
    try:
        response = page.reload()
        assert response.ok and response.from_service_worker
        page.locator(own).first.wait_for(timeout=10_000)  # as last seen, not the offline page
        page.wait_for_load_state("load")
        # The shell: styled by app.css (the top bar is sticky), app.js ran (it says the phone
        # is offline), and the bottom bar is there.
        assert page.eval_on_selector(".topbar", "el => getComputedStyle(el).position") == "sticky"
        assert page.locator("#net-status").is_visible()
        assert page.locator(".mainnav a[href='/patrol/']").count() == 1
    finally:
        context.set_offline(False)

    ours = [r for r in answered if r.url.startswith(live_server)]
    assert {r.request.resource_type for r in ours} >= {"document", "stylesheet", "script"}
    assert [r.url for r in ours if not r.from_service_worker] == []
    lost = [r.url for r in failed if r.url.startswith(live_server) and r.resource_type in SHELL]
    assert lost == []
