"""The supervisors' own month (assess/people.py, issue 12), built through the real services for
October 2025 and checked against a count made by hand.

October 2025 by the official calendar (State Council notice for 2025): the 1st to the 8th off
(National Day and Mid-Autumn), Saturday the 11th an adjusted working day, so 18 working days:
9, 10, 11, 13-17, 20-24, 27-31. Patrols, visits and alert answers come from the phone's queue,
recorded by an app start before the upload, so the server places them by the device's clock
(sync/clock.py) on the October days written below."""

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from alerts import dispatch, raising
from assess import people
from evidence import services as evidence
from extensions import db
from grid import services as grid_services
from grid.models import Role
from grid.time import local_zone
from problems import services as workflow
from problems.escalation import State
from problems.models import problem_photo
from sources import services as ledger
from tests import factories
from tests.conftest import csrf_token, sign_in
from tests.test_links import links_in_main
from tests.test_sync import Phone

MONTH = date(2025, 10, 1)
POSTED = date(2025, 9, 1)
OCT = "2025-10"


def at(day: int, hour: int, minute: int = 0, month: int = 10) -> datetime:
    """A local moment in 2025 as stored (naive UTC)."""
    local = datetime.combine(date(2025, month, day), time(hour, minute), tzinfo=local_zone())
    return local.astimezone(UTC).replace(tzinfo=None)


def queued(kind: str, data: dict, moment: datetime, client_id: str | None = None) -> dict:
    """An item recorded at `moment` by an earlier app start: placed by the device's clock."""
    device_ms = int((moment - datetime(1970, 1, 1)).total_seconds() * 1000)
    return {
        "client_id": client_id or str(uuid.uuid4()),
        "kind": kind,
        "data": data,
        "device_ms": device_ms,
        "elapsed_ms": 1000.0,
        "boot": "an-earlier-start",
    }


def send(client, user, *items) -> list[int]:
    sign_in(client, user)
    results = Phone(client).send(*items).json["results"]
    assert [r["status"] for r in results] == [201] * len(items), results
    return [r["id"] for r in results]


def patrol(client, user, grid, visits, start=None) -> None:
    """A patrol of `grid` started 10 minutes before its first visit (or at `start`), visiting
    each (source, moment), ended 10 minutes after the last."""
    pid = str(uuid.uuid4())
    moments = [m for _s, m in visits]
    begin = start or moments[0] - timedelta(minutes=10)
    items = [queued("patrol.start", {"grid_id": grid.id}, begin, pid)]
    for source, moment in visits:
        data = {"patrol": pid, "source_id": source.id, "outcome": "normal"}
        items.append(queued("visit", data, moment))
    items.append(queued("patrol.end", {"patrol": pid}, max(moments or [begin]) + timedelta(0, 600)))
    send(client, user, *items)


def source(world, village: int, created: date):
    lon, lat = world.inside(village)
    fields = ledger.SourceFields(
        name=f"测试源{uuid.uuid4().hex[:6]}", kind="industrial", lon=lon, lat=lat
    )
    return ledger.create_source(world.county, fields, by=world.county_office, on=created)


