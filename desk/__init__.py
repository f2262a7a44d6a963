"""The app shell: the home page, manifest, service worker, offline page, language switch and
error pages. It shows what each domain contributes (home counts, navigation, links on a post's
card) through grid/registry.py, and no domain imports it."""

from flask import Flask

from desk import cli, errors, views
from desk.assets import asset_url, link
from desk.chrome import chrome, csrf_token
from grid.access import current_scope
from grid.registry import NAVIGATION, NavEntry
from i18n import N_
from i18n.language import current_language


def init_app(app: Flask) -> None:
    app.register_blueprint(views.bp)
    cli.register(app)
    errors.register_error_handlers(app)
    app.jinja_env.globals.update(
        asset_url=asset_url, link=link, chrome=chrome, current_scope=current_scope
    )

    @app.context_processor
    def _layout_globals():
        # csrf_token replaces Flask-WTF's, which signs anew on every call; it must come from a
        # context processor registered after CSRFProtect's (a Jinja global would lose to it).
        return {"locale": current_language(), "csrf_token": csrf_token}

    NAVIGATION.add(app, "home", NavEntry(N_("Home"), "desk.home", 10, current=("desk.home",)))
