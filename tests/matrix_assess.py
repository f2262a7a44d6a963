"""Access-matrix entries for the assessment's pages (assess/views.py), merged into
tests/test_access_matrix.py's ROUTES.

Policy: the month's ranking is for the prefecture's people (whoever sees every grid); someone
posted in a level-2 grid asking for it is sent to that grid's month (302), as the navigation
shows the tab to both, and someone who sees a whole township to its supervisors' figures; a
grid's month is seen by whoever sees the grid.

The month's forms (assess/office_pages.py): the prefecture's office ("zhou") records, rectifies,
withdraws, corrects, freezes and answers appeals; the office or head of a county ("changji" for
C) appeals its own month. Their empty posts are refused for the missing fields (400) after the
access check. Targets "R_C" / "R_OTHER_C": a record of each county's last month; "AP_C": an
appeal of C's frozen last month (frozen, revised with a missed problem and appealed when asked).

The month's notice, page and workbook (assess/notice_pages.py): read by whoever sees every grid
and by the office or head of any level-2 grid ("changji"), to whom it is addressed; a county's
administrator ("county_admin"), townships and villages are refused (403). Target "FROZEN": last
month, frozen when the URL is asked for unless it is (200); "OPEN": the latest month not
frozen, which has no notice (409 for those who may read it).

The supervisors' own figures (assess/people_pages.py): a county's or a township's page, and one
supervisor's month there, seen by whoever sees that grid; a village supervisor ("cun") sees
neither, not even their own row; a village or the root has no such page (404). The person is
"cun" under T and C, the other county's village supervisor under OTHER_C, for the month under
way (both hold their posts today).

The air-quality ranking and the weekly key areas (assess/air_pages.py): read by everyone
posted in the prefecture or a level-2 grid ("zhou", "admin", "changji", "county_admin"), not by
townships and villages (403); only the prefecture's office records a tampering, withdraws one,
schedules a key-area item or records its check (an empty post: 400 for the missing fields).
Targets "TA" and "KA": a tampering and a key-area item of C, made when the URL is asked for.
"""

from datetime import timedelta

from alerts import services as alert_services
from assess import air_services, appeals, services, snapshots
from assess.models import RecordKind
from grid.demo import point_in
from grid.time import local_today

PREFECTURE = {"zhou", "admin"}
TOWNSHIP_HEAD = "sangong"  # sees the whole township: sent to its supervisors' figures
OFFICE = "zhou"  # the prefecture's office: keeps the assessment


def _last_month():
    return (local_today().replace(day=1) - timedelta(days=1)).replace(day=1)


def _record(w, target: str) -> int:
    county = w.grids[target.removeprefix("R_")]
    return services.record(county, RecordKind.BONUS, "矩阵测试", by=None, month=_last_month()).id


def _appeal(w, _target) -> int:
    first = _last_month()
    frozen = snapshots.latest(first) or {
        s.county_id: s for s in snapshots.freeze(first.year, first.month, by=None)
    }
    mine = frozen[w.grids["C"].id]
    revised = snapshots.revise(mine, {"missed_problems": 1}, "矩阵测试", by=None)
    return appeals.file(revised, "item4", "矩阵测试", by=None).id


def _office_post(actor, _target):
    if actor == "anon":
        return 401
    return 400 if actor == OFFICE else 403


COUNTY_POSTS = {"changji", "county_admin"}
NOTICE = ["FROZEN", "OPEN"]
NOTICE_READERS = PREFECTURE | {"changji"}
PEOPLE_GRIDS = ["V", "T", "C", "ROOT", "OTHER_C"]
PERSON_OF = {"T": "P_IN", "C": "P_IN", "OTHER_C": "P_OUT"}


def _notice(path: str, target: str) -> str:
    first = _last_month()
    if target == "FROZEN" and not snapshots.latest(first):
        snapshots.freeze(first.year, first.month, by=None)
    while target == "OPEN" and snapshots.latest(first):  # before the demo's frozen history
        first = (first - timedelta(days=1)).replace(day=1)
    return f"/assess/{path}?month={first:%Y-%m}"


def _notice_read(actor, target):
    if actor == "anon":
        return 302
    if actor not in NOTICE_READERS:
        return 403
    return 200 if target == "FROZEN" else 409


UPPER = PREFECTURE | COUNTY_POSTS


def _upper_page(actor, _target):
    if actor == "anon":
        return 302
    return 200 if actor in UPPER else 403


