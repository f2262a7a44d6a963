"""The exceedance workflow's services on the database (RULES §8, seed 000): a day's computation
from stored minute and hour values with flags, recomputing keeps the centre's decisions and the
links, the daily report per county, the county's disposals, and the bad input the issue names
(a report for a day with no data, a case without number, an unknown pollutant code, a negative
limit): a clear message and nothing written."""

import random
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from enforce.exceed import rules, services
from enforce.exceed.ingest import insert_values
from enforce.exceed.models import (
    CemsValue,
    DailyReport,
    Disposal,
    EmissionLimit,
    Exceedance,
    MonitoringPoint,
    disposal_photo,
)
from enforce.exceed.rules import Sample
from evidence import services as evidence
from extensions import db
from grid.errors import ServiceError
from grid.models import User
from grid.time import utcnow
from tests import factories


@pytest.fixture(autouse=True)
def _english(client):
    """Messages read in English (the msgids), in services and on pages, whatever the Chinese
    catalogue says (tests/test_i18n.py checks that every message has its translation)."""
    client.set_cookie("lang", "en")
    with force_locale("en"):
        yield


DAY = date(2026, 11, 20)
# 10:00 local (China Standard Time) on DAY is 02:00 UTC.
H10 = datetime(2026, 11, 20, 2, 0)


@pytest.fixture
def zhou(db_session):
    return db.session.scalar(sa.select(User).where(User.username == "zhou"))


@pytest.fixture
def plant(make_world, make_source):
    """A county with a key polluter, its boiler's CEMS (MN unique to the test) and limits:
    SO2 100 mg/m³ and NOx 200 mg/m³ from the start of the year."""
    world = make_world()
    source = make_source(world, key_polluter=True)
    point = services.add_point(
        source, "1号锅炉排放口", "T" + uuid.uuid4().hex[:12].upper(), "secret-1", "31"
    )
    services.set_limit(point, "a21026", 100.0, "GB 13223-2011 表1", date(2026, 1, 1), None)
    services.set_limit(point, "a21002", 200.0, "GB 13223-2011 表1", date(2026, 1, 1), None)
    return world, source, point


def minutes(point, code, hour, values, flags=None):
    """Minute values of one hour, one a minute, stored as the receiver stores them."""
    flags = flags or {}
    rows = [
        {
            "point_id": point.id,
            "code": code,
            "period": "minute",
            "at": hour + timedelta(minutes=i),
            "value": v,
            "flag": flags.get(i, "N"),
        }
        for i, v in enumerate(values)
    ]
    return insert_values(rows)


def hour_value(point, code, hour, value, flag="N"):
    return insert_values(
        [
            {
                "point_id": point.id,
                "code": code,
                "period": "hour",
                "at": hour,
                "value": value,
                "flag": flag,
            }
        ]
    )


def exceedances(point):
    return db.session.scalars(
        sa.select(Exceedance).where(Exceedance.point_id == point.id).order_by(Exceedance.hour)
    ).all()


def test_a_day_with_exceedances_and_invalid_hours(plant):
    world, source, point = plant
    # 10:00 SO2 minutes: 50 N at 150, 10 C at 0 -> valid exceedance 150 over 50 minutes.
    minutes(point, "a21026", H10, [150.0] * 50 + [0.0] * 10, {i: "C" for i in range(50, 60)})
    # 11:00 SO2: 40 N at 300, 20 M at 300 -> over, but invalid (M, too few valid minutes).
    minutes(
        point, "a21026", H10 + timedelta(hours=1), [300.0] * 60, {i: "M" for i in range(40, 60)}
    )
    # 12:00 SO2 hour packet 90 N: under the limit. 13:00 NOx hour packet 250 D: invalid.
    hour_value(point, "a21026", H10 + timedelta(hours=2), 90.0)
    hour_value(point, "a21002", H10 + timedelta(hours=3), 250.0, "D")
    # 14:00 NOx 201 N hour packet: exceedance. The next day's hour is not this day's.
    hour_value(point, "a21002", H10 + timedelta(hours=4), 201.0)
    hour_value(point, "a21002", datetime(2026, 11, 20, 16, 0), 999.0)  # 00:00 on the 21st

    done = services.compute_day(DAY)

    assert (done.valid, done.invalid, done.dropped) == (2, 2, 0)
    found = [
        (e.code, e.hour, e.average, e.limit_value, e.minutes, e.flag, e.status, e.invalid_reason)
        for e in exceedances(point)
    ]
    assert found == [
        ("a21026", H10, 150.0, 100.0, 50, "N", "valid", None),
        ("a21026", H10 + timedelta(hours=1), 300.0, 100.0, 40, "M", "invalid", "数据标记M（维护）"),
        (
            "a21002",
            H10 + timedelta(hours=3),
            250.0,
            200.0,
            None,
            "D",
            "invalid",
            "数据标记D（故障）",
        ),
        ("a21002", H10 + timedelta(hours=4), 201.0, 200.0, None, "N", "valid", None),
    ]
    first = exceedances(point)[0]
    assert (first.day, first.source_id, first.county_id) == (DAY, source.id, world.county.id)
    assert (first.unit, first.standard) == ("mg/m³", "GB 13223-2011 表1")


