"""The air-quality ranking of level-2 grids (assess/air.py, RULES §6) and the weekly key areas
(§7), from readings stored through the real services and records made by the office's services.

The readings are daily values of every pollutant at `factor` times BASE, whose composite index
is exactly 6 (each pollutant at its HJ 663 limit S_i): a month at factor f has the index 6f, so
every index, rate and place below is counted by hand."""

import contextlib
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from alerts import services as alert_services
from alerts.models import POLLUTANTS, Period
from alerts.services import Value
from assess import air, air_services
from assess.air_models import KeyAreaCheck, KeyAreaItem, TamperedStation
from extensions import db
from grid import services as grid_services
from grid.errors import ServiceError
from grid.models import GridKind, Role
from grid.time import local_day_utc, local_today
from tests import factories
from tests.conftest import csrf_token, sign_in

BASE = {"PM2.5": 35, "PM10": 70, "SO2": 60, "NO2": 40, "CO": 4, "O3": 160}  # index 6
MARCH = date(2011, 3, 1)
MARCH_BEFORE = date(2010, 3, 1)
CRITICISM, DEPUTY, HEAD, ACCOUNTABILITY = (
    "通报批评",
    "分管领导公开约谈",
    "主要领导公开约谈",
    "问责建议",
)


def put_days(station, days, factor):
    """A daily value of each pollutant on each of `days`, at `factor` times BASE."""
    values = [
        Value(p, Period.DAY, local_day_utc(day)[0], round(BASE[p] * factor, 6))
        for day in days
        for p in POLLUTANTS
    ]
    alert_services.store(station, values, "http")


def put_month(station, first, factor):
    put_days(station, air.month_days(first), factor)


def county_with_station(make_world, factors: dict[date, float]):
    """A fresh county with one micro-station holding a month of values per `factors`."""
    world = make_world(villages=1)
    station, _token = factories.make_station(world)
    for first, factor in factors.items():
        put_month(station, first, factor)
    return world, station


def row_of(rows, world):
    [row] = [r for r in rows if r.county_id == world.county.id]
    return row


@pytest.fixture
def march(make_world):
    """Six counties in March 2011 against March 2010 (index = 6 x factor):
    a: two stations at 0.4 and 0.6 (county mean 0.5), last year 1.0 -> rate 0.5
    b: 0.8 against 1.0 -> 0.2;  c: 0.4 against 0.5 -> 0.2 (a tie with b)
    d: 0.9 against 1.0 -> 0.1;  e: 1.0 this year only -> not ranked
    t: 1.0 on the 1st-21st and 0.2 on the 22nd-31st (a filter fitted) against 1.0:
       PM2.5, PM10, SO2 and NO2 average 23/31 of BASE, CO's 95th and O3's 90th percentiles
       stay at BASE, so the index is 4 x 23/31 + 2 = 154/31 and the rate 32/186."""
    a, a1 = county_with_station(make_world, {MARCH: 0.4, MARCH_BEFORE: 1.0})
    a2, _token = factories.make_station(a)
    put_month(a2, MARCH, 0.6)
    b, _s = county_with_station(make_world, {MARCH: 0.8, MARCH_BEFORE: 1.0})
    c, _s = county_with_station(make_world, {MARCH: 0.4, MARCH_BEFORE: 0.5})
    d, _s = county_with_station(make_world, {MARCH: 0.9, MARCH_BEFORE: 1.0})
    e, _s = county_with_station(make_world, {MARCH: 1.0})
    t, t_station = county_with_station(make_world, {MARCH_BEFORE: 1.0})
    days = air.month_days(MARCH)
    put_days(t_station, days[:21], 1.0)
    put_days(t_station, days[21:], 0.2)
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "t": t, "t_station": t_station}


