"""The Changji demo: real divisions and county boundaries, synthetic small grids, fictional people.

What is real: names and codes of the prefecture, counties, townships and villages (NBS 2023 via
china-division), county boundaries (Amap 2020, GCJ-02, converted to WGS-84), the national air
stations. What is made up, and flagged so: township, village and park polygons (Voronoi tiling
clipped to the real county), the 准东 park node (NBS has no code for it), every person and phone
number. Units of the Production and Construction Corps (names starting 兵团) are left out: the
prefecture does not administer them.
"""

import csv
import os
import random
from collections.abc import Callable
from datetime import date, timedelta

import shapely
import sqlalchemy as sa
from flask import current_app
from shapely.geometry import Point
from shapely.ops import unary_union
from werkzeug.security import generate_password_hash

from extensions import db
from grid import queries, services
from grid.geo import gcj02_to_wgs84
from grid.imports import parse_boundaries, parse_divisions
from grid.models import (
    GeomSource,
    Grid,
    GridKind,
    Membership,
    Role,
    User,
    membership_cover,
)
from grid.tiling import ellipse, random_points_in, voronoi_cells
from grid.time import utcnow

DEMO_PASSWORD = "demo1234"  # noqa: S105 - printed for the demo accounts, not a secret
SKIP_PREFIX = "兵团"
SEED = 652300

# County seats (DataV "center", GCJ-02, converted on use): streets cluster around them.
SEATS_GCJ02 = {
    "652301000000": (87.304112, 44.013183),
    "652302000000": (87.98384, 44.152153),
    "652323000000": (86.888613, 44.189342),
    "652324000000": (86.217687, 44.305625),
    "652325000000": (89.591437, 44.021996),
    "652327000000": (89.181288, 43.997162),
    "652328000000": (90.282833, 43.832442),
}

# The three parks (三园区). Their extents are not public: synthetic discs carved out of the host
# counties, centred on their known locations (approximate, WGS-84), radius in metres.
PARKS = [
    {
        "name": "准东经济技术开发区",
        "centre": (88.95, 44.72),
        "radius": 45000,
        "hosts": ("652327000000", "652325000000", "652302000000"),
        "townships": ("652327106000", "652302003000"),
    },  # 五彩湾镇, 准东街道
    {
        "name": "昌吉高新技术产业开发区",
        "centre": (87.34, 44.06),
        "radius": 4000,
        "hosts": ("652301000000",),
        "townships": ("652301402000",),
    },
    {
        "name": "昌吉国家农业科技园区",
        "centre": (87.22, 44.12),
        "radius": 5000,
        "hosts": ("652301000000",),
        "townships": ("652301400000",),
    },
]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红文辉海燕鹏飞晓东雪梅春林玲婷斌"
    "宇浩凯健俊帆欣怡佳琪涵萱轩瑞博昊然梓晨嘉鑫"
)
MINORITY_GIVEN = (
    "买买提",
    "艾力",
    "努尔兰",
    "古丽",
    "热依拉",
    "阿依古丽",
    "帕提曼",
    "吐尔逊",
    "叶尔兰",
    "哈里木拉提",
    "别克",
    "加娜尔",
    "阿不都",
    "迪丽拜尔",
    "库尔班",
    "塔依尔",
)


def default_data_dir() -> str:
    return os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "changji"
    )


