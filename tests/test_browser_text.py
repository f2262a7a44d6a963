"""What the server stores as text reaches the page as text in script-built parts too (issue 9):
a source named like an HTML tag shows its map tooltip as those characters, and no element is
made of it (before, Leaflet's bindTooltip parsed the name as HTML; only the CSP stopped the
script)."""

import pytest
import sqlalchemy as sa

from extensions import db
from sources.models import Source
from tests.conftest import browser_sign_in

pytestmark = pytest.mark.browser

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture
def evil_source(live_app, village):
    """One located source of cun's village renamed to an HTML tag, for this test only."""
    grid_id = village[0]
    with live_app.app_context():
        source = db.session.scalar(
            sa.select(Source)
            .where(
                Source.grid_id == grid_id, Source.status == "active", Source.location.is_not(None)
            )
            .order_by(Source.id)
        )
        assert source is not None, "the demo village has no located source"
        source_id, name = source.id, source.name
        source.name = EVIL
        db.session.commit()
        db.session.remove()
    yield source_id
    with live_app.app_context():
        db.session.get(Source, source_id).name = name
        db.session.commit()
        db.session.remove()


def test_a_source_name_is_shown_as_text_in_the_map_tooltip(
    browser, live_server, village, evil_source
):
    _grid_id, lon, lat = village
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        locale="zh-CN",
        permissions=["geolocation"],
        geolocation={"latitude": lat, "longitude": lon},
    )
    try:
        page = context.new_page()
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        browser_sign_in(page, live_server, "cun")
        page.goto(live_server + "/patrol/")
        page.click("#patrol-map .map-preview")  # Leaflet, with its tooltips, comes on a touch
        page.wait_for_function(
            "() => document.querySelectorAll('#patrol-map path.leaflet-interactive').length >= 3"
        )
        # Hover every marker in turn (Leaflet opens a marker's tooltip on mouseover).
        tooltips = page.evaluate(
            """() => Array.from(document.querySelectorAll('#patrol-map path.leaflet-interactive'))
                 .flatMap((path) => {
                   path.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
                   const open = document.querySelectorAll('#patrol-map .leaflet-tooltip');
                   const tips = Array.from(open).map((tip) => ({
                     text: tip.textContent, html: tip.innerHTML,
                     elements: tip.querySelectorAll('img').length}));
                   path.dispatchEvent(new MouseEvent('mouseout', {bubbles: true}));
                   return tips;
                 })"""
        )
        shown = [t for t in tooltips if t["text"] == EVIL]
        assert shown, f"no tooltip shows the name as text: {tooltips}"
        assert all(t["elements"] == 0 for t in tooltips), tooltips
        assert "&lt;img" in shown[0]["html"]
        assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
        # The list of sources shows the same name as text too.
        assert EVIL in page.locator("#source-list .source-name").all_inner_texts()
        assert dialogs == []
    finally:
        context.close()
