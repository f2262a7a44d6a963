"""Access-matrix entries for alerts (alerts/views.py), merged into tests/test_access_matrix.py's
ROUTES:

    from tests.matrix_alerts import alert_routes
    ROUTES.update(alert_routes(Route, sees))

Targets: "A_C" / "A_OTHER_C" are an alert at a station in the village V of the county C
(昌吉市), or in OTHER_V of OTHER_C (木垒), pushed by hand when the URL is asked for.

Policy (RULES §4; alerts/access.py): whoever sees a county sees its alerts (and a supervisor
sent to one sees it); the county's office and head send people; the prefecture's office and
head push alerts by hand, hold the daily consultation and close alerts; administrators manage
people, not alerts.

Stations: "S_C" / "S_OTHER_C" are micro-stations in V and OTHER_V, "N_C" a national station in
V. Whoever sees a station's grid sees its page; the prefecture's office keeps every station
(particulars, status, secrets), a county's office the micro-stations of its county. A keeper's
empty post is refused for its missing fields (400), after the access check.
"""

from alerts import raising, services
from extensions import db
from grid.demo import point_in
from grid.models import User

DISPATCHERS = {"changji", "zhou"}  # office or head of C, and of the prefecture
PREFECTURE = {"zhou"}
ALERTS = ["A_C", "A_OTHER_C"]
_village = {"A_C": "V", "A_OTHER_C": "OTHER_V"}


def _alert(w, target: str) -> int:
    grid = w.grids[_village[target]]
    lon, lat = point_in(grid)
    made = services.add_station(
        code=f"M{grid.id}-{target}", name=f"矩阵微站{grid.id}", kind="micro", lon=lon, lat=lat
    )
    zhou = db.session.query(User).filter_by(username="zhou").one()
    return raising.push_by_hand(made.station, None, "矩阵测试", zhou).id


_station_village = {"S_C": "V", "S_OTHER_C": "OTHER_V", "N_C": "V"}
STATIONS = list(_station_village)
KEEPS = {"zhou": set(STATIONS), "changji": {"S_C"}}  # who keeps which station
REGISTERS = {"zhou", "changji"}


def _station(w, target: str) -> int:
    grid = w.grids[_station_village[target]]
    lon, lat = point_in(grid)
    kind = "national" if target == "N_C" else "micro"
    made = services.add_station(
        code=f"S{grid.id}-{target}", name=f"矩阵站{grid.id}", kind=kind, lon=lon, lat=lat
    )
    return made.station.id


def _county(target: str) -> str:
    return target.split("_", 1)[1]


def alert_routes(Route, sees) -> dict:  # noqa: N803 - the class passed in
    """One Route per `alerts.*` page endpoint; `Route` and `sees` come from test_access_matrix."""

    def signed_in(actor, _target):
        return 302 if actor == "anon" else 200

    def show(actor, target):
        if actor == "anon":
            return 302
        return 200 if sees(actor, _county(target)) else 403

    def send(actor, target):
        if actor == "anon":
            return 401
        if not sees(actor, _county(target)):
            return 403
        # allowed: refused for want of supervisors, back to the page (303)
        if actor == "zhou" or (actor == "changji" and _county(target) == "C"):
            return 303
        return 403

    def close(actor, target):
        if actor == "anon":
            return 401
        return 303 if actor in PREFECTURE else 403

    def prefecture_page(actor, _target):
        if actor == "anon":
            return 302
        return 200 if actor in PREFECTURE else 403

    def prefecture_post(actor, _target):
        if actor == "anon":
            return 401
        return 303 if actor in PREFECTURE else 403

    def station_page(actor, target):
        if actor == "anon":
            return 302
        return 200 if sees(actor, _station_village[target]) else 403

    def station_post(actor, target):
        if actor == "anon":
            return 401
        return 400 if target in KEEPS.get(actor, ()) else 403

    def register_page(actor, _target):
        if actor == "anon":
            return 302
        return 200 if actor in REGISTERS else 403

    def station_route(suffix, expect, method="POST"):
        return Route(
            method, lambda w, t: f"/alerts/stations/{_station(w, t)}{suffix}", STATIONS, expect
        )

    return {
        "alerts.station_new": Route(
            "GET", lambda w, t: "/alerts/stations/new", [None], register_page
        ),
        "alerts.station_show": station_route("", station_page, "GET"),
        "alerts.station_update": station_route("", station_post),
        "alerts.station_status": station_route("/status", station_post),
        "alerts.station_secret": station_route("/secret", station_post),
        "alerts.index": Route("GET", lambda w, t: "/alerts/", [None], signed_in),
        "alerts.stations": Route("GET", lambda w, t: "/alerts/stations", [None], signed_in),
        "alerts.show": Route("GET", lambda w, t: f"/alerts/{_alert(w, t)}", ALERTS, show),
        "alerts.send": Route("POST", lambda w, t: f"/alerts/{_alert(w, t)}/dispatch", ALERTS, send),
        "alerts.close": Route("POST", lambda w, t: f"/alerts/{_alert(w, t)}/close", ALERTS, close),
        "alerts.new": Route("GET", lambda w, t: "/alerts/new", [None], prefecture_page),
        "alerts.consultation": Route(
            "GET", lambda w, t: "/alerts/consultation", [None], prefecture_page
        ),
        "alerts.consultation_push": Route(
            "POST", lambda w, t: "/alerts/consultation", [None], prefecture_post
        ),
    }