class _People:
    """Fictional people, created in bulk with one shared password hash (a demo only)."""

    def __init__(self, start: date):
        self.rng = random.Random(SEED)  # noqa: S311 - reproducible demo data
        self.start = start
        self.password_hash = generate_password_hash(DEMO_PASSWORD)
        self.users: list[dict] = []
        self.posts: list[dict] = []
        self.covers: list[tuple[int, int]] = []  # (post index, grid id)
        self.next_id = 1
        self.named: dict[str, int] = {}

    def name(self) -> str:
        if self.rng.random() < 0.08:
            return f"{self.rng.choice(MINORITY_GIVEN)}·{self.rng.choice(MINORITY_GIVEN)}"
        given = self.rng.choice(GIVEN) + (self.rng.choice(GIVEN) if self.rng.random() < 0.7 else "")
        return self.rng.choice(SURNAMES) + given

    def person(self, username: str | None = None) -> int:
        uid = self.next_id
        self.next_id += 1
        self.users.append(
            {
                "id": uid,
                "username": username or f"u{uid:06d}",
                "name": self.name(),
                # 100... is no mobile prefix and 0994-0... no subscriber number: both fictional.
                "mobile": f"100{uid:08d}",
                "office_phone": f"0994-0{uid:06d}",
                "password_hash": self.password_hash,
                "active": True,
                "session_epoch": 0,
                "locale": None,
                "created_at": utcnow(),
            }
        )
        return uid

    def post(
        self,
        uid: int,
        grid_id: int,
        role: str,
        title: str | None = None,
        full_time: bool | None = None,
        covers: tuple[int, ...] = (),
        started: date | None = None,
        ended: date | None = None,
    ) -> None:
        self.posts.append(
            {
                "user_id": uid,
                "grid_id": grid_id,
                "role": role,
                "title": title,
                "full_time": full_time if role == Role.SUPERVISOR else None,
                "started_on": started or self.start,
                "ended_on": ended,
                "created_at": utcnow(),
                "ended_at": utcnow() if ended else None,
            }
        )
        self.covers.extend((len(self.posts) - 1, g) for g in covers)

    def flush(self) -> None:
        db.session.execute(sa.insert(User), self.users)
        ids = []
        for chunk in range(0, len(self.posts), 500):
            rows = self.posts[chunk : chunk + 500]
            result = db.session.execute(sa.insert(Membership).returning(Membership.id), rows)
            ids.extend(result.scalars().all())
        if self.covers:
            db.session.execute(
                membership_cover.insert(),
                [{"membership_id": ids[i], "grid_id": g} for i, g in self.covers],
            )
        if db.engine.dialect.name == "postgresql":
            db.session.execute(
                sa.text(
                    "SELECT setval(pg_get_serial_sequence('user_account', 'id'), "
                    "(SELECT max(id) FROM user_account))"
                )
            )


def load(data_dir: str, start: date, echo: Callable[[str], None] = print) -> str:
    """Build the whole demo in the current transaction; the caller commits."""
    rng = random.Random(SEED)  # noqa: S311 - reproducible demo data
    with open(os.path.join(data_dir, "admin_divisions_changji.csv"), encoding="utf-8") as fh:
        rows, skipped = parse_divisions(fh.read(), {}, [SKIP_PREFIX])
    services.import_divisions(rows, skipped=len(skipped))
    echo(f"divisions: {len(rows)} imported, {len(skipped)} 兵团 units left out")
    with open(
        os.path.join(data_dir, "boundary_counties_amap2020_gcj02.geojson"), encoding="utf-8"
    ) as fh:
        features = parse_boundaries(fh.read(), "gcj02")
    services.import_boundaries(
        features,
        2,
        GeomSource.IMPORTED,
        note="Amap 2020 via GaryBikini/ChinaAdminDivisonSHP (MIT), GCJ-02",
    )
    echo(f"county boundaries: {len(features)} converted from GCJ-02")

    root = queries.root_grid()
    grids = {g.code: g for g in db.session.scalars(sa.select(Grid).where(Grid.code.is_not(None)))}
    counties = [g for g in grids.values() if g.level == 2]
    shapes = {c.code: queries.grid_shape(c) for c in counties}
    parks = _carve_parks(root, grids, shapes)
    level2 = [(c, shapes[c.code]) for c in counties] + parks
    for county, region in level2:
        if county.kind == GridKind.COUNTY:
            services.set_geometry(
                county,
                region,
                GeomSource.IMPORTED,
                county.geom_note + ("; parks carved out" if county.code in _park_hosts() else ""),
            )
    services.set_geometry(
        root,
        unary_union([r for _c, r in level2]),
        GeomSource.IMPORTED,
        "union of the level-2 grids",
    )
    _tile(level2, rng)
    echo("synthetic township and village polygons: tiled")
    keys = _key_grids(data_dir, root)
    echo(f"key grids: {len(keys)} around national stations")
    summary = _staff(root, start)
    _channels(root)
    db.session.flush()
    return summary


def _channels(root) -> None:
    """Local complaint channels besides 12369: the real 12345 hotline, fictional county lines."""
    services.add_channel(root, "12345政务服务便民热线", "12345")
    for county in db.session.scalars(sa.select(Grid).where(Grid.level == 2).order_by(Grid.id)):
        services.add_channel(
            county, f"{county.name}大气办举报电话", f"0994-0{county.id:06d}(演示号码)"
        )


def _park_hosts() -> set[str]:
    return {h for p in PARKS for h in p["hosts"]}


def _carve_parks(root, grids, shapes):
    parks = []
    taken = []
    for spec in PARKS:
        hosts = unary_union([shapes[h] for h in spec["hosts"]])
        area = ellipse(*spec["centre"], spec["radius"]).intersection(hosts)
        for other in taken:
            area = area.difference(other)
        taken.append(area)
        for h in spec["hosts"]:
            shapes[h] = shapes[h].difference(area)
        park = services.add_grid(
            spec["name"],
            GridKind.PARK,
            root,
            geom=area,
            source=GeomSource.SYNTHETIC,
            note="synthetic: the park's extent is not public",
        )
        for code in spec["townships"]:
            services.move_grid(grids[code], park)
        parks.append((park, area))
    return parks


