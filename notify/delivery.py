"""The channels' plumbing: the server's VAPID key, the SMS sender, what a push says, the masked
names the delivery log shows, and one attempt on each channel, logged as a Delivery row.

The huey tasks (notify/tasks.py) call the attempts and retry them; nothing here retries.
"""

import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from extensions import db
from grid.time import datetime_local, utcnow
from notify import robots, webpush
from notify.models import Delivery, PushSubscription, Robot

log = logging.getLogger(__name__)

# --- configuration -------------------------------------------------------------------------------

DEFAULTS = {
    # The server's VAPID key (RFC 8292): a P-256 private key as PEM text, or else a file made on
    # first use (default <instance>/vapid_private.pem, mode 0600). Several servers must share
    # one: set VAPID_PRIVATE_KEY, or put the file on shared storage.
    "VAPID_PRIVATE_KEY": None,
    "VAPID_KEY_FILE": None,
    # Old VAPID keys kept while the browsers subscribed with them move to the current one
    # (docs/operations.md, "Key rotation"): PEM texts and files holding one each, as lists (one
    # given bare is one key). They sign only pushes to subscriptions made with them.
    "VAPID_PRIVATE_KEY_FALLBACKS": [],
    "VAPID_KEY_FALLBACK_FILES": [],
    # Who runs this server, for the push services' operators: a mailto: or https: URL.
    "VAPID_CONTACT": "mailto:admin@localhost",
    # Plain-http and loopback push endpoints are for tests only.
    "PUSH_ALLOW_LOOPBACK": False,
    # Robot webhooks must go to qyapi.weixin.qq.com / oapi.dingtalk.com unless this is set
    # (tests point them at a local server).
    "ROBOTS_ALLOW_ANY_HOST": False,
    # An object with send(mobile, text) -> SmsAnswer; None logs the message (LoggingSms).
    "SMS_SENDER": None,
}


def vapid_keys() -> webpush.VapidKeys:
    """The server's VAPID keys, read (or made) once per application and key."""
    config = current_app.config
    pem = config.get("VAPID_PRIVATE_KEY")
    path = config.get("VAPID_KEY_FILE") or os.path.join(
        current_app.instance_path, "vapid_private.pem"
    )
    cache = current_app.extensions.setdefault("notify.vapid", {})
    key = ("pem", pem) if pem else ("file", path)
    if key not in cache:
        if pem:
            cache[key] = webpush.from_pem(pem.encode() if isinstance(pem, str) else pem)
        else:
            cache[key] = webpush.load_or_create(path)
    return cache[key]


def _listed(value: Any) -> list:
    """A setting that is a list, given bare as one item (as SECRET_KEY_FALLBACKS is read: one
    old key, never a list of its characters)."""
    if not value:
        return []
    return [value] if isinstance(value, (str, bytes)) else list(value)


def vapid_fallbacks() -> list[webpush.VapidKeys]:
    """The old VAPID keys still kept (VAPID_PRIVATE_KEY_FALLBACKS, then VAPID_KEY_FALLBACK_FILES),
    each once and never the current one; read once per application and key. A file that cannot
    be read raises, naming it: a fallback is never made up."""
    config = current_app.config
    cache = current_app.extensions.setdefault("notify.vapid", {})
    found: list[webpush.VapidKeys] = []
    sources = [("pem", pem) for pem in _listed(config.get("VAPID_PRIVATE_KEY_FALLBACKS"))]
    sources += [("old file", path) for path in _listed(config.get("VAPID_KEY_FALLBACK_FILES"))]
    for key in sources:
        if key not in cache:
            kind, value = key
            if kind == "pem":
                cache[key] = webpush.from_pem(value.encode() if isinstance(value, str) else value)
            else:
                cache[key] = webpush.load(value)
        found.append(cache[key])
    current = vapid_keys().application_server_key
    unique: dict[str, webpush.VapidKeys] = {}
    for keys in found:
        if keys.application_server_key != current:
            unique.setdefault(keys.application_server_key, keys)
    return list(unique.values())


def known_vapid_keys() -> dict[str, webpush.VapidKeys]:
    """Every VAPID key the server signs with, by public key: the current one first."""
    current = vapid_keys()
    return {
        current.application_server_key: current,
        **{keys.application_server_key: keys for keys in vapid_fallbacks()},
    }


