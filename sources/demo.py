"""Demo pollution sources: fictional, a few hundred, spread over the demo's synthetic villages.

Every source is made up: its name is the village's name and a kind of business (长丰村汽修店),
its point a random one inside the village's synthetic polygon, its contact a fictional person
with a number that is no mobile number. The real companies of the special-supervision list
(004 annex 2) do not appear; only the list's reasons for inclusion are used.
"""

import random
import re
from collections.abc import Callable
from datetime import date, timedelta

import sqlalchemy as sa
from geoalchemy2.shape import to_shape

from extensions import db
from grid.demo import GIVEN, SURNAMES
from grid.models import Grid, GridKind, Membership, Role, point
from grid.queries import grid_by_code
from grid.tiling import random_points_in
from grid.time import local_today
from sources import catalog
from sources.models import Source, SourceChange, SourceSurvey

SEED = 652302
DEMO_TOWN = "652301101000"  # 三工镇: its first village is the demo supervisor `cun`'s
DEMO_VILLAGE_SOURCES = 5

# How many sources a village gets (0-2; about 1.1 on average).
PER_VILLAGE = ((0, 0.2), (1, 0.5), (2, 0.3))
# Kinds by weight, in town (streets, communities) and in the country.
URBAN = {
    "restaurant": 34,
    "car_repair": 22,
    "construction": 15,
    "small_workshop": 10,
    "coal_boiler": 8,
    "material_yard": 5,
    "industrial": 3,
    "livestock": 3,
}
RURAL = {
    "livestock": 26,
    "small_workshop": 15,
    "restaurant": 13,
    "material_yard": 12,
    "car_repair": 11,
    "coal_boiler": 10,
    "construction": 7,
    "industrial": 6,
}
NOUNS = {
    "restaurant": ("饭馆", "农家乐", "清真餐厅", "烧烤店", "拌面馆"),
    "car_repair": ("汽修店", "汽车修理厂", "汽车美容店"),
    "construction": ("安置房工地", "道路改造工地", "厂房建设工地"),
    "small_workshop": ("木器加工点", "彩钢加工点", "石材加工点", "塑料回收点"),
    "coal_boiler": ("供暖锅炉房", "燃煤锅炉"),
    "material_yard": ("砂石料场", "煤场", "物料堆场"),
    "industrial": ("建材厂", "饲料厂", "农产品加工厂", "免烧砖厂"),
    "livestock": ("养殖场", "养牛场", "养羊场", "养鸡场"),
}
# Key polluters (重点排污单位) are mostly factories and boilers: about 5% overall.
KEY_POLLUTER = {"industrial": 0.55, "coal_boiler": 0.12, "material_yard": 0.04}
KEY_POLLUTER_OTHERS = 0.02
SPECIAL = 0.03  # under special supervision, for one of the list's reasons (004 annex 2)
SPECIAL_REASONS = ("行政处罚金额在20万元及以上", "刑事犯罪", "信访投诉3次及以上")
INACTIVE = 0.03  # relocated, long stopped or bankrupt (RULES §9: out of patrols and draws)
INACTIVE_NOTES = {
    "relocated": "已搬迁(演示数据)",
    "long_stopped": "长期停产(演示数据)",
    "bankrupt": "已破产(演示数据)",
}
SURVEYED = 0.85  # surveyed this quarter (RULES §2: once a quarter)

_VILLAGE = re.compile(r"(村民委员会|村民委员|村民委会|村委会)$")
_COMMUNITY = re.compile(r"(虚拟生活区|社区居民委员会|社区居委会|居民委员会|居委会|委员会|社区)$")


def base_name(village: str) -> str:
    """长丰村委会 -> 长丰村, 宁合社区居民委员会 -> 宁合; other names stay."""
    if _VILLAGE.search(village):
        stem = _VILLAGE.sub("", village)
        return stem if stem.endswith("村") else stem + "村"
    return _COMMUNITY.sub("", village) or village


def _urban(name: str) -> bool:
    return any(word in name for word in ("街道", "社区", "居委会", "居民委员会"))


def _weighted(rng: random.Random, table) -> str:
    items = list(table.items()) if isinstance(table, dict) else list(table)
    return rng.choices([k for k, _w in items], weights=[w for _k, w in items])[0]


