"""The demo's year of assessment history (assess/demo.py), on both backends: the last twelve
months frozen for every county, counties that differ, and the weak county's consequences
(RULES §5) on the month the desktop opens on."""

from datetime import date, timedelta

from assess import demo as assess_demo
from assess import facts, queries, snapshots
from grid import scoring
from grid.queries import grid_by_code
from grid.time import local_today
from tests.conftest import DEMO_START


def last_month() -> date:
    return (local_today().replace(day=1) - timedelta(days=1)).replace(day=1)


def year() -> list[date]:
    months = [last_month()]
    while len(months) < 12:
        months.insert(0, queries.previous_month(months[0]))
    return months


def test_the_last_twelve_months_are_frozen_for_every_county(db_session):
    counties = {c.id for c in facts.counties()}
    assert assess_demo.past_months(DEMO_START) == year()
    for first in year():
        frozen = snapshots.latest(first)
        assert set(frozen) == counties, first
        assert all(s.version == 1 and snapshots.intact(s) for s in frozen.values())
    assert not snapshots.latest(queries.previous_month(year()[0]))  # a year, no more
    assert not snapshots.latest(local_today().replace(day=1))  # the month under way is open


def test_the_counties_differ(db_session):
    series: dict[int, tuple] = {}
    missed: dict[int, tuple] = {}
    for first in year():
        for county_id, s in snapshots.latest(first).items():
            series[county_id] = series.get(county_id, ()) + (s.result["score"],)
            missed[county_id] = missed.get(county_id, ()) + (s.facts["missed_problems"],)
    assert len(set(series.values())) >= 5  # the vetoed counties are 0 every month, alike
    assert len(set(missed.values())) >= 8
    grades = {s.result["grade"] for first in year() for s in snapshots.latest(first).values()}
    assert {scoring.EXCELLENT, scoring.FAIL} <= grades


def test_the_weak_county_fails_three_months_running_and_takes_too_large_a_share(db_session):
    weak = grid_by_code(assess_demo.WEAK)
    *_, m3, m2, m1 = year()
    months = {m: snapshots.latest(m)[weak.id] for m in (m3, m2, m1)}
    assert [s.result["grade"] for s in months.values()] == [scoring.FAIL] * 3
    assert months[m3].facts["auto_fail_reasons"] == [assess_demo.AUTO_FAIL]
    assert months[m2].facts["bad_influence"]
    assert ["national"] in months[m1].facts["media_exposures"]
    assert months[m2].missed_share > 0.2 and months[m1].missed_share > 0.2
    rows = queries.month_rows(m1)
    assert all(r.version == 1 for r in rows)  # read from the snapshots
    actions = queries.consequences(m1, rows)[weak.id]
    assert scoring.SPECIAL_INSPECTION in actions and scoring.ACCOUNTABILITY in actions


def test_the_history_starts_no_earlier_than_the_posts(db_session):
    first = local_today().replace(day=1)
    four_ago = first
    for _ in range(4):
        four_ago = queries.previous_month(four_ago)
    assert len(assess_demo.past_months(four_ago)) == 4
    assert assess_demo.past_months(four_ago)[0] == four_ago
    assert assess_demo.past_months(first) == []
