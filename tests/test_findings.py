"""Upper-level findings (issue 4; RULES §5 scoring item 4 and the share-of-problems rule): the
pure matching as a table, then the services and pages on both databases."""

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from extensions import db
from grid import queries as grid_queries
from grid.demo import point_in
from grid.errors import ServiceError
from grid.models import Grid, User, point
from problems import queries, services
from problems.findings import Candidate, FindingFacts, ProblemFacts, candidates, window_utc
from problems.models import Problem, UpperFinding, finding_match
from tests.conftest import csrf_token

CST = ZoneInfo("Asia/Shanghai")
DAY = date(2024, 6, 15)  # before the demo's data, so nothing of the demo matches
TOWN = "652301101000"  # 三工镇 in 昌吉市 (villages 6523011...)
CHANGJI = "652301000000"
MULEI = "652328000000"  # 木垒哈萨克自治县
LON, LAT = 87.30, 44.01
NORTH_500M = 0.0045  # degrees of latitude, about 500 m
NORTH_2KM = 0.018  # about 2 km


def utc(local: str) -> datetime:
    """A China Standard Time moment as stored: naive UTC."""
    moment = datetime.fromisoformat(local).replace(tzinfo=CST)
    return moment.astimezone(UTC).replace(tzinfo=None)


# --- the pure matching (RULES §5 item 4: could the grid have reported it?) ---------------------


def facts(pid, at, category="dust", lon=LON, lat=LAT):
    return ProblemFacts(pid, category, lon, lat, utc(at))


FINDING = FindingFacts("dust", LON, LAT, DAY, CST)
UNLOCATED = FindingFacts("dust", None, None, DAY, CST)

#   name                       finding    problem                                        expect
MATCHES = [
    ("same place, same day", FINDING, facts(1, "2024-06-15 09:00"), (0.0, 0)),
    ("500 m, 5 days before", FINDING, facts(1, "2024-06-10 09:00", lat=LAT + NORTH_500M), (500, 5)),
    ("other category", FINDING, facts(1, "2024-06-15 09:00", category="noise"), None),
    ("2 km away", FINDING, facts(1, "2024-06-15 09:00", lat=LAT + NORTH_2KM), None),
    ("31 days before", FINDING, facts(1, "2024-05-15 12:00"), None),
    ("30 days before, first minute", FINDING, facts(1, "2024-05-16 00:00"), (0.0, 30)),
    ("31 days before, last minute", FINDING, facts(1, "2024-05-15 23:59"), None),
    ("the finding's day, last minute", FINDING, facts(1, "2024-06-15 23:59"), (0.0, 0)),
    ("the day after the finding", FINDING, facts(1, "2024-06-16 00:00"), None),
    ("report without a location", FINDING, facts(1, "2024-06-15 09:00", lon=None, lat=None), None),
    ("no location, report far away", UNLOCATED, facts(1, "2024-06-12 09:00", lat=45.0), (None, 3)),
    ("neither located", UNLOCATED, facts(1, "2024-06-12 09:00", lon=None, lat=None), (None, 3)),
    (
        "no location, other category",
        UNLOCATED,
        facts(1, "2024-06-12 09:00", category="noise"),
        None,
    ),
    ("no location, too early", UNLOCATED, facts(1, "2024-05-01 09:00"), None),
]


@pytest.mark.parametrize(
    ("finding", "problem", "expect"), [m[1:] for m in MATCHES], ids=[m[0] for m in MATCHES]
)
def test_matching(finding, problem, expect):
    found = candidates(finding, [problem], 1000, 30)
    if expect is None:
        assert found == []
        return
    (candidate,) = found
    distance, days_before = expect
    assert candidate.problem_id == problem.problem_id
    assert candidate.days_before == days_before
    if distance is None:
        assert candidate.distance_m is None
    else:
        assert candidate.distance_m == pytest.approx(distance, abs=5)