def _person(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
    return rng.choice(SURNAMES) + given


def load(start: date, echo: Callable[[str], None] = print) -> str:
    """Add fictional sources to the loaded grid demo, in the current transaction."""
    rng = random.Random(SEED)  # noqa: S311 - reproducible demo data
    today = local_today()
    villages = db.session.execute(
        sa.select(Grid.id, Grid.name, Grid.code, Grid.path, Grid.parent_id, Grid.geom)
        .where(Grid.level == 4, Grid.kind == GridKind.VILLAGE, Grid.geom.is_not(None))
        .order_by(Grid.code, Grid.id)
    ).all()
    towns = dict(db.session.execute(sa.select(Grid.id, Grid.name).where(Grid.level == 3)).all())
    demo_town = grid_by_code(DEMO_TOWN)
    demo_village = next((v.id for v in villages if demo_town and v.parent_id == demo_town.id), None)
    offices = _county_offices()
    used: dict[int, set[str]] = {}
    sources: list[Source] = []
    plans: list[dict] = []
    for village in villages:
        county_id = int(village.path.strip("/").split("/")[1])
        protected = village.id == demo_village
        count = DEMO_VILLAGE_SOURCES if protected else int(_weighted(rng, PER_VILLAGE))
        if count == 0:
            continue
        urban = _urban(village.name) or _urban(towns.get(village.parent_id, ""))
        shape = to_shape(village.geom)
        points = random_points_in(shape, count, rng)
        stem = base_name(village.name)
        taken = used.setdefault(county_id, set())
        for lon, lat in points:
            kind = _weighted(rng, URBAN if urban else RURAL)
            if protected and kind == "construction":
                kind = "restaurant"  # the supervisor's demo sources stay for the whole season
            name = stem + rng.choice(NOUNS[kind])
            n = 1
            while (name if n == 1 else f"{name}{n}") in taken:
                n += 1
            name = name if n == 1 else f"{name}{n}"
            taken.add(name)
            key = rng.random() < KEY_POLLUTER.get(kind, KEY_POLLUTER_OTHERS)
            special = not protected and rng.random() < SPECIAL
            status = catalog.ACTIVE
            if not protected and rng.random() < INACTIVE:
                status = rng.choice(["relocated", "long_stopped", "bankrupt"])
            source = Source(
                name=name,
                kind=kind,
                county_id=county_id,
                grid_id=village.id,
                location=point(lon, lat),
                address=f"{towns.get(village.parent_id, '')}{stem}{rng.randint(1, 199)}号",
                key_polluter=key,
                special_supervision=special,
                special_reason=rng.choice(SPECIAL_REASONS) if special else None,
                status=status,
                contact_name=_person(rng),
                # 100... is no mobile prefix: a fictional number.
                contact_phone=f"1009{len(sources) + 1:07d}",
                notes="演示数据,虚构" if rng.random() < 0.1 else None,
                created_on=start,
            )
            sources.append(source)
            plans.append(
                {
                    "status_days": rng.randint(5, 60),
                    "surveyed": status == catalog.ACTIVE and rng.random() < SURVEYED,
                    "survey_days": rng.randint(0, 89),
                    "office": offices.get(county_id),
                }
            )
    db.session.add_all(sources)
    db.session.flush()
    changes, surveys = [], []
    for source, plan in zip(sources, plans, strict=True):
        if source.status != catalog.ACTIVE:
            on = max(start, today - timedelta(days=plan["status_days"]))
            source.status_since = on
            changes.append(
                {
                    "source_id": source.id,
                    "effective_on": on,
                    "status": source.status,
                    "note": INACTIVE_NOTES[source.status],
                    "by_id": plan["office"],
                }
            )
        if plan["surveyed"] and plan["office"] and start <= today:
            on = max(start, today - timedelta(days=plan["survey_days"]))
            source.last_surveyed_on, source.last_surveyed_by_id = on, plan["office"]
            surveys.append(
                {
                    "source_id": source.id,
                    "surveyed_on": on,
                    "by_id": plan["office"],
                    "note": "季度排查:正常(演示数据)",
                }
            )
    if changes:
        db.session.execute(sa.insert(SourceChange), changes)
    if surveys:
        db.session.execute(sa.insert(SourceSurvey), surveys)
    db.session.flush()
    echo(
        f"sources: {len(sources)} fictional, {len(surveys)} surveyed this quarter, "
        f"{len(changes)} no longer active"
    )
    return f"Sources: {len(sources)} fictional pollution sources in {len(villages)} villages."


def _county_offices() -> dict[int, int]:
    """The first office post holder (大气办) of each level-2 grid: who surveys its sources."""
    rows = db.session.execute(
        sa.select(Membership.grid_id, Membership.user_id)
        .join(Grid, Grid.id == Membership.grid_id)
        .where(Grid.level == 2, Membership.role == Role.OFFICE)
        .order_by(Membership.id)
    ).all()
    offices: dict[int, int] = {}
    for grid_id, user_id in rows:
        offices.setdefault(grid_id, user_id)
    return offices