# --- SMS -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmsAnswer:
    """What an SMS gateway answered: `status` is "sent", "logged" or "failed"."""

    status: str
    retry: bool = False
    text: str = ""


class SmsSender(Protocol):
    """An SMS gateway (a provider's API behind it). Problems come back in the answer."""

    def send(self, mobile: str, text: str) -> SmsAnswer: ...


class LoggingSms:
    """No gateway: the message is written to the log (and the delivery log says "logged")."""

    def send(self, mobile: str, text: str) -> SmsAnswer:
        log.info("SMS to %s: %s", mask_mobile(mobile), text)
        return SmsAnswer("logged", text="written to the server log")


def sms_sender() -> SmsSender:
    return current_app.config.get("SMS_SENDER") or LoggingSms()


# --- what is shown of targets --------------------------------------------------------------------


def mask_mobile(mobile: str) -> str:
    return mobile[:3] + "****" + mobile[-4:] if len(mobile) >= 8 else "****"


def mask_endpoint(endpoint: str) -> str:
    """The push service's host and the endpoint's last characters (the rest is a capability)."""
    host = urlsplit(endpoint).hostname or "?"
    return f"{host} …{endpoint[-6:]}"


def mask_webhook(url: str) -> str:
    """A webhook URL with its key shown as its last four characters only."""
    parts = urlsplit(url)
    shown = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        shown.append(f"{name}=…{value[-4:]}" if len(value) > 8 else f"{name}=****")
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{'&'.join(shown)}"


def scrub(text: str, url: str, secret: str | None = None) -> str:
    """`text` (an answer, an exception's message) without the webhook's key or the secret: a
    connection error repeats the URL it tried."""
    values = [v for _k, v in parse_qsl(urlsplit(url).query) if len(v) >= 4]
    for value in [*values, *([secret] if secret else [])]:
        text = text.replace(value, "****")
    return text


# --- what a push says ----------------------------------------------------------------------------


def text_of(message: str, params: dict[str, Any]) -> str:
    """A notification's words in the current language: its msgid translated and filled from
    its parameters, and its record's number when the message does not say it."""
    text = _(message)
    try:
        text = text % params if "%(" in text else text
    except (KeyError, TypeError, ValueError):
        pass
    if "id" in params and "%(id)" not in message:
        text = f"{text} #{params['id']}"
    return text


def push_payload(
    kind: str,
    subject: str,
    message: str,
    params: dict[str, Any],
    url: str | None,
    locale: str | None,
) -> dict[str, Any]:
    """The push's JSON in the person's language: title, body, url, tag (one per subject, so a
    newer push about it replaces the older), kind, urgent (alerts: stays until touched) and,
    when the notification has one, its deadline (ISO 8601 UTC, and as words in China time)."""
    with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        title = _("GridPatrol")
        body = text_of(message, params)
        deadline = _deadline(params.get("deadline"))
        due = (
            _("Deadline: %(time)s", time=datetime_local(deadline)) if deadline is not None else None
        )
    payload: dict[str, Any] = {
        "title": title,
        "body": body,
        "url": url or "/",
        "tag": subject or kind,
        "kind": kind,
        "urgent": kind.startswith("alert") or deadline is not None,
    }
    if deadline is not None:
        payload["deadline"] = deadline.isoformat(timespec="seconds") + "Z"
        payload["deadline_text"] = due
    return payload


