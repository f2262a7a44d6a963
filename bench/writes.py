"""Writes under load (issue 9): 20 signed-in supervisors writing at once for a minute, sync items
with a photo, comments on problems and public complaints with a photo, against gunicorn serving
the SpatiaLite demo as `make run` does; then the same with three anonymous users posting
complaints of five small PNGs of 7,740 x 7,740 pixels alongside. Driven by locust, headless and
bounded (bench/writes_locust.py); peak memory of each gunicorn worker sampled from /proc.

With `make bench BEFORE=<rev>` the code before runs the same load on a demo database of its own,
in the same run, and the targets of issue 9 are checked against it.
"""

import html
import io
import json
import os
import random
import re
import shutil
import sqlite3
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
from pathlib import Path

from PIL import Image, ImageDraw

from bench.common import PYTHON, ROOT, Context, gunicorn_process, met, percentile, table
from bench.http import USER_AGENT, log_in
from bench.sync import phone_photo

WRITERS = 20
BOMBERS = 3
BOMBS_PER_COMPLAINT = 5
BOMB_PX = 7740  # 59.9 megapixels: within the 60-megapixel limit of the code before issue 9
DURATION = int(os.environ.get("GRIDPATROL_BENCH_WRITES_SECONDS") or 60)  # per run
STOP_TIMEOUT = 15  # seconds the users get to finish their request when the time is up
# How each code is served: as its `make run` serves it. Code with a gunicorn.conf.py is served by
# it; code from before that file (git f219cc8 and older) by the options its Makefile gave.
SERVER_CONFIG = "gunicorn.conf.py"
LEGACY_SERVER_ARGS = ("--workers", "2", "--threads", "4", "--access-logfile", "-")
LOCK_PROBE_S = 0.005  # how often the write lock is probed
# Everyone comes from 127.0.0.1 here; in the field each phone has its own address, so the
# per-address complaint limit (5 an hour) would refuse nearly all of the load, not measure it.
COMPLAINT_LIMIT = "1000000 per hour"
WRITE_KINDS = ("sync.items", "sync.photo", "act", "complaint")
KINDS = ("sync run", "sync.token", *WRITE_KINDS, "bomb", "problem page")
TARGET_THROUGHPUT = 2.0  # writes/s, now / before
TARGET_P95 = 1 / 3  # write p95, now / before
TARGET_SYNC_WITH_BOMBS = 1.5  # a supervisor's sync p95 with the anonymous uploads / without


# --- what the users need: accounts, sessions, a patrol and a problem each ------------------------


@dataclass
class Supervisor:
    login: str
    village: int
    sources: list[int]
    lon: float
    lat: float


def supervisors(ctx: Context, database_url: str) -> list[Supervisor]:
    """WRITERS supervisors of villages holding located, active sources, as posted today."""
    import sqlalchemy as sa

    from extensions import db
    from grid.time import local_today

    query = sa.text(
        """
        SELECT u.username, m.grid_id, s.id, ST_X(s.location), ST_Y(s.location)
        FROM membership m
        JOIN user_account u ON u.id = m.user_id
        JOIN grid g ON g.id = m.grid_id
        JOIN source s ON s.grid_id = m.grid_id
        WHERE m.role = 'supervisor' AND g.level = 4 AND u.active
          AND m.started_on <= :today AND (m.ended_on IS NULL OR m.ended_on >= :today)
          AND s.status = 'active' AND s.location IS NOT NULL
        ORDER BY u.id, s.id
        """
    )
    found: dict[str, Supervisor] = {}
    with ctx.app(database_url).app_context():
        for login, village, source, lon, lat in db.session.execute(
            query, {"today": local_today().isoformat()}
        ):
            if login not in found:
                if len(found) == WRITERS:
                    break
                found[login] = Supervisor(login, village, [], lon, lat)
            found[login].sources.append(source)
        db.session.remove()
    if len(found) < WRITERS:
        raise RuntimeError(f"the demo has {len(found)} supervisors with sources, not {WRITERS}")
    return list(found.values())


