"""Sessions known to the server (grid.models.UserSession): signing out ends one for good, a person
ends a lost phone's, an administrator ends all of someone's; a fresh CSRF token at sign-in; the
client's address behind trusted proxies (TRUSTED_PROXIES)."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from grid.models import User, UserSession
from grid.services import SEEN_EVERY
from grid.time import utcnow
from tests.conftest import DEMO_PASSWORD, AuthActions, csrf_token, make_app


def user(login):
    return db.session.scalar(sa.select(User).where(User.username == login))


def sessions_of(login):
    return list(
        db.session.scalars(
            sa.select(UserSession)
            .where(UserSession.user_id == user(login).id)
            .order_by(UserSession.id)
            .execution_options(populate_existing=True)
        )
    )


def device(app, login="cun", user_agent="phone"):
    """Another browser, signed in as `login` through the form."""
    other = app.test_client()
    other.environ_base["HTTP_USER_AGENT"] = user_agent
    assert AuthActions(other).login(login).status_code == 302
    return other


def test_signing_in_records_the_device(app, client):
    before = len(sessions_of("cun"))
    client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (Linux; Android 14) " + "x" * 400
    assert AuthActions(client).login("cun").status_code == 302
    rows = sessions_of("cun")
    assert len(rows) == before + 1
    row = rows[-1]
    assert row.ended_at is None and row.address == "127.0.0.1"
    assert row.user_agent.startswith("Mozilla/5.0 (Linux; Android 14)")
    assert len(row.user_agent) == 200
    assert len(row.token_hash) == 64  # the cookie's secret itself is not stored


def test_a_cookie_replayed_after_signing_out_is_anonymous(client, auth):
    auth.login("cun")
    assert client.get("/").status_code == 200
    saved = client.get_cookie("session").value
    assert auth.logout().status_code == 302
    client.set_cookie("session", saved)  # the copy an attacker kept, sent again
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/sync/token").status_code == 401
    ended = sessions_of("cun")[-1]
    assert ended.ended_at is not None and ended.ended_by_id == user("cun").id


def test_ending_a_lost_phone_from_the_devices_page(app, client, auth):
    phone = device(app, user_agent="Lost phone")
    auth.login("cun")
    page = client.get("/account/sessions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Lost phone" in html
    assert html.count('<span class="tag">本设备</span>') == 1  # this browser, only it
    phone_session = next(s for s in sessions_of("cun") if s.user_agent == "Lost phone")
    assert phone.get("/").status_code == 200
    ended = client.post(
        f"/account/sessions/{phone_session.id}/end", data={"csrf_token": csrf_token(client)}
    )
    assert ended.status_code == 303
    assert phone.get("/").status_code == 302  # the phone is signed out ...
    assert client.get("/").status_code == 200  # ... this browser is not
    assert "Lost phone" not in client.get("/account/sessions").get_data(as_text=True)


def test_nobody_ends_someone_elses_session_from_their_own_page(app, client, auth):
    other = device(app, login="zhou")
    auth.login("cun")
    theirs = sessions_of("zhou")[-1]
    response = client.post(
        f"/account/sessions/{theirs.id}/end", data={"csrf_token": csrf_token(client)}
    )
    assert response.status_code == 404
    assert other.get("/").status_code == 200
    assert sessions_of("zhou")[-1].ended_at is None


def test_an_administrator_ends_all_of_someones_sessions(app, client, auth):
    phones = [device(app, user_agent=f"phone {i}") for i in range(2)]
    auth.login("admin")
    person = client.get(f"/people/{user('cun').id}").get_data(as_text=True)
    assert re.search(r"当前在 \d+ 台设备上登录", person)
    response = client.post(
        f"/people/{user('cun').id}/sessions/end", data={"csrf_token": csrf_token(client)}
    )
    assert response.status_code == 303
    assert all(phone.get("/").status_code == 302 for phone in phones)
    assert all(s.ended_at is not None for s in sessions_of("cun"))
    assert {s.ended_by_id for s in sessions_of("cun")[-2:]} == {user("admin").id}
    assert client.get("/").status_code == 200  # the administrator stays signed in


@pytest.mark.parametrize("login", ["cun", "changji"])  # a supervisor, a county office
def test_someone_who_does_not_administer_the_person_cannot_end_their_sessions(
    app, client, auth, login
):
    phone = device(app, login="sangong")
    auth.login(login)
    response = client.post(
        f"/people/{user('sangong').id}/sessions/end", data={"csrf_token": csrf_token(client)}
    )
    assert response.status_code == 404
    assert phone.get("/").status_code == 200


def test_the_csrf_token_from_before_signing_in_is_refused_after_it(client):
    before = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"login": "cun", "password": DEMO_PASSWORD, "csrf_token": before}
    )
    assert response.status_code == 302
    refused = client.post("/lang", data={"lang": "en", "csrf_token": before})
    assert refused.status_code == 400
    after = csrf_token(client, "/")
    assert after != before
    assert client.post("/lang", data={"lang": "en", "csrf_token": after}).status_code == 302


def test_a_session_past_its_lifetime_is_anonymous(app, client, auth):
    auth.login("cun")
    row = sessions_of("cun")[-1]
    row.created_at = utcnow() - app.permanent_session_lifetime - timedelta(minutes=1)
    db.session.commit()
    assert client.get("/").status_code == 302


def test_last_seen_is_written_every_few_minutes_not_on_every_page(client, auth):
    auth.login("cun")
    row = sessions_of("cun")[-1]
    recent = utcnow() - SEEN_EVERY / 2
    row.last_seen_at = recent
    db.session.commit()
    assert client.get("/").status_code == 200
    assert sessions_of("cun")[-1].last_seen_at == recent  # not written again yet
    stale = utcnow() - SEEN_EVERY * 2
    row.last_seen_at = stale
    db.session.commit()
    assert client.get("/").status_code == 200
    assert sessions_of("cun")[-1].last_seen_at > stale + SEEN_EVERY


def test_changing_the_password_still_ends_every_session(app, client, auth):
    phone = device(app)
    auth.login("cun")
    user("cun").set_password("another-password")
    db.session.commit()
    assert phone.get("/").status_code == 302 and client.get("/").status_code == 302


# --- client addresses behind trusted proxies ---------------------------------------------------

FORWARDED = {"HTTP_X_FORWARDED_FOR": "203.0.113.50", "REMOTE_ADDR": "10.0.0.2"}


def _failures(client, n, forwarded_for):
    codes = []
    for _ in range(n):
        token = csrf_token(client)
        codes.append(
            client.post(
                "/login",
                data={"login": "zhou", "password": "guess", "csrf_token": token},
                environ_base={**FORWARDED, "HTTP_X_FORWARDED_FOR": forwarded_for},
            ).status_code
        )
    return codes


@pytest.fixture
def proxied(app, db_session):
    """The same application behind one trusted proxy (its own app, on the test's database)."""
    return make_app(app.config["SQLALCHEMY_DATABASE_URI"], TRUSTED_PROXIES=1)


def test_behind_one_trusted_proxy_the_forwarded_address_counts(proxied):
    client = proxied.test_client()
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"login": "cun", "password": DEMO_PASSWORD, "csrf_token": token},
        environ_base=FORWARDED,
    )
    assert response.status_code == 302
    assert sessions_of("cun")[-1].address == "203.0.113.50"
    # the throttle counts the forwarded client: one is slowed down, another is not
    throttled = proxied.test_client()
    assert _failures(throttled, 6, "198.51.100.1") == [401] * 5 + [429]
    assert _failures(throttled, 1, "198.51.100.2") == [401]


def test_without_trusted_proxies_the_header_is_ignored(app, client):
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"login": "cun", "password": DEMO_PASSWORD, "csrf_token": token},
        environ_base=FORWARDED,
    )
    assert response.status_code == 302
    assert sessions_of("cun")[-1].address == "10.0.0.2"
    # a forged header does not give an attacker a fresh address for every guess
    other = app.test_client()
    codes = [_failures(other, 1, f"198.51.100.{i}")[0] for i in range(6)]
    assert codes == [401] * 5 + [429]


def test_trusted_proxies_must_be_a_whole_number(app):
    for wrong in (-1, "1", 1.5, True):
        with pytest.raises(RuntimeError, match="TRUSTED_PROXIES"):
            make_app(app.config["SQLALCHEMY_DATABASE_URI"], TRUSTED_PROXIES=wrong)