def _deadline(value: Any) -> datetime | None:
    """A deadline from a notification's params (an ISO string, UTC when naive), else None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None)


# --- one attempt on each channel -----------------------------------------------------------------

_MOBILE = re.compile(r"1[3-9]\d{9}")


def _log(**fields: Any) -> Delivery:
    row = Delivery(at=utcnow(), **fields)
    db.session.add(row)
    return row


def _next(retry_delay: float | None) -> datetime | None:
    return utcnow() + timedelta(seconds=retry_delay) if retry_delay else None


# What push services answer a push signed with a key the subscription was not made for:
# 403 (RFC 8292 §4.2; FCM), 401 (Mozilla's autopush), 400 (Apple: VapidPkHashMismatch).
KEY_REFUSED = (400, 401, 403)
RETIRED = "VAPID key retired: the browser must subscribe again"


def push_attempt(
    notification_id: int,
    user_id: int,
    subscription: PushSubscription,
    payload: dict[str, Any],
    attempt: int,
    retry_delay: float | None,
) -> bool:
    """Send one push, signed with the VAPID key the subscription was made for; log it; True
    when it is worth trying again (and `retry_delay` allows).

    A subscription whose key is not recorded (made before keys were) is signed with the current
    key, then, if its push service refuses that key, with each fallback: the key it takes is
    recorded. One whose key the server no longer keeps is not sent, and not retried: it stays
    until its browser subscribes again (as push.js does on the next page) or the key comes back
    as a fallback (it may be a server not yet restarted with the new keys)."""
    logged = {
        "notification_id": notification_id,
        "user_id": user_id,
        "channel": "webpush",
        "target": mask_endpoint(subscription.endpoint),
        "attempt": attempt,
    }
    known = known_vapid_keys()
    recorded = subscription.vapid_public
    if recorded is not None and recorded not in known:
        _log(**logged, status="failed", answer=RETIRED)
        return False
    contact = current_app.config["VAPID_CONTACT"]
    candidates = [known[recorded]] if recorded is not None else list(known.values())
    for keys in candidates:
        answer = webpush.send(subscription.info(), payload, keys, contact)
        if answer.status not in KEY_REFUSED:
            break
    again = answer.retry and retry_delay is not None
    if answer.ok:
        status = "sent"
        subscription.last_ok_at = utcnow()
        subscription.vapid_public = keys.application_server_key
    elif answer.gone:
        status = "gone"
        db.session.delete(subscription)  # the browser dropped it (404/410)
    else:
        status = "retry" if again else "failed"
    _log(
        **logged,
        status=status,
        http_status=answer.status,
        answer=answer.text[:500],
        next_attempt_at=_next(retry_delay) if again else None,
    )
    return again


def sms_attempt(
    notification_id: int,
    user_id: int,
    mobile: str,
    text: str,
    attempt: int,
    retry_delay: float | None,
) -> bool:
    """Send one SMS through the configured gateway; log it; True when worth trying again."""
    answer = sms_sender().send(mobile, text)
    again = answer.retry and retry_delay is not None
    _log(
        notification_id=notification_id,
        user_id=user_id,
        channel="sms",
        target=mask_mobile(mobile),
        attempt=attempt,
        status="retry" if again and answer.status == "failed" else answer.status,
        answer=answer.text[:500],
        next_attempt_at=_next(retry_delay) if again else None,
    )
    return again


def robot_attempt(
    robot: Robot,
    title: str,
    lines: list[str],
    mobiles: list[str],
    attempt: int,
    retry_delay: float | None,
    now_ms: int,
) -> robots.RobotAnswer:
    """Post one message to a robot; log it (with `next_attempt_at` when the caller will retry,
    `retry_delay` given); the answer says whether it is worth trying again."""
    url = robot.webhook_url
    if robot.kind == "dingtalk":
        url = robots.dingtalk_signed_url(url, robot.secret, now_ms)
    try:
        message = robots.robot_message(robot.kind, title, lines, mobiles)
    except ValueError as exc:
        answer = robots.RobotAnswer(False, None, None, str(exc)[:500], False, "")
    else:
        answer = robots.send(url, message)
    again = answer.retry and retry_delay is not None
    _log(
        robot_id=robot.id,
        grid_id=robot.grid_id,
        channel="robot",
        target=robot.name[:200],
        attempt=attempt,
        status="sent" if answer.ok else ("retry" if again else "failed"),
        http_status=answer.status,
        errcode=answer.errcode,
        answer=scrub(answer.errmsg or answer.body, url, robot.secret)[:500],
        next_attempt_at=_next(retry_delay) if again else None,
    )
    return answer


def plain_mobiles(values: Any) -> list[str]:
    """The well-formed mainland mobile numbers among `values`, once each."""
    seen: list[str] = []
    for value in values or ():
        number = str(value).strip()
        if _MOBILE.fullmatch(number) and number not in seen:
            seen.append(number)
    return seen
