"""The demo's air-quality history and the prefecture office's air records (fictional stations,
real city days), so that the air-quality ranking (RULES §6) and the weekly key-area ladder (§7)
show something on first run; called by assess/demo.py.

What is real: the city's daily values of Changji (aqistudy, alerts/replay.py), of two
consecutive real years. The demo's months are shifted onto the real data by whole years, the
same shift for all of them (the latest month written onto the latest year holding it, as the
live replay maps today), so that a month and the same month a year before stand on two
consecutive real years and the improvement rates are the real differences between them. The
data's O3 is read as the daily maximum 8-hour mean, the figure the network publishes for a day
(most likely what it is: SOURCES.md 4b).

What is made up, and the same every time: each station's day is the city's day times the level
of its kind of place and of its device (alerts/replay.py SITE_FACTORS, station_bias, as the
replay reads the station live), a factor per county and month (so counties improve by different
rates and one of them is last), and a little daily noise per station. The values are stored as
the daily values a station sends (period "day"), which the ranking reads where a station's hours
make no valid day: the live replay keeps only the last hours.

The office's records go through its services (assess/air_services.py): a filter fitted at one
micro-station of TAMPERED_COUNTY for a few days of last month (its particle values are low on
those days, until the tampering replaces them by the month's highest), and key-area items of the
last four weeks at three counties with their weekly checks: one still not rectified at its
second check (分管领导公开约谈), one found rectified this week and closed, one rectified at its
first check, one scheduled this week."""

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from alerts.demo import DAILY_FILE, MICRO_PREFIX
from alerts.models import POLLUTANTS, Period, Reading, Station, StationKind
from alerts.replay import INCIDENTS, SITE_FACTORS, DailyCity, load_daily, station_bias
from assess import air, air_services
from assess.air_models import TamperKind
from extensions import db
from grid import demo as grid_demo
from grid.models import Grid, GridKind, User
from grid.queries import grid_by_code
from grid.time import local_day_utc, local_today, utcnow

SEED = 652316
FULL_MONTHS = 13  # last month and the twelve before: last month's ranking has its year before
COUNTY_SPREAD = 0.06  # a county's month reads up to 6 % off its stations' level
NOISE = 0.15  # a station's day against its level, at most (triangular)
DECIMALS = {"CO": 3}  # as the replay rounds: CO in mg/m³ to 0.001, the others to 0.1 µg/m³
SOURCE = "replay"
SQLITE_CACHE_KIB = 128 * 1024  # while the rows go in

TAMPERED_COUNTY = "652323000000"  # 呼图壁县, the assessment demo's weak county too
TAMPERED_DAYS = (10, 14)  # of last month, both included
FILTER_PASSES = {"PM2.5": 0.4, "PM10": 0.45}  # what a filter over the inlet lets through
TAMPERING_REASON = "现场核查发现采样头加装过滤棉，颗粒物数据明显偏低（演示数据）"


@dataclass(frozen=True)
class KeyAreaPlan:
    """A key-area item of the demo: its county, key grid (by name, or None), the week it was
    scheduled in (weeks before this one), and its weekly checks (True: found rectified), one a
    week from the week after it was scheduled; a check in this week is made today."""

    county: str
    key_grid: str | None
    weeks_ago: int
    title: str
    detail: str
    checks: tuple[bool, ...]


KEY_AREAS = (
    KeyAreaPlan(
        "652301000000",  # 昌吉市
        "新区政务中心站重点网格",
        3,
        "建筑工地裸土未苫盖、渣土车未密闭运输",
        "新区政务中心站周边两处在建工地，裸土约 3000 平方米未苫盖（演示数据）",
        (False, False),
    ),
    KeyAreaPlan(
        "652302000000",  # 阜康市
        None,
        2,
        "城郊燃煤小锅炉冒黑烟",
        "城郊结合部洗浴、餐饮燃煤小锅炉 4 台，除尘设施未运行（演示数据）",
        (False, True),
    ),
    KeyAreaPlan(
        "652324000000",  # 玛纳斯县
        None,
        4,
        "农田秸秆露天焚烧",
        "国道沿线农田秸秆焚烧点 2 处（演示数据）",
        (True,),
    ),
    KeyAreaPlan(
        "652301000000",  # 昌吉市
        None,
        0,
        "城区道路积尘、机扫水洗不到位",
        "主干道两侧积尘负荷高，夜间机扫水洗未按计划作业（演示数据）",
        (),
    ),
)
CHECK_NOTES = {False: "复查仍未整改（演示数据）", True: "复查已整改到位（演示数据）"}


