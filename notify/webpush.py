"""Web Push where it reaches (RFC 8030, payload encrypted per RFC 8291 aes128gcm, signed per
RFC 8292 VAPID): the server's VAPID key, the check of a browser's PushSubscription, and one send
that reports instead of raising, so the delivery task can log every attempt (TOOLING.md §5)."""

import base64
import binascii
import json
import os
import re
import tempfile
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02, VapidException
from pywebpush import WebPushException, webpush

from notify.robots import is_loopback

URGENCIES = ("very-low", "low", "normal", "high")  # RFC 8030 §5.3
# A push message body is at most 4096 bytes (RFC 8030 §7.2); aes128gcm with one record adds an
# 86-byte header, a 16-byte tag and a 1-byte padding delimiter (RFC 8188, RFC 8291 §4).
MAX_PAYLOAD_BYTES = 4096 - 86 - 16 - 1
_CONTACT = re.compile(r"(mailto:[^@\s]+@[^@\s]+|https://\S+)")
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def b64url(data: bytes) -> str:
    """base64url without padding, as browsers and VAPID write keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; ValueError when it is not base64url."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


@dataclass(frozen=True)
class VapidKeys:
    """The server's VAPID key: the private key as PEM, and the public key as the browser's
    `applicationServerKey` (base64url of the uncompressed P-256 point, no padding)."""

    private_pem: bytes
    application_server_key: str

    def __repr__(self) -> str:  # keep the private key out of logs and tracebacks
        return f"VapidKeys(application_server_key={self.application_server_key!r})"


def from_pem(pem: bytes) -> VapidKeys:
    """The VAPID keys of a PEM private key; ValueError unless it is an unencrypted P-256 key."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("a VAPID key must be an elliptic-curve P-256 (secp256r1) key")
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return VapidKeys(private_pem=pem, application_server_key=b64url(point))


def load(path: str) -> VapidKeys:
    """The VAPID keys kept at `path`; OSError when the file cannot be read, ValueError naming
    the file when it holds no usable key. Never makes one (an old key cannot be made again)."""
    with open(path, "rb") as fh:
        pem = fh.read()
    try:
        return from_pem(pem)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def load_or_create(path: str) -> VapidKeys:
    """The VAPID keys kept at `path`, made there on first use (mode 0600, parent folder created).
    The new file appears whole or not at all, and when two processes race the first one's key
    wins and both use it (a hard link never replaces an existing file, where a rename would)."""
    try:
        with open(path, "rb") as fh:
            return from_pem(fh.read())
    except FileNotFoundError:
        pass
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".vapid-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:  # another process made it first: use that one
            with open(path, "rb") as fh:
                return from_pem(fh.read())
        except OSError:  # no hard links on this file system: a rename is still atomic
            os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return from_pem(pem)


