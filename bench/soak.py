"""Load and faults on the deployed stack (`make soak`, `python -m bench soak`; issue 14).

300 village supervisors and 20 county and prefecture offices, signed in through nginx, work for
GRIDPATROL_SOAK_SECONDS (default 600) against deploy/stack.py (two gunicorn servers behind nginx,
Redis, two huey consumers, the HJ 212 receiver) on a PostgreSQL cluster of this run's own, driven
by locust (bench/soak_locust.py). Meanwhile, at spaced times: a gunicorn worker killed with
SIGKILL, one application server stopped and started again, PostgreSQL restarted, the network to
Redis cut for 30 s, the photo folder read-only for a minute and 50 clients holding uploads open
(the durations are scaled down for shorter runs). Then the queues the phones still hold are sent
(the phones come back), and the checks run: every item the clients were told was accepted is in
the database once, every item refused or unanswered was sent again and is in it once, no
problem, patrol or alert is in an impossible state, every notification due was delivered or is
being retried, and the audit chains verify. The report is docs/reliability.md.

PostgreSQL: a cluster of its own on port 55499 (scripts/test-postgres.sh; never the test suite's
55432, which other runs use), restarted by pg_ctl. The demo is loaded once into a template
database, copied for each run.
"""

import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from bench.common import PYTHON, ROOT, load_average, machine_markdown, percentile, table
from bench.http import PASSWORD, USER_AGENT, log_in
from bench.sync import phone_photo

SUPERVISORS = 300
OFFICES = 20
DURATION = int(os.environ.get("GRIDPATROL_SOAK_SECONDS") or 600)
FULL = 600  # the length the fault durations below are for; shorter runs scale them down
PG_PORT = 55499
TEMPLATE_DB = "gridpatrol_soak_template"
RUN_DB = "gridpatrol_soak"
SPAWN_RATE = 20  # users started per second
STOP_TIMEOUT = 30  # seconds the users get to finish their task when the time is up
ALERT_WAIT_S = 150  # for the demo replay's first alerts (the consumer runs it each minute)
DISPATCHED_ALERTS = 30  # alerts the county offices send supervisors to before the run
DRAIN_ROUNDS = 20  # sync runs a phone makes after the run to empty its queue
SETTLE_S = 120  # at most, for the notification tasks to finish after the run
SLOW_CLIENTS = 50
REPORT = ROOT / "docs" / "reliability.md"
# Everyone signs in from 127.0.0.1 here, 320 people in a minute; in the field each phone has its
# own address. The per-account limits stay as shipped.
LOGIN_LIMIT = "100000 per minute"
# The fault schedule: (when, as a share of the run; name; seconds it lasts in a full run).
FAULTS = (
    (0.10, "worker killed", 0),
    (0.22, "server restarted", 20),
    (0.36, "PostgreSQL restarted", 0),
    (0.50, "Redis network cut", 30),
    (0.64, "photos read-only", 60),
    (0.80, "slow uploads held", 60),
)


def log(message: str) -> None:
    print(f"soak: {message}", file=sys.stderr, flush=True)


# --- the PostgreSQL cluster and the template -----------------------------------------------------


@dataclass
class Cluster:
    admin_url: str
    data: Path
    pg_ctl: Path

    @classmethod
    def start(cls) -> "Cluster":
        done = subprocess.run(
            [str(ROOT / "scripts" / "test-postgres.sh")],
            env={**os.environ, "GRIDPATROL_PG_PORT": str(PG_PORT)},
            capture_output=True,
            text=True,
            check=True,
        )
        major = sorted(os.listdir("/usr/lib/postgresql"), key=int)[-1]
        data = Path(os.environ.get("TMPDIR") or "/tmp") / f"gridpatrol-test-pg-{PG_PORT}"  # noqa: S108
        return cls(done.stdout.strip(), data, Path(f"/usr/lib/postgresql/{major}/bin/pg_ctl"))

    def url(self, database: str) -> str:
        return sa.make_url(self.admin_url).set(database=database).render_as_string(False)

    def admin(self, *statements: str) -> None:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for statement in statements:
                    conn.execute(sa.text(statement))
        finally:
            engine.dispose()

    def restart(self) -> float:
        """pg_ctl restart -m fast (every connection cut); the seconds it took."""
        log_file = self.data / "server.log"
        args = [
            str(self.pg_ctl),
            "-D",
            str(self.data),
            "-l",
            str(log_file),
            "restart",
            "-m",
            "fast",
        ]
        args.append("-w")
        if os.geteuid() == 0:
            args = ["runuser", "-u", "postgres", "--", *args]
        started = time.monotonic()
        # The server started inherits the output: a file, never a pipe of ours (nobody would
        # read it, and a full pipe stops PostgreSQL).
        subprocess.run(  # noqa: S603
            args,
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.monotonic() - started


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(ROOT / "migrations")).get_current_head()


def prepare_template(cluster: Cluster, secret: str) -> None:
    """The demo, migrated and loaded once; made again when the migrations moved on."""
    url = cluster.url(TEMPLATE_DB)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            current = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
            people = conn.scalar(sa.text("SELECT count(*) FROM user_account"))
        if current == _head_revision() and people:
            return
    except sa.exc.SQLAlchemyError:
        pass
    finally:
        engine.dispose()
    log("loading the demo into the template database (once)")
    cluster.admin(
        f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)', f'CREATE DATABASE "{TEMPLATE_DB}"'
    )
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()
    env = {**os.environ, "FLASK_APP": "app", "GRIDPATROL_SECRET_KEY": secret, "DATABASE_URL": url}
    env.pop("GRIDPATROL_TASKS_URL", None)
    for command in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run([PYTHON, "-m", "flask", *command], cwd=ROOT, env=env, check=True)  # noqa: S603


def fresh_database(cluster: Cluster) -> str:
    cluster.admin(
        f'DROP DATABASE IF EXISTS "{RUN_DB}" WITH (FORCE)',
        f'CREATE DATABASE "{RUN_DB}" TEMPLATE "{TEMPLATE_DB}"',
    )
    return cluster.url(RUN_DB)


# --- the people ----------------------------------------------------------------------------------


def wait_for_alerts(engine: sa.Engine) -> int:
    """Until the demo replay (the consumer's task each minute) has raised alerts; how many."""
    deadline = time.monotonic() + ALERT_WAIT_S
    query = sa.text("SELECT count(*) FROM alert WHERE status = 'open' AND kind <> 'health'")
    while True:
        with engine.connect() as conn:
            found = conn.scalar(query)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(3)


