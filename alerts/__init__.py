"""Micro-station alerts: stations and their readings (HTTP JSON and HJ 212), the national
standards as pure modules (aqi.py: HJ 633 and HJ 663; hj212.py: the transmission protocol),
the anomaly rules, and alerts with their 1-hour and 2-hour clocks."""

from flask import Flask

from alerts import (  # noqa: F401
    access,
    cli,
    dispatch,
    labels,
    models,
    settings,
    station_pages,
    tasks,
    views,
)
from alerts.models import feedback_photo
from evidence.registry import PHOTO_OWNERS, PhotoOwner
from grid.registry import NAVIGATION, NavEntry
from i18n import N_
from notify.registry import SUBJECTS, Subject
from sync.registry import ITEM_KINDS, PHOTO_PARENTS, ItemKind, PhotoParent


def init_app(app: Flask) -> None:
    for key, value in settings.DEFAULTS.items():
        app.config.setdefault(key, value)
    app.register_blueprint(views.bp)
    cli.register(app)
    labels.register(app)
    # Answers recorded on the phone, perhaps offline: after the problems (order 50).
    ITEM_KINDS.add(app, "alert.onsite", ItemKind(dispatch.record_onsite, 60))
    ITEM_KINDS.add(app, "alert.disposal", ItemKind(dispatch.record_disposal, 61))
    PHOTO_OWNERS.add(app, "alert_feedback", PhotoOwner(feedback_photo, access.may_view_photo))
    PHOTO_PARENTS.add(app, "alert_feedback", PhotoParent(dispatch.find_feedback))
    SUBJECTS.add(app, "alert", Subject("alerts.show", "alert_id"))
    NAVIGATION.add(app, "alerts", NavEntry(N_("Alerts"), "alerts.index", 42, current=("alerts.",)))
