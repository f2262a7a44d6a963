"""The users of bench/writes.py, for locust (run headless by it, from a scratch folder).

Writer: a signed-in supervisor doing what the phones and pages do, without pause: a sync run
(a fresh token, one visit item, then its photo, as static/js/queue.js sends them), a comment on a
problem of theirs (the problem page's form), a public complaint with a photo.
Bomber: anonymous, public complaints each with five small PNGs of huge pixel counts.

Every request is recorded with its kind, start, duration and outcome: "ok", "refused" (a 4xx, a
503, or a 2xx whose body refuses: a sync item's own status, an act's error message) or "error"
(any other 5xx, or no answer at all). The records are written as JSON to $BENCH_OUT on quitting.
The plan ($BENCH_PLAN, written by bench/writes.py) holds the sessions, tokens and photos.

The users are locust's FastHttpUser (geventhttpclient), several times cheaper per request than
HttpUser (requests): the load generator shares the cores of the servers it measures.
"""

import base64
import binascii
import itertools
import json
import os
import struct
import time
import uuid
import zlib

from locust import FastHttpUser, constant, events, task
from urllib3 import encode_multipart_formdata

with open(os.environ["BENCH_PLAN"], encoding="utf-8") as _fh:
    PLAN = json.load(_fh)
with open(PLAN["phone_photo"], "rb") as _fh:
    PHONE_PHOTO = _fh.read()
with open(PLAN["bomb_photo"], "rb") as _fh:
    BOMB_PHOTO = _fh.read()
RECORDS: list[dict] = []
PENDING: dict[int, dict] = {}  # requests sent and not answered yet (cut off at the end if so)
_REQUESTS = itertools.count()
STARTED: list[float] = []
_WRITERS = itertools.count()
_BOMBERS = itertools.count()
_SERIAL = itertools.count()
TIMEOUT = 120  # seconds; a request taking longer counts as an error (no answer)


@events.test_start.add_listener
def _started(**_kwargs):
    STARTED.append(time.time())


@events.quitting.add_listener
def _write(**_kwargs):
    with open(os.environ["BENCH_OUT"], "w", encoding="utf-8") as fh:
        json.dump(
            {
                "started": STARTED[0] if STARTED else None,
                "records": RECORDS,
                "unfinished": list(PENDING.values()),
            },
            fh,
        )


def unique_jpeg(data: bytes) -> bytes:
    """The same picture with a comment segment of its own: another file, another SHA-256."""
    note = f"gridpatrol-bench {uuid.uuid4()}".encode()
    return data[:2] + b"\xff\xfe" + struct.pack(">H", len(note) + 2) + note + data[2:]


def unique_png(data: bytes) -> bytes:
    """The same PNG with a text chunk of its own before IEND."""
    body = b"Comment\x00" + str(uuid.uuid4()).encode()
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF)
    return data[:-12] + chunk + data[-12:]


def multipart(fields: dict, files: list) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type, as a browser's form sends it."""
    return encode_multipart_formdata([(name, str(value)) for name, value in fields.items()] + files)


def session_cookie(response) -> str | None:
    """The session cookie a response set, if any."""
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        if name.strip() == "session":
            return rest.split(";", 1)[0]
    return None


def flashed_error(response) -> str | None:
    """The error a page post flashed into the session cookie (Flask's signed, readable cookie)."""
    value = session_cookie(response)
    if not value:
        return None
    compressed = value.startswith(".")
    payload = value.lstrip(".").split(".")[0]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        data = json.loads(zlib.decompress(raw) if compressed else raw)
    except (binascii.Error, zlib.error, ValueError):
        return None
    for entry in data.get("_flashes", []):
        pair = entry.get(" t") if isinstance(entry, dict) else entry
        if isinstance(pair, list) and len(pair) == 2 and pair[0] == "error":
            return str(pair[1])[:80]
    return None