@pytest.fixture
def october(client, make_world, make_problem):
    """The month, as the module's docstring says."""
    w = make_world(villages=2, started_on=POSTED)
    s = w.supervisor  # village 1, from September
    colleague = factories.person("colleague")  # village 1, until 14 October
    post = grid_services.appoint(colleague, w.villages[0], Role.SUPERVISOR, POSTED, full_time=True)
    grid_services.end_post(post, date(2025, 10, 14))
    s2 = factories.person("second")  # village 2
    grid_services.appoint(s2, w.villages[1], Role.SUPERVISOR, POSTED, full_time=True)
    town = factories.person("town-supervisor")  # the township itself
    grid_services.appoint(town, w.township, Role.SUPERVISOR, POSTED, full_time=True)
    gone = factories.person("gone")  # left before October: not listed
    grid_services.end_post(
        grid_services.appoint(gone, w.villages[1], Role.SUPERVISOR, POSTED, full_time=True),
        date(2025, 9, 30),
    )
    a, b = source(w, 0, POSTED), source(w, 0, POSTED)
    c = source(w, 0, date(2025, 10, 20))  # due from the 20th
    source(w, 1, POSTED)  # village 2's one source
    v1 = w.villages[0]

    # s: patrol days 9, 10, 11 (adjusted Saturday), 21, 31 (5 of 18); days off 7 and 12.
    patrol(client, s, v1, [(a, at(7, 10))])  # a holiday
    patrol(client, s, v1, [(a, at(9, 9)), (b, at(9, 9, 30))])
    patrol(client, s, v1, [(a, at(10, 10))])
    patrol(client, s, v1, [(a, at(11, 10)), (b, at(11, 10, 20))])
    patrol(client, s, v1, [(b, at(12, 10))])  # a Sunday
    patrol(client, s, v1, [], start=at(20, 9))  # started, nothing visited: no patrol day
    patrol(client, s, v1, [(a, at(21, 10)), (b, at(21, 10, 5)), (c, at(21, 10, 9))])
    patrol(client, s, v1, [(a, at(31, 23, 50)), (b, at(1, 0, 10, month=11))])  # past midnight
    patrol(client, colleague, v1, [(b, at(10, 11))])
    patrol(client, town, w.township, [(a, at(9, 15))])

    # Alerts: answered at 50 minutes (disposal at 110), at 90 minutes, never; and one of
    # September answered in time, which is not October's.
    station, _token = factories.make_station(w)
    answers = {}
    for pollutant, instructed, onsite, disposal in (
        ("PM2.5", at(15, 10), 50, 110),
        ("PM10", at(16, 10), 90, 90),
        ("NO2", at(17, 10), None, None),
        ("SO2", at(30, 22, month=9), 30, 60),
    ):
        alert = raising.push_by_hand(station, pollutant, "核查", w.county_office)
        [sent] = dispatch.dispatch(alert, [s.id], w.county_office, None)
        sent.instructed_at = instructed  # sent then (the service sends now)
        sent.onsite_due = instructed + timedelta(hours=1)
        sent.disposal_due = instructed + timedelta(hours=2)
        db.session.flush()
        items = []
        if onsite is not None:
            data = {"dispatch": sent.id, "note": "现场核查", "photos": 1, "accuracy": 8}
            data.update(lat=station.lat, lon=station.lon)
            items.append(queued("alert.onsite", data, instructed + timedelta(minutes=onsite)))
        if disposal is not None:
            data = {"dispatch": sent.id, "note": "已处置"}
            items.append(queued("alert.disposal", data, instructed + timedelta(minutes=disposal)))
        if items:
            send(client, s, *items)
        answers[pollutant] = alert

    # Problems: approved up by the township (confirmed), sent back, resolved in the village;
    # one of September; the colleague's one, waiting.
    upheld = make_problem(w, State.COUNTY, found_at=at(9, 9, 35))
    back = make_problem(w, State.TOWNSHIP, found_at=at(10, 10, 5))
    workflow.act(
        back,
        w.township_head,
        workflow.Act(event="send_back", version=back.version, comment="证据不足"),
        evidence.photo_store(),
    )
    resolved = make_problem(w, State.RESOLVED, found_at=at(11, 10, 25))
    make_problem(w, State.COUNTY, found_at=at(30, 12, month=9))
    make_problem(w, State.VILLAGE, found_at=at(10, 11, 5), reporter_id=colleague.id)

    # Photos: one in order, one without a location (flagged), one flagged only for the
    # server's missing font (not counted), and a flagged one of September.
    inside = (*w.inside(0), 8.0)
    kept = {}
    for name, moment, fix, extra in (
        ("clean", at(9, 9, 31), inside, ()),
        ("no_location", at(10, 10, 1), None, ()),
        ("font", at(11, 10, 21), inside, ({"code": "watermark_font_missing", "detail": {}},)),
        ("september", at(29, 10, month=9), None, ()),
    ):
        moment_of = evidence.capture(v1, s.name, moment, fix=fix)
        result = evidence.process(factories.jpeg(len(kept) + 11), moment_of)
        photo = evidence.keep(
            evidence.photo_store(),
            result,
            grid_id=v1.id,
            uploaded_by_id=s.id,
            captured_at=moment,
            fix=fix,
            extra_flags=extra,
        )
        evidence.attach(problem_photo, upheld.id, photo)
        kept[name] = photo
    assert kept["clean"].flags == [] and [f["code"] for f in kept["no_location"].flags] == [
        "no_location"
    ]
    db.session.flush()
    return SimpleNamespace(
        world=w,
        s=s,
        colleague=colleague,
        s2=s2,
        town=town,
        gone=gone,
        sources=(a, b, c),
        alerts=answers,
        problems=(upheld, back, resolved),
        photos=kept,
    )


