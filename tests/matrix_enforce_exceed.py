"""Access-matrix entries for enforce/exceed (merged through tests/matrix_enforce.py).

Policy: the centre's day screen and its posts (compute, mark, issue) are the prefecture
office's ("zhou"); the reports list, the points page and registering a point are for any
office ("zhou", "changji"); a report, its workbook and its disposal form are the report's
county's office's and the prefecture's; a limit is set by the point's county's office or the
prefecture. Everyone else signed in is refused (403). Empty posts by those allowed are refused
for the missing fields (400), or come back to the page with the refusal flashed (303: compute
and issue, which need no field, and the disposal, refused for no exceedance ticked).

Targets: "RP_C" / "RP_OTHER_C" a daily report of each county, "PT_C" / "PT_OTHER_C" a
monitoring point of each, "X_C" an exceedance of C not reported yet, all made when the URL is
asked for (a source in V or OTHER_V with a CEMS, an SO2 limit and an hour at 150 mg/m³)."""

import uuid
from datetime import date, timedelta

import sqlalchemy as sa

from enforce.exceed import rules, services
from enforce.exceed.ingest import insert_values
from enforce.exceed.models import Exceedance
from extensions import db
from grid.demo import point_in
from grid.time import local_today, local_zone
from sources import services as ledger

PREFECTURE = "zhou"
OFFICES = {"zhou", "changji"}
VILLAGE_OF = {"C": "V", "OTHER_C": "OTHER_V"}


def _point(w, county: str):
    lon, lat = point_in(w.grids[VILLAGE_OF[county]])
    source = ledger.create_source(
        w.grids[county],
        ledger.SourceFields(name="矩阵测试电厂", kind="industrial", lon=lon, lat=lat),
        by=None,
    )
    point = services.add_point(source, "1号排放口", "M" + uuid.uuid4().hex[:12], "secret-1", "31")
    services.set_limit(point, "a21026", 100.0, "GB 13223-2011", date(2020, 1, 1), None)
    return point


def _exceedance(w, county: str, day: date):
    point = _point(w, county)
    start = rules.day_bounds(day, local_zone())[0] + timedelta(hours=3)
    insert_values(
        [
            {
                "point_id": point.id,
                "code": "a21026",
                "period": "hour",
                "at": start,
                "value": 150.0,
                "flag": "N",
            }
        ]
    )
    services.compute_day(day)
    return point


def _report(w, target: str) -> int:
    county = target.removeprefix("RP_")
    day = local_today() - timedelta(days=3)
    _exceedance(w, county, day)
    return services.issue_report(w.grids[county].id, day, None).id


def _open(w, _target) -> int:
    point = _exceedance(w, "C", local_today() - timedelta(days=2))
    return db.session.scalar(sa.select(Exceedance.id).where(Exceedance.point_id == point.id))


def exceed_routes(Route, sees):  # noqa: N803 - the class passed in
    def page(allowed):
        def expect(actor, _target):
            if actor == "anon":
                return 302
            return 200 if actor in allowed else 403

        return expect

    def post(allowed, status):
        def expect(actor, _target):
            if actor == "anon":
                return 401
            return status if actor in allowed else 403

        return expect

    def county_page(actor, target):
        if actor == "anon":
            return 302
        if actor == PREFECTURE or (
            actor == "changji" and target.endswith("_C") and not target.endswith("OTHER_C")
        ):
            return 200
        return 403

    def county_post(status):
        def expect(actor, target):
            found = county_page(actor, target)
            return {302: 401, 200: status}.get(found, found)

        return expect

    reports = ["RP_C", "RP_OTHER_C"]
    points = ["PT_C", "PT_OTHER_C"]
    return {
        "enforce.exceed_day": Route(
            "GET", lambda w, t: "/enforce/exceedances", [None], page({PREFECTURE})
        ),
        "enforce.exceed_compute": Route(
            "POST", lambda w, t: "/enforce/exceedances/compute", [None], post({PREFECTURE}, 303)
        ),
        "enforce.exceed_mark": Route(
            "POST",
            lambda w, t: f"/enforce/exceedances/{_open(w, t)}/mark",
            ["X_C"],
            post({PREFECTURE}, 400),
        ),
        "enforce.exceed_issue": Route(
            "POST", lambda w, t: "/enforce/exceedances/reports", [None], post({PREFECTURE}, 303)
        ),
        "enforce.exceed_reports": Route(
            "GET", lambda w, t: "/enforce/exceedances/reports", [None], page(OFFICES)
        ),
        "enforce.exceed_report": Route(
            "GET",
            lambda w, t: f"/enforce/exceedances/reports/{_report(w, t)}",
            reports,
            county_page,
        ),
        "enforce.exceed_report_xlsx": Route(
            "GET",
            lambda w, t: f"/enforce/exceedances/reports/{_report(w, t)}.xlsx",
            reports,
            county_page,
        ),
        "enforce.exceed_dispose": Route(
            "POST",
            lambda w, t: f"/enforce/exceedances/reports/{_report(w, t)}/disposals",
            reports,
            county_post(303),
        ),
        "enforce.exceed_points": Route(
            "GET", lambda w, t: "/enforce/exceedances/points", [None], page(OFFICES)
        ),
        "enforce.exceed_point_new": Route(
            "POST", lambda w, t: "/enforce/exceedances/points", [None], post(OFFICES, 400)
        ),
        "enforce.exceed_limit_new": Route(
            "POST",
            lambda w, t: (
                f"/enforce/exceedances/points/{_point(w, t.removeprefix('PT_')).id}/limits"
            ),
            points,
            county_post(400),
        ),
    }
