"""The demo's air-quality history and the office's air records (assess/demo_air.py), read from
the demo database every test starts from (tests/conftest.py loads it), on both backends: last
month's ranking ranks every level-2 grid on the real change between two real years, the
tampering replaces the days it covers, and the key areas reach the second rung of RULES §7."""

import os
import statistics
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from alerts import aqi
from alerts.models import POLLUTANTS, Period, Reading, Station
from alerts.replay import load_daily
from assess import air, air_services, demo_air
from assess.air_models import KeyAreaItem, TamperedStation, TamperKind
from extensions import db
from grid import scoring
from grid.demo import default_data_dir
from grid.models import Grid, User
from grid.time import local_today
from tests.conftest import sign_in


def last_month() -> date:
    return air.previous_month(local_today().replace(day=1))


def real_city():
    return load_daily(os.path.join(default_data_dir(), demo_air.DAILY_FILE))


# --- the months and the real days, pure --------------------------------------------------------


def test_the_history_is_thirteen_months_that_are_over_and_this_one_to_yesterday():
    months, last = demo_air.history(date(2026, 12, 1))
    assert months[0] == date(2025, 11, 1) and months[-1] == date(2026, 12, 1)
    assert len(months) == 14 and last == date(2026, 11, 30)


@pytest.mark.parametrize(
    ("today", "years"),
    [
        (date(2026, 12, 1), 10),  # Nov 2025 - Dec 2026 on Nov 2015 - Dec 2016
        (date(2027, 1, 15), 10),  # January: on January 2017, the data's last month
        (date(2028, 3, 10), 12),  # March 2017 is not in the data: Feb 2015 - Mar 2016
    ],
)
def test_the_months_stand_on_the_latest_real_years_that_hold_them(today, years):
    months, last = demo_air.history(today)
    assert demo_air.year_shift(months[0], last, real_city()) == years


def test_a_leap_day_falls_on_the_28th_in_a_common_year():
    assert demo_air.shifted(date(2028, 2, 29), 12) == date(2016, 2, 29)
    assert demo_air.shifted(date(2028, 2, 29), 11) == date(2017, 2, 28)
    assert demo_air.year_shift(date(2030, 1, 1), date(2030, 2, 1), {}) is None


# --- the readings --------------------------------------------------------------------------------


def test_every_demo_station_has_a_daily_value_of_each_pollutant_on_every_day(db_session):
    months, last = demo_air.history(local_today())
    days = (last - months[0]).days + 1
    stations = demo_air.demo_stations()
    assert len(stations) == 154  # 4 national and 150 micro-stations (alerts/demo.py)
    counted = db.session.execute(
        sa.select(
            Reading.pollutant, sa.func.count(), sa.func.count(sa.distinct(Reading.station_id))
        )
        .where(Reading.period == Period.DAY)
        .group_by(Reading.pollutant)
    ).all()
    assert {p: (n, s) for p, n, s in counted} == {p: (154 * days, 154) for p in POLLUTANTS}


def test_last_months_ranking_ranks_every_county_with_a_last_place_and_its_action(db_session):
    rows = air.month_ranking(last_month())
    level2 = db.session.scalar(sa.select(sa.func.count()).where(Grid.level == 2))
    ranked = [r for r in rows if r.place is not None]
    assert len(ranked) == len(rows) == level2 == 10
    assert all(r.index and r.last_year and r.stations for r in ranked)
    assert len({round(r.rate, 6) for r in ranked}) == len(ranked)  # the counties differ
    [last] = [r for r in rows if r.last]
    assert last.place == len(ranked) and last.rate == min(r.rate for r in ranked)
    assert (last.streak, last.action) == (1, scoring.CRITICISM)  # no year before the month before
    assert all(r.action is None for r in rows if not r.last)


def test_the_rates_are_the_real_change_between_two_real_years(db_session):
    """The counties' rates spread round the city's own change between the two real months
    (each county's level moves by a few percent a month, COUNTY_SPREAD)."""
    first = last_month()
    months, last = demo_air.history(local_today())
    city = real_city()
    years = demo_air.year_shift(months[0], last, city)
    indices = []
    for month in (air.year_before(first), first):
        days = {
            day: dict(city[demo_air.shifted(day, years)].values) for day in air.month_days(month)
        }
        stats = aqi.month_stats(days, month.year, month.month)
        indices.append(aqi.composite_index(stats.stats, aqi.edition_on(month)))
    city_rate = scoring.improvement_rate(*indices)
    rates = [r.rate for r in air.month_ranking(first) if r.rate is not None]
    assert abs(statistics.median(rates) - city_rate) < 0.1
    assert min(rates) < city_rate < max(rates)


