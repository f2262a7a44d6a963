"""A year of the monthly assessment for the demo (fictional, like all demo data), so that the
desktop, the trend and the consequence ladders show something on first run.

For each of the last MONTHS months, oldest first, the prefecture office's month is made through
the owning domains' services: upper findings recorded and decided (problems/services.py), most
of them missed by the grid, a few already reported by it (a report resolved on the spot), some
media exposures; inspection items with their deadlines, most rectified on time, some late, one
with bad influence; approved major discoveries; one automatic fail (assess/services.py). Then
the month is gathered and frozen (assess/snapshots.py), as the office would at the month's end.

A seeded generator makes the counties differ and the demo the same every time. WEAK is the
county that does badly: a share of the prefecture's missed problems above 20% in the last two
months, and three months in a row that fail (an automatic fail, an inspection item overdue
with bad influence, a national media exposure), so that both ladders have a rung to show. Some
counties fail every month as it is: the demo's staffing leaves a village of theirs without a
sub-grid head (grid/demo.py UNCOVERED), a veto of items 1-3.

Late assignments (item 5) and failed re-checks (item 6) are what the problem workflow itself
records; none are made up here."""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from assess import demo_air, services, snapshots
from assess import facts as gathering
from assess.models import RecordKind
from evidence.services import photo_store
from extensions import db
from grid import queries as grid_queries
from grid.demo import point_in
from grid.models import Grid, GridKind, Membership, Role, User, point
from grid.time import local_today, local_zone, to_utc
from problems import services as problems
from problems.demo import after_photo
from problems.escalation import Capacity, State
from problems.findings import ALREADY_REPORTED, MISSED
from problems.models import Problem

MONTHS = 12
SEED = 652312
OFFICE = "zhou"  # the prefecture air office records, decides and freezes
WEAK = "652323000000"  # 呼图壁县
TWICE_EXPOSED = "652301000000"  # 昌吉市: one problem exposed by two media, counted once

# Missed problems a month (item 4): most counties none to 2, the weak one more at the end.
MISSED_COUNTS, MISSED_WEIGHTS = (0, 1, 2), (35, 45, 20)
WEAK_EARLY, WEAK_LATE = (0, 2), (6, 8)  # inclusive ranges; "late": the last two months
REPORTED_EVERY = 4  # months: a finding the grid had reported already (a report with a photo)
MEDIA_CHANCE = {"prefecture": 0.05, "region": 0.02}
INSPECTION_CHANCE = 0.3  # an inspection item due in the month
LATE_CHANCE, NEVER_CHANCE = 0.25, 0.05  # of an item: rectified late, never rectified
BONUS_CHANCE = 0.15

CATEGORIES = ("dust", "straw_burning", "scattered_polluting", "coal_boiler")
FOUND_BY = ("inspection", "supervision", "complaint")
PLACES = ("城郊结合部", "国道沿线", "工业园区北侧", "农村集中居住区", "河道两岸", "建筑工地")
WHAT = {
    "dust": "建筑工地裸土未苫盖、车辆带泥上路",
    "straw_burning": "农田露天焚烧秸秆",
    "scattered_polluting": "散乱污作坊无治污设施生产",
    "coal_boiler": "燃煤锅炉冒黑烟、除尘设施未运行",
}
INSPECTION_ITEMS = (
    "中央生态环境保护督察反馈问题：工业企业无组织排放整治",
    "自治区生态环境保护督察交办问题：城区燃煤散烧治理",
    "自治区大气污染防治专项督察问题：施工扬尘管控不到位",
    "中央生态环境保护督察信访件：养殖场恶臭扰民",
)
BONUSES = ("主动发现并上报处置夜间偷排问题", "主动发现并查处非法露天烧烤聚集点")
AUTO_FAIL = "群众重复投诉三次以上的露天焚烧问题经核实未解决"
BAD_INFLUENCE = "自治区督察交办的工业园区异味问题逾期未整改，引发群众集中投诉"
NATIONAL = "国家级媒体曝光：工业园区周边企业夜间偷排烟尘"


