"""Typical cases published to the public, anonymised (RULES §10, annex 4): an office prepares
one from a closed problem or a case typed in, the anonymiser replaces what identifies the
parties, a second person reviews it and the prefecture office approves it; then anyone reads it
on `/enforce/public/cases`. The unredacted original stays with the offices."""

from flask import Flask, render_template
from markupsafe import Markup

from enforce.cases import (
    pages,  # noqa: F401 - its routes join enforce.views.bp
    queries,
)
from enforce.registry import HUB_SECTIONS, HubSection
from grid.access import Scope
from grid.registry import PUBLIC_ACTIONS, PublicAction
from i18n import N_


def hub(scope: Scope) -> Markup:
    """What waits among the office's typical cases."""
    html = render_template("enforce/cases/_hub.html", counts=queries.waiting(scope))
    return Markup(html)  # noqa: S704 - an autoescaped template's output  # nosec B704


def init_app(app: Flask) -> None:
    """Defaults, commands and registrations of the typical cases."""
    HUB_SECTIONS.add(app, "cases", HubSection(hub, order=30))
    PUBLIC_ACTIONS.add(
        app, "typical_cases", PublicAction(N_("Typical enforcement cases"), "enforce.public_cases")
    )
