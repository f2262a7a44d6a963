"""The exceedance rules (RULES §8, seed 000; HJ 212 data flags), against hand-made data: hours
from minute values with and without enough valid minutes, hour packets with their flags, the
limit in force on a day, and real HJ 212 packets read through alerts.hj212."""

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts import hj212
from enforce.exceed import rules
from enforce.exceed.rules import Limit, Sample

ZONE = ZoneInfo("Asia/Shanghai")
H = datetime(2026, 11, 30, 2, 0)  # 10:00 local on 30 November
LIMIT = Limit(100.0, date(2026, 1, 1), "mg/m³", "GB 13223-2011 表1")


def minutes(values, start=H, flags=None):
    """Minute samples from `start`, one a minute; `flags` maps a minute index to its flag."""
    flags = flags or {}
    return [
        Sample(start + timedelta(minutes=i), v, flags.get(i, "N")) for i, v in enumerate(values)
    ]


# --- an hour from minutes ---------------------------------------------------------------------


def test_sixty_normal_minutes_average_to_the_hour():
    value = rules.from_minutes(minutes([90.0] * 30 + [130.0] * 30))
    assert value == rules.HourValue(H, 110.0, "N", 60, None)
    assert value.valid


def test_only_normal_minutes_count_in_the_average():
    # 50 N minutes at 120, 10 calibration minutes at 0: the average is 120 over 50 minutes.
    value = rules.from_minutes(
        minutes([120.0] * 50 + [0.0] * 10, flags={i: "C" for i in range(50, 60)})
    )
    assert (value.average, value.minutes, value.flag, value.valid) == (120.0, 50, "N", True)


@pytest.mark.parametrize(
    "normal, needed, valid",
    [(45, 45, True), (44, 45, False), (30, 30, True), (29, 30, False), (60, 60, True)],
)
def test_the_minimum_of_valid_minutes(normal, needed, valid):
    # `normal` N minutes, the rest of the hour under maintenance.
    flags = {i: "M" for i in range(normal, 60)}
    value = rules.from_minutes(minutes([150.0] * 60, flags=flags), min_valid=needed)
    assert value.valid is valid
    assert value.minutes == normal
    assert value.flag == ("N" if valid else "M")
    assert value.reason == (None if valid else "数据标记M（维护）")


def test_the_default_minimum_is_45():
    assert rules.MIN_VALID_MINUTES == 45
    assert not rules.from_minutes(minutes([150.0] * 44)).valid
    assert rules.from_minutes(minutes([150.0] * 45)).valid


def test_too_few_minutes_all_normal_says_so():
    value = rules.from_minutes(minutes([200.0] * 20))
    assert (value.flag, value.minutes, value.reason) == ("N", 20, "有效分钟数不足（20/45）")
    assert value.average == 200.0


def test_an_invalid_hour_averages_every_minute_and_names_the_most_frequent_flag():
    # 20 N at 100, 25 D (fault) at 300, 15 C at 0: (2000 + 7500 + 0) / 60
    flags = {i: "D" for i in range(20, 45)} | {i: "C" for i in range(45, 60)}
    value = rules.from_minutes(minutes([100.0] * 20 + [300.0] * 25 + [0.0] * 15, flags=flags))
    assert value.average == round(9500 / 60, 4)
    assert (value.flag, value.minutes, value.reason) == ("D", 20, "数据标记D（故障）")


def test_equal_counts_of_flags_take_the_first_in_the_standard_order():
    flags = {i: "C" for i in range(0, 10)} | {i: "M" for i in range(10, 20)}
    value = rules.from_minutes(minutes([1.0] * 60, flags=flags))
    assert value.flag == "M"  # N F M S D C T B: M before C


def test_no_minutes_no_hour():
    assert rules.from_minutes([]) is None


# --- hour packets, and which value an hour takes -------------------------------------------------


@pytest.mark.parametrize("flag", rules.FLAGS)
def test_an_hour_packet_is_used_as_sent_with_its_flag(flag):
    value = rules.from_packet(Sample(H, 123.4, flag))
    assert (value.hour, value.average, value.flag, value.minutes) == (H, 123.4, flag, None)
    assert value.valid is (flag == "N")
    if flag != "N":
        assert value.reason == f"数据标记{flag}（{rules.FLAG_NAMES[flag]}）"


def test_the_hour_packet_wins_over_minutes_of_the_same_hour():
    found = rules.hours(minutes([500.0] * 60), [Sample(H, 80.0, "N")])
    assert [(v.hour, v.average, v.minutes) for v in found] == [(H, 80.0, None)]


def test_hours_group_minutes_and_keep_time_order():
    later = H + timedelta(hours=1)
    found = rules.hours(
        minutes([50.0] * 60, start=later) + minutes([70.0] * 60),
        [Sample(H + timedelta(hours=3), 9.0, "F")],
    )
    assert [(v.hour, v.average, v.flag) for v in found] == [
        (H, 70.0, "N"),
        (later, 50.0, "N"),
        (H + timedelta(hours=3), 9.0, "F"),
    ]


# --- limits and findings ------------------------------------------------------------------------


