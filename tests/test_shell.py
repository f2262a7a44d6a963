"""The installable shell: manifest, service worker, security headers, language switch."""

import re

import pytest

from app import create_app
from tests.conftest import BASE_CONFIG, csrf_token


def test_manifest(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    data = response.json
    assert data["name"] == "网格巡查 GridPatrol" and data["display"] == "standalone"
    assert data["start_url"] == "/" and data["theme_color"].startswith("#")
    sizes = {(i["sizes"], i.get("purpose", "any")) for i in data["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in data["icons"]:
        with client.get(icon["src"]) as image:
            assert image.status_code == 200 and image.mimetype == "image/png"


def test_service_worker_is_served_from_the_root_uncached(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.mimetype == "text/javascript"
    body = response.get_data(as_text=True)
    version = re.search(r"const VERSION = '([0-9a-f]{12})'", body).group(1)
    precache = re.search(r"const PRECACHE = (\[.*?\]);", body).group(1)
    assert "/offline" in precache and "htmx.min.js" in precache and "leaflet.js" in precache
    for url in re.findall(r'"([^"]+)"', precache):
        with client.get(url) as asset:
            assert asset.status_code == 200, url
    assert client.get("/sw.js").get_data(as_text=True).count(version) >= 1


def test_offline_page_is_public(client):
    assert client.get("/offline").status_code == 200


def test_security_headers(client, auth):
    auth.login("cun")
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_no_inline_script_or_style_in_pages(client, auth):
    auth.login("admin")
    for path in ["/", "/login", "/offline", "/grids/map", "/people/", "/public/"]:
        html = client.get(path, follow_redirects=True).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert "<style" not in html and " style=" not in html and " onclick=" not in html, path


def test_cookie_flags_by_default(database):
    app = create_app(
        {**BASE_CONFIG, "SESSION_COOKIE_SECURE": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    )
    client = app.test_client()
    response = client.get("/login")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    assert "Strict-Transport-Security" in response.headers


def test_missing_secret_key_is_a_clear_error():
    with pytest.raises(RuntimeError, match="GRIDPATROL_SECRET_KEY"):
        create_app({"SECRET_KEY": None, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_language_switch(client):
    assert 'lang="zh-CN"' in client.get("/login").get_data(as_text=True)
    response = client.post(
        "/lang",
        data={"lang": "en", "csrf_token": csrf_token(client)},
        headers={"Referer": "http://localhost/login"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert 'lang="en"' in client.get("/login").get_data(as_text=True)


def test_language_is_remembered_on_the_account(client, auth, db_session):
    auth.login("cun")
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_token(client, "/")})
    client.delete_cookie("lang")
    assert 'lang="en"' in client.get("/").get_data(as_text=True)


def test_unknown_language_is_ignored(client):
    client.post("/lang", data={"lang": "fr", "csrf_token": csrf_token(client)})
    assert 'lang="zh-CN"' in client.get("/login").get_data(as_text=True)


def test_htmx_fragment_varies(client, auth):
    auth.login("cun")
    response = client.get("/does-not-exist", headers={"HX-Request": "true"})
    assert response.status_code == 404
    assert "<html" not in response.get_data(as_text=True)
    assert "HX-Request" in response.headers.get("Vary", "")
    full = client.get("/does-not-exist")
    assert "<html" in full.get_data(as_text=True)


def test_pages_reuse_the_signed_form_token(client, auth, monkeypatch):
    """Every page carries the form token; it is signed once and reused (signing it anew on every
    page costs each request an HMAC), and it still passes Flask-WTF's check."""
    import itsdangerous.timed

    from tests.conftest import csrf_token

    auth.login()
    first = csrf_token(client, "/")
    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() + 5)
    assert csrf_token(client, "/") == first  # a fresh signature would carry a later timestamp
    assert csrf_token(client, "/offline") == first
    response = client.post("/lang", data={"lang": "en", "csrf_token": first})
    assert response.status_code == 302