def _tampering(w, _target) -> int:
    lon, lat = point_in(w.grids["V"])
    station = alert_services.add_station(
        code=f"AQ{w.grids['V'].id}", name="矩阵篡改站", kind="micro", lon=lon, lat=lat
    ).station
    day = local_today() - timedelta(days=3)
    return air_services.record_tampering(station, day, day, "power", "矩阵测试", by=None).id


def _key_area(w, _target) -> int:
    return air_services.schedule_key_area(w.grids["C"], local_today(), "矩阵测试", by=None).id


def assess_routes(Route, sees) -> dict:  # noqa: N803 - the class passed in
    def ranking(actor, _target):
        if actor == "anon":
            return 302
        if actor in PREFECTURE:
            return 200
        return 302 if actor in COUNTY_POSTS or actor == TOWNSHIP_HEAD else 403

    def appeal(actor, target):
        if actor == "anon":
            return 401
        return 400 if actor == "changji" and target == "C" else 403

    def people_page(actor, target):
        if actor == "anon":
            return 302
        if target in ("V", "ROOT"):
            return 404
        return 200 if sees(actor, target) else 403

    def county_month(actor, target):
        if actor == "anon":
            return 302
        return 200 if sees(actor, target) else 403

    return {
        "assess.index": Route("GET", lambda w, t: "/assess/", [None], ranking),
        "assess.county": Route(
            "GET", lambda w, t: f"/assess/{w.grids[t].id}", ["C", "OTHER_C"], county_month
        ),
        "assess.record_new": Route(
            "POST", lambda w, t: f"/assess/{w.grids[t].id}/records", ["C", "OTHER_C"], _office_post
        ),
        "assess.record_rectified": Route(
            "POST",
            lambda w, t: f"/assess/records/{_record(w, t)}/rectified",
            ["R_C", "R_OTHER_C"],
            _office_post,
        ),
        "assess.record_withdraw": Route(
            "POST",
            lambda w, t: f"/assess/records/{_record(w, t)}/withdraw",
            ["R_C", "R_OTHER_C"],
            _office_post,
        ),
        "assess.correction_new": Route(
            "POST",
            lambda w, t: f"/assess/{w.grids[t].id}/corrections",
            ["C", "OTHER_C"],
            _office_post,
        ),
        "assess.freeze": Route("POST", lambda w, t: "/assess/freeze", [None], _office_post),
        "assess.appeal_new": Route(
            "POST", lambda w, t: f"/assess/{w.grids[t].id}/appeals", ["C", "OTHER_C"], appeal
        ),
        "assess.appeal_decide": Route(
            "POST",
            lambda w, t: f"/assess/appeals/{_appeal(w, t)}/decision",
            ["AP_C"],
            _office_post,
        ),
        "assess.people": Route(
            "GET", lambda w, t: f"/assess/people/{w.grids[t].id}", PEOPLE_GRIDS, people_page
        ),
        "assess.person": Route(
            "GET",
            lambda w, t: (
                f"/assess/people/{w.grids[t].id}/{w.people[PERSON_OF[t]].id}"
                f"?month={local_today():%Y-%m}"
            ),
            ["T", "C", "OTHER_C"],
            people_page,
        ),
        "assess.notice": Route("GET", lambda w, t: _notice("notice", t), NOTICE, _notice_read),
        "assess.notice_xlsx": Route(
            "GET", lambda w, t: _notice("notice.xlsx", t), NOTICE, _notice_read
        ),
        "assess.air_ranking": Route("GET", lambda w, t: "/assess/air", [None], _upper_page),
        "assess.air_tampering_new": Route(
            "POST", lambda w, t: "/assess/air/tamperings", [None], _office_post
        ),
        "assess.air_tampering_withdraw": Route(
            "POST",
            lambda w, t: f"/assess/air/tamperings/{_tampering(w, t)}/withdraw",
            ["TA"],
            _office_post,
        ),
        "assess.key_areas": Route("GET", lambda w, t: "/assess/key-areas", [None], _upper_page),
        "assess.key_area_new": Route(
            "POST", lambda w, t: "/assess/key-areas/new", [None], _office_post
        ),
        "assess.key_area_check": Route(
            "POST",
            lambda w, t: f"/assess/key-areas/{_key_area(w, t)}/checks",
            ["KA"],
            _office_post,
        ),
    }