def test_the_window_is_the_local_day_in_the_zone():
    # 2024-06-15 06:00 UTC is 14:00 in Shanghai but still 2024-06-14 23:00 in Los Angeles
    problem = ProblemFacts(1, "dust", LON, LAT, datetime(2024, 6, 15, 6, 0))
    assert candidates(FindingFacts("dust", LON, LAT, DAY, CST), [problem], 1000, 0)
    la = ZoneInfo("America/Los_Angeles")
    assert not candidates(FindingFacts("dust", LON, LAT, DAY, la), [problem], 1000, 0)
    assert window_utc(DAY, 30, CST) == (datetime(2024, 5, 15, 16, 0), datetime(2024, 6, 15, 16, 0))


def test_candidates_are_sorted_by_distance_then_latest_first():
    problems = [
        facts(1, "2024-06-01 09:00", lat=LAT + NORTH_500M),
        facts(2, "2024-06-10 09:00", lat=LAT + NORTH_500M),
        facts(3, "2024-06-01 09:00"),
        facts(4, "2024-06-14 09:00", lat=LAT + NORTH_500M / 2),
        facts(5, "2024-06-10 09:00", lat=LAT + NORTH_500M),
    ]
    assert [c.problem_id for c in candidates(FINDING, problems, 1000, 30)] == [3, 4, 2, 5, 1]
    unlocated = candidates(UNLOCATED, problems, 1000, 30)
    assert [c.problem_id for c in unlocated] == [4, 2, 5, 1, 3]
    assert unlocated[0] == Candidate(4, None, 1)


def test_the_distance_and_window_are_parameters():
    problem = facts(1, "2024-06-10 09:00", lat=LAT + NORTH_500M)
    assert candidates(FINDING, [problem], 400, 30) == []
    assert candidates(FINDING, [problem], 600, 4) == []
    assert candidates(FINDING, [problem], 600, 5)
    with pytest.raises(ValueError):
        candidates(FINDING, [problem], -1, 30)


# --- services and pages, on both databases ------------------------------------------------------


def text_of(response):
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token(client), **data})


def english(client):
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_token(client)})


def flashed(client, response):
    """The refusal or confirmation: on the page a 303 leads to, or on the 400 page of input
    that could not be read (grid.inputs)."""
    assert response.status_code in (303, 400), response.status_code
    if response.status_code == 400:
        return text_of(response)
    return text_of(client.get(response.headers["Location"]))


def user(name):
    return db.session.scalar(sa.select(User).where(User.username == name))


def village(index=0, town=TOWN):
    return grid_queries.children(grid_queries.grid_by_code(town))[index]


def mulei_village():
    county = grid_queries.grid_by_code(MULEI)
    return grid_queries.children(grid_queries.children(county, include_key=False)[0])[0]


def add_problem(where, found_at, category="dust", lonlat=None, north=0.0, located=True):
    """A report of the grid in village `where`, at `lonlat` (default: inside the village)."""
    if lonlat is None:
        lon, lat = point_in(where)
        lonlat = (lon, lat + north)
    problem = Problem(
        reporter_id=user("cun").id,
        grid_id=where.id,
        county_id=where.ancestor_ids[1],
        found_at=found_at,
        category=category,
        severity="minor",
        description="测试问题",
        location=point(*lonlat) if located else None,
    )
    db.session.add(problem)
    db.session.flush()
    return problem


def add_finding(county, found_on=DAY, category="dust", lonlat=None, decision="pending"):
    finding = UpperFinding(
        county_id=county.id,
        found_on=found_on,
        kind="inspection",
        category=category,
        location=point(*lonlat) if lonlat else None,
        description="上级检查发现",
        decision=decision,
    )
    db.session.add(finding)
    db.session.flush()
    return finding


def count_findings():
    return db.session.scalar(sa.select(sa.func.count(UpperFinding.id)))


def good_form(**changes):
    place = village(3)
    lon, lat = point_in(place)
    form = {
        "kind": "inspection",
        "category": "dust",
        "county": str(grid_queries.grid_by_code(CHANGJI).id),
        "found_on": DAY.isoformat(),
        "lat": f"{lat:.7f}",
        "lon": f"{lon:.7f}",
        "place": "三工镇某工地",
        "description": "工地未苫盖，扬尘明显",
    }
    form.update(changes)
    return form