@dataclass
class MonthPlan:
    """What one county's month holds, drawn before anything is written."""

    missed: int = 0
    reported: bool = False  # a finding the grid had reported already
    media: list[str] = field(default_factory=list)  # one exposure a level
    twice_exposed: bool = False  # prefecture and region media, the same reported problem
    # Inspection items: (the deadline's day of the month, days rectified after it, negative
    # if before, None if never; bad influence).
    inspections: list[tuple[int, int | None, bool]] = field(default_factory=list)
    bonuses: int = 0
    auto_fail: bool = False


def _frozen_on(first: date) -> datetime:
    """09:00 local on the 3rd of the month after `first`, as naive UTC."""
    following = gathering.next_month(first).replace(day=3)
    return to_utc(datetime.combine(following, time(9), tzinfo=local_zone()))


def past_months(start: date, count: int = MONTHS) -> list[date]:
    """The first days of the last `count` months that are over, oldest first, none before the
    demo's posts begin (`start`)."""
    first = local_today().replace(day=1)
    months = []
    for _ in range(count):
        first = (first - timedelta(days=1)).replace(day=1)
        if first >= start.replace(day=1):
            months.append(first)
    return months[::-1]


def plan(rng: random.Random, weak: bool, index: int, count: int) -> MonthPlan:
    """The month `index` (0 the oldest of `count`) of a county, weak or not."""
    last_two = index >= count - 2
    month = MonthPlan()
    if weak:
        month.missed = rng.randint(*(WEAK_LATE if last_two else WEAK_EARLY))
    else:
        month.missed = rng.choices(MISSED_COUNTS, MISSED_WEIGHTS)[0]
    if not weak:
        month.media = [level for level, p in MEDIA_CHANCE.items() if rng.random() < p]
    if rng.random() < INSPECTION_CHANCE:
        late = rng.random()
        if late < NEVER_CHANCE:
            month.inspections.append((rng.randint(5, 25), None, False))
        elif late < NEVER_CHANCE + LATE_CHANCE:
            month.inspections.append((rng.randint(5, 25), rng.randint(2, 12), False))
        else:
            month.inspections.append((rng.randint(5, 25), -rng.randint(0, 4), False))
    if not weak and rng.random() < BONUS_CHANCE:
        month.bonuses = rng.choice((1, 1, 1, 2))
    # The weak county's run of three failed months, the last three.
    if weak and index == count - 3:
        month.auto_fail = True
    if weak and index == count - 2:
        month.inspections.append((10, None, True))
    if weak and index == count - 1:
        month.media.append("national")
    return month


def load(start: date, echo: Callable[[str], None] = print) -> str:
    """Add a year of assessment history in the current transaction; the caller commits."""
    office = db.session.scalar(sa.select(User).where(User.username == OFFICE))
    counties = gathering.counties()
    months = past_months(start)
    if office is None or not counties or not months:
        return "Assessment: no history (the demo's office or counties are missing)."
    if snapshots.latest(months[0]):
        return "Assessment: history already there."
    rng = random.Random(SEED)  # noqa: S311 - reproducible demo data
    places = _villages_and_reporters()
    store = photo_store()
    made = {"findings": 0, "records": 0}
    for index, first in enumerate(months):
        reporting = rng.choice(counties).id if index % REPORTED_EVERY == 1 else None
        for county in counties:
            month = plan(rng, county.code == WEAK, index, len(months))
            month.reported = county.id == reporting
            if county.code == TWICE_EXPOSED and index == len(months) // 2:
                month.twice_exposed = True
            _make(month, county, first, office, places.get(county.id), rng, store, made)
        for made_now in snapshots.freeze(first.year, first.month, by=office):
            # Frozen as the office would, on the 3rd of the next month (or now, if that is
            # ahead): the appeal windows of the months before have closed. The digest does not
            # cover the time; the month's log keeps when the demo made it.
            made_now.frozen_at = min(made_now.frozen_at, _frozen_on(first))
    echo(demo_air.load(office))  # the air-quality ranking's history and the key areas
    echo(
        f"assessment: {made['findings']} upper findings, {made['records']} records, "
        f"{len(months)} months frozen"
    )
    weak = grid_queries.grid_by_code(WEAK)
    return f"Assessment: {len(months)} months frozen ({months[0]:%Y-%m} to {months[-1]:%Y-%m})" + (
        f", {weak.name} the weak county." if weak else "."
    )


