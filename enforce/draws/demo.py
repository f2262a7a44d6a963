"""The Changji demo's data for the random inspections (called by desk/cli.py's load_demo): an
inspector library for the prefecture (the enforcement detachment) and for each county, with
fictional names and certificate numbers, a few recusals, and each office's draws of last month
and this month at the suggested numbers, with fixed seeds (so the demo is the same each time).

Accounts to try: "zhou" is an inspector of the detachment, "changji" and "zhifa" of 昌吉市:
each sees their own tasks (enforce/draws/task_pages.py)."""

from collections.abc import Callable
from datetime import date, timedelta

import sqlalchemy as sa

from enforce.draws import queries, results, services
from enforce.draws.models import Draw, Inspector, Task, task_inspector
from evidence import services as evidence
from extensions import db
from grid.models import Grid, User
from grid.queries import root_grid
from grid.time import local_today, utcnow
from problems.demo import after_photo
from sources import catalog
from sources.models import Source

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN = (
    "建军",
    "海燕",
    "志强",
    "丽娜",
    "文博",
    "晓东",
    "春梅",
    "立新",
    "玉兰",
    "国庆",
    "婷婷",
    "永刚",
)
ACCOUNTS = {"zhou": None, "changji": "652301000000", "zhifa": "652301000000"}  # None: prefecture
PER_COUNTY = 4
PREFECTURE_INSPECTORS = 8


def _name(n: int) -> str:
    return SURNAMES[n % len(SURNAMES)] + GIVEN[(n * 7) % len(GIVEN)]


def _users() -> dict[str, User]:
    rows = db.session.scalars(sa.select(User).where(User.username.in_(list(ACCOUNTS))))
    return {u.username: u for u in rows}


def _library(root: Grid, counties: list[Grid]) -> list[Inspector]:
    users = _users()
    made: list[Inspector] = []
    serial = 0
    for office in [root, *counties]:
        count = PREFECTURE_INSPECTORS if office.id == root.id else PER_COUNTY
        unit = (
            "昌吉州生态环境保护综合行政执法支队"
            if office.id == root.id
            else f"{office.name}生态环境分局"
        )
        linked = [
            users[login]
            for login, code in ACCOUNTS.items()
            if login in users and (code == office.code if code else office.id == root.id)
        ]
        for k in range(count):
            serial += 1
            user = linked[k] if k < len(linked) else None
            made.append(
                services.add_inspector(
                    office, _name(serial), f"DEMO{serial:07d}", unit, by=None, user=user
                )
            )
    return made


def _conflicts(inspectors: list[Inspector]) -> int:
    """A recusal for every third county inspector: a key polluter of their county."""
    made = 0
    for inspector in inspectors[PREFECTURE_INSPECTORS::3]:
        source = db.session.scalar(
            sa.select(Source)
            .where(
                Source.county_id == inspector.grid_id,
                Source.key_polluter.is_(True),
                Source.status == catalog.ACTIVE,
            )
            .order_by(Source.id)
            .limit(1)
        )
        if source is not None:
            services.add_conflict(inspector, source, "近亲属在该企业任职（演示）", by=None)
            made += 1
    return made


def parts(asked: dict[str, int]) -> list[dict[str, int]]:
    """The month's numbers as two draws: the monitoring facilities (seed 002) on their own."""
    rest = {c: n for c, n in asked.items() if c != "facility"}
    return [part for part in (rest, {"facility": asked.get("facility", 0)}) if sum(part.values())]


def _draws(offices: list[Grid], months: list[date], today: date) -> int:
    made = 0
    for month in months:
        for office in offices:
            plan = queries.plan(office, month)
            asked = {c: s.number for c, s in plan.suggestions.items() if s.number}
            if not asked or plan.population.inspectors < 2:
                continue
            # monitoring facilities apart: the key polluters drawn would leave too few of them
            for part in parts(asked):
                services.make_draw(
                    office,
                    month,
                    part,
                    by=None,
                    seed=month.year * 100_000 + month.month * 1000 + office.id + len(part),
                    note="演示抽查",
                    today=today,
                )
                made += 1
    return made


def load(start: date, echo: Callable[[str], None]) -> str:
    """The library, recusals, and last month's and this month's draws."""
    root = root_grid()
    if root is None:
        return ""
    counties = list(
        db.session.scalars(sa.select(Grid).where(Grid.level == 2).order_by(Grid.code, Grid.id))
    )
    inspectors = _library(root, counties)
    conflicts = _conflicts(inspectors)
    today = local_today()
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    draws = _draws([root, *counties], [last_month, this_month], today)
    done, published = _results(last_month)
    db.session.flush()
    return (
        f"Random inspections: {len(inspectors)} inspectors, {conflicts} recusals, "
        f"{draws} draws (last month and this month), {done} results entered, "
        f"{published} published."
    )


RESULTS = (  # outcome (1..7) and check record of the demo's results, the first two published
    (1, "现场检查废气治理设施运行正常，在线监测数据与手工比对一致，未发现问题。"),
    (2, "现场检查发现原料堆场未全部苫盖，已责令当场整改并限期完善防尘措施。"),
    (4, "现场检查发现脱硫设施停运期间仍在生产，已立案调查并作出行政处罚决定。"),
)


def _results(month: date) -> tuple[int, int]:
    """Results of last month's first tasks whose inspectors can sign in, entered by one of
    them with a photo, the first two published by the prefecture office: so the phone's
    task list and the public page show something on first run."""
    rows = db.session.execute(
        sa.select(Task, User)
        .join(Draw, Draw.id == Task.draw_id)
        .join(task_inspector, task_inspector.c.task_id == Task.id)
        .join(Inspector, Inspector.id == task_inspector.c.inspector_id)
        .join(User, User.id == Inspector.user_id)
        .where(Draw.month == month, Task.status == "assigned")
        .order_by(Task.id, task_inspector.c.position)
    ).all()
    chosen: dict[int, tuple[Task, User]] = {}
    for task, user in rows:
        if task.id not in chosen and len(chosen) < len(RESULTS):
            chosen[task.id] = (task, user)
    office = db.session.scalar(sa.select(User).where(User.username == "zhou"))
    store = evidence.photo_store()
    published = 0
    for n, ((task, user), (outcome, record)) in enumerate(
        zip(chosen.values(), RESULTS, strict=False)
    ):
        grid = db.session.get(Grid, db.session.get(Source, task.source_id).grid_id or 0)
        grid = grid or db.session.get(Grid, db.session.get(Draw, task.draw_id).grid_id)
        moment = evidence.capture(grid, user.name, utcnow())
        photo = evidence.prepare(after_photo(70 + n), moment, store)
        form = results.Completion(outcome, record, month + timedelta(days=9 + n))
        results.complete(task, user, form, [photo])
        if n < 2 and office is not None:
            results.publish(task, office)
            published += 1
    return len(chosen), published
