"""Demo stations and their replayed readings.

What is real: the 4 national stations in Changji (CNEMC list, SOURCES.md 3; their coordinates are
taken as WGS-84, which the source does not state: the other datum, GCJ-02, is at most ~500 m off)
and the city's daily values the replay expands (alerts/replay.py). What is made up: the 150
micro-stations (Changji did install about 160 in 2021, at places not published), placed round the
synthetic township cells, densest in the industrial parks and the streets of 昌吉市, with
fictional MNs, passwords and tokens.
"""

import csv
import os
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from shapely.geometry.base import BaseGeometry

from alerts.models import Period, Station, StationKind, StationStatus
from alerts.replay import POLLUTANTS, Replay, Site, StationProfile, load_daily
from alerts.services import Value, add_station, secret_hash, store
from extensions import db
from grid import demo as grid_demo
from grid import queries as grid_queries
from grid.models import Grid, GridKind
from grid.tiling import random_points_in
from grid.time import local_zone

SEED = 652303
MICRO_PREFIX = "CJ-W"
MICRO_TOTAL = 150
DEMO_STATION = "CJ-W001"
# A fixed token and HJ 212 password for one station, so that a person can try the API by hand:
#   curl -H "Authorization: Bearer demo-station-token-CJ-W001" -H "Content-Type: application/json"
#        -d '{"readings": [...]}' http://127.0.0.1:5000/api/v1/readings
DEMO_STATION_TOKEN = "demo-station-token-CJ-W001"  # noqa: S105 - printed for the demo
DEMO_STATION_PASSWORD = "123456"  # noqa: S105 - HJ 212's factory default, printed for the demo
LENIENT = ("CJ-W021", "CJ-W077")  # accept byte-swapped CRCs and over-long segments
STATIONS_FILE = "aq_stations_cnemc_changji_area.csv"
DAILY_FILE = "aq_daily_cities_aqistudy_2013-12_to_2017-01.csv"
BACKFILL = timedelta(hours=2)
_EPOCH = datetime(2000, 1, 1)

# Stations per place. Parks first, so that their codes (CJ-W001...) stay put.
PARK_STATIONS = {  # park name (grid/demo.py PARKS) -> (short name, stations, spread in metres)
    "昌吉高新技术产业开发区": ("昌吉高新区", 12, 1500),
    "准东经济技术开发区": ("准东开发区", 16, 6000),
    "昌吉国家农业科技园区": ("昌吉农业园区", 4, 1500),
}
KEY_STATIONS = 2  # round each national station, in its key grid
CHANGJI = "652301000000"
CHANGJI_STREET_STATIONS = 4
STREET_STATIONS = 2
TOWN_STATIONS = 1


@dataclass
class _Place:
    name: str  # the stations' name stem: 榆树沟镇 -> 榆树沟镇微站01
    region: BaseGeometry
    centre: tuple[float, float] | None
    spread_m: float | None
    count: int


def _mn(n: int) -> str:
    """24 characters: CJW, the prefecture's code, a serial."""
    return f"CJW652300{n:015d}"


def _national_rows(data_dir: str) -> list[dict[str, str]]:
    with open(os.path.join(data_dir, STATIONS_FILE), encoding="utf-8") as fh:
        return [row for row in csv.DictReader(fh) if row["in_changji"] == "yes"]


def _special_unit(grid: Grid) -> bool:
    """NBS codes 4xx/5xx at township level: farms, forests, parks' offices (no residents' seat)."""
    return bool(grid.code) and grid.code[6:9] >= "400"


