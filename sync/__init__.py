"""The offline protocol between the phone's queue and the server: receipts (every item recorded
exactly once), clock placement (sync/clock.py), and the kinds of item and photo each domain
registers (sync/registry.py)."""

from flask import Flask

from sync import views


def init_app(app: Flask) -> None:
    app.register_blueprint(views.bp)
