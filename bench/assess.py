"""The monthly assessment on a Changji-sized year, on PostGIS: the time to gather a month's facts
and assess every level-2 grid (assess/facts.py `gather`), and the SQL statements each desktop
page sends, in the demo prefecture and in a world of two counties (no N+1: the same number).

The year is written in bulk on top of the demo (the Changji grid, its people, sources and
stations): patrols and their visits, problems with their hash-chained events (late assignments
and failed re-checks among them), upper findings (missed, already reported, media), the
prefecture office's records, and hourly readings of every pollutant at a share of the stations.
"""

import random
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa

from bench.alerts import COPY_COLUMNS, POLLUTANTS
from bench.common import (
    PYTHON,
    ROOT,
    Context,
    fmt_int,
    median,
    met,
    table,
)
from bench.problems import _signed_in

SEED = 20261201
VISITS = 1_000_000
VISITS_PER_PATROL = 5
PROBLEMS = 30_000
LATE_SHARE = 0.03  # of the problems: assigned late by the county (item 5)
RECHECK_FAIL_SHARE = 0.03  # of the problems: a re-check failed (item 6)
FINDINGS_PER_MONTH = 40  # upper findings in the prefecture
RECORDS_PER_MONTH = 20  # the prefecture office's records (inspection items, bonuses, fails)
READINGS = 5_000_000  # hourly values of the six pollutants, over thirteen months
GATHER_RUNS = 7
TARGET_GATHER_S = 2.0
SMALL_DB = "gridpatrol_bench_assess_small"
CHUNK = 5_000

PATTERNS = {  # the events of a problem's life, each with the data the workflow records
    "resolved": (("report", {}), ("resolve", {})),
    "closed": (
        ("report", {}),
        ("escalate", {}),
        ("approve", {}),
        ("assign", {"assignee": "住建局"}),
        ("submit", {}),
        ("recheck_pass", {}),
    ),
    "late": (  # the county's day passed: recorded, then assigned late (item 5)
        ("report", {}),
        ("escalate", {}),
        ("approve", {}),
        ("deadline_missed", {"state": "county"}),
        ("assign", {"assignee": "住建局", "late": True, "late_state": "county"}),
        ("submit", {}),
        ("recheck_pass", {}),
    ),
    "recheck_fail": (  # a rectification that did not pass its re-check (item 6)
        ("report", {}),
        ("escalate", {}),
        ("approve", {}),
        ("assign", {"assignee": "住建局"}),
        ("submit", {}),
        ("recheck_fail", {}),
        ("submit", {}),
        ("recheck_pass", {}),
    ),
}
STATE_AFTER = {
    "report": "village",
    "resolve": "resolved",
    "escalate": "township",
    "approve": "county",
    "deadline_missed": "county",
    "assign": "rectifying",
    "submit": "rechecking",
    "recheck_fail": "rectifying",
    "recheck_pass": "closed",
}


# --- the months -----------------------------------------------------------------------------------


def _months(today: date, count: int) -> list[date]:
    """The first days of the `count` months that are over, oldest first."""
    first = today.replace(day=1)
    found = []
    for _ in range(count):
        first = (first - timedelta(days=1)).replace(day=1)
        found.append(first)
    return found[::-1]


def _utc_instant(rng: random.Random, first: date) -> datetime:
    """A moment of the month starting `first`, naive UTC, in working hours of China."""
    following = (first + timedelta(days=32)).replace(day=1)
    day = first + timedelta(days=rng.randrange((following - first).days))
    local = datetime(day.year, day.month, day.day, rng.randint(9, 18), rng.randrange(60))
    return local - timedelta(hours=8)


# --- the prefecture as the demo made it -----------------------------------------------------------


