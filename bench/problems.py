"""The problem workflow at the size of years of work: 50,000 problems with their hash-chained
events in the demo prefecture (10,000 of them open in 昌吉市), in process on SpatiaLite and
PostGIS: the home page's counts, a county office's inbox, one act, and the audit of the log.

Runs last: it adds its problems to the shared demo databases.
"""

import html
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from types import SimpleNamespace

import sqlalchemy as sa

from bench.common import Context, fmt_int, median, met, table

TOTAL = 50_000  # problems in the prefecture (a few years of reports)
OPEN_IN_COUNTY = 10_000  # open in 昌吉市: far more than a county office ever has at once
CLOSED_IN_COUNTY = 10_000
OPEN_ELSEWHERE = 0.15  # share of the other counties' problems still open
COUNTY_CODE = "652301000000"  # 昌吉市
SEED = 20261122
REPEATS = 30  # per query, after one warm-up
ACTS = 40  # problems taken through escalate -> approve -> assign
AUDIT_REPEATS = 3
CHUNK = 5_000

TARGET_COUNTS_MS = 20.0  # the home page's two counts
TARGET_INBOX_MS = 100.0  # a county office's inbox (first 200)
TARGET_ACT_MS = 100.0  # one act, committed
TARGET_AUDIT = 10_000  # events verified per second

# The events that bring a problem to each state (patrol/escalation.py).
PATHS = {
    "village": ("report",),
    "township": ("report", "escalate"),
    "county": ("report", "escalate", "approve"),
    "rectifying": ("report", "escalate", "approve", "assign"),
    "rechecking": ("report", "escalate", "approve", "assign", "submit"),
    "returned": ("report", "escalate", "send_back"),
    "resolved": ("report", "resolve"),
    "closed": ("report", "escalate", "approve", "assign", "submit", "recheck_pass"),
}
OPEN_STATES = ("village", "township", "county", "rectifying", "rechecking", "returned")
OPEN_WEIGHTS = (20, 15, 15, 35, 10, 5)
CLOSED_STATES = ("resolved", "closed")


def _villages():
    """{village id: county id} for every regular level-4 grid, and 昌吉市's id."""
    from extensions import db
    from grid.models import Grid, GridKind

    rows = db.session.execute(
        sa.select(Grid.id, Grid.path).where(Grid.level == 4, Grid.kind != GridKind.KEY)
    ).all()
    county = db.session.scalar(sa.select(Grid.id).where(Grid.code == COUNTY_CODE))
    return {gid: int(path.strip("/").split("/")[1]) for gid, path in rows}, county


def _load() -> int:
    """Write TOTAL problems and their event chains; returns how many events."""
    from extensions import db
    from grid.chain import link_hash
    from grid.time import utcnow
    from patrol import catalog
    from problems.models import Problem, ProblemEvent
    from problems.services import event_record

    rng = random.Random(SEED)
    villages, county = _villages()
    local = [v for v, c in villages.items() if c == county]
    other = [v for v, c in villages.items() if c != county]
    categories = sorted(catalog.CATEGORY_CODES)
    now = utcnow()
    first_id = (db.session.scalar(sa.select(sa.func.max(Problem.id))) or 0) + 1
    problems, events = [], []
    for n in range(TOTAL):
        if n < OPEN_IN_COUNTY + CLOSED_IN_COUNTY:
            village = rng.choice(local)
            is_open = n < OPEN_IN_COUNTY
        else:
            village = rng.choice(other)
            is_open = rng.random() < OPEN_ELSEWHERE
        if is_open:
            state = rng.choices(OPEN_STATES, OPEN_WEIGHTS)[0]
            found = now - timedelta(days=rng.uniform(0, 30))
            deadline = now + timedelta(days=rng.uniform(-5, 10))
        else:
            state = rng.choice(CLOSED_STATES)
            found = now - timedelta(days=rng.uniform(30, 1800))
            deadline = None
        pid = first_id + n
        previous = None
        for seq, name in enumerate(PATHS[state], start=1):
            event = SimpleNamespace(
                problem_id=pid,
                seq=seq,
                at=found + timedelta(hours=seq),
                actor_id=None,
                capacity=None,
                event=name,
                from_state=None,
                to_state=state,
                comment="基准测试",
                data={},
                deadline_at=None,
                prev_hash=previous,
            )
            event.hash = link_hash(event_record(event))
            previous = event.hash
            events.append(vars(event))
        assigned = state in ("rectifying", "rechecking", "closed")
        problems.append(
            {
                "id": pid,
                "origin": "patrol",
                "grid_id": village,
                "county_id": villages[village],
                "found_at": found,
                "received_at": found,
                "category": rng.choice(categories),
                "severity": "moderate",
                "description": "基准测试问题",
                "state": state,
                "deadline_at": deadline,
                "assignee_department": "住建局" if assigned else None,
                "last_event_hash": previous,
                "version": len(PATHS[state]),
            }
        )
    for start in range(0, len(problems), CHUNK):
        db.session.execute(Problem.__table__.insert(), problems[start : start + CHUNK])
    for start in range(0, len(events), CHUNK):
        db.session.execute(ProblemEvent.__table__.insert(), events[start : start + CHUNK])
    if db.engine.dialect.name == "postgresql":  # ids were given: move the sequence past them
        db.session.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('problem', 'id'), max(id)) FROM problem")
        )
    db.session.commit()
    return len(events)