def _call(base: str, cookie: str | None, path: str, body=None, headers=None):
    """(status, JSON or text, the session cookie afterwards) of one request, no redirects."""
    request = urllib.request.Request(
        base + path,
        data=body,
        headers={
            "User-Agent": USER_AGENT,
            **({"Cookie": f"session={cookie}"} if cookie else {}),
            **(headers or {}),
        },
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=60) as response:
            status, raw, sent = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, raw, sent = exc.code, exc.read(), exc.headers
    for header in sent.get_all("Set-Cookie") or []:
        match = re.match(r"session=([^;]*)", header)
        if match:
            cookie = match.group(1)
    text = raw.decode("utf-8", "replace")
    is_json = sent.get("Content-Type", "").startswith("application/json")
    return status, json.loads(text) if is_json else text, cookie


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _stamp() -> dict:
    return {"device_ms": int(time.time() * 1000), "elapsed_ms": 1.0, "boot": str(uuid.uuid4())}


def prepare_writer(base: str, who: Supervisor, category: str) -> dict:
    """Sign in, take a token, start a patrol and report a problem to comment on later."""
    cookie = log_in(base, who.login)
    status, body, cookie = _call(
        base, cookie, "/sync/token", headers={"Accept": "application/json"}
    )
    if status != 200:
        raise RuntimeError(f"{who.login} did not sign in ({status})")
    token = body["csrf_token"]
    patrol, problem = str(uuid.uuid4()), str(uuid.uuid4())
    place = {"lat": who.lat, "lon": who.lon, "accuracy": 8}
    items = [
        {"client_id": patrol, "kind": "patrol.start", "data": {"grid_id": who.village, **place}},
        {
            "client_id": problem,
            "kind": "problem",
            "data": {
                "patrol": patrol,
                "category": category,
                "severity": "moderate",
                "description": "压测:待跟进的问题",
                **place,
            },
        },
    ]
    status, body, cookie = _call(
        base,
        cookie,
        "/sync/items",
        json.dumps({"sent": _stamp(), "items": [{**i, **_stamp()} for i in items]}).encode(),
        {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token},
    )
    results = body.get("results", []) if isinstance(body, dict) else []
    if status != 200 or [r.get("status") for r in results] != [201, 201]:
        raise RuntimeError(f"{who.login}: the patrol and problem were not recorded: {body}")
    problem_id = results[1]["id"]
    status, page, cookie = _call(base, cookie, f"/patrol/problems/{problem_id}")
    version = re.search(r'name="version" value="(\d+)"', page if isinstance(page, str) else "")
    if status != 200 or not version:
        raise RuntimeError(f"{who.login}: no version on the page of problem {problem_id}")
    return {
        "login": who.login,
        "cookie": cookie,
        "token": token,
        "patrol": patrol,
        "problem": problem_id,
        "problem_version": int(version.group(1)),
        "sources": who.sources,
        "lat": who.lat,
        "lon": who.lon,
    }


def prepare_anonymous(base: str, n: int, lon: float, lat: float) -> dict:
    """A visitor's session and the complaint form's token."""
    status, page, cookie = _call(base, None, "/complaint")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page if isinstance(page, str) else "")
    if status != 200 or not token or not cookie:
        raise RuntimeError(f"the complaint form gave no session or token ({status})")
    return {
        "n": n,
        "cookie": cookie,
        "token": html.unescape(token.group(1)),
        "lat": lat,
        "lon": lon,
    }


def bomb_png() -> bytes:
    """A PNG of BOMB_PX x BOMB_PX pixels, one bit each and nearly all white: tens of KB on the
    wire, 180 MB as the RGB image a decoder makes of it."""
    image = Image.new("1", (BOMB_PX, BOMB_PX), 1)
    ImageDraw.Draw(image).rectangle((100, 100, 300, 300), fill=0)
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=9)
    return out.getvalue()


# --- memory of the workers -------------------------------------------------------------------