def _places():
    """Villages with their county and supervisors, the sources of each village and county."""
    from extensions import db
    from grid.models import Grid, GridKind, Membership, Role
    from sources.models import Source

    villages = {
        gid: int(path.strip("/").split("/")[1])
        for gid, path in db.session.execute(
            sa.select(Grid.id, Grid.path).where(Grid.level == 4, Grid.kind != GridKind.KEY)
        )
    }
    supervisors = [
        (user_id, grid_id)
        for user_id, grid_id in db.session.execute(
            sa.select(Membership.user_id, Membership.grid_id).where(
                Membership.role == Role.SUPERVISOR
            )
        )
        if grid_id in villages
    ]
    by_village: dict[int, list[int]] = {}
    by_county: dict[int, list[int]] = {}
    for source_id, county_id, grid_id in db.session.execute(
        sa.select(Source.id, Source.county_id, Source.grid_id)
    ):
        by_county.setdefault(county_id, []).append(source_id)
        if grid_id is not None:
            by_village.setdefault(grid_id, []).append(source_id)
    return villages, supervisors, by_village, by_county


def _next_id(table_name: str) -> int:
    from extensions import db

    return (db.session.scalar(sa.text(f"SELECT max(id) FROM {table_name}")) or 0) + 1  # noqa: S608


def _move_sequences(*tables: str) -> None:
    """Ids were given: each table's sequence past them."""
    from extensions import db

    for name in tables:
        db.session.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), max(id)) FROM {name}"  # noqa: S608
            )
        )


def _copy(conninfo: str, statement: str, lines) -> int:
    """COPY text-format `lines` (already escaped, tab-separated, no newline) in one transaction."""
    import psycopg

    count = 0
    with psycopg.connect(conninfo) as conn, conn.cursor() as cursor:
        with cursor.copy(statement) as copy:
            batch = []
            for line in lines:
                batch.append(line)
                if len(batch) == CHUNK:
                    copy.write("\n".join(batch) + "\n")
                    count += len(batch)
                    batch = []
            if batch:
                copy.write("\n".join(batch) + "\n")
                count += len(batch)
        conn.commit()
    return count


# --- the year -------------------------------------------------------------------------------------


def _patrols_and_visits(conninfo: str, months: list[date], rng: random.Random) -> tuple[int, int]:
    """VISITS visits, VISITS_PER_PATROL a patrol, each by a village's supervisor to its sources
    (the county's when the village has none), spread over the year."""
    villages, supervisors, by_village, by_county = _places()
    patrol_id, visit_id = _next_id("patrol"), _next_id("visit")
    now = datetime.now(UTC).replace(tzinfo=None)
    patrols, visits = [], []
    first_patrol = patrol_id
    while len(visits) < VISITS:
        user_id, village = rng.choice(supervisors)
        sources = by_village.get(village) or by_county.get(villages[village])
        if not sources:
            continue
        started = _utc_instant(rng, rng.choice(months))
        ended = started + timedelta(hours=2)
        patrols.append(
            f"{patrol_id}\tbench-p-{patrol_id:028d}\t{user_id}\t{village}\t{started}\t{ended}"
            f"\t{now}\tf"
        )
        for n in range(VISITS_PER_PATROL):
            at = started + timedelta(minutes=20 * (n + 1))
            outcome = "problem" if rng.random() < 0.03 else "normal"
            local_day = (at + timedelta(hours=8)).date()
            visits.append(
                f"{visit_id}\tbench-v-{visit_id:028d}\t{patrol_id}\t{rng.choice(sources)}\t{at}"
                f"\t{local_day}\t{outcome}\t{now}\tf"
            )
            visit_id += 1
        patrol_id += 1
    _copy(
        conninfo,
        "COPY patrol (id, client_id, supervisor_id, grid_id, started_at, ended_at, received_at,"
        " clock_skewed) FROM STDIN",
        patrols,
    )
    _copy(
        conninfo,
        "COPY visit (id, client_id, patrol_id, source_id, visited_at, visited_on, outcome,"
        " received_at, clock_skewed) FROM STDIN",
        visits,
    )
    return patrol_id - first_patrol, len(visits)


