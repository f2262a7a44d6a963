"""Recording a patrol from the phone's queue: its start, route, visits and end, each a kind of
sync item (sync/registry.py), recorded once. Handlers flush; the sync API commits."""

import itertools
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from geoalchemy2.shape import from_shape
from shapely.geometry import LineString

from extensions import db
from grid.geo import haversine_m
from grid.inputs import Fields, Invalid, read_position
from grid.models import Grid, User, point
from grid.time import local_date
from patrol import catalog
from patrol.models import Patrol, RoutePoint, Visit
from patrol.queries import supervised_grids
from patrol.route import thin_route
from sources.models import Source
from sync import clock
from sync.services import (
    Item,
    SyncRefused,
    Upload,
    client_id_of,
    device_ms_of,
    elapsed_ms_of,
    set_times,
)


def patrol_of(user: User, client_id: Any) -> Patrol:
    """The user's patrol with this client id; SyncRefused if it has not arrived or is not theirs."""
    wanted = client_id_of(client_id) or str(client_id)
    patrol = db.session.scalar(sa.select(Patrol).where(Patrol.client_id == wanted))
    if patrol is None:
        raise SyncRefused("unknown_patrol", _l("The patrol has not arrived yet."), 409)
    if patrol.supervisor_id != user.id:
        raise SyncRefused("forbidden", _l("This is someone else's patrol."), 403)
    return patrol


def record_start(up: Upload, item: Item, timing: clock.Timing) -> int:
    user = up.user
    day = local_date(timing.at)
    grids = {g.id: g for g in supervised_grids(user, day)}
    try:
        grid_id = int(item.data.get("grid_id"))
    except (TypeError, ValueError):
        grid_id = None
    if grid_id not in grids:
        raise SyncRefused(
            "not_your_grid", _l("You are not a supervisor of this grid on that day."), 403
        )
    coords = read_position(item.data, _l("Start of the patrol"))
    patrol = Patrol(
        client_id=item.client_id,
        supervisor_id=user.id,
        grid_id=grid_id,
        started_at=timing.at,
        start_point=point(*coords[:2]) if coords else None,
        start_accuracy_m=coords[2] if coords else None,
    )
    set_times(patrol, item.stamp, timing, up.received_at)
    db.session.add(patrol)
    db.session.flush()
    return patrol.id


def record_route(up: Upload, item: Item, timing: clock.Timing) -> int:
    user = up.user
    patrol = patrol_of(user, item.data.get("patrol"))
    points = item.data.get("points")
    if not isinstance(points, list) or len(points) > 2000:
        raise SyncRefused("malformed", _l("The route points are not a list."), 400)
    known = set(
        db.session.scalars(sa.select(RoutePoint.device_ms).where(RoutePoint.patrol_id == patrol.id))
    )
    for raw in points:
        if not isinstance(raw, list) or not 4 <= len(raw) <= 5:
            raise SyncRefused(
                "malformed", _l("A route point is not [time, elapsed, lon, lat, accuracy]."), 400
            )
        device_ms = device_ms_of(raw[0], "points[].device_ms")
        elapsed_ms = elapsed_ms_of(raw[1], "points[].elapsed_ms")
        fix = read_position(
            {"lon": raw[2], "lat": raw[3], "accuracy": raw[4] if len(raw) == 5 else None},
            _l("A route point"),
        )
        if device_ms in known or fix is None:
            continue
        lon, lat, accuracy = fix
        at = up.place(clock.Stamp(device_ms, elapsed_ms, item.stamp.boot)).at
        db.session.add(
            RoutePoint(
                patrol_id=patrol.id,
                recorded_at=at,
                device_ms=device_ms,
                lon=lon,
                lat=lat,
                accuracy_m=accuracy,
            )
        )
        known.add(device_ms)
    db.session.flush()
    rebuild_route(patrol)
    return patrol.id


def rebuild_route(patrol: Patrol) -> None:
    rows = db.session.execute(
        sa.select(RoutePoint.recorded_at, RoutePoint.lon, RoutePoint.lat)
        .where(RoutePoint.patrol_id == patrol.id)
        .order_by(RoutePoint.recorded_at, RoutePoint.device_ms)
    ).all()
    coords = thin_route([tuple(r) for r in rows])
    if len(coords) >= 2:
        patrol.route = from_shape(LineString(coords), srid=4326)
        patrol.route_length_m = sum(haversine_m(*a, *b) for a, b in itertools.pairwise(coords))
    db.session.flush()


def source_for(patrol: Patrol, source_id: Any) -> Source:
    """A source of the patrol's grid; SyncRefused otherwise."""
    try:
        wanted = Fields({"source_id": source_id}).id("source_id", _l("Source"))
    except Invalid:
        wanted = None
    source = db.session.get(Source, wanted) if wanted else None
    grid = db.session.get(Grid, patrol.grid_id)
    if source is None or source.grid_id is None:
        raise SyncRefused("unknown_source", _l("Unknown source."), 422)
    village = db.session.get(Grid, source.grid_id)
    if not village.path.startswith(grid.path):
        raise SyncRefused("not_your_grid", _l("This source is not in the patrol's grid."), 403)
    return source


def record_visit(up: Upload, item: Item, timing: clock.Timing) -> int:
    user = up.user
    patrol = patrol_of(user, item.data.get("patrol"))
    source = source_for(patrol, item.data.get("source_id"))
    outcome = item.data.get("outcome")
    if outcome not in catalog.VISIT_OUTCOMES:
        raise SyncRefused("malformed", _l("A visit is normal or found a problem."), 400)
    coords = read_position(item.data, _l("Place of the visit"))
    visit = Visit(
        client_id=item.client_id,
        patrol_id=patrol.id,
        source_id=source.id,
        visited_at=timing.at,
        visited_on=local_date(timing.at),
        outcome=outcome,
        note=Fields(item.data).optional_text("note", _l("Note"), max_length=1000, multiline=True),
        point=point(*coords[:2]) if coords else None,
        accuracy_m=coords[2] if coords else None,
    )
    set_times(visit, item.stamp, timing, up.received_at)
    db.session.add(visit)
    db.session.flush()
    return visit.id


def record_end(up: Upload, item: Item, timing: clock.Timing) -> int:
    user = up.user
    patrol = patrol_of(user, item.data.get("patrol"))
    if patrol.ended_at is not None:
        raise SyncRefused("ended", _l("This patrol has already ended."), 409)
    coords = read_position(item.data, _l("End of the patrol"))
    patrol.ended_at = max(timing.at, patrol.started_at)
    patrol.end_point = point(*coords[:2]) if coords else None
    patrol.end_accuracy_m = coords[2] if coords else None
    patrol.end_client_id = item.client_id
    db.session.flush()
    rebuild_route(patrol)
    return patrol.id


# --- photos -----------------------------------------------------------------------------------


# --- coverage ---------------------------------------------------------------------------------


def find_visit(client_id: str) -> tuple[int, int, int] | None:
    """(visit id, its supervisor, its grid) for a queued photo of a visit; None until it came."""
    row = db.session.execute(
        sa.select(Visit.id, Patrol.supervisor_id, Patrol.grid_id)
        .join(Patrol, Patrol.id == Visit.patrol_id)
        .where(Visit.client_id == client_id)
    ).first()
    return (row[0], row[1], row[2]) if row else None
