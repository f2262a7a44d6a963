"""Who may see and act on an alert: the one place for the alerts' records.

An alert is seen by whoever sees its county (the county's people, the prefecture) and by the
supervisors it was sent to. The county office and head send people and close station-health
items; the prefecture office and head push alerts by hand and close alerts.

The register of stations is kept by the prefecture office (every station) and by a county's
office and head (the micro-stations in their county: the national and regional networks are
not theirs to change)."""

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from alerts.models import Alert, AlertKind, Dispatch, Feedback, Station, StationKind, feedback_photo
from alerts.raising import county_of
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


def station_counties(scope: Scope) -> list[int] | None:
    """The counties whose stations this person keeps: None for every station (the prefecture
    office), an empty list for none."""
    return None if is_prefecture_office(scope) else offices_of(scope)


def may_keep_stations(scope: Scope) -> bool:
    return station_counties(scope) != []


def may_keep(station: Station) -> bool:
    """May change this station's particulars, status and secrets."""
    counties = station_counties(current_scope())
    if counties is None:
        return True
    county = county_of(station)
    return station.kind == StationKind.MICRO and county is not None and county.id in counties


def station_or_abort(station_id: int, keep: bool = False) -> Station:
    """The station if this person sees it (and keeps it, with `keep`): 404 or 403 otherwise."""
    station = db.session.get(Station, station_id)
    if station is None:
        abort(404)
    grid = db.session.get(Grid, station.grid_id) if station.grid_id else None
    scope = current_scope()  # who sees a station's grid sees it, as in the list of stations
    if not (is_prefecture_office(scope) or (grid is not None and scope.sees(grid.path))):
        abort(403)
    if keep and not may_keep(station):
        abort(403)
    return station
