"""The monthly cycle's services on the database (enforce/exceed/cycle_services.py, RULES §8):
a county's report with its counts, late and overdue steps counted per party, the advance
warning of a deadline in a holiday, the minutes and the 30/70 clue handover list, and bad
input refused with nothing written. The month is March 2025 (its cycle in April 2025: the
5th is in the Qingming holiday, 4-6 April), far from any demo data."""

from datetime import UTC, date, datetime, timedelta
from itertools import count

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from enforce.exceed import cycle_services as services
from enforce.exceed.cycle import State, Step
from enforce.exceed.cycle_models import CycleClue, CycleStep, ReviewMinutes
from enforce.exceed.models import Disposal, Exceedance, MonitoringPoint
from extensions import db
from grid.errors import ServiceError
from grid.workdays import official_calendar


@pytest.fixture(autouse=True)
def _english(client):
    """Messages read in English (the msgids), in services and on pages, whatever the Chinese
    catalogue says (tests/test_i18n.py checks that every message has its translation)."""
    client.set_cookie("lang", "en")
    with force_locale("en"):
        yield


MARCH = date(2025, 3, 1)
CAL = official_calendar()
_mn = count(1)


def _point(world, source):
    point = MonitoringPoint(
        source_id=source.id,
        county_id=world.county.id,
        name="1号排放口",
        mn=f"CYCLE{next(_mn):010d}{world.county.id:05d}",
    )
    db.session.add(point)
    db.session.flush()
    return point


def _hours(point, day: date, n: int, *, disposal=None, status="valid"):
    made = []
    for h in range(n):
        made.append(
            Exceedance(
                point_id=point.id,
                source_id=point.source_id,
                county_id=point.county_id,
                code="a21026",
                hour=datetime(day.year, day.month, day.day, h, tzinfo=UTC).replace(tzinfo=None),
                day=day,
                average=120.0,
                limit_value=50.0,
                status=status,
                disposal_id=disposal.id if disposal else None,
            )
        )
    db.session.add_all(made)
    db.session.flush()
    return made


def _disposal(world, kind):
    made = Disposal(
        county_id=world.county.id,
        kind=kind,
        case_number="昌环罚〔2025〕1号" if kind == "case" else None,
        opinion="现场核实为启停炉" if kind == "opinion" else None,
    )
    db.session.add(made)
    db.session.flush()
    return made


@pytest.fixture
def county(make_world, make_source):
    """A county with two enterprises in March 2025: A 3 hours (2 under one case, 1 without a
    disposal), B 2 hours under one opinion; plus an invalid hour and an April hour (neither
    counts)."""
    world = make_world()
    a, b = make_source(world), make_source(world)
    pa, pb = _point(world, a), _point(world, b)
    case = _disposal(world, "case")
    _hours(pa, date(2025, 3, 3), 2, disposal=case)
    _hours(pa, date(2025, 3, 31), 1)
    _hours(pb, date(2025, 3, 10), 2, disposal=_disposal(world, "opinion"))
    _hours(pb, date(2025, 3, 11), 1, status="invalid")
    _hours(pb, date(2025, 4, 1), 1)
    world.sources = {"A": a, "B": b}
    return world


def _steps() -> int:
    return db.session.scalar(sa.select(sa.func.count(CycleStep.id)))


def _line(made, county_id):
    return next(line for line in made.counties if line.county_id == county_id)


def test_a_county_reports_its_month_with_its_counts(county):
    record = services.report_county(
        county.county, MARCH, by=county.county_office, today=date(2025, 4, 3)
    )
    assert (record.exceedances, record.cases, record.opinions, record.undisposed) == (5, 1, 1, 1)
    assert record.done_on == date(2025, 4, 3)
    made = services.month_cycle(MARCH, date(2025, 4, 20), 3, CAL)
    line = _line(made, county.county.id)
    assert line.status.state is State.DONE
    assert line.status.due == date(2025, 4, 5)
    assert (line.counts.exceedances, line.counts.undisposed) == (5, 1)
    assert county.county.name not in made.late


