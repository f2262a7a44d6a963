"""The notification channels against real local servers: a WeCom and a DingTalk robot that check
the message shapes and DingTalk's signature (PUSH.md), and a push service that checks the VAPID
JWT and decrypts the aes128gcm body with the browser's key (TOOLING.md §5). No mocks."""

import base64
import hashlib
import hmac
import json
import os
import socket
import stat
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pywebpush import WebPusher

from notify import robots, webpush

SECRET = "SEC0123456789abcdef"
CONTACT = "mailto:ops@gridpatrol.example.cn"
MOBILE = "13800138000"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def now_ms() -> int:
    return int(time.time() * 1000)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """A local HTTP server in a thread; `handle(handler, body)` returns (status, body bytes)."""

    def __init__(self, handle):
        self.requests = []
        self.problems = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = handle(self, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def errcode(code: int, msg: str) -> bytes:
    return json.dumps({"errcode": code, "errmsg": msg}).encode()


# --- The robots ------------------------------------------------------------------------------


def wecom_problem(payload) -> str | None:
    """Why a WeCom robot would refuse `payload` (PUSH.md), or None."""
    kind = payload.get("msgtype")
    if kind == "markdown":
        if set(payload) != {"msgtype", "markdown"} or set(payload["markdown"]) != {"content"}:
            return f"markdown shape: {payload}"
        content = payload["markdown"]["content"]
    elif kind == "text":
        if set(payload) != {"msgtype", "text"}:
            return f"text shape: {payload}"
        if not set(payload["text"]) <= {"content", "mentioned_list", "mentioned_mobile_list"}:
            return f"text fields: {payload['text']}"
        mobiles = payload["text"].get("mentioned_mobile_list", [])
        if not all(isinstance(m, str) for m in mobiles):
            return "mobiles must be strings"
        content = payload["text"]["content"]
    else:
        return f"msgtype {kind!r}"
    if not isinstance(content, str) or not content:
        return "empty content"
    if len(content.encode("utf-8")) > 2048:
        return f"content of {len(content.encode('utf-8'))} bytes"
    return None


def dingtalk_problem(payload) -> str | None:
    """Why a DingTalk robot would refuse `payload` (PUSH.md), or None."""
    if payload.get("msgtype") != "markdown" or set(payload) != {"msgtype", "markdown", "at"}:
        return f"shape: {payload}"
    markdown, at = payload["markdown"], payload["at"]
    if set(markdown) != {"title", "text"} or not markdown["title"] or not markdown["text"]:
        return f"markdown: {markdown}"
    if set(at) != {"atMobiles", "isAtAll"} or not isinstance(at["isAtAll"], bool):
        return f"at: {at}"
    for mobile in at["atMobiles"]:
        if f"@{mobile}" not in markdown["text"]:
            return f"@{mobile} is not in the text, so DingTalk would not highlight it"
    return None


def robot_handle(served):
    def handle(request, body):
        parts = urlsplit(request.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        payload = json.loads(body.decode("utf-8"))  # UTF-8 JSON, or the handler fails loudly
        served.requests.append((parts.path, query, payload, request.headers["Content-Type"]))
        if parts.path == "/cgi-bin/webhook/send":
            key = query.get("key")
            if key == "busy":
                return 500, b"<html>502 Bad Gateway</html>"
            if key == "limited":
                return 200, errcode(45009, "api freq out of limit")
            if key != "good-key":
                return 200, errcode(93000, "invalid webhook url")
            problem = wecom_problem(payload)
            return 200, errcode(40008, problem) if problem else errcode(0, "ok")
        if parts.path == "/robot/send":
            token = query.get("access_token")
            if token == "limited":
                return 200, errcode(130101, "send too fast, exceed 20 times per minute")
            if token != "good-token":
                return 200, errcode(300001, "token is not exist")
            stamp, sign = query.get("timestamp", ""), query.get("sign", "")
            if not stamp.isdigit() or abs(int(stamp) - now_ms()) > 3600 * 1000:
                return 200, errcode(310000, "invalid timestamp")
            mac = hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(), hashlib.sha256)
            if not hmac.compare_digest(base64.b64encode(mac.digest()).decode(), sign):
                return 200, errcode(310000, "sign not match")
            problem = dingtalk_problem(payload)
            return 200, errcode(40035, problem) if problem else errcode(0, "ok")
        return 404, b"{}"

    return handle


@pytest.fixture
def robot():
    served = Served(lambda request, body: handle(request, body))
    handle = robot_handle(served)
    yield served
    served.close()


def wecom_url(base, key="good-key"):
    return f"{base}/cgi-bin/webhook/send?key={key}"


def dingtalk_url(base, token="good-token"):
    return f"{base}/robot/send?access_token={token}"


LINES = ["网格 3-2 发现问题：河道漂浮物", "上报人：张三", "请于 2 个工作日内整改"]


def test_a_wecom_markdown_message_is_delivered(robot):
    payload = robots.wecom_payload("新问题", LINES)
    answer = robots.send(wecom_url(robot.base), payload)
    assert answer == robots.RobotAnswer(True, 200, 0, "ok", False, answer.body)
    path, query, received, content_type = robot.requests[-1]
    assert (
        received
        == payload
        == {
            "msgtype": "markdown",
            "markdown": {"content": "# 新问题\n" + "\n".join(LINES)},
        }
    )
    assert content_type == "application/json; charset=utf-8"


def test_wecom_mentions_go_by_text_message(robot):
    payload = robots.wecom_payload("新问题", LINES, mention_mobiles=[MOBILE, MOBILE])
    assert payload == {
        "msgtype": "text",
        "text": {"content": "新问题\n" + "\n".join(LINES), "mentioned_mobile_list": [MOBILE]},
    }
    assert robots.send(wecom_url(robot.base), payload).ok
    assert robots.wecom_payload("t", ["a"], markdown=False) == {
        "msgtype": "text",
        "text": {"content": "t\na"},
    }


def test_a_signed_dingtalk_message_is_delivered(robot):
    payload = robots.dingtalk_payload("新问题", LINES, at_mobiles=[MOBILE])
    url = robots.dingtalk_signed_url(dingtalk_url(robot.base), SECRET, now_ms())
    answer = robots.send(url, payload)
    assert (answer.ok, answer.errcode, answer.retry) == (True, 0, False), answer
    _path, query, received, _ = robot.requests[-1]
    assert query["access_token"] == "good-token"
    assert received["at"] == {"atMobiles": [MOBILE], "isAtAll": False}
    assert received["markdown"]["text"].endswith(f"@{MOBILE}")


@pytest.mark.parametrize(
    ("secret", "skew", "errmsg"),
    [
        ("SECwrong", 0, "sign not match"),
        (SECRET, -3660, "invalid timestamp"),  # more than an hour away from the robot's clock
        (SECRET, +3660, "invalid timestamp"),
        (None, 0, "invalid timestamp"),  # the robot wants a signature
    ],
)
def test_dingtalk_refuses_a_wrong_signature(robot, secret, skew, errmsg):
    url = robots.dingtalk_signed_url(dingtalk_url(robot.base), secret, now_ms() + skew * 1000)
    answer = robots.send(url, robots.dingtalk_payload("t", ["a"]))
    assert (answer.ok, answer.status, answer.errcode, answer.retry) == (False, 200, 310000, False)
    assert answer.errmsg == errmsg


def test_the_signed_url_keeps_the_query_and_replaces_an_old_signature():
    url = robots.dingtalk_signed_url(
        "https://oapi.dingtalk.com/robot/send?access_token=abc", "s3cr3t", 1700000000000
    )
    mac = hmac.new(b"s3cr3t", b"1700000000000\ns3cr3t", hashlib.sha256).digest()
    sign = base64.b64encode(mac).decode()
    assert parse_qs(urlsplit(url).query) == {
        "access_token": ["abc"],
        "timestamp": ["1700000000000"],
        "sign": [sign],
    }
    assert "%2B" in url or "%2F" in url or "%3D" in url  # the base64 is URL-encoded
    again = robots.dingtalk_signed_url(url, "s3cr3t", 1700000000001)
    assert parse_qs(urlsplit(again).query)["timestamp"] == ["1700000000001"]
    assert robots.dingtalk_signed_url("https://x/robot/send?access_token=a", "", 1) == (
        "https://x/robot/send?access_token=a"
    )


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        (lambda base: wecom_url(base, "busy"), 500, None),
        (lambda base: wecom_url(base, "limited"), 200, 45009),
        (lambda base: dingtalk_url(base, "limited"), 200, 130101),
    ],
)
def test_a_busy_or_rate_limited_robot_is_worth_retrying(robot, url, status, code):
    answer = robots.send(url(robot.base), robots.dingtalk_payload("t", ["a"]))
    assert (answer.ok, answer.status, answer.errcode, answer.retry) == (False, status, code, True)
    assert answer.body