def _places(data_dir: str) -> list[_Place]:
    """Where the micro-stations go, in code order, with counts adding up to MICRO_TOTAL."""
    level2 = list(db.session.scalars(sa.select(Grid).where(Grid.level == 2).order_by(Grid.id)))
    centres = {spec["name"]: spec["centre"] for spec in grid_demo.PARKS}
    places = []
    parks = {g.name: g for g in level2 if g.kind == GridKind.PARK}
    for name, (short, count, spread) in PARK_STATIONS.items():
        park = parks[name]
        places.append(_Place(short, grid_queries.grid_shape(park), centres[name], spread, count))
    keys = db.session.scalars(
        sa.select(Grid).where(Grid.kind == GridKind.KEY).order_by(Grid.code, Grid.id)
    )
    by_name = {row["station_name"]: row for row in _national_rows(data_dir)}
    for key in keys:
        station = by_name.get(key.name.removesuffix("站重点网格"))
        centre = (float(station["lon"]), float(station["lat"])) if station else None
        stem = key.name.removesuffix("重点网格") + "周边"
        places.append(_Place(stem, grid_queries.grid_shape(key), centre, 800, KEY_STATIONS))
    counties = {g.id: g for g in level2 if g.kind == GridKind.COUNTY}
    towns = [
        t
        for t in db.session.scalars(
            sa.select(Grid)
            .where(Grid.level == 3, Grid.kind == GridKind.TOWNSHIP, Grid.geom.is_not(None))
            .order_by(Grid.code, Grid.id)
        )
        if t.parent_id in counties and not _special_unit(t)
    ]
    rural = []
    for town in towns:
        shape = grid_queries.grid_shape(town)
        seat = shape.representative_point()
        if town.name.endswith("街道"):
            urban_count = (
                CHANGJI_STREET_STATIONS
                if counties[town.parent_id].code == CHANGJI
                else STREET_STATIONS
            )
            places.append(_Place(town.name, shape, (seat.x, seat.y), 1200, urban_count))
        else:
            place = _Place(town.name, shape, (seat.x, seat.y), 3000, TOWN_STATIONS)
            places.append(place)
            rural.append(place)
    missing = MICRO_TOTAL - sum(p.count for p in places)
    if missing < 0 or not rural:
        raise ValueError(f"the micro-station plan does not add up to {MICRO_TOTAL}")
    for i in range(missing):  # the rest to the townships, a second station each, in code order
        rural[i % len(rural)].count += 1
    return places


def _data_dir() -> str:
    return current_app.config.get("DEMO_DATA_DIR") or grid_demo.default_data_dir()


def load(data_dir: str, echo: Callable[[str], None] = print) -> str:
    """Add the national stations and the demo's micro-stations in the current transaction."""
    rng = random.Random(SEED)  # noqa: S311 - reproducible demo data
    national = _national_rows(data_dir)
    for row in national:
        add_station(
            code=row["station_code"],
            name=row["station_name"],
            kind=StationKind.NATIONAL,
            lon=float(row["lon"]),  # taken as WGS-84: the source does not say
            lat=float(row["lat"]),
        )
    n = 0
    for place in _places(data_dir):
        points = random_points_in(place.region, place.count, rng, place.centre, place.spread_m)
        for i, (lon, lat) in enumerate(points, start=1):
            n += 1
            code = f"{MICRO_PREFIX}{n:03d}"
            demo = code == DEMO_STATION
            made = add_station(
                code=code,
                name=f"{place.name}微站{i:02d}",
                kind=StationKind.MICRO,
                lon=round(lon, 6),
                lat=round(lat, 6),
                mn=_mn(n),
                password=DEMO_STATION_PASSWORD if demo else secrets.token_urlsafe(9),
                issue_token=not demo,
                lenient=code in LENIENT,
            )
            if demo:
                made.station.token_hash = secret_hash(DEMO_STATION_TOKEN)
    db.session.flush()
    echo(
        f"stations: {len(national)} national (CNEMC, coordinates taken as WGS-84), {n} fictional "
        f"micro-stations; {DEMO_STATION} MN {_mn(1)}, HJ 212 password {DEMO_STATION_PASSWORD}"
    )
    return (
        f"监测站点：国控 {len(national)} 个，微站 {n} 个（演示数据，宽松协议 {len(LENIENT)} 个）；"
        f"{DEMO_STATION} 的 HTTP 令牌 {DEMO_STATION_TOKEN}"
    )


# --- the replay -----------------------------------------------------------------------------------

_replays: dict[str, Replay] = {}


def _replay_for(data_dir: str) -> Replay:
    key = f"{data_dir}|{current_app.config['TIMEZONE']}"
    if key not in _replays:
        days = load_daily(os.path.join(data_dir, DAILY_FILE))
        _replays[key] = Replay(days, local_zone())
    return _replays[key]


