"""Forged requests and planted sessions.

CSRF: every route that changes state (POST, PUT, PATCH, DELETE), taken from the app's URL map,
is sent by a signed-in administrator's browser without the form's token, and with a token of
another session: each must be refused (400, the form-expired message) and write nothing, not
one statement. A route that answers without the token is listed in EXEMPT with why it is safe
(it authenticates by something a forged cross-site request cannot send), and is checked to
refuse a request that brings only the browser's cookie. tests/test_hostile.py sends every
route bad values, always with a good token; tests/test_auth.py checks the token on the log-in
and one form, tests/test_sync.py on the sync API: this module covers every route.

Session fixation: the session a browser holds before signing in is not the signed-in session.
Signing in makes a new server-side session (grid.models.UserSession) whose secret only the new
cookie carries; a cookie from before, or one with a secret of someone's choosing, signs nobody
in. (Signing out ending the session server-side is tests/test_sessions.py's
test_a_cookie_replayed_after_signing_out_is_anonymous.)
"""

import re
import uuid

import pytest
import sqlalchemy as sa

from extensions import csrf, db
from grid.models import User, UserSession
from grid.services import session_token_hash
from grid.views import SESSION_KEY
from tests.conftest import DEMO_PASSWORD, csrf_token, sign_in

CHANGES = {"POST", "PUT", "PATCH", "DELETE"}
REFUSED = "The form has expired or was not sent from this site."

# Routes that change state without the form's token, by design, and why that is safe.
EXEMPT = {
    "alerts.readings": (
        "monitoring stations send a bearer token of their own (Authorization header), never a "
        "cookie: a cross-site request cannot set that header, and the signed-in browser's "
        "cookie does not count"
    ),
}


def _user(login: str) -> User:
    return db.session.scalar(sa.select(User).where(User.username == login))


def _changing_rules(app):
    return sorted(
        (
            (rule, method)
            for rule in app.url_map.iter_rules()
            for method in sorted(rule.methods & CHANGES)
        ),
        key=lambda item: (item[0].rule, item[1]),
    )


def _exempt(app, endpoint: str) -> bool:
    view = app.view_functions[endpoint]
    blueprint = app.blueprints.get(endpoint.rpartition(".")[0])
    return (
        f"{view.__module__}.{view.__name__}" in csrf._exempt_views
        or blueprint in csrf._exempt_blueprints
    )


def _path(rule) -> str:
    """The rule's path with a value for each parameter (the token is checked before any record
    is looked up, so any id does)."""
    path = re.sub(r"<int:\w+>", "1", rule.rule)
    path = re.sub(r"<uuid:\w+>", str(uuid.uuid4()), path)
    path = re.sub(r"<any\(([\w]+)[^)]*\):\w+>", r"\1", path)
    assert "<" not in path, f"a parameter this test cannot fill: {rule.rule}"
    return path


class Statements:
    """INSERT, UPDATE and DELETE statements sent to the database while counting."""

    def __init__(self, engine):
        self.engine = engine
        self.seen: list[str] = []

    def _execute(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip()[:7].upper() in ("INSERT ", "UPDATE ", "DELETE ", "REPLACE"):
            self.seen.append(statement.split("\n")[0][:80])

    def __enter__(self):
        self.seen.clear()
        sa.event.listen(self.engine, "before_cursor_execute", self._execute)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._execute)


