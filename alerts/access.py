"""Who may see and act on an alert: the one place for the alerts' records.

An alert is seen by whoever sees its county (the county's people, the prefecture) and by the
supervisors it was sent to. The county office and head send people and close station-health
items; the prefecture office and head push alerts by hand and close alerts."""

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from alerts.models import Alert, AlertKind, Dispatch, Feedback, feedback_photo
from extensions import db
from grid.access import Scope, current_scope
from grid.models import Grid, Role


def _is_sent(alert: Alert) -> bool:
    return current_user.is_authenticated and bool(
        db.session.scalar(
            sa.select(Dispatch.id).where(
                Dispatch.alert_id == alert.id, Dispatch.supervisor_id == current_user.id
            )
        )
    )


def sees_alert(alert: Alert) -> bool:
    county = db.session.get(Grid, alert.county_id)
    return current_scope().sees(county.path) or _is_sent(alert)


def alert_or_abort(alert_id: int) -> Alert:
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        abort(404)
    if not sees_alert(alert):
        abort(403)
    return alert


def is_prefecture_office(scope: Scope) -> bool:
    return scope.everything and any(
        p.grid_level == 1 and p.role in (Role.OFFICE, Role.HEAD) for p in scope.posts
    )


def offices_of(scope: Scope) -> list[int]:
    """The counties (level-2 grids) whose office or head this person is."""
    return [
        p.grid_id for p in scope.posts if p.grid_level == 2 and p.role in (Role.OFFICE, Role.HEAD)
    ]


def may_dispatch(alert: Alert) -> bool:
    scope = current_scope()
    return alert.county_id in offices_of(scope) or is_prefecture_office(scope)


def may_close(alert: Alert) -> bool:
    scope = current_scope()
    if is_prefecture_office(scope):
        return True
    return alert.kind == AlertKind.HEALTH and alert.county_id in offices_of(scope)


def may_push(scope: Scope) -> bool:
    return is_prefecture_office(scope)


def may_view_photo(photo_id: int) -> bool:
    """The supervisor who took an answer's photo sees it, whichever grid they hold a post in
    (evidence.registry.PhotoOwner.may_view)."""
    supervisor = db.session.scalar(
        sa.select(Dispatch.supervisor_id)
        .join(Feedback, Feedback.dispatch_id == Dispatch.id)
        .join(feedback_photo, feedback_photo.c.alert_feedback_id == Feedback.id)
        .where(feedback_photo.c.photo_id == photo_id)
    )
    return current_user.is_authenticated and supervisor == current_user.id