def _ms(fn) -> float:
    """Median milliseconds of fn() over REPEATS runs after one warm-up, each on a fresh session
    state (nothing answered from the identity map)."""
    from extensions import db

    fn()
    times = []
    for _ in range(REPEATS):
        db.session.expunge_all()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return median(times) * 1000


def _user(login: str):
    from extensions import db
    from grid.models import User

    return db.session.scalar(sa.select(User).where(User.username == login))


def _queries() -> dict:
    from desk.queries import home_counts
    from grid.access import load_identity
    from grid.time import local_today
    from problems import queries

    result = {}
    for login in ("cun", "sangong", "changji"):
        user_id = _user(login).id
        posts = load_identity(user_id, local_today())[1].posts
        result[f"counts:{login}"] = _ms(lambda u=user_id, p=posts: home_counts(u, p))
        result[f"waiting:{login}"] = home_counts(user_id, posts)[0][1]
    changji = _user("changji").id
    result["inbox"] = _ms(lambda: queries.inbox(changji))
    result["inbox_rows"] = len(queries.inbox(changji))
    return result


def _acts(store_dir: str) -> dict[str, list[float]]:
    """Escalate, approve, assign ACTS problems of cun's village, each act committed."""
    from evidence.storage import LocalStore
    from extensions import db
    from grid.demo import point_in
    from grid.models import Grid, Membership, Role, point
    from grid.time import local_today
    from problems.models import Problem
    from problems.services import Act, act

    store = LocalStore(store_dir)
    cun, sangong, changji = _user("cun"), _user("sangong"), _user("changji")
    village = db.session.scalar(
        sa.select(Grid)
        .join(Membership, Membership.grid_id == Grid.id)
        .where(Membership.user_id == cun.id, Membership.role == Role.SUPERVISOR)
        .order_by(Grid.id)
    )
    lon, lat = point_in(village)
    ids = db.session.scalars(
        sa.select(Problem.id)
        .where(Problem.grid_id == village.id, Problem.state == "village")
        .order_by(Problem.id)
        .limit(ACTS)
    ).all()
    db.session.execute(
        sa.update(Problem).where(Problem.id.in_(ids)).values(location=point(lon, lat))
    )
    db.session.commit()
    due = local_today() + timedelta(days=7)
    steps = (
        ("escalate", cun, {}),
        ("approve", sangong, {}),
        ("assign", changji, {"assignee_department": "住建局", "due_date": due}),
    )
    times: dict[str, list[float]] = {name: [] for name, _u, _a in steps}
    for pid in ids:
        for name, user, extra in steps:
            start = time.perf_counter()
            problem = db.session.get(Problem, pid)
            act(problem, user, Act(event=name, version=problem.version, **extra), store)
            db.session.commit()
            times[name].append(time.perf_counter() - start)
    return times


def _audit() -> tuple[float, int]:
    from extensions import db
    from grid import audit
    from problems.models import ProblemEvent

    events = db.session.scalar(sa.select(sa.func.count(ProblemEvent.id))) or 0
    times = []
    for _ in range(AUDIT_REPEATS):
        db.session.expunge_all()
        start = time.perf_counter()
        broken, _checked = audit.verify("problem")
        times.append(time.perf_counter() - start)
        if broken is not None:
            raise RuntimeError(f"the benchmark's own log does not verify: {broken}")
    return median(times), events


LIST_PAGES = ("/problems/", "/problems/?state=open")
LIST_READERS = ("changji", "zhou")  # a county office; the prefecture office, who sees all


