"""The demo's stations and replay: the pure expansion of daily city values into minute readings
(alerts/replay.py) and, on both backends, the stations the demo loads and what a replay stores
(alerts/demo.py)."""

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from alerts import demo as alerts_demo
from alerts import replay as rp
from alerts.models import Reading, Station
from alerts.services import station_by_token
from extensions import db
from grid import demo as grid_demo
from grid.models import Grid, GridKind
from grid.queries import root_grid

DAILY = f"{grid_demo.default_data_dir()}/aq_daily_cities_aqistudy_2013-12_to_2017-01.csv"
SHANGHAI = ZoneInfo("Asia/Shanghai")
POLLUTANTS = ("PM2.5", "PM10", "SO2", "NO2", "CO", "O3")
# HJ 633 (STANDARDS.md): a 1-hour PM2.5 value takes the daily breakpoints; IAQI 150 at 115 µg/m³.
PM25_IAQI_150 = 115.0


@pytest.fixture(scope="module")
def days():
    return rp.load_daily(DAILY)


@pytest.fixture(scope="module")
def feed(days):
    return rp.Replay(days, SHANGHAI)


def incident(kind):
    return next(i for i in rp.INCIDENTS if i.kind == kind)


# --- the city's days ----------------------------------------------------------------------------


def test_the_changji_days_are_read_from_the_file(days):
    # SOURCES.md 4b: 昌吉州 has 763 days, 2014-12-31 to 2017-01-31, no gaps.
    assert len(days) == 763
    assert min(days) == date(2014, 12, 31) and max(days) == date(2017, 1, 31)
    first = days[date(2014, 12, 31)]
    assert first.values == {
        "PM2.5": 200.8,
        "PM10": 334.4,
        "SO2": 132.1,
        "CO": 4.433,
        "NO2": 89.7,
        "O3": 59.0,
    }


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 30), date(2016, 11, 30)),  # 2017 has January only
        (date(2027, 1, 15), date(2017, 1, 15)),  # the most recent year holding the day
        (date(2031, 6, 15), date(2016, 6, 15)),  # a date past the data
        (date(2026, 12, 31), date(2016, 12, 31)),
        (date(2028, 2, 29), date(2016, 2, 29)),  # 2016 is a leap year in the data
        (date(2027, 3, 1), date(2016, 3, 1)),
    ],
)
def test_a_day_maps_onto_the_same_day_of_the_latest_year_holding_it(days, today, expected):
    assert rp.map_day(today, days) == expected


def test_29_february_without_a_leap_day_in_the_data_takes_the_28th():
    available = {date(2015, 2, 28), date(2016, 2, 28), date(2016, 3, 1), date(2017, 1, 1)}
    assert rp.map_day(date(2028, 2, 29), available) == date(2016, 2, 28)


def test_a_day_missing_in_every_year_takes_the_nearest_the_latest_on_a_tie():
    available = {date(2015, 5, 9), date(2015, 5, 11), date(2016, 5, 9), date(2016, 5, 12)}
    assert rp.map_day(date(2030, 5, 10), available) == date(2016, 5, 9)
    assert rp.map_day(date(2030, 5, 11), available) == date(2015, 5, 11)
    # Round the turn of the year: 30 December is 2 days from 1 January.
    assert rp.map_day(date(2030, 12, 30), {date(2016, 1, 1), date(2016, 6, 1)}) == date(2016, 1, 1)
    with pytest.raises(ValueError):
        rp.map_day(date(2030, 1, 1), set())


# --- the hours of the day -----------------------------------------------------------------------


@pytest.mark.parametrize("pollutant", POLLUTANTS)
def test_the_diurnal_profile_keeps_the_daily_mean(pollutant):
    levels = [rp.profile(pollutant, m + 0.5) for m in range(1440)]
    assert math.fsum(levels) / 1440 == pytest.approx(1, rel=0.01)
    assert min(levels) > 0.3