def choose_people(engine: sa.Engine) -> tuple[list[dict], list[dict], list[dict]]:
    """SUPERVISORS village supervisors with located sources (those of counties with open alerts
    first), OFFICES county and prefecture people (offices first, then county heads), and the
    open alerts with their stations."""
    today = datetime.now().date().isoformat()
    with engine.connect() as conn:
        alerts = [
            dict(r._mapping)
            for r in conn.execute(
                sa.text(
                    """
                    SELECT a.id, a.county_id, s.lon, s.lat FROM alert a
                    JOIN station s ON s.id = a.station_id
                    WHERE a.status = 'open' AND a.kind <> 'health' ORDER BY a.id
                    """
                )
            )
        ]
        rows = conn.execute(
            sa.text(
                """
                SELECT u.id, u.username, m.grid_id, g.path, s.id, ST_X(s.location), ST_Y(s.location)
                FROM membership m
                JOIN user_account u ON u.id = m.user_id
                JOIN grid g ON g.id = m.grid_id
                JOIN source s ON s.grid_id = m.grid_id
                WHERE m.role = 'supervisor' AND g.level = 4 AND u.active
                  AND m.started_on <= :today AND (m.ended_on IS NULL OR m.ended_on >= :today)
                  AND s.status = 'active' AND s.location IS NOT NULL
                ORDER BY u.id, s.id
                """
            ),
            {"today": today},
        ).all()
        offices = [
            {"id": r[0], "login": r[1], "grid": r[2], "level": r[3], "role": r[4]}
            for r in conn.execute(
                sa.text(
                    """
                    SELECT DISTINCT ON (u.id) u.id, u.username, m.grid_id, g.level, m.role
                    FROM membership m
                    JOIN user_account u ON u.id = m.user_id
                    JOIN grid g ON g.id = m.grid_id
                    WHERE g.level IN (1, 2) AND m.role IN ('office', 'head') AND u.active
                      AND m.started_on <= :today
                      AND (m.ended_on IS NULL OR m.ended_on >= :today)
                    ORDER BY u.id, m.role DESC
                    """
                ),
                {"today": today},
            )
        ]
    people: dict[int, dict] = {}
    for uid, login, village, path, source, lon, lat in rows:
        if uid not in people:
            county = int(path.strip("/").split("/")[1])
            people[uid] = {
                "id": uid,
                "login": login,
                "village": village,
                "county": county,
                "sources": [],
                "lon": lon,
                "lat": lat,
            }
        people[uid]["sources"].append(source)
    # Spread over the prefecture as the people are: a county's n-th supervisor after every
    # county's (n-1)-th; the alerts likewise, so that each county office has some to send to.
    ranked = _round_robin(list(people.values()), "county")
    alerts = _round_robin(alerts, "county_id")
    offices.sort(key=lambda o: (o["role"] != "office", o["level"], o["id"]))
    if len(ranked) < SUPERVISORS or len(offices) < OFFICES:
        raise RuntimeError(
            f"the demo has {len(ranked)} supervisors with sources and {len(offices)} offices"
        )
    return ranked[:SUPERVISORS], offices[:OFFICES], alerts


def _round_robin(rows: list[dict], key: str) -> list[dict]:
    """The rows, the first of each group (by `key`), then the second of each, and so on."""
    groups: dict = {}
    for row in rows:
        groups.setdefault(row[key], []).append(row)
    order = {id(row): (n, k) for k, group in groups.items() for n, row in enumerate(group)}
    return sorted(rows, key=lambda row: order[id(row)])


def sign_in_all(base: str, people: list[dict]) -> None:
    """Each signs in through nginx with the log-in form (eight at a time)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(person: dict) -> None:
        person["cookie"] = log_in(base, person["login"], PASSWORD)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, people))


def choose_sms(engine: sa.Engine, people: list[dict]) -> None:
    """Everyone in the run takes notifications by SMS too (the demo gateway logs them), so that
    each notification has a delivery due, whose attempts notify's log shows."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                """
                INSERT INTO channel_choice (user_id, web_push, robot, sms, updated_at)
                VALUES (:id, true, true, true, now() at time zone 'utc')
                ON CONFLICT (user_id) DO UPDATE SET sms = true
                """
            ),
            [{"id": p["id"]} for p in people],
        )


def _request(base: str, cookie: str, path: str, body: bytes | None = None, headers=None):
    """(status, text, headers) of one request with a session, no redirects followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(
        base + path,
        data=body,
        headers={"User-Agent": USER_AGENT, "Cookie": f"session={cookie}", **(headers or {})},
    )
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=60) as answer:
            return answer.status, answer.read().decode("utf-8", "replace"), answer.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace"), exc.headers
    except OSError:
        return 0, "", {}


def token(base: str, cookie: str) -> str | None:
    status, text, _headers = _request(
        base, cookie, "/sync/token", headers={"Accept": "application/json"}
    )
    return json.loads(text)["csrf_token"] if status == 200 else None


def dispatch_alerts(
    base: str, engine: sa.Engine, alerts: list[dict], supervisors: list[dict], offices: list[dict]
) -> int:
    """Each county office sends two of the run's supervisors of its county to its open alerts,
    through its alert page's form; each supervisor sent is told the dispatch and the station."""
    office_of = {o["grid"]: o for o in offices if o["level"] == 2 and o["role"] == "office"}
    free = [s for s in supervisors]
    sent = 0
    for alert in alerts[:DISPATCHED_ALERTS]:
        office = office_of.get(alert["county_id"])
        chosen = [s for s in free if s["county"] == alert["county_id"]][:2]
        if office is None or not chosen:
            continue
        csrf = token(base, office["cookie"])
        body = urllib.parse.urlencode(
            [("csrf_token", csrf), ("note", "压测:请立即前往现场")]
            + [("supervisor", str(s["id"])) for s in chosen]
        ).encode()
        status, _text, _headers = _request(
            base,
            office["cookie"],
            f"/alerts/{alert['id']}/dispatch",
            body,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        if status not in (302, 303):
            log(f"dispatching to alert {alert['id']} answered {status}")
            continue
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id, supervisor_id FROM alert_dispatch WHERE alert_id = :a"),
                {"a": alert["id"]},
            ).all()
        ids = dict((uid, did) for did, uid in rows)
        for supervisor in chosen:
            if supervisor["id"] in ids:
                supervisor["dispatch"] = {
                    "id": ids[supervisor["id"]],
                    "alert": alert["id"],
                    "lon": alert["lon"],
                    "lat": alert["lat"],
                }
                free.remove(supervisor)
                sent += 1
    return sent


# --- the faults ----------------------------------------------------------------------------------


