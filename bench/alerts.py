"""Readings in, alerts out, on PostGIS: readings per second through the JSON API (gunicorn as
`make run` serves it) and through the HJ 212 receiver (`flask alerts hj212-serve`), each beside a
bulk COPY of as many rows straight into `reading`; and the time from a reading's POST to the
alert's message reaching a county's group robot, with a real huey consumer."""

import asyncio
import contextlib
import json
import os
import random
import re
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from bench.common import (
    POSTGIS_DB,
    PYTHON,
    ROOT,
    Context,
    CpuMeter,
    fmt_int,
    free_port,
    gunicorn_process,
    median,
    met,
    percentile,
    table,
)

REPEATS = 3  # measured runs of each path, side by side (JSON API, HJ 212, bulk, in turn)
DURATION = 15.0  # seconds of each measured run
WARM_UP = 3.0  # seconds of an unmeasured run of each path first
HTTP_CLIENTS = 8  # threads POSTing at once
HTTP_STATIONS_PER_CLIENT = 8  # each POST is one station's batch; a thread takes its own in turn
BATCH = 500  # readings per POST
HJ_CONNECTIONS = 100  # stations, one TCP connection each
HJ_PACKETS = 400  # minute packets ready per connection and run (more than it can send)
LATENCY_SAMPLES = 30
TARGET_RATE = 5000  # readings/s through each path
TARGET_P95_MS = 500
POLLUTANTS = ("PM2.5", "PM10", "SO2", "NO2", "CO", "O3")
HJ_CODES = {  # the six pollutants' HJ 212 codes (alerts.hj212.POLLUTANT_CODES)
    "PM2.5": "a34004",
    "PM10": "a34002",
    "SO2": "a21026",
    "NO2": "a21004",
    "CO": "a21005",
    "O3": "a05024",
}
HJ_PASSWORD = "bench-pw"  # noqa: S105 - a benchmark's own stations


def _consumer_args() -> tuple[str, ...]:
    """The task consumer's options as the Procfile gives them (what `make run` runs)."""
    for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("worker:"):
            return tuple(line.split("worker.huey", 1)[1].split())
    raise RuntimeError("the Procfile has no worker line")


CONSUMER = _consumer_args()
COPY_COLUMNS = "station_id, pollutant, period, measured_at, value, flag, received_at, source"


# --- the stations and the clock of their readings ------------------------------------------------


