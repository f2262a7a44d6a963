"""The users of bench/soak.py, for locust (run headless by it, from a scratch folder).

Supervisor: a signed-in village supervisor with a phone, acting every 10 to 30 s: visits with a
photo, an offline queue replayed at once (route points, several visits and a problem, with their
photos), polling of the unread badge and the home page, the on-site situation (with a photo) and
disposal result of an alert they were sent to, and the end of a patrol and the start of the next.
Office: a county or prefecture office opening the assessment desktop, the alerts, the problems
and the badge.

The phone's queue is imitated (static/js/queue.js): every item and photo keeps its client id
until the server accepts it; a 5xx, a 503 or no answer leaves it queued and the next sync run
sends it again, under the same client id; a photo waits until its record was accepted. Each
attempt is a line of the client log ($SOAK_CLIENT_LOG: client id, kind, attempt, what the server
answered); each request a record of its endpoint, duration and status ($SOAK_OUT, written on
quitting with what every queue still holds, for bench/soak.py to send once the run is over).
"""

import itertools
import json
import os
import random
import struct
import time
import uuid

from locust import FastHttpUser, between, events, task
from urllib3 import encode_multipart_formdata

with open(os.environ["SOAK_PLAN"], encoding="utf-8") as _fh:
    PLAN = json.load(_fh)
with open(PLAN["photo"], "rb") as _fh:
    PHOTO = _fh.read()
CLIENT_LOG = open(os.environ["SOAK_CLIENT_LOG"], "a", encoding="utf-8", buffering=1)  # noqa: SIM115
RECORDS: list[list] = []  # [endpoint, start, seconds, status]
QUEUES: list["Supervisor"] = []
_SUPERVISORS = itertools.count()
_OFFICES = itertools.count()
_SERIAL = itertools.count()
TIMEOUT = 60


@events.quitting.add_listener
def _write(**_kwargs):
    CLIENT_LOG.flush()
    with open(os.environ["SOAK_OUT"], "w", encoding="utf-8") as fh:
        json.dump(
            {
                "records": RECORDS,
                "queues": [
                    {
                        "login": u.me["login"],
                        "cookie": u.me["cookie"],
                        "items": u.items,
                        "photos": u.photos,
                        "accepted": sorted(u.accepted),
                    }
                    for u in QUEUES
                    if u.items or u.photos
                ],
            },
            fh,
        )


def log_attempt(user: str, client_id: str, kind: str, http: int, status: int, answer: str):
    CLIENT_LOG.write(
        json.dumps(
            {
                "t": round(time.time(), 3),
                "user": user,
                "client_id": client_id,
                "kind": kind,
                "http": http,
                "status": status,
                "outcome": answer,
            }
        )
        + "\n"
    )


def outcome_of(status: int, error: str | None = None) -> str:
    """What the phone makes of an answer: accepted (2xx), retry (kept in the queue) or refused."""
    if 200 <= status < 300:
        return "accepted"
    # queue.js keeps for the next run: no answer, a 5xx, and a 409 "unknown_..." (the record it
    # needs has not arrived yet)
    if status == 0 or status >= 500 or (status == 409 and (error or "").startswith("unknown_")):
        return "retry"
    return "refused"


def unique_jpeg(data: bytes) -> bytes:
    """The same picture with a comment segment of its own: another file, another SHA-256."""
    note = f"gridpatrol-soak {uuid.uuid4()}".encode()
    return data[:2] + b"\xff\xfe" + struct.pack(">H", len(note) + 2) + note + data[2:]


class Phone:
    """The phone's clocks, as queue.js stamps items."""

    def __init__(self):
        self.boot, self.t0 = str(uuid.uuid4()), time.monotonic()

    def stamp(self) -> dict:
        return {
            "device_ms": int(time.time() * 1000),
            "elapsed_ms": round((time.monotonic() - self.t0) * 1000, 1),
            "boot": self.boot,
        }


class Timed:
    """Every request through one place: timed, named by its endpoint, recorded."""

    def call(self, name: str, method: str, path: str, **kwargs):
        headers = {"User-Agent": PLAN["user_agent"], **kwargs.pop("headers", {})}
        headers["Cookie"] = f"session={self.me['cookie']}"
        self.client.cookiejar.clear()  # the session stays the one signed in for this user
        started = time.time()
        with self.client.request(
            method,
            path,
            headers=headers,
            allow_redirects=False,
            catch_response=True,
            name=name,
            **kwargs,
        ) as response:
            status = response.status_code or 0
            RECORDS.append([name, round(started, 3), round(time.time() - started, 4), status])
            if status == 0 or status >= 500:
                response.failure(f"HTTP {status}")
            else:
                response.success()
        return response, status