def _is_street(name: str) -> bool:
    return (
        name.endswith("街道") or name.endswith("社区") or "居委会" in name or "居民委员会" in name
    )


def _tile(level2, rng: random.Random) -> None:
    """Voronoi cells for townships within each level-2 grid, then villages within each township."""
    for county, region in level2:
        towns = queries.children(county, include_key=False)
        seat = SEATS_GCJ02.get(county.code or "")
        seat = gcj02_to_wgs84(*seat) if seat else None
        streets = [t for t in towns if _is_street(t.name)]
        others = [t for t in towns if not _is_street(t.name)]
        if streets and seat and shapely.contains_xy(region, *seat):
            ordered = streets + others
            seeds = random_points_in(
                region, len(streets), rng, centre=seat, spread_m=2500
            ) + random_points_in(region, len(others), rng)
        else:
            ordered = towns
            seeds = random_points_in(region, len(towns), rng)
        for town, cell in zip(ordered, voronoi_cells(region, seeds), strict=True):
            services.set_geometry(
                town, cell, GeomSource.SYNTHETIC, "synthetic: Voronoi cell in the county"
            )
            villages = queries.children(town, include_key=False)
            if not villages:
                continue
            urban = _is_street(town.name)
            centre = seeds[ordered.index(town)] if urban else None
            vseeds = random_points_in(
                cell, len(villages), rng, centre=centre, spread_m=1200 if urban else None
            )
            for village, vcell in zip(villages, voronoi_cells(cell, vseeds), strict=True):
                services.set_geometry(
                    village, vcell, GeomSource.SYNTHETIC, "synthetic: Voronoi cell in the township"
                )


