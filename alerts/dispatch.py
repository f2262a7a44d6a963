"""An alert's life after it is raised: the county sends supervisors (nearest first), each
answers against two clocks (RULES §4: the on-site situation within 1 hour, the disposal result
within 2 hours of the instruction), reminders and overdue notices, and the office closes it.

Answers come from the phone's queue (sync items "alert.onsite" and "alert.disposal"), perhaps
recorded offline hours before they arrive: the time that counts is when they were recorded, as
the server's clock rules place it (sync/clock.py); arriving after the deadline is shown apart.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from alerts.models import (
    Alert,
    AlertKind,
    AlertStatus,
    Dispatch,
    Feedback,
    FeedbackKind,
    Station,
)
from alerts.raising import county_office, tell_group
from extensions import db
from grid.errors import ServiceError
from grid.geo import haversine_m
from grid.inputs import Fields, read_position
from grid.models import Grid, Membership, Role, User, active_on_clause, point, subtree_clause
from grid.time import datetime_local, local_today, utcnow
from i18n import N_
from notify.services import notify
from patrol.catalog import CATEGORY_CODES, SEVERITIES
from patrol.queries import last_positions
from problems.services import report_from_alert
from sync.clock import Timing
from sync.services import Item, SyncRefused, Upload, client_id_of, set_times


@dataclass(frozen=True)
class Candidate:
    """A supervisor the county may send, and how far they are from the station."""

    user: User
    grid_name: str
    distance_m: float | None
    where: str  # "position" (last known, today) or "grid" (their grid's centre)


def candidates(alert: Alert) -> list[Candidate]:
    """The county's supervisors on duty today, nearest first: by their last known position
    today (a patrol's route), else by the centre of their grid."""
    station = db.session.get(Station, alert.station_id)
    county = db.session.get(Grid, alert.county_id)
    rows = db.session.execute(
        sa.select(
            User,
            Grid.name,
            sa.func.ST_X(sa.func.ST_Centroid(Grid.geom)),
            sa.func.ST_Y(sa.func.ST_Centroid(Grid.geom)),
        )
        .join(Membership, Membership.user_id == User.id)
        .join(Grid, Grid.id == Membership.grid_id)
        .where(
            Membership.role == Role.SUPERVISOR,
            active_on_clause(local_today()),
            subtree_clause(county.path),
            User.active.is_(True),
        )
        .order_by(User.id)
    ).all()
    seen: dict[int, Candidate] = {}
    positions = last_positions([user.id for user, *_ in rows], local_today())
    for user, grid_name, lon, lat in rows:
        if user.id in positions:
            p_lon, p_lat = positions[user.id]
            found = Candidate(
                user, grid_name, haversine_m(station.lon, station.lat, p_lon, p_lat), "position"
            )
        elif lon is not None:
            found = Candidate(
                user, grid_name, haversine_m(station.lon, station.lat, lon, lat), "grid"
            )
        else:
            found = Candidate(user, grid_name, None, "grid")
        best = seen.get(user.id)
        if best is None or (found.distance_m or 1e12) < (best.distance_m or 1e12):
            seen[user.id] = found
    return sorted(seen.values(), key=lambda c: (c.distance_m is None, c.distance_m or 0, c.user.id))


def dispatch(alert: Alert, supervisor_ids: list[int], by: User, note: str | None) -> list[Dispatch]:
    """Send supervisors to the alert's station; each gets the two deadlines from now."""
    if alert.status == AlertStatus.CLOSED:
        raise ServiceError(_l("This alert is closed."))
    if alert.kind == AlertKind.HEALTH:
        raise ServiceError(_l("A station-health item is for the county to check, not to dispatch."))
    if not supervisor_ids:
        raise ServiceError(_l("Choose at least one supervisor."))
    allowed = {c.user.id for c in candidates(alert)}
    outside = [uid for uid in supervisor_ids if uid not in allowed]
    if outside:
        raise ServiceError(_l("Only supervisors on duty in the alert's county can be sent."))
    already = set(
        db.session.scalars(sa.select(Dispatch.supervisor_id).where(Dispatch.alert_id == alert.id))
    )
    now = utcnow()
    config = current_app.config
    made = []
    for uid in dict.fromkeys(supervisor_ids):
        if uid in already:
            continue
        made.append(
            Dispatch(
                alert_id=alert.id,
                supervisor_id=uid,
                dispatched_by_id=by.id,
                instructed_at=now,
                onsite_due=now + timedelta(minutes=config["ALERT_ONSITE_MINUTES"]),
                disposal_due=now + timedelta(minutes=config["ALERT_DISPOSAL_MINUTES"]),
                note=note,
            )
        )
    if not made:
        raise ServiceError(_l("These supervisors were sent already."))
    db.session.add_all(made)
    alert.status = AlertStatus.DISPATCHED
    db.session.flush()
    station = db.session.get(Station, alert.station_id)
    mobiles = tuple(
        m
        for m in db.session.scalars(
            sa.select(User.mobile).where(User.id.in_([d.supervisor_id for d in made]))
        )
        if m
    )
    tell_group(
        alert,
        station,
        N_("Supervisors sent to %(station)s: on site within 1 hour, disposal within 2 hours."),
        {"station": station.name},
        mobiles,
    )
    for sent in made:
        notify(
            [sent.supervisor_id],
            "alert.dispatch",
            f"alert:{alert.id}",
            N_("Go to %(station)s: on-site situation by %(onsite)s, disposal by %(disposal)s."),
            {
                "station": station.name,
                "onsite": datetime_local(sent.onsite_due, "%H:%M"),
                "disposal": datetime_local(sent.disposal_due, "%H:%M"),
                "deadline": sent.onsite_due.isoformat() + "Z",
            },
        )
    return made


def close(alert: Alert, by: User, note: str) -> None:
    if alert.status == AlertStatus.CLOSED:
        raise ServiceError(_l("This alert is closed already."))
    if not note:
        raise ServiceError(_l("Say how the alert was dealt with."))
    alert.status = AlertStatus.CLOSED
    alert.closed_at = utcnow()
    alert.closed_by_id = by.id
    alert.close_note = note


# --- feedback from the phone's queue ---------------------------------------------------------


def _dispatch_of(up: Upload, data: dict) -> Dispatch:
    dispatch_id = data.get("dispatch")
    found = db.session.get(Dispatch, dispatch_id) if isinstance(dispatch_id, int) else None
    if found is None or found.supervisor_id != up.user.id:
        raise SyncRefused("unknown_dispatch", _l("This alert was not sent to you."), 404)
    return found


def _record(kind: str, up: Upload, item: Item, timing: Timing) -> int:
    data = item.data
    sent = _dispatch_of(up, data)
    alert = db.session.get(Alert, sent.alert_id)
    if alert.status == AlertStatus.CLOSED and timing.at > (alert.closed_at or timing.at):
        raise SyncRefused(
            "closed", _l("This alert was closed before the answer was recorded."), 409
        )
    fields = Fields(data)
    note = fields.text("note", _l("What you found"), max_length=2000, multiline=True)
    photos = data.get("photos")
    if kind == FeedbackKind.ONSITE and not (isinstance(photos, int) and photos >= 1):
        raise SyncRefused("no_photos", _l("On-site feedback needs at least one photo."), 422)
    if kind == FeedbackKind.DISPOSAL and not note:
        raise SyncRefused("missing_field", _l("Say what was done."), 422)
    coords = read_position(data, _l("Your position"))
    station = db.session.get(Station, alert.station_id)
    distance = None
    if coords is not None:
        distance = haversine_m(coords[0], coords[1], station.lon, station.lat)
    if kind == FeedbackKind.ONSITE:
        limit = current_app.config["ALERT_ARRIVAL_DISTANCE_M"]
        if distance is None:
            raise SyncRefused("no_position", _l("On-site feedback needs your position (GPS)."), 422)
        if distance > limit:
            raise SyncRefused(
                "too_far",
                _l(
                    "You were %(distance)s m from the station; on-site feedback must be "
                    "recorded within %(limit)s m of it.",
                    distance=round(distance),
                    limit=limit,
                ),
                422,
            )
    if db.session.scalar(
        sa.select(Feedback.id).where(Feedback.dispatch_id == sent.id, Feedback.kind == kind)
    ):
        raise SyncRefused("already", _l("This answer was recorded already."), 409)
    feedback = Feedback(
        client_id=item.client_id,
        dispatch_id=sent.id,
        kind=kind,
        captured_at=timing.at,
        due_at=sent.onsite_due if kind == FeedbackKind.ONSITE else sent.disposal_due,
        point=point(coords[0], coords[1]) if coords else None,
        accuracy_m=coords[2] if coords else None,
        distance_m=distance,
        note=note,
    )
    set_times(feedback, item.stamp, timing, up.received_at)
    found = data.get("problem")
    if kind == FeedbackKind.DISPOSAL and isinstance(found, dict):
        # A problem found while disposing: into the escalation workflow, at the station.
        problem_fields = Fields(found, _l("Problem"))
        try:
            problem = report_from_alert(
                up.user,
                station.lon,
                station.lat,
                timing.at,
                problem_fields.choice("category", _l("Category"), CATEGORY_CODES, required=True),
                problem_fields.choice("severity", _l("Severity"), SEVERITIES, required=True),
                problem_fields.text(
                    "description", _l("Description"), max_length=2000, multiline=True
                )
                or "",
            )
        except ServiceError as exc:
            raise SyncRefused("problem", str(exc), 422) from exc
        feedback.problem_id = problem.id
    db.session.add(feedback)
    db.session.flush()
    return feedback.id


def record_onsite(up: Upload, item: Item, timing: Timing) -> int:
    """The on-site situation (sync item "alert.onsite"): photos and a fix near the station."""
    return _record(FeedbackKind.ONSITE, up, item, timing)


def record_disposal(up: Upload, item: Item, timing: Timing) -> int:
    """The disposal result (sync item "alert.disposal"): what was done."""
    return _record(FeedbackKind.DISPOSAL, up, item, timing)


def find_feedback(client_id: str) -> tuple[int, int | None, int] | None:
    """(feedback id, its supervisor, the station's grid) for a queued photo of an answer."""
    wanted = client_id_of(client_id) or client_id
    row = db.session.execute(
        sa.select(Feedback.id, Dispatch.supervisor_id, Alert.county_id)
        .join(Dispatch, Dispatch.id == Feedback.dispatch_id)
        .join(Alert, Alert.id == Dispatch.alert_id)
        .where(Feedback.client_id == wanted)
    ).first()
    return None if row is None else (row[0], row[1], row[2])


# --- the clocks, watched by the task queue -----------------------------------------------------


def watch_clocks(now: datetime | None = None) -> int:
    """Remind each supervisor 15 minutes before a deadline they have not answered, and tell
    the county when one passed unanswered. Returns how many notices were sent."""
    now = now or utcnow()
    before = timedelta(minutes=current_app.config["ALERT_REMINDER_MINUTES"])
    sent = 0
    open_dispatches = db.session.scalars(
        sa.select(Dispatch)
        .join(Alert, Alert.id == Dispatch.alert_id)
        .where(
            Alert.status != AlertStatus.CLOSED,
            sa.or_(Dispatch.onsite_notice < 2, Dispatch.disposal_notice < 2),
        )
    ).all()
    for d in open_dispatches:
        answered = set(
            db.session.scalars(sa.select(Feedback.kind).where(Feedback.dispatch_id == d.id))
        )
        for kind, due, attr in (
            (FeedbackKind.ONSITE, d.onsite_due, "onsite_notice"),
            (FeedbackKind.DISPOSAL, d.disposal_due, "disposal_notice"),
        ):
            state = getattr(d, attr)
            if kind in answered or state >= 2:
                continue
            alert = db.session.get(Alert, d.alert_id)
            station = db.session.get(Station, alert.station_id)
            params = {"station": station.name, "deadline": due.isoformat() + "Z"}
            if now >= due:
                notify(
                    county_office(alert.county_id) + [d.supervisor_id],
                    f"alert.overdue.{kind}",
                    f"alert:{alert.id}",
                    N_("Overdue: no on-site situation from %(station)s in time.")
                    if kind == FeedbackKind.ONSITE
                    else N_("Overdue: no disposal result from %(station)s in time."),
                    params,
                )
                setattr(d, attr, 2)
                sent += 1
            elif now >= due - before and state < 1:
                notify(
                    [d.supervisor_id],
                    f"alert.reminder.{kind}",
                    f"alert:{alert.id}",
                    N_("15 minutes left: the on-site situation at %(station)s is due.")
                    if kind == FeedbackKind.ONSITE
                    else N_("15 minutes left: the disposal result at %(station)s is due."),
                    params,
                )
                setattr(d, attr, 1)
                sent += 1
    return sent
