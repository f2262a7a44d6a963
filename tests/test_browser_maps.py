"""The patrol and complaint maps on a phone (issue 10, item 9): the supervisor sees his grid's
boundary and himself on it, and is told in words, not only by a number, when he is far outside
it; a map without tiles says why it is grey. The live server's tile URL refuses connections, so
tiles always fail here."""

import os

import pytest

pytestmark = pytest.mark.browser

FAR = "#patrol-far"


def open_patrol(page, live_server):
    page.goto(live_server + "/patrol/")
    page.wait_for_selector("#patrol-map path.patrol-boundary", state="attached")
    page.wait_for_selector("#patrol-map path.patrol-me", state="attached")


def test_patrol_map_shows_the_boundary_and_the_phone(phone, live_server):
    _context, page = phone
    open_patrol(page, live_server)
    assert page.locator("#patrol-map path.patrol-boundary").count() >= 1
    assert page.locator("#patrol-map path.patrol-me").count() == 1
    assert page.locator(FAR).is_hidden()  # inside the village: nothing to warn about


def test_the_map_is_drawn_without_leaflet_until_it_is_touched(phone, live_server):
    """The first look costs no map library; a touch brings Leaflet at the same view, so the
    boundary stays where it was on the screen."""
    _context, page = phone
    leaflet = []
    page.on("request", lambda r: leaflet.append(r.url) if "leaflet" in r.url else None)
    open_patrol(page, live_server)
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.L") == "undefined" and leaflet == []
    hint = page.locator("#patrol-map .map-preview .map-preview-hint").inner_text()
    assert hint == "点按地图可移动、缩放并查看污染源名称"
    before = page.locator("#patrol-map path.patrol-boundary").bounding_box()
    me_before = page.locator("#patrol-map path.patrol-me").bounding_box()

    page.click("#patrol-map .map-preview")
    page.wait_for_selector("#patrol-map.leaflet-container path.patrol-boundary", state="attached")
    page.wait_for_selector("#patrol-map.leaflet-container path.patrol-me", state="attached")
    assert page.locator("#patrol-map .map-preview").count() == 0
    assert page.locator("#patrol-map path.patrol-boundary").count() == 1
    assert any(url.endswith(".js") or ".js?" in url for url in leaflet)
    after = page.locator("#patrol-map path.patrol-boundary").bounding_box()
    me_after = page.locator("#patrol-map path.patrol-me").bounding_box()
    # The same view: each shape's centre and size within two pixels (the zoom one step off
    # would halve or double the size).
    for was, now in ((before, after), (me_before, me_after)):
        for at, size in (("x", "width"), ("y", "height")):
            assert abs(was[at] + was[size] / 2 - now[at] - now[size] / 2) <= 2, (was, now)
            assert abs(was[size] - now[size]) <= 2, (was, now)


def test_the_preview_is_drawn_again_for_a_new_size_and_opened_by_keys_that_act_on_a_map(
    phone, live_server
):
    _context, page = phone
    open_patrol(page, live_server)
    svg = "#patrol-map .map-preview svg"
    assert page.locator(svg).get_attribute("width") == str(
        page.evaluate("document.getElementById('patrol-map').clientWidth")
    )
    page.set_viewport_size({"width": 740, "height": 360})  # turned on its side
    page.wait_for_function(
        "() => { const svg = document.querySelector('#patrol-map .map-preview svg');"
        " return !!svg && +svg.getAttribute('width') ==="
        " document.getElementById('patrol-map').clientWidth; }"
    )
    assert page.locator("#patrol-map .map-preview").count() == 1
    page.wait_for_selector("#patrol-map path.patrol-me", state="attached")

    page.focus("#patrol-map .map-preview")
    page.keyboard.press("Tab")  # passing over the map loads nothing
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.L") == "undefined"
    page.focus("#patrol-map .map-preview")
    page.keyboard.press("Enter")
    page.wait_for_selector("#patrol-map.leaflet-container path.patrol-boundary", state="attached")


def test_far_from_the_grid_is_said_in_words_and_cleared_on_return(
    phone, live_server, village, artifacts_dir
):
    context, page = phone
    _grid_id, lon, lat = village
    open_patrol(page, live_server)
    assert page.locator(FAR).is_hidden()

    context.set_geolocation({"latitude": lat + 0.75, "longitude": lon})  # about 83 km north
    page.wait_for_selector(FAR, state="visible")
    text = page.locator(FAR).text_content()
    assert "您当前位置距本网格约" in text
    assert "请确认是否在巡查区域内" in text
    km = int(text.split("约")[1].split("公里")[0])
    assert 60 <= km <= 90  # outside by less than the distance to the point inside
    page.screenshot(path=os.path.join(artifacts_dir, "patrol-far-from-grid.png"), full_page=True)

    context.set_geolocation({"latitude": lat, "longitude": lon})
    page.wait_for_selector(FAR, state="hidden")


@pytest.mark.parametrize(
    ("path", "note"),
    [("/patrol/", "#patrol-map-note"), ("/complaint", "#complaint-map-note")],
)
def test_a_map_without_tiles_says_why(phone, live_server, path, note):
    _context, page = phone
    page.goto(live_server + path)
    page.wait_for_selector(note + ":not(:empty)", state="visible")
    assert "底图无法加载" in page.locator(note).text_content()
