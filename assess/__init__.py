"""The monthly assessment: the month's facts from every domain (facts.py), what the prefecture
office records that no domain holds (models.py), assessed by the pure rules of grid/scoring.py.
It sits above every domain it reads (DESIGN.md)."""

from flask import Flask

from assess import (  # noqa: F401 - the modules that add routes and models
    air_models,
    air_pages,
    appeals,
    cli,
    journal,
    labels,
    models,
    notice_pages,
    office_pages,
    people_pages,
    settings,
    snapshots,
    views,
)
from assess.models import MonthEvent, MonthLog
from grid.models import Role
from grid.registry import CHAINS, NAVIGATION, POST_LINKS, Chain, NavEntry, PostLink
from i18n import N_


def init_app(app: Flask) -> None:
    for key, value in settings.DEFAULTS.items():
        app.config.setdefault(key, value)
    app.register_blueprint(views.bp)
    cli.register(app)
    labels.register(app)
    CHAINS.add(
        app,
        "assessment",
        Chain(MonthLog, "last_event_hash", MonthEvent, "month_id", journal.event_record),
    )
    NAVIGATION.add(
        app, "assess", NavEntry(N_("Assessment"), "assess.index", 45, "upper", ("assess.",))
    )
    POST_LINKS.add(
        app,
        "assess_people",
        PostLink(
            N_("Supervisors' own figures"),
            "assess.people",
            lambda post: post.grid_level in (2, 3) and post.role in (Role.HEAD, Role.OFFICE),
            60,
            grid_arg="grid_id",
        ),
    )