def test_the_counts_before_the_report_are_live(county):
    made = services.month_cycle(MARCH, date(2025, 4, 1), 3, CAL)
    line = _line(made, county.county.id)
    assert (line.counts.exceedances, line.counts.cases, line.counts.opinions) == (5, 1, 1)
    assert line.record is None


def test_late_and_overdue_steps_are_counted_for_accountability(county):
    services.report_county(county.county, MARCH, by=None, today=date(2025, 4, 8))
    services.record_step(Step.DETACHMENT_STATS, MARCH, by=None, today=date(2025, 4, 7))
    made = services.month_cycle(MARCH, date(2025, 4, 12), 3, CAL)
    line = _line(made, county.county.id)
    assert (line.status.state, line.status.days) == (State.DONE_LATE, 3)
    states = {line.step: (line.status.state, line.status.days) for line in made.steps}
    assert states == {
        Step.DETACHMENT_STATS: (State.DONE, 0),
        Step.CENTRE_COMPILE: (State.OVERDUE, 2),
        Step.REVIEW_MEETING: (State.OVERDUE, 2),
        # Tuesday 15 April; 3 working days before it: 14, 11 and 10 April.
        Step.CLUE_HANDOVER: (State.DUE_SOON, 3),
        Step.MONTHLY_NOTICE: (State.DUE_SOON, 3),
    }
    assert made.late[county.county.name] == 1
    assert made.late["州生态环境监控中心"] == 1
    assert made.late["会审组"] == 1
    assert "州生态环境执法支队" not in made.late
    # The 15th passes: the centre's handover and notice are overdue too.
    later = services.month_cycle(MARCH, date(2025, 4, 16), 3, CAL)
    assert later.late["州生态环境监控中心"] == 3


def test_a_fifth_in_a_holiday_stands_and_is_shown_in_advance(county):
    # September 2026's report is due Monday 5 October 2026, inside the National Day holiday.
    september = date(2026, 9, 1)
    _hours(_point(county, county.sources["A"]), date(2026, 9, 15), 1)
    seen = _line(services.month_cycle(september, date(2026, 9, 28), 3, CAL), county.county.id)
    assert seen.status.due == date(2026, 10, 5)
    assert (seen.status.state, seen.status.days) == (State.DUE_SOON, 7)
    assert seen.status.non_working and seen.status.finish_by is None
    before = _line(services.month_cycle(september, date(2026, 9, 25), 3, CAL), county.county.id)
    assert before.status.state is State.UPCOMING
    on_the_day = services.month_cycle(september, date(2026, 10, 5), 3, CAL)
    assert _line(on_the_day, county.county.id).status.state is State.DUE_SOON
    assert county.county.name not in on_the_day.late
    after = services.month_cycle(september, date(2026, 10, 6), 3, CAL)
    assert _line(after, county.county.id).status.state is State.OVERDUE
    assert after.late[county.county.name] == 1


def test_a_step_is_done_once(county):
    services.report_county(county.county, MARCH, by=None, today=date(2025, 4, 3))
    services.record_step(Step.CENTRE_COMPILE, MARCH, by=None, today=date(2025, 4, 9))
    before = _steps()
    with pytest.raises(ServiceError, match="already recorded on 2025-04-03"):
        services.report_county(county.county, MARCH, by=None, today=date(2025, 4, 4))
    with pytest.raises(ServiceError, match="already recorded on 2025-04-09"):
        services.record_step(Step.CENTRE_COMPILE, MARCH, by=None, today=date(2025, 4, 10))
    assert _steps() == before


@pytest.mark.parametrize("month", [date(2025, 4, 1), date(2025, 5, 1), date(2026, 1, 1)])
def test_a_month_to_come_is_refused(county, month):
    today = date(2025, 4, 20)
    before = _steps()
    with pytest.raises(ServiceError, match="is not over"):
        services.report_county(county.county, month, by=None, today=today)
    with pytest.raises(ServiceError, match="is not over"):
        services.record_step(Step.MONTHLY_NOTICE, month, by=None, today=today)
    with pytest.raises(ServiceError, match="is not over"):
        services.record_minutes(month, services.MinutesFields("汇总", "结论"), by=None, today=today)
    assert _steps() == before