def test_a_later_limit_applies_from_its_day(plant):
    _world, _source, point = plant
    services.set_limit(point, "a21026", 50.0, "超低排放", DAY, None)
    hour_value(point, "a21026", H10, 80.0)  # over 50 (from DAY), under 100 (before)
    hour_value(point, "a21026", H10 - timedelta(days=1), 80.0)
    services.compute_day(DAY)
    services.compute_day(DAY - timedelta(days=1))
    assert [(e.day, e.limit_value) for e in exceedances(point)] == [(DAY, 50.0)]


def test_recomputing_keeps_decisions_and_links_and_drops_what_is_gone(plant, zhou):
    world, _source, point = plant
    hour_value(point, "a21026", H10, 150.0)
    hour_value(point, "a21026", H10 + timedelta(hours=1), 160.0)
    hour_value(point, "a21026", H10 + timedelta(hours=2), 170.0, "C")
    services.compute_day(DAY)
    first, second, third = exceedances(point)
    services.mark(first, False, "现场核实为仪器漂移", zhou)
    services.mark(third, True, "", zhou)  # the centre finds the calibration flag wrong
    again = services.compute_day(DAY)
    assert (again.valid, again.invalid) == (2, 1)
    first, second, third = exceedances(point)
    assert (first.status, first.invalid_reason) == ("invalid", "现场核实为仪器漂移")
    assert (third.status, third.invalid_reason) == ("valid", None)
    # The second hour is reported; then its value goes under the limit (a corrected packet can't
    # overwrite, so change the limit instead): still kept, since a report holds it.
    report = services.issue_report(world.county.id, DAY, zhou)
    services.set_limit(point, "a21026", 500.0, "新许可", DAY, None)
    assert services.compute_day(DAY).dropped == 0
    assert len(exceedances(point)) == 3
    assert {e.report_id for e in exceedances(point)} == {report.id}


def test_an_hour_no_longer_over_is_dropped_when_nothing_holds_it(plant):
    _world, _source, point = plant
    hour_value(point, "a21026", H10, 150.0)
    services.compute_day(DAY)
    services.set_limit(point, "a21026", 500.0, "新许可", DAY, None)
    assert services.compute_day(DAY).dropped == 1
    assert exceedances(point) == []


def test_marking_invalid_needs_a_reason_and_stops_at_the_report(plant, zhou):
    world, _source, point = plant
    hour_value(point, "a21026", H10, 150.0)
    services.compute_day(DAY)
    (one,) = exceedances(point)
    with pytest.raises(ServiceError, match="Say why"):
        services.mark(one, False, "  ", zhou)
    assert one.status == "valid" and one.invalid_at is None
    services.issue_report(world.county.id, DAY, zhou)
    with pytest.raises(ServiceError, match="already issued"):
        services.mark(one, False, "维护", zhou)


def test_the_report_of_a_day_without_data_is_refused_and_nothing_written(plant, zhou):
    world, _source, point = plant
    hour_value(point, "a21026", H10 - timedelta(days=2), 150.0)
    with pytest.raises(ServiceError, match="No data for 2026-11-20"):
        services.issue_report(world.county.id, DAY, zhou)
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(DailyReport)
            .where(DailyReport.county_id == world.county.id)
        )
        == 0
    )


def test_reports_go_once_to_each_county_with_data(plant, zhou):
    world, _source, point = plant
    hour_value(point, "a21026", H10, 150.0)
    hour_value(point, "a21026", H10 + timedelta(hours=1), 50.0)
    services.compute_day(DAY)
    reports = services.issue_reports(DAY, zhou)
    mine = [r for r in reports if r.county_id == world.county.id]
    assert len(mine) == 1 and mine[0].issued_by_id == zhou.id
    assert [e.report_id for e in exceedances(point)] == [mine[0].id]
    with pytest.raises(ServiceError, match="already issued"):
        services.issue_report(world.county.id, DAY, zhou)


def test_a_county_with_data_and_no_exceedance_gets_a_nil_report(plant, zhou):
    world, _source, point = plant
    hour_value(point, "a21026", H10, 50.0)
    services.compute_day(DAY)
    report = services.issue_report(world.county.id, DAY, zhou)
    assert report.day == DAY and exceedances(point) == []