def test_the_limit_in_force_is_the_latest_started_on_or_before_the_day():
    old = Limit(200.0, date(2025, 1, 1))
    new = Limit(100.0, date(2026, 11, 30))
    assert rules.limit_on([new, old], date(2026, 11, 29)) == old
    assert rules.limit_on([new, old], date(2026, 11, 30)) == new
    assert rules.limit_on([new, old], date(2024, 12, 31)) is None
    assert rules.limit_on([], date(2026, 11, 30)) is None


@pytest.mark.parametrize(
    "average, over", [(99.9, False), (100.0, False), (100.0001, True), (250.0, True)]
)
def test_over_means_strictly_above_the_limit(average, over):
    value = rules.HourValue(H, average, "N", 60)
    assert (rules.judge(value, LIMIT) is not None) is over


def test_no_limit_no_finding():
    assert rules.judge(rules.HourValue(H, 1e9, "N", 60), None) is None


def test_a_flagged_hour_over_the_limit_is_invalid_data_not_an_exceedance():
    finding = rules.judge(rules.from_packet(Sample(H, 300.0, "C")), LIMIT)
    assert finding is not None and not finding.valid
    assert finding.hour.reason == "数据标记C（校准）"


def test_a_flagged_hour_under_the_limit_is_nothing():
    assert rules.judge(rules.from_packet(Sample(H, 30.0, "M")), LIMIT) is None


def test_local_days_and_their_bounds():
    assert rules.day_bounds(date(2026, 11, 30), ZONE) == (
        datetime(2026, 11, 29, 16, 0),
        datetime(2026, 11, 30, 16, 0),
    )
    assert rules.local_day(datetime(2026, 11, 29, 15, 0), ZONE) == date(2026, 11, 29)
    assert rules.local_day(datetime(2026, 11, 29, 16, 0), ZONE) == date(2026, 11, 30)


def test_findings_of_a_day_use_each_days_limit():
    # 23:00 local on 29 Nov (limit 200) and 00:00 local on 30 Nov (limit 100), both at 150.
    late = datetime(2026, 11, 29, 15, 0)
    early = datetime(2026, 11, 29, 16, 0)
    limits = [Limit(200.0, date(2025, 1, 1)), Limit(100.0, date(2026, 11, 30))]
    found = rules.findings([], [Sample(late, 150.0), Sample(early, 150.0)], limits, ZONE)
    assert [(f.hour.hour, f.limit.value) for f in found] == [(early, 100.0)]


# --- real HJ 212 packets --------------------------------------------------------------------------


def _samples(frame, period):
    """What the ingest keeps of a frame: the -Avg values with their flags (local DataTime,
    which the rules do not mind: they only group and compare)."""
    packet = hj212.parse(frame)
    assert packet.cn == {"minute": "2051", "hour": "2061"}[period]
    return [
        (r.code, Sample(r.at, r.value, r.flag)) for r in hj212.readings(packet) if r.kind == "Avg"
    ]


def _minute_frame(at, so2, flag="N"):
    items = [
        {"DataTime": at.strftime("%Y%m%d%H%M%S")},
        {"a21026-Avg": so2, "a21026-Min": so2, "a21026-Max": so2, "a21026-Flag": flag},
        {"a21002-Avg": 40.0, "a21002-Flag": "N"},
    ]
    return hj212.build("31", "2051", "123456", "CEMS0001", items, qn="20261130100000000", flag=5)


def test_an_hour_of_real_minute_packets_with_calibration_minutes():
    """60 CN 2051 packets: SO2 at 180 mg/m³ for 46 minutes, 14 minutes of calibration at 0;
    NOx at 40 throughout. SO2 (limit 100) is an exceedance of 180 over 46 minutes; NOx is not."""
    local = datetime(2026, 11, 30, 10, 0)
    values = []
    for i in range(60):
        calibrating = 20 <= i < 34
        frame = _minute_frame(
            local + timedelta(minutes=i), 0.0 if calibrating else 180.0, "C" if calibrating else "N"
        )
        values += _samples(frame, "minute")
    so2 = [s for code, s in values if code == "a21026"]
    nox = [s for code, s in values if code == "a21002"]
    assert len(so2) == len(nox) == 60
    (found,) = rules.findings(so2, [], [LIMIT], ZONE)
    assert (found.hour.average, found.hour.minutes, found.valid) == (180.0, 46, True)
    assert rules.findings(nox, [], [LIMIT], ZONE) == []
    # Two more minutes of calibration: 44 valid minutes, the hour is invalid data (C).
    so2[34] = Sample(so2[34].at, 0.0, "C")
    so2[35] = Sample(so2[35].at, 0.0, "C")
    (found,) = rules.findings(so2, [], [LIMIT], ZONE)
    assert not found.valid and found.hour.flag == "C" and found.hour.minutes == 44
    assert found.hour.average == round(180.0 * 44 / 60, 4)