def _status_kb(pid: int, key: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{key}:\s*(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                    found.append(int(entry.name))
        return found


def server_args(root: Path) -> tuple[str, ...]:
    """The options `make run` of the code under `root` serves it with (not its address)."""
    config = root / SERVER_CONFIG
    return ("--config", str(config)) if config.exists() else LEGACY_SERVER_ARGS


def served(args: tuple[str, ...]) -> str:
    """The server configuration, in words, for the report."""
    if args[0] == "--config":
        return f"gunicorn `{SERVER_CONFIG}` ({_config_summary(Path(args[1]))})"
    return f"`gunicorn {' '.join(args)}`"


def _config_summary(path: Path) -> str:
    settings: dict = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), settings)
    return f"{settings['workers']} {settings['worker_class']} workers, an access log"


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LockProbe(threading.Thread):
    """How much of the time SQLite's write lock is held, from outside: every LOCK_PROBE_S a
    connection of its own tries BEGIN IMMEDIATE without waiting (and lets go at once when it
    gets it). The share of tries that found the lock taken is the share of time it was held."""

    def __init__(self, path: str):
        super().__init__(daemon=True)
        self.path, self.tries, self.taken = path, 0, 0
        self._done = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            while not self._done.wait(LOCK_PROBE_S):
                self.tries += 1
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError:
                    self.taken += 1
                else:
                    conn.execute("ROLLBACK")
        finally:
            conn.close()

    def finish(self) -> float | None:
        """The share of tries that found the lock held."""
        self._done.set()
        self.join()
        return self.taken / self.tries if self.tries else None


class RssSampler(threading.Thread):
    """The peak resident memory of each worker of a gunicorn master, sampled every 0.2 s (and
    the kernel's own high-water mark, VmHWM), and what each holds at the end."""

    def __init__(self, master: int):
        super().__init__(daemon=True)
        self.master, self.peak_kb, self.end_kb = master, {}, {}
        self.cpu_start = {pid: _cpu_seconds(pid) for pid in _children(master)}
        self.cpu_s = 0.0  # CPU time the workers took during the run
        self._done = threading.Event()

    def _sample(self) -> None:
        for pid in _children(self.master):
            for key in ("VmRSS", "VmHWM"):
                kb = _status_kb(pid, key)
                if kb is not None:
                    self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), kb)

    def run(self) -> None:
        while not self._done.wait(0.2):
            self._sample()

    def finish(self) -> None:
        self._done.set()
        self.join()
        self._sample()
        for pid in _children(self.master):
            kb = _status_kb(pid, "VmRSS")
            if kb is not None:
                self.end_kb[pid] = kb
            start, end = self.cpu_start.get(pid), _cpu_seconds(pid)
            if start is not None and end is not None:
                self.cpu_s += end - start


# --- one run ------------------------------------------------------------------------------------


@dataclass
class Run:
    code: str  # "now", "before", or "before, served as now" (the code before, this server)
    bombs: bool
    served: str  # the server configuration, in words
    duration: float
    records: list[dict]
    started: float
    unfinished: list[dict] = field(default_factory=list)  # still waiting when the run ended
    peak_mb: list[float] = field(default_factory=list)
    end_mb: list[float] = field(default_factory=list)
    locust_output: str = ""
    lock_held: float | None = None  # share of the run the write lock was held
    worker_cpu_s: float = 0.0  # CPU time of the workers during the run

    def cpu_ms_per_write(self) -> float | None:
        writes = self.writes_per_s() * self.duration
        return self.worker_cpu_s * 1000 / writes if writes else None

    def of(self, kind: str, outcomes=("ok", "refused", "error")) -> list[dict]:
        return [r for r in self.records if r["kind"] == kind and r["outcome"] in outcomes]

    def latencies(self, kinds) -> list[float]:
        """Seconds of every request of these kinds that was answered (refusals included)."""
        return [
            r["seconds"]
            for r in self.records
            if r["kind"] in kinds and (r["status"] or r["kind"] == "sync run")
        ]

    def writes_per_s(self) -> float:
        end = self.started + self.duration
        done = [
            r
            for r in self.records
            if r["kind"] in WRITE_KINDS
            and r["outcome"] == "ok"
            and r["start"] + r["seconds"] <= end
        ]
        return len(done) / self.duration

    def p(self, kinds, q: float) -> float | None:
        values = self.latencies(kinds)
        return percentile(values, q) if values else None

    def counted(self, outcome: str, kinds=KINDS) -> dict[str, int]:
        """{"kind: detail": count} of the requests that ended so."""
        counts: dict[str, int] = {}
        for r in self.records:
            if r["outcome"] == outcome and r["kind"] in kinds and r["kind"] != "sync run":
                key = f"{r['kind']}: {r['detail']}"
                counts[key] = counts.get(key, 0) + 1
        return counts


