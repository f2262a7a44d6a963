"""Notifications: telling people something needs them (the records, the list page and the
unread count now; Web Push, WeCom/DingTalk robots and SMS as channels next)."""

from flask import Flask

from grid.registry import HOME_COUNTS, HomeCount
from i18n import N_
from notify import queries, views
from notify.registry import subject_url


def init_app(app: Flask) -> None:
    app.register_blueprint(views.bp)
    app.jinja_env.globals["subject_url"] = subject_url
    HOME_COUNTS.add(
        app,
        "unread",
        HomeCount(
            N_("Notifications"),
            "notify.index",
            queries.unread_home_count,
            queries.unread_statement,
            order=90,
        ),
    )