@dataclass
class Fault:
    name: str
    started: float = 0.0
    ended: float = 0.0
    detail: str = ""


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _half_upload(port: int, total: int = 3_000_000) -> socket.socket:
    """A phone on a dying link: the headers and half the body of a photo upload, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        (
            "POST /sync/photos HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: multipart/form-data; boundary=soak\r\n"
            f"Content-Length: {total}\r\n\r\n"
        ).encode()
        + b"--soak\r\n"
        + b"x" * (total // 2)
    )
    return sock


class Faults(threading.Thread):
    """The fault schedule, run beside the load; each fault's start, end and what it did."""

    def __init__(self, stack, cluster: Cluster, duration: float):
        super().__init__(daemon=True)
        self.stack, self.cluster, self.duration = stack, cluster, duration
        self.done: list[Fault] = []
        self.failed: list[str] = []
        self._halt = threading.Event()
        self.t0 = time.time()

    def lasting(self, full_seconds: float) -> float:
        return max(5.0, full_seconds * min(1.0, self.duration / FULL)) if full_seconds else 0.0

    def run(self) -> None:
        for share, name, full_seconds in FAULTS:
            if self._halt.wait(max(0.0, self.t0 + share * self.duration - time.time())):
                return
            fault = Fault(name, started=time.time())
            try:
                fault.detail = self.apply(name, self.lasting(full_seconds))
            except Exception as exc:  # a fault that could not be made is a finding of its own
                self.failed.append(f"{name}: {exc}")
                fault.detail = f"could not be made: {exc}"
            fault.ended = time.time()
            self.done.append(fault)
            log(f"fault: {name}: {fault.detail}")

    def apply(self, name: str, seconds: float) -> str:
        stack = self.stack
        if name == "worker killed":
            workers = _children(stack.services["web0"].proc.pid)
            victim = workers[0]
            os.kill(victim, signal.SIGKILL)
            return f"SIGKILL to worker {victim} of server 1 (of {len(workers)})"
        if name == "server restarted":
            stack.services["web1"].stop()
            time.sleep(seconds)
            stack.services["web1"].start(stack.logs)
            return f"server 2 stopped (SIGTERM), down {seconds:.0f} s, started again"
        if name == "PostgreSQL restarted":
            took = self.cluster.restart()
            return f"pg_ctl restart -m fast: {took:.1f} s"
        if name == "Redis network cut":
            stack.cut_redis(seconds)
            time.sleep(seconds)
            return f"every connection to Redis reset, new ones blackholed for {seconds:.0f} s"
        if name == "photos read-only":
            stack.photos_read_only(True)
            try:
                time.sleep(seconds)
            finally:
                stack.photos_read_only(False)
            return f"photo folder remounted read-only for {seconds:.0f} s"
        if name == "slow uploads held":
            held = [_half_upload(stack.nginx_port) for _ in range(SLOW_CLIENTS)]
            try:
                time.sleep(seconds)
            finally:
                for sock in held:
                    sock.close()
            return f"{SLOW_CLIENTS} uploads of 3 MB sent half-way, held {seconds:.0f} s"
        raise ValueError(name)

    def stop(self) -> None:
        self._halt.set()


# --- the load ------------------------------------------------------------------------------------