def _row_counts() -> dict[str, int]:
    """Rows in every table of the app (reading is partitioned on PostGIS: counted as one)."""
    return {
        table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


@pytest.fixture
def admin(client):
    """The client signed in as the demo's administrator, its pages in English."""
    sign_in(client, _user("admin"))
    client.set_cookie("lang", "en")
    assert client.get("/").status_code == 200
    return client


def test_every_exemption_is_listed_with_its_reason(app):
    exempt = {rule.endpoint for rule, _m in _changing_rules(app) if _exempt(app, rule.endpoint)}
    assert exempt == set(EXEMPT), "a route that changes state without the form's token"


def test_every_state_changing_route_refuses_a_request_without_the_token(app, admin):
    other = app.test_client()
    foreign = csrf_token(other)  # a good token, for another browser's session
    attempts = [
        ("no token", {}, {}),
        ("another session's token", {"csrf_token": foreign}, {}),
        ("another session's token, as htmx", {}, {"X-CSRFToken": foreign, "HX-Request": "true"}),
    ]
    before = _row_counts()
    failures, tried = [], 0
    with Statements(db.engine) as writes:
        for rule, method in _changing_rules(app):
            if rule.endpoint in EXEMPT:
                continue
            path = _path(rule)
            for label, form, headers in attempts:
                writes.seen.clear()
                answer = admin.open(path, method=method, data=form, headers=headers)
                body = answer.get_data(as_text=True)
                tried += 1
                if answer.status_code != 400 or REFUSED not in body:
                    failures.append(f"{method} {path} ({label}): {answer.status_code}")
                if writes.seen:
                    failures.append(f"{method} {path} ({label}) wrote: {writes.seen}")
        # and as the phone's queue sends JSON
        writes.seen.clear()
        answer = admin.post("/sync/items", json={"sent": {}, "items": []})
        if answer.status_code != 400 or writes.seen:
            failures.append(f"POST /sync/items (JSON, no token): {answer.status_code}")
    assert failures == [], "\n".join(failures)
    assert _row_counts() == before
    assert tried >= 3 * 70  # every route was reached (there are over 70)
    assert admin.get("/").status_code == 200  # still signed in: the refusals ended nothing


def test_no_page_changes_state_on_get(app, admin):
    """The token guards POST only: a GET that wrote would be open to any page elsewhere (an
    <img src>). Every route without a parameter, as the administrator: not one statement."""
    failures = []
    with Statements(db.engine) as writes:
        for rule in app.url_map.iter_rules():
            if "GET" in rule.methods and not rule.arguments:
                writes.seen.clear()
                admin.get(rule.rule).close()
                if writes.seen:
                    failures.append(f"GET {rule.rule} wrote: {writes.seen}")
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("endpoint", sorted(EXEMPT))
def test_an_exempt_route_refuses_the_cookie_alone(app, admin, endpoint):
    """What the exemption rests on: the browser's cookie, signed in or not, does not count."""
    rules = [(r, m) for r, m in _changing_rules(app) if r.endpoint == endpoint]
    assert rules
    before = _row_counts()
    with Statements(db.engine) as writes:
        for rule, method in rules:
            answer = admin.open(_path(rule), method=method, json={"readings": []})
            assert answer.status_code == 401, (rule.rule, answer.status_code)
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert writes.seen == []
    assert _row_counts() == before


def test_over_https_a_good_token_from_another_site_is_refused(app, admin):
    """Behind HTTPS the token must also come with a Referer of this site (WTF_CSRF_SSL_STRICT):
    a token that leaked is not enough from another origin."""
    token = csrf_token(admin, "/")
    https = {"base_url": "https://localhost"}
    for referrer in (None, "https://evil.example/", "http://localhost/"):
        headers = {"Referer": referrer} if referrer else {}
        answer = admin.post(
            "/lang", data={"lang": "zh_CN", "csrf_token": token}, headers=headers, **https
        )
        assert answer.status_code == 400, referrer
    answer = admin.post(
        "/lang",
        data={"lang": "zh_CN", "csrf_token": token},
        headers={"Referer": "https://localhost/"},
        **https,
    )
    assert answer.status_code == 302


# --- session fixation ---------------------------------------------------------------------------


def _session_of(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)


def _sign_in_by_form(client, login: str):
    token = csrf_token(client, "/login")
    return client.post(
        "/login", data={"login": login, "password": DEMO_PASSWORD, "csrf_token": token}
    )


def _live_rows(login: str) -> list[UserSession]:
    return list(
        db.session.scalars(
            sa.select(UserSession)
            .where(UserSession.user_id == _user(login).id, UserSession.ended_at.is_(None))
            .execution_options(populate_existing=True)
        )
    )


def test_the_cookie_from_before_signing_in_is_not_the_signed_in_session(app, client):
    client.get("/login")
    planted = client.get_cookie("session").value  # what an attacker could have set
    assert SESSION_KEY not in _session_of(client)
    assert _sign_in_by_form(client, "cun").status_code == 302
    signed_in = client.get_cookie("session").value
    assert signed_in != planted
    secret = _session_of(client)[SESSION_KEY]
    assert session_token_hash(secret) in {row.token_hash for row in _live_rows("cun")}
    assert client.get("/").status_code == 200
    # the planted cookie, sent by the attacker's own browser, is nobody
    attacker = app.test_client()
    attacker.set_cookie("session", planted)
    answer = attacker.get("/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert attacker.get("/sync/token").status_code == 401


def test_each_sign_in_makes_a_new_secret(app, client, auth):
    secrets = []
    for _ in range(3):
        assert auth.login("cun").status_code == 302
        secrets.append(_session_of(client)[SESSION_KEY])
    assert len(set(secrets)) == 3
    assert len(secrets[0]) >= 32  # unguessable
    # signing in again ended the earlier sessions of this browser (auth.login signs out first)
    live = {row.token_hash for row in _live_rows("cun")}
    assert session_token_hash(secrets[-1]) in live
    assert not {session_token_hash(s) for s in secrets[:-1]} & live


def test_a_secret_of_someone_elses_choosing_signs_nobody_in(app, client):
    """A cookie signed with the app's key (a stolen key aside, only the app makes those) that
    names a user and a secret the server never issued: nobody."""
    cun = _user("cun")
    with client.session_transaction() as session:
        session["_user_id"] = cun.get_id()
        session["_fresh"] = True
        session[SESSION_KEY] = "chosen-by-the-attacker-" + "0" * 20
    answer = client.get("/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_cookie_not_signed_by_the_app_is_ignored(app, client, auth):
    auth.login("cun")
    value = client.get_cookie("session").value
    payload, _dot, _signature = value.rpartition(".")
    client.set_cookie("session", payload + ".forged")
    answer = client.get("/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
