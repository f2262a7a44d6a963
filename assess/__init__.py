"""The monthly assessment: the month's facts from every domain (facts.py), what the prefecture
office records that no domain holds (models.py), assessed by the pure rules of grid/scoring.py.
It sits above every domain it reads (DESIGN.md)."""

from flask import Flask

from assess import appeals, cli, labels, models, settings, snapshots, views  # noqa: F401
from grid.registry import NAVIGATION, NavEntry
from i18n import N_


def init_app(app: Flask) -> None:
    for key, value in settings.DEFAULTS.items():
        app.config.setdefault(key, value)
    app.register_blueprint(views.bp)
    cli.register(app)
    labels.register(app)
    NAVIGATION.add(
        app, "assess", NavEntry(N_("Assessment"), "assess.index", 45, "upper", ("assess.",))
    )