# --- the months and the real days they stand on -----------------------------------------------


def history(today: date) -> tuple[list[date], date]:
    """The first days of the months the history covers (FULL_MONTHS that are over and this
    one, oldest first) and its last day (yesterday: today is not over)."""
    months = [today.replace(day=1)]
    for _ in range(FULL_MONTHS):
        months.insert(0, air.previous_month(months[0]))
    return months, today - timedelta(days=1)


def shifted(day: date, years: int) -> date:
    """`day` moved back by whole years; 29 February onto the 28th in a common year."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def year_shift(first: date, last: date, available: Mapping[date, object]) -> int | None:
    """The fewest whole years that put every day from `first` to the end of `last`'s month on
    a real day the data holds (the most recent real data); None when no shift does."""
    end = air.next_month(last.replace(day=1)) - timedelta(days=1)
    days = [first + timedelta(days=n) for n in range((end - first).days + 1)]
    for year in sorted({d.year for d in available}, reverse=True):
        years = end.year - year
        if years >= 0 and all(shifted(d, years) in available for d in days):
            return years
    return None


# --- the stations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoStation:
    id: int
    code: str
    county_id: int
    site: str  # a key of alerts.replay.SITE_FACTORS


def demo_stations() -> list[DemoStation]:
    """The demo's stations that stand in a level-2 grid, in code order, with their kind of place
    read from their names and their county (as the replay reads them, from the grids): the
    control point, the industrial parks, the streets and the places round the national
    stations in the city, and the countryside."""
    level2 = dict(db.session.execute(sa.select(Grid.id, Grid.kind).where(Grid.level == 2)).all())
    rows = db.session.execute(
        sa.select(Station.id, Station.code, Station.name, Station.kind, Grid.path)
        .join(Grid, Grid.id == Station.grid_id)
        .where(
            sa.or_(
                Station.kind == StationKind.NATIONAL,
                Station.code.startswith(MICRO_PREFIX, autoescape=True),
            )
        )
        .order_by(Station.code)
    )
    found = []
    for station_id, code, name, kind, path in rows:
        county = air._county_of_path(path)
        if county is None:
            continue
        if "对照点" in name:
            site = "control"
        elif level2.get(county) == GridKind.PARK:
            site = "park"
        elif kind == StationKind.NATIONAL or "街道" in name or "周边" in name:
            site = "urban"
        else:
            site = "rural"
        found.append(DemoStation(station_id, code, county, site))
    return found


# --- the daily values -------------------------------------------------------------------------


def county_factors(
    rng: random.Random, counties: list[int], months: list[date]
) -> dict[tuple[int, date], float]:
    """Each county's level in each month against its stations' (1 ± COUNTY_SPREAD)."""
    return {
        (county, first): 1 + rng.uniform(-COUNTY_SPREAD, COUNTY_SPREAD)
        for county in sorted(counties)
        for first in months
    }


def city_series(days: list[date], city: Mapping[date, DailyCity], years: int) -> dict[str, list]:
    """Each pollutant's real city value on each of `days` (the real day `years` before)."""
    real = [city[shifted(day, years)].values for day in days]
    return {p: [values[p] for values in real] for p in POLLUTANTS}