def run_load(
    ctx: Context,
    scratch: Path,
    code: str,
    root: Path,
    database_url: str,
    bombs: bool,
    plan_base: dict,
    writers: list[Supervisor],
    args: tuple[str, ...],
) -> Run:
    """Serve the demo as `make run` does, prepare the users, run locust, sample the workers."""
    storage = tempfile.mkdtemp(prefix=f"gridpatrol-bench-writes-{code}-")
    env = ctx.env(
        database_url,
        root,
        GRIDPATROL_SESSION_COOKIE_SECURE="false",
        GRIDPATROL_PHOTO_STORAGE_DIR=json.dumps(storage),
        GRIDPATROL_COMPLAINT_LIMIT=COMPLAINT_LIMIT,
    )
    tag = f"{code}-{'bombs' if bombs else 'plain'}"
    try:
        with gunicorn_process("app:create_app()", env, probe="/login", args=args, root=root) as (
            base,
            proc,
        ):
            print(f"bench: writes {tag}: signing in {len(writers)} users", file=sys.stderr)
            users = [prepare_writer(base, w, plan_base["category"]) for w in writers]
            anonymous = [
                prepare_anonymous(base, n, writers[n].lon, writers[n].lat)
                for n in range(BOMBERS if bombs else 0)
            ]
            plan = {**plan_base, "users": users, "anonymous": anonymous}
            plan_path, out_path = scratch / f"plan-{tag}.json", scratch / f"out-{tag}.json"
            plan_path.write_text(json.dumps(plan), encoding="utf-8")
            count = WRITERS + (BOMBERS if bombs else 0)
            classes = ["Writer", "Bomber"] if bombs else ["Writer"]
            command = [
                PYTHON,
                "-m",
                "locust",
                "-f",
                str(scratch / "writes_locust.py"),
                "--headless",
                "-u",
                str(count),
                "-r",
                str(count),
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
                *classes,
            ]
            sampler = RssSampler(proc.pid)
            sampler.start()
            probe = LockProbe(database_url.removeprefix("sqlite:///"))
            probe.start()
            print(f"bench: writes {tag}: {count} users for {DURATION} s", file=sys.stderr)
            done = subprocess.run(
                command,
                cwd=scratch,
                env={**os.environ, "BENCH_PLAN": str(plan_path), "BENCH_OUT": str(out_path)},
                capture_output=True,
                text=True,
                timeout=DURATION + STOP_TIMEOUT + 180,
            )
            lock_held = probe.finish()
            sampler.finish()
            if not out_path.exists():
                raise RuntimeError(f"locust wrote no records ({done.returncode}):\n{done.stderr}")
            result = json.loads(out_path.read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    return Run(
        code=code,
        bombs=bombs,
        duration=DURATION,
        records=result["records"],
        unfinished=result.get("unfinished", []),
        started=result["started"] or min(r["start"] for r in result["records"]),
        peak_mb=[kb / 1024 for _pid, kb in sorted(sampler.peak_kb.items())],
        end_mb=[kb / 1024 for _pid, kb in sorted(sampler.end_kb.items())],
        locust_output=done.stderr[-2000:],
        served=served(args),
        lock_held=lock_held,
        worker_cpu_s=sampler.cpu_s,
    )


# --- the report ---------------------------------------------------------------------------------


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.0f}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} × {v}" for k, v in sorted(counts.items())) or "none"


# Runs: the code, and whose server configuration it was served with.
RUN_KEYS = {
    ("now", "now"): "now",
    ("before", "before"): "before",
    ("before", "now"): "before-as-now",
}
RUN_ORDER = ("before", "before-as-now", "now")


def _run_label(run: Run, ctx: Context) -> str:
    code = "this code" if run.code == "now" else f"code before ({ctx.before_label()})"
    if run.code == "before-as-now":
        code += ", served as this code is"
    return f"{code}, {'with' if run.bombs else 'without'} the anonymous uploads"


def _kind_rows(run: Run) -> list[tuple]:
    rows = []
    for kind in KINDS:
        if not run.of(kind):
            continue
        rows.append(
            (
                kind,
                len(run.of(kind, ("ok",))),
                len(run.of(kind, ("refused",))),
                len(run.of(kind, ("error",))),
                _ms(run.p([kind], 50)),
                _ms(run.p([kind], 95)),
            )
        )
    return rows


