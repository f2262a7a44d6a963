"""Signing in: hashed passwords, CSRF, rate limits, sessions that end when they should."""

import re

import pytest
import sqlalchemy as sa

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


def test_rate_limited_page_says_why(client):
    token = csrf_token(client)
    for _ in range(6):
        last = client.post("/login", data={"login": "cun", "password": "x", "csrf_token": token})
    assert last.status_code == 429
    assert re.search("请稍后再试|try again", last.get_data(as_text=True))


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