def rows_of(grid):
    return {r.user_id: r for r in people.supervisor_month(grid, MONTH)}


def figures(r):
    return (
        (r.patrol_days, r.working_days, r.days_off_patrolled),
        (r.patrolled, r.due),
        (r.within_1h, r.within_2h, r.dispatched),
        (r.reported, r.confirmed),
        (len(r.flagged), r.photos),
    )


def test_the_month_is_counted_as_by_hand(october):
    o = october
    rows = rows_of(o.world.township)
    assert set(rows) == {o.s.id, o.colleague.id, o.s2.id, o.town.id}  # not the one who left
    # Sources: a and b due on 18 working days, c on the 10 from the 20th = 46; patrolled by
    # them on the 9th (2), 10th (1), 11th (2), 21st (3), 31st (1) = 9.
    assert figures(rows[o.s.id]) == ((5, 18, 2), (9, 46), (1, 2, 3), (3, 1), (1, 3))
    # Posted until the 14th: working days 9, 10, 11, 13, 14; b visited on the 10th.
    assert figures(rows[o.colleague.id]) == ((1, 5, 0), (1, 10), (0, 0, 0), (1, 0), (0, 0))
    assert figures(rows[o.s2.id]) == ((0, 18, 0), (0, 18), (0, 0, 0), (0, 0), (0, 0))
    # A township supervisor has no per-source cadence.
    assert figures(rows[o.town.id]) == ((1, 18, 0), (None, None), (0, 0, 0), (0, 0), (0, 0))
    assert rows[o.town.id].level == 3 and rows[o.s.id].level == 4
    assert {r.township.id for r in rows.values()} == {o.world.township.id}
    s = rows[o.s.id]
    assert [p.id for p in s.flagged] == [o.photos["no_location"].id]
    assert [r.problem_id for r in s.reports if r.confirmed] == [o.problems[0].id]
    working = {d.day.day for d in s.days if d.working}
    assert working == {9, 10, 11, 13, 14, 15, 16, 17, 20, 21, 22, 23, 24, 27, 28, 29, 30, 31}
    # The county sees the same people, under their township.
    county = rows_of(o.world.county)
    assert figures(county[o.s.id]) == figures(s)
    assert people.by_township(list(county.values()))[0][0].id == o.world.township.id


def test_the_queries_do_not_grow_with_the_people(october):
    o = october

    def counted() -> tuple[int, int]:
        statements = []

        def seen(*_args):
            statements.append(1)

        sa.event.listen(db.engine, "before_cursor_execute", seen)
        try:
            rows = people.supervisor_month(o.world.county, MONTH)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", seen)
        return len(statements), len(rows)

    before, four = counted()
    for i in range(3):
        more = factories.person(f"more{i}")
        grid_services.appoint(
            more, o.world.villages[i % 2], Role.SUPERVISOR, POSTED, full_time=True
        )
    db.session.flush()
    after, seven = counted()
    assert (four, seven) == (4, 7)
    assert after == before


def english(client):
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_token(client)})


def link_text(html: str, user_id: int, cls: str) -> str:
    row = re.search(rf'<tr id="person-{user_id}">(.*?)</tr>', html, re.S).group(1)
    return re.search(rf'class="{cls}" href="[^"]*">([^<]*)<', row).group(1)


