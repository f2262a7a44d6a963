"""tests/test_hostile.py's entries for enforce/exceed (merged through tests/hostile_enforce.py).

`records(world)` makes a key polluter of the world's county with a CEMS and an SO2 limit of
100 mg/m³, hours at 150 mg/m³ three days ago (computed, the report issued: "exceed_report")
and two days ago (computed, not reported: "exceed_open", the day "exceed_day")."""

import uuid
from datetime import date, timedelta

import sqlalchemy as sa

from enforce.exceed import rules, services
from enforce.exceed.ingest import insert_values
from enforce.exceed.models import Exceedance
from extensions import db
from grid.time import local_today, local_zone
from tests import factories


def _hours(point, day: date, count: int) -> None:
    start = rules.day_bounds(day, local_zone())[0]
    insert_values(
        [
            {
                "point_id": point.id,
                "code": "a21026",
                "period": "hour",
                "at": start + timedelta(hours=2 + i),
                "value": 150.0,
                "flag": "N",
            }
            for i in range(count)
        ]
    )
    services.compute_day(day)


def records(world) -> dict:
    source = factories.make_source(world, key_polluter=True)
    point = services.add_point(source, "1号排放口", "H" + uuid.uuid4().hex[:12], "secret-1", "31")
    services.set_limit(point, "a21026", 100.0, "GB 13223-2011", date(2020, 1, 1), None)
    reported, open_day = local_today() - timedelta(days=3), local_today() - timedelta(days=2)
    _hours(point, reported, 2)
    report = services.issue_report(world.county.id, reported, None)
    _hours(point, open_day, 1)
    open_one = db.session.scalar(
        sa.select(Exceedance.id).where(Exceedance.point_id == point.id, Exceedance.day == open_day)
    )
    return {
        "exceed_source": source.id,
        "exceed_point": point.id,
        "exceed_report": report.id,
        "exceed_open": open_one,
        "exceed_day": open_day.isoformat(),
    }


def _waiting(c) -> list[str]:
    return [
        str(i)
        for i in db.session.scalars(
            sa.select(Exceedance.id).where(
                Exceedance.report_id == c.ids["exceed_report"], Exceedance.disposal_id.is_(None)
            )
        )
    ]


def routes(Route, F) -> dict:  # noqa: N803 - the classes passed in
    base = "/enforce/exceedances"
    return {
        ("GET", "enforce.exceed_day"): Route(
            "GET",
            "zhou",
            lambda c: base,
            lambda c: {"day": c.ids["exceed_day"]},
            {"day": F("day", "Day", "query")},
        ),
        ("POST", "enforce.exceed_compute"): Route(
            "POST",
            "zhou",
            lambda c: f"{base}/compute",
            lambda c: {"day": c.ids["exceed_day"]},
            {"day": F("day", "Day")},
        ),
        ("POST", "enforce.exceed_mark"): Route(
            "POST",
            "zhou",
            lambda c: f"{base}/{c.ids['exceed_open']}/mark",
            lambda c: {"status": "invalid", "reason": "仪器维护未报备"},
            {"status": F("choice", "Status"), "reason": F("text", "Reason")},
        ),
        ("POST", "enforce.exceed_issue"): Route(
            "POST",
            "zhou",
            lambda c: f"{base}/reports",
            lambda c: {"day": c.ids["exceed_day"], "county": str(c.world.county.id)},
            {"day": F("day", "Day"), "county": F("id", "County")},
        ),
        ("GET", "enforce.exceed_reports"): Route(
            "GET", "county_office", lambda c: f"{base}/reports"
        ),
        ("GET", "enforce.exceed_report"): Route(
            "GET", "county_office", lambda c: f"{base}/reports/{c.ids['exceed_report']}"
        ),
        ("GET", "enforce.exceed_report_xlsx"): Route(
            "GET", "county_office", lambda c: f"{base}/reports/{c.ids['exceed_report']}.xlsx"
        ),
        ("POST", "enforce.exceed_dispose"): Route(
            "POST",
            "county_office",
            lambda c: f"{base}/reports/{c.ids['exceed_report']}/disposals",
            lambda c: {
                "exceedances": _waiting(c),
                "kind": "case",
                "case_number": "昌环罚〔2026〕1号",
            },
            {
                "exceedances": F("id", "Exceedances"),
                "kind": F("choice", "Disposal"),
                "case_number": F("text", "Case number"),
                "opinion": F("long_text", "Investigation opinion"),
                "photos": F("file", "Photos"),
            },
        ),
        ("GET", "enforce.exceed_points"): Route("GET", "county_office", lambda c: f"{base}/points"),
        ("POST", "enforce.exceed_point_new"): Route(
            "POST",
            "county_office",
            lambda c: f"{base}/points",
            lambda c: {
                "source": str(c.ids["exceed_source"]),
                "name": "2号排放口",
                "mn": "N" + uuid.uuid4().hex[:12],
                "password": "secret-2",
                "st": "31",
            },
            {
                "source": F("id", "Enterprise"),
                "name": F("text", "Name"),
                "mn": F("text", "MN"),
                "password": F("text", "HJ 212 password"),
                "st": F("choice", "Kind"),
                "lenient": F("flag", ""),
            },
        ),
        ("POST", "enforce.exceed_limit_new"): Route(
            "POST",
            "county_office",
            lambda c: f"{base}/points/{c.ids['exceed_point']}/limits",
            lambda c: {
                "code": "a21002",
                "value": "200",
                "standard": "GB 13223-2011 表1",
                "valid_from": local_today().isoformat(),
            },
            {
                "code": F("text", "Pollutant code"),
                "value": F("int", "Limit"),
                "standard": F("text", "Standard"),
                "valid_from": F("day", "From"),
            },
        ),
    }
