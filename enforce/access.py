"""Who does what in enforcement (the pages ask here):

- the prefecture office (alerts.access.is_prefecture_office) acts for the monitoring centre and
  the enforcement detachment: it screens exceedances, issues daily reports, runs the monthly
  cycle, draws at prefecture level, approves typical cases;
- a county's office or head (alerts.access.offices_of) acts for the county's bureau: it answers
  its daily reports, draws at county level, prepares typical cases of its own county;
- an inspector is a person of the inspector library linked to a user account; they see and
  complete their own inspection tasks.
The public reads published inspection results and typical cases without signing in."""

from flask import abort

from alerts.access import is_prefecture_office, offices_of
from grid.access import Scope, current_scope


def is_office(scope: Scope) -> bool:
    """The prefecture office, or a county's office or head."""
    return is_prefecture_office(scope) or bool(offices_of(scope))


def office_or_abort() -> Scope:
    scope = current_scope()
    if not is_office(scope):
        abort(403)
    return scope


def prefecture_or_abort() -> Scope:
    scope = current_scope()
    if not is_prefecture_office(scope):
        abort(403)
    return scope


def county_office_or_abort(county_id: int) -> Scope:
    """The prefecture office, or the county's own office or head."""
    scope = current_scope()
    if not (is_prefecture_office(scope) or county_id in offices_of(scope)):
        abort(403)
    return scope
