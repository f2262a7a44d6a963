"""Who may read and keep what of the assessment (the pages ask here):

- the prefecture office (alerts.access.is_prefecture_office) keeps it: records, corrections,
  freezing, answers to appeals, tamperings and key-area items;
- the upper staff (posted in the prefecture or a level-2 grid) read the air-quality ranking and
  the key areas;
- the monthly notice is read by whoever sees the whole prefecture and by the office or head of
  a level-2 grid (it is addressed to them);
- a level-2 grid's own month is read by the prefecture office and whoever sees the grid, and
  appealed by the grid's office or head (alerts.access.offices_of)."""

from flask import abort

from alerts.access import is_prefecture_office, offices_of
from grid.access import Scope, current_scope


def office_or_abort() -> Scope:
    scope = current_scope()
    if not is_prefecture_office(scope):
        abort(403)
    return scope


def is_upper(scope: Scope) -> bool:
    """Posted in the prefecture or a level-2 grid."""
    return any(p.grid_level <= 2 for p in scope.posts)


def may_read_notice(scope: Scope) -> bool:
    return scope.everything or bool(offices_of(scope))
