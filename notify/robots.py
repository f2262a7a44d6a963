"""WeCom (企业微信) and DingTalk (钉钉) group robots: the message bodies, DingTalk's signed URL, the
webhook URL check for configuration, and one POST that reports instead of raising, so the delivery
task can log every attempt (formats and signing: ../shared/PUSH.md).

The text given here is plain text, typed by people (problem descriptions, place names). In markdown
messages it is neutralised: the characters that would make a link, an image, a heading, a quote,
bold, code, a coloured <font> or a WeCom <@userid> mention are replaced by their full-width forms,
which read the same to a Chinese reader but are not markup; line breaks inside one line become
spaces, so a line cannot start a forged heading of its own. Bare URLs are still linked by the apps.
"""

import base64
import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

ROBOT_KINDS = ("wecom", "dingtalk")

WECOM_MAX_BYTES = 2048  # text and markdown content, UTF-8 (PUSH.md)
# DingTalk documents no limit in PUSH.md; its answer to an over-long body is errcode 88 or 460101.
# The same cap keeps one message readable on a phone.
DINGTALK_MAX_BYTES = 2048
ELLIPSIS = "…"

# errcodes worth retrying later (with back-off): the robots' rate limits and "system busy".
#   -1      both: 系统繁忙, system busy
#   45009   WeCom: api freq out of limit (about 20 messages a minute per robot)
#   45033   WeCom: too many concurrent calls
#   130101  DingTalk: send too fast, exceed 20 times per minute (the robot is then held 10 minutes)
#   660026  DingTalk: listed as a rate limit in the brief; not confirmed in public documentation
RETRY_ERRCODES = frozenset({-1, 45009, 45033, 130101, 660026})

_MOBILE = re.compile(r"1[3-9]\d{9}")  # a mainland mobile number, as both robots take it
_MARKUP = str.maketrans(
    {
        "<": "＜",
        ">": "＞",
        "[": "［",
        "]": "］",
        "*": "＊",
        "`": "｀",
        "#": "＃",
        "_": "＿",
        "~": "～",
        "|": "｜",
        "!": "！",
        "&": "＆",
    }
)
# Control characters, Unicode line breaks and bidi overrides (which could make text read backwards).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


@dataclass(frozen=True)
class RobotAnswer:
    """What a robot answered: `ok` only for HTTP 200 with errcode 0; `retry` when trying again
    later may succeed (no connection, timeout, HTTP 5xx or 429, an errcode of RETRY_ERRCODES)."""

    ok: bool
    status: int | None
    errcode: int | None
    errmsg: str
    retry: bool
    body: str  # the first 500 characters of the answer


