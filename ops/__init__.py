"""Running the app in production: the health endpoint and the metrics an operator's monitoring
reads, and the backup and restore of the database and the photos together. It sits above every
domain (it looks into each through its public query functions), and no domain imports it."""

from flask import Flask

from ops import backup, health, metrics


def init_app(app: Flask) -> None:
    health.init_app(app)
    metrics.init_app(app)
    backup.init_app(app)