def stamp(boot: str, t0: float) -> dict:
    return {
        "device_ms": int(time.time() * 1000),
        "elapsed_ms": (time.monotonic() - t0) * 1000,
        "boot": boot,
    }


class Recorder:
    """One request: its kind, when it started, how long it took and how it ended."""

    def __init__(self, user: FastHttpUser, kind: str):
        self.user, self.kind = user, kind

    def send(self, method: str, path: str, judge=None, **kwargs):
        """Send the request with the user's fixed session; judge(response) may say why a 2xx or
        3xx refused. Returns the response (status 0 when there was none) and the outcome."""
        headers = {"User-Agent": PLAN["user_agent"], **kwargs.pop("headers", {})}
        if self.user.cookie:
            headers["Cookie"] = f"session={self.user.cookie}"
        self.user.client.cookiejar.clear()  # the session stays the one prepared for this user
        if "files" in kwargs:
            body, content_type = multipart(kwargs.pop("data"), kwargs.pop("files"))
            kwargs["data"], headers["Content-Type"] = body, content_type
        started, key = time.time(), next(_REQUESTS)
        PENDING[key] = {"kind": self.kind, "start": started, "user": self.user.name}
        with self.user.client.request(
            method,
            path,
            headers=headers,
            allow_redirects=False,
            catch_response=True,
            name=self.kind,
            **kwargs,
        ) as response:
            seconds = time.time() - started
            status = response.status_code or 0
            if status == 0:
                outcome, detail = "error", type(response.error).__name__ if response.error else "?"
            elif status == 503:
                outcome, detail = "refused", "HTTP 503"
            elif status >= 500:
                outcome, detail = "error", f"HTTP {status}"
            elif status >= 400:
                outcome, detail = "refused", f"HTTP {status}"
            else:
                try:
                    why = judge(response) if judge else None
                except (ValueError, KeyError, IndexError, AttributeError) as exc:
                    why = f"unreadable answer ({type(exc).__name__})"
                outcome, detail = ("refused", why) if why else ("ok", "")
            PENDING.pop(key, None)  # a user stopped mid-request never gets here
            RECORDS.append(
                {
                    "kind": self.kind,
                    "start": started,
                    "seconds": seconds,
                    "outcome": outcome,
                    "detail": detail,
                    "status": status,
                    "user": self.user.name,
                }
            )
            if outcome == "error":
                response.failure(detail)
            else:
                response.success()
        return response, outcome


