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

    return {
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
