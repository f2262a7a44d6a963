"""Security headers on every kind of response the app makes, as deployed behind HTTPS.

One URL of each kind (public pages, signed-in pages, a fragment, JSON, a photo, a spreadsheet,
a static file, the manifest, the service worker, error pages) is asked for, and each answer
must carry:

- Strict-Transport-Security, sent whenever SESSION_COOKIE_SECURE is true (production is HTTPS
  only; the plain-HTTP development server sends none), for a year;
- X-Content-Type-Options: nosniff; X-Frame-Options: DENY and CSP frame-ancestors 'none';
  Referrer-Policy; the Content-Security-Policy without inline scripts;
- Cache-Control: no-store on every signed-in page and on everything that carries personal data
  (pages, fragments, JSON, photos, downloads). Only what holds nothing personal may be kept,
  each saying so itself: static files, the manifest, the service worker, and the map's
  boundaries (public administrative data, revalidated by their ETag).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from alerts.demo import DEMO_STATION_TOKEN
from desk.assets import asset_url
from evidence.services import photo_store
from extensions import db
from grid.models import User
from patrol.models import visit_photo
from sources import services as ledger
from tests import factories
from tests.conftest import browser_sign_in, make_app, sign_in

YEAR = 365 * 24 * 3600
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

# What may be kept, and how: a response of these kinds carries its own Cache-Control.
KEPT = {
    # Revalidated each time (ETag or Last-Modified): the hashed URLs get their year from nginx
    # (deploy/), and the service worker keeps the shell in its own cache.
    "static": "no-cache",
    "manifest": "no-cache",
    "service worker": "no-cache",
    "boundaries": "private, no-cache",
}


@dataclass(frozen=True)
class Kind:
    who: str | None  # a key of Ctx.people; None: nobody signed in
    path: Callable  # Ctx -> the path
    status: int = 200
    method: str = "GET"
    headers: dict = field(default_factory=dict)
    json: dict | None = None
    mimetype: str | None = None


@dataclass
class Ctx:
    people: dict
    ids: dict


KINDS = {
    # public pages
    "log-in page": Kind(None, lambda c: "/login"),
    "offline page": Kind(None, lambda c: "/offline"),
    "public complaint form": Kind(None, lambda c: "/complaint"),
    "public inspections": Kind(None, lambda c: "/enforce/public/inspections"),
    "public cases": Kind(None, lambda c: "/enforce/public/cases"),
    "public grid list": Kind(None, lambda c: "/public/"),
    # signed-in pages
    "home": Kind("office", lambda c: "/"),
    "a list": Kind("office", lambda c: "/sources/"),
    "a detail": Kind("office", lambda c: f"/sources/{c.ids['source']}"),
    "offline page, signed in": Kind("office", lambda c: "/offline"),
    "htmx fragment": Kind("office", lambda c: "/problems/inbox", headers={"HX-Request": "true"}),
    # JSON
    "JSON for the phone": Kind(
        "supervisor", lambda c: f"/patrol/{c.ids['village']}/sources.json", mimetype="json"
    ),
    "sync token": Kind("supervisor", lambda c: "/sync/token", mimetype="json"),
    "API document": Kind(None, lambda c: "/api/v1/openapi.json", mimetype="json"),
    "API readings": Kind(
        None,
        lambda c: "/api/v1/readings",
        method="POST",
        headers={"Authorization": f"Bearer {DEMO_STATION_TOKEN}"},
        json={"readings": []},
        mimetype="json",
    ),
    "API refusal": Kind(
        None, lambda c: "/api/v1/readings", status=401, method="POST", json={"readings": []}
    ),
    # files
    "a photo": Kind("office", lambda c: f"/patrol/photos/{c.ids['photo']}/thumb", mimetype="image"),
    "an original photo": Kind(
        "office", lambda c: f"/patrol/photos/{c.ids['photo']}/original", mimetype="image"
    ),
    "a dossier document": Kind(
        "office", lambda c: f"/sources/documents/{c.ids['document']}", mimetype="pdf"
    ),
    "an Excel download": Kind("zhou", lambda c: "/enforce/draws/stats.xlsx", mimetype="sheet"),
    "static": Kind(None, lambda c: c.ids["asset"], mimetype="css"),
    "static, signed in": Kind("office", lambda c: c.ids["asset"], mimetype="css"),
    "manifest": Kind(None, lambda c: "/manifest.webmanifest"),
    "service worker": Kind(None, lambda c: "/sw.js"),
    "boundaries": Kind("office", lambda c: f"/grids/{c.ids['county']}/map.geojson"),
    # errors
    "404": Kind(None, lambda c: "/no-such-page", status=404),
    "404, signed in": Kind("office", lambda c: "/no-such-page", status=404),
    "403": Kind("stranger", lambda c: f"/patrol/photos/{c.ids['photo']}/thumb", status=403),
    "405": Kind("office", lambda c: "/sync/token", status=405, method="DELETE"),
    "sign-in needed": Kind(None, lambda c: "/sources/", status=302),
    "sign-in needed, htmx": Kind(
        None, lambda c: "/problems/inbox", status=401, headers={"HX-Request": "true"}
    ),
}

MIMETYPES = {
    "json": "application/json",
    "image": "image/jpeg",
    "pdf": "application/pdf",
    "sheet": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "css": "text/css",
}


@pytest.fixture(scope="module")
def https_app(app):
    """The application as deployed (SESSION_COOKIE_SECURE, its default), on the test's
    database: each request runs in the test's transaction (db_session binds the session)."""
    application = make_app(
        app.config["SQLALCHEMY_DATABASE_URI"],
        SESSION_COOKIE_SECURE=True,
        PHOTO_STORAGE_DIR=app.config["PHOTO_STORAGE_DIR"],  # where the factories keep photos
    )
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def ctx(https_app, db_session, make_world, make_source, make_patrol, make_photo):
    world = make_world()
    stranger = make_world()
    source = make_source(world)
    patrol = make_patrol(world, sources=[source])
    visit = factories.visits_of(patrol)[0]
    photo = make_photo(world, visit_photo, visit)
    document = ledger.add_document(
        source, "排污许可证", PDF, "application/pdf", world.county_office, photo_store()
    )
    with https_app.test_request_context():
        asset = asset_url("css/app.css")
    zhou = db.session.scalar(sa.select(User).where(User.username == "zhou"))
    return Ctx(
        people={
            "office": world.county_office,
            "supervisor": world.supervisor,
            "stranger": stranger.supervisor,
            "zhou": zhou,
        },
        ids={
            "source": source.id,
            "village": world.village.id,
            "county": world.county.id,
            "photo": photo.id,
            "document": document.id,
            "asset": asset,
        },
    )