def _signed_in(app, login: str):
    """A test client signed in through the form, as a browser (the session must be one the
    server knows; the code before a change signs in the same way)."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    if token is None:
        raise RuntimeError("no CSRF token on the log-in page")
    response = client.post(
        "/login",
        data={"login": login, "password": "demo1234", "csrf_token": html.unescape(token.group(1))},
    )
    if response.status_code != 302:
        raise RuntimeError(f"signing in as {login}: {response.status_code}")
    return client


def pages(app) -> dict[str, float]:
    """Median ms of the problems list pages (first page of 50, with the total and the pages
    they make), through the app's test client, as a county office and the prefecture office.
    Uses nothing but the URLs and the session, so the code before a change runs it too."""
    result = {}
    for login in LIST_READERS:
        client = _signed_in(app, login)
        for path in LIST_PAGES:
            client.get(path)  # warm-up
            times = []
            for _ in range(REPEATS):
                start = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise RuntimeError(f"{path} as {login}: {response.status_code}")
            result[f"page:{login}:{path}"] = median(times) * 1000
    return result


def _one(ctx: Context, url: str) -> dict:
    app = ctx.app(url)
    with app.app_context():
        from extensions import db

        start = time.perf_counter()
        written = _load()
        result = {"load_s": time.perf_counter() - start, "written": written}
        result.update(_queries())
        with tempfile.TemporaryDirectory(prefix="gridpatrol-bench-store-") as store_dir:
            result["acts"] = _acts(store_dir)
        result["audit_s"], result["events"] = _audit()
        result["problems"] = db.session.scalar(sa.text("SELECT count(*) FROM problem"))
        db.session.remove()
    result.update(pages(app))
    return result


def _backend_name(url: str) -> str:
    return "SQLite + SpatiaLite" if url.startswith("sqlite") else "PostgreSQL + PostGIS"


# Run in a checkout of the code before a change: the same measurements, printed as JSON.
# The list pages are measured by this module's `pages`, loaded by path (NOW), which asks the app
# only for URLs: the code before had no such measurement of its own.
_BEFORE_SCRIPT = """
import importlib.util, json, sys
from bench.common import Context
from bench import problems
spec = importlib.util.spec_from_file_location("bench_now_problems", sys.argv[1])
now = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = now
spec.loader.exec_module(now)
ctx = Context.from_environment()
try:
    urls = [ctx.sqlite_url] + ([ctx.postgis_url] if ctx.postgis_url else [])
    found = {}
    for url in urls:
        found[problems._backend_name(url)] = result = problems._one(ctx, url)
        result.update(now.pages(ctx.app(url)))
    print(json.dumps(found))
finally:
    ctx.close()
"""


def _before(ctx: Context) -> dict | None:
    """The same figures measured by the code before a change (`make bench BEFORE=rev`), in a
    process of its own on demo databases of its own, right after ours; None without one."""
    if ctx.before_root is None:
        return None
    env = {k: v for k, v in os.environ.items() if k != "GRIDPATROL_BENCH_BEFORE"}
    env["PYTHONPATH"] = str(ctx.before_root)
    done = subprocess.run(
        [sys.executable, "-c", _BEFORE_SCRIPT, __file__],
        cwd=ctx.before_root,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the code before failed its benchmark:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _summary(r: dict) -> dict[str, float]:
    acts = [t for series in r["acts"].values() for t in series]
    return {
        "counts ms (changji)": r["counts:changji"],
        "counts ms (sangong)": r["counts:sangong"],
        "inbox ms": r["inbox"],
        "act ms": median(acts) * 1000,
        "audit s": r["audit_s"],
        **{
            f"list {path} ms ({login})": r[f"page:{login}:{path}"]
            for login in LIST_READERS
            for path in LIST_PAGES
        },
    }


def _comparison(ctx: Context, now: dict, before: dict | None) -> str:
    if before is None:
        return ""
    rows = []
    for backend, r in now.items():
        if backend not in before:
            continue
        ours, theirs = _summary(r), _summary(before[backend])
        for what in ours:
            ratio = ours[what] / theirs[what]  # > 1: slower now
            rows.append((backend, what, f"{theirs[what]:.2f}", f"{ours[what]:.2f}", f"{ratio:.2f}"))
    header = (
        "Backend",
        "Figure (median)",
        f"code before ({ctx.before_label()})",
        "now",
        "now / before",
    )
    return f"""
Compared with the code before ({ctx.before_label()}): the same benchmark, run by that checkout
in a process of its own on demo databases of its own, right after this one (not interleaved:
these are in-process timings of a few milliseconds, which move by ten or twenty percent
between two runs here; whether anything got slower is decided in instructions,
bench/compare.py).