def test_the_township_sees_the_figures_and_the_records_behind_them(client, october):
    o = october
    sign_in(client, o.world.township_head)
    english(client)
    page = client.get(f"/assess/people/{o.world.township.id}?month={OCT}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for cls, text in (
        ("patrol-days", "5 of 18"),
        ("sources", "9 of 46"),
        ("within-1h", "1 of 3"),
        ("within-2h", "2 of 3"),
        ("reported", "3"),
        ("confirmed", "1"),
        ("flagged", "1 of 3"),
    ):
        assert link_text(html, o.s.id, cls) == text, cls
    assert o.gone.name not in html
    person = f"/assess/people/{o.world.township.id}/{o.s.id}?month={OCT}"
    assert f'href="{person}#days"' in html
    shown = client.get(person)
    assert shown.status_code == 200
    detail = shown.get_data(as_text=True)
    # Every patrol with a visit in October (not the one without), each page showing its visits.
    patrols = sorted(set(re.findall(r'class="patrol" href="/patrol/(\d+)"', detail)))
    assert len(patrols) == 7
    for pid in patrols:
        opened = client.get(f"/patrol/{pid}")
        assert opened.status_code == 200
        assert any(src.name in opened.get_data(as_text=True) for src in o.sources)
    problems = re.findall(r'class="problem" href="/patrol/problems/(\d+)"', detail)
    assert sorted(map(int, problems)) == sorted(p.id for p in o.problems)
    for pid in problems:
        opened = client.get(f"/patrol/problems/{pid}")
        assert opened.status_code == 200 and f"#{pid}" in opened.get_data(as_text=True)
    photo = re.findall(r'class="photo" href="(/patrol/photos/\d+/display)"', detail)
    assert photo == [f"/patrol/photos/{o.photos['no_location'].id}/display"]
    assert client.get(photo[0]).status_code == 200
    for url in (f"/assess/people/{o.world.township.id}?month={OCT}", person):
        for link in links_in_main(client.get(url).get_data(as_text=True)):
            assert client.get(link).status_code == 200, (url, link)  # no link to a refusal
    # The township does not see the county's alerts: the stations are named, not linked.
    assert 'class="alert"' not in detail and detail.count("not recorded") == 2
    assert detail.count(">late<") == 1 and detail.count(">in time<") == 3


def test_the_county_opens_the_alerts_too(client, october):
    o = october
    sign_in(client, o.world.county_office)
    english(client)
    county = client.get(f"/assess/people/{o.world.county.id}?month={OCT}")
    assert county.status_code == 200
    html = county.get_data(as_text=True)
    assert o.world.township.name in html and link_text(html, o.s.id, "within-1h") == "1 of 3"
    detail = client.get(f"/assess/people/{o.world.county.id}/{o.s.id}?month={OCT}")
    alerts = re.findall(r'class="alert" href="/alerts/(\d+)"', detail.get_data(as_text=True))
    assert sorted(map(int, alerts)) == sorted(o.alerts[p].id for p in ("PM2.5", "PM10", "NO2"))
    for alert_id in alerts:
        assert client.get(f"/alerts/{alert_id}").status_code == 200
    town = client.get(f"/assess/people/{o.world.township.id}?month={OCT}").get_data(as_text=True)
    assert f'href="/assess/people/{o.world.county.id}?month={OCT}"' in town  # the trail up
    for page in (html, town, detail.get_data(as_text=True)):
        for link in links_in_main(page):
            assert client.get(link).status_code == 200, link


def test_who_may_see(client, october, make_world):
    o = october
    w = o.world
    town = f"/assess/people/{w.township.id}?month={OCT}"
    mine = f"/assess/people/{w.township.id}/{o.s.id}?month={OCT}"
    other = make_world(villages=1)
    for user, url, status in (
        (w.township_head, town, 200),
        (w.township_head, mine, 200),
        (w.township_head, f"/assess/people/{w.county.id}?month={OCT}", 403),
        (w.county_office, town, 200),
        (other.township_head, town, 403),
        (other.township_head, mine, 403),
        (w.supervisor, town, 403),  # a village supervisor: not even their own row
        (w.supervisor, mine, 403),
        (w.supervisor, f"/assess/people/{w.village.id}?month={OCT}", 404),
        (w.township_head, f"/assess/people/{w.township.id}/{o.gone.id}?month={OCT}", 404),
        (w.township_head, f"/assess/people/{w.township.id}/{w.village_head.id}", 404),
        (w.township_head, f"/assess/people/{w.township.id}?month=2025-13", 400),
    ):
        sign_in(client, user)
        answer = client.get(url)
        assert answer.status_code == status, (user.username, url, answer.status_code)