class Supervisor(Timed, FastHttpUser):
    fixed_count = len(PLAN["supervisors"])
    wait_time = between(10, 30)
    network_timeout = TIMEOUT
    connection_timeout = 10

    def on_start(self):
        self.me = PLAN["supervisors"][next(_SUPERVISORS) % len(PLAN["supervisors"])]
        self.phone = Phone()
        self.items: list[dict] = []  # queued, in order
        self.photos: list[dict] = []  # queued: their fields; the bytes are made when sent
        self.accepted: set[str] = set()  # client ids of records the server has
        self.attempts: dict[str, int] = {}
        self.alert_answered = False
        QUEUES.append(self)
        self.start_patrol()
        self.sync_run()

    # --- the queue -----------------------------------------------------------------------

    def add(self, kind: str, data: dict) -> str:
        client_id = str(uuid.uuid4())
        self.items.append(
            {"client_id": client_id, "kind": kind, "data": data, **self.phone.stamp()}
        )
        return client_id

    def add_photo(self, parent_kind: str, parent: str) -> None:
        lat, lon = self.place()
        self.photos.append(
            {
                "client_id": str(uuid.uuid4()),
                "parent_kind": parent_kind,
                "parent_client_id": parent,
                "stamp": json.dumps(self.phone.stamp()),
                "lat": lat,
                "lon": lon,
                "accuracy": 8,
            }
        )

    def place(self) -> tuple[float, float]:
        return (
            self.me["lat"] + random.uniform(-0.0003, 0.0003),
            self.me["lon"] + random.uniform(-0.0003, 0.0003),
        )

    def start_patrol(self) -> None:
        lat, lon = self.place()
        self.patrol = self.add(
            "patrol.start", {"grid_id": self.me["village"], "lat": lat, "lon": lon, "accuracy": 8}
        )

    def visit(self, outcome: str = "normal") -> str:
        lat, lon = self.place()
        visit = self.add(
            "visit",
            {
                "patrol": self.patrol,
                "outcome": outcome,
                "note": "巡查正常" if outcome == "normal" else "发现问题",
                "source_id": random.choice(self.me["sources"]),
                "lat": lat,
                "lon": lon,
                "accuracy": 8,
            },
        )
        self.add_photo("visit", visit)
        return visit

    def _attempt(self, client_id: str) -> int:
        self.attempts[client_id] = self.attempts.get(client_id, 0) + 1
        return self.attempts[client_id]

    def sync_run(self) -> None:
        """Send the queue as the phone does: a fresh token, the items in one batch, then each
        photo whose record the server has."""
        if not self.items and not self.photos:
            return
        token, status = self.call(
            "GET /sync/token", "GET", "/sync/token", headers={"Accept": "application/json"}
        )
        if status != 200:
            return
        try:
            csrf = token.json()["csrf_token"]
        except (ValueError, KeyError):
            return
        headers = {"Accept": "application/json", "X-CSRFToken": csrf}
        if self.items:
            self._send_items(headers)
        for photo in [p for p in self.photos if p["parent_client_id"] in self.accepted]:
            self._send_photo(photo, headers)

    def _send_items(self, headers: dict) -> None:
        batch = self.items[:50]
        for item in batch:
            self._attempt(item["client_id"])
        answer, status = self.call(
            "POST /sync/items",
            "POST",
            "/sync/items",
            json={"sent": self.phone.stamp(), "items": batch},
            headers=headers,
        )
        results = None
        if status == 200:
            try:
                results = answer.json()["results"]
            except (ValueError, KeyError):
                results = None
        if results is None or len(results) != len(batch):
            for item in batch:  # no answer for any of them: all stay queued
                log_attempt(self.me["login"], item["client_id"], item["kind"], status, 0, "retry")
            return
        for item, result in zip(batch, results, strict=True):
            code = int(result.get("status") or 0)
            answer = outcome_of(code, result.get("error"))
            log_attempt(self.me["login"], item["client_id"], item["kind"], status, code, answer)
            if answer == "accepted":
                self.accepted.add(item["client_id"])
            if answer != "retry":
                self.items.remove(item)

    def _send_photo(self, photo: dict, headers: dict) -> None:
        self._attempt(photo["client_id"])
        fields = {**photo, "sent": json.dumps(self.phone.stamp())}
        body, content_type = encode_multipart_formdata(
            [(k, str(v)) for k, v in fields.items()]
            + [("file", ("photo.jpg", unique_jpeg(PHOTO), "image/jpeg"))]
        )
        answer, status = self.call(
            "POST /sync/photos",
            "POST",
            "/sync/photos",
            data=body,
            headers={**headers, "Content-Type": content_type},
        )
        error = None
        if status >= 400:
            try:
                error = answer.json().get("error")
            except (ValueError, AttributeError):
                error = None
        result = outcome_of(status, error)
        log_attempt(self.me["login"], photo["client_id"], "photo", status, status, result)
        if result != "retry":
            self.photos.remove(photo)

    # --- what a supervisor does ------------------------------------------------------------

    @task(4)
    def patrol_visit(self):
        """A source visited, with a photo, sent at once."""
        self.visit()
        self.sync_run()

    @task(2)
    def offline_queue(self):
        """Back in coverage: route points, two to four visits and a problem, all at once."""
        now = int(time.time() * 1000)
        points = []
        for n in range(10):
            lat, lon = self.place()
            points.append([now - (10 - n) * 15_000, 1000.0 + n, lon, lat, 10])
        self.add("patrol.route", {"patrol": self.patrol, "points": points})
        for _ in range(random.randint(2, 4)):
            self.visit()
        visit = self.visit("problem")
        lat, lon = self.place()
        problem = self.add(
            "problem",
            {
                "patrol": self.patrol,
                "visit": visit,
                "source_id": random.choice(self.me["sources"]),
                "category": PLAN["category"],
                "severity": "moderate",
                "description": f"压测发现的问题 {next(_SERIAL)}",
                "lat": lat,
                "lon": lon,
                "accuracy": 8,
            },
        )
        self.add_photo("problem", problem)
        self.sync_run()

    @task(4)
    def poll(self):
        """The unread badge, as the top bar polls it; now and then the home page."""
        self.call("GET /notifications/badge", "GET", "/notifications/badge")
        if random.random() < 0.3:
            self.call("GET /", "GET", "/")
        self.sync_run()  # anything left from an earlier run

    @task(1)
    def answer_alert(self):
        """The alert this supervisor was sent to: on-site situation with a photo at the
        station, then the disposal result."""
        sent = self.me.get("dispatch")
        if not sent or self.alert_answered:
            return self.poll()
        self.alert_answered = True
        self.call("GET /alerts/<id>", "GET", f"/alerts/{sent['alert']}")
        onsite = self.add(
            "alert.onsite",
            {
                "dispatch": sent["id"],
                "photos": 1,
                "note": "已到现场,站点周边无明显污染源",
                "lat": sent["lat"],
                "lon": sent["lon"],
                "accuracy": 10,
            },
        )
        self.add_photo("alert_feedback", onsite)
        self.add("alert.disposal", {"dispatch": sent["id"], "note": "已处置:清扫路面、洒水降尘"})
        self.sync_run()

    @task(1)
    def next_patrol(self):
        """The patrol ends and the next one starts."""
        lat, lon = self.place()
        self.add("patrol.end", {"patrol": self.patrol, "lat": lat, "lon": lon, "accuracy": 8})
        self.start_patrol()
        self.sync_run()


class Office(Timed, FastHttpUser):
    fixed_count = len(PLAN["offices"])
    wait_time = between(10, 30)
    network_timeout = TIMEOUT
    connection_timeout = 10

    def on_start(self):
        self.me = PLAN["offices"][next(_OFFICES) % len(PLAN["offices"])]

    @task(3)
    def desktop(self):
        """The assessment desktop: the prefecture's, or the county's month it redirects to."""
        answer, status = self.call("GET /assess/", "GET", "/assess/")
        if status in (301, 302, 303):
            location = answer.headers.get("Location", "")
            path = "/" + location.split("://", 1)[-1].split("/", 1)[-1] if location else ""
            if path.startswith("/assess/"):
                self.call("GET /assess/<county>", "GET", path)

    @task(2)
    def alerts(self):
        self.call("GET /alerts/", "GET", "/alerts/")

    @task(2)
    def problems(self):
        self.call("GET /problems/", "GET", "/problems/")

    @task(3)
    def badge(self):
        self.call("GET /notifications/badge", "GET", "/notifications/badge")