def _make(month, county, first, office, place, rng, store, made) -> None:
    days = (gathering.next_month(first) - first).days

    def day() -> date:
        return first + timedelta(days=rng.randrange(days))

    for _ in range(month.missed):
        _finding(county, day(), rng.choice(FOUND_BY), None, MISSED, [], office, rng)
        made["findings"] += 1
    for level in month.media:
        title = NATIONAL if level == "national" else None
        _finding(county, day(), "media", level, MISSED, [], office, rng, title)
        made["findings"] += 1
    if place is not None and (month.reported or month.twice_exposed):
        found = day()
        problem = _reported(place, found, rng, store)
        if month.reported:
            _finding(
                county,
                found,
                rng.choice(FOUND_BY),
                None,
                ALREADY_REPORTED,
                [problem.id],
                office,
                rng,
            )
            made["findings"] += 1
        if month.twice_exposed:
            for level in ("prefecture", "region"):
                _finding(county, found, "media", level, ALREADY_REPORTED, [problem.id], office, rng)
                made["findings"] += 1
    for due_day, late, bad in month.inspections:
        due = first + timedelta(days=min(due_day, days) - 1)
        done = None if late is None else min(due + timedelta(days=late), local_today())
        services.record(
            county,
            RecordKind.INSPECTION,
            BAD_INFLUENCE if bad else rng.choice(INSPECTION_ITEMS),
            by=office,
            due_on=due,
            rectified_on=done,
            bad_influence=bad,
            detail="演示数据",
        )
        made["records"] += 1
    for _ in range(month.bonuses):
        services.record(
            county, RecordKind.BONUS, rng.choice(BONUSES), by=office, month=first, detail="演示数据"
        )
        made["records"] += 1
    if month.auto_fail:
        services.record(
            county, RecordKind.AUTO_FAIL, AUTO_FAIL, by=office, month=first, detail="演示数据"
        )
        made["records"] += 1


def _finding(county, found_on, kind, level, decision, problem_ids, office, rng, title=None):
    category = rng.choice(CATEGORIES)
    finding = problems.record_finding(
        problems.FindingFields(
            county_id=county.id,
            found_on=found_on,
            kind=kind,
            media_level=level,
            category=category,
            lon=None,
            lat=None,
            place=f"{county.name}{rng.choice(PLACES)}",
            description=f"{title or WHAT[category]}（演示数据）",
        ),
        by=office,
    )
    problems.decide(finding, decision, problem_ids, office)
    return finding


def _reported(place: tuple[Grid, User], found_on: date, rng, store) -> Problem:
    """A report the grid made itself on `found_on` and resolved on the spot (a finding of that
    day is then "already reported")."""
    village, reporter = place
    lon, lat = point_in(village)
    seen = datetime.combine(found_on, time(10, rng.randrange(60)), tzinfo=local_zone())
    category = rng.choice(CATEGORIES)
    problem = Problem(
        origin="patrol",
        reporter_id=reporter.id,
        grid_id=village.id,
        found_at=to_utc(seen),
        location=point(lon, lat),
        category=category,
        severity="moderate",
        description=f"{WHAT[category]}（演示数据）",
    )
    db.session.add(problem)
    db.session.flush()
    problems.start(problem, State.VILLAGE, reporter, Capacity.VILLAGE, now=seen)
    problems.act(
        problem,
        reporter,
        problems.Act(
            event="resolve",
            version=problem.version,
            comment="已当场制止（演示数据）",
            photos=[after_photo(rng.randrange(5))],
        ),
        store,
        now=seen + timedelta(hours=1),
    )
    return problem


def _villages_and_reporters() -> dict[int, tuple[Grid, User]]:
    """Each county's first village that has a supervisor, and that supervisor."""
    rows = db.session.execute(
        sa.select(Grid.id, Grid.path, Membership.user_id)
        .join(Membership, Membership.grid_id == Grid.id)
        .where(Grid.level == 4, Grid.kind != GridKind.KEY, Membership.role == Role.SUPERVISOR)
        .order_by(Grid.path, Membership.id)
    ).all()
    first: dict[int, tuple[int, int]] = {}
    for village_id, path, user_id in rows:
        first.setdefault(int(path.strip("/").split("/")[1]), (village_id, user_id))
    return {
        county_id: (db.session.get(Grid, village_id), db.session.get(User, user_id))
        for county_id, (village_id, user_id) in first.items()
    }
