"""Signing in: hashed passwords, CSRF, rate limits, sessions that end when they should."""

import re
import time

import pytest
import sqlalchemy as sa

from app import create_app
from extensions import db
from grid.models import User
from tests.conftest import DEMO_PASSWORD, csrf_token


def user(login):
    return db.session.scalar(sa.select(User).where(User.username == login))


def test_login_page_renders(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.get_data(as_text=True)


def test_login_by_name_and_by_mobile(client, auth):
    assert auth.login("cun").status_code == 302
    assert client.get("/").status_code == 200
    mobile = user("cun").mobile
    auth.logout()
    assert client.get("/").status_code == 302
    response = auth.login(mobile)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_wrong_password_and_unknown_user_look_the_same(client, auth):
    wrong = auth.login("cun", "not-the-password")
    unknown = auth.login("nobody-by-this-name", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    text = "The log-in name or password is wrong."
    assert (
        wrong.get_data(as_text=True).count("用户名或密码错误")
        + wrong.get_data(as_text=True).count(text)
        == 1
    )
    assert client.get("/").status_code == 302


def test_passwords_are_hashed_with_scrypt(db_session):
    stored = user("cun").password_hash
    assert stored.startswith("scrypt:") and DEMO_PASSWORD not in stored


def test_disabled_user_cannot_sign_in(client, auth, db_session):
    user("cun").active = False
    db.session.commit()
    assert auth.login("cun").status_code == 401


def test_password_change_ends_other_sessions(client, auth, db_session):
    auth.login("cun")
    assert client.get("/").status_code == 200
    user("cun").set_password("a-new-password")
    db.session.commit()
    assert client.get("/").status_code == 302  # the old session no longer loads the user


def test_post_without_csrf_token_is_refused(client, auth):
    auth.login("admin")
    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    response = client.post(
        "/people/new", data={"username": "x1", "name": "某", "password": "12345678"}
    )
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before
    response = client.post("/login", data={"login": "cun", "password": DEMO_PASSWORD})
    assert response.status_code == 400


def test_post_with_a_forged_token_is_refused(client, auth):
    auth.login("cun")
    response = client.post("/logout", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert client.get("/").status_code == 200  # still signed in


def test_htmx_header_token_is_accepted(client, auth):
    auth.login("cun")
    token = csrf_token(client, "/")
    response = client.post("/lang", data={"lang": "en"}, headers={"X-CSRFToken": token})
    assert response.status_code == 302


def test_login_rate_limit_per_account(client):
    token = csrf_token(client)
    codes = [
        client.post(
            "/login", data={"login": "cun", "password": "wrong-password", "csrf_token": token}
        ).status_code
        for _ in range(6)
    ]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    # another account from the same address is not blocked by this one's limit
    other = client.post(
        "/login", data={"login": "zhou", "password": DEMO_PASSWORD, "csrf_token": token}
    )
    assert other.status_code == 302


def test_login_rate_limit_per_address(app, client):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "3 per minute"
    try:
        token = csrf_token(client)
        codes = [
            client.post(
                "/login", data={"login": f"user{i}", "password": "x", "csrf_token": token}
            ).status_code
            for i in range(4)
        ]
    finally:
        app.config["LOGIN_LIMIT_PER_ADDRESS"] = "30 per minute; 300 per hour"
    assert codes == [401, 401, 401, 429]


def test_rate_limited_page_says_when_to_try_again(client):
    token = csrf_token(client)
    for _ in range(6):
        last = client.post("/login", data={"login": "cun", "password": "x", "csrf_token": token})
    assert last.status_code == 429
    assert last.headers["Retry-After"] in ("29", "30")  # LOGIN_DELAY after the free failures
    text = last.get_data(as_text=True)
    assert re.search(r"登录失败次数过多，请在(29|30)秒钟后再试。", text), text
    client.post("/lang", data={"lang": "en", "csrf_token": token})
    last = client.post("/login", data={"login": "cun", "password": "x", "csrf_token": token})
    assert last.status_code == 429
    assert re.search(
        r"Too many failed sign-ins. Please try again in (29|30) seconds.",
        last.get_data(as_text=True),
    )


# --- throttling that slows an attacker and lets the owner in (grid/throttle.py) -----------------

ATTACKER, OWNER = "198.51.100.9", "203.0.113.5"


def attempt(client, password, address, login="cun"):
    """One sign-in from `address` (a fresh token each time: the form as a browser sends it)."""
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def test_owner_signs_in_from_another_address_while_an_attacker_is_throttled(app, client):
    attacker = app.test_client()
    codes = [attempt(attacker, f"guess-{i}", ATTACKER).status_code for i in range(7)]
    assert codes == [401] * 5 + [429] * 2
    # the right password from the attacker's address is refused too: it is not even checked
    assert attempt(attacker, DEMO_PASSWORD, ATTACKER).status_code == 429
    assert attempt(client, DEMO_PASSWORD, OWNER).status_code == 302
    assert client.get("/").status_code == 200


def test_a_device_that_signed_in_before_is_let_in_when_the_account_is_locked(
    app, client, monkeypatch
):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "6 per hour")
    owner = client
    assert attempt(owner, DEMO_PASSWORD, OWNER).status_code == 302  # the device cookie is given
    assert owner.get_cookie("gp_device", path="/login") is not None
    owner.post("/logout", data={"csrf_token": csrf_token(owner)})
    # guesses spread over three addresses: none of them is slowed down on its own ...
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        bot = app.test_client()
        assert [attempt(bot, "guess", address).status_code for _ in range(2)] == [401, 401]
    # ... but together they reach the account's ceiling: a browser that never signed in to
    # it (the owner's new phone, or the next bot) waits, and is told how long
    newcomer = app.test_client()
    refused = attempt(newcomer, DEMO_PASSWORD, "192.0.2.4")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # the owner's own browser, with its device cookie, from the same address as a bot
    assert attempt(owner, DEMO_PASSWORD, "192.0.2.1").status_code == 302
    assert owner.get("/").status_code == 200


def test_a_rotated_secret_key_keeps_sessions_and_devices_while_the_old_one_is_a_fallback(
    app, client, monkeypatch
):
    """docs/operations.md, key rotation: the new key signs, the old one (SECRET_KEY_FALLBACKS)
    is still read, so nobody in the field is signed out or loses a trusted device that day."""
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "2 per hour")
    assert attempt(client, DEMO_PASSWORD, OWNER).status_code == 302
    # Signed with the old key: the browser's session and its trusted device.
    name = app.config["SESSION_COOKIE_NAME"]
    session = client.get_cookie(name).value
    device = client.get_cookie("gp_device", path="/login").value
    old = app.config["SECRET_KEY"]
    monkeypatch.setitem(app.config, "SECRET_KEY", "a-new-secret-key-for-the-rotation-test")
    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", [old])
    kept = app.test_client()
    kept.set_cookie(name, session)
    assert kept.get("/").status_code == 200  # still signed in
    bot = app.test_client()
    assert [attempt(bot, "guess", "192.0.2.8").status_code for _ in range(2)] == [401, 401]
    # The account is locked; the owner's device cookie, signed with the old key, still counts.
    phone = app.test_client()
    phone.set_cookie("gp_device", device, path="/login")
    assert attempt(phone, DEMO_PASSWORD, OWNER).status_code == 302
    # Once the old key is dropped, what it signed is read no more.
    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", [])
    again = app.test_client()
    again.set_cookie("gp_device", device, path="/login")
    assert attempt(again, DEMO_PASSWORD, OWNER).status_code == 429
    over = app.test_client()
    over.set_cookie(name, session)
    assert over.get("/").status_code == 302  # to the log-in page: that session is over


def test_a_device_cookie_is_for_its_own_account_only(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "2 per hour")
    assert attempt(client, DEMO_PASSWORD, OWNER, login="zhou").status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    bot = app.test_client()
    assert [attempt(bot, "guess", "192.0.2.7").status_code for _ in range(2)] == [401, 401]
    assert attempt(client, DEMO_PASSWORD, OWNER).status_code == 429  # cun: zhou's cookie


def test_a_forged_device_cookie_does_not_help(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "2 per hour")
    bot = app.test_client()
    assert [attempt(bot, "guess", "192.0.2.7").status_code for _ in range(2)] == [401, 401]
    client.set_cookie("gp_device", f'[[{user("cun").id}, "x"]]', path="/login")
    assert attempt(client, DEMO_PASSWORD, OWNER).status_code == 429


def test_a_device_that_fails_too_often_loses_its_exemption(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "3 per hour")
    monkeypatch.setitem(app.config, "LOGIN_FREE_FAILURES", 10)
    monkeypatch.setitem(app.config, "LOGIN_DEVICE_FAILURES", 2)
    assert attempt(client, DEMO_PASSWORD, OWNER).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    # a stolen phone guessing with the owner's cookie: two failures on the device's own count,
    # then it is an untrusted client like any other, and its guesses count for the account
    codes = [attempt(client, "guess", OWNER).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]


def test_the_delay_grows_with_each_failure(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FREE_FAILURES", 2)
    monkeypatch.setitem(app.config, "LOGIN_DELAY", 1)
    assert [attempt(client, "guess", ATTACKER).status_code for _ in range(2)] == [401, 401]
    waits = []
    for _ in range(2):
        refused = attempt(client, "guess", ATTACKER)
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        time.sleep(waits[-1] + 0.05)  # refused until the delay has passed, then one more try
        assert attempt(client, "guess", ATTACKER).status_code == 401
    refused = attempt(client, DEMO_PASSWORD, ATTACKER)  # refused, right password or not
    waits.append(int(refused.headers["Retry-After"]))
    assert refused.status_code == 429 and waits == [1, 2, 4]


def test_a_success_forgets_the_failures(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FREE_FAILURES", 2)
    assert attempt(client, "guess", ATTACKER).status_code == 401
    assert attempt(client, DEMO_PASSWORD, ATTACKER).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    client.delete_cookie("gp_device", path="/login")  # counted by its address again
    assert [attempt(client, "guess", ATTACKER).status_code for _ in range(3)] == [401, 401, 429]


def test_unknown_names_are_throttled_like_real_ones(app, client):
    codes = [attempt(client, "guess", ATTACKER, login="nobody-by-this-name").status_code]
    codes += [
        attempt(client, "guess", ATTACKER, login="nobody-by-this-name").status_code
        for _ in range(5)
    ]
    assert codes == [401] * 5 + [429]


def test_safe_redirect_after_login(client):
    token = csrf_token(client)
    far = client.post(
        "/login?next=https://evil.example/",
        data={"login": "cun", "password": DEMO_PASSWORD, "csrf_token": token},
    )
    assert far.headers["Location"] == "/"


@pytest.mark.parametrize("path", ["/", "/grids/map", "/people/"])
def test_pages_need_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_scripts_get_401_not_a_redirect(client):
    response = client.get("/grids/locate?lat=44&lon=87", headers={"Accept": "application/json"})
    assert response.status_code == 401 and response.json["error"] == "login_required"
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("written", "read"),
    [("old-key", ["old-key"]), ('["old-1", "old-2"]', ["old-1", "old-2"])],
)
def test_secret_key_fallbacks_from_the_environment_are_whole_keys(monkeypatch, written, read):
    """A bare key would otherwise be taken as a list of its characters, each a valid key."""
    monkeypatch.setenv("GRIDPATROL_SECRET_KEY_FALLBACKS", written)
    application = create_app(
        {"SECRET_KEY": "k" * 32, "SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True}
    )
    assert application.config["SECRET_KEY_FALLBACKS"] == read
