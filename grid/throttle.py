"""Log-in throttling that slows an attacker without locking the owner out (OWASP Authentication
Cheat Sheet: counters per account and per address, a higher ceiling per account, a growing delay,
and its "device cookie" scheme).

Every sign-in attempt is checked, before its password, against:

- its address, over every account (`LOGIN_LIMIT_PER_ADDRESS`, each attempt counted): one machine
  trying many accounts (password spraying);
- its client on that account: the browser's device cookie for the account when it holds a valid
  one, otherwise its address. After `LOGIN_FREE_FAILURES` failures every further failure makes
  that client wait `LOGIN_DELAY` seconds, doubled each time up to `LOGIN_DELAY_MAX`; its failures
  are remembered for `LOGIN_FAILURE_MEMORY` seconds and a success forgets them. Nobody sleeps:
  the client is refused, with the time to wait, until the delay has passed;
- the account, for clients without its device cookie (`LOGIN_LIMIT_PER_ACCOUNT`, failures
  counted): a ceiling above the per-client one, for guesses spread over many addresses. While it
  is reached, browsers that have signed in to the account before (they hold its device cookie)
  still may; a device cookie that itself failed `LOGIN_DEVICE_FAILURES` times counts as no
  cookie until its failures are forgotten.

The counters live in the rate limiter's storage (`RATELIMIT_STORAGE_URI`: memory:// for one
process, redis:// shared by every worker and server), never in one process's variables.
"""

import hashlib
import math
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import Response, current_app, request, url_for
from flask_babel import format_timedelta
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse_many

from extensions import limiter

DEFAULTS = {
    "LOGIN_LIMIT_PER_ADDRESS": "30 per minute; 300 per hour",
    "LOGIN_LIMIT_PER_ACCOUNT": "30 per hour; 100 per day",
    "LOGIN_FREE_FAILURES": 5,
    "LOGIN_DELAY": 30,
    "LOGIN_DELAY_MAX": 3600,
    "LOGIN_FAILURE_MEMORY": 24 * 3600,
    "LOGIN_DEVICE_FAILURES": 10,
    "LOGIN_DEVICE_DAYS": 180,
}
DEVICE_COOKIE = "gp_device"
_DEVICES_KEPT = 5  # accounts remembered by one browser (an office computer is shared)
_SALT = "gridpatrol.login-device"


@dataclass(frozen=True)
class Attempt:
    """Who a sign-in attempt is for, and from where, as the counters know them."""

    account: str  # "u<id>", or a digest of the typed name when no account has it
    client: str  # "d<device nonce>" or "a<address>"
    address: str
    trusted: bool  # holds a device cookie for this account, not itself throttled


def attempt(user_id: int | None, typed_login: str) -> Attempt:
    """The attempt of this request on the account `user_id` (None: the name matches none, and
    is counted the same way, so the answers do not tell which names exist)."""
    if user_id is not None:
        account = f"u{user_id}"
    else:
        typed = typed_login.strip().lower().encode()
        account = "n" + hashlib.sha256(typed).hexdigest()[:32]
    address = request.remote_addr or "-"
    nonce = _device_nonces().get(user_id) if user_id is not None else None
    if nonce is not None and _enabled():
        device = f"d{nonce}"
        failures = limiter.storage.get(_key("fail", account, device))
        if failures < current_app.config["LOGIN_DEVICE_FAILURES"]:
            return Attempt(account, device, address, True)
    return Attempt(account, f"a{address}", address, False)


def refusal(attempt: Attempt) -> int | None:
    """Seconds this attempt must wait before its password is even checked, or None.

    Every attempt counts against its address, refused or not."""
    if not _enabled():
        return None
    config = current_app.config
    strategy = limiter.limiter
    for item in parse_many(config["LOGIN_LIMIT_PER_ADDRESS"]):
        if not strategy.hit(item, "login-address", attempt.address):
            return _seconds(strategy.get_window_stats(item, "login-address", attempt.address)[0])
    storage = limiter.storage
    wait_key = _key("wait", attempt.account, attempt.client)
    if storage.get(wait_key):
        return _seconds(storage.get_expiry(wait_key))
    if not attempt.trusted:
        for item in parse_many(config["LOGIN_LIMIT_PER_ACCOUNT"]):
            if not strategy.test(item, "login-account", attempt.account):
                stats = strategy.get_window_stats(item, "login-account", attempt.account)
                return _seconds(stats[0])
    return None