def test_a_refusal_is_not_worth_retrying(robot):
    answer = robots.send(wecom_url(robot.base, "unknown"), robots.wecom_payload("t", ["a"]))
    assert (answer.ok, answer.errcode, answer.retry) == (False, 93000, False)


def test_a_closed_port_is_reported_not_raised():
    answer = robots.send(wecom_url(f"http://127.0.0.1:{closed_port()}"), {"msgtype": "text"})
    assert (answer.ok, answer.status, answer.errcode, answer.retry) == (False, None, None, True)
    assert "ConnectionError" in answer.errmsg


def test_a_malformed_url_is_reported_not_raised():
    answer = robots.send("not a url", {"msgtype": "text"})
    assert (answer.ok, answer.retry) == (False, False)


@pytest.mark.parametrize("pad", range(4))
@pytest.mark.parametrize("markdown", [True, False])
def test_long_chinese_text_is_cut_at_a_character(robot, pad, markdown):
    # 3-byte Chinese, a 4-byte emoji and a 2-byte letter, shifted by `pad` bytes so that the cut
    # falls inside each kind of character in one case or another
    lines = ["x" * pad + "河道漂浮物需清理🌊é" * 40] * 3
    payload = robots.wecom_payload("长消息", lines, markdown=markdown)
    content = (payload.get("markdown") or payload["text"])["content"]
    data = content.encode("utf-8")
    assert 2048 - 4 <= len(data) <= 2048
    assert data.decode("utf-8") == content and content.endswith("…")
    assert "\ufffd" not in content
    assert robots.send(wecom_url(robot.base), payload).ok