def _key_grids(data_dir: str, root) -> list[Grid]:
    """A key grid (重点网格) around each national station in the prefecture (RULES §1)."""
    radius = float(current_app.config["KEY_GRID_RADIUS_M"])
    made = []
    with open(os.path.join(data_dir, "aq_stations_cnemc_changji_area.csv"), encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["in_changji"] != "yes":
                continue
            lon, lat = float(row["lon"]), float(row["lat"])
            county = queries.locate(lon, lat, 2)
            if county is None:
                continue
            disc = ellipse(lon, lat, radius).intersection(queries.grid_shape(county))
            made.append(
                services.add_grid(
                    f"{row['station_name']}站重点网格",
                    GridKind.KEY,
                    county,
                    geom=disc,
                    source=GeomSource.SYNTHETIC,
                    note=f"{radius:.0f} m around national station {row['station_code']} "
                    "(station datum not stated by the source)",
                )
            )
    return made


# Deliberate shortfalls, so the staffing warnings show (by position: deterministic).
SHORT_VILLAGE_SUPERVISORS = 9  # every n-th township: its 2nd village has 2 supervisors
NO_FULL_TIME = 13  # every n-th township: its 3rd village has no full-time supervisor
SHORT_TOWNSHIP = 16  # every n-th township has 2 full-time supervisors only
UNCOVERED = 19  # every n-th township leaves its last village without a sub-grid head


def _staff(root, start: date) -> str:
    people = _People(start)
    all_grids = db.session.scalars(sa.select(Grid).order_by(Grid.path)).all()
    kids: dict[int, list[Grid]] = {}
    for g in all_grids:
        if g.parent_id is not None and g.kind != GridKind.KEY:
            kids.setdefault(g.parent_id, []).append(g)
    for children in kids.values():
        children.sort(key=lambda g: (g.code or "", g.id))

    p = people
    head = p.person("zhouzhang")
    p.post(head, root.id, Role.HEAD, "州生态环境保护委员会主任")
    p.post(p.person("admin"), root.id, Role.ADMIN, "系统管理员")
    p.post(p.person("zhou"), root.id, Role.OFFICE, "州大气办")
    p.post(p.person(), root.id, Role.OFFICE, "州大气办")

    town_index = 0
    level2 = [g for g in all_grids if g.level == 2]
    for county in level2:
        is_park = county.kind == GridKind.PARK
        login = {"652301000000": "changji"}.get(county.code or "")
        heads = [p.person(), p.person()]
        p.post(heads[0], county.id, Role.HEAD, "党工委书记" if is_park else "县(市)委书记")
        p.post(heads[1], county.id, Role.HEAD, "管委会主任" if is_park else "县(市)长")
        p.post(p.person(login), county.id, Role.OFFICE, "大气办")
        p.post(p.person(), county.id, Role.ADMIN, "系统管理员")
        towns = kids.get(county.id, [])
        # Sub-grid heads cover 2 townships each; in 奇台县 the first covers 3 (a notice).
        first = 3 if county.code == "652325000000" else 2
        bounds = [0, first, *range(first + 2, len(towns) + 2, 2)]
        for lo, hi in zip(bounds, bounds[1:], strict=False):
            if towns[lo:hi]:
                p.post(
                    p.person(),
                    county.id,
                    Role.SUBHEAD,
                    "副县级领导",
                    covers=tuple(t.id for t in towns[lo:hi]),
                )
        for key in (g for g in all_grids if g.parent_id == county.id and g.kind == GridKind.KEY):
            for h in heads:  # key grids are led by the county's heads in person (RULES §1)
                p.post(h, key.id, Role.HEAD, "重点网格网格长")
        for town in towns:
            town_index += 1
            _staff_township(p, town, kids.get(town.id, []), town_index)
    # An officer of a county department (昌吉市): no grid post; rectifications are assigned to
    # him (交办) and he reports them done. Last, so that the others' names and ids stay put.
    p.person("zhifa")
    p.flush()
    return (
        f"Demo loaded: {len(all_grids)} grids, {len(p.users)} fictional people, "
        f"{len(p.posts)} posts. Every demo account's password is {DEMO_PASSWORD}."
    )


def _staff_township(p: _People, town: Grid, villages: list[Grid], n: int) -> None:
    street = _is_street(town.name)
    login = "sangong" if town.code == "652301101000" else None
    p.post(p.person(login), town.id, Role.HEAD, "党工委书记" if street else "党委书记")
    p.post(p.person(), town.id, Role.HEAD, "街道办主任" if street else "乡(镇)长")
    covered = villages[:-1] if n % UNCOVERED == 0 and len(villages) > 1 else villages
    for i in range(0, len(covered), 5):
        p.post(
            p.person(),
            town.id,
            Role.SUBHEAD,
            "副科级领导",
            covers=tuple(v.id for v in covered[i : i + 5]),
        )
    full = 2 if n % SHORT_TOWNSHIP == 0 else 3
    for _ in range(full):
        p.post(p.person(), town.id, Role.SUPERVISOR, "乡镇网格监督员", full_time=True)
    p.post(p.person(), town.id, Role.SUPERVISOR, "乡镇网格监督员", full_time=False)
    for j, village in enumerate(villages, start=1):
        vlogin = "cun" if town.code == "652301101000" and j == 1 else None
        community = _is_street(village.name) or street
        p.post(p.person(), village.id, Role.HEAD, "社区党支部书记" if community else "村党支部书记")
        p.post(p.person(), village.id, Role.HEAD, "社区居委会主任" if community else "村委会主任")
        count = 2 if (n % SHORT_VILLAGE_SUPERVISORS == 0 and j == 2) else 3
        no_full = n % NO_FULL_TIME == 0 and j == 3
        for k in range(count):
            uid = p.person(vlogin if k == 0 else None)
            full_time = k == 0 and not no_full
            if k == 1 and j == 1 and n % 4 == 0:
                # A post handed over: the earlier holder's record stays (动态管理).
                before = p.person()
                handover = p.start + timedelta(days=120)
                p.post(
                    before,
                    village.id,
                    Role.SUPERVISOR,
                    "村网格监督员",
                    full_time=False,
                    ended=handover - timedelta(days=1),
                )
                p.post(
                    uid,
                    village.id,
                    Role.SUPERVISOR,
                    "村网格监督员",
                    full_time=False,
                    started=handover,
                )
                continue
            p.post(uid, village.id, Role.SUPERVISOR, "村网格监督员", full_time=full_time)


def demo_logins() -> list[tuple[str, str]]:
    """The accounts `make run` prints, with what each shows."""
    return [
        ("admin", "州系统管理员 prefecture administrator"),
        ("zhou", "州大气办 prefecture air office"),
        ("changji", "昌吉市大气办 Changji city grid office"),
        ("sangong", "三工镇网格长 township grid head (三工镇)"),
        ("cun", "村网格监督员 village supervisor (三工镇)"),
        ("zhifa", "昌吉市生态环境执法大队 department officer (rectifications assigned to him)"),
    ]


def point_in(grid: Grid) -> tuple[float, float]:
    """A point well inside a grid (for tests and the browser demo)."""
    geom = queries.grid_shape(grid)
    pt = geom.representative_point() if geom is not None else Point(0, 0)
    return pt.x, pt.y
