"""The Changji demo's exceedances (called by desk/cli.py's load_demo): up to a dozen monitoring
points on the plants of the county with the most industrial plants (key polluters first), each
with SO2, NOx and particle limits of GB 13223-2011 (coal-fired boilers); four days of hourly
CEMS values before today with a few hours over the limit and a few flagged hours (maintenance,
calibration, fault), each day computed; the oldest day's report issued to the county, and one
of its exceedances answered by a filed case. Fictional, the same every time (a fixed seed)."""

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from enforce.exceed import services
from enforce.exceed.ingest import insert_values
from enforce.exceed.models import DailyReport, Exceedance, ExceedanceStatus
from extensions import db
from grid.models import Grid, Membership, Role, User
from grid.time import local_today, local_zone
from sources.models import Source

SEED = 13_000
POINTS = 12
DAYS = 4
PASSWORD = "cems-demo-1"  # noqa: S105 - every demo point's HJ 212 PW (the demo's devices are made up)
# code: (limit mg/m³, usual level, spread)  -- GB 13223-2011 表1, existing coal-fired boilers
LIMITS = {
    "a21026": (200.0, 80.0, 25.0),
    "a21002": (200.0, 110.0, 30.0),
    "a34013": (30.0, 12.0, 4.0),
}
STANDARD = "GB 13223-2011 表1"


def load(start: date, echo: Callable[[str], None]) -> str:
    """Points, limits, values, exceedances, a report and a case, in the current transaction."""
    rng = random.Random(SEED)  # noqa: S311 - reproducible demo data
    sources = _sources()
    if not sources:
        return "Exceedances: no key polluter in the ledger, nothing added."
    today = local_today()
    points = []
    for number, source in enumerate(sources, 1):
        point = services.add_point(
            source, "1号锅炉排放口", f"CJ{number:04d}CEMS0001", PASSWORD, "31"
        )
        for code, (limit, _level, _spread) in LIMITS.items():
            services.set_limit(point, code, limit, STANDARD, start - timedelta(days=365), None)
        points.append(point)
    days = [today - timedelta(days=back) for back in range(DAYS, 0, -1)]
    zone = local_zone()
    rows = []
    for point in points:
        polluter = rng.random() < 0.4  # some plants go over now and then
        for day in days:
            for hour in range(24):
                at = datetime.combine(day, time(hour), zone).astimezone(UTC)
                at = at.replace(tzinfo=None)
                flag = "N"
                if rng.random() < 0.03:
                    flag = rng.choice("MCD")
                for code, (limit, level, spread) in LIMITS.items():
                    value = max(0.0, rng.gauss(level, spread))
                    if polluter and code == "a21026" and 9 <= hour <= 11 and rng.random() < 0.5:
                        value = limit * rng.uniform(1.1, 1.6)  # a morning over the limit
                    if flag != "N" and rng.random() < 0.5:
                        value = limit * rng.uniform(1.05, 2.0)  # a flagged hour reads high
                    rows.append(
                        {
                            "point_id": point.id,
                            "code": code,
                            "period": "hour",
                            "at": at,
                            "value": round(value, 1),
                            "flag": flag,
                        }
                    )
    insert_values(rows)
    found = [services.compute_day(day) for day in days]
    report, case = _report_and_case(days[0])
    return (
        f"Exceedances: {len(points)} monitoring points (HJ 212 PW {PASSWORD}), "
        f"{len(rows)} hourly values over {DAYS} days, "
        f"{sum(f.valid for f in found)} exceedances and {sum(f.invalid for f in found)} hours "
        f"of invalid data; {report}, {case}."
    )


def _sources() -> list[Source]:
    """A dozen plants of the county with the most industrial units, key polluters first (CEMS
    are required of them), then others whose permits ask for one: the double-random draws
    count monitored sources as a category of their own (seed 002), from what the other
    categories leave, so they are kept together where there are many."""
    active = sa.and_(Source.status == "active", Source.kind == "industrial")
    county_id = db.session.scalar(
        sa.select(Source.county_id)
        .where(active)
        .group_by(Source.county_id)
        .order_by(sa.func.count().desc(), Source.county_id)
        .limit(1)
    )
    return list(
        db.session.scalars(
            sa.select(Source)
            .where(active, Source.county_id == county_id)
            .order_by(Source.key_polluter.desc(), Source.id)
            .limit(POINTS)
        )
    )


def _report_and_case(day: date) -> tuple[str, str]:
    """The oldest day's report issued to the county with the most exceedances that day, and
    one of them answered with a filed case by the county's office."""
    busiest = db.session.execute(
        sa.select(Exceedance.county_id, sa.func.count())
        .where(Exceedance.day == day, Exceedance.status == ExceedanceStatus.VALID)
        .group_by(Exceedance.county_id)
        .order_by(sa.func.count().desc(), Exceedance.county_id)
        .limit(1)
    ).first()
    if busiest is None:
        return "no report issued", "no case"
    county_id = busiest[0]
    report: DailyReport = services.issue_report(county_id, day, None)
    first = db.session.scalar(
        sa.select(Exceedance)
        .where(Exceedance.report_id == report.id, Exceedance.status == ExceedanceStatus.VALID)
        .order_by(Exceedance.hour)
        .limit(1)
    )
    office = db.session.scalar(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.grid_id == county_id, Membership.role.in_((Role.OFFICE, Role.HEAD)))
        .order_by(Membership.id)
        .limit(1)
    )
    county = db.session.get(Grid, county_id)
    if first is None or office is None:
        return f"the report of {day} issued to {county.name}", "no case"
    number = f"昌环罚〔{day.year}〕{day.month:02d}{day.day:02d}号"
    services.record_disposal(
        report, services.DisposalForm([first.id], "case", case_number=number), office, None
    )
    return f"the report of {day} issued to {county.name}", f"case {number} filed"