def check_subscription(data: Any) -> dict[str, Any]:
    """A browser's PushSubscription (its toJSON(), as a dict or JSON text) reduced to
    `{"endpoint", "keys": {"p256dh", "auth"}}`, or ValueError saying what is wrong. The endpoint
    must be https (plain http only to a loopback host, for tests); p256dh must be the browser's
    P-256 public key (65 bytes, uncompressed) and auth a 16-byte secret, both base64url."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError:
            raise ValueError("the subscription is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the subscription must be a JSON object")
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise ValueError("the subscription has no endpoint")
    if len(endpoint) > 2000:
        raise ValueError("the endpoint is longer than 2000 characters")
    try:
        parts = urlsplit(endpoint)
        _ = parts.port  # reading it checks the port
    except ValueError as exc:
        raise ValueError(f"the endpoint cannot be read: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"the endpoint must use https, not {parts.scheme or 'nothing'!r}")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError("the endpoint has no host")
    if parts.scheme == "http":
        if not is_loopback(host):
            raise ValueError("the endpoint must use https (plain http only to a loopback host)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the endpoint must not hold a user name or password")
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise ValueError("the subscription has no keys")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not p256dh:
        raise ValueError("the subscription has no keys.p256dh")
    if not auth:
        raise ValueError("the subscription has no keys.auth")
    try:
        point = b64url_decode(p256dh)
    except ValueError:
        raise ValueError("keys.p256dh is not base64url") from None
    if len(point) != 65:
        raise ValueError(f"keys.p256dh must decode to 65 bytes, not {len(point)}")
    if point[0] != 0x04:
        raise ValueError(
            f"keys.p256dh must start 0x04 (an uncompressed point), not 0x{point[0]:02x}"
        )
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise ValueError("keys.p256dh is not a point on the P-256 curve") from None
    try:
        secret = b64url_decode(auth)
    except ValueError:
        raise ValueError("keys.auth is not base64url") from None
    if len(secret) != 16:
        raise ValueError(f"keys.auth must decode to 16 bytes, not {len(secret)}")
    return {"endpoint": endpoint, "keys": {"p256dh": b64url(point), "auth": b64url(secret)}}


@dataclass(frozen=True)
class PushAnswer:
    """What the push service answered: `ok` for 2xx; `gone` for 404/410 (the browser dropped
    the subscription: delete it); `retry` for 429, 5xx and network trouble."""

    ok: bool
    status: int | None
    gone: bool
    retry: bool
    text: str  # the first 500 characters of the answer or of the problem


def _failed(text: str, retry: bool = False) -> PushAnswer:
    return PushAnswer(ok=False, status=None, gone=False, retry=retry, text=text[:500])


def send(
    subscription: dict[str, Any],
    payload: dict[str, Any],
    keys: VapidKeys,
    contact: str,
    ttl: int = 3600,
    timeout: float = 10,
    urgency: str = "high",
) -> PushAnswer:
    """Encrypt `payload` (as UTF-8 JSON) for one subscription and POST it to its push service,
    signed with the VAPID `keys` and `contact` (a mailto: or https: URL for the service's
    operators). Delivery problems (a malformed stored subscription, a refusal, the network) come
    back in the answer; a misconfiguration (contact, urgency, ttl) raises ValueError."""
    if not _CONTACT.fullmatch(contact or ""):
        raise ValueError(f"the VAPID contact must be a mailto: or https: URL, not {contact!r}")
    if urgency not in URGENCIES:
        raise ValueError(f"urgency must be one of {', '.join(URGENCIES)}, not {urgency!r}")
    if ttl < 0:
        raise ValueError("ttl must not be negative")
    try:
        subscription = check_subscription(subscription)
    except ValueError as exc:
        return _failed(f"unusable subscription: {exc}")
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    size = len(data.encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        return _failed(f"payload of {size} bytes exceeds {MAX_PAYLOAD_BYTES}")
    signer = Vapid02(serialization.load_pem_private_key(keys.private_pem, password=None))
    try:
        response = cast(
            requests.Response,
            webpush(
                subscription_info=subscription,
                data=data,
                vapid_private_key=signer,
                vapid_claims={"sub": contact},  # a fresh dict: webpush adds aud and exp to it
                content_encoding="aes128gcm",
                timeout=timeout,
                ttl=ttl,
                # pywebpush sends no Content-Type, which some push services refuse (TOOLING.md §5).
                headers={"Content-Type": "application/octet-stream", "Urgency": urgency},
            ),
        )
    except WebPushException as exc:
        failed = exc.response
        if failed is None or not hasattr(failed, "status_code"):
            return _failed(str(exc.message))
        status = int(failed.status_code)
        return PushAnswer(
            ok=False,
            status=status,
            gone=status in (404, 410),
            retry=status == 429 or status >= 500,
            text=(failed.text or str(exc.message))[:500],
        )
    except VapidException as exc:  # py_vapid refused the claims
        return _failed(f"VAPID: {exc}")
    except (requests.ConnectionError, requests.Timeout) as exc:
        return _failed(f"{type(exc).__name__}: {exc}", retry=True)
    except requests.RequestException as exc:
        return _failed(f"{type(exc).__name__}: {exc}")
    return PushAnswer(
        ok=True,
        status=response.status_code,
        gone=False,
        retry=False,
        text=(response.text or "")[:500],
    )