def test_the_counties_are_ranked_by_the_improvement_of_their_index(march):
    rows = air.month_ranking(MARCH)
    got = {k: row_of(rows, march[k]) for k in "abcdet"}
    assert got["a"].index == pytest.approx(3.0) and got["a"].last_year == pytest.approx(6.0)
    assert got["a"].stations == 2  # the county's day is the mean of its stations'
    assert got["b"].index == pytest.approx(4.8) and got["c"].index == pytest.approx(2.4)
    assert got["t"].index == pytest.approx(154 / 31)
    assert got["a"].rate == pytest.approx(0.5) and got["t"].rate == pytest.approx(32 / 186)
    places = {k: r.place for k, r in got.items()}
    assert places == {"a": 1, "b": 2, "c": 2, "t": 4, "d": 5, "e": None}  # b and c tie
    assert [k for k, r in got.items() if r.last] == ["d"]
    assert got["d"].streak == 1 and got["d"].action == CRITICISM  # February is not ranked
    assert got["a"].action is None and got["a"].streak == 0
    e = got["e"]
    assert e.index == pytest.approx(6.0) and e.last_year is None and e.rate is None
    assert not e.last and e.action is None
    # The ranked come first, best first; then the unranked (the demo's grids among them).
    ids = {k: march[k].county.id for k in "abcdt"}
    assert [r.place for r in rows[:5]] == [1, 2, 2, 4, 5]
    assert rows[0].county_id == ids["a"] and {r.county_id for r in rows[1:3]} == {
        ids["b"],
        ids["c"],
    }
    assert [r.county_id for r in rows[3:5]] == [ids["t"], ids["d"]]
    assert all(r.place is None for r in rows[5:])


def test_a_verified_tampering_counts_the_months_highest_values_and_changes_the_place(march):
    station = march["t_station"]
    zhou = factories.person("zhou-air")
    made = air_services.record_tampering(
        station, date(2011, 3, 22), date(2011, 3, 31), "filter", "加装过滤棉，现场核实", by=zhou
    )
    rows = air.month_ranking(MARCH)
    t, d = row_of(rows, march["t"]), row_of(rows, march["d"])
    # The ten days count at the month's highest (BASE): the index is 6 again, no improvement.
    assert t.index == pytest.approx(6.0) and t.rate == pytest.approx(0.0)
    assert t.tampered_days == 10
    assert (t.place, t.last, t.action) == (5, True, CRITICISM)
    assert (d.place, d.last, d.action) == (4, False, None)
    # Withdrawn, it counts for nothing: the places are as measured.
    air_services.withdraw_tampering(made, "核实有误", by=zhou)
    rows = air.month_ranking(MARCH)
    assert row_of(rows, march["t"]).place == 4 and row_of(rows, march["t"]).tampered_days == 0
    assert db.session.get(TamperedStation, made.id).withdraw_reason == "核实有误"


def test_days_cut_off_by_a_tampering_are_filled_with_the_months_highest(make_world):
    """A station cut from its power sends nothing: 21 days are too few for a month (27), until
    the tampering fills the 10 others with the month's highest."""
    world, station = county_with_station(make_world, {})
    days = air.month_days(MARCH)
    put_days(station, days[:20], 0.5)
    put_days(station, days[20:21], 1.0)  # the highest of the month
    before = air.county_indices(MARCH)[world.county.id]
    assert before.index is None and "21 valid days, 27 needed" in before.invalid["PM2.5"]
    air_services.record_tampering(station, days[21], days[-1], "power", "断电", by=None)
    after = air.county_indices(MARCH)[world.county.id]
    # PM2.5 and the like: (20 x 0.5 + 11 x 1.0) / 31 of BASE; CO's 95th and O3's 90th
    # percentiles of 20 x 0.5 then 11 x 1.0 are BASE.
    assert after.index == pytest.approx(4 * (21 / 31) + 2)
    assert after.tampered_days == 10