def _reported(plant, zhou, hours=2):
    world, _source, point = plant
    for i in range(hours):
        hour_value(point, "a21026", H10 + timedelta(hours=i), 150.0 + i)
    services.compute_day(DAY)
    return services.issue_report(world.county.id, DAY, zhou), exceedances(point)


def test_the_county_files_a_case_for_two_exceedances_with_a_photo(plant, zhou):
    world = plant[0]
    report, (one, two) = _reported(plant, zhou)
    store = evidence.photo_store()
    moment = evidence.capture(world.county, world.county_office.name, utcnow())
    photo = evidence.prepare_or_refuse(factories.jpeg(7), moment, store)
    disposal = services.record_disposal(
        report,
        services.DisposalForm(
            [one.id, two.id], "case", case_number="昌环罚〔2026〕12号", photos=[photo]
        ),
        world.county_office,
        store,
    )
    assert (disposal.kind, disposal.case_number, disposal.county_id) == (
        "case",
        "昌环罚〔2026〕12号",
        world.county.id,
    )
    assert {one.disposal_id, two.disposal_id} == {disposal.id}
    linked = db.session.execute(
        sa.select(disposal_photo.c.photo_id).where(
            disposal_photo.c.enforce_disposal_id == disposal.id
        )
    ).all()
    assert len(linked) == 1
    with pytest.raises(ServiceError, match="already have"):
        services.record_disposal(
            report,
            services.DisposalForm([one.id], "opinion", opinion="再次"),
            world.county_office,
            None,
        )


def test_an_opinion_needs_its_text_and_a_case_its_number(plant, zhou):
    world = plant[0]
    report, (one, _two) = _reported(plant, zhou)
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Disposal))
    for form, message in [
        (services.DisposalForm([one.id], "case", case_number="  "), "case number"),
        (services.DisposalForm([one.id], "opinion", opinion=""), "investigation opinion"),
        (services.DisposalForm([], "case", case_number="1"), "Tick"),
        (services.DisposalForm([one.id], "other", case_number="1"), "Choose"),
        (services.DisposalForm([10**9], "case", case_number="1"), "not in this report"),
    ]:
        with pytest.raises(ServiceError, match=message):
            services.record_disposal(report, form, world.county_office, None)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Disposal)) == before
    assert one.disposal_id is None
    opinion = services.record_disposal(
        report,
        services.DisposalForm([one.id], "opinion", opinion="经现场核查，系启炉阶段，不予立案。"),
        world.county_office,
        None,
    )
    assert opinion.kind == "opinion" and opinion.case_number is None


def test_invalid_data_need_no_disposal(plant, zhou):
    world, _source, point = plant
    hour_value(point, "a21026", H10, 150.0, "M")
    services.compute_day(DAY)
    report = services.issue_report(world.county.id, DAY, zhou)
    (one,) = exceedances(point)
    with pytest.raises(ServiceError, match="Invalid data"):
        services.record_disposal(
            report,
            services.DisposalForm([one.id], "case", case_number="1"),
            world.county_office,
            None,
        )


@pytest.mark.parametrize(
    "code, value, standard, message",
    [
        ("a99999", 10.0, "GB", "Unknown pollutant code a99999"),
        ("w01018", 10.0, "GB", "not measured at a point of kind 31"),
        ("a21026", -5.0, "GB", "above zero"),
        ("a21026", 0.0, "GB", "above zero"),
        ("a21026", 10.0, " ", "Name the standard"),
        ("a21026", 10.0, "GB", "already set"),  # same code and day as the fixture's
    ],
)
def test_bad_limits_are_refused_and_nothing_written(plant, code, value, standard, message):
    _world, _source, point = plant
    before = db.session.scalar(sa.select(sa.func.count()).select_from(EmissionLimit))
    with pytest.raises(ServiceError, match=message):
        services.set_limit(point, code, value, standard, date(2026, 1, 1), None)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmissionLimit)) == before


def test_points_need_a_free_mn_and_a_password(plant):
    world, source, point = plant
    with pytest.raises(ServiceError, match="already used"):
        services.add_point(source, "2号", point.mn, "secret-2", "31")
    with pytest.raises(ServiceError, match="password"):
        services.add_point(source, "2号", "NEWMN1", "123", "31")
    with pytest.raises(ServiceError, match="MN must be"):
        services.add_point(source, "2号", "MN;1", "secret-2", "31")
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(MonitoringPoint)
            .where(MonitoringPoint.source_id == source.id)
        )
        == 1
    )
    assert point.county_id == world.county.id