def test_fit_bytes():
    assert robots.fit_bytes("短", 3) == "短"
    assert robots.fit_bytes("短句", 5) == "…"
    assert robots.fit_bytes("短句子", 7) == "短…"
    assert robots.fit_bytes("ab🌊cd", 8) == "ab🌊cd"
    assert robots.fit_bytes("ab🌊cd", 7) == "ab…"


def test_dingtalk_mentions_survive_a_cut():
    payload = robots.dingtalk_payload("t", ["问题" * 2000], at_mobiles=[MOBILE, "13900139000"])
    text = payload["markdown"]["text"]
    assert len(text.encode("utf-8")) <= robots.DINGTALK_MAX_BYTES
    assert text.endswith(f"…\n\n@{MOBILE} @13900139000")
    assert dingtalk_problem(payload) is None
    assert robots.dingtalk_payload("t", ["a"], at_all=True)["at"] == {
        "atMobiles": [],
        "isAtAll": True,
    }


def test_typed_text_cannot_forge_markdown():
    typed = 'ok\n# 已整改 <font color="info">完成</font> [详情](http://evil.example) ![x](http://t)'
    for payload in (
        robots.wecom_payload("<@all>", [typed]),
        robots.dingtalk_payload("标题", [typed]),
    ):
        text = json.dumps(payload, ensure_ascii=False)
        for markup in ("<font", "](", "![", "\\n# 已", "<@all>"):
            assert markup not in text, (markup, text)
        assert "已整改" in text and "http://evil.example" in text  # still readable