def failed(attempt: Attempt) -> None:
    """Count a wrong password: the client's failures (and its next delay), and the account's
    failures from untrusted clients."""
    if not _enabled():
        return
    config = current_app.config
    storage = limiter.storage
    failures = storage.incr(
        _key("fail", attempt.account, attempt.client), int(config["LOGIN_FAILURE_MEMORY"])
    )
    beyond = failures - int(config["LOGIN_FREE_FAILURES"])
    if beyond >= 0:
        delay = int(config["LOGIN_DELAY"]) * 2 ** min(beyond, 30)
        delay = max(1, min(delay, int(config["LOGIN_DELAY_MAX"])))
        wait_key = _key("wait", attempt.account, attempt.client)
        storage.clear(wait_key)
        storage.incr(wait_key, delay)
    if not attempt.trusted:
        for item in parse_many(config["LOGIN_LIMIT_PER_ACCOUNT"]):
            limiter.limiter.hit(item, "login-account", attempt.account)


def succeeded(attempt: Attempt, user_id: int, response: Response) -> None:
    """Forget the client's failures and give the browser (a fresh) device cookie for the
    account."""
    if _enabled():
        limiter.storage.clear(_key("fail", attempt.account, attempt.client))
        limiter.storage.clear(_key("wait", attempt.account, attempt.client))
    devices = _device_nonces()
    devices.pop(user_id, None)
    devices[user_id] = secrets.token_urlsafe(16)
    kept = list(devices.items())[-_DEVICES_KEPT:]
    config = current_app.config
    response.set_cookie(
        DEVICE_COOKIE,
        _serializer().dumps([[uid, nonce] for uid, nonce in kept]),
        max_age=int(config["LOGIN_DEVICE_DAYS"]) * 86400,
        path=url_for("grid.login"),  # sent to the log-in only
        secure=config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


def wait_message(seconds: int) -> str:
    """The words "try again in …", in the request's language: seconds under two minutes, else whole
    minutes (rounded up) or hours."""
    if seconds >= 120:
        seconds = math.ceil(seconds / 60) * 60
    wait = format_timedelta(timedelta(seconds=seconds), threshold=2, add_direction=False)
    return _("Too many failed sign-ins. Please try again in %(wait)s.", wait=wait)


def _enabled() -> bool:
    """RATELIMIT_ENABLED false (a development setting) turns every counter off."""
    return bool(current_app.config.get("RATELIMIT_ENABLED", True))


def _device_nonces() -> dict[int, str]:
    """The accounts this browser has signed in to, oldest first, with their device nonces."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return {}
    max_age = int(current_app.config["LOGIN_DEVICE_DAYS"]) * 86400
    try:
        entries = _serializer().loads(raw, max_age=max_age)
    except BadSignature:
        return {}
    devices: dict[int, str] = {}
    if isinstance(entries, list):
        for entry in entries:
            if (
                isinstance(entry, list)
                and len(entry) == 2
                and isinstance(entry[0], int)
                and isinstance(entry[1], str)
            ):
                devices[entry[0]] = entry[1]
    return devices


def _serializer() -> URLSafeTimedSerializer:
    """Signs with SECRET_KEY; reads what SECRET_KEY_FALLBACKS signed too, as Flask's session
    does, so that a rotated key does not forget every phone's trusted device."""
    config = current_app.config
    keys = [*(config.get("SECRET_KEY_FALLBACKS") or []), config["SECRET_KEY"]]  # newest last
    return URLSafeTimedSerializer(keys, salt=_SALT)


def _key(kind: str, account: str, client: str) -> str:
    return f"gridpatrol-login/{kind}/{account}/{client}"


def _seconds(until: float) -> int:
    return max(1, math.ceil(until - time.time()))