def test_daily_values_come_from_the_hours_or_from_what_the_station_sent(make_world):
    world = make_world(villages=1)
    station, _token = factories.make_station(world)
    day = date(2011, 3, 5)
    start = local_day_utc(day)[0]
    values = []
    for h in range(24):
        at = start + timedelta(hours=h)
        values.append(Value("PM2.5", Period.HOUR, at, 10 + h))  # mean 21.5
        values.append(Value("O3", Period.HOUR, at, 200 if h >= 16 else 100))  # 8 h max 200
        values.append(Value("CO", Period.HOUR, at, 1.0, flag="D" if h < 5 else "N"))  # 19 valid
        for m in (0, 30):  # minutes averaged by the hour: 2h and 2h + 2 -> 2h + 1
            values.append(Value("NO2", Period.MINUTE, at + timedelta(minutes=m), 2 * h + m / 15))
        if h < 19:
            values.append(Value("SO2", Period.HOUR, at, 50))  # 19 hours: not a valid day
    values.append(Value("SO2", Period.DAY, start, 33))  # stands in for the invalid hours
    values.append(Value("PM2.5", Period.DAY, start, 99))  # the hours are valid: not used
    alert_services.store(station, values, "http")
    found = air.daily_values(MARCH, [station.id])[station.id][day]
    assert found["PM2.5"] == pytest.approx(21.5)
    assert found["NO2"] == pytest.approx(24.0)
    assert found["O3"] == pytest.approx(200.0)
    assert found["SO2"] == pytest.approx(33.0)
    assert "CO" not in found  # 19 valid hours and nothing sent for the day


@pytest.mark.parametrize(
    ("y_february", "streak", "action"),
    [(0.5, 3, HEAD), (0.95, 1, CRITICISM)],
    ids=["last-three-months", "not-last-in-february"],
)
def test_the_last_place_streak_climbs_the_ladder(make_world, y_february, streak, action):
    """x improves by 10% each month, y by 50% (or only 5% in February, making y last then)."""
    months = [date(2013, 1, 1), date(2013, 2, 1), date(2013, 3, 1)]
    x, x_station = county_with_station(
        make_world, {**{m: 0.9 for m in months}, **{air.year_before(m): 1.0 for m in months}}
    )
    y, y_station = county_with_station(
        make_world, {**{m: 0.5 for m in months[::2]}, **{air.year_before(m): 1.0 for m in months}}
    )
    put_month(y_station, months[1], y_february)
    row = row_of(air.month_ranking(months[2]), x)
    assert (row.last, row.streak, row.action) == (True, streak, action)
    assert row_of(air.month_ranking(months[1]), y).last == (y_february == 0.95)
    if streak == 3:  # a fourth month in a row before: more than three, accountability
        december = date(2012, 12, 1)
        for first, fx, fy in ((december, 0.9, 0.5), (air.year_before(december), 1.0, 1.0)):
            put_month(x_station, first, fx)
            put_month(y_station, first, fy)
        row = row_of(air.month_ranking(months[2]), x)
        assert (row.streak, row.action) == (4, ACCOUNTABILITY)


@contextlib.contextmanager
def counting_statements():
    sent = []

    def count(_conn, _cursor, statement, _parameters, _context, _many):
        sent.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def test_the_number_of_queries_does_not_grow_with_the_counties(march, make_world):
    def statements():
        db.session.flush()
        db.session.expunge_all()
        with counting_statements() as sent:
            air.month_ranking(MARCH)
        return len(sent)

    before = statements()
    for factor in (0.7, 0.6):  # two more counties, ranked between the others
        county_with_station(make_world, {MARCH: factor, MARCH_BEFORE: 1.0})
    assert statements() == before


# --- bad input is refused, nothing written ----------------------------------------------------