{table(header, rows)}
"""


def run(ctx: Context) -> str:
    urls = [ctx.sqlite_url] + ([ctx.postgis_url] if ctx.postgis_url else [])
    results = {_backend_name(url): _one(ctx, url) for url in urls}
    comparison = _comparison(ctx, results, _before(ctx))
    list_header = (
        "Backend",
        *(f"`{p}` ms as `{login}`" for login in LIST_READERS for p in LIST_PAGES),
    )
    list_rows = [
        (
            backend,
            *(f"{r[f'page:{login}:{p}']:.1f}" for login in LIST_READERS for p in LIST_PAGES),
        )
        for backend, r in results.items()
    ]
    rows = []
    for backend, r in results.items():
        acts = [t for series in r["acts"].values() for t in series]
        rows.append(
            (
                backend,
                fmt_int(r["problems"]),
                f"{r['counts:cun']:.1f} / {r['counts:sangong']:.1f} / {r['counts:changji']:.1f}",
                f"{r['waiting:cun']} / {r['waiting:sangong']} / {r['waiting:changji']}",
                f"{r['inbox']:.1f} ({r['inbox_rows']} rows)",
                " / ".join(f"{median(s) * 1000:.1f}" for s in r["acts"].values()),
                f"**{median(acts) * 1000:.1f}**",
                f"{fmt_int(r['events'])} in {r['audit_s']:.2f} s: "
                f"**{fmt_int(r['events'] / r['audit_s'])}/s**",
            )
        )
    worst_counts = max(r[f"counts:{u}"] for r in results.values() for u in ("cun", "changji"))
    worst_inbox = max(r["inbox"] for r in results.values())
    worst_act = max(
        median([t for s in r["acts"].values() for t in s]) * 1000 for r in results.values()
    )
    slowest_audit = min(r["events"] / r["audit_s"] for r in results.values())
    targets = [
        (
            f"home page counts ≤ {TARGET_COUNTS_MS:.0f} ms (median, slowest person and backend)",
            f"{worst_counts:.1f} ms",
            met(worst_counts <= TARGET_COUNTS_MS),
        ),
        (
            f"a county office's inbox ≤ {TARGET_INBOX_MS:.0f} ms",
            f"{worst_inbox:.1f} ms",
            met(worst_inbox <= TARGET_INBOX_MS),
        ),
        (
            f"one act, committed, ≤ {TARGET_ACT_MS:.0f} ms",
            f"{worst_act:.1f} ms",
            met(worst_act <= TARGET_ACT_MS),
        ),
        (
            f"`flask audit verify` ≥ {fmt_int(TARGET_AUDIT)} events/s",
            f"{fmt_int(slowest_audit)}/s",
            met(slowest_audit >= TARGET_AUDIT),
        ),
    ]
    load = "; ".join(f"{b}: {r['load_s']:.0f} s" for b, r in results.items())
    return f"""\
## Problems at scale (`bench/problems.py`)

The workflow's queries on a prefecture holding years of reports, in process
(`create_app().app_context()`), on the demo database of each backend.

- **Data:** {fmt_int(TOTAL)} problems added to the demo (seed {SEED}) with their hash-chained
  events, written in bulk ({load}): {fmt_int(OPEN_IN_COUNTY)} open and
  {fmt_int(CLOSED_IN_COUNTY)} closed in 昌吉市 (a county office never holds that many open at
  once: this is the worst case), the rest spread over the other counties' villages,
  {OPEN_ELSEWHERE:.0%} of them open. Open ones are in the village, township, county,
  rectifying, re-checking and sent-back states, with deadlines from 5 days past to 10 ahead.
- **Home page counts:** `desk.queries.home_counts()` (every registered count: what waits for
  me and unread notifications, one round trip) for `cun` (village), `sangong` (township head)
  and `changji` (county office), with their posts as the request has them; median of
  {REPEATS} after a warm-up.
- **Inbox:** `problems.queries.inbox()` for `changji`, the first 200 rows by deadline as ORM
  objects; median of {REPEATS}.
- **Acts:** {ACTS} of `cun`'s village's open problems (given a location) escalated by `cun`,
  approved by `sangong`, assigned by `changji`, each through `problems.services.act()` and
  committed (rule check, capacities, version, event with its hash, notifications).
- **Audit:** `grid.audit.verify("problem")` over every event of the database (what `flask audit
  verify` runs); median of {AUDIT_REPEATS}.
- **Lists:** {", ".join(f"`{p}`" for p in LIST_PAGES)}: the first page of 50 with the total count
  and the pages it makes, the whole request through the app's test client, as `changji` (a
  county office) and `zhou` (the prefecture office, who sees every problem); median of
  {REPEATS} after a warm-up.

{
        table(
            (
                "Backend",
                "Problems",
                "Counts ms: cun / sangong / changji",
                "Waiting: cun / sangong / changji",
                "County inbox ms",
                "Act ms: escalate / approve / assign",
                "Act ms (all)",
                "Audit",
            ),
            rows,
        )
    }

{table(list_header, list_rows)}

{table(("Target", "Measured", ""), targets)}
{comparison}"""