def station_values(
    station: DemoStation,
    days: list[date],
    city: Mapping[str, list[float]],
    county: list[float],
    filtered: set[date],
) -> dict[str, list[float]]:
    """A station's daily value of each pollutant on each of `days`: the city's (`city_series`)
    at the station's level, its county's level that day (`county`, one a day) and its own
    noise; on the `filtered` days the particles pass a filter."""
    rng = random.Random(f"{SEED}|{station.code}")  # noqa: S311 - reproducible demo data
    draw = rng.random
    found = {}
    for pollutant in POLLUTANTS:
        level = SITE_FACTORS[station.site][pollutant] * station_bias(station.code, pollutant)
        digits = DECIMALS.get(pollutant, 1)
        values = [
            # The sum of two uniform draws: a triangular noise, at most NOISE off.
            round(city_value * level * county_level * (1 + (draw() + draw() - 1) * NOISE), digits)
            for city_value, county_level in zip(city[pollutant], county, strict=True)
        ]
        passes = FILTER_PASSES.get(pollutant)
        if passes and filtered:
            values = [
                round(v * passes, digits) if day in filtered else v
                for day, v in zip(days, values, strict=True)
            ]
        found[pollutant] = values
    return found


# The rows go straight to the driver: through the ORM or Core's parameter handling a year of
# daily values (about 365,000 rows) took three times as long as the statement itself. On
# PostgreSQL as arrays, as alerts.services.store_batch sends them.
_COLUMNS = "station_id, pollutant, period, measured_at, value, flag, received_at, source"
_INSERT_SQLITE = (
    f"INSERT INTO reading ({_COLUMNS}) VALUES (?, ?, '{Period.DAY}', ?, ?, 'N', ?, '{SOURCE}')"  # noqa: S608 - constants  # nosec B608
)
_INSERT_ARRAYS = sa.text(
    f"""
    INSERT INTO reading ({_COLUMNS})
    SELECT s, p, '{Period.DAY}', m, v, 'N', :received_at, '{SOURCE}'
    FROM unnest(
        CAST(:stations AS integer[]), CAST(:pollutants AS varchar[]),
        CAST(:times AS timestamp[]), CAST(:values AS double precision[])
    ) AS t(s, p, m, v)
    """  # noqa: S608 - constants  # nosec B608
)


