"""Notifications: telling people something needs them: the records, the list page, the unread
count; and the channels that carry them (Web Push, SMS, WeCom/DingTalk group robots)."""

import logging

from flask import Flask
from flask_login import current_user

from grid.registry import HOME_COUNTS, HomeCount
from i18n import N_
from notify import cli, delivery, queries, views
from notify.registry import subject_url

log = logging.getLogger(__name__)


def unread_count() -> int:
    """The signed-in person's unread notifications, for the top bar's badge."""
    return queries.unread_count(current_user.id) if current_user.is_authenticated else 0


def push_key() -> str:
    """The server's current VAPID public key, for push.js on every signed-in page; "" when the
    key cannot be read (logged), so that a wrong key setting breaks pushes, not the pages."""
    try:
        return delivery.vapid_keys().application_server_key
    except (OSError, ValueError):
        log.exception("the VAPID key cannot be read")
        return ""


def init_app(app: Flask) -> None:
    for key, value in delivery.DEFAULTS.items():
        app.config.setdefault(key, value)
    app.register_blueprint(views.bp)
    app.jinja_env.globals["subject_url"] = subject_url
    app.jinja_env.filters["notification_text"] = lambda n: delivery.text_of(n.message, n.params)
    app.jinja_env.globals["unread_count"] = unread_count
    app.jinja_env.globals["push_key"] = push_key
    cli.register(app)
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