# --- the tampering -------------------------------------------------------------------------------


def the_tampering() -> TamperedStation:
    [record] = db.session.scalars(sa.select(TamperedStation)).all()
    return record


def test_a_verified_filter_replaces_that_stations_days_by_the_months_highest(db_session):
    record = the_tampering()
    first = last_month()
    station = db.session.get(Station, record.station_id)
    assert station.code.startswith("CJ-W") and record.kind == TamperKind.FILTER
    assert record.withdrawn_at is None and record.recorded_by_id is not None
    assert (record.first_day, record.last_day) == (first.replace(day=10), first.replace(day=14))
    tampered = {record.first_day + timedelta(days=n) for n in range(record.days)}
    assert air.tampered_days(first) == {station.id: tampered}

    measured = air.daily_values(first, [station.id])[station.id]
    replaced = air.with_tampering_replaced(measured, tampered)
    clean = [values for day, values in measured.items() if day not in tampered]
    for day in tampered:
        for pollutant in POLLUTANTS:
            assert replaced[day][pollutant] == max(v[pollutant] for v in clean)
        # The filter kept the particles low: the replacement raises them.
        assert measured[day]["PM2.5"] < replaced[day]["PM2.5"]
    assert all(replaced[day] == measured[day] for day in measured if day not in tampered)


def test_the_tampering_counts_in_the_county_until_withdrawn(db_session):
    record = the_tampering()
    first = last_month()
    county = air.counted_stations()[record.station_id]
    with_it = air.county_indices(first)[county]
    assert with_it.tampered_days == 5
    zhou = db.session.scalar(sa.select(User).where(User.username == "zhou"))
    air_services.withdraw_tampering(record, "演示：撤回以比较", by=zhou)
    without = air.county_indices(first)[county]
    assert without.tampered_days == 0 and without.index < with_it.index


# --- the key areas -------------------------------------------------------------------------------


def test_the_key_areas_reach_the_second_check_and_one_is_closed(db_session):
    items = list(db.session.scalars(sa.select(KeyAreaItem).order_by(KeyAreaItem.id)))
    assert len(items) == len(demo_air.KEY_AREAS)
    assert len({i.county_id for i in items}) == 3
    monday = air.monday_of(local_today())
    assert all(monday - timedelta(weeks=4) <= i.week <= monday for i in items)
    rows = {r.item.id: r for r in air.key_area_rows(week=local_today())}
    [second] = [r for r in rows.values() if r.unrectified == 2]
    assert second.open and second.action == scoring.DEPUTY_INTERVIEW
    assert [c.rectified for c in second.checks] == [False, False]
    assert second.key_grid == "新区政务中心站重点网格"
    [closed] = [r for r in rows.values() if not r.open]
    assert closed.item.rectified_on == local_today() and closed.checks[-1].rectified
    assert closed.action == scoring.CRITICISM  # one check found it not rectified first
    # The one rectified at its first check, weeks ago, no longer shows this week.
    early = [i for i in items if i.rectified_on and i.rectified_on < monday]
    assert len(early) == 1 and early[0].id not in rows


def test_the_weeks_checks_reach_the_desktops_ladder(db_session):
    """The checks that found an item not rectified, as the month's consequences count them."""
    found: dict[int, list[str]] = {}
    for first in {last_month(), local_today().replace(day=1)}:
        for county, actions in air.key_area_actions(first).items():
            found.setdefault(county, []).extend(actions)
    assert sorted(a for actions in found.values() for a in actions) == sorted(
        [scoring.CRITICISM, scoring.DEPUTY_INTERVIEW, scoring.CRITICISM]
    )


# --- the pages -----------------------------------------------------------------------------------


def test_the_ranking_and_key_area_pages_show_the_demo_to_the_prefecture(client):
    zhou = db.session.scalar(sa.select(User).where(User.username == "zhou"))
    sign_in(client, zhou)
    page = client.get("/assess/air")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    last = [r for r in air.month_ranking(last_month()) if r.last][0]
    assert last.name in html and scoring.CRITICISM in html
    assert "CJ-W" in html and demo_air.TAMPERING_REASON in html  # the tampering, listed
    page = client.get("/assess/key-areas")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "昌吉市" in html and "阜康市" in html and scoring.DEPUTY_INTERVIEW in html
