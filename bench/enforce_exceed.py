"""The daily exceedance computation (enforce/exceed/services.py `compute_day`) over 500
enterprises' minute data: on top of the demo, 500 monitoring points (one a demo source, reused
when there are fewer sources) with SO2 and NOx limits, and a whole local day of CN 2051 minute
values of both (1,440 a pollutant: 1.44 million rows) written in bulk (COPY on PostgreSQL, one
executemany on SQLite), a few plants over the limit in the morning and some calibration minutes.
The computation runs several times, each rolled back, so each does the same work; the median is
reported. The database averages the hours: one grouped query gives a row per point, pollutant,
hour and flag (count and sum of the values), so the minute values are never read into Python.
PostGIS when GRIDPATROL_TEST_POSTGRES is set, else SpatiaLite. Part of bench/enforce.py."""

import io
import random
import time
from datetime import date, timedelta

import sqlalchemy as sa

from bench.common import Context, fmt_int, median, table
from enforce.exceed import rules, services
from enforce.exceed.models import MonitoringPoint
from extensions import db
from grid.forms import unit_of_work
from grid.time import local_zone
from sources.models import Source

SEED = 13_500
POINTS = 500
CODES = {"a21026": 100.0, "a21002": 200.0}  # SO2, NOx limits (mg/m³)
DAY = date(2020, 6, 1)  # before any demo data
RUNS = 3
OVER_SHARE = 0.1  # plants over the SO2 limit from 08:00 to 11:00
CALIBRATION_SHARE = 0.05  # plants calibrating 20 minutes an hour from 14:00 to 16:00


def section(ctx: Context) -> str:
    url = ctx.postgis_url or ctx.sqlite_url
    backend = "PostGIS" if ctx.postgis_url else "SpatiaLite"
    app = ctx.app(url)
    with app.app_context():
        points = _points()
        written, write_s = _values(points)
        runs = []
        found = None
        for _ in range(RUNS):
            started = time.perf_counter()
            found = services.compute_day(DAY)
            runs.append(time.perf_counter() - started)
            db.session.rollback()
        with unit_of_work():  # out of the way of the other benchmarks (draws count points)
            db.session.execute(
                sa.update(MonitoringPoint)
                .where(MonitoringPoint.id.in_(points))
                .values(active=False)
            )
    assert found is not None
    rows = [
        ["monitoring points", fmt_int(len(points))],
        ["minute values of the day (2 pollutants)", fmt_int(written)],
        ["bulk write of the values", f"{write_s:.1f} s"],
        ["exceedances / hours of invalid data found", f"{found.valid} / {found.invalid}"],
        [f"daily computation, median of {RUNS}", f"{median(runs):.2f} s"],
        ["runs", ", ".join(f"{r:.2f} s" for r in runs)],
    ]
    return (
        f"### The daily exceedance computation over {POINTS} enterprises' minute data "
        f"(`bench/enforce_exceed.py`, {backend})\n\n"
        + table(["what", "value"], rows)
        + "\n\nEach run has the database count and sum the day's minute values per point, "
        "pollutant, hour and flag (one grouped query), averages the hours from them (45 valid "
        "minutes needed), compares them with the limits in force and writes the exceedances; it "
        "is rolled back, so every run does the same work (the first of a day on the database)."
    )


def _points() -> list[int]:
    """POINTS active points with both limits, on demo sources."""
    sources = db.session.scalars(sa.select(Source).order_by(Source.id).limit(POINTS)).all()
    made = []
    with unit_of_work():
        for number in range(POINTS):
            source = sources[number % len(sources)]
            point = services.add_point(
                source, f"基准排放口{number}", f"BENCH{number:05d}{SEED}", "bench-pw-1", "31"
            )
            for code, limit in CODES.items():
                services.set_limit(point, code, limit, "GB 13223-2011", DAY, None)
            made.append(point.id)
    return made


def _rows(points: list[int]):
    rng = random.Random(SEED)  # noqa: S311 - reproducible data
    start = rules.day_bounds(DAY, local_zone())[0]
    zone_hours = timedelta(hours=8)  # local hour = UTC + 8 (China Standard Time)
    for point_id in points:
        over = rng.random() < OVER_SHARE
        calibrating = rng.random() < CALIBRATION_SHARE
        for minute in range(1440):
            at = start + timedelta(minutes=minute)
            local_hour = (at + zone_hours).hour
            for code, limit in CODES.items():
                value = rng.gauss(limit * 0.5, limit * 0.1)
                flag = "N"
                if over and code == "a21026" and 8 <= local_hour < 11:
                    value = limit * 1.3
                if calibrating and 14 <= local_hour < 16 and at.minute < 20:
                    flag, value = "C", limit * 3.0
                yield point_id, code, at, round(value, 2), flag


def _values(points: list[int]) -> tuple[int, float]:
    """The day's minute values, in bulk and one transaction: (rows, seconds)."""
    started = time.perf_counter()
    count = 0
    connection = db.session.connection()
    raw = connection.connection.dbapi_connection
    if db.engine.dialect.name == "postgresql":
        with raw.cursor() as cursor:
            buffer = io.StringIO()
            for point_id, code, at, value, flag in _rows(points):
                buffer.write(f"{point_id}\t{code}\tminute\t{at.isoformat()}\t{value}\t{flag}\n")
                count += 1
            with cursor.copy(
                "COPY enforce_value (point_id, code, period, at, value, flag) FROM STDIN"
            ) as copy:
                copy.write(buffer.getvalue())
    else:
        rows = [
            (point_id, code, "minute", at.strftime("%Y-%m-%d %H:%M:%S.000000"), value, flag)
            for point_id, code, at, value, flag in _rows(points)
        ]
        count = len(rows)
        cursor = raw.cursor()
        cursor.executemany(
            "INSERT INTO enforce_value (point_id, code, period, at, value, flag) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        cursor.close()
    db.session.commit()
    return count, time.perf_counter() - started
