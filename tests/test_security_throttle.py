"""Log-in throttling behind nginx (grid/throttle.py, app._trust_proxies).

Behind nginx every request comes from nginx's own address; the client's is the last entry of
X-Forwarded-For, which nginx appends to whatever the client sent ($proxy_add_x_forwarded_for,
deploy/nginx). With TRUSTED_PROXIES=1, ProxyFix takes that right-most entry and nothing to its
left, so:

- the per-address limit (password spraying) counts each forwarded client apart: one client is
  held back, the next is not (else one attacker would lock out everyone behind the proxy);
- one account is held back across many forwarded addresses;
- an extra X-Forwarded-For entry the client writes itself gives it no fresh address.

Already in tests/test_sessions.py: one forwarded client slowed down on one account while
another is not, and TRUSTED_PROXIES=0 ignoring a forged header on one account. Here: the rest.
"""

import pytest
import sqlalchemy as sa

from extensions import db, limiter
from grid.models import User, UserSession
from tests.conftest import DEMO_PASSWORD, csrf_token, make_app

NGINX = "10.0.0.2"  # REMOTE_ADDR of every request that came through the proxy
ATTACKER = "198.51.100.7"


def _user(login: str) -> User:
    return db.session.scalar(sa.select(User).where(User.username == login))


def _sign_in(client, login: str, password: str, forwarded_for: str | None, remote=NGINX):
    """One sign-in as the proxy passes it on: X-Forwarded-For as it arrives at the app."""
    token = csrf_token(client)
    environ = {"REMOTE_ADDR": remote}
    if forwarded_for is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": token},
        environ_base=environ,
    )


def _last_session_address(login: str) -> str:
    return db.session.scalar(
        sa.select(UserSession.address)
        .where(UserSession.user_id == _user(login).id)
        .order_by(UserSession.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )


def _behind(app, hops: int):
    return make_app(app.config["SQLALCHEMY_DATABASE_URI"], TRUSTED_PROXIES=hops)


@pytest.fixture(scope="module")
def apps(app):
    """The app behind no proxy (the test app), one (nginx) and two (a balancer and nginx)."""
    return {0: app, 1: _behind(app, 1), 2: _behind(app, 2)}


@pytest.fixture
def behind(apps, db_session):
    """Each test's counters start empty (one storage for every app: the limiter's)."""
    with apps[1].app_context():
        limiter.reset()
    return apps


def test_spraying_is_counted_per_forwarded_address(behind, monkeypatch):
    app = behind[1]
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ADDRESS", "3 per minute")
    sprayer = app.test_client()
    codes = [_sign_in(sprayer, f"user{i}", "guess", ATTACKER).status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]
    # another phone behind the same proxy, on another account: its own count
    other = app.test_client()
    assert _sign_in(other, "cun", DEMO_PASSWORD, "203.0.113.20").status_code == 302
    assert _last_session_address("cun") == "203.0.113.20"


def test_one_account_is_throttled_across_forwarded_addresses(behind, monkeypatch):
    app = behind[1]
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "4 per hour")
    for i in range(4):  # one guess from each: no address is slowed down on its own
        bot = app.test_client()
        assert _sign_in(bot, "zhou", "guess", f"192.0.2.{i + 1}").status_code == 401
    newcomer = app.test_client()
    refused = _sign_in(newcomer, "zhou", DEMO_PASSWORD, "192.0.2.200")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    # the other accounts are not held back by it
    assert _sign_in(app.test_client(), "cun", DEMO_PASSWORD, "192.0.2.201").status_code == 302


def test_a_forged_hop_gives_no_fresh_address(behind, monkeypatch):
    """The client writes X-Forwarded-For itself, a new address each time; nginx appends the
    address it really came from, and only that one counts."""
    app = behind[1]
    guesser = app.test_client()
    codes = [
        _sign_in(guesser, "zhou", "guess", f"203.0.113.{i}, {ATTACKER}").status_code
        for i in range(6)
    ]
    assert codes == [401] * 5 + [429]
    # nor against the per-address limit, spraying over accounts
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ADDRESS", "3 per minute")
    with app.app_context():
        limiter.reset()
    codes = [
        _sign_in(guesser, f"user{i}", "guess", f"203.0.113.{i}, {ATTACKER}").status_code
        for i in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    # and the device list shows where a sign-in really came from
    phone = app.test_client()
    assert _sign_in(phone, "cun", DEMO_PASSWORD, "6.6.6.6, 203.0.113.30").status_code == 302
    assert _last_session_address("cun") == "203.0.113.30"


def test_two_trusted_proxies_take_the_second_address_from_the_right(behind):
    """A balancer in front of nginx (TRUSTED_PROXIES=2): X-Forwarded-For ends with the client
    (written by the balancer) and the balancer (by nginx); what the client wrote before them
    does not count."""
    app = behind[2]
    balancer = "10.0.0.9"
    guesser = app.test_client()
    codes = [
        _sign_in(guesser, "zhou", "guess", f"203.0.113.{i}, {ATTACKER}, {balancer}").status_code
        for i in range(6)
    ]
    assert codes == [401] * 5 + [429]
    other = app.test_client()
    assert _sign_in(other, "cun", DEMO_PASSWORD, f"203.0.113.99, {balancer}").status_code == 302
    assert _last_session_address("cun") == "203.0.113.99"


def test_without_trusted_proxies_forwarded_addresses_do_not_spread_spraying(behind, monkeypatch):
    """TRUSTED_PROXIES=0 (no proxy): X-Forwarded-For is anyone's to write; the per-address
    limit counts the connection's address whatever the header says."""
    app = behind[0]
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ADDRESS", "3 per minute")
    sprayer = app.test_client()
    codes = [
        _sign_in(sprayer, f"user{i}", "guess", f"203.0.113.{i}", remote=ATTACKER).status_code
        for i in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    assert _sign_in(app.test_client(), "cun", DEMO_PASSWORD, "6.6.6.6").status_code == 302
    assert _last_session_address("cun") == NGINX  # the connection's, not the header's