def test_a_township_does_not_report(county):
    with pytest.raises(ServiceError, match="level-2"):
        services.report_county(county.township, MARCH, by=None, today=date(2025, 4, 3))


def test_minutes_without_conclusions_are_refused(county):
    for fields in (
        services.MinutesFields("三月超标5小时", "   "),
        services.MinutesFields("", "约谈企业"),
    ):
        with pytest.raises(ServiceError, match="minutes need"):
            services.record_minutes(MARCH, fields, by=None, today=date(2025, 4, 10))
    assert db.session.scalar(sa.select(sa.func.count(ReviewMinutes.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(CycleClue.id))) == 0
    assert _steps() == 0


def _uncased_world(county, make_source):
    """Five enterprises without a case besides A (which has one) and B (an opinion only)."""
    made = {}
    for name, hours, key in [("C", 9, False), ("D", 1, True), ("E", 4, False), ("F", 2, False)]:
        source = make_source(county, key_polluter=key)
        _hours(_point(county, source), date(2025, 3, 20), hours)
        made[name] = source
    return made


def test_the_meeting_turns_the_uncased_into_clues_and_the_detachment_keeps_30_percent(
    county, make_source
):
    more = _uncased_world(county, make_source)
    b = county.sources["B"]
    uncased = {u.source_id: u.exceedances for u in services.uncased(MARCH)}
    assert uncased == {b.id: 2, more["C"].id: 9, more["D"].id: 1, more["E"].id: 4, more["F"].id: 2}
    with pytest.raises(ServiceError, match="Record the review meeting's minutes first"):
        services.make_handover(MARCH, by=None, today=date(2025, 4, 10))
    minutes = services.record_minutes(
        MARCH,
        services.MinutesFields("三月共18小时超标", "对未立案企业移交线索", escalations="F升级"),
        escalated=[more["F"].id],
        difficult=[b.id],
        by=None,
        today=date(2025, 4, 10),
    )
    assert minutes.met_on == date(2025, 4, 10)
    clues = services.make_handover(MARCH, by=None, today=date(2025, 4, 14))
    # 5 clues: 30% of 5 = 1.5, rounded half up: 2 kept. F (escalated), then D (key polluter).
    kept = {c.source_id for c in clues if c.kept}
    assert kept == {more["F"].id, more["D"].id}
    assert [c.source_id for c in clues][:2] == [more["F"].id, more["D"].id]
    assert {c.source_id for c in clues if c.kept is False} == {b.id, more["C"].id, more["E"].id}
    made = services.month_cycle(MARCH, date(2025, 4, 14), 3, CAL)
    assert made.line(Step.REVIEW_MEETING).status.state is State.DONE
    assert made.line(Step.CLUE_HANDOVER).status.state is State.DONE
    with pytest.raises(ServiceError, match="already recorded"):
        services.make_handover(MARCH, by=None, today=date(2025, 4, 15))
    with pytest.raises(ServiceError, match="already recorded"):
        services.record_minutes(
            MARCH, services.MinutesFields("再开", "再议"), by=None, today=date(2025, 4, 15)
        )


def test_only_enterprises_without_a_case_can_be_flagged(county, make_source):
    a = county.sources["A"]  # has a case
    with pytest.raises(ServiceError, match="without a case"):
        services.record_minutes(
            MARCH,
            services.MinutesFields("汇总", "结论"),
            escalated=[a.id],
            by=None,
            today=date(2025, 4, 10),
        )
    assert db.session.scalar(sa.select(sa.func.count(ReviewMinutes.id))) == 0
    assert _steps() == 0


def test_the_minutes_are_late_after_the_tenth(county):
    services.record_minutes(
        MARCH, services.MinutesFields("汇总", "结论"), by=None, today=date(2025, 4, 11)
    )
    made = services.month_cycle(MARCH, date(2025, 4, 11) + timedelta(days=1), 3, CAL)
    meeting = made.line(Step.REVIEW_MEETING).status
    assert (meeting.state, meeting.days) == (State.DONE_LATE, 1)
