"""tests/test_hostile.py's entries for enforcement: each workflow's routes and the records its
routes need, from the workflow's own module."""

from tests import (
    hostile_enforce_cases,
    hostile_enforce_cycle,
    hostile_enforce_draws,
    hostile_enforce_exceed,
    hostile_enforce_tasks,
)

PARTS = (
    hostile_enforce_exceed,
    hostile_enforce_cycle,
    hostile_enforce_draws,
    hostile_enforce_tasks,
    hostile_enforce_cases,
)


def routes(Route, F) -> dict:
    found = {("GET", "enforce.index"): Route("GET", "zhou", lambda c: "/enforce/")}
    for part in PARTS:
        found.update(part.routes(Route, F))
    return found


def records(world) -> dict:
    """Ids of the records the routes act on (Ctx.ids), made in the test's transaction."""
    found: dict = {}
    for part in PARTS:
        found.update(part.records(world))
    return found