def test_the_profiles_peak_when_xinjiang_air_does():
    at = rp.profile
    # Heating-season particulates: morning and late evening above the afternoon.
    assert at("PM2.5", 10 * 60) > at("PM2.5", 16 * 60) < at("PM2.5", 22 * 60)
    # Ozone: afternoon above morning; NO2: rush hours above mid-afternoon.
    assert at("O3", 17 * 60) > 1.5 * at("O3", 8 * 60)
    assert at("NO2", 10 * 60) > at("NO2", 15 * 60) < at("NO2", 21 * 60)


def test_a_stations_day_averages_to_the_city_day_times_its_place(days):
    city = days[date(2016, 7, 10)]
    station = rp.StationProfile("CJ-T999", "urban")
    minutes = [
        rp.minute_values(station, datetime(2026, 7, 10) + timedelta(minutes=m), city)
        for m in range(1440)
    ]
    for p in POLLUTANTS:
        mean = math.fsum(v[p] for v in minutes) / 1440
        # place and device together stay within ±8 % of the place's level; the noise averages out
        expected = city.values[p] * rp.SITE_FACTORS["urban"][p]
        assert expected * 0.88 < mean < expected * 1.12, p


def test_the_control_point_reads_cleaner_than_a_park(days):
    city = days[date(2016, 11, 30)]
    moment = datetime(2026, 11, 30, 12, 0)
    park = rp.minute_values(rp.StationProfile("A", "park"), moment, city)
    control = rp.minute_values(rp.StationProfile("B", "control"), moment, city)
    assert park["PM2.5"] > control["PM2.5"] and park["SO2"] > control["SO2"]


def test_midnight_is_crossed_without_a_jump(feed):
    station = rp.StationProfile("CJ-W050", "urban")
    # 2016-02-29 -> 2016-03-01 in the data: PM2.5 226.6 -> 183.8
    before = feed.normal(station, datetime(2028, 2, 29, 15, 59))  # 23:59 in Beijing
    after = feed.normal(station, datetime(2028, 2, 29, 16, 0))
    assert abs(after["PM2.5"] - before["PM2.5"]) < 0.05 * before["PM2.5"]


# --- determinism ---------------------------------------------------------------------------------


def test_a_replay_is_reproducible(days):
    station = rp.StationProfile("CJ-W042", "urban")
    moment = datetime(2026, 11, 30, 3, 17)
    first = rp.Replay(days, SHANGHAI).minute(station, moment, moment)
    again = rp.Replay(rp.load_daily(DAILY), SHANGHAI).minute(station, moment, moment)
    assert first == again and set(first) == set(POLLUTANTS)
    other = rp.Replay(days, SHANGHAI).minute(rp.StationProfile("CJ-W043", "urban"), moment, moment)
    assert other != first
    later = rp.Replay(days, SHANGHAI).minute(station, moment + timedelta(minutes=1), moment)
    assert later != first


def test_neighbouring_minutes_do_not_jump(feed):
    """The noise wanders smoothly: no false spike (ADF: a rise above 1/5 of the last value)."""
    station = rp.StationProfile("CJ-W060", "urban")
    start = datetime(2026, 11, 30, 0, 0)
    values = [feed.normal(station, start + timedelta(minutes=m))["PM2.5"] for m in range(240)]
    assert all(b - a < a / 5 for a, b in zip(values, values[1:], strict=False))


# --- planted incidents ---------------------------------------------------------------------------