def _problems(months: list[date], rng: random.Random) -> tuple[int, int, dict[int, list]]:
    """PROBLEMS problems over the year with their event chains, as bench/problems.py writes
    them (Core inserts, hashes chained); returns the problems and events written, and each
    county's problems by month (for findings already reported)."""
    from extensions import db
    from grid.chain import link_hash
    from patrol import catalog
    from problems.models import Problem, ProblemEvent
    from problems.services import event_record

    villages, supervisors, _by_village, _by_county = _places()
    categories = sorted(catalog.CATEGORY_CODES)
    first_id = _next_id("problem")
    problems, events = [], []
    reported: dict[int, list] = {}
    for n in range(PROBLEMS):
        user_id, village = rng.choice(supervisors)
        month = rng.choice(months)
        found = _utc_instant(rng, month)
        draw = rng.random()
        if draw < LATE_SHARE:
            pattern = "late"
        elif draw < LATE_SHARE + RECHECK_FAIL_SHARE:
            pattern = "recheck_fail"
        else:
            pattern = rng.choice(("resolved", "closed"))
        pid = first_id + n
        previous = None
        for seq, (name, data) in enumerate(PATTERNS[pattern], start=1):
            event = SimpleNamespace(
                problem_id=pid,
                seq=seq,
                at=found + timedelta(hours=6 * (seq - 1)) + timedelta(days=seq // 4),
                actor_id=None,
                capacity=None,
                event=name,
                from_state=None,
                to_state=STATE_AFTER[name],
                comment="基准测试",
                data=dict(data),
                deadline_at=None,
                prev_hash=previous,
            )
            event.hash = link_hash(event_record(event))
            previous = event.hash
            events.append(vars(event))
        county = villages[village]
        reported.setdefault(county, []).append((month, pid))
        problems.append(
            {
                "id": pid,
                "origin": "patrol",
                "reporter_id": user_id,
                "grid_id": village,
                "county_id": county,
                "found_at": found,
                "received_at": found,
                "category": rng.choice(categories),
                "severity": "moderate",
                "description": "基准测试问题",
                "state": STATE_AFTER[PATTERNS[pattern][-1][0]],
                "deadline_at": None,
                "assignee_department": None if pattern == "resolved" else "住建局",
                "last_event_hash": previous,
                "version": len(PATTERNS[pattern]),
            }
        )
    for start in range(0, len(problems), CHUNK):
        db.session.execute(Problem.__table__.insert(), problems[start : start + CHUNK])
    for start in range(0, len(events), CHUNK):
        db.session.execute(ProblemEvent.__table__.insert(), events[start : start + CHUNK])
    _move_sequences("problem", "problem_event")
    db.session.commit()
    return len(problems), len(events), reported


def _findings_and_records(months, rng, reported) -> tuple[int, int]:
    """Upper findings each month (70% missed, 20% already reported with a report linked, 10%
    media at a level) and the prefecture office's records (inspection items with deadlines,
    some rectified late or never, bonuses, now and then an automatic fail)."""
    from assess.models import AssessRecord
    from extensions import db
    from grid.models import Grid
    from grid.time import local_today
    from problems.models import UpperFinding, finding_match

    counties = list(db.session.scalars(sa.select(Grid.id).where(Grid.level == 2)))
    today = local_today()
    findings, matches, records = [], [], []
    finding_id = _next_id("upper_finding")
    for first in months:
        following = (first + timedelta(days=32)).replace(day=1)
        days = (following - first).days
        for _ in range(FINDINGS_PER_MONTH):
            county = rng.choice(counties)
            draw = rng.random()
            kind, level, decision = (
                rng.choice(("inspection", "supervision", "complaint")),
                None,
                "missed",
            )
            linked = [pid for month, pid in reported.get(county, []) if month == first]
            if draw < 0.2 and linked:
                decision = "already_reported"
                matches.append({"finding_id": finding_id, "problem_id": rng.choice(linked)})
            elif draw >= 0.9:
                kind = "media"
                level = rng.choices(("prefecture", "region", "national"), (70, 25, 5))[0]
            findings.append(
                {
                    "id": finding_id,
                    "county_id": county,
                    "found_on": first + timedelta(days=rng.randrange(days)),
                    "kind": kind,
                    "media_level": level,
                    "category": "dust",
                    "place": "基准测试地点",
                    "description": "基准测试：上级发现的问题",
                    "decision": decision,
                    "decided_at": datetime.combine(following, datetime.min.time()),
                }
            )
            finding_id += 1
        for _ in range(RECORDS_PER_MONTH):
            county = rng.choice(counties)
            draw = rng.random()
            if draw < 0.7:
                due = first + timedelta(days=rng.randrange(days))
                late = rng.choice((None, -2, 0, 3, 10))
                records.append(
                    {
                        "county_id": county,
                        "kind": "inspection",
                        "month": first,
                        "title": "基准测试：督察问题",
                        "due_on": due,
                        "rectified_on": None
                        if late is None
                        else min(today, due + timedelta(days=late)),
                        "bad_influence": late is None and rng.random() < 0.1,
                    }
                )
            else:
                kind = "bonus" if draw < 0.97 else "auto_fail"
                records.append(
                    {
                        "county_id": county,
                        "kind": kind,
                        "month": first,
                        "title": "基准测试",
                        "due_on": None,
                        "rectified_on": None,
                        "bad_influence": False,
                    }
                )
    db.session.execute(UpperFinding.__table__.insert(), findings)
    if matches:
        db.session.execute(finding_match.insert(), matches)
    db.session.execute(AssessRecord.__table__.insert(), records)
    _move_sequences("upper_finding")
    db.session.commit()
    return len(findings), len(records)


def _stations(count: int) -> list[int]:
    """`count` stations of the demo, the national ones and then micro-stations taken from each
    county in turn, so that every county has some."""
    from alerts.models import Station
    from extensions import db
    from grid.models import Grid

    rows = db.session.execute(
        sa.select(Station.id, Station.kind, Grid.path)
        .join(Grid, Grid.id == Station.grid_id)
        .order_by(Station.id)
    ).all()
    chosen = [sid for sid, kind, _path in rows if kind == "national"]
    by_county: dict[str, list[int]] = {}
    for sid, kind, path in rows:
        if kind != "national":
            by_county.setdefault(path.strip("/").split("/")[1], []).append(sid)
    queues = list(by_county.values())
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def _readings(conninfo: str, months: list[date], rng: random.Random) -> tuple[int, int]:
    """About READINGS hourly values of the six pollutants over `months` (the readings' monthly
    partitions made first, as the monthly task makes them ahead), at as many stations as that
    takes."""
    from alerts import partitions

    start = datetime.combine(months[0], datetime.min.time()) - timedelta(hours=8)
    end = datetime.combine((months[-1] + timedelta(days=32)).replace(day=1), datetime.min.time())
    hours = int((end - timedelta(hours=8) - start).total_seconds() // 3600)
    partitions.ensure_ahead(months=len(months) + 1, today=months[0])
    stations = _stations(max(1, round(READINGS / (hours * len(POLLUTANTS)))))
    now = datetime.now(UTC).replace(tzinfo=None)
    base = {"PM2.5": 45, "PM10": 80, "SO2": 12, "NO2": 30, "CO": 0.9, "O3": 70}

    def lines():
        for sid in stations:
            level = rng.uniform(0.7, 1.3)  # a county cleaner or dirtier than another
            for h in range(hours):
                at = start + timedelta(hours=h)
                for pollutant in POLLUTANTS:
                    value = round(base[pollutant] * level * rng.uniform(0.5, 1.6), 2)
                    yield f"{sid}\t{pollutant}\thour\t{at}\t{value}\tN\t{now}\tbench"

    written = _copy(conninfo, f"COPY reading ({COPY_COLUMNS}) FROM STDIN", lines())
    return written, len(stations)


def load_year(app, conninfo: str) -> dict:
    """Write the year on top of the demo; what was written and how long each part took."""
    from extensions import db
    from grid.time import local_today

    rng = random.Random(SEED)  # noqa: S311 - reproducible benchmark data
    out: dict = {}
    with app.app_context():
        today = local_today()
        year = _months(today, 12)
        t0 = time.perf_counter()
        out["patrols"], out["visits"] = _patrols_and_visits(conninfo, year, rng)
        _move_sequences("patrol", "visit")
        db.session.commit()
        t1 = time.perf_counter()
        out["problems"], out["events"], reported = _problems(year, rng)
        t2 = time.perf_counter()
        out["findings"], out["records"] = _findings_and_records(year, rng, reported)
        t3 = time.perf_counter()
        out["readings"], out["stations"] = _readings(conninfo, _months(today, 13), rng)
        t4 = time.perf_counter()
        for name in ("patrol", "visit", "problem", "problem_event", "upper_finding", "reading"):
            db.session.execute(sa.text(f"ANALYZE {name}"))
        db.session.commit()
        out["seconds"] = {
            "patrols and visits": t1 - t0,
            "problems and events": t2 - t1,
            "findings and records": t3 - t2,
            "readings": t4 - t3,
            "ANALYZE": time.perf_counter() - t4,
        }
        out["month"] = year[-1]
        db.session.remove()
    return out


# --- the measurements -----------------------------------------------------------------------------


def time_gather(app, first: date) -> dict:
    """Median seconds of gathering and assessing every level-2 grid's month, after a warm-up;
    and, beside it, of the month's air-quality ranking (RULES §6, the readings)."""
    from assess import air, facts
    from extensions import db

    out: dict = {}
    with app.app_context():
        facts.gather(first.year, first.month)
        times = []
        for _ in range(GATHER_RUNS):
            db.session.expunge_all()
            start = time.perf_counter()
            months = facts.gather(first.year, first.month)
            times.append(time.perf_counter() - start)
        out["gather"] = times
        out["counties"] = len(months)
        out["facts"] = {
            "missed": sum(m.facts.missed_problems for m in months),
            "late": sum(m.facts.unassigned_reports for m in months),
            "failed": sum(m.facts.poor_rectifications for m in months),
            "overdue": sum(m.facts.overdue_inspection_items for m in months),
        }
        db.session.expunge_all()
        start = time.perf_counter()
        ranked = air.month_ranking(first)
        out["air"] = time.perf_counter() - start
        out["air_rows"] = len(ranked)
        db.session.remove()
    return out


def page_statements(app, county_id: int, months: dict[str, date]) -> dict[str, int]:
    """SQL statements of each desktop page, the whole request through the test client as the
    prefecture office (`zhou`), for a frozen month and the month under way; and the desktop's
    own data (assess.desktop.queries_per_desktop_page)."""
    from assess import desktop

    client = _signed_in(app, "zhou")
    out = {}
    for label, first in months.items():
        for page, path in (("ranking", "/assess/"), ("county", f"/assess/{county_id}")):
            url = f"{path}?month={first:%Y-%m}"
            client.get(url)  # once, so that what is kept is kept
            with app.app_context(), desktop.counting_statements() as seen:
                response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code}")
            out[f"{page} {label}"] = len(seen)
    with app.app_context():
        out["desktop data"] = desktop.queries_per_desktop_page(months["frozen"])
    return out


def _small_world(ctx: Context) -> str:
    """A database of its own holding a prefecture of two counties (each with its heads, office,
    sub-grid heads, a township and a village), the office `zhou`, a missed finding and an
    inspection item each last month, and that month frozen."""
    admin = sa.create_engine(ctx.postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{SMALL_DB}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{SMALL_DB}"'))
    admin.dispose()
    url = (
        sa.make_url(ctx.postgres_admin_url)
        .set(drivername="postgresql+psycopg", database=SMALL_DB)
        .render_as_string(hide_password=False)
    )
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()
    done = subprocess.run(
        [PYTHON, "-m", "flask", "db", "upgrade"],
        cwd=ROOT,
        env=ctx.env(url),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"flask db upgrade failed:\n{done.stderr[-2000:]}")
    app = ctx.app(url)
    with app.app_context():
        from assess import services, snapshots
        from extensions import db
        from grid import services as grid_services
        from grid.demo import DEMO_PASSWORD
        from grid.models import GridKind, Role
        from grid.time import local_today
        from problems import services as problem_services
        from problems.findings import MISSED

        since = date(local_today().year - 1, 1, 1)
        first = _months(local_today(), 1)[0]
        people = iter(range(1, 1000))

        def person(login: str | None = None):
            n = next(people)
            return grid_services.create_user(login or f"p{n}", f"测试{n}", DEMO_PASSWORD)

        root = grid_services.add_grid("测试州", GridKind.PREFECTURE, None)
        zhou = person("zhou")
        grid_services.appoint(zhou, root, Role.OFFICE, since)
        for n in (1, 2):
            county = grid_services.add_grid(f"测试县{n}", GridKind.COUNTY, root)
            town = grid_services.add_grid(f"测试镇{n}", GridKind.TOWNSHIP, county)
            village = grid_services.add_grid(f"测试村{n}", GridKind.VILLAGE, town)
            grid_services.appoint(person(), county, Role.HEAD, since)
            grid_services.appoint(person(), county, Role.OFFICE, since)
            grid_services.appoint(person(), county, Role.SUBHEAD, since, covers=[town])
            grid_services.appoint(person(), town, Role.HEAD, since)
            grid_services.appoint(person(), town, Role.SUBHEAD, since, covers=[village])
            grid_services.appoint(person(), village, Role.SUPERVISOR, since, full_time=True)
            finding = problem_services.record_finding(
                problem_services.FindingFields(
                    county_id=county.id,
                    found_on=first + timedelta(days=9),
                    kind="inspection",
                    media_level=None,
                    category="dust",
                    lon=None,
                    lat=None,
                    place="测试地点",
                    description="基准测试：上级发现的问题",
                ),
                by=zhou,
            )
            problem_services.decide(finding, MISSED, [], zhou)
            services.record(
                county,
                "inspection",
                "基准测试：督察问题",
                by=zhou,
                due_on=first + timedelta(days=9),
            )
        snapshots.freeze(first.year, first.month, by=zhou)
        db.session.commit()
        db.session.remove()
    return url


def _drop_small(ctx: Context) -> None:
    admin = sa.create_engine(ctx.postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{SMALL_DB}" WITH (FORCE)'))
    admin.dispose()


def _county(app, code: str | None = None) -> int:
    from extensions import db
    from grid.models import Grid

    with app.app_context():
        query = sa.select(Grid.id).where(Grid.level == 2).order_by(Grid.path, Grid.id)
        if code:
            query = query.where(Grid.code == code)
        found = db.session.scalar(query.limit(1))
        db.session.remove()
    return found


# --- the run --------------------------------------------------------------------------------------


HEADING = "## Monthly assessment (`bench/assess.py`)"


def run(ctx: Context) -> str:
    url = ctx.postgis_url
    if url is None:
        return (
            f"{HEADING}\n\nNot run: set GRIDPATROL_TEST_POSTGRES (scripts/test-postgres.sh "
            "prints one) to measure on PostGIS."
        )
    app = ctx.app(url)
    conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    print("bench: assess: writing a year", flush=True)
    year = load_year(app, conninfo)
    first = year["month"]
    under_way = first.replace(day=1) + timedelta(days=32)
    months = {"frozen": first, "under way": under_way.replace(day=1)}
    print("bench: assess: gathering", flush=True)
    gathered = time_gather(app, first)
    print("bench: assess: counting statements", flush=True)
    changji = page_statements(app, _county(app, "652301000000"), months)
    try:
        small_url = _small_world(ctx)
        small_app = ctx.app(small_url)
        small = page_statements(small_app, _county(small_app), months)
        with small_app.app_context():
            from extensions import db

            db.session.remove()
            db.engine.dispose()
    finally:
        _drop_small(ctx)
    return _report(year, gathered, changji, small)


def _report(year, gathered, changji, small) -> str:
    runs = gathered["gather"]
    typical = median(runs)
    seconds = year["seconds"]
    facts = gathered["facts"]
    written = [
        (
            "patrols and their visits (COPY): village supervisors visiting their village's sources",
            f"{fmt_int(year['patrols'])} + {fmt_int(year['visits'])}",
            f"{seconds['patrols and visits']:.0f}",
        ),
        (
            f"problems and their hash-chained events (Core inserts, as `bench/problems.py`): "
            f"{LATE_SHARE:.0%} assigned late after the county's deadline was recorded missed, "
            f"{RECHECK_FAIL_SHARE:.0%} with a failed re-check, the rest resolved or closed",
            f"{fmt_int(year['problems'])} + {fmt_int(year['events'])}",
            f"{seconds['problems and events']:.0f}",
        ),
        (
            "upper findings (70% missed, 20% already reported with a report linked, 10% media) "
            "and the prefecture office's records (inspection items with deadlines, some "
            "rectified late or never; bonuses; automatic fails)",
            f"{fmt_int(year['findings'])} + {fmt_int(year['records'])}",
            f"{seconds['findings and records']:.0f}",
        ),
        (
            f"hourly readings of the six pollutants at {year['stations']} of the demo's stations "
            "(the national ones, then micro-stations of each county in turn), thirteen months "
            "(COPY into the monthly partitions, made first)",
            fmt_int(year["readings"]),
            f"{seconds['readings']:.0f}",
        ),
        ("`ANALYZE` of the tables written", "", f"{seconds['ANALYZE']:.0f}"),
    ]
    rows = [
        (
            what,
            changji[what],
            small[what],
            "equal" if changji[what] == small[what] else "**differ**",
        )
        for what in changji
    ]
    equal = all(changji[what] == small[what] for what in changji)
    targets = [
        (
            f"gather and assess every level-2 grid's month ≤ {TARGET_GATHER_S:.0f} s (median)",
            f"{typical * 1000:.0f} ms",
            met(typical <= TARGET_GATHER_S),
        ),
        (
            "statements per desktop page: the same for Changji as for two counties",
            "equal" if equal else "differ",
            met(equal),
        ),
    ]
    month = f"{year['month']:%Y-%m}"
    return f"""\
{HEADING}

A Changji-sized year on PostgreSQL + PostGIS (the server GRIDPATROL_TEST_POSTGRES names), in
process (`create_app().app_context()`): the PostGIS demo database (the Changji grid of 10
level-2 grids, 93 townships and 625 villages, its people, 656 sources and 154 stations, and the
demo's own year of assessment history, frozen), and on top of it a year written in bulk (seed
{SEED}), months ending with {month}:

{table(("Written", "Rows", "Seconds"), written)}

- **Gather:** `assess.facts.gather()` of {month}, the last month that is over: every domain's
  facts for all {gathered["counties"]} level-2 grids and `grid.scoring.assess()` of each;
  {GATHER_RUNS} runs after a warm-up, each on an empty identity map; runs
  {", ".join(f"{t * 1000:.0f}" for t in runs)} ms. The month holds {facts["missed"]} missed
  problems, {facts["late"]} late assignments, {facts["failed"]} failed re-checks and
  {facts["overdue"]} overdue inspection items.
- **Beside it** (no target): the month's air-quality ranking, `assess.air.month_ranking()`
  (the readings of the month, of the month a year before and of the last-place streak's
  months), once: {gathered["air"] * 1000:,.0f} ms.
- **Statements per page:** every SQL statement the engine sends during one request (an engine
  listener, `assess.desktop.counting_statements()`, around a test-client GET signed in as the
  prefecture office `zhou`, after one unmeasured GET), on this database and on one of its own
  holding a prefecture of two counties (heads, office and sub-grid heads, a township and a
  village each; a missed finding and an inspection item each; {month} frozen). "frozen" is
  {month}, frozen in both; "under way" is the month under way, assessed from the data as it
  stands; "desktop data" is `assess.desktop.queries_per_desktop_page()`, the desktop's data
  alone. County pages: 昌吉市, and the first of the two.

{table(("Page", "Changji (10 level-2 grids)", "two counties", ""), rows)}

{table(("Target", "Measured", ""), targets)}
"""
