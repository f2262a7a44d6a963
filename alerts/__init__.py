"""Micro-station alerts: stations and their readings (HTTP JSON and HJ 212), the national
standards as pure modules (aqi.py: HJ 633 and HJ 663; hj212.py: the transmission protocol),
the anomaly rules, and alerts with their 1-hour and 2-hour clocks."""

from flask import Flask

from alerts import cli, models, settings, views  # noqa: F401 - models: the tables, for migrations


def init_app(app: Flask) -> None:
    for key, value in settings.DEFAULTS.items():
        app.config.setdefault(key, value)
    app.register_blueprint(views.bp)
    cli.register(app)
