"""Access-matrix entries for enforcement (enforce/), merged into tests/test_access_matrix.py's
ROUTES: the entry page here, each workflow's pages in its own module.

Policy: the enforcement pages are for the prefecture office (acting for the monitoring centre
and the enforcement detachment: "zhou") and for a
county's office or head ("changji"); anyone else signed in is refused (403). The hub page
`/enforce/` also opens for the administrators who see its tab (posted at level 1 or 2)."""

from tests.matrix_enforce_cases import case_routes
from tests.matrix_enforce_cycle import cycle_routes
from tests.matrix_enforce_draws import draw_routes
from tests.matrix_enforce_exceed import exceed_routes
from tests.matrix_enforce_tasks import task_routes

OFFICES = {"zhou", "changji"}
UPPER = OFFICES | {"admin", "county_admin"}  # posted in the prefecture or a level-2 grid


def hub_page(actor, _target):
    """The hub: for whoever sees the tab (posted at level 1 or 2), administrators included."""
    if actor == "anon":
        return 302
    return 200 if actor in UPPER else 403


def enforce_routes(Route, sees):
    routes = {"enforce.index": Route("GET", lambda w, t: "/enforce/", [None], hub_page)}
    routes.update(exceed_routes(Route, sees))
    routes.update(draw_routes(Route, sees))
    routes.update(cycle_routes(Route, sees))
    routes.update(task_routes(Route, sees))
    routes.update(case_routes(Route, sees))
    return routes