def _summary_rows(runs: list[Run], ctx: Context) -> list[tuple]:
    rows = []
    for run in runs:
        errors = sum(run.counted("error").values())
        refused = sum(run.counted("refused").values())
        rows.append(
            (
                _run_label(run, ctx),
                f"{run.writes_per_s():.1f}",
                _ms(run.p(WRITE_KINDS, 50)),
                _ms(run.p(WRITE_KINDS, 95)),
                _ms(run.p(["sync run"], 95)),
                f"{errors} / {refused}",
                str(len([u for u in run.unfinished if u["kind"] in (*WRITE_KINDS, "bomb")])),
                "-" if run.lock_held is None else f"{run.lock_held:.0%}",
                _ms(None if (cpu := run.cpu_ms_per_write()) is None else cpu / 1000),
                " / ".join(f"{mb:,.0f}" for mb in run.peak_mb),
                " / ".join(f"{mb:,.0f}" for mb in run.end_mb),
            )
        )
    return rows


def _targets(runs: dict[tuple[str, bool], Run], ctx: Context) -> str:
    now, now_bombs = runs[("now", False)], runs[("now", True)]
    errors = sum(
        sum(r.counted("error").values()) for (code, _b), r in runs.items() if code == "now"
    )
    sync_plain, sync_bombs = now.p(["sync run"], 95), now_bombs.p(["sync run"], 95)
    sync_ratio = sync_bombs / sync_plain if sync_plain and sync_bombs else None
    rows = []
    before = runs.get(("before", False))
    if before is not None:
        label = ctx.before_label()
        throughput = now.writes_per_s() / before.writes_per_s() if before.writes_per_s() else None
        p95_now, p95_before = now.p(WRITE_KINDS, 95), before.p(WRITE_KINDS, 95)
        p95 = p95_now / p95_before if p95_now and p95_before else None
        rows += [
            (
                f"writes/s at least {TARGET_THROUGHPUT:.0f}x {label}",
                f"{throughput:.2f}x" if throughput else "-",
                met(throughput is not None and throughput >= TARGET_THROUGHPUT),
            ),
            (
                f"write p95 at most a third of {label}'s",
                f"{p95:.2f}x" if p95 else "-",
                met(p95 is not None and p95 <= TARGET_P95),
            ),
        ]
    rows += [
        ("no error (5xx other than 503, or no answer), this code", str(errors), met(errors == 0)),
        (
            f"a supervisor's sync p95 with the anonymous uploads within {TARGET_SYNC_WITH_BOMBS}x "
            "of without, this code",
            f"{sync_ratio:.2f}x" if sync_ratio else "-",
            met(sync_ratio is not None and sync_ratio <= TARGET_SYNC_WITH_BOMBS),
        ),
    ]
    return table(("Target (issue 9)", "Measured", ""), rows)