def test_a_value_sent_twice_is_stored_once(plant):
    _world, _source, point = plant
    assert hour_value(point, "a21026", H10, 150.0) == 1
    assert hour_value(point, "a21026", H10, 10.0, "C") == 0
    assert (
        db.session.scalar(sa.select(CemsValue.value).where(CemsValue.point_id == point.id)) == 150.0
    )


# --- the hours averaged by the database equal the Python reference -----------------------------


def _random_day(point, rng, decimals):
    """Random minute values with flags for 26 hours around DAY (its local day is 16:00 UTC the
    day before to 16:00 UTC), both pollutants, and a few hour packets; `decimals` None: values
    that are multiples of 1/8 (sums exact in any order), else rounded to that many decimals."""
    first = datetime(2026, 11, 19, 15, 0)
    rows = []
    for h in range(26):
        hour = first + timedelta(hours=h)
        for code, centre in (("a21026", 100.0), ("a21002", 200.0)):
            if rng.random() < 0.1:
                period, ats = "hour", [hour]
            else:
                period, ats = "minute", sorted(rng.sample(range(60), rng.randint(1, 60)))
                ats = [hour + timedelta(minutes=m) for m in ats]
            share = rng.choice((0.0, 0.05, 0.3, 0.8))
            middle = centre * rng.uniform(0.6, 1.6)
            for at in ats:
                value = rng.uniform(0, 2 * middle)
                value = round(value * 8) / 8 if decimals is None else round(value, decimals)
                flag = rng.choice("FMSDCTB") if rng.random() < share else "N"
                rows.append(
                    {
                        "point_id": point.id,
                        "code": code,
                        "period": period,
                        "at": at,
                        "value": value,
                        "flag": flag,
                    }
                )
    insert_values(rows)
    return rows


def _reference(point, rows):
    """rules.hours in Python over the rows of DAY, per code: (code, HourValue)."""
    start, end = rules.day_bounds(DAY, ZoneInfo("Asia/Shanghai"))
    found = []
    for code in ("a21026", "a21002"):
        mine = [r for r in rows if r["code"] == code and start <= r["at"] < end]
        samples = {
            period: [Sample(r["at"], r["value"], r["flag"]) for r in mine if r["period"] == period]
            for period in ("minute", "hour")
        }
        values = rules.hours(samples["minute"], samples["hour"])
        found += [(code, v) for v in values]
        assert len(values) == 24
    return found


def _check(point, rows, exact):
    reference = _reference(point, rows)
    start, end = rules.day_bounds(DAY, ZoneInfo("Asia/Shanghai"))
    computed = services.day_hours([point.id], ["a21002", "a21026"], start, end, 45)
    got = [(code, v) for code in ("a21026", "a21002") for v in computed[(point.id, code)]]
    assert len(got) == len(reference) == 48
    apart = 0
    for (code, mine), (ref_code, ref) in zip(got, reference, strict=True):
        assert code == ref_code
        if exact or ref.valid:
            assert mine == ref
        else:  # the sum of every minute, added in another order: see rules.from_tallies
            assert (mine.hour, mine.flag, mine.minutes, mine.reason) == (
                ref.hour,
                ref.flag,
                ref.minutes,
                ref.reason,
            )
            assert abs(mine.average - ref.average) <= 1.000001e-4
            apart += mine.average != ref.average
    assert apart <= 1
    # compute_day keeps exactly the reference's hours over the limits.
    done = services.compute_day(DAY)
    limit = {"a21026": 100.0, "a21002": 200.0}
    expected = sorted(
        (code, v.hour, v.average, v.minutes, v.flag, v.reason)
        for code, v in reference
        if v.average > limit[code]
    )
    stored = sorted(
        (e.code, e.hour, e.average, e.minutes, e.flag, e.invalid_reason) for e in exceedances(point)
    )
    if exact:
        assert stored == expected
    else:
        assert [s[:2] + s[3:] for s in stored] == [e[:2] + e[3:] for e in expected]
    assert done.valid + done.invalid == len(expected) > 10
    assert done.invalid > 0 and done.valid > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hours_averaged_by_the_database_are_the_reference(plant, seed):
    """Random minute values with flags (multiples of 1/8: every sum exact): the database's
    hourly counts and sums give exactly rules.hours over the minutes read into Python."""
    _world, _source, point = plant
    _check(point, _random_day(point, random.Random(seed), None), exact=True)  # noqa: S311


@pytest.mark.parametrize("seed", [4, 5])
def test_hours_averaged_by_the_database_on_decimal_values(plant, seed):
    """Values with two decimals: valid averages exact; an invalid hour's average at most one
    unit of the 4th decimal away (the database adds in its own order)."""
    _world, _source, point = plant
    _check(point, _random_day(point, random.Random(seed), 2), exact=False)  # noqa: S311
