"""Access-matrix entries for the assessment's pages (assess/views.py), merged into
tests/test_access_matrix.py's ROUTES.

Policy: the month's ranking is for the prefecture's people (whoever sees every grid); someone
posted in a level-2 grid asking for it is sent to that grid's month (302), as the navigation
shows the tab to both; a grid's month is seen by whoever sees the grid."""

PREFECTURE = {"zhou", "admin"}
COUNTY_POSTS = {"changji", "county_admin"}


def assess_routes(Route, sees) -> dict:  # noqa: N803 - the class passed in
    def ranking(actor, _target):
        if actor == "anon":
            return 302
        if actor in PREFECTURE:
            return 200
        return 302 if actor in COUNTY_POSTS else 403

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
