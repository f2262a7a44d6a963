"""Compressed responses (Flask-Compress, set up in app.py): pages, scripts and data go gzip- or
brotli-compressed to a client that accepts it, decode to the same bytes, and say Vary:
Accept-Encoding; photos go as they are; the map's GeoJSON and the static files still answer a
revalidation with 304."""

import gzip
import re

import brotli
import sqlalchemy as sa

from evidence.models import Photo
from extensions import db
from grid import views as grid_views
from grid.models import Grid

GZIP = {"Accept-Encoding": "gzip"}
BROWSER = {"Accept-Encoding": "gzip, deflate, br, zstd"}  # what Chromium sends


def script_url(client) -> str:
    page = client.get("/offline").get_data(as_text=True)
    return re.search(r"/static/js/app[^\"' ]*\.js", page).group(0)


def test_a_page_is_gzipped_for_a_client_that_accepts_it(client, auth):
    auth.login("admin")
    plain = client.get("/people/")
    packed = client.get("/people/", headers=GZIP)
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 3
    for response in (plain, packed):
        assert "Accept-Encoding" in response.headers["Vary"]


def test_a_browser_gets_brotli(client, auth):
    auth.login("admin")
    plain = client.get("/people/")
    packed = client.get("/people/", headers=BROWSER)
    assert packed.headers["Content-Encoding"] == "br"
    assert brotli.decompress(packed.data) == plain.data


def test_a_static_script_is_gzipped_and_revalidates(client):
    url = script_url(client)
    with client.get(url) as plain, client.get(url, headers=GZIP) as packed:
        assert "Content-Encoding" not in plain.headers
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert gzip.decompress(packed.data) == plain.data
        etag = packed.headers["ETag"]
    with client.get(url, headers={**GZIP, "If-None-Match": etag}) as again:
        assert again.status_code == 304 and not again.data


def test_a_byte_range_is_not_compressed(client):
    """A 206 is a range of the plain file; compressed, its Content-Range would lie."""
    url = script_url(client)
    with client.get(url, headers={**GZIP, "Range": "bytes=0-1999"}) as part:
        assert part.status_code == 206 and "Content-Encoding" not in part.headers
        assert len(part.data) == 2000


def test_the_service_worker_is_compressed_and_still_uncached(client):
    plain = client.get("/sw.js")
    packed = client.get("/sw.js", headers=BROWSER)
    assert packed.headers["Content-Encoding"] == "br"
    assert packed.headers["Cache-Control"] == "no-cache"
    assert packed.headers["Service-Worker-Allowed"] == "/"
    assert brotli.decompress(packed.data) == plain.data


def test_a_jpeg_photo_is_sent_as_it_is(client, auth):
    """Photos are JPEG: compressing them again costs time and saves nothing."""
    auth.login("zhou")  # the prefecture sees every photo
    photo_id = db.session.scalar(sa.select(Photo.id).order_by(Photo.id).limit(1))
    assert photo_id is not None, "the demo has photos"
    response = client.get(f"/patrol/photos/{photo_id}/display", headers=BROWSER)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert "Content-Encoding" not in response.headers
    assert response.data[:3] == b"\xff\xd8\xff"


def test_the_map_geojson_still_answers_304(client, auth, monkeypatch):
    """The view's own ETag check still answers a revalidation of the compressed GeoJSON, before
    it simplifies any boundary; the tag is weak, the same for either encoding."""
    auth.login("changji")
    county = db.session.scalar(sa.select(Grid).where(Grid.name == "昌吉市"))
    url = f"/grids/{county.id}/map.geojson?z=7"
    plain = client.get(url)
    packed = client.get(url, headers=GZIP)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    etag = packed.headers["ETag"]
    assert etag.startswith("W/") and etag == plain.headers["ETag"]

    def no_work(*_args, **_kwargs):
        raise AssertionError("the boundaries were read again for a 304")

    monkeypatch.setattr(grid_views, "to_shape", no_work)
    for headers in (GZIP, BROWSER, {}):
        again = client.get(url, headers={**headers, "If-None-Match": etag})
        assert again.status_code == 304 and not again.data
        assert again.headers["Cache-Control"] == "private, no-cache"