def test_the_smoke_incident_raises_pm25_above_iaqi_150_while_it_lasts(feed):
    smoke = incident("smoke")
    # it is already running when the replay starts, and lasts about an hour
    assert smoke.starts_after < timedelta(0) < smoke.starts_after + smoke.lasts
    assert smoke.lasts >= timedelta(minutes=45)
    station = rp.StationProfile(smoke.station_code, "park")
    start = datetime(2026, 7, 10, 4, 0)  # noon in Changji on a clean summer day (PM2.5 13.1)
    begins = start + smoke.starts_after
    during = [
        feed.minute(station, begins + timedelta(minutes=m), start)
        for m in range(int(smoke.lasts.total_seconds() // 60))
    ]
    before = [feed.minute(station, begins - timedelta(minutes=m), start) for m in range(1, 60)]
    after = [
        feed.minute(station, begins + smoke.lasts + timedelta(minutes=m), start) for m in range(30)
    ]
    assert all(250 <= v["PM2.5"] <= 350 for v in during)
    assert all(v["PM10"] > v["PM2.5"] for v in during)
    assert all(v["PM2.5"] < PM25_IAQI_150 for v in before + after)
    # Against its neighbours: far beyond ADF's largest band (91.5 µg/m³ above their mean).
    neighbours = [rp.StationProfile(code, "park") for code in ("CJ-W001", "CJ-W010")]
    moment = begins + timedelta(minutes=10)
    mean = sum(feed.minute(n, moment, start)["PM2.5"] for n in neighbours) / 2
    assert feed.minute(station, moment, start)["PM2.5"] - mean > 91.5


def test_in_a_polluted_winter_the_smoke_still_stands_out(feed):
    smoke = incident("smoke")
    station = rp.StationProfile(smoke.station_code, "park")
    start = datetime(2027, 1, 15, 2, 0)  # 2017-01-15 in the data
    moment = start + smoke.starts_after + timedelta(minutes=5)
    assert (
        feed.minute(station, moment, start)["PM2.5"]
        >= feed.normal(station, moment)["PM2.5"] + rp.SMOKE_ABOVE
    )


def test_a_silent_station_sends_nothing_while_silent(feed):
    silent = incident("silent")
    station = rp.StationProfile(silent.station_code, "rural")
    start = datetime(2026, 11, 30, 2, 0)
    begins = start + silent.starts_after
    assert feed.minute(station, begins - timedelta(minutes=1), start) is not None
    for m in range(0, int(silent.lasts.total_seconds() // 60), 7):
        assert feed.minute(station, begins + timedelta(minutes=m), start) is None
    assert feed.minute(station, begins + silent.lasts, start) is not None
    # silent for an hour already when the replay starts (the health rule's 60 minutes)
    assert -silent.starts_after > timedelta(minutes=60)


def test_a_flat_station_repeats_one_value_for_three_hours_and_more(feed):
    flat = incident("flat")
    assert flat.lasts > timedelta(hours=3)
    station = rp.StationProfile(flat.station_code, "urban")
    start = datetime(2026, 11, 30, 2, 0)
    begins = start + flat.starts_after
    during = [
        feed.minute(station, begins + timedelta(minutes=m), start)
        for m in range(int(flat.lasts.total_seconds() // 60))
    ]
    assert all(v == during[0] for v in during)
    before = [feed.minute(station, begins - timedelta(minutes=m), start) for m in range(1, 30)]
    assert len({v["PM2.5"] for v in before}) > 5


# --- the demo's stations, on both backends -------------------------------------------------------

NATIONAL = {
    "2690A": "天山天池(对照点)",
    "2691A": "州监测站",
    "2692A": "新区政务中心",
    "3613A": "亚心广场",
}


def km(a, b):
    """Great-circle distance between two stations (haversine, mean Earth radius)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def demo_stations():
    return db.session.scalars(sa.select(Station).order_by(Station.code)).all()


def test_the_demo_has_the_national_stations_and_150_micro_stations(db_session):
    stations = demo_stations()
    national = {s.code: s.name for s in stations if s.kind == "national"}
    assert national == NATIONAL
    micro = [s for s in stations if s.kind == "micro" and s.code.startswith("CJ-W")]
    assert [s.code for s in micro] == [f"CJ-W{n:03d}" for n in range(1, 151)]
    assert all("微站" in s.name for s in micro)
    assert len({s.name for s in micro}) == 150
    mns = [s.mn for s in micro]
    assert len(set(mns)) == 150 and all(len(mn) == 24 for mn in mns)
    assert all(s.pw_hash and s.token_hash for s in micro)
    assert sum(s.lenient for s in micro) == 2
    # a national station at its published point (taken as WGS-84)
    chi = next(s for s in stations if s.code == "2691A")
    assert (chi.lon, chi.lat) == (87.2997, 44.0114)


def test_every_demo_station_stands_in_a_grid_of_the_prefecture(db_session):
    root = root_grid()
    paths = dict(db.session.execute(sa.select(Grid.id, Grid.path)).all())
    for station in demo_stations():
        assert station.grid_id is not None, station.code
        assert paths[station.grid_id].startswith(root.path), station.code
        assert 85.5 < station.lon < 91.6 and 42.7 < station.lat < 45.6


def test_the_parks_and_the_streets_of_changji_have_more_stations(db_session):
    grids = {g.id: g for g in db.session.scalars(sa.select(Grid))}
    per_level2 = {}
    for station in demo_stations():
        top = grids[int(grids[station.grid_id].path.strip("/").split("/")[1])]
        per_level2[top.name] = per_level2.get(top.name, 0) + 1
    assert per_level2["昌吉高新技术产业开发区"] >= 10
    assert per_level2["准东经济技术开发区"] >= 10
    assert per_level2["昌吉市"] > per_level2["木垒哈萨克自治县"]


def test_the_demo_token_belongs_to_the_first_micro_station(db_session):
    station = station_by_token(alerts_demo.DEMO_STATION_TOKEN)
    assert station is not None and station.code == "CJ-W001"
    assert station_by_token("demo-station-token-CJ-W002") is None


def test_the_smoke_station_is_in_a_park_with_neighbours_within_3_km(db_session):
    smoke = incident("smoke")
    stations = {s.code: s for s in demo_stations()}
    station = stations[smoke.station_code]
    grids = {g.id: g for g in db.session.scalars(sa.select(Grid))}
    chain = [grids[int(i)] for i in grids[station.grid_id].path.strip("/").split("/")]
    assert any(g.kind == GridKind.PARK for g in chain)
    near = [s for s in stations.values() if s is not station and km(s, station) <= 3.0]
    assert len(near) >= 2  # ADF: at least 2 neighbours within 3 km
    for code in ("CJ-W001", "CJ-W010"):  # the neighbours the pure test compares against
        assert km(stations[code], station) <= 3.0


# --- the replay, on both backends -----------------------------------------------------------------


def readings(station, pollutant="PM2.5"):
    """What the replay stored: the demo's daily history (assess/demo_air.py) left aside."""
    return db.session.execute(
        sa.select(Reading.measured_at, Reading.value, Reading.period, Reading.source)
        .where(
            Reading.station_id == station.id,
            Reading.pollutant == pollutant,
            Reading.period != "day",
        )
        .order_by(Reading.measured_at)
    ).all()


def test_a_ten_minute_replay_stores_each_minute_once(db_session):
    now = datetime(2026, 7, 10, 4, 5)  # 12:05 in Changji: the 11:00-12:00 hour has just ended
    since = now - timedelta(minutes=10)
    # 149 sending micro-stations (the silent one is silent) x 6 pollutants x 10 minutes, and the
    # 4 national stations' hourly values of 6 pollutants.
    expected = 149 * 6 * 10 + 4 * 6
    assert alerts_demo.replay(now, since, start_utc=now) == expected
    assert alerts_demo.replay(now, since, start_utc=now) == 0
    stations = {s.code: s for s in demo_stations()}
    smoke = readings(stations[incident("smoke").station_code])
    assert [r.measured_at for r in smoke] == [since + timedelta(minutes=m) for m in range(10)]
    assert all(r.period == "minute" and r.source == "replay" for r in smoke)
    assert all(r.value > PM25_IAQI_150 for r in smoke)
    assert len({r.value for r in readings(stations[incident("flat").station_code])}) == 1
    assert readings(stations[incident("silent").station_code]) == []
    hourly = readings(stations["2691A"])
    assert [(r.measured_at, r.period) for r in hourly] == [(datetime(2026, 7, 10, 3, 0), "hour")]
    assert stations["CJ-W002"].last_reading_at == now


def test_replays_in_turn_continue_where_the_last_stopped(db_session):
    start = datetime(2026, 7, 10, 4, 0, 30)  # a start between minutes
    first = alerts_demo.replay(start + timedelta(minutes=2), start, start)
    second = alerts_demo.replay(start + timedelta(minutes=5), start + timedelta(minutes=2), start)
    assert (first, second) == (149 * 6 * 2, 149 * 6 * 3)
    station = db.session.scalar(sa.select(Station).where(Station.code == "CJ-W002"))
    assert [r.measured_at for r in readings(station)] == [
        datetime(2026, 7, 10, 4, m) for m in range(5)
    ]
