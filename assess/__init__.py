"""The monthly assessment: the month's facts from every domain (facts.py), what the prefecture
office records that no domain holds (models.py), assessed by the pure rules of grid/scoring.py.
It sits above every domain it reads (DESIGN.md)."""

from flask import Flask

from assess import appeals, cli, models, settings, snapshots  # noqa: F401


def init_app(app: Flask) -> None:
    for key, value in settings.DEFAULTS.items():
        app.config.setdefault(key, value)
    cli.register(app)
