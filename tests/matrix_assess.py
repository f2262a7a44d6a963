"""Access-matrix entries for the assessment's pages (assess/views.py), merged into
tests/test_access_matrix.py's ROUTES.

Policy: the month's ranking is the prefecture office's (its office and head); a county's office
or head asking for it is sent to its own grid's month (302); a grid's month is seen by whoever
sees the grid (its own people, the prefecture, administrators who see it)."""

PREFECTURE = {"zhou"}
COUNTY_OFFICES = {"changji"}


def assess_routes(Route, sees) -> dict:  # noqa: N803 - the class passed in
    def ranking(actor, _target):
        if actor == "anon":
            return 302
        if actor in PREFECTURE:
            return 200
        return 302 if actor in COUNTY_OFFICES else 403

    def county_month(actor, target):
        if actor == "anon":
            return 302
        return 200 if sees(actor, target) else 403

    return {
        "assess.index": Route("GET", lambda w, t: "/assess/", [None], ranking),
        "assess.county": Route(
            "GET", lambda w, t: f"/assess/{w.grids[t].id}", ["C", "OTHER_C"], county_month
        ),
    }
