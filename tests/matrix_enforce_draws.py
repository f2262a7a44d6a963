"""Access-matrix entries for enforce/draws (merged through tests/matrix_enforce.py).

Policy: the inspector library, the draws and the statistics are for the prefecture office
("zhou": the prefecture's own and every county's) and a county's office or head ("changji": its
own county C, not OTHER_C); anyone else signed in is refused (403). Empty posts by those
allowed are refused for the missing fields (400). Targets: "C" / "OTHER_C" the county asked
for; "I_C" / "I_OTHER_C" an inspector of that county; "D_C" / "D_OTHER_C" a draw of it (made
directly, with no task: the page and its verification need none)."""

import uuid

from enforce.draws import services
from enforce.draws.drawing import Snapshot
from enforce.draws.models import Draw
from extensions import db
from grid.time import local_today

OFFICES = {"zhou", "changji"}
BOTH = ["C", "OTHER_C"]


def _inspector(w, target) -> int:
    county = w.grids[target.removeprefix("I_")]
    number = f"MATRIX-{uuid.uuid4().hex[:16]}"
    return services.add_inspector(county, "矩阵执法员", number, "矩阵分局", by=w.users["zhou"]).id


def _draw(w, target) -> int:
    county = w.grids[target.removeprefix("D_")]
    empty = Snapshot.of({}, [])
    item = Draw(
        grid_id=county.id,
        month=local_today().replace(day=1),
        seed=1,
        asked="{}",
        snapshot=empty.to_json(),
        snapshot_sha256=empty.digest(),
    )
    db.session.add(item)
    db.session.flush()
    return item.id


def _page(actor, _target):
    if actor == "anon":
        return 302
    return 200 if actor in OFFICES else 403


def _post(actor, _target):
    if actor == "anon":
        return 401
    return 400 if actor in OFFICES else 403


def _mine(target) -> bool:
    return target.endswith("C") and not target.endswith("OTHER_C")


def _county_page(actor, target):
    if actor == "anon":
        return 302
    return 200 if actor == "zhou" or (actor == "changji" and _mine(target)) else 403


def _county_post(actor, target):
    if actor == "anon":
        return 401
    return 400 if actor == "zhou" or (actor == "changji" and _mine(target)) else 403


def draw_routes(Route, sees):  # noqa: N803 - the class passed in
    def inspector(suffix=""):
        return lambda w, t: f"/enforce/inspectors/{_inspector(w, t)}{suffix}"

    def draw(suffix=""):
        return lambda w, t: f"/enforce/draws/{_draw(w, t)}{suffix}"

    def of_county(path):
        return lambda w, t: f"{path}?office={w.grids[t].id}"

    people = ["I_C", "I_OTHER_C"]
    draws = ["D_C", "D_OTHER_C"]
    return {
        "enforce.inspectors": Route("GET", lambda w, t: "/enforce/inspectors", [None], _page),
        "enforce.inspector_create": Route(
            "POST", lambda w, t: "/enforce/inspectors", [None], _post
        ),
        "enforce.inspector": Route("GET", inspector(), people, _county_page),
        "enforce.inspector_update": Route("POST", inspector(), people, _county_post),
        "enforce.inspector_active": Route("POST", inspector("/active"), people, _county_post),
        "enforce.conflict_create": Route("POST", inspector("/conflicts"), people, _county_post),
        "enforce.draws": Route("GET", of_county("/enforce/draws"), BOTH, _county_page),
        "enforce.draw_create": Route("POST", lambda w, t: "/enforce/draws", [None], _post),
        "enforce.draw": Route("GET", draw(), draws, _county_page),
        "enforce.draw_verify": Route("GET", draw("/verify"), draws, _county_page),
        "enforce.draw_stats": Route("GET", of_county("/enforce/draws/stats"), BOTH, _county_page),
        "enforce.draw_stats_xlsx": Route(
            "GET", of_county("/enforce/draws/stats.xlsx"), BOTH, _county_page
        ),
    }
