"""Enforcement: the work of the prefecture's enforcement detachment and monitoring centre, not
the grid's (RULES §8-§10). Three workflows, one sub-package each:

- `enforce.exceed`: online-monitoring (CEMS) exceedances, from the HJ 212 receiver to the
  counties' cases and the monthly cycle with its deadlines (seed 000);
- `enforce.draws`: double-random inspections, the inspector library, reproducible draws,
  results and their publication (seeds 004 and 002);
- `enforce.cases`: typical cases prepared for publication, anonymised and approved in two steps
  (annex 4).

It sits beside the assessment, above every domain it reads (DESIGN.md); one blueprint, the
package's, that each workflow's pages add their routes to (`enforce.views.bp`)."""

from flask import Flask

from enforce import cases, draws, exceed, views
from grid.registry import NAVIGATION, NavEntry
from i18n import N_


def init_app(app: Flask) -> None:
    exceed.init_app(app)
    draws.init_app(app)
    cases.init_app(app)
    app.register_blueprint(views.bp)
    NAVIGATION.add(
        app, "enforce", NavEntry(N_("Enforcement"), "enforce.index", 50, "upper", ("enforce.",))
    )