def test_recording_a_finding_proposes_the_grids_reports(client, auth):
    place = village(3)
    near = add_problem(place, utc("2024-06-12 10:00"), north=NORTH_500M)
    add_problem(place, utc("2024-06-12 10:00"), category="noise")
    auth.login("zhou")
    english(client)
    assert client.get("/findings/new").status_code == 200
    response = post(client, "/findings/new", **good_form())
    assert response.status_code == 303
    finding = db.session.scalar(sa.select(UpperFinding).order_by(UpperFinding.id.desc()).limit(1))
    assert response.headers["Location"].endswith(f"/findings/{finding.id}")
    assert (finding.county_id, finding.category, finding.kind) == (
        place.ancestor_ids[1],
        "dust",
        "inspection",
    )
    assert finding.decision == "pending" and finding.media_level is None
    assert finding.recorded_by_id == user("zhou").id
    page = text_of(client.get(response.headers["Location"]))
    assert "The finding is recorded." in page
    assert f"/patrol/problems/{near.id}" in page and f"Report {near.id}" in page
    assert re.search(r">\s*3\s*</td> <td>\s*50\d m<", page)  # days before, distance
    assert page.count("/patrol/problems/") == 1  # the noise report is not proposed


def test_a_media_exposure_keeps_its_level(client, auth):
    auth.login("zhou")
    response = post(client, "/findings/new", **good_form(kind="media", media_level="region"))
    assert response.status_code == 303
    finding = db.session.scalar(sa.select(UpperFinding).order_by(UpperFinding.id.desc()).limit(1))
    assert (finding.kind, finding.media_level) == ("media", "region")
    # a level sent with another kind is dropped by the form, not stored
    response = post(client, "/findings/new", **good_form(media_level="national"))
    assert response.status_code == 303
    finding = db.session.scalar(sa.select(UpperFinding).order_by(UpperFinding.id.desc()).limit(1))
    assert (finding.kind, finding.media_level) == ("inspection", None)


BAD = [
    ("unknown category", {"category": "ufo"}, "Choose the category of the problem."),
    ("media without a level", {"kind": "media"}, "A media exposure needs its level"),
    ("unknown kind", {"kind": "rumour"}, "Choose who found it"),
    ("latitude without longitude", {"lon": ""}, "Give both latitude and longitude, or neither."),
    ("unreadable latitude", {"lat": "44°N"}, "Latitude must be a number from -90 to 90."),
    ("latitude out of range", {"lat": "144.0"}, "Latitude must be a number from -90 to 90."),
    ("a future date", {"found_on": "2999-01-01"}, "Found on must be between 2015-01-01 and"),
    ("an unreadable date", {"found_on": "15/06/2024"}, "must be a date written as YYYY-MM-DD."),
    ("no county", {"county": ""}, "Choose the county, city or park"),
    ("a township as county", {"county": "TOWN"}, "Choose the county, city or park"),
    ("no description", {"description": "  "}, "Describe the problem found."),
    ("a point in another county", {"lat": "MULEI", "lon": "MULEI"}, "The location is not in"),
]