@dataclass
class Station:
    id: int
    code: str
    token: str | None = None
    mn: str | None = None
    next_minute: datetime = field(default_factory=datetime.now)  # naive UTC, going back

    def minutes(self, count: int) -> list[datetime]:
        """`count` minutes never used before by this station (going back from yesterday)."""
        start = self.next_minute
        self.next_minute = start - timedelta(minutes=count)
        return [start - timedelta(minutes=n) for n in range(count)]

    def rows(self, count: int) -> list[tuple[datetime, str]]:
        """(minute, pollutant) pairs never used before, the six pollutants of each minute."""
        minutes = self.minutes(-(-count // len(POLLUTANTS)))
        return [(m, p) for m in minutes for p in POLLUTANTS][:count]


def _yesterday() -> datetime:
    """A whole minute a day ago, naive UTC: readings of the throughput runs go back from it, out
    of the hour the alert rules look at."""
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    return now - timedelta(days=1)


def _add_stations(app, prefix: str, count: int, token: bool, mn: bool) -> list[Station]:
    """`count` micro-stations near the demo's CJ-W001 (its county), committed."""
    from alerts.models import Station as StationRow
    from alerts.models import StationKind
    from alerts.services import add_station
    from extensions import db

    rng = random.Random(prefix)
    made = []
    with app.app_context():
        home = db.session.query(StationRow).filter_by(code="CJ-W001").one()
        for n in range(1, count + 1):
            code = f"{prefix}{n:03d}"
            new = add_station(
                code=code,
                name=f"bench {code}",
                kind=StationKind.MICRO,
                lon=round(home.lon + rng.uniform(-0.002, 0.002), 6),
                lat=round(home.lat + rng.uniform(-0.002, 0.002), 6),
                mn=f"BENCH{code}" if mn else None,
                password=HJ_PASSWORD if mn else None,
                issue_token=token,
            )
            made.append(Station(new.station.id, code, new.token, new.station.mn, _yesterday()))
        db.session.commit()
        db.session.remove()
    return made


# --- CPU time of the processes at work ----------------------------------------------------------


def _proc_cpu(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    found, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                children = (task / "children").read_text().split()
                found += map(int, children)
                frontier += map(int, children)
    return found


def _backends() -> list[int]:
    """PostgreSQL's processes serving the benchmark's database."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if f" {POSTGIS_DB} " in (entry / "cmdline").read_bytes().replace(
                    b"\0", b" "
                ).decode(errors="replace"):
                    pids.append(int(entry.name))
    return pids


class CpuSplit:
    """CPU seconds taken during the block by the server under test (its process tree), by
    PostgreSQL's backends of the benchmark's database, and by this process (the clients)."""

    def __init__(self, server_pid: int | None):
        self.server_pid = server_pid

    def _sample(self) -> dict[str, dict[int, float]]:
        server = {p: _proc_cpu(p) for p in _tree(self.server_pid)} if self.server_pid else {}
        return {"server": server, "postgres": {p: _proc_cpu(p) for p in _backends()}}

    def __enter__(self) -> "CpuSplit":
        self._start = self._sample()
        self._own = sum(os.times()[:2])
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._sample()
        wall = time.perf_counter() - self._wall
        self.cores = {  # cores' worth used during the block
            what: sum(t - self._start[what].get(p, 0.0) for p, t in end[what].items()) / wall
            for what in end
        }
        self.cores["client"] = (sum(os.times()[:2]) - self._own) / wall


def _cpu_words(split: CpuSplit, server: str) -> str:
    c = split.cores
    return f"{server} {c['server']:.2f}, PostgreSQL {c['postgres']:.2f}, client {c['client']:.2f}"


# --- 1. the JSON API --------------------------------------------------------------------------


def _json_body(station: Station) -> bytes:
    items = [
        {
            "time": m.strftime("%Y-%m-%dT%H:%M:00Z"),
            "pollutant": p,
            "value": round(random.uniform(5, 80), 1),
            "flag": "N",
            "period": "minute",
        }
        for m, p in station.rows(BATCH)
    ]
    return json.dumps({"readings": items}).encode()


def http_run(base: str, stations: list[list[Station]], seconds: float) -> tuple[int, float, int]:
    """Readings stored, the seconds it took, and refused or failed requests; HTTP_CLIENTS
    threads, each POSTing prepared batches of its own stations in turn until time is up."""
    per_client = max(8, int(seconds * 12))  # more than a thread can send (6 a second ran out)
    bodies = [
        [(s.token, _json_body(s)) for s in (own * per_client)[:per_client]] for own in stations
    ]
    stored, errors = [0] * len(stations), [0] * len(stations)
    start = threading.Barrier(len(stations) + 1)
    deadline = [0.0]

    def client(k: int) -> None:
        with requests.Session() as session:
            start.wait()
            for token, body in bodies[k]:
                if time.perf_counter() >= deadline[0]:
                    return
                answer = session.post(
                    base + "/api/v1/readings",
                    data=body,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    },
                    timeout=60,
                )
                if answer.status_code == 200 and not answer.json()["duplicates"]:
                    stored[k] += answer.json()["stored"]
                else:
                    errors[k] += 1
            errors[k] += 1_000_000  # ran out of prepared batches: the run says so

    threads = [threading.Thread(target=client, args=(k,)) for k in range(len(stations))]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    return sum(stored), time.perf_counter() - t0, sum(errors)


# --- 2. the HJ 212 receiver ---------------------------------------------------------------------


def _hj_packets(station: Station, count: int, zone: ZoneInfo) -> list[bytes]:
    """Minute packets (CN 2051, Flag 5: 2017 edition, reply asked), the six pollutants each,
    DataTime in local time as a station sends it."""
    from alerts import hj212

    packets = []
    for n, minute in enumerate(station.minutes(count)):
        local = minute.replace(tzinfo=UTC).astimezone(zone)
        cp = [{"DataTime": local.strftime("%Y%m%d%H%M%S")}]
        cp += [
            {f"{code}-Avg": f"{random.uniform(5, 80):.1f}", f"{code}-Flag": "N"}
            for code in HJ_CODES.values()
        ]
        qn = local.strftime("%Y%m%d%H%M%S") + f"{n % 1000:03d}"
        packets.append(hj212.build("22", "2051", HJ_PASSWORD, station.mn, cp, qn=qn, flag=5))
    return packets


async def _hj_clients(port: int, packets: list[list[bytes]], seconds: float) -> tuple[int, int]:
    """Packets answered and packets left unanswered (or connections lost)."""
    opened = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in packets))
    deadline = time.perf_counter() + seconds
    answered, failed = [0] * len(packets), [0] * len(packets)

    async def one(k: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for packet in packets[k]:
            if time.perf_counter() >= deadline:
                return
            writer.write(packet)
            try:
                reply = await asyncio.wait_for(reader.readuntil(b"\r\n"), 30)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                failed[k] += 1
                return
            if b"CN=9014" in reply:
                answered[k] += 1
            else:
                failed[k] += 1
        failed[k] += 1_000_000  # ran out of prepared packets

    try:
        await asyncio.gather(*(one(k, r, w) for k, (r, w) in enumerate(opened)))
    finally:
        for _reader, writer in opened:
            writer.close()
    return sum(answered), sum(failed)


def hj_run(
    port: int, stations: list[Station], seconds: float, zone: ZoneInfo
) -> tuple[int, float, int]:
    """Readings stored (six a packet answered), seconds, and packets failed."""
    count = max(10, int(seconds * 30))
    packets = [_hj_packets(s, min(count, HJ_PACKETS), zone) for s in stations]
    t0 = time.perf_counter()
    answered, failed = asyncio.run(_hj_clients(port, packets, seconds))
    return answered * len(HJ_CODES), time.perf_counter() - t0, failed


@contextlib.contextmanager
def hj212_server(env: dict[str, str]) -> Iterator[tuple[int, subprocess.Popen]]:
    port = free_port()
    log = tempfile.TemporaryFile("w+")
    command = [PYTHON, "-m", "flask", "alerts", "hj212-serve", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*command, "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"hj212-serve exited ({proc.returncode}):\n{log.read()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("hj212-serve did not listen in 60 s")
            time.sleep(0.2)
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.seek(0)
        tail = log.read()[-2000:]
        log.close()
        if "Traceback" in tail:
            print(f"bench: hj212-serve's log ends:\n{tail}")


# --- 3. the bulk baseline --------------------------------------------------------------------


def bulk_rows(stations: list[Station], count: int) -> list[tuple]:
    """`count` new rows with the same columns as the readings' paths write."""
    now = datetime.now(UTC).replace(tzinfo=None)
    share = -(-count // len(stations))
    return [
        (s.id, p, "minute", m, round(random.uniform(5, 80), 1), "N", now, "bench")
        for s in stations
        for m, p in s.rows(share)
    ][:count]


@dataclass
class Cores:
    cores: dict[str, float]


def bulk_run(conninfo: str, rows: list[tuple]) -> tuple[int, float, Cores]:
    """The rows in one COPY and commit: rows, seconds, and the CPU of this process and of the
    connection's backend meanwhile (in cores' worth)."""
    import psycopg

    with psycopg.connect(conninfo) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        conn.commit()
        own, pg = sum(os.times()[:2]), _proc_cpu(backend)
        t0 = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY reading ({COPY_COLUMNS}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - t0
        cores = {
            "server": 0.0,
            "postgres": (_proc_cpu(backend) - pg) / seconds,
            "client": (sum(os.times()[:2]) - own) / seconds,
        }
        return len(rows), seconds, Cores(cores)


# --- 4. from a reading to the robot -------------------------------------------------------------


class RobotStandIn(ThreadingHTTPServer):
    """A WeCom group robot on loopback: records when each message arrives (time.time()) and the
    station codes it names, and answers as WeCom does."""

    daemon_threads = True

    def __init__(self):
        self.arrivals: dict[str, float] = {}  # station code -> first message's arrival
        self.messages = 0
        self.got = threading.Condition()
        super().__init__(("127.0.0.1", 0), _RobotHandler)


class _RobotHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        arrived = time.time()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server = self.server
        with server.got:
            server.messages += 1
            for code in re.findall(r"BL\d{3}", body.decode("utf-8", errors="replace")):
                server.arrivals.setdefault(code, arrived)
            server.got.notify_all()
        answer = b'{"errcode":0,"errmsg":"ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        pass


@dataclass
class Sample:
    code: str
    sent: float  # time.time() just before the POST
    answered: float  # the POST's answer
    arrived: float | None  # the robot's message
    stages: dict[str, float] = field(default_factory=dict)  # ms, from the database's stamps


def _add_robot(app, robot_url: str) -> None:
    """A WeCom robot of CJ-W001's county, straight into the table (the service allows only
    WeCom's own host unless ROBOTS_ALLOW_ANY_HOST)."""
    from alerts.models import Station as StationRow
    from alerts.raising import county_of
    from extensions import db
    from grid.time import utcnow
    from notify.models import Robot

    with app.app_context():
        home = db.session.query(StationRow).filter_by(code="CJ-W001").one()
        county = county_of(home)
        db.session.add(
            Robot(
                grid_id=county.id,
                kind="wecom",
                name="bench robot",
                webhook_url=f"{robot_url}/cgi-bin/webhook/send?key=bench",
                enabled=True,
                created_at=utcnow(),
            )
        )
        db.session.commit()
        db.session.remove()


def _stamps(app, samples: list[Sample]) -> None:
    """Each sample's stages from the database's own stamps (naive UTC, same clock)."""
    import sqlalchemy as sa

    from alerts.models import Alert, Reading
    from alerts.models import Station as StationRow
    from extensions import db
    from notify.models import Notification

    def epoch(moment: datetime) -> float:
        return moment.replace(tzinfo=UTC).timestamp()

    with app.app_context():
        for s in samples:
            station_id = db.session.scalar(
                sa.select(StationRow.id).where(StationRow.code == s.code)
            )
            received = db.session.scalar(
                sa.select(sa.func.min(Reading.received_at)).where(Reading.station_id == station_id)
            )
            alert = db.session.scalar(
                sa.select(Alert).where(Alert.station_id == station_id).order_by(Alert.id).limit(1)
            )
            if received is None or alert is None or s.arrived is None:
                continue
            told = db.session.scalar(
                sa.select(sa.func.min(Notification.created_at)).where(
                    Notification.subject == f"alert:{alert.id}"
                )
            )
            s.stages = {
                "request": (epoch(received) - s.sent) * 1000,
                "queue": (epoch(alert.first_at) - epoch(received)) * 1000,
                "evaluate": (
                    (epoch(told) if told else epoch(alert.first_at)) - epoch(alert.first_at)
                )
                * 1000,
                "deliver": (s.arrived - (epoch(told) if told else epoch(alert.first_at))) * 1000,
            }
        db.session.remove()


def latency_run(base: str, robot: RobotStandIn, stations: list[Station]) -> list[Sample]:
    """For each station: 60 minute values of PM2.5 at about 200 µg/m³ (the hour's IAQI 250, above
    the level threshold of 150), the last one this minute; wait for its robot message."""
    samples = []
    with requests.Session() as session:
        for station in stations:
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            items = [
                {
                    "time": (now - timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:00Z"),
                    "pollutant": "PM2.5",
                    "value": round(random.uniform(195, 205), 1),
                    "flag": "N",
                    "period": "minute",
                }
                for n in range(60)
            ]
            body = json.dumps({"readings": items}).encode()
            headers = {
                "Authorization": f"Bearer {station.token}",
                "Content-Type": "application/json",
            }
            time.sleep(random.uniform(0.5, 1.5))  # arrive at any moment of the consumer's polling
            sent = time.time()
            answer = session.post(base + "/api/v1/readings", data=body, headers=headers, timeout=30)
            answered = time.time()
            if answer.status_code != 200 or answer.json()["stored"] != 60:
                raise RuntimeError(f"readings refused: {answer.status_code} {answer.text[:300]}")
            with robot.got:
                robot.got.wait_for(lambda code=station.code: code in robot.arrivals, timeout=15)
                arrived = robot.arrivals.get(station.code)
            samples.append(Sample(station.code, sent, answered, arrived))
    return samples


@contextlib.contextmanager
def consumer(env: dict[str, str]) -> Iterator[subprocess.Popen]:
    log = tempfile.TemporaryFile("w+")
    huey = str(Path(PYTHON).parent / "huey_consumer")
    proc = subprocess.Popen(
        [huey, "worker.huey", *CONSUMER], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        time.sleep(3)  # the app made, the workers polling
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"huey_consumer exited ({proc.returncode}):\n{log.read()}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# --- the run --------------------------------------------------------------------------------


def _gunicorn_args() -> tuple[str, ...]:
    return ("--config", str(ROOT / "gunicorn.conf.py"))


def run(ctx: Context) -> str:
    import sqlalchemy as sa

    url = ctx.postgis_url
    if url is None:
        return (
            "## Readings and alerts (`bench/alerts.py`)\n\nNot run: set GRIDPATROL_TEST_POSTGRES "
            "(scripts/test-postgres.sh prints one) to measure on PostGIS."
        )
    random.seed(212)
    app = ctx.app(url)
    zone = ZoneInfo(app.config["TIMEZONE"])  # the stations' DataTime
    with app.app_context():
        from alerts import partitions
        from extensions import db

        made = partitions.ensure_ahead(months=3)  # as the monthly task does, readings of now
        db.session.commit()
        db.session.remove()
    http_stations = _add_stations(app, "BH", HTTP_CLIENTS * HTTP_STATIONS_PER_CLIENT, True, False)
    by_client = [
        http_stations[k * HTTP_STATIONS_PER_CLIENT : (k + 1) * HTTP_STATIONS_PER_CLIENT]
        for k in range(HTTP_CLIENTS)
    ]
    hj_stations = _add_stations(app, "BJ", HJ_CONNECTIONS, False, True)
    bulk_stations = _add_stations(app, "BB", HTTP_CLIENTS * HTTP_STATIONS_PER_CLIENT, False, False)
    latency_stations = _add_stations(app, "BL", LATENCY_SAMPLES, True, False)
    conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    tasks_dir = Path(tempfile.mkdtemp(prefix="gridpatrol-bench-tasks-", dir=ctx.tmp))
    env = ctx.env(url, GRIDPATROL_TASKS_FILE=str(tasks_dir / "throughput.db"))
    runs: dict[str, list[dict]] = {"http": [], "hj212": [], "bulk": []}
    with (
        gunicorn_process("app:create_app()", env, probe="/login", args=_gunicorn_args()) as (
            base,
            web,
        ),
        hj212_server(env) as (port, receiver),
    ):
        print("bench: alerts: warming up", flush=True)
        http_run(base, by_client, WARM_UP)
        hj_run(port, hj_stations, WARM_UP, zone)
        for n in range(REPEATS):
            print(f"bench: alerts: repeat {n + 1} of {REPEATS}", flush=True)
            with CpuMeter() as others, CpuSplit(web.pid) as cpu:
                stored, seconds, errors = http_run(base, by_client, DURATION)
            runs["http"].append(
                {"rows": stored, "s": seconds, "errors": errors, "cpu": cpu, "others": others}
            )
            with CpuMeter() as others, CpuSplit(receiver.pid) as cpu:
                stored, seconds, errors = hj_run(port, hj_stations, DURATION, zone)
            runs["hj212"].append(
                {"rows": stored, "s": seconds, "errors": errors, "cpu": cpu, "others": others}
            )
            rows = bulk_rows(bulk_stations, runs["http"][-1]["rows"])
            with CpuMeter() as others:
                rows, seconds, cpu = bulk_run(conninfo, rows)
            runs["bulk"].append(
                {"rows": rows, "s": seconds, "errors": 0, "cpu": cpu, "others": others}
            )
    for what in runs.values():
        for r in what:
            r["rate"] = r["rows"] / r["s"]
    with app.app_context():
        from alerts.models import Reading

        counted = {
            source: db.session.scalar(
                sa.select(sa.func.count()).select_from(Reading).where(Reading.source == source)
            )
            for source in ("http", "hj212", "bench")
        }
        db.session.remove()

    # Latency: a fresh task queue, its consumer, and the web server on it.
    robot = RobotStandIn()
    threading.Thread(target=robot.serve_forever, daemon=True).start()
    try:
        _add_robot(app, f"http://127.0.0.1:{robot.server_address[1]}")
        env = ctx.env(url, GRIDPATROL_TASKS_FILE=str(tasks_dir / "latency.db"))
        with (
            gunicorn_process("app:create_app()", env, probe="/login", args=_gunicorn_args()) as (
                base,
                _web,
            ),
            consumer(env),
        ):
            print("bench: alerts: latency", flush=True)
            samples = latency_run(base, robot, latency_stations)
    finally:
        robot.shutdown()
        robot.server_close()
    _stamps(app, samples)
    return _report(runs, counted, samples, robot.messages, made)


HEADER = (
    "Path",
    "Readings/s (median)",
    "Runs",
    "Readings per CPU-second",
    "Ratio to bulk",
    "Target",
    "Result",
)


def _report(runs, counted, samples, messages, made) -> str:
    bulk_rate = median([r["rate"] for r in runs["bulk"]])
    labels = {
        "http": f"JSON API, `POST /api/v1/readings` ({HTTP_CLIENTS} clients, {BATCH} a batch)",
        "hj212": f"HJ 212 receiver ({HJ_CONNECTIONS} connections, minute packets of 6 values)",
        "bulk": "bulk `COPY` into `reading` (baseline)",
    }
    rows = []
    for what, label in labels.items():
        rate = median([r["rate"] for r in runs[what]])
        baseline = what == "bulk"
        per_cpu = median([r["rate"] / sum(r["cpu"].cores.values()) for r in runs[what]])
        rows.append(
            (
                label,
                fmt_int(rate),
                ", ".join(fmt_int(r["rate"]) for r in runs[what]),
                fmt_int(per_cpu),
                "1.00" if baseline else f"{rate / bulk_rate:.2f}",
                "—" if baseline else f"≥ {fmt_int(TARGET_RATE)}",
                "—" if baseline else met(rate >= TARGET_RATE),
            )
        )
    ncpu = os.cpu_count() or 1
    hj_packets = median([r["rate"] for r in runs["hj212"]]) / len(HJ_CODES)
    cpu_rows = [
        (
            labels[what].split(" (")[0],
            "; ".join(
                _cpu_words(r["cpu"], {"http": "gunicorn", "hj212": "receiver", "bulk": "—"}[what])
                for r in runs[what]
            ),
            ", ".join(
                f"{max(0.0, r['others'].other_share - r['cpu'].cores['postgres'] / ncpu):.0%}"
                for r in runs[what]
            ),
        )
        for what in labels
    ]
    errors = {what: sum(r["errors"] for r in runs[what]) for what in runs}
    got = [s for s in samples if s.arrived is not None]
    lat = [(s.arrived - s.sent) * 1000 for s in got]
    p50, p95 = (percentile(lat, 50), percentile(lat, 95)) if lat else (float("nan"),) * 2
    staged = [s for s in got if s.stages]
    stage_rows = (
        [
            (
                name,
                f"{median([s.stages[key] for s in staged]):.0f}",
                f"{percentile([s.stages[key] for s in staged], 95):.0f}",
            )
            for key, name in (
                ("request", "POST sent → its readings stamped `received_at` (request begun)"),
                (
                    "queue",
                    "`received_at` → evaluation began (`alert.first_at`): commit, enqueue, pickup",
                ),
                ("evaluate", "evaluation → `notification.created_at` (the rules, the alert row)"),
                (
                    "deliver",
                    "notification → robot's message arrived: commit, enqueue, pickup, POST",
                ),
            )
        ]
        if staged
        else []
    )
    answer = median([(s.answered - s.sent) * 1000 for s in samples]) if samples else float("nan")
    return f"""\
## Readings and alerts (`bench/alerts.py`)

Readings per second into the PostGIS demo database (migrated, `flask demo load`; the readings'
monthly partitions made ahead as the monthly task does{f": {', '.join(made)}" if made else ""}),
through each path in turn, {REPEATS} runs of {DURATION:.0f} s each side by side after a
{WARM_UP:.0f} s warm-up of each; median of the runs. Every reading is new (each station's
minutes go back from yesterday, six pollutants a minute), so none is a duplicate; a run counts
only what the server said it stored (200 with `stored`, no duplicate; a 9014 reply).

- **JSON API**: gunicorn as `make run` serves it (`-c gunicorn.conf.py`: {(os.cpu_count() or 1) + 1}
  sync workers, cores + 1, access log on), {HTTP_CLIENTS} client threads (`requests`, keep-alive),
  each POSTing prepared bodies of {BATCH} minute readings of one of its own
  {HTTP_STATIONS_PER_CLIENT} stations in turn (a bearer token each), one request at a time.
  Each request also enqueues the station's evaluation in huey's SQLite file (no consumer runs
  during the throughput runs, so the evaluations themselves are not counted here).
- **HJ 212 receiver**: `flask alerts hj212-serve` (defaults: the event loop parses,
  authenticates from a 5 s cache and awaits each packet's commit; 2 writer threads, 16 threads
  to read a station on a cache miss), {HJ_CONNECTIONS} stations with MN and
  password, one TCP connection each from one
  asyncio client; each sends a prepared minute packet (CN 2051, Flag 5) of the six pollutants
  and waits for its 9014 reply (sent once committed) before the next. Median
  {hj_packets:,.0f} packets/s.
- **Bulk baseline**: psycopg `COPY reading ({COPY_COLUMNS}) FROM STDIN` of as many rows as the
  JSON API stored in the same repeat, one transaction, timed from the COPY to the commit
  (rows built beforehand).

{table(HEADER, rows)}

"Readings per CPU-second" divides each run's rate by the cores' worth that the server's
processes, PostgreSQL's backends of this database and the load generator took during it (the
table below): what the work costs, which moves less than the rate when other processes take
the cores.

Failed requests or packets: JSON API {errors["http"]}, HJ 212 {errors["hj212"]} (a run that
ran out of prepared batches would count 1,000,000). Rows in `reading` afterwards by source:
http {fmt_int(counted["http"])}, hj212 {fmt_int(counted["hj212"])}, bulk
{fmt_int(counted["bench"])} (warm-ups included).

Where the CPU went during each run (cores' worth, out of {os.cpu_count()}; the server's process
tree, PostgreSQL's backends of this database, the load generator in this process), and what
other processes on the machine took:

{table(("Path", "Cores used per run", "Other processes' share (not PostgreSQL)"), cpu_rows)}

What limits these figures: the two cores are shared by the server, PostgreSQL, the load
generator (Python, in the benchmark's own process) and whatever else runs on the machine (the
last column above); when others take most of the CPU, every rate here is a fraction of what
the same code does on idle cores, the bulk COPY included. The PostgreSQL server is the one
GRIDPATROL_TEST_POSTGRES names (scripts/test-postgres.sh runs it without fsync or synchronous
commit, so a commit costs less than on a durable server). Neither path is measured with the
other running, nor with the evaluation tasks consumed.

### From a reading to the county's robot

A new station for each of {len(samples)} samples, near CJ-W001; the county has a WeCom robot
whose webhook is a stand-in HTTP server in the benchmark (it answers as WeCom does and notes
when a message arrives). The station POSTs 60 minute values of PM2.5 at 195-205 µg/m³, the last
one this minute: the hour's IAQI is about 250, above the level threshold (150), so the evaluation
task (enqueued once the batch commits) raises a NEW alert, tells the county's office and
enqueues the robot's message. Measured from just before the POST is sent to the robot's
message arriving (the channel has it), on the same clock. gunicorn as above and the real
consumer `huey_consumer worker.huey {" ".join(CONSUMER)}` (the Procfile's) on a fresh SQLite
task file; 0.5-1.5 s at random between samples, so a POST lands at any point of the consumer's
polling (idle, it waits up to its `--max-delay` between polls). The POST itself answered in
{answer:.0f} ms (median). {len(got)} of {len(samples)} messages arrived; {messages} robot
messages in all.

| Latency | p50 | p95 | Target | Result |
| --- | --- | --- | --- | --- |
| POST sent → robot message arrived | {p50:.0f} ms | {p95:.0f} ms | p95 ≤ {TARGET_P95_MS} ms | \
{met(bool(lat) and p95 <= TARGET_P95_MS)} |

Its stages, from the rows' own timestamps (the server's clock, the same machine). The
evaluation task waits for a consumer thread's next poll (up to `--max-delay` when idle); the robot's
task is then usually taken at once by the thread that just finished, or the other one.

{table(("Stage", "p50 (ms)", "p95 (ms)"), stage_rows)}
"""
