"""The pollution-source ledger (一企一档): sources, their status history, surveys, documents,
and the import of the special-supervision list."""

from flask import Flask

from grid.registry import NAVIGATION, NavEntry
from i18n import N_
from sources import catalog, cli, views


def init_app(app: Flask) -> None:
    app.register_blueprint(views.bp)
    cli.register(app)
    app.jinja_env.globals.update(
        SOURCE_KINDS=catalog.SOURCE_KINDS, SOURCE_STATUSES=catalog.SOURCE_STATUSES
    )
    NAVIGATION.add(
        app, "sources", NavEntry(N_("Sources"), "sources.index", 50, "posted", ("sources.",))
    )
