"""Access-matrix entries for enforce's cycle pages (enforce/exceed/cycle_pages.py), merged
through tests/matrix_enforce.py.

Policy: the month's cycle page and its documents are read by the prefecture office ("zhou")
and by a county's office or head ("changji"); anyone else signed in is refused (403). A
county's month is submitted by its own office or head (or the prefecture office); the
prefecture's steps, the minutes and the handover list by the prefecture office only. An empty
post from whoever may act is refused for the missing month (400). Targets of the documents:
"notice" (always there: 200) and "minutes" (last month's meeting is not recorded in the
matrix's world: 409 for those who may read it)."""

OFFICES = {"zhou", "changji"}
PREFECTURE = "zhou"
COUNTY_OF = {"changji": "C"}


def _page(actor, _target):
    if actor == "anon":
        return 302
    return 200 if actor in OFFICES else 403


def _document(actor, target):
    if actor == "anon":
        return 302
    if actor not in OFFICES:
        return 403
    return 200 if target == "notice" else 409


def _prefecture_post(actor, _target):
    if actor == "anon":
        return 401
    return 400 if actor == PREFECTURE else 403


def _county_post(actor, target):
    if actor == "anon":
        return 401
    if actor == PREFECTURE or COUNTY_OF.get(actor) == target:
        return 400
    return 403


def cycle_routes(Route, sees):
    return {
        "enforce.cycle": Route("GET", lambda w, t: "/enforce/cycle", [None], _page),
        "enforce.cycle_document": Route(
            "GET", lambda w, t: f"/enforce/cycle/{t}.xlsx", ["notice", "minutes"], _document
        ),
        "enforce.cycle_report": Route(
            "POST",
            lambda w, t: f"/enforce/cycle/counties/{w.grids[t].id}/report",
            ["C", "OTHER_C"],
            _county_post,
        ),
        "enforce.cycle_step": Route(
            "POST", lambda w, t: "/enforce/cycle/steps", [None], _prefecture_post
        ),
        "enforce.cycle_minutes": Route(
            "POST", lambda w, t: "/enforce/cycle/minutes", [None], _prefecture_post
        ),
        "enforce.cycle_handover": Route(
            "POST", lambda w, t: "/enforce/cycle/handover", [None], _prefecture_post
        ),
    }