_URBAN_WORDS = ("街道", "社区", "居委会", "居民委员会")


def _profiles(stations: list[Station]) -> dict[int, StationProfile]:
    """Each station's place, read from the grids it stands in: a park, a street, or the
    countryside; the control point (对照点) and the micro-stations round it see clean air."""
    paths = dict(
        db.session.execute(
            sa.select(Grid.id, Grid.path).where(Grid.id.in_({s.grid_id for s in stations}))
        ).all()
    )
    above = {int(i) for path in paths.values() for i in path.strip("/").split("/")}
    grids = {
        row.id: row
        for row in db.session.execute(
            sa.select(Grid.id, Grid.name, Grid.kind).where(Grid.id.in_(above))
        )
    }
    profiles = {}
    for station in stations:
        chain = [grids[int(i)] for i in paths.get(station.grid_id, "").strip("/").split("/") if i]
        site: Site = "rural"
        if "对照点" in station.name:
            site = "control"
        elif any(g.kind == GridKind.PARK for g in chain):
            site = "park"
        elif any(word in g.name for g in chain for word in _URBAN_WORDS):
            site = "urban"
        profiles[station.id] = StationProfile(station.code, site)
    return profiles


def _period_starts(since: datetime, now: datetime, step: timedelta) -> list[datetime]:
    """The starts (naive UTC) of the periods of length `step` that ended in (since, now], on the
    local clock's boundaries (an hour starts at a local :00)."""
    offset = datetime.now(local_zone()).utcoffset() or timedelta(0)
    unit = int(step.total_seconds())
    seconds = int((since + offset - _EPOCH).total_seconds())
    start = _EPOCH + timedelta(seconds=seconds - seconds % unit) - offset
    starts = []
    while start + step <= now:
        if start + step > since:
            starts.append(start)
        start += step
    return starts


def replay(now_utc: datetime, since_utc: datetime | None, start_utc: datetime) -> int:
    """Store the demo stations' readings for the periods that ended in (since, now] (naive UTC;
    no `since`: the last two hours): a minute value of each pollutant at each active
    micro-station, an hourly one at each national station, incidents timed from `start_utc`.
    One insert per station; what is already stored stays. Returns how many rows were stored;
    the caller commits."""
    since = since_utc or now_utc - BACKFILL
    if since >= now_utc:
        return 0
    feed = _replay_for(_data_dir())
    stations = list(
        db.session.scalars(
            sa.select(Station)
            .where(
                Station.status == StationStatus.ACTIVE,
                sa.or_(
                    Station.kind == StationKind.NATIONAL,
                    sa.and_(
                        Station.kind == StationKind.MICRO,
                        Station.code.startswith(MICRO_PREFIX, autoescape=True),
                    ),
                ),
            )
            .order_by(Station.code)
        )
    )
    profiles = _profiles(stations)
    minutes = _period_starts(since, now_utc, timedelta(minutes=1))
    hours = _period_starts(since, now_utc, timedelta(hours=1))
    stored = 0
    for station in stations:
        profile = profiles[station.id]
        values: list[Value] = []
        if station.kind == StationKind.NATIONAL:
            period, step = Period.HOUR, timedelta(hours=1)
            for hour in hours:
                reading = feed.hour(profile, hour)
                values.extend(Value(p, period, hour, reading[p]) for p in POLLUTANTS)
        else:
            period, step = Period.MINUTE, timedelta(minutes=1)
            for minute in minutes:
                sent = feed.minute(profile, minute, start_utc)
                if sent is not None:
                    values.extend(Value(p, period, minute, sent[p]) for p in POLLUTANTS)
        if not values:
            continue
        before = station.last_reading_at
        stored += store(station, values, "replay", now_utc).stored
        # As a device sending live would have been heard: at the end of its last period (so a
        # station that fell silent in the backfill looks silent at once).
        heard = values[-1].measured_at + step
        station.last_reading_at = max(heard, before) if before else heard
    return stored


def has_stations() -> bool:
    """Whether any station is registered (the demo's or real ones)."""
    return db.session.scalar(sa.select(Station.id).limit(1)) is not None