def _ask(https_app, ctx, kind: Kind):
    client = https_app.test_client()
    if kind.who is not None:
        sign_in(client, ctx.people[kind.who])
    answer = client.open(kind.path(ctx), method=kind.method, headers=kind.headers, json=kind.json)
    answer.get_data()
    answer.close()
    return answer


def _security_gaps(answer) -> list[str]:
    """What is missing or weak among the security headers of `answer`."""
    headers = answer.headers
    gaps = []
    hsts = headers.get("Strict-Transport-Security", "")
    match = re.fullmatch(r"max-age=(\d+)(; includeSubDomains)?(; preload)?", hsts)
    if not match or int(match.group(1)) < YEAR:
        gaps.append(f"HSTS {hsts!r}")
    if headers.get("X-Content-Type-Options") != "nosniff":
        gaps.append("no nosniff")
    if headers.get("X-Frame-Options") != "DENY":
        gaps.append(f"X-Frame-Options {headers.get('X-Frame-Options')!r}")
    if headers.get("Referrer-Policy") not in ("same-origin", "no-referrer", "strict-origin"):
        gaps.append(f"Referrer-Policy {headers.get('Referrer-Policy')!r}")
    csp = headers.get("Content-Security-Policy", "")
    for part in ("frame-ancestors 'none'", "object-src 'none'", "script-src 'self'"):
        if part not in csp:
            gaps.append(f"CSP without {part}")
    if "unsafe-inline" in csp or "unsafe-eval" in csp:
        gaps.append(f"CSP {csp!r}")
    # one of each: a second, weaker copy (a view's beside the hook's) would be a gap
    for name in ("Content-Security-Policy", "X-Frame-Options", "Cache-Control"):
        if len(headers.getlist(name)) > 1:
            gaps.append(f"{name} twice: {headers.getlist(name)}")
    return gaps