def count(model):
    db.session.flush()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_bad_tampering_is_refused_and_nothing_written(make_world):
    world = make_world(villages=1)
    station, _token = factories.make_station(world)
    today = local_today()
    before = count(TamperedStation)
    bad = [
        (today - timedelta(days=1), today - timedelta(days=2), "filter", "后于"),
        (today, today + timedelta(days=1), "filter", "未来"),
        (today, today, "filter", "  "),
        (today, today, "magic", "不明"),
    ]
    for first, last, kind, reason in bad:
        with pytest.raises(ServiceError):
            air_services.record_tampering(station, first, last, kind, reason, by=None)
    assert count(TamperedStation) == before
    made = air_services.record_tampering(
        station, today - timedelta(days=5), today - timedelta(days=3), "moved", "移位", by=None
    )
    with pytest.raises(ServiceError, match="已记录一次干扰"):
        air_services.record_tampering(
            station, today - timedelta(days=3), today, "power", "重叠", by=None
        )
    with pytest.raises(ServiceError):
        air_services.withdraw_tampering(made, " ", by=None)
    air_services.withdraw_tampering(made, "误录", by=None)
    with pytest.raises(ServiceError, match="已撤销"):
        air_services.withdraw_tampering(made, "再次", by=None)
    assert count(TamperedStation) == before + 1


# --- RULES §7: key areas, weekly ---------------------------------------------------------------


def test_each_check_not_rectified_climbs_the_key_area_ladder(make_world):
    world = make_world(villages=1)
    key = grid_services.add_grid("测试站重点网格", GridKind.KEY, world.county)
    monday = air.monday_of(local_today())
    item = air_services.schedule_key_area(
        world.county, monday - timedelta(weeks=4), "裸土未苫盖", by=None, key_grid=key
    )
    assert item.week == monday - timedelta(weeks=4)
    checks = [monday - timedelta(days=21), monday - timedelta(days=12), monday - timedelta(days=7)]
    expected = [CRITICISM, DEPUTY, HEAD]
    for day, action in zip(checks, expected, strict=True):
        air_services.record_check(item, day, False, by=None, note="仍未整改")
        [row] = [r for r in air.key_area_rows(week=day) if r.item.id == item.id]
        assert row.action == action and row.key_grid == key.name and row.open
        assert action in air.key_area_actions(day.replace(day=1))[world.county.id]
    # A week in the past still shows the rung reached then.
    [then] = [r for r in air.key_area_rows(week=checks[0]) if r.item.id == item.id]
    assert (then.unrectified, then.action) == (1, CRITICISM)

    written = count(KeyAreaCheck)
    refused = {
        checks[2] + timedelta(days=1): "以后的周",  # the week already checked
        local_today() + timedelta(days=1): "晚于今天",
        item.week - timedelta(days=1): "从该周起",  # before it was scheduled
    }
    for day, why in refused.items():
        with pytest.raises(ServiceError, match=why):
            air_services.record_check(item, day, False, by=None)
    assert count(KeyAreaCheck) == written

    air_services.record_check(item, local_today(), True, by=None, note="已整改")
    assert item.rectified_on == local_today()
    [now] = [r for r in air.key_area_rows(week=local_today()) if r.item.id == item.id]
    assert (now.unrectified, now.action, now.open) == (3, HEAD, False)
    assert all(r.item.id != item.id for r in air.key_area_rows(week=monday + timedelta(days=7)))
    with pytest.raises(ServiceError, match="已关闭"):
        air_services.record_check(item, local_today(), False, by=None)


def test_a_bad_key_area_item_is_refused_and_nothing_written(make_world):
    world, other = make_world(villages=1), make_world(villages=1)
    key_elsewhere = grid_services.add_grid("别县重点网格", GridKind.KEY, other.county)
    today = local_today()
    before = count(KeyAreaItem)
    bad = [
        (world.township, today, "乡镇", None),
        (world.county, today, "别县的重点网格", key_elsewhere),
        (world.county, today, "  ", None),
        (world.county, today + timedelta(weeks=3), "太远", None),
    ]
    for county, week, title, key in bad:
        with pytest.raises(ServiceError):
            air_services.schedule_key_area(county, week, title, by=None, key_grid=key)
    assert count(KeyAreaItem) == before
    nxt = air_services.schedule_key_area(world.county, today + timedelta(days=7), "下周", by=None)
    assert nxt.week == air.monday_of(today) + timedelta(days=7)