def test_robot_message_and_mobiles():
    assert robots.robot_message("wecom", "t", ["a"])["msgtype"] == "markdown"
    assert robots.robot_message("wecom", "t", ["a"], [MOBILE])["msgtype"] == "text"
    assert robots.robot_message("dingtalk", "t", ["a"], [MOBILE])["at"]["atMobiles"] == [MOBILE]
    with pytest.raises(ValueError, match="unknown robot kind 'sms'"):
        robots.robot_message("sms", "t", ["a"])
    with pytest.raises(ValueError, match="not a mainland mobile number: '12345'"):
        robots.dingtalk_payload("t", ["a"], at_mobiles=["12345"])


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx"),
        ("dingtalk", " https://oapi.dingtalk.com/robot/send?access_token=abc123 "),
    ],
)
def test_good_webhook_urls(kind, url):
    assert robots.check_webhook_url(kind, url) == url.strip()


@pytest.mark.parametrize(
    ("kind", "url", "allow_any_host", "reason"),
    [
        ("sms", "https://x", False, "unknown robot kind"),
        ("wecom", "", False, "empty"),
        ("wecom", "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", False, "https"),
        ("wecom", "ftp://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", False, "https"),
        (
            "wecom",
            "https://qyapi.weixin.qq.com.evil.cn/cgi-bin/webhook/send?key=k",
            False,
            "not to qyapi",
        ),
        ("wecom", "https://qyapi.weixin.qq.com:8443/cgi-bin/webhook/send?key=k", False, "qyapi"),
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/sendx?key=k", False, "path"),
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", False, "key="),
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=", False, "key="),
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=a&key=b", False, "key="),
        ("wecom", "https://u:p@qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", False, "password"),
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k#x", False, "fragment"),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send?key=k", False, "access_token="),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send", False, "access_token="),
        ("dingtalk", "https://oapi.dingtalk.com/robot/sent?access_token=t", False, "path"),
        (
            "dingtalk",
            "https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1&sign=x",
            False,
            "secret",
        ),
        ("dingtalk", "http://10.0.0.5/robot/send?access_token=t", True, "https"),
        ("dingtalk", "https://[::1/robot/send?access_token=t", True, "cannot be read"),
    ],
)
def test_bad_webhook_urls(kind, url, allow_any_host, reason):
    with pytest.raises(ValueError, match=reason):
        robots.check_webhook_url(kind, url, allow_any_host=allow_any_host)


def test_a_local_robot_needs_allow_any_host(robot):
    url = dingtalk_url(robot.base)
    with pytest.raises(ValueError, match="https://oapi.dingtalk.com"):
        robots.check_webhook_url("dingtalk", url)
    assert robots.check_webhook_url("dingtalk", url, allow_any_host=True) == url
    relay = "https://relay.bureau.internal:8443/robot/send?access_token=t"
    assert robots.check_webhook_url("dingtalk", relay, allow_any_host=True) == relay


# --- Web Push --------------------------------------------------------------------------------


def browser_subscription(endpoint):
    """What a browser makes: its P-256 key pair and a 16-byte auth secret."""
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    auth = os.urandom(16)
    sub = {"endpoint": endpoint, "keys": {"p256dh": b64url(point), "auth": b64url(auth)}}
    return sub, private, auth


def test_encryption_round_trip():
    sub, private, auth = browser_subscription("https://push.example.com/send/abc")
    data = json.dumps({"title": "新问题", "body": "河道漂浮物 🌊"}, ensure_ascii=False).encode()
    body = WebPusher(sub).encode(data, content_encoding="aes128gcm")["body"]
    assert data not in body
    plain = http_ece.decrypt(body, private_key=private, auth_secret=auth, version="aes128gcm")
    assert plain == data


KEY_MISMATCH = "k is not the key the subscription was made with"