def fit_bytes(text: str, limit: int) -> str:
    """`text` if its UTF-8 fits in `limit` bytes, else cut at a character boundary and ended
    with "…" (the whole still within `limit`)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode("utf-8"))
    # The input is valid UTF-8, so only the partial character at the cut can fail to decode.
    return data[: max(room, 0)].decode("utf-8", errors="ignore") + ELLIPSIS


def _plain(text: str) -> str:
    """One line of plain text: control characters and line breaks become single spaces."""
    return _CONTROL.sub(" ", str(text)).strip()


def _inert(text: str) -> str:
    """One line of plain text that markdown shows as typed."""
    return _plain(text).translate(_MARKUP)


def _mobiles(values: Iterable[str]) -> list[str]:
    """The mobile numbers once each, in order; ValueError names a malformed one."""
    seen: list[str] = []
    for value in values:
        number = str(value).strip()
        if not _MOBILE.fullmatch(number):
            raise ValueError(f"not a mainland mobile number: {number!r}")
        if number not in seen:
            seen.append(number)
    return seen


def wecom_payload(
    title: str, lines: Sequence[str], mention_mobiles: Iterable[str] = (), markdown: bool = True
) -> dict[str, Any]:
    """A WeCom robot message. WeCom's markdown cannot mention by mobile number, so when
    `mention_mobiles` is given (or `markdown` is False) this is a text message with
    `mentioned_mobile_list`; otherwise a markdown message with `title` as its heading."""
    mobiles = _mobiles(mention_mobiles)
    if mobiles or not markdown:
        content = "\n".join([_plain(title), *(_plain(line) for line in lines)])
        text: dict[str, Any] = {"content": fit_bytes(content, WECOM_MAX_BYTES)}
        if mobiles:
            text["mentioned_mobile_list"] = mobiles
        return {"msgtype": "text", "text": text}
    content = "\n".join([f"# {_inert(title)}", *(_inert(line) for line in lines)])
    return {"msgtype": "markdown", "markdown": {"content": fit_bytes(content, WECOM_MAX_BYTES)}}


def dingtalk_payload(
    title: str, lines: Sequence[str], at_mobiles: Iterable[str] = (), at_all: bool = False
) -> dict[str, Any]:
    """A DingTalk markdown message. The mentioned mobiles go in `at` and, as DingTalk highlights
    them only then, at the end of the text as "@138...". The mentions survive a cut."""
    mobiles = _mobiles(at_mobiles)
    mentions = " ".join(f"@{m}" for m in mobiles)
    tail = f"\n\n{mentions}" if mentions else ""
    body = "\n\n".join([f"#### {_inert(title)}", *(_inert(line) for line in lines)])
    room = DINGTALK_MAX_BYTES - len(tail.encode("utf-8"))
    return {
        "msgtype": "markdown",
        "markdown": {"title": fit_bytes(_plain(title), 100), "text": fit_bytes(body, room) + tail},
        "at": {"atMobiles": mobiles, "isAtAll": bool(at_all)},
    }


def robot_message(
    kind: str, title: str, lines: Sequence[str], mobiles: Iterable[str] = ()
) -> dict[str, Any]:
    """The message for a robot of `kind` (one of ROBOT_KINDS), mentioning `mobiles`."""
    if kind == "wecom":
        return wecom_payload(title, lines, mention_mobiles=mobiles)
    if kind == "dingtalk":
        return dingtalk_payload(title, lines, at_mobiles=mobiles)
    raise ValueError(f"unknown robot kind {kind!r}; expected one of {', '.join(ROBOT_KINDS)}")


def dingtalk_sign(secret: str, now_ms: int) -> str:
    """DingTalk's signature (加签) for a timestamp, before URL encoding."""
    mac = hmac.new(secret.encode("utf-8"), f"{now_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def dingtalk_signed_url(webhook_url: str, secret: str | None, now_ms: int) -> str:
    """The webhook URL with `timestamp` and `sign` appended when a secret is set (any earlier
    ones replaced); the rest of the query (access_token) is kept."""
    if not secret:
        return webhook_url
    parts = urlsplit(webhook_url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in ("timestamp", "sign")
    ]
    query += [("timestamp", str(now_ms)), ("sign", dingtalk_sign(secret, now_ms))]
    return urlunsplit(parts._replace(query=urlencode(query)))


_HOSTS = {
    "wecom": ("qyapi.weixin.qq.com", "/cgi-bin/webhook/send", "key"),
    "dingtalk": ("oapi.dingtalk.com", "/robot/send", "access_token"),
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_url(kind: str, url: str, allow_any_host: bool = False) -> str:
    """The robot's webhook URL, stripped, or ValueError saying what is wrong with it. It must be
    https (plain http only to a loopback host, for tests) and carry its key (WeCom `key`,
    DingTalk `access_token`); unless `allow_any_host`, it must be the robot's own host and path."""
    if kind not in _HOSTS:
        raise ValueError(f"unknown robot kind {kind!r}; expected one of {', '.join(ROBOT_KINDS)}")
    host_name, path, key_name = _HOSTS[kind]
    url = (url or "").strip()
    if not url:
        raise ValueError("the webhook URL is empty")
    if len(url) > 2000:
        raise ValueError("the webhook URL is longer than 2000 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"the webhook URL cannot be read: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"the webhook URL must use https, not {parts.scheme or 'nothing'!r}")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError("the webhook URL has no host")
    if parts.scheme == "http":
        if not is_loopback(host):
            raise ValueError("the webhook URL must use https (plain http only to a loopback host)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the webhook URL must not hold a user name or password")
    if parts.fragment:
        raise ValueError("the webhook URL must not have a #fragment")
    if not allow_any_host:
        if host != host_name or port not in (None, 443):
            raise ValueError(f"a {kind} webhook goes to https://{host_name}, not to {host}")
        if parts.path != path:
            raise ValueError(f"a {kind} webhook's path is {path}, not {parts.path or '/'}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    keys = [v for k, v in query if k == key_name]
    if len(keys) != 1 or not keys[0].strip():
        raise ValueError(f"the webhook URL needs exactly one non-empty {key_name}= in its query")
    if kind == "dingtalk" and any(k in ("timestamp", "sign") for k, _v in query):
        raise ValueError("leave timestamp and sign out of the URL: set the signing secret instead")
    return url


def _answer(status: int | None, text: str) -> RobotAnswer:
    """Read a robot's HTTP answer: JSON with errcode 0 is success."""
    errcode: int | None = None
    errmsg = ""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("errcode"), int):
        errcode = data["errcode"]
        errmsg = str(data.get("errmsg", ""))[:500]
    elif status == 200:
        errmsg = "the answer is not the robot's JSON with an errcode"
    else:
        errmsg = f"HTTP {status}"
    retry = status is not None and (status >= 500 or status == 429)
    return RobotAnswer(
        ok=status == 200 and errcode == 0,
        status=status,
        errcode=errcode,
        errmsg=errmsg,
        retry=retry or errcode in RETRY_ERRCODES,
        body=text[:500],
    )


def send(url: str, payload: dict[str, Any], timeout: float = 5.0) -> RobotAnswer:
    """POST `payload` as UTF-8 JSON to a robot's webhook (already signed, for DingTalk). Network,
    HTTP and JSON problems come back in the answer, never as exceptions. Redirects are not
    followed: a robot answers directly."""
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8"}
    try:
        response = requests.post(
            url, data=data, headers=headers, timeout=timeout, allow_redirects=False
        )
        text = response.content.decode("utf-8", errors="replace")
    except (requests.ConnectionError, requests.Timeout) as exc:
        return RobotAnswer(False, None, None, f"{type(exc).__name__}: {exc}"[:500], True, "")
    except requests.RequestException as exc:  # a malformed URL and the like: trying again won't do
        return RobotAnswer(False, None, None, f"{type(exc).__name__}: {exc}"[:500], False, "")
    return _answer(response.status_code, text)