def run(ctx: Context) -> str:
    from patrol import catalog

    scratch = Path(tempfile.mkdtemp(prefix="gridpatrol-bench-writes-"))
    try:
        # locust imports the locustfile from its folder; bench/ on the path would shadow the
        # standard library (bench/http.py), so it runs from a scratch folder.
        shutil.copy(ROOT / "bench" / "writes_locust.py", scratch / "writes_locust.py")
        photo = phone_photo(random.Random(9))
        bomb = bomb_png()
        (scratch / "phone.jpg").write_bytes(photo)
        (scratch / "bomb.png").write_bytes(bomb)
        plan_base = {
            "writers": WRITERS,
            "bombers": BOMBERS,
            "bombs_per_complaint": BOMBS_PER_COMPLAINT,
            "category": catalog.CATEGORIES[0].code,
            "user_agent": USER_AGENT,
            "phone_photo": str(scratch / "phone.jpg"),
            "bomb_photo": str(scratch / "bomb.png"),
        }
        codes = {"now": (ROOT, ctx.sqlite_url)}
        if ctx.before_root is not None:
            codes["before"] = (ctx.before_root, ctx.before_sqlite_url)
        writers = {code: supervisors(ctx, url) for code, (_root, url) in codes.items()}
        # (code, bombs, served by): each code as its own `make run` serves it, alternating who
        # goes first; then, once, the code before served as this code is (what the server's
        # configuration alone does).
        plan = [(code, False, code) for code in codes]
        plan += [(code, True, code) for code in reversed(codes)]
        if "before" in codes:
            plan.append(("before", False, "now"))
        runs: dict[tuple[str, bool], Run] = {}
        for code, bombs, server in plan:
            root, url = codes[code]
            key = RUN_KEYS[(code, server)]
            runs[(key, bombs)] = run_load(
                ctx,
                scratch,
                key,
                root,
                url,
                bombs,
                plan_base,
                writers[code],
                server_args(codes[server][0]),
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ordered = [runs[k] for k in sorted(runs, key=lambda k: (RUN_ORDER.index(k[0]), k[1]))]
    details = "\n\n".join(
        f"{_run_label(r, ctx).capitalize()}:\n\n"
        + table(("Kind", "OK", "Refused", "Errors", "p50 ms", "p95 ms"), _kind_rows(r))
        + f"\n\nErrors: {_counts(r.counted('error'))}. Refused: {_counts(r.counted('refused'))}."
        for r in ordered
    )
    summary = table(
        (
            "Run",
            "Writes/s",
            "Write p50 ms",
            "Write p95 ms",
            "Sync run p95 ms",
            "Errors / refused",
            "Unanswered at the end",
            "Write lock held",
            "Worker CPU ms per write",
            "Peak RSS per worker MB",
            "RSS at end MB",
        ),
        _summary_rows(ordered, ctx),
    )
    servers = "; ".join(
        f"{'this code' if code == 'now' else ctx.before_label()}: {served(server_args(root))}"
        for code, (root, _url) in codes.items()
    )
    return f"""\
## Writes under load (`bench/writes.py`)

{WRITERS} signed-in supervisors (demo accounts, each in a village of their own posts) writing
without pause for {DURATION} s, driven by locust {_locust_version()} (headless, on the same
machine): a sync run as the phone makes it (a fresh token, one visit item, then its photo: a
shrunk phone JPEG of {len(photo) // 1024} KB), a comment on a problem of their own (the problem
page's form) and a public complaint with one such photo, in the proportions 3 : 3 : 1. Then the
same with {BOMBERS} anonymous visitors alongside, each posting complaints of
{BOMBS_PER_COMPLAINT} PNGs of {BOMB_PX:,} x {BOMB_PX:,} pixels ({len(bomb) // 1024} KB each,
one bit per pixel). Each code is served as its `make run` serves it ({servers}; the
SpatiaLite demo), a fresh server for each run, the complaint limit per address raised (every user
comes from 127.0.0.1 here). Every upload is a file of its own (a unique comment or text chunk).

Writes/s counts the writes answered 2xx (or, for a comment, not refused) within the {DURATION} s;
the latencies are of every answered write (sync items, sync photos, comments, complaints; not the
token). A refusal is a 4xx, a 503 or a 2xx whose body refuses (a sync item's own status, a
comment's error message); an error is any other 5xx or no answer. A sync run is the phone's whole
round (token, items, photo). Unanswered at the end: writes (and bombs) still waiting for an
answer {STOP_TIMEOUT} s after the run ended, when locust stops its users; they are in no latency
figure, so a long tail is worse than its p95 shows. Peak RSS is the highest resident memory of
each gunicorn worker (sampled every 0.2 s and the kernel's high-water mark); "at end" is what it
holds after the run. Write lock held: the share of the run during which SQLite's one write lock
was taken, probed from outside every {LOCK_PROBE_S * 1000:.0f} ms (a connection trying BEGIN
IMMEDIATE without waiting); near 100% the lock is what limits the writes, well under it the
cores are. Worker CPU per write: the CPU time all workers took during the run (tokens, page
reads and refusals included) over the writes counted.

{summary}

{_targets(runs, ctx)}

{details}
"""


def _locust_version() -> str:
    done = subprocess.run(
        [PYTHON, "-m", "locust", "--version"], capture_output=True, text=True, timeout=60
    )
    match = re.search(r"(\d+\.\d+\.\d+)", done.stdout + done.stderr)
    return match.group(1) if match else "?"