class Writer(FastHttpUser):
    """A supervisor: sync runs, comments on a problem of theirs, public complaints."""

    fixed_count = PLAN["writers"]
    wait_time = constant(0)
    network_timeout = connection_timeout = TIMEOUT

    def on_start(self):
        me = PLAN["users"][next(_WRITERS) % len(PLAN["users"])]
        self.me, self.name, self.cookie = me, me["login"], me["cookie"]
        self.version = me["problem_version"]
        self.boot, self.t0 = str(uuid.uuid4()), time.monotonic()

    @task(3)
    def sync(self):
        """One sync run as the phone makes it: token, items, photo; timed as a whole too."""
        started = time.time()
        token, outcome = Recorder(self, "sync.token").send(
            "GET", "/sync/token", headers={"Accept": "application/json"}
        )
        csrf = token.json().get("csrf_token") if outcome == "ok" else None
        if not csrf:
            return self._run(started, "error" if outcome == "error" else "refused")
        visit = str(uuid.uuid4())
        item = {
            "client_id": visit,
            "kind": "visit",
            **stamp(self.boot, self.t0),
            "data": {
                "patrol": self.me["patrol"],
                "outcome": "normal",
                "note": "巡查正常",
                "source_id": self.me["sources"][next(_SERIAL) % len(self.me["sources"])],
                "lat": self.me["lat"],
                "lon": self.me["lon"],
                "accuracy": 8,
            },
        }

        def item_refused(response):
            result = (response.json().get("results") or [{}])[0]
            status = result.get("status", 0)
            return None if 200 <= status < 300 else f"item {status} {result.get('error', '')}"

        _sent, outcome = Recorder(self, "sync.items").send(
            "POST",
            "/sync/items",
            judge=item_refused,
            json={"sent": stamp(self.boot, self.t0), "items": [item]},
            headers={"Accept": "application/json", "X-CSRFToken": csrf},
        )
        if outcome != "ok":
            return self._run(started, outcome)
        _photo, outcome = Recorder(self, "sync.photo").send(
            "POST",
            "/sync/photos",
            data={
                "client_id": str(uuid.uuid4()),
                "parent_kind": "visit",
                "parent_client_id": visit,
                "stamp": json.dumps(stamp(self.boot, self.t0)),
                "sent": json.dumps(stamp(self.boot, self.t0)),
                "lat": self.me["lat"],
                "lon": self.me["lon"],
                "accuracy": 8,
            },
            files=[("file", ("photo.jpg", unique_jpeg(PHONE_PHOTO), "image/jpeg"))],
            headers={"Accept": "application/json", "X-CSRFToken": csrf},
        )
        self._run(started, outcome)

    def _run(self, started: float, outcome: str) -> None:
        RECORDS.append(
            {
                "kind": "sync run",
                "start": started,
                "seconds": time.time() - started,
                "outcome": outcome,
                "detail": "",
                "status": 0,
                "user": self.name,
            }
        )

    @task(3)
    def comment(self):
        """A comment on the user's own problem, through its page's form (303 either way; a
        refusal is flashed)."""
        _acted, outcome = Recorder(self, "act").send(
            "POST",
            f"/problems/{self.me['problem']}/act",
            judge=flashed_error,
            data={
                "csrf_token": self.me["token"],
                "event": "comment",
                "version": self.version,
                "comment": f"第{next(_SERIAL)}次跟进:现场已复查。",
            },
        )
        if outcome == "ok":
            self.version += 1  # every event moves the problem's version on
        else:  # someone acted first, or the version was wrong: read it again (not a write)
            page, _outcome = Recorder(self, "problem page").send(
                "GET", f"/patrol/problems/{self.me['problem']}"
            )
            found = page.text.split('name="version" value="', 1)[1:] if page.text else []
            if found:
                self.version = int(found[0].split('"', 1)[0])

    @task(1)
    def complaint(self):
        complain(self, "complaint", self.me["token"], [unique_jpeg(PHONE_PHOTO)], "jpg")


class Bomber(FastHttpUser):
    """Anonymous: public complaints, each with five small PNGs of huge pixel counts."""

    fixed_count = PLAN["bombers"]
    wait_time = constant(0)
    network_timeout = connection_timeout = TIMEOUT

    def on_start(self):
        me = PLAN["anonymous"][next(_BOMBERS) % len(PLAN["anonymous"])]
        self.me, self.name, self.cookie = me, f"anonymous {me['n']}", me["cookie"]

    @task
    def bomb(self):
        complain(
            self,
            "bomb",
            self.me["token"],
            [unique_png(BOMB_PHOTO) for _ in range(PLAN["bombs_per_complaint"])],
            "png",
        )


def complain(user, kind: str, token: str, photos: list[bytes], ext: str) -> None:
    """The public complaint form (200 with the receipt page; 400 with the form again)."""
    Recorder(user, kind).send(
        "POST",
        "/complaint",
        data={
            "csrf_token": token,
            "lat": user.me["lat"],
            "lon": user.me["lon"],
            "category": PLAN["category"],
            "description": "河边有人倾倒垃圾,气味很大。",
            "name": "",
            "contact": "",
        },
        files=[
            ("photos", (f"photo{n}.{ext}", data, f"image/{'jpeg' if ext == 'jpg' else ext}"))
            for n, data in enumerate(photos)
        ],
    )