def run_locust(scratch: Path, base: str, plan: dict) -> dict:
    shutil.copy(ROOT / "bench" / "soak_locust.py", scratch / "soak_locust.py")
    (scratch / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    users = len(plan["supervisors"]) + len(plan["offices"])
    command = [
        PYTHON,
        "-m",
        "locust",
        "-f",
        str(scratch / "soak_locust.py"),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(SPAWN_RATE),
        "-t",
        f"{DURATION}s",
        "--stop-timeout",
        str(STOP_TIMEOUT),
        "--host",
        base,
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    env = {
        **os.environ,
        "SOAK_PLAN": str(scratch / "plan.json"),
        "SOAK_OUT": str(scratch / "out.json"),
        "SOAK_CLIENT_LOG": str(scratch / "clients.jsonl"),
    }
    done = subprocess.run(  # noqa: S603
        command,
        cwd=scratch,
        env=env,
        capture_output=True,
        text=True,
        timeout=DURATION + STOP_TIMEOUT + 300,
    )
    out = scratch / "out.json"
    if not out.exists():
        raise RuntimeError(f"locust wrote no records ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(out.read_text(encoding="utf-8"))
    result["stderr"] = done.stderr[-3000:]
    return result


def _outcome(status: int, error: str | None) -> str:
    """As the phone's queue sees an answer (the same rule as bench/soak_locust.py)."""
    if 200 <= status < 300:
        return "accepted"
    if status == 0 or status >= 500 or (status == 409 and (error or "").startswith("unknown_")):
        return "retry"
    return "refused"


def _multipart(fields: dict, photo: bytes) -> tuple[bytes, str]:
    from urllib3 import encode_multipart_formdata

    note = f"gridpatrol-soak {uuid.uuid4()}".encode()
    data = photo[:2] + b"\xff\xfe" + len(note).__add__(2).to_bytes(2, "big") + note + photo[2:]
    return encode_multipart_formdata(
        [(k, str(v)) for k, v in fields.items()] + [("file", ("photo.jpg", data, "image/jpeg"))]
    )


def drain(base: str, queues: list[dict], photo: bytes, client_log: Path) -> int:
    """The phones back in coverage after the run: each sends what its queue still holds, as its
    queue does (same client ids), until it is empty; how many sync runs that took in all."""
    runs = 0
    stamp = {"device_ms": int(time.time() * 1000), "elapsed_ms": 1.0, "boot": str(uuid.uuid4())}
    with client_log.open("a", encoding="utf-8") as logfile:

        def note(login, client_id, kind, http, status, outcome):
            entry = {
                "t": round(time.time(), 3),
                "user": login,
                "client_id": client_id,
                "kind": kind,
                "http": http,
                "status": status,
                "outcome": outcome,
                "drain": True,
            }
            logfile.write(json.dumps(entry) + "\n")

        for queue in queues:
            accepted = set(queue["accepted"])
            for _round in range(DRAIN_ROUNDS):
                if not queue["items"] and not queue["photos"]:
                    break
                runs += 1
                csrf = token(base, queue["cookie"])
                if csrf is None:
                    time.sleep(2)
                    continue
                headers = {"Accept": "application/json", "X-CSRFToken": csrf}
                if queue["items"]:
                    batch = queue["items"][:50]
                    status, text, _h = _request(
                        base,
                        queue["cookie"],
                        "/sync/items",
                        json.dumps({"sent": stamp, "items": batch}).encode(),
                        {**headers, "Content-Type": "application/json"},
                    )
                    results = json.loads(text).get("results") if status == 200 else None
                    if not results or len(results) != len(batch):
                        for item in batch:
                            note(
                                queue["login"], item["client_id"], item["kind"], status, 0, "retry"
                            )
                    else:
                        for item, result in zip(batch, results, strict=True):
                            code = int(result.get("status") or 0)
                            outcome = _outcome(code, result.get("error"))
                            note(
                                queue["login"],
                                item["client_id"],
                                item["kind"],
                                status,
                                code,
                                outcome,
                            )
                            if outcome == "accepted":
                                accepted.add(item["client_id"])
                            if outcome != "retry":
                                queue["items"].remove(item)
                for fields in [p for p in queue["photos"] if p["parent_client_id"] in accepted]:
                    body, content_type = _multipart({**fields, "sent": json.dumps(stamp)}, photo)
                    status, text, _h = _request(
                        base,
                        queue["cookie"],
                        "/sync/photos",
                        body,
                        {**headers, "Content-Type": content_type},
                    )
                    error = None
                    with contextlib.suppress(ValueError, AttributeError):
                        error = json.loads(text).get("error") if status >= 400 else None
                    outcome = _outcome(status, error)
                    note(queue["login"], fields["client_id"], "photo", status, status, outcome)
                    if outcome != "retry":
                        queue["photos"].remove(fields)
                if queue["items"] or queue["photos"]:
                    time.sleep(1)
    return runs


def settle(stack) -> float:
    """Until the task queue is empty (pending and scheduled retries), at most SETTLE_S; the
    seconds waited."""
    from huey import RedisHuey

    queue = RedisHuey("gridpatrol", url=f"redis://127.0.0.1:{stack.redis_port}/0")
    started = time.monotonic()
    while time.monotonic() - started < SETTLE_S:
        if queue.pending_count() == 0 and queue.scheduled_count() == 0:
            break
        time.sleep(2)
    return time.monotonic() - started


# --- the checks ----------------------------------------------------------------------------------

# Where each kind of item lands: the table and column holding its client id.
RECORD_OF = {
    "patrol.start": ("patrol", "client_id"),
    "patrol.end": ("patrol", "end_client_id"),
    "visit": ("visit", "client_id"),
    "problem": ("problem", "client_id"),
    "alert.onsite": ("alert_feedback", "client_id"),
    "alert.disposal": ("alert_feedback", "client_id"),
    "photo": ("photo", "client_id"),
    "patrol.route": ("sync_receipt", "client_id"),  # points are rows of the patrol's route
}
PHOTO_LINKS = ("visit_photo", "problem_photo", "alert_feedback_photo")


@dataclass
class Check:
    name: str
    checked: int
    failures: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def read_client_log(path: Path) -> dict[str, dict]:
    """Per client id: its kind, who sent it, the attempts and their outcomes, in order."""
    items: dict[str, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        item = items.setdefault(
            entry["client_id"], {"kind": entry["kind"], "user": entry["user"], "outcomes": []}
        )
        item["outcomes"].append((entry["outcome"], entry["status"], entry["http"]))
    return items


def check_items(engine: sa.Engine, items: dict[str, dict]) -> list[Check]:
    accepted = {
        cid: i for cid, i in items.items() if any(o[0] == "accepted" for o in i["outcomes"])
    }
    retried = {cid: i for cid, i in items.items() if any(o[0] == "retry" for o in i["outcomes"])}
    refused = {
        cid: i
        for cid, i in items.items()
        if cid not in accepted and any(o[0] == "refused" for o in i["outcomes"])
    }
    lost = {cid: i for cid, i in items.items() if cid not in accepted and cid not in refused}
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for kind, (table_name, column) in RECORD_OF.items():
            wanted = [cid for cid, i in items.items() if i["kind"] == kind]
            for start in range(0, len(wanted), 5000):
                rows = conn.execute(
                    sa.text(
                        f"SELECT {column}, count(*) FROM {table_name} "  # noqa: S608 - fixed names
                        f"WHERE {column} = ANY(:ids) GROUP BY {column}"
                    ),
                    {"ids": wanted[start : start + 5000]},
                ).all()
                counts.update({cid: n for cid, n in rows})
        receipts = {
            cid: n
            for cid, n in conn.execute(
                sa.text(
                    "SELECT client_id, count(*) FROM sync_receipt "
                    "WHERE client_id = ANY(:ids) GROUP BY client_id"
                ),
                {"ids": list(items)},
            )
        }
    told = Check("every item a client was told was accepted is stored exactly once", len(accepted))
    for cid, item in accepted.items():
        if counts.get(cid, 0) != 1 or receipts.get(cid, 0) != 1:
            told.failures.append(
                f"{item['kind']} {cid} of {item['user']}: {counts.get(cid, 0)} record(s), "
                f"{receipts.get(cid, 0)} receipt(s)"
            )
    again = Check(
        "every item refused or unanswered was sent again and is then stored once", len(retried)
    )
    for cid, item in retried.items():
        if cid not in accepted or counts.get(cid, 0) != 1:
            again.failures.append(
                f"{item['kind']} {cid} of {item['user']}: answers {item['outcomes']}, "
                f"{counts.get(cid, 0)} record(s)"
            )
    for cid, item in lost.items():
        again.failures.append(f"{item['kind']} {cid} of {item['user']}: never accepted")
    for cid, item in refused.items():
        again.failures.append(
            f"{item['kind']} {cid} of {item['user']}: refused for good {item['outcomes'][-1]}"
        )
    return [told, again]


STATE_CHECKS = (
    (
        "a problem's state is that of its last event",
        "SELECT count(*) FROM problem",
        """
        SELECT p.id, p.state, e.to_state FROM problem p
        LEFT JOIN LATERAL (SELECT to_state FROM problem_event WHERE problem_id = p.id
                           ORDER BY seq DESC LIMIT 1) e ON true
        WHERE e.to_state IS DISTINCT FROM p.state
        """,
    ),
    (
        "a problem's events are numbered 1..n without a gap",
        "SELECT count(*) FROM problem",
        """
        SELECT problem_id, count(*), max(seq) FROM problem_event GROUP BY problem_id
        HAVING count(*) <> max(seq) OR min(seq) <> 1 OR count(DISTINCT seq) <> count(*)
        """,
    ),
    (
        "a patrol ended has an end time not before its start, and only then an end item",
        "SELECT count(*) FROM patrol",
        """
        SELECT id, started_at, ended_at, end_client_id FROM patrol
        WHERE (ended_at IS NULL) <> (end_client_id IS NULL) OR ended_at < started_at
        """,
    ),
    (
        "a visit belongs to a patrol of a supervisor of the source's grid",
        "SELECT count(*) FROM visit",
        """
        SELECT v.id FROM visit v JOIN patrol p ON p.id = v.patrol_id
        JOIN source s ON s.id = v.source_id JOIN grid g ON g.id = s.grid_id
        JOIN grid pg ON pg.id = p.grid_id WHERE g.path NOT LIKE pg.path || '%'
        """,
    ),
    (
        "an alert is closed exactly when it has a closing time",
        "SELECT count(*) FROM alert",
        """
        SELECT id, status, closed_at FROM alert
        WHERE (status = 'closed') <> (closed_at IS NOT NULL)
        """,
    ),
    (
        "an alert dispatched has dispatches; an open one has none",
        "SELECT count(*) FROM alert",
        """
        SELECT a.id, a.status FROM alert a
        WHERE (a.status = 'dispatched' AND NOT EXISTS
                 (SELECT 1 FROM alert_dispatch d WHERE d.alert_id = a.id))
           OR (a.status = 'open' AND EXISTS
                 (SELECT 1 FROM alert_dispatch d WHERE d.alert_id = a.id))
        """,
    ),
    (
        "a dispatch has at most one answer of each kind",
        "SELECT count(*) FROM alert_dispatch",
        """
        SELECT dispatch_id, kind, count(*) FROM alert_feedback
        GROUP BY dispatch_id, kind HAVING count(*) > 1
        """,
    ),
    (
        "an on-site answer has its photo",
        "SELECT count(*) FROM alert_feedback WHERE kind = 'onsite'",
        """
        SELECT f.id FROM alert_feedback f WHERE f.kind = 'onsite' AND NOT EXISTS
          (SELECT 1 FROM alert_feedback_photo l WHERE l.alert_feedback_id = f.id)
        """,
    ),
    (
        "a dispatch answered in time is not marked overdue for that answer",
        "SELECT count(*) FROM alert_dispatch",
        """
        SELECT d.id FROM alert_dispatch d JOIN alert_feedback f ON f.dispatch_id = d.id
        WHERE f.captured_at <= f.due_at AND f.received_at <= f.due_at
          AND ((f.kind = 'onsite' AND d.onsite_notice = 2)
            OR (f.kind = 'disposal' AND d.disposal_notice = 2))
        """,
    ),
    (
        "a photo from a phone (of this run) is attached to exactly one record",
        "SELECT count(*) FROM photo WHERE client_id IS NOT NULL AND id > :floor",
        """
        SELECT p.id, coalesce(v.n, 0) + coalesce(pr.n, 0) + coalesce(f.n, 0) FROM photo p
        LEFT JOIN (SELECT photo_id, count(*) n FROM visit_photo GROUP BY photo_id) v
          ON v.photo_id = p.id
        LEFT JOIN (SELECT photo_id, count(*) n FROM problem_photo GROUP BY photo_id) pr
          ON pr.photo_id = p.id
        LEFT JOIN (SELECT photo_id, count(*) n FROM alert_feedback_photo GROUP BY photo_id) f
          ON f.photo_id = p.id
        WHERE p.client_id IS NOT NULL
          AND coalesce(v.n, 0) + coalesce(pr.n, 0) + coalesce(f.n, 0) <> 1 AND p.id > :floor
        """,
    ),
    (
        "a receipt of an item points at a record that exists",
        "SELECT count(*) FROM sync_receipt",
        """
        SELECT r.client_id, r.kind FROM sync_receipt r
        WHERE (r.kind = 'visit' AND NOT EXISTS
                 (SELECT 1 FROM visit v WHERE v.id = (r.response->>'id')::int))
           OR (r.kind = 'problem' AND NOT EXISTS
                 (SELECT 1 FROM problem p WHERE p.id = (r.response->>'id')::int))
           OR (r.kind IN ('patrol.start', 'patrol.end', 'patrol.route') AND NOT EXISTS
                 (SELECT 1 FROM patrol p WHERE p.id = (r.response->>'id')::int))
           OR (r.kind = 'photo' AND NOT EXISTS
                 (SELECT 1 FROM photo p WHERE p.id = (r.response->>'id')::int))
           OR (r.kind LIKE 'alert.%' AND NOT EXISTS
                 (SELECT 1 FROM alert_feedback f WHERE f.id = (r.response->>'id')::int))
        """,
    ),
)


def check_states(engine: sa.Engine, floor: int) -> list[Check]:
    """The STATE_CHECKS; `floor` is the last photo of the demo (the run's come after)."""
    found = []
    with engine.connect() as conn:
        for name, count_sql, bad_sql in STATE_CHECKS:
            params = {"floor": floor} if ":floor" in bad_sql else {}
            checked = conn.scalar(sa.text(count_sql), params)
            bad = conn.execute(sa.text(bad_sql), params).all()
            found.append(Check(name, checked, [str(tuple(r)) for r in bad[:20]]))
    return found


def check_photo_files(engine: sa.Engine, photos: Path, floor: int) -> Check:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, original_key, display_key, thumb_key FROM photo "
                "WHERE client_id IS NOT NULL AND id > :floor"
            ),
            {"floor": floor},
        ).all()
    check = Check("every photo of the run has its three files on the photo disk", len(rows))
    for photo_id, *keys in rows:
        missing = [k for k in keys if not (photos / k).is_file()]
        if missing:
            check.failures.append(f"photo {photo_id}: missing {missing}")
    return check


def check_notifications(engine: sa.Engine, since: datetime) -> Check:
    """Each notification made during the run to someone who takes SMS (everyone in the run):
    a delivery logged or sent, or one to be retried."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                """
                SELECT n.id, n.kind,
                       bool_or(d.status IN ('sent', 'logged')) AS delivered,
                       bool_or(d.status = 'retry') AS retrying,
                       count(d.id) AS attempts
                FROM notification n
                JOIN user_account u ON u.id = n.user_id
                JOIN channel_choice c ON c.user_id = n.user_id
                LEFT JOIN delivery d ON d.notification_id = n.id
                WHERE n.created_at >= :since AND c.sms AND u.mobile IS NOT NULL AND u.active
                GROUP BY n.id, n.kind
                """
            ),
            {"since": since},
        ).all()
    check = Check("every notification due was delivered or is being retried", len(rows))
    for notification_id, kind, delivered, retrying, attempts in rows:
        if not (delivered or retrying):
            check.failures.append(f"notification {notification_id} ({kind}): {attempts} attempts")
    check.counts["delivered"] = sum(1 for r in rows if r[2])
    check.counts["retrying"] = sum(1 for r in rows if not r[2] and r[3])
    return check


VERIFY_SCRIPT = """
import json
from app import create_app
from extensions import db
from grid import audit
from grid.registry import CHAINS
from enforce.draws import services as draws
from enforce.draws.models import Draw
import sqlalchemy as sa
app = create_app()
out = {"chains": {}, "draws": []}
with app.app_context():
    for name in CHAINS.entries():
        broken, checked = audit.verify(name)
        out["chains"][name] = [checked, None if broken is None else repr(broken)]
    for item in db.session.scalars(sa.select(Draw).order_by(Draw.id)):
        result = draws.verify(item)
        out["draws"].append([item.id, bool(result.snapshot_intact), bool(result.matches)])
print(json.dumps(out))
"""


def check_chains(stack) -> list[Check]:
    done = subprocess.run(  # noqa: S603
        [PYTHON, "-c", VERIFY_SCRIPT],
        cwd=ROOT,
        env=stack.app_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        return [Check("the audit chains verify", 0, [done.stderr[-1500:]])]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    chains = Check(
        "the audit chains verify (grid/audit.py, every chain: " + ", ".join(found["chains"]) + ")",
        sum(c[0] for c in found["chains"].values()),
    )
    for name, (_checked, broken) in found["chains"].items():
        if broken:
            chains.failures.append(f"{name}: {broken}")
    draws = Check(
        "the double-random draws verify (drawn again from their seeds)", len(found["draws"])
    )
    for draw_id, intact, matches in found["draws"]:
        if not (intact and matches):
            draws.failures.append(f"draw {draw_id}: intact {intact}, same tasks {matches}")
    return [chains, draws]


# --- the report ----------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def endpoint_rows(records: list[list]) -> list[tuple]:
    by: dict[str, list[list]] = {}
    for record in records:
        by.setdefault(record[0], []).append(record)
    rows = []
    for name in sorted(by):
        recs = by[name]
        answered = [r[2] for r in recs if r[3]]
        errors = sum(1 for r in recs if _is_error(r))
        unavailable = sum(1 for r in recs if r[3] == 503)
        refused = sum(1 for r in recs if 400 <= r[3] < 500)
        rows.append(
            (
                f"`{name}`",
                f"{len(recs):,}",
                errors,
                unavailable,
                refused,
                _ms(percentile(answered, 50)) if answered else "-",
                _ms(percentile(answered, 95)) if answered else "-",
                _ms(percentile(answered, 99)) if answered else "-",
            )
        )
    return rows


def _is_error(record: list) -> bool:
    """A 5xx other than 503, or no answer (503 is "not now": the phone sends it again)."""
    return record[3] == 0 or (record[3] >= 500 and record[3] != 503)


def errors_by_cause(records: list[list], faults: list[Fault], slack: float = 15) -> list[tuple]:
    """Errors and 503s by the fault under way when they happened: the latest one started
    before the request ended and ended at most `slack` s before it started; the rest apart."""
    counted: dict[str, dict[int, int]] = {f.name: {} for f in faults}
    counted["outside every fault window"] = {}
    for record in records:
        if not (_is_error(record) or record[3] == 503):
            continue
        start, end = record[1], record[1] + record[2]
        under_way = [f for f in faults if f.started - 1 <= end and start <= f.ended + slack]
        name = max(under_way, key=lambda f: f.started).name if under_way else None
        statuses = counted[name or "outside every fault window"]
        statuses[record[3]] = statuses.get(record[3], 0) + 1
    rows = []
    for name, statuses in counted.items():
        errors = sum(n for status, n in statuses.items() if status != 503)
        described = ", ".join(f"{k or 'no answer'} × {v}" for k, v in sorted(statuses.items()))
        rows.append((name, errors, statuses.get(503, 0), described or "-"))
    return rows


def fault_rows(faults: list[Fault], t0: float, records: list[list]) -> list[tuple]:
    rows = []
    for fault in faults:
        during = [
            r[2] for r in records if fault.started <= r[1] <= fault.ended + 5 and r[3] not in (0,)
        ]
        rows.append(
            (
                fault.name,
                f"{fault.started - t0:.0f} s",
                f"{fault.ended - fault.started:.0f} s",
                fault.detail,
                _ms(percentile(during, 95)) if during else "-",
            )
        )
    return rows


def write_report(text: str) -> None:
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text.strip() + "\n", encoding="utf-8")
    log(f"wrote {REPORT.relative_to(ROOT)}")


def _tool_version(module: str) -> str:
    done = subprocess.run(  # noqa: S603
        [PYTHON, "-m", module, "--version"], capture_output=True, text=True, timeout=60
    )
    match = re.search(r"(\d+\.\d+\.\d+)", done.stdout + done.stderr)
    return match.group(1) if match else "?"


def _program_version(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30)  # noqa: S603
    except OSError:
        return "?"
    match = re.search(r"(\d+\.\d+(\.\d+)?)", done.stdout + done.stderr)
    return match.group(1) if match else "?"


# What the soak found in the app, for the report (kept by hand: the run cannot tell its own
# history). Each fix has its test in tests/test_soak_findings.py.
FINDINGS = """\
## Findings

Fixed (each with a test in tests/test_soak_findings.py):

1. **Notifications silently not delivered under load.** `extensions.after_commit` ran its calls
   on SQLAlchemy's `after_commit` event, which fires for a savepoint released too: each sync
   item is applied in a savepoint of its own, so a problem's `notify.tasks.deliver` was queued
   before the batch committed. The consumer, faster than the commit, read no notification and
   delivered nothing (121 of 350 notifications in a 90 s run, every fault aside). The calls now
   wait for the outermost commit (`extensions._run_after_commit`).
2. **A kept write answered 500 when Redis was unreachable.** The task queued after the commit
   raised (`redis.exceptions.ConnectionError`) inside the commit hook: the phone was told "500,
   nothing saved" for items that were saved (a person posting a form would post it again), and
   the task was lost. A failing after-commit call is now logged and queued again in the
   background (about ten minutes of tries), and the others still run; robot messages are
   queued one call each, so a retry sends none twice (`notify.services.to_group`).
3. **A delivery fan-out lost to a database restart.** `notify.tasks.deliver` had no retries: a
   PostgreSQL restart while it ran lost the delivery of its notifications. It now reads
   everything before queueing anything and is retried (5 times, 10 s doubling).
4. **The read-only photo disk answered 500 with a traceback.** A store that cannot write is
   now a 503 `storage_unavailable` for a sync photo ("could not be stored just now; it will
   be sent again"), which the phone's queue keeps (`sync.services.prepare_photo`).

Found by the first full run (5 errors), fixed, each with a test in tests/test_backend_outages.py
or tests/test_deploy.py:

5. **500s after PostgreSQL restarted.** Each worker's pooled connection was dead, and was used
   once more (a 500) before the pool replaced it. PostgreSQL's pool now checks a connection as it
   leaves (`pool_pre_ping`, one round trip on the local network). A request in flight while the
   database is down, or a database out of reach, is now a 503 with Retry-After (JSON for the
   phone's queue, which sends again; nginx's own "unavailable" page for a browser), not a 500
   (`extensions.backend_unavailable`, `desk/errors.py`). A sync batch that loses the database
   half-way is a 503 as a whole: its transaction is lost with the connection, the items before
   too. The second run found the error answers themselves failing: each read the account again
   (for the language, for the page's menu) from the database that was down, and became a bare
   500. The 503 is now made without the database, and any error page that cannot be made for
   that reason becomes the 503. The third run found nginx taking those 503s for failing servers
   (`proxy_next_upstream http_503` with `max_fails`): it left both out and answered 502 to
   everyone for ten seconds. The app's 503 means a part every server shares is out of reach, so
   nginx no longer passes it on or counts it.
6. **A 502 when a server was stopped.** Stopping a gunicorn server resets the requests nginx had
   passed to it and its workers had not taken; nginx does not resend a POST. The phone's sync
   (`/sync/items`, `/sync/photos`) is idempotent by each item's and photo's own id, so nginx now
   passes those on to the other server (`non_idempotent` on that location only); a form's POST
   still is not resent. Taking a server out of the upstream first (`down`, `nginx -s reload`)
   is still the gentler way to stop one (docs/operations.md).
7. **Requests held while the network to Redis was cut.** No timeout on Redis connections: every
   request that queued a task or counted a log-in waited until the link came back (p95 about
   22 s during the 30 s cut). Redis connections now give up after 3 s to connect and 5 s for an
   answer (`extensions.REDIS_TIMEOUTS`, for the task queue and the rate limiter; options in the
   URL win): a task is queued again in the background (finding 2), a log-in answered 503.

A SIGKILLed worker's request in flight: a sync item or photo is passed on to the other server
as above (applied there, or answered as the first time if the killed worker had committed it); a
form's POST gets nginx's 503 page, and its person sends it again.

### The HJ 212 receiver's soak (docs/reliability-hj212.md)

Its first ten-minute run (2026-12-02, git 5d1e610) failed three checks; each was found and fixed:

8. **Memory rising (+10.9% in ten minutes, still about 1 MB a minute at the end).** Sampled
   every 15 s with glibc's `mallinfo2` and Python's block count in a diagnostic run: the
   Python objects and the memory malloc had handed out stayed level (50-65 MB), while the
   memory freed but kept by malloc grew from 26 to 64 MB, the RSS with it. glibc gives each
   thread allocating at the same time an arena of its own (up to eight per core; nine in a
   probe of eight threads), and memory freed in one arena is reused only there: the receiver's
   authentication and writer threads each kept their own. `flask alerts hj212-serve` now caps
   the arenas at two before its threads start (`alerts.cli._fewer_malloc_arenas`; an
   operator's MALLOC_ARENA_MAX wins). Side by side, five-minute runs: +12.0% without the cap,
   +5.8% with it; the ten-minute run: +5.1%, level (within 2 MB) over its last seven minutes.
   SQLite's page caches (2 MB per connection) were the first guess; the counts showed them
   not to be the cause.
9. **A traceback at SIGTERM.** The signal handler raised KeyboardInterrupt wherever the main
   thread was, here in the middle of a reply's write. The receiver now takes SIGTERM and Ctrl-C
   on its event loop and closes between two steps. Doing so showed a second one: Python 3.11's
   `start_server` logs a traceback for every connection task that ends cancelled, so a
   connection cancelled by the close now ends quietly as "server closing". The test sends
   SIGTERM to a receiver busy with 20 connections storing and replying, and fails on either.
10. **One connection's close not matched in the log.** That run's log was not kept, so its
    cause is not known for certain; the likeliest is the same interrupt, landing between a
    connection's end and the client's record of it. It did not recur once SIGTERM was taken on
    the loop: 0 unmatched in the 56,013 connections of the run after, and 0 in a five-minute
    run before it.

The bench now keeps the receiver's log in `.bench/hj212-soak-receiver.log` and prints its first
traceback in the report.
"""


# --- the whole run -------------------------------------------------------------------------------


def run(ctx=None) -> str:
    """The soak; writes docs/reliability.md and returns its text."""
    from deploy.stack import Stack, available

    why = available()
    if why:
        raise RuntimeError(why)
    started, load_before = datetime.now().astimezone(), load_average()
    secret = "soak-" + "s" * 59
    cluster = Cluster.start()
    prepare_template(cluster, secret)
    url = fresh_database(cluster)
    engine = sa.create_engine(url, pool_pre_ping=True)
    scratch = Path(tempfile.mkdtemp(prefix="gridpatrol-soak-"))
    photo = phone_photo(random.Random(14))
    (scratch / "photo.jpg").write_bytes(photo)
    stack = Stack(
        url,
        servers=2,
        redis_relay=True,
        photo_mount=True,
        extra_env={
            "GRIDPATROL_LOGIN_LIMIT_PER_ADDRESS": LOGIN_LIMIT,
            "GRIDPATROL_DEMO_REPLAY": "true",
        },
    )
    from patrol import catalog

    try:
        stack.start()
        log(f"stack up on {stack.url}; waiting for the demo replay's alerts")
        alerts_raised = wait_for_alerts(engine)
        supervisors, offices, alerts = choose_people(engine)
        log(f"{alerts_raised} open alerts; signing in {len(supervisors) + len(offices)} people")
        sign_in_all(stack.url, supervisors + offices)
        choose_sms(engine, supervisors + offices)
        dispatched = dispatch_alerts(stack.url, engine, alerts, supervisors, offices)
        log(f"{dispatched} supervisors sent to alerts; load for {DURATION} s")
        plan = {
            "supervisors": supervisors,
            "offices": offices,
            "photo": str(scratch / "photo.jpg"),
            "category": catalog.CATEGORIES[0].code,
            "user_agent": USER_AGENT,
        }
        with engine.connect() as conn:
            since = conn.scalar(sa.text("SELECT now() at time zone 'utc'"))
            floor = conn.scalar(sa.text("SELECT coalesce(max(id), 0) FROM photo"))
        faults = Faults(stack, cluster, DURATION)
        t0 = time.time()
        faults.t0 = t0
        faults.start()
        result = run_locust(scratch, stack.url, plan)
        faults.stop()
        faults.join(timeout=120)
        load_end = time.time()
        queued = sum(len(q["items"]) + len(q["photos"]) for q in result["queues"])
        log(f"load done; {queued} items and photos still queued on the phones; sending them")
        drain_runs = drain(stack.url, result["queues"], photo, scratch / "clients.jsonl")
        waited = settle(stack)
        log(f"task queue settled in {waited:.0f} s; checking")
        items = read_client_log(scratch / "clients.jsonl")
        checks = check_items(engine, items)
        checks += check_states(engine, floor)
        checks.append(check_photo_files(engine, stack.photos, floor))
        checks.append(check_notifications(engine, since))
        checks += check_chains(stack)
        finished = datetime.now().astimezone()
        text = report(
            started,
            finished,
            load_before,
            result,
            faults,
            t0,
            load_end,
            items,
            checks,
            {
                "alerts": alerts_raised,
                "dispatched": dispatched,
                "queued": queued,
                "drain_runs": drain_runs,
                "settle_s": waited,
                "photo_kb": len(photo) // 1024,
            },
        )
        write_report(text)
        (scratch / "checks.json").write_text(
            json.dumps([{"name": c.name, "failures": c.failures} for c in checks], indent=1)
        )
        log(f"client log and records kept in {scratch}")
        return text
    finally:
        stack.stop()
        engine.dispose()


def report(
    started, finished, load_before, result, faults, t0, load_end, items, checks, facts
) -> str:
    records = [r for r in result["records"]]
    seconds = max(load_end - t0, 1)
    in_run = [r for r in records if r[1] <= load_end]
    accepted = {
        k: sum(
            1
            for i in items.values()
            if i["kind"] == k and any(o[0] == "accepted" for o in i["outcomes"])
        )
        for k in sorted({i["kind"] for i in items.values()})
    }
    retried = sum(1 for i in items.values() if any(o[0] == "retry" for o in i["outcomes"]))
    errors = sum(1 for r in records if _is_error(r))
    unavailable = sum(1 for r in records if r[3] == 503)
    machine = machine_markdown(started, finished, load_before)
    versions = (
        f"locust {_tool_version('locust')}, nginx {_program_version(['nginx', '-v'])}, "
        f"Redis {_program_version(['redis-server', '--version'])}, PostgreSQL "
        f"{_program_version(['psql', '--version'])}"
    )
    check_rows = [
        (c.name, f"{c.checked:,}", "**passed**" if c.ok else f"**FAILED** ({len(c.failures)})")
        for c in checks
    ]
    failures = "\n".join(
        f"- {c.name}:\n" + "\n".join(f"  - {f}" for f in c.failures[:15])
        for c in checks
        if c.failures
    )
    fault_table = table(
        ("Fault", "At", "Lasted", "What was done", "p95 of requests during it (ms)"),
        fault_rows(faults.done, t0, records),
    )
    endpoint_table = table(
        ("Endpoint", "Requests", "Errors", "503", "4xx", "p50 ms", "p95 ms", "p99 ms"),
        endpoint_rows(records),
    )
    unmade = (
        " Faults that could not be made: " + "; ".join(faults.failed) + "." if faults.failed else ""
    )
    failure_text = (
        "Failures (first 15 of each):\n\n" + failures if failures else "Every check passed."
    )
    notify_check = next((c for c in checks if c.name.startswith("every notification")), None)
    delivered = notify_check.counts.get("delivered", 0) if notify_check else 0
    retrying = notify_check.counts.get("retrying", 0) if notify_check else 0
    return f"""\
# Reliability: load and faults

Written by `make soak` (`python -m bench soak`; bench/soak.py, bench/soak_locust.py); run on
demand, never by the tests. The load generator runs on the same machine as the whole stack and
shares its cores. The HJ 212 receiver's own soak (1,000 connections, slow senders and garbage)
follows it in `make soak` and is in docs/reliability-hj212.md.

{machine}

Tools: {versions}.

## What ran (`bench/soak.py`)

The stack of deploy/stack.py on loopback, with the shipped nginx and gunicorn configuration: two
gunicorn servers (two sync workers each) behind nginx, Redis (task queue and rate-limit
counters), two huey consumers (one with the scheduler), the HJ 212 receiver, and a PostgreSQL
cluster of the run's own (port {PG_PORT}), on a copy
of the demo (`flask demo load`, kept as a template database). The demo replays the stations'
readings (`GRIDPATROL_DEMO_REPLAY=true`), so alerts are raised during the run: {facts["alerts"]}
were open when the load started, and the county offices sent {facts["dispatched"]} of the run's
supervisors to them through the alert page's form.

Run-specific configuration, and why: `GRIDPATROL_LOGIN_LIMIT_PER_ADDRESS={LOGIN_LIMIT}` (every
client signs in from 127.0.0.1 here; in the field each phone has its own address; the
per-account limits stay as shipped). Every person in the run takes notifications by SMS too
(the demo SMS gateway logs each message as a delivery), so that every notification has a
delivery due. Redis is reached through a TCP relay that can cut the network, and the photo folder
is a bind mount of itself that can be remounted read-only (both options of deploy/stack.py).

Load: locust, headless, {SUPERVISORS} village supervisors and {OFFICES} county and prefecture
office people (the 12 offices of level 1 and 2, then county heads), all signed in through nginx
with the log-in form, {DURATION} s, each acting every 10 to 30 s (started {SPAWN_RATE} a second).
A supervisor: a source visited with a photo (a phone JPEG of {facts["photo_kb"]} KB, unique
bytes each time) sent at once; an offline queue sent at once (route points, two to four visits
with photos, a problem found with its photo); the unread badge (and now and then the home page);
the alert they were sent to answered (on-site situation with a photo at the station, then the
disposal result); the patrol ended and the next started. Each sync run takes a fresh token as
the phone does. An office: the assessment desktop (the prefecture's, or the county month it
leads to), the alerts, the problems, the badge.

Retries: the users keep every item and photo queued as static/js/queue.js does, until it is
answered 2xx; a 5xx, no answer or a 409 `unknown_...` (its record has not arrived yet) keeps it
for the next sync run, under the same client id. When the time is up, the phones still holding
items ({facts["queued"]} items and photos) send them once the faults are over, as a phone
back in coverage does ({facts["drain_runs"]} sync runs). Every attempt is a line of the clients'
log: client id, kind, what the server answered.

## Faults, during the run

{fault_table}

How each is made here, for real: SIGKILL to one worker process of server 1 (its gunicorn master
starts another); server 2's gunicorn stopped with SIGTERM and started again; `pg_ctl restart -m
fast` of the cluster (every connection dropped); the relay in front of Redis resets every
connection and blackholes new ones (accepted, never answered) for the time given; the photo
folder remounted read-only (`mount -o remount,bind,ro`: the stack runs as root here, which
ignores file modes, so `chmod a-w` would not bite; a read-only bind mount works in this sandbox);
{SLOW_CLIENTS} raw connections to nginx each sending the headers and half of a 3 MB photo upload,
then nothing.{unmade}

## Results

{len(records):,} requests in {seconds:.0f} s: {len(in_run) / seconds:.1f} requests/s;
{sum(accepted.values()):,} items and photos accepted
({", ".join(f"{k} {v:,}" for k, v in accepted.items())}); {retried:,} of them needed more than
one attempt. Errors (a 5xx other than 503, or no answer): **{errors:,}** (target 0); 503
answers ("not now", which the phone's queue sends again): {unavailable:,}.

{endpoint_table}

Errors and 503s by the fault under way (the latest started before the request ended, and ended
at most 15 s before it started):

{table(("Window", "Errors", "503", "Statuses"), errors_by_cause(records, faults.done))}

## Checks, afterwards

{table(("Check", "Checked", ""), check_rows)}

Notifications made during the run to the run's people: {delivered:,} delivered (logged by the
SMS gateway), {retrying:,} still being retried when checked (the task queue was given
{facts["settle_s"]:.0f} s to settle after the run).

{failure_text}

{FINDINGS}
"""


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    run()