# --- the pages ---------------------------------------------------------------------------------


@pytest.fixture
def office(make_world):
    world = make_world(villages=1)
    person = factories.person("prefecture-air")
    grid_services.appoint(person, world.root, Role.OFFICE, local_today() - timedelta(days=1))
    return person


def test_the_ranking_page_for_the_office_the_county_and_not_a_village(client, march, office):
    sign_in(client, office)
    page = client.get("/assess/air?month=2011-03")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert march["a"].county.name in html and "3.00" in html and "+50.0%" in html
    assert CRITICISM in html and 'action="/assess/air/tamperings"' in html
    county = march["a"]
    sign_in(client, county.county_office)
    html = client.get("/assess/air?month=2011-03").get_data(as_text=True)
    assert county.county.name in html and "/assess/air/tamperings" not in html
    sign_in(client, county.supervisor)
    assert client.get("/assess/air?month=2011-03").status_code == 403
    assert client.get("/assess/key-areas").status_code == 403


def test_the_office_records_a_tampering_from_the_page(client, march, office):
    sign_in(client, office)
    station = march["t_station"]
    form = {
        "station": str(station.id),
        "first_day": "2011-03-22",
        "last_day": "2011-03-31",
        "kind": "filter",
        "reason": "加装过滤棉",
        "csrf_token": csrf_token(client),
    }
    before = count(TamperedStation)
    wrong = client.post("/assess/air/tamperings", data={**form, "last_day": "2011-03-01"})
    assert wrong.status_code == 303 and count(TamperedStation) == before
    unknown = client.post("/assess/air/tamperings", data={**form, "station": "999999999"})
    assert unknown.status_code == 400 and count(TamperedStation) == before
    done = client.post("/assess/air/tamperings", data=form)
    assert done.status_code == 303 and "month=2011-03" in done.location
    assert count(TamperedStation) == before + 1
    html = client.get(done.location).get_data(as_text=True)
    assert "加装过滤棉" in html
    assert row_of(air.month_ranking(MARCH), march["t"]).tampered_days == 10


def test_key_areas_are_scheduled_by_the_office_and_seen_by_the_county(client, office, make_world):
    world, other = make_world(villages=1), make_world(villages=1)
    sign_in(client, office)
    today = local_today()
    answer = client.post(
        "/assess/key-areas/new",
        data={
            "county": str(world.county.id),
            "week": today.isoformat(),
            "title": "渣土车未密闭",
            "detail": "第一行\n第二行",
            "csrf_token": csrf_token(client),
        },
    )
    assert answer.status_code == 303
    item = db.session.scalar(sa.select(KeyAreaItem).where(KeyAreaItem.county_id == world.county.id))
    check = client.post(
        f"/assess/key-areas/{item.id}/checks",
        data={"checked_on": today.isoformat(), "csrf_token": csrf_token(client)},
    )
    assert check.status_code == 303
    html = client.get("/assess/key-areas").get_data(as_text=True)
    assert "渣土车未密闭" in html and CRITICISM in html
    sign_in(client, world.county_office)
    assert "渣土车未密闭" in client.get("/assess/key-areas").get_data(as_text=True)
    sign_in(client, other.county_office)
    page = client.get(f"/assess/key-areas?month={today:%Y-%m}")
    assert page.status_code == 200 and "渣土车未密闭" not in page.get_data(as_text=True)
    assert (
        client.post(
            f"/assess/key-areas/{item.id}/checks",
            data={"checked_on": today.isoformat(), "csrf_token": csrf_token(client)},
        ).status_code
        == 403
    )