def _cache_gaps(answer, label: str) -> list[str]:
    """no-store, unless `label` is a kind that may be kept (and then exactly its policy, with a
    validator when it is a file)."""
    cache = answer.headers.get("Cache-Control", "")
    kept = KEPT.get(label.removesuffix(", signed in"))
    if kept is None:
        return [] if "no-store" in cache.split(", ") else [f"Cache-Control {cache!r}"]
    gaps = [] if cache == kept else [f"Cache-Control {cache!r}, not {kept!r}"]
    validated = "ETag" in answer.headers or "Last-Modified" in answer.headers
    if label.startswith(("static", "boundaries")) and not validated:
        gaps.append("kept without an ETag or Last-Modified")
    return gaps


def test_every_kind_of_response_has_the_security_headers(https_app, ctx):
    """One test over the table (the records it reads are made once): every gap is listed."""
    failures = []
    for label, kind in KINDS.items():
        answer = _ask(https_app, ctx, kind)
        gaps = []
        if answer.status_code != kind.status:
            gaps.append(f"status {answer.status_code}, not {kind.status}")
        if kind.mimetype and answer.mimetype != MIMETYPES[kind.mimetype]:
            gaps.append(f"type {answer.mimetype}")
        if "HX-Request" in kind.headers and "<html" in answer.get_data(as_text=True):
            gaps.append("the whole page, not the fragment")
        gaps += _security_gaps(answer) + _cache_gaps(answer, label)
        failures += [f"{label} ({kind.path(ctx)}): {gap}" for gap in gaps]
    assert failures == [], "\n".join(failures)


def test_the_service_worker_may_control_the_whole_site(https_app, db_session):
    answer = https_app.test_client().get("/sw.js")
    assert answer.headers["Service-Worker-Allowed"] == "/"
    assert answer.mimetype == "text/javascript"


def test_every_signed_in_page_is_kept_by_no_cache(https_app, db_session):
    """Every route without a path parameter, asked for by the prefecture office (who sees every
    grid), as a page and as htmx: no-store, unless it is one of the kinds that may be kept."""
    client = https_app.test_client()
    sign_in(client, db.session.scalar(sa.select(User).where(User.username == "zhou")))
    assert client.get("/").status_code == 200
    kept = {"static", "desk.manifest", "desk.service_worker"}
    seen, failures = [], []
    for rule in https_app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.endpoint in kept:
            continue
        for headers in ({}, {"HX-Request": "true"}):
            answer = client.get(rule.rule, headers=headers)
            answer.close()
            gaps = _security_gaps(answer) + _cache_gaps(answer, rule.endpoint)
            if answer.status_code >= 500:
                gaps.append(f"status {answer.status_code}")
            failures += [f"{rule.rule} {headers}: {gap}" for gap in gaps]
        seen.append(rule.rule)
    assert failures == [], "\n".join(failures)
    assert len(seen) >= 40, seen  # the sweep did reach the app's pages


def test_plain_http_development_sends_no_hsts(client, auth):
    """`make run` serves plain HTTP on loopback (SESSION_COOKIE_SECURE false): no HSTS there,
    which would pin a development host to HTTPS; every other header stays."""
    auth.login("cun")
    for path in ("/", "/login", "/no-such-page"):
        answer = client.get(path)
        assert "Strict-Transport-Security" not in answer.headers, path
        assert answer.headers["X-Content-Type-Options"] == "nosniff", path
        assert "no-store" in answer.headers["Cache-Control"], path


# --- the service worker keeps what the browser may not -------------------------------------------


@pytest.mark.browser
def test_a_no_store_page_still_opens_offline(page, context, live_server):
    """no-store keeps pages out of the browser's HTTP cache, not out of the service worker's
    own cache (Cache API): a signed-in page seen once opens offline."""
    browser_sign_in(page, live_server, "cun")
    page.evaluate("navigator.serviceWorker.ready")
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    response = page.reload()
    assert "no-store" in response.headers["cache-control"]
    heading = page.locator("h1").first.inner_text()
    context.set_offline(True)
    try:
        response = page.reload()
        assert response.ok and response.from_service_worker
        assert page.locator("h1").first.inner_text() == heading
    finally:
        context.set_offline(False)


def test_an_error_keeps_the_headers_it_carries(client, auth):
    """A 405 says which methods the URL takes (HTTP requires Allow), as a page and as JSON."""
    auth.login("cun")
    for accept in ("text/html", "application/json"):
        answer = client.delete("/sync/token", headers={"Accept": accept})
        assert answer.status_code == 405
        assert set(answer.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
        assert answer.mimetype == accept
