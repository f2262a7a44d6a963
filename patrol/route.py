"""A patrol's route from the phone's fixes (issue 3): points at least 25 m apart, and none that
implies an impossible speed from the last point kept. Pure; the phone filters the same way, this
is the server's guarantee."""

from collections.abc import Sequence
from datetime import datetime

from grid.geo import haversine_m

MAX_ROUTE_SPEED_MS = 70.0  # m/s (about 250 km/h): a faster hop between fixes is a bad fix
MIN_ROUTE_STEP_M = 25.0  # keep points at least 25 m apart


def thin_route(points: Sequence[tuple[datetime, float, float]]) -> list[tuple[float, float]]:
    """Keep points at least MIN_ROUTE_STEP_M apart, dropping fixes that imply an impossible
    speed from the last kept point (the phone filters too; this is the server's guarantee)."""
    kept: list[tuple[datetime, float, float]] = []
    for at, lon, lat in points:
        if kept:
            last_at, last_lon, last_lat = kept[-1]
            distance = haversine_m(last_lon, last_lat, lon, lat)
            seconds = max((at - last_at).total_seconds(), 0.001)
            if distance < MIN_ROUTE_STEP_M or distance / seconds > MAX_ROUTE_SPEED_MS:
                continue
        kept.append((at, lon, lat))
    return [(lon, lat) for _at, lon, lat in kept]