def test_real_hour_packets_with_flags():
    """A CN 2061 packet per hour: N over the limit is an exceedance, M and D over it are invalid
    data, N under it is nothing."""
    sent = [(10, 150.0, "N"), (11, 160.0, "M"), (12, 90.0, "N"), (13, 400.0, "D")]
    hours = []
    for local_hour, value, flag in sent:
        items = [
            {"DataTime": datetime(2026, 11, 30, local_hour).strftime("%Y%m%d%H%M%S")},
            {"a21026-Avg": value, "a21026-Flag": flag},
        ]
        frame = hj212.build("31", "2061", "123456", "CEMS0001", items, flag=5)
        hours += [s for _code, s in _samples(frame, "hour")]
    found = rules.findings([], hours, [LIMIT], ZONE)
    assert [(f.hour.hour.hour, f.hour.average, f.valid, f.hour.flag) for f in found] == [
        (10, 150.0, True, "N"),
        (11, 160.0, False, "M"),
        (13, 400.0, False, "D"),
    ]


# --- an hour from per-flag counts and sums (as the database gives them) -----------------------


def _random_hour(rng, step):
    """Random minutes of one hour: 1 to 60 of them, at random minutes, mostly N or with a
    random share of other flags, values multiples of `step` up to 500."""
    count = rng.randint(1, 60)
    at = sorted(rng.sample(range(60), count))
    share = rng.choice((0.0, 0.05, 0.3, 0.7, 1.0))
    return [
        Sample(
            H + timedelta(minutes=m),
            rng.randint(0, round(500 / step)) * step,
            rng.choice(rules.FLAGS[1:]) if rng.random() < share else "N",
        )
        for m in at
    ]


def test_from_tallies_is_from_minutes_on_exact_sums():
    """Values that are multiples of 1/8: every sum is exact in any order, so the hour from the
    per-flag counts and sums is exactly the hour from the minutes, over many random hours."""
    rng = random.Random(13_001)  # noqa: S311 - reproducible data
    invalid = 0
    for _ in range(5000):
        minutes_ = _random_hour(rng, 0.125)
        needed = rng.choice((1, 30, 45, 60))
        expected = rules.from_minutes(minutes_, needed)
        assert rules.from_tallies(H, rules.tally(minutes_), needed) == expected
        invalid += not expected.valid
    assert 1000 < invalid < 4000  # both branches well exercised


def test_from_tallies_is_from_minutes_on_decimal_values():
    """Values with two decimals (as devices send them): the valid average sums the N minutes in
    the same order, so it is exact; an invalid hour's average of every minute adds the flags'
    sums, another order than from_minutes', so it is exact whenever both sums are the same
    double, and otherwise at most one unit of the 4th decimal away (the rounding of a last-bit
    difference); flag, minutes and reason are always the same."""
    rng = random.Random(13_002)  # noqa: S311 - reproducible data
    apart = 0
    for _ in range(5000):
        minutes_ = [Sample(m.at, round(m.value, 2), m.flag) for m in _random_hour(rng, 0.01)]
        needed = rng.choice((1, 30, 45, 60))
        expected = rules.from_minutes(minutes_, needed)
        tallies = rules.tally(minutes_)
        got = rules.from_tallies(H, tallies, needed)
        same_sum = sum(m.value for m in minutes_) == sum(t.total for t in tallies.values())
        if expected.valid or same_sum:
            assert got == expected
        else:
            assert (got.hour, got.flag, got.minutes, got.reason) == (
                expected.hour,
                expected.flag,
                expected.minutes,
                expected.reason,
            )
            assert abs(got.average - expected.average) <= 1.000001e-4
            apart += got.average != expected.average
    assert apart < 50  # a rare rounding of a last-bit difference


def test_from_tallies_edge_cases():
    assert rules.from_tallies(H, {}) is None
    assert rules.from_tallies(H, {"N": rules.Tally(0, 0.0)}) is None
    # 44 valid minutes and 16 of M and C each 8: too few, the first flag in FLAGS' order wins.
    value = rules.from_tallies(
        H, {"N": rules.Tally(44, 44 * 150.0), "C": rules.Tally(8, 0.0), "M": rules.Tally(8, 0.0)}
    )
    assert (value.flag, value.minutes, value.average) == ("M", 44, 110.0)
    assert value.reason == "数据标记M（维护）"


def test_hours_from_tallies_is_hours():
    """Hour packets win over minutes; hours in time order; the same as `hours`."""
    rng = random.Random(13_003)  # noqa: S311 - reproducible data
    minute_values, tallies = [], {}
    for h in range(6):
        hour_minutes = [
            Sample(m.at + timedelta(hours=h), m.value, m.flag) for m in _random_hour(rng, 0.5)
        ]
        minute_values += hour_minutes
        tallies[H + timedelta(hours=h)] = rules.tally(hour_minutes)
    packets = [Sample(H + timedelta(hours=2), 80.0, "N"), Sample(H + timedelta(hours=7), 9.0, "D")]
    expected = rules.hours(reversed(minute_values), packets)
    assert rules.hours_from_tallies(dict(reversed(tallies.items())), packets) == expected
    assert [v.hour for v in expected] == [H + timedelta(hours=h) for h in (0, 1, 2, 3, 4, 5, 7)]
