"""Every route against every role, inside and outside the role's subtree.

The expectations come from a table written by hand (VISIBLE below), not from grid/access.py, so
the test checks the policy rather than restating the code. A route added to the app without an
entry here fails `test_every_route_is_in_the_matrix`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from grid import queries
from grid.models import ComplaintChannel, Grid, Membership, Role, User, UserSession
from grid.services import session_token_hash, start_session
from tests.conftest import csrf_token, sign_in

TOWN = "652301101000"  # 三工镇 in 昌吉市
OTHER_COUNTY = "652328000000"  # 木垒哈萨克自治县

ACTORS = ["anon", "cun", "sangong", "subhead", "changji", "county_admin", "zhou", "admin"]
GRIDS = ["V", "V2", "T", "C", "ROOT", "OTHER_V", "OTHER_C"]

# Who sees which grid (RULES §1, DESIGN: a user sees the subtrees of their grids).
#            V  V2 T  C  ROOT OTHER_V OTHER_C
VISIBLE = {
    "cun": "Y  .  .  .  .    .       .",
    "sangong": "Y  Y  Y  .  .    .       .",
    "subhead": "Y  .  .  .  .    .       .",  # covers V (not V2) in T
    "changji": "Y  Y  Y  Y  .    .       .",
    "county_admin": "Y  Y  Y  Y  .    .       .",
    "zhou": "Y  Y  Y  Y  Y    Y       Y",
    "admin": "Y  Y  Y  Y  Y    Y       Y",
}
# Who administers people and posts where, and who keeps complaint channels where.
ADMIN_OF = {"county_admin": {"V", "V2", "T", "C"}, "admin": set(GRIDS)}
CHANNELS_OF = {
    "changji": {"C"},
    "county_admin": {"C"},
    "zhou": {"C", "ROOT", "OTHER_C"},
    "admin": {"C", "ROOT", "OTHER_C"},
}
PEOPLE = ["P_IN", "P_OUT"]  # cun (posted in 昌吉市) and a village supervisor in 木垒


def sees(actor, grid):
    row = VISIBLE.get(actor)
    return bool(row) and row.split()[GRIDS.index(grid)] == "Y"


@dataclass
class World:
    grids: dict
    people: dict
    posts: dict
    channels: dict
    users: dict
    records: dict  # grid name -> {"patrol": id, "problem": id, "problem_client": ..., "photo": id}
    sessions: dict  # person -> the id of a signed-in device of theirs


def _patrol_records(village):
    """A patrol with a problem and a photo in `village`, written directly (not through sync)."""
    import io
    import uuid

    from PIL import Image

    from evidence.models import Photo
    from evidence.services import photo_store
    from grid.time import utcnow
    from patrol.models import Patrol
    from problems.models import Problem, problem_photo

    supervisor = db.session.scalar(
        sa.select(Membership.user_id)
        .where(Membership.grid_id == village.id, Membership.role == Role.SUPERVISOR)
        .limit(1)
    )
    now = utcnow()
    patrol = Patrol(
        client_id=str(uuid.uuid4()), supervisor_id=supervisor, grid_id=village.id, started_at=now
    )
    db.session.add(patrol)
    db.session.flush()
    problem = Problem(
        client_id=str(uuid.uuid4()),
        reporter_id=supervisor,
        grid_id=village.id,
        patrol_id=patrol.id,
        found_at=now,
        category="dust",
        severity="minor",
        description="扬尘",
    )
    db.session.add(problem)
    db.session.flush()
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 40)).save(out, "JPEG")
    key = f"thumbs/test/{uuid.uuid4()}.jpg"
    photo_store().put(key, out.getvalue())
    photo = Photo(
        client_id=str(uuid.uuid4()),
        uploaded_by_id=supervisor,
        grid_id=village.id,
        captured_at=now,
        sha256="0" * 64,
        original_key=key,
        display_key=key,
        thumb_key=key,
        content_type="image/jpeg",
        size_bytes=1,
        width=8,
        height=8,
        phash="0" * 16,
    )
    db.session.add(photo)
    db.session.flush()
    db.session.execute(problem_photo.insert().values(problem_id=problem.id, photo_id=photo.id))
    return {
        "patrol": patrol.id,
        "problem": problem.id,
        "problem_client": problem.client_id,
        "photo": photo.id,
    }


@pytest.fixture
def world(db_session):
    town = queries.grid_by_code(TOWN)
    villages = queries.children(town)
    other_county = queries.grid_by_code(OTHER_COUNTY)
    other_town = queries.children(other_county, include_key=False)[0]
    grids = {
        "V": villages[0],
        "V2": villages[5],
        "T": town,
        "C": db.session.get(Grid, town.parent_id),
        "ROOT": queries.root_grid(),
        "OTHER_V": queries.children(other_town)[0],
        "OTHER_C": other_county,
    }

    def holder(grid, role):
        return db.session.scalar(
            sa.select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.grid_id == grid.id, Membership.role == role)
            .order_by(Membership.id)
            .limit(1)
        )

    users = {
        name: db.session.scalar(sa.select(User).where(User.username == name))
        for name in ("cun", "sangong", "changji", "zhou", "admin")
    }
    users["subhead"] = holder(town, Role.SUBHEAD)
    users["county_admin"] = holder(grids["C"], Role.ADMIN)
    people = {"P_IN": users["cun"], "P_OUT": holder(grids["OTHER_V"], Role.SUPERVISOR)}
    posts = {
        k: db.session.scalar(
            sa.select(Membership.id)
            .where(Membership.user_id == p.id)
            .order_by(Membership.id)
            .limit(1)
        )
        for k, p in people.items()
    }

    def channel(grid):
        return db.session.scalar(
            sa.select(ComplaintChannel.id).where(ComplaintChannel.grid_id == grid.id).limit(1)
        )

    channels = {k: channel(grids[k]) for k in ("C", "ROOT", "OTHER_C")}
    records = {k: _patrol_records(grids[k]) for k in ("V", "OTHER_V")}
    # the sub-grid head of T covers V but not V2
    covered = queries.covers_of(
        [
            db.session.scalar(
                sa.select(Membership.id).where(Membership.user_id == users["subhead"].id)
            )
        ]
    )
    assert grids["V"].id in next(iter(covered.values()))
    assert grids["V2"].id not in next(iter(covered.values()))
    sessions = {}
    for key, person in people.items():
        secret = start_session(person, user_agent="phone", address=None, lifetime=timedelta(1))
        sessions[key] = db.session.scalar(
            sa.select(UserSession.id).where(UserSession.token_hash == session_token_hash(secret))
        )
    return World(grids, people, posts, channels, users, records, sessions)


@dataclass
class Route:
    method: str
    url: Callable  # (world, target) -> path
    targets: list  # names of grids, people, posts ... or [None]
    expect: Callable  # (actor, target) -> status


def _grid_view(actor, g):
    return 302 if actor == "anon" else (200 if sees(actor, g) else 403)


def _post_grid(allowed):
    def expect(actor, g):
        if actor == "anon":
            return 401
        return 303 if g in allowed.get(actor, set()) else 403

    return expect


def _person(ok_status):
    def expect(actor, p):
        if actor == "anon":
            return 302 if ok_status == 200 else 401
        if actor == "admin" or (actor == "county_admin" and p == "P_IN"):
            return ok_status
        return 404

    return expect


def _admin_page(actor, _t):
    return 302 if actor == "anon" else (200 if actor in ADMIN_OF else 403)


def _everyone(status):
    return lambda actor, _t: status


def _signed_in(status):
    return lambda actor, _t: 302 if actor == "anon" else status


CHANNEL_GRIDS = ["C", "ROOT", "OTHER_C", "T"]

ROUTES = {
    "desk.home": Route("GET", lambda w, t: "/", [None], _signed_in(200)),
    "desk.offline": Route("GET", lambda w, t: "/offline", [None], _everyone(200)),
    "desk.set_language": Route("POST", lambda w, t: "/lang", [None], _everyone(302)),
    "desk.manifest": Route("GET", lambda w, t: "/manifest.webmanifest", [None], _everyone(200)),
    "desk.service_worker": Route("GET", lambda w, t: "/sw.js", [None], _everyone(200)),
    # Machines: a station's bearer token, never a session (tests/test_readings.py).
    "alerts.readings": Route("POST", lambda w, t: "/api/v1/readings", [None], _everyone(401)),
    "alerts.openapi": Route("GET", lambda w, t: "/api/v1/openapi.json", [None], _everyone(200)),
    "grid.login": Route(
        "GET", lambda w, t: "/login", [None], lambda a, t: 200 if a == "anon" else 302
    ),
    "grid.logout": Route("POST", lambda w, t: "/logout", [None], _everyone(302)),
    "grid.index": Route("GET", lambda w, t: "/grids/", [None], _everyone(302)),
    "grid.show": Route("GET", lambda w, t: f"/grids/{w.grids[t].id}", GRIDS, _grid_view),
    "grid.staffing": Route(
        "GET", lambda w, t: f"/grids/{w.grids[t].id}/staffing", GRIDS, _grid_view
    ),
    "grid.geojson": Route(
        "GET", lambda w, t: f"/grids/{w.grids[t].id}/map.geojson", GRIDS, _grid_view
    ),
    "grid.map_page": Route(
        "GET",
        lambda w, t: "/grids/map" + (f"?grid={w.grids[t].id}" if t else ""),
        GRIDS + [None],
        lambda a, t: _grid_view(a, t) if t else (302 if a == "anon" else 200),
    ),
    "grid.locate": Route(
        "GET", lambda w, t: "/grids/locate?lat=44.01&lon=87.30", [None], _signed_in(200)
    ),
    "grid.add_channel": Route(
        "POST",
        lambda w, t: f"/grids/{w.grids[t].id}/channels",
        CHANNEL_GRIDS,
        _post_grid(CHANNELS_OF),
    ),
    "grid.retire_channel": Route(
        "POST",
        lambda w, t: f"/grids/channels/{w.channels[t]}/retire",
        ["C", "ROOT", "OTHER_C"],
        _post_grid(CHANNELS_OF),
    ),
    "grid.people_index": Route("GET", lambda w, t: "/people/", [None], _admin_page),
    "grid.people_new": Route("GET", lambda w, t: "/people/new", [None], _admin_page),
    "grid.people_show": Route(
        "GET", lambda w, t: f"/people/{w.people[t].id}", PEOPLE, _person(200)
    ),
    "grid.people_update": Route(
        "POST", lambda w, t: f"/people/{w.people[t].id}", PEOPLE, _person(303)
    ),
    "grid.people_appoint": Route(
        "POST", lambda w, t: f"/people/appoint/{w.grids[t].id}", GRIDS, _post_grid(ADMIN_OF)
    ),
    "grid.people_end_post": Route(
        "POST", lambda w, t: f"/people/posts/{w.posts[t]}/end", PEOPLE, _person(303)
    ),
    "grid.people_end_sessions": Route(
        "POST", lambda w, t: f"/people/{w.people[t].id}/sessions/end", PEOPLE, _person(303)
    ),
    "grid.account_sessions": Route(
        "GET", lambda w, t: "/account/sessions", [None], _signed_in(200)
    ),
    # One's own devices only: anyone else's is not found.
    "grid.account_end_session": Route(
        "POST",
        lambda w, t: f"/account/sessions/{w.sessions[t]}/end",
        PEOPLE,
        lambda a, t: 401 if a == "anon" else (303 if (a, t) == ("cun", "P_IN") else 404),
    ),
    "grid.disclosure_index": Route("GET", lambda w, t: "/public/", [None], _everyone(200)),
    "grid.disclosure": Route(
        "GET",
        lambda w, t: f"/public/{w.grids[t].id}",
        ["C", "OTHER_C", "T"],
        lambda a, t: 404 if t == "T" else 200,
    ),
}
RECORD_GRIDS = ["V", "OTHER_V"]
ROUTES.update(
    {
        "patrol.index": Route("GET", lambda w, t: "/patrol/", [None], _signed_in(200)),
        "patrol.sources_json": Route(
            "GET", lambda w, t: f"/patrol/{w.grids[t].id}/sources.json", GRIDS, _grid_view
        ),
        "patrol.coverage_page": Route(
            "GET",
            lambda w, t: "/patrol/coverage" + (f"?grid={w.grids[t].id}" if t else ""),
            GRIDS + [None],
            lambda a, t: _grid_view(a, t) if t else (302 if a == "anon" else 200),
        ),
        "patrol.show": Route(
            "GET", lambda w, t: f"/patrol/{w.records[t]['patrol']}", RECORD_GRIDS, _grid_view
        ),
        "problems.show": Route(
            "GET",
            lambda w, t: f"/patrol/problems/{w.records[t]['problem']}",
            RECORD_GRIDS,
            _grid_view,
        ),
        # found by the id the phone gave it, then sent to its page
        "problems.sent": Route(
            "GET",
            lambda w, t: f"/patrol/problems/sent/{w.records[t]['problem_client']}",
            RECORD_GRIDS,
            lambda a, t: 302 if _grid_view(a, t) == 200 else _grid_view(a, t),
        ),
        "evidence.photo": Route(
            "GET",
            lambda w, t: f"/patrol/photos/{w.records[t]['photo']}/thumb",
            RECORD_GRIDS,
            _grid_view,
        ),
        "sync.token": Route(
            "GET", lambda w, t: "/sync/token", [None], lambda a, t: 401 if a == "anon" else 200
        ),
        # A signed-in POST without a body is malformed (400): authorisation passed.
        "sync.items": Route(
            "POST", lambda w, t: "/sync/items", [None], lambda a, t: 401 if a == "anon" else 400
        ),
        "sync.photos": Route(
            "POST", lambda w, t: "/sync/photos", [None], lambda a, t: 401 if a == "anon" else 400
        ),
    }
)
from tests.matrix_sources import source_routes  # noqa: E402 - needs Route and sees above

ROUTES.update(source_routes(Route, sees))
from tests.matrix_findings import finding_routes  # noqa: E402
from tests.matrix_problems import problem_routes  # noqa: E402

ROUTES.update(finding_routes(Route, sees))
from tests.matrix_alerts import alert_routes  # noqa: E402

ROUTES.update(alert_routes(Route, sees))
ROUTES.update(problem_routes(Route, sees))
from tests.matrix_notify import notify_routes  # noqa: E402

ROUTES.update(notify_routes(Route, CHANNELS_OF))
from tests.matrix_assess import assess_routes  # noqa: E402

ROUTES.update(assess_routes(Route, sees))
from tests.matrix_enforce import enforce_routes  # noqa: E402

ROUTES.update(enforce_routes(Route, sees))
from tests.matrix_ops import ops_routes  # noqa: E402

ROUTES.update(ops_routes(Route))
UNCHECKED = {"static"}  # files, the same for everyone


def test_every_route_is_in_the_matrix(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - UNCHECKED
    assert endpoints == set(ROUTES), (
        f"missing: {endpoints - set(ROUTES)}, stale: {set(ROUTES) - endpoints}"
    )
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ROUTES:
            assert ROUTES[rule.endpoint].method in rule.methods, rule


CASES = [
    (endpoint, actor, target)
    for endpoint, route in ROUTES.items()
    for actor in ACTORS
    for target in route.targets
]


@pytest.mark.parametrize(
    ("endpoint", "actor", "target"), CASES, ids=[f"{e}-{a}-{t}" for e, a, t in CASES]
)
def test_access(client, world, endpoint, actor, target):
    route = ROUTES[endpoint]
    if actor != "anon":
        sign_in(client, world.users[actor])
    url = route.url(world, target)
    if route.method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, data={"csrf_token": csrf_token(client)})
    assert response.status_code == route.expect(actor, target), (
        f"{actor} {route.method} {url}: {response.status_code}"
    )
