"""The grid's pages and their actions: posts, staffing warnings, the public list, the map data."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from grid import queries, services
from grid.errors import ServiceError
from grid.models import ComplaintChannel, Grid, Membership, Role, User
from grid.time import local_today
from problems.models import Problem
from tests.conftest import csrf_token, sign_in


def grid_named(name):
    return db.session.scalar(sa.select(Grid).where(Grid.name == name))


def user_named(login):
    return db.session.scalar(sa.select(User).where(User.username == login))


def text_of(response):
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def short_village():
    """A demo village with only two supervisors (a deliberate shortfall)."""
    root = queries.root_grid()
    for item in queries.staffing_report(root, local_today()):
        if any(f.code == "village_supervisors_short" for f in item.findings):
            return db.session.get(Grid, item.grid_id)
    raise AssertionError("the demo has no short village")


def post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token(client), **data})


# --- staffing warnings ----------------------------------------------------------------------------


def test_grid_page_shows_its_own_warning(client, auth):
    village = short_village()
    auth.login("admin")
    page = text_of(client.get(f"/grids/{village.id}"))
    assert re.search(r"(Supervisors: 2, at least 3 required|监督员.*2.*3)", page)


def test_county_list_has_its_own_warnings_only(client, auth):
    auth.login("changji")
    changji = grid_named("昌吉市")
    page = client.get(f"/grids/{changji.id}/staffing")
    assert page.status_code == 200
    expected = queries.staffing_report(changji, local_today())
    assert expected, "the demo gives 昌吉市 at least one warning"
    body = page.get_data(as_text=True)
    for item in expected:
        assert item.name in body
    other = queries.staffing_report(grid_named("木垒哈萨克自治县"), local_today())
    for item in other:
        assert item.name not in body


def test_prefecture_list_counts_every_finding(client, auth):
    auth.login("zhou")
    root = queries.root_grid()
    report = queries.staffing_report(root, local_today())
    total = sum(len(r.findings) for r in report)
    body = client.get(f"/grids/{root.id}/staffing").get_data(as_text=True)
    assert body.count('class="finding-') == total
    warnings = client.get(f"/grids/{root.id}/staffing?severity=warning").get_data(as_text=True)
    assert warnings.count('class="finding-warning"') == sum(
        1 for r in report for f in r.findings if f.severity == "warning"
    )
    assert 'class="finding-notice"' not in warnings


# --- posts: given from a date, ended on a day, never rewritten ------------------------------------


def test_appointing_a_supervisor_clears_the_warning(client, auth):
    village = short_village()
    auth.login("admin")
    created = post(
        client, "/people/new", name="新监督员", username="new-sup", password="long-enough-1"
    )
    assert created.status_code == 303
    response = post(
        client,
        f"/people/appoint/{village.id}",
        login="new-sup",
        role="supervisor",
        full_time="0",
        started_on=local_today().isoformat(),
    )
    assert response.status_code == 303
    db.session.expire_all()
    codes = [f.code for f in queries.staffing_of([village.id], local_today()).get(village.id, [])]
    assert "village_supervisors_short" not in codes
    assert "新监督员" in client.get(f"/grids/{village.id}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"role": "supervisor"}, "full-time or part-time"),
        ({"role": "office"}, "level-4"),
        ({"role": "wizard"}, "Post is not one of the choices."),
        ({"role": "supervisor", "full_time": "1", "started_on": "2026/01/01"}, "YYYY-MM-DD"),
    ],
)
def test_bad_posts_are_refused_and_change_nothing(client, auth, form, message):
    village = short_village()
    before = db.session.scalar(sa.select(sa.func.count(Membership.id)))
    auth.login("admin")
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_token(client, "/")})
    response = post(client, f"/people/appoint/{village.id}", login="cun", **form)
    if response.status_code == 400:  # unreadable input (grid.inputs), answered at once
        page = response.get_data(as_text=True)
    else:  # a rule of posts, shown on the page the post returns to
        assert response.status_code == 303
        page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert message in page
    assert db.session.scalar(sa.select(sa.func.count(Membership.id))) == before


def test_a_sub_grid_head_must_cover_children(client, auth):
    town = queries.grid_by_code("652301101000")
    auth.login("admin")
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_token(client, "/")})
    response = post(client, f"/people/appoint/{town.id}", login="cun", role="subhead")
    assert "at least one child grid" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    other = queries.children(queries.grid_by_code("652301102000"))[0]
    response = post(
        client, f"/people/appoint/{town.id}", login="cun", role="subhead", covers=str(other.id)
    )
    assert "own grid only" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_unknown_person_cannot_be_appointed(client, auth):
    auth.login("changji")  # an office, not an administrator
    village = short_village()
    assert (
        post(client, f"/people/appoint/{village.id}", login="cun", role="head").status_code == 403
    )


def test_ending_a_post_keeps_the_history(client, auth, db_session):
    auth.login("admin")
    cun = user_named("cun")
    membership = db.session.scalar(sa.select(Membership).where(Membership.user_id == cun.id))
    last_day = local_today() - timedelta(days=1)
    response = post(client, f"/people/posts/{membership.id}/end", last_day=last_day.isoformat())
    assert response.status_code == 303
    db.session.expire_all()
    membership = db.session.get(Membership, membership.id)
    assert membership.ended_on == last_day and membership.ended_by_id == user_named("admin").id
    # who held the post on a past day is still known (RULES §1 动态管理; monthly assessment)
    village = db.session.get(Grid, membership.grid_id)
    then = {p.user_id for p in queries.posts_in(Grid.id == village.id, last_day)}
    now = {p.user_id for p in queries.posts_in(Grid.id == village.id, local_today())}
    assert cun.id in then and cun.id not in now
    # ending it again is refused, and changes nothing
    again = post(client, f"/people/posts/{membership.id}/end", last_day=local_today().isoformat())
    assert again.status_code == 303
    db.session.expire_all()
    assert db.session.get(Membership, membership.id).ended_on == last_day
    # cun no longer holds a post: the home page says so and the village is out of reach
    auth.login("cun")
    assert client.get(f"/grids/{village.id}").status_code == 403


def test_handover_in_the_demo_is_visible_in_history(client, auth):
    ended = db.session.scalar(
        sa.select(Membership)
        .where(Membership.ended_on.is_not(None))
        .order_by(Membership.id)
        .limit(1)
    )
    assert ended is not None
    auth.login("admin")
    current = client.get(f"/grids/{ended.grid_id}").get_data(as_text=True)
    history = client.get(f"/grids/{ended.grid_id}?history=1").get_data(as_text=True)
    name = db.session.get(User, ended.user_id).name
    assert name not in current and name in history


def test_posts_cannot_overlap(db_session):
    cun = user_named("cun")
    membership = db.session.scalar(sa.select(Membership).where(Membership.user_id == cun.id))
    village = db.session.get(Grid, membership.grid_id)
    with pytest.raises(ServiceError):
        services.appoint(cun, village, Role.SUPERVISOR, local_today(), full_time=True)


def test_a_future_post_does_not_count_yet(db_session):
    village = short_village()
    newcomer = services.create_user("future-sup", "后来者", "long-enough-1")
    services.appoint(
        newcomer,
        village,
        Role.SUPERVISOR,
        local_today() + timedelta(days=10),
        full_time=True,
    )
    codes = [f.code for f in queries.staffing_of([village.id], local_today())[village.id]]
    assert "village_supervisors_short" in codes
    later = queries.staffing_of([village.id], local_today() + timedelta(days=10))
    assert "village_supervisors_short" not in [f.code for f in later.get(village.id, [])]


# --- people --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "甲", "username": "cun", "password": "long-enough-1"}, "already in use"),
        ({"name": "甲", "username": "x-1", "password": "short"}, "at least 8"),
        ({"name": "", "username": "x-2", "password": "long-enough-1"}, "name is required"),
        ({"name": "甲", "username": "x 3", "password": "long-enough-1"}, "without spaces"),
        (
            {"name": "甲", "username": "x-4", "password": "long-enough-1", "mobile": "12345"},
            "11 digits",
        ),
    ],
)
def test_bad_people_are_refused(client, auth, form, message):
    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    auth.login("admin")
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_token(client, "/")})
    response = post(client, "/people/new", **form)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before


def test_disabling_a_person_ends_their_sessions(client, auth, app):
    other = app.test_client()
    token = csrf_token(other)
    other.post("/login", data={"login": "cun", "password": "demo1234", "csrf_token": token})
    assert other.get("/").status_code == 200
    auth.login("admin")
    cun = user_named("cun")
    response = post(client, f"/people/{cun.id}", name=cun.name, mobile=cun.mobile or "")
    assert response.status_code == 303
    assert other.get("/").status_code == 302  # signed out everywhere
    login = other.post(
        "/login", data={"login": "cun", "password": "demo1234", "csrf_token": csrf_token(other)}
    )
    assert login.status_code == 401


def test_county_admin_sees_only_their_people(client, auth):
    changji = grid_named("昌吉市")
    admin = db.session.scalar(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.grid_id == changji.id, Membership.role == Role.ADMIN)
    )
    sign_in(client, admin)
    mulei_person = db.session.scalar(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .join(Grid, Grid.id == Membership.grid_id)
        .where(Grid.code.like("652328%"), Membership.role == Role.SUPERVISOR)
        .limit(1)
    )
    listing = client.get(f"/people/?q={mulei_person.name}").get_data(as_text=True)
    assert f'/people/{mulei_person.id}"' not in listing
    assert client.get(f"/people/{mulei_person.id}").status_code == 404
    assert client.get(f"/people/{user_named('cun').id}").status_code == 200


# --- the public list (RULES §1 art. 19; scoring item 3) -------------------------------------------


def test_public_list_without_log_in(client):
    changji = grid_named("昌吉市")
    page = client.get(f"/public/{changji.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "12369" in body
    channel = db.session.scalar(
        sa.select(ComplaintChannel).where(ComplaintChannel.grid_id == changji.id)
    )
    assert channel.contact in body and "12345" in body  # the prefecture's channel too
    cun = user_named("cun")
    assert cun.name in body and cun.office_phone in body and cun.mobile not in body
    for township in queries.children(changji, include_key=False):
        assert township.name in body
    changed = queries.last_changed(changji, local_today())
    assert changed is not None and changed.isoformat() in body


@pytest.mark.parametrize(
    ("setting", "shown", "hidden"),
    [("mobile", "mobile", "office_phone"), ("none", None, "office_phone")],
)
def test_public_contact_as_configured(app, client, setting, shown, hidden):
    app.config["DISCLOSURE_CONTACT"] = setting
    try:
        body = client.get(f"/public/{grid_named('昌吉市').id}").get_data(as_text=True)
    finally:
        app.config["DISCLOSURE_CONTACT"] = "office_phone"
    cun = user_named("cun")
    assert getattr(cun, hidden) not in body
    if shown:
        assert getattr(cun, shown) in body


def test_public_list_tracks_changes(client, auth, db_session):
    changji = grid_named("昌吉市")
    user = services.create_user("late-head", "新网格长", "long-enough-1")
    town = queries.grid_by_code("652301101000")
    services.appoint(user, town, Role.HEAD, local_today())
    db.session.commit()
    assert queries.last_changed(changji, local_today()) == local_today()
    assert "新网格长" in client.get(f"/public/{changji.id}").get_data(as_text=True)


def test_withdrawn_channel_leaves_the_public_list(client, auth):
    changji = grid_named("昌吉市")
    channel = db.session.scalar(
        sa.select(ComplaintChannel).where(ComplaintChannel.grid_id == changji.id)
    )
    auth.login("changji")
    assert post(client, f"/grids/channels/{channel.id}/retire").status_code == 303
    assert channel.contact not in client.get(f"/public/{changji.id}").get_data(as_text=True)
    added = post(client, f"/grids/{changji.id}/channels", name="大气办微信", contact="微信号 cjdqb")
    assert added.status_code == 303
    assert "微信号 cjdqb" in client.get(f"/public/{changji.id}").get_data(as_text=True)
    empty = post(client, f"/grids/{changji.id}/channels", name="", contact="")
    assert empty.status_code == 303
    assert (
        db.session.scalar(
            sa.select(sa.func.count(ComplaintChannel.id)).where(
                ComplaintChannel.grid_id == changji.id, ComplaintChannel.retired_at.is_(None)
            )
        )
        == 1
    )


def test_public_list_is_for_level_two_only(client):
    assert client.get(f"/public/{queries.grid_by_code('652301101000').id}").status_code == 404
    assert client.get("/public/999999").status_code == 404


# --- map data and point lookup -------------------------------------------------------------------


def test_geojson_for_a_county(client, auth):
    auth.login("changji")
    changji = grid_named("昌吉市")
    response = client.get(f"/grids/{changji.id}/map.geojson?z=7")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    data = response.json
    focus = [f for f in data["features"] if f["properties"]["focus"]]
    assert len(focus) == 1 and focus[0]["id"] == changji.id
    names = {f["properties"]["name"] for f in data["features"]}
    assert {t.name for t in queries.children(changji)} <= names
    etag = response.headers["ETag"]
    assert (
        client.get(
            f"/grids/{changji.id}/map.geojson?z=7", headers={"If-None-Match": etag}
        ).status_code
        == 304
    )


def test_geojson_is_simplified_for_the_zoom(client, auth):
    auth.login("changji")
    changji = grid_named("昌吉市")

    def vertices(z):
        data = client.get(f"/grids/{changji.id}/map.geojson?z={z}").json
        return sum(len(str(f["geometry"]["coordinates"])) for f in data["features"])

    assert vertices(5) < vertices(9) < vertices(15)


def test_locate_endpoint(client, auth):
    auth.login("cun")
    village = db.session.get(
        Grid,
        db.session.scalar(
            sa.select(Membership.grid_id).where(Membership.user_id == user_named("cun").id)
        ),
    )
    from grid.demo import point_in

    lon, lat = point_in(village)
    data = client.get(f"/grids/locate?lat={lat}&lon={lon}").json
    assert data["level4"]["id"] == village.id
    assert data["level3"]["id"] == village.parent_id


@pytest.mark.parametrize("query", ["", "?lat=abc&lon=87", "?lat=95&lon=87", "?lat=44&lon=nan"])
def test_locate_bad_input(client, auth, query):
    auth.login("cun")
    response = client.get(f"/grids/locate{query}")
    assert response.status_code == 400 and response.json["message"]


def test_home_page_counts(client, auth):
    auth.login("sangong")
    body = text_of(client.get("/"))
    town = queries.grid_by_code("652301101000")
    assert town.name in body
    assert re.search(
        rf">\s*{len(queries.children(town, include_key=False))}\s*<",
        client.get("/").get_data(as_text=True),
    )


def test_the_public_finds_the_complaint_form_and_calls_the_hotline_in_one_tap(client):
    """/login, /public/ and a county's page link to the complaint form and the hotline as tel:
    (issue 10): the public should not have to know an address or retype a number."""
    county = db.session.scalar(sa.select(Grid).where(Grid.level == 2).order_by(Grid.id).limit(1))
    db.session.add(
        ComplaintChannel(grid_id=county.id, name="县环保举报电话", contact="0994-2345678")
    )
    db.session.flush()
    for path in ("/login", "/public/", f"/public/{county.id}"):
        page = client.get(path).get_data(as_text=True)
        assert 'href="/complaint"' in page and "在线举报污染问题" in page, path
        assert 'href="tel:12369"' in page, path
    page = client.get(f"/public/{county.id}").get_data(as_text=True)
    assert 'href="tel:09942345678">0994-2345678</a>' in page
    assert client.get("/complaint").status_code == 200


def test_a_problems_page_belongs_to_the_problems_tab(client, auth):
    """Its address starts /patrol/problems/, but it is a problem's page: 问题 is the current tab,
    not 巡查 (issue 10)."""
    auth.login("cun")
    problem = db.session.scalar(sa.select(Problem).order_by(Problem.id).limit(1))
    assert problem is not None  # the demo loads problems
    page = client.get(f"/patrol/problems/{problem.id}").get_data(as_text=True)
    nav = page[page.index('class="mainnav"') :].split("</nav>")[0]
    current = re.findall(r'<a href="([^"]+)"[^>]*aria-current="page"', nav)
    assert current and set(current) == {"/problems/"}
