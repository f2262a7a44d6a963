"""Online-monitoring exceedances (RULES §8, seed 000): enterprises' CEMS send HJ 212 through the
stations' receiver (ingest.py, registered in alerts.registry.HJ212_GATES); each morning the
previous day's hours over the limit are computed (rules.py, services.py, tasks.py); the centre
screens them and issues the daily report to each county, which records a case or an opinion
(pages.py, documents.py). The monthly cycle, with its deadlines, minutes and clue handover, is
in the cycle* modules."""

from flask import Flask, render_template
from markupsafe import Markup

from alerts.access import is_prefecture_office, offices_of
from alerts.registry import HJ212_GATES, Hj212Gate
from enforce.exceed import (  # noqa: F401 - the modules that add routes, tables and tasks
    cli,
    cycle_models,
    cycle_pages,
    ingest,
    models,
    pages,
    queries,
    rules,
    tasks,
)
from enforce.registry import HUB_SECTIONS, HubSection
from evidence.registry import PHOTO_OWNERS, PhotoOwner
from grid.access import Scope, current_scope
from grid.time import local_today

DEFAULTS = {
    # Valid (N) minutes an hourly average from minute data needs: a project parameter, 45 of
    # 60 as in CEMS practice (HJ 75-2017 / HJ 76-2017); see enforce.exceed.rules.
    "EXCEED_MIN_VALID_MINUTES": rules.MIN_VALID_MINUTES,
}


def hub(scope: Scope) -> Markup:
    """What is due: reports to issue (the centre), exceedances without a case or an opinion."""
    prefecture = is_prefecture_office(scope)
    counties = None if prefecture else offices_of(scope)
    if not prefecture and not counties:
        return Markup("")
    return Markup(  # noqa: S704 - the template autoescapes what it shows  # nosec B704
        render_template(
            "enforce/exceed/_hub.html",
            prefecture=prefecture,
            to_issue=queries.reports_to_issue(local_today()) if prefecture else [],
            waiting=queries.waiting_disposals(counties),
        )
    )


def may_view_photo(photo_id: int) -> bool:
    """A disposal's photos: the prefecture office and the county's office."""
    county_id = queries.disposal_county(photo_id)
    scope = current_scope()
    return county_id is not None and (is_prefecture_office(scope) or county_id in offices_of(scope))


def init_app(app: Flask) -> None:
    """Defaults, commands and registrations of the exceedance workflow."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    cli.register(app)
    HJ212_GATES.add(app, "enforce.exceed", Hj212Gate(ingest.make_gate, order=50))
    HUB_SECTIONS.add(app, "exceed", HubSection(hub, order=10))
    HUB_SECTIONS.add(app, "exceed_cycle", HubSection(cycle_pages.cycle_due, order=15))
    PHOTO_OWNERS.add(app, "enforce_disposal", PhotoOwner(models.disposal_photo, may_view_photo))