def insert_days(rows: list[tuple[int, str, datetime, float]], received_at: datetime) -> None:
    """Daily values (station id, pollutant, the day's start as stored, value) in one statement.
    Not alerts.services.store_batch, which marks the stations heard now (this is history, not
    a station heard) and skips what is stored already: the demo fills an empty database
    (desk/cli.py), where nothing collides, and the check cost a third of the time."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(
            _INSERT_ARRAYS,
            {
                "stations": "{" + ",".join(str(r[0]) for r in rows) + "}",
                "pollutants": "{" + ",".join(f'"{r[1]}"' for r in rows) + "}",
                "times": "{" + ",".join(r[2].isoformat() for r in rows) + "}",
                "values": "{" + ",".join(repr(float(r[3])) for r in rows) + "}",
                "received_at": received_at,
            },
        )
        return
    # SQLite keeps a time as the text its DateTime type writes.
    kind = Reading.__table__.c.measured_at.type.dialect_impl(connection.dialect)
    stored = kind.bind_processor(connection.dialect)
    text = {at: stored(at) for at in {r[2] for r in rows}}
    received = stored(received_at)
    # The time index takes its rows out of order: with SQLite's default page cache (2 MB) it
    # is read back from disk again and again.
    cache = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = {-SQLITE_CACHE_KIB}")
    try:
        connection.exec_driver_sql(
            _INSERT_SQLITE, [(r[0], r[1], text[r[2]], r[3], received) for r in rows]
        )
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(cache)}")


def _tampered(
    stations: list[DemoStation], last_month: date
) -> tuple[DemoStation | None, set[date]]:
    """The micro-station where the demo's filter was fitted (the first of TAMPERED_COUNTY's
    that plays no incident of the replay) and the days of last month it was there."""
    county = grid_by_code(TAMPERED_COUNTY)
    planted = {incident.station_code for incident in INCIDENTS}
    chosen = next(
        (
            s
            for s in stations
            if county is not None
            and s.county_id == county.id
            and s.code.startswith(MICRO_PREFIX)
            and s.code not in planted
        ),
        None,
    )
    first, last = (last_month.replace(day=d) for d in TAMPERED_DAYS)
    return chosen, {first + timedelta(days=n) for n in range((last - first).days + 1)}


# --- loading ----------------------------------------------------------------------------------


def history_rows(
    stations: list[DemoStation],
    days: list[date],
    city: Mapping[str, list[float]],
    factors: Mapping[tuple[int, date], float],
    tampered: DemoStation | None,
    filtered: set[date],
) -> list[tuple[int, str, datetime, float]]:
    """Every station's daily values on `days` as `insert_days` takes them, in the table's key
    order (station, pollutant, time): the fastest to insert."""
    starts = [local_day_utc(day)[0] for day in days]
    levels = {
        county: [factors[(county, day.replace(day=1))] for day in days]
        for county in {s.county_id for s in stations}
    }
    rows = []
    for station in sorted(stations, key=lambda s: s.id):
        mine = filtered if station == tampered else set()
        values = station_values(station, days, city, levels[station.county_id], mine)
        for pollutant in sorted(values):
            series = zip(starts, values[pollutant], strict=True)
            rows.extend((station.id, pollutant, at, value) for at, value in series)
    return rows


def load(office: User | None) -> str:
    """Add the demo's air-quality history, its tampering and its key-area items in the
    current transaction (the caller commits); returns what was made, in a line."""
    today = local_today()
    months, last = history(today)
    data_dir = current_app.config.get("DEMO_DATA_DIR") or grid_demo.default_data_dir()
    city = load_daily(os.path.join(data_dir, DAILY_FILE))
    years = year_shift(months[0], last, city)
    stations = demo_stations()
    if years is None or not stations:
        return "Air quality: no history (no demo stations, or no real days to stand on)."
    rng = random.Random(SEED)  # noqa: S311 - reproducible demo data
    factors = county_factors(rng, sorted({s.county_id for s in stations}), months)
    tampered, filtered = _tampered(stations, months[-2])
    days = [months[0] + timedelta(days=n) for n in range((last - months[0]).days + 1)]
    city_days = city_series(days, city, years)
    rows = history_rows(stations, days, city_days, factors, tampered, filtered)
    insert_days(rows, utcnow())
    note = ""
    if tampered is not None:
        air_services.record_tampering(
            db.session.get(Station, tampered.id),
            min(filtered),
            max(filtered),
            TamperKind.FILTER,
            TAMPERING_REASON,
            by=office,
        )
        note = f", a filter fitted at {tampered.code} ({min(filtered)} to {max(filtered)})"
    items = key_areas(office, rng, today)
    real = shifted(months[0], years)
    return (
        f"Air quality: daily values of {len(stations)} stations, {months[0]:%Y-%m} to "
        f"{last:%Y-%m-%d}, on the real city days from {real:%Y-%m}{note}; "
        f"{items} key-area items."
    )


def key_areas(office: User | None, rng: random.Random, today: date) -> int:
    """The demo's key-area items (KEY_AREAS) and their weekly checks, through the office's
    services; returns how many items were scheduled."""
    monday = air.monday_of(today)
    made = 0
    for plan in KEY_AREAS:
        county = grid_by_code(plan.county)
        if county is None:
            continue
        key_grid = None
        if plan.key_grid:
            key_grid = db.session.scalar(
                sa.select(Grid).where(
                    Grid.kind == GridKind.KEY,
                    Grid.parent_id == county.id,
                    Grid.name == plan.key_grid,
                )
            )
        week = monday - timedelta(weeks=plan.weeks_ago)
        item = air_services.schedule_key_area(
            county, week, plan.title, by=office, detail=plan.detail, key_grid=key_grid
        )
        made += 1
        for n, rectified in enumerate(plan.checks, start=1):
            checked_week = week + timedelta(weeks=n)
            if checked_week > monday:
                break
            # A weekday of a past week (Tuesday to Friday), today in this one.
            day = (
                today
                if checked_week == monday
                else checked_week + timedelta(days=rng.randint(1, 4))
            )
            air_services.record_check(item, day, rectified, by=office, note=CHECK_NOTES[rectified])
    return made