def vapid_problem(header, origin, application_server_key) -> str | None:
    """Why a push service would refuse this Authorization header (RFC 8292), or None: the JWT
    must be signed by the key `k` names, and `k` must be the subscription's
    applicationServerKey (RFC 8292 §4.2)."""
    scheme, _sep, rest = header.partition(" ")
    if scheme.lower() != "vapid":
        return f"scheme {scheme!r}"
    params = dict(part.strip().split("=", 1) for part in rest.split(","))
    if params.get("k") != application_server_key:
        return KEY_MISMATCH
    head, claims, signature = params["t"].split(".")
    if json.loads(unb64url(head)) != {"typ": "JWT", "alg": "ES256"}:
        return f"JWT header {unb64url(head)!r}"
    raw = unb64url(signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(params["k"]))
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "bad JWT signature"
    claims = json.loads(unb64url(claims))
    if claims.get("aud") != origin:
        return f"aud {claims.get('aud')!r}"
    if not time.time() < claims.get("exp", 0) <= time.time() + 24 * 3600:
        return f"exp {claims.get('exp')!r}"
    if claims.get("sub") != CONTACT:
        return f"sub {claims.get('sub')!r}"
    return None


def new_vapid_keys() -> webpush.VapidKeys:
    """A fresh VAPID key, as an operator makes one."""
    return webpush.from_pem(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture
def push_service():
    """A push service: /push/<answer>/<n> checks the request, decrypts it with browser n's key
    and answers with status <answer>. Browser n subscribed with an applicationServerKey
    (`subscribe(status, keys)`, the service's `keys` unless given): a push signed with another
    key is refused with 403, as a real push service refuses it. `answers` lists (n, status)."""
    browsers = {}
    keys = new_vapid_keys()

    def handle(request, body):
        _root, _push, status, n = request.path.split("/")
        private, auth, server_key = browsers[n]
        headers = request.headers
        problem = vapid_problem(headers.get("Authorization", ""), served.base, server_key)
        if problem == KEY_MISMATCH:
            served.problems.append(problem)
            served.answers.append((n, 403))
            return 403, json.dumps({"error": problem}).encode()
        for name, value in [
            ("Content-Encoding", "aes128gcm"),
            ("Content-Type", "application/octet-stream"),
            ("TTL", "3600"),
            ("Urgency", "high"),
        ]:
            if headers.get(name) != value:
                problem = problem or f"{name}: {headers.get(name)!r}"
        if problem:
            served.problems.append(problem)
            served.answers.append((n, 400))
            return 400, json.dumps({"error": problem}).encode()
        plain = http_ece.decrypt(body, private_key=private, auth_secret=auth, version="aes128gcm")
        served.requests.append(json.loads(plain))
        served.answers.append((n, int(status)))
        return int(status), b"{}" if status == "201" else b'{"error": "as asked"}'

    served = Served(lambda request, body: handle(request, body))
    served.keys = keys
    served.answers = []

    def subscribe(status, keys=None):
        n = str(len(browsers))
        sub, private, auth = browser_subscription(f"{served.base}/push/{status}/{n}")
        browsers[n] = (private, auth, (keys or served.keys).application_server_key)
        return sub

    served.subscribe = subscribe
    yield served
    served.close()


PAYLOAD = {"title": "新问题", "body": "网格 3-2：河道漂浮物", "url": "/problems/12"}


def test_a_push_is_delivered_signed_and_encrypted(push_service):
    sub = push_service.subscribe(201)
    answer = webpush.send(sub, PAYLOAD, push_service.keys, CONTACT)
    assert push_service.problems == []
    assert answer == webpush.PushAnswer(ok=True, status=201, gone=False, retry=False, text="{}")
    assert push_service.requests == [PAYLOAD]


@pytest.mark.parametrize(
    ("status", "gone", "retry"),
    [
        (410, True, False),
        (404, True, False),
        (429, False, True),
        (503, False, True),
        (400, False, False),
    ],
)
def test_push_service_refusals(push_service, status, gone, retry):
    answer = webpush.send(push_service.subscribe(status), PAYLOAD, push_service.keys, CONTACT)
    assert push_service.problems == []
    assert (answer.ok, answer.status, answer.gone, answer.retry) == (False, status, gone, retry)
    assert "as asked" in answer.text


def test_push_problems_are_reported_not_raised(push_service):
    keys = push_service.keys
    sub, _private, _auth = browser_subscription(f"http://127.0.0.1:{closed_port()}/push/x")
    answer = webpush.send(sub, PAYLOAD, keys, CONTACT, timeout=2)
    assert (answer.ok, answer.status, answer.gone, answer.retry) == (False, None, False, True)
    broken = {**sub, "keys": {"p256dh": "AAAA", "auth": sub["keys"]["auth"]}}
    answer = webpush.send(broken, PAYLOAD, keys, CONTACT)
    assert (answer.ok, answer.retry) == (False, False) and "p256dh" in answer.text
    answer = webpush.send(push_service.subscribe(201), {"body": "长" * 2000}, keys, CONTACT)
    assert (answer.ok, answer.retry) == (False, False) and "exceeds" in answer.text
    assert push_service.requests == []
    for bad in ({"contact": "ops@example.cn"}, {"urgency": "now"}, {"ttl": -1}):
        with pytest.raises(ValueError):
            webpush.send(sub, PAYLOAD, keys, **{"contact": CONTACT, **bad})


def test_load_or_create_makes_the_key_once(tmp_path):
    path = tmp_path / "instance" / "keys" / "vapid.pem"
    made = webpush.load_or_create(str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_bytes() == made.private_pem
    assert webpush.load_or_create(str(path)) == made
    point = unb64url(made.application_server_key)
    assert len(point) == 65 and point[0] == 4 and "=" not in made.application_server_key
    assert sorted(os.listdir(path.parent)) == ["vapid.pem"]  # no temporary file left
    assert "PRIVATE" not in repr(made)


def test_from_pem_refuses_other_keys(tmp_path):
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="P-256"):
        webpush.from_pem(rsa_pem)
    with pytest.raises(ValueError, match="PEM"):
        webpush.from_pem(b"not a key")
    broken = tmp_path / "vapid.pem"
    broken.write_bytes(b"garbage")
    with pytest.raises(ValueError):
        webpush.load_or_create(str(broken))  # a damaged key is an error, never replaced
    assert broken.read_bytes() == b"garbage"


def test_check_subscription_accepts_a_browser_subscription():
    sub, _private, _auth = browser_subscription("https://fcm.googleapis.com/fcm/send/abc:def")
    padded = {
        **sub,
        "expirationTime": None,
        "keys": {k: v + "=" * (-len(v) % 4) for k, v in sub["keys"].items()},
    }
    assert webpush.check_subscription(padded) == sub
    assert webpush.check_subscription(json.dumps(sub)) == sub
    local = {**sub, "endpoint": "http://localhost:8090/notify/abc"}
    assert webpush.check_subscription(local) == local


def _sub(**changes):
    sub, _private, _auth = browser_subscription("https://push.example.com/p/1")
    keys = changes.pop("keys", {})
    return {**sub, "keys": None if keys is None else {**sub["keys"], **keys}, **changes}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("{", "not JSON"),
        ([], "JSON object"),
        ({"keys": {}}, "no endpoint"),
        (_sub(endpoint="http://push.example.com/p/1"), "https"),
        (_sub(endpoint="file:///etc/passwd"), "https"),
        (_sub(endpoint="https:///p/1"), "no host"),
        (_sub(endpoint="https://u:p@push.example.com/p"), "password"),
        (_sub(endpoint="https://push.example.com:99999/p"), "cannot be read"),
        (_sub(keys=None), "no keys"),
        (_sub(keys={"p256dh": ""}), "no keys.p256dh"),
        (_sub(keys={"auth": None}), "no keys.auth"),
        (_sub(keys={"p256dh": "a+b/c"}), "p256dh is not base64url"),
        (_sub(keys={"p256dh": b64url(b"\x04" * 64)}), "65 bytes, not 64"),
        (_sub(keys={"p256dh": b64url(b"\x03" + b"\x01" * 64)}), "start 0x04.*not 0x03"),
        (_sub(keys={"p256dh": b64url(b"\x04" + b"\x01" * 64)}), "not a point"),
        (_sub(keys={"auth": "!!!"}), "auth is not base64url"),
        (_sub(keys={"auth": b64url(os.urandom(15))}), "16 bytes, not 15"),
    ],
)
def test_check_subscription_refuses(data, reason):
    with pytest.raises(ValueError, match=reason):
        webpush.check_subscription(data)