@pytest.mark.parametrize(("changes", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_finding_is_refused_and_nothing_is_written(client, auth, changes, message):
    changes = dict(changes)
    if changes.get("county") == "TOWN":
        changes["county"] = str(grid_queries.grid_by_code(TOWN).id)
    if changes.get("lat") == "MULEI":
        lon, lat = point_in(mulei_village())
        changes.update(lat=f"{lat:.7f}", lon=f"{lon:.7f}")
    auth.login("zhou")
    english(client)
    before = count_findings()
    response = post(client, "/findings/new", **good_form(**changes))
    assert response.status_code == 400
    page = text_of(response)
    assert message in page and 'role="alert"' in page
    assert 'value="三工镇某工地"' in page  # what was typed is kept
    assert count_findings() == before


def test_the_service_refuses_a_level_on_another_kind(db_session):
    before = count_findings()
    fields = services.FindingFields(
        county_id=grid_queries.grid_by_code(CHANGJI).id,
        found_on=DAY,
        kind="complaint",
        media_level="national",
        category="dust",
        lon=None,
        lat=None,
        place=None,
        description="x",
    )
    with pytest.raises(ServiceError, match="只有媒体曝光才有媒体级别"):
        services.record_finding(fields, by=user("zhou"))
    assert count_findings() == before


def test_candidates_for_a_located_finding(db_session):
    here, other = village(3), village(4)
    lon, lat = point_in(here)
    county = db_session.get(Grid, here.ancestor_ids[1])
    finding = add_finding(county, lonlat=(lon, lat))
    near_late = add_problem(here, utc("2024-06-15 23:59"), north=NORTH_500M)
    same_spot = add_problem(here, utc("2024-06-01 08:00"))
    first_day = add_problem(here, utc("2024-05-16 00:00"))
    add_problem(here, utc("2024-05-15 23:59"))  # 31 days before
    add_problem(here, utc("2024-06-16 00:00"))  # after the finding's day
    add_problem(here, utc("2024-06-10 08:00"), category="garbage_pile")
    add_problem(here, utc("2024-06-10 08:00"), north=NORTH_2KM)  # too far
    add_problem(here, utc("2024-06-10 08:00"), located=False)  # no location
    # another village of the county at the same spot matches: the county is what counts
    elsewhere = add_problem(other, utc("2024-06-14 08:00"), lonlat=(lon, lat))
    # the same spot but reported by another county does not
    add_problem(mulei_village(), utc("2024-06-14 08:00"), lonlat=(lon, lat))
    found = queries.candidates_for(finding)
    assert [p.id for _c, p in found] == [elsewhere.id, same_spot.id, first_day.id, near_late.id]
    assert [c.days_before for c, _p in found] == [1, 14, 30, 0]
    assert found[-1][0].distance_m == pytest.approx(500, abs=5)


def test_candidates_for_a_finding_without_a_location(db_session):
    here = village(3)
    county = db_session.get(Grid, here.ancestor_ids[1])
    finding = add_finding(county)
    far = add_problem(here, utc("2024-06-10 08:00"), north=NORTH_2KM * 10)
    unplaced = add_problem(here, utc("2024-06-12 08:00"), located=False)
    add_problem(mulei_village(), utc("2024-06-12 08:00"))
    found = queries.candidates_for(finding)
    assert [p.id for _c, p in found] == [unplaced.id, far.id]
    assert all(c.distance_m is None for c, _p in found)


def test_the_match_settings_come_from_the_configuration(app, db_session, monkeypatch):
    here = village(3)
    lon, lat = point_in(here)
    finding = add_finding(db_session.get(Grid, here.ancestor_ids[1]), lonlat=(lon, lat))
    problem = add_problem(here, utc("2024-06-10 08:00"), north=NORTH_500M)
    assert [p.id for _c, p in queries.candidates_for(finding)] == [problem.id]
    monkeypatch.setitem(app.config, "FINDING_MATCH_DISTANCE_M", 400)
    assert queries.candidates_for(finding) == []
    monkeypatch.setitem(app.config, "FINDING_MATCH_DISTANCE_M", 1000)
    monkeypatch.setitem(app.config, "FINDING_MATCH_DAYS", 4)
    assert queries.candidates_for(finding) == []


def linked_ids(finding):
    return set(
        db.session.scalars(
            sa.select(finding_match.c.problem_id).where(finding_match.c.finding_id == finding.id)
        )
    )


def test_deciding_already_reported_links_the_reports(client, auth):
    here = village(3)
    lon, lat = point_in(here)
    finding = add_finding(db.session.get(Grid, here.ancestor_ids[1]), lonlat=(lon, lat))
    one = add_problem(here, utc("2024-06-12 08:00"))
    two = add_problem(here, utc("2024-06-13 08:00"))
    older = add_problem(here, utc("2024-03-01 08:00"))  # of the county, not a candidate
    auth.login("zhou")
    english(client)
    page = text_of(client.get(f"/findings/{finding.id}"))
    assert f'name="problem" value="{one.id}"' in page and f'value="{older.id}"' not in page
    client.post(
        f"/findings/{finding.id}/decide",
        data={
            "csrf_token": csrf_token(client),
            "decision": "already_reported",
            "problem": [str(one.id), str(two.id)],
            "other_problems": f"{older.id}",
        },
    )
    db.session.expire_all()
    assert finding.decision == "already_reported"
    assert finding.decided_by_id == user("zhou").id and finding.decided_at is not None
    assert linked_ids(finding) == {one.id, two.id, older.id}
    page = text_of(client.get(f"/findings/{finding.id}"))
    assert "The grid's reports of this problem" in page and 'name="decision"' not in page
    # a decision is not changed
    response = post(client, f"/findings/{finding.id}/decide", decision="missed")
    assert "already decided" in flashed(client, response)
    db.session.expire_all()
    assert finding.decision == "already_reported" and len(linked_ids(finding)) == 3


def test_deciding_missed_links_nothing(client, auth):
    here = village(3)
    finding = add_finding(db.session.get(Grid, here.ancestor_ids[1]))
    report = add_problem(here, utc("2024-06-12 08:00"))
    auth.login("zhou")
    english(client)
    url = f"/findings/{finding.id}/decide"
    response = post(client, url, decision="missed", problem=str(report.id))
    assert "links no report" in flashed(client, response)
    db.session.expire_all()
    assert finding.decision == "pending"
    response = post(client, url, decision="missed")
    assert "marked as missed by the grid" in flashed(client, response)
    db.session.expire_all()
    assert finding.decision == "missed" and linked_ids(finding) == set()


DECIDE_BAD = [
    ("no decision", {}, "Choose already reported or missed"),
    (
        "already reported without a report",
        {"decision": "already_reported"},
        "Tick the grid&#39;s report",
    ),
    ("a report of another county", {"decision": "already_reported", "other": "MULEI"}, "No report"),
    (
        "a report that does not exist",
        {"decision": "already_reported", "other": "99999999"},
        "No report 99999999",
    ),
    (
        "a typed number that is not one",
        {"decision": "already_reported", "other": "x1"},
        "Other report numbers does not name a record.",
    ),
]


@pytest.mark.parametrize(
    ("data", "message"), [d[1:] for d in DECIDE_BAD], ids=[d[0] for d in DECIDE_BAD]
)
def test_a_bad_decision_is_refused(client, auth, data, message):
    finding = add_finding(grid_queries.grid_by_code(CHANGJI))
    data = dict(data)
    other = data.pop("other", None)
    if other == "MULEI":
        other = str(add_problem(mulei_village(), utc("2024-06-12 08:00")).id)
    if other is not None:
        data["other_problems"] = other
    auth.login("zhou")
    english(client)
    response = post(client, f"/findings/{finding.id}/decide", **data)
    assert message in flashed(client, response)
    db.session.expire_all()
    assert finding.decision == "pending" and linked_ids(finding) == set()


def test_of_two_decisions_one_wins(db_session):
    finding = add_finding(grid_queries.grid_by_code(CHANGJI))
    # another request decides it after this one read it as pending
    db_session.execute(
        sa.update(UpperFinding)
        .where(UpperFinding.id == finding.id)
        .values(decision="already_reported")
        .execution_options(synchronize_session=False)
    )
    assert finding.decision == "pending"
    with pytest.raises(ServiceError, match="已认定"):
        services.decide(finding, "missed", [], by=user("zhou"))
    db_session.expire_all()
    assert finding.decision == "already_reported"


def test_missed_counts_per_county_and_month(db_session):
    changji = grid_queries.grid_by_code(CHANGJI)
    mulei = grid_queries.grid_by_code(MULEI)
    for decision in ("missed", "missed", "already_reported", "pending"):
        add_finding(changji, found_on=date(2024, 6, 3), decision=decision)
    add_finding(changji, found_on=date(2024, 6, 30), decision="missed")
    add_finding(changji, found_on=date(2024, 7, 1), decision="missed")
    add_finding(changji, found_on=date(2024, 5, 31), decision="missed")
    add_finding(mulei, found_on=date(2024, 6, 20), decision="missed")
    add_finding(mulei, found_on=date(2024, 12, 31), decision="missed")
    assert queries.missed_counts(2024, 6) == {changji.id: 3, mulei.id: 1}
    assert queries.prefecture_missed_total(2024, 6) == 4
    assert queries.missed_counts(2024, 7) == {changji.id: 1}
    assert queries.missed_counts(2024, 12) == {mulei.id: 1}
    assert queries.missed_counts(2024, 8) == {} and queries.prefecture_missed_total(2024, 8) == 0


def test_the_list_filters_and_shows_the_share(client, auth):
    changji = grid_queries.grid_by_code(CHANGJI)
    mulei = grid_queries.grid_by_code(MULEI)
    mine = add_finding(changji, found_on=date(2024, 6, 3), decision="missed")
    add_finding(changji, found_on=date(2024, 6, 4), decision="already_reported")
    theirs = add_finding(mulei, found_on=date(2024, 6, 5), decision="missed")
    later = add_finding(changji, found_on=date(2024, 7, 5), decision="missed")
    auth.login("zhou")
    english(client)
    page = text_of(client.get("/findings/?month=2024-06&decision=missed"))
    assert f"/findings/{mine.id}" in page and f"/findings/{theirs.id}" in page
    assert f"/findings/{later.id}" not in page
    assert re.search(r"昌吉市</a></td> <td>1</td> <td>.*?50\.0%", page)
    page = text_of(client.get(f"/findings/?county={changji.id}"))
    assert f"/findings/{later.id}" in page and f"/findings/{theirs.id}" not in page
    assert "Record a finding" in page
    assert client.get("/findings/?month=June").status_code == 400


def test_a_county_sees_its_own_findings_only(client, auth):
    changji = grid_queries.grid_by_code(CHANGJI)
    mine = add_finding(changji)
    theirs = add_finding(grid_queries.grid_by_code(MULEI))
    auth.login("changji")
    page = text_of(client.get("/findings/"))
    assert f"/findings/{mine.id}" in page and f"/findings/{theirs.id}" not in page
    assert "/findings/new" not in page
    assert client.get(f"/findings/{mine.id}").status_code == 200
    assert 'name="decision"' not in text_of(client.get(f"/findings/{mine.id}"))
    assert client.get(f"/findings/{theirs.id}").status_code == 403
    assert client.get(f"/findings/?county={theirs.county_id}").status_code == 403
    before = count_findings()
    assert client.get("/findings/new").status_code == 403
    assert post(client, "/findings/new", **good_form()).status_code == 403
    assert post(client, f"/findings/{mine.id}/decide", decision="missed").status_code == 403
    db.session.expire_all()
    assert count_findings() == before and mine.decision == "pending"


@pytest.mark.parametrize("login", ["cun", "sangong"])
def test_village_and_township_posts_get_403(client, auth, login):
    finding = add_finding(grid_queries.grid_by_code(CHANGJI))
    auth.login(login)
    assert client.get("/findings/").status_code == 403
    assert client.get(f"/findings/{finding.id}").status_code == 403
    assert client.get("/findings/new").status_code == 403
    assert post(client, f"/findings/{finding.id}/decide", decision="missed").status_code == 403


def test_administrators_see_but_do_not_record(client, auth):
    finding = add_finding(grid_queries.grid_by_code(MULEI))
    auth.login("admin")
    assert client.get(f"/findings/{finding.id}").status_code == 200
    assert client.get("/findings/new").status_code == 403
    assert post(client, f"/findings/{finding.id}/decide", decision="missed").status_code == 403


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/findings/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/findings/999999").status_code == 302
    response = client.post("/findings/new", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 401


def test_an_unknown_finding_is_404(client, auth):
    auth.login("zhou")
    assert client.get("/findings/999999").status_code == 404
    assert post(client, "/findings/999999/decide", decision="missed").status_code == 404


def test_the_month_bounds_cross_the_year():
    assert queries.month_bounds(2024, 12) == (date(2024, 12, 1), date(2025, 1, 1))
    assert queries.month_bounds(2024, 2) == (date(2024, 2, 1), date(2024, 3, 1))
