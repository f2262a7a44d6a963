"""Access-matrix entries for problems, inboxes, the complaint form and notifications
(problems/views.py, notify/views.py), merged into tests/test_access_matrix.py's ROUTES:

    from tests.matrix_problems import problem_routes
    ROUTES.update(problem_routes(Route, sees))

Targets "V" / "OTHER_V" are the problem the `world` fixture records in that village.

Policy (RULES §3; DESIGN): whoever sees a problem's village may open it and act on it (what they
may do there depends on who they are for it: tests/test_problems.py checks each role); nobody
reaches a problem outside their subtree. County and prefecture offices enter problems. Anyone,
signed in or not, may file a public complaint.
"""

RECORD_GRIDS = ["V", "OTHER_V"]
GRIDS = ["V", "V2", "T", "C", "ROOT", "OTHER_V", "OTHER_C"]
OFFICES = {"changji", "zhou"}  # office or head posts at county level or above


def problem_routes(Route, sees) -> dict:  # noqa: N803 - the class passed in
    """One Route per `problems.*` endpoint; `Route` and `sees` come from test_access_matrix."""

    def act(actor, target):
        if actor == "anon":
            return 401
        return 303 if sees(actor, target) else 403  # 303: a blank form is refused in words

    def signed_in(status):
        return lambda actor, _t: (401 if status == 303 else 302) if actor == "anon" else status

    def index(actor, target):
        if actor == "anon":
            return 302
        return 200 if target is None or sees(actor, target) else 403

    def new(actor, _target):
        if actor == "anon":
            return 302
        return 200 if actor in OFFICES else 403

    return {
        "problems.act": Route(
            "POST",
            lambda w, t: f"/problems/{w.records[t]['problem']}/act",
            RECORD_GRIDS,
            act,
        ),
        "problems.inbox": Route("GET", lambda w, t: "/problems/inbox", [None], signed_in(200)),
        "problems.index": Route(
            "GET",
            lambda w, t: "/problems/" + (f"?grid={w.grids[t].id}" if t else ""),
            [None, *GRIDS],
            index,
        ),
        "problems.new": Route("GET", lambda w, t: "/problems/new", [None], new),
        "problems.complaint": Route("GET", lambda w, t: "/complaint", [None], lambda a, t: 200),
        "notify.index": Route("GET", lambda w, t: "/notifications", [None], signed_in(200)),
        "notify.mark_read": Route(
            "POST", lambda w, t: "/notifications/read", [None], signed_in(303)
        ),
    }
