"""HJ 633 (IAQI, AQI) and HJ 663 (percentile, composite index, monthly validity) in both editions
(STANDARDS.md "Editions", "HJ 633", "HJ 663"; alerts/aqi.py). Pure: no app, no database.

The breakpoint table below is copied from STANDARDS.md, not read back from the module, and the
expected IAQIs between breakpoints are worked out here from the formula with exact fractions.
"""

import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import pytest

from alerts.aqi import (
    CURRENT_EDITION,
    EDITION_2026_FROM,
    LIMITS,
    AqiResult,
    MonthStats,
    aqi,
    change_rate,
    composite_index,
    daily_max_8h,
    daily_mean,
    edition_on,
    iaqi,
    level_of,
    month_stats,
    percentile,
)

# STANDARDS.md "HJ 633", row by row: the IAQI, then each column's concentration (None: (b), (c)).
IAQI_ROWS = (0, 50, 100, 150, 200, 300, 400, 500)
# fmt: off
TABLE = {
    #                 0   50   100  150   200   300   400   500
    "SO2 24h":       (0,  50,  150, 475,  800,  1600, 2100, 2620),
    "SO2 1h":        (0,  150, 500, 650,  800,  None, None, None),
    "NO2 24h":       (0,  40,  80,  180,  280,  565,  750,  940),
    "NO2 1h":        (0,  100, 200, 700,  1200, 2340, 3090, 3840),
    "CO 24h":        (0,  2,   4,   14,   24,   36,   48,   60),
    "CO 1h":         (0,  5,   10,  35,   60,   90,   120,  150),
    "O3 1h":         (0,  160, 200, 300,  400,  800,  1000, 1200),
    "O3 8h":         (0,  100, 160, 215,  265,  800,  None, None),
    "PM10 24h 2012": (0,  50,  150, 250,  350,  420,  500,  600),
    "PM10 24h 2026": (0,  50,  120, 250,  350,  420,  500,  600),
    "PM2.5 24h 2012": (0, 35,  75,  115,  150,  250,  350,  500),
    "PM2.5 24h 2026": (0, 35,  60,  115,  150,  250,  350,  500),
}
# fmt: on


def column(pollutant, averaging, edition):
    """The (concentration, IAQI) breakpoints of a column; 1-hour PM uses the daily column."""
    if pollutant in ("PM10", "PM2.5"):
        name = f"{pollutant} 24h {edition}"
    else:
        name = f"{pollutant} {averaging}"
    return [(c, i) for c, i in zip(TABLE[name], IAQI_ROWS, strict=True) if c is not None]


# Every (pollutant, averaging) the standard indexes: PM over 1 hour with the daily breakpoints.
PAIRS = [
    ("SO2", "24h"),
    ("SO2", "1h"),
    ("NO2", "24h"),
    ("NO2", "1h"),
    ("CO", "24h"),
    ("CO", "1h"),
    ("O3", "1h"),
    ("O3", "8h"),
    ("PM10", "24h"),
    ("PM10", "1h"),
    ("PM2.5", "24h"),
    ("PM2.5", "1h"),
]
EDITIONS = ("2012", "2026")


def by_formula(pollutant, averaging, edition, concentration):
    """IAQI = (I_hi - I_lo) / (BP_hi - BP_lo) x (C - BP_lo) + I_lo, rounded up, in fractions.
    No pre-rounding: the callers give 2026 values already rounded (integers, CO 0.1)."""
    c = Fraction(str(concentration))
    points = column(pollutant, averaging, edition)
    for (bp_lo, i_lo), (bp_hi, i_hi) in pairwise(points):
        if bp_lo <= c <= bp_hi:
            return math.ceil(Fraction(i_hi - i_lo, bp_hi - bp_lo) * (c - bp_lo) + i_lo)
    raise AssertionError(f"{concentration} is outside the table")


# --- editions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "edition"),
    [
        (date(2013, 1, 1), "2012"),
        (date(2026, 2, 28), "2012"),
        (date(2026, 3, 1), "2026"),
        (date(2026, 3, 2), "2026"),
    ],
)
def test_edition_by_the_data_date(day, edition):
    assert edition_on(day) == edition


def test_edition_constants():
    assert EDITION_2026_FROM == date(2026, 3, 1)
    assert CURRENT_EDITION == "2026"


def test_edition_wants_a_date_not_a_datetime():
    with pytest.raises(TypeError):
        edition_on(datetime(2026, 3, 1, 8))


# --- IAQI: the table --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edition", "pollutant", "averaging", "concentration", "expected"),
    [
        (edition, pollutant, averaging, c, i)
        for edition in EDITIONS
        for pollutant, averaging in PAIRS
        for c, i in column(pollutant, averaging, edition)
    ],
)
def test_every_breakpoint_gives_its_iaqi(edition, pollutant, averaging, concentration, expected):
    assert iaqi(pollutant, concentration, averaging, edition) == expected
    assert iaqi(pollutant, float(concentration), averaging, edition) == expected


def between(pollutant, averaging, edition):
    """Values inside each segment: just above its start, the middle, just below its end (and
    under 2012, which indexes unrounded values, some with more decimals)."""
    step = Fraction(1, 10) if pollutant == "CO" else Fraction(1)
    points = column(pollutant, averaging, edition)
    values = []
    for (lo, _i), (hi, _j) in pairwise(points):
        middle = math.floor(Fraction(lo + hi, 2) / step) * step
        values += [lo + step, middle, hi - step]
        if edition == "2012":
            values += [lo + step / 7, hi - step / 3]
    return [float(v) if v.denominator > 1 else int(v) for v in values]


@pytest.mark.parametrize(
    ("edition", "pollutant", "averaging", "concentration"),
    [
        (edition, pollutant, averaging, c)
        for edition in EDITIONS
        for pollutant, averaging in PAIRS
        for c in between(pollutant, averaging, edition)
    ],
)
def test_between_breakpoints_by_the_formula(edition, pollutant, averaging, concentration):
    expected = by_formula(pollutant, averaging, edition, concentration)
    assert iaqi(pollutant, concentration, averaging, edition) == expected


@pytest.mark.parametrize(
    ("edition", "pollutant", "averaging", "concentration", "expected"),
    [
        # 2026: (150 - 100) / (115 - 60) x (61 - 60) + 100 = 100.9 -> 101
        ("2026", "PM2.5", "24h", 61, 101),
        ("2026", "PM2.5", "1h", 61, 101),  # real-time PM: the daily breakpoints
        ("2026", "PM2.5", "24h", 60, 100),
        ("2012", "PM2.5", "24h", 60, 82),  # 50 + 50/40 x 25 = 81.25
        ("2012", "PM2.5", "24h", 75, 100),
        ("2012", "PM2.5", "24h", 76, 102),  # 100 + 50/40 x 1 = 101.25
        ("2026", "PM10", "24h", 121, 101),  # 100 + 50/130 x 1 = 100.38
        ("2012", "PM10", "24h", 121, 86),  # 50 + 50/100 x 71 = 85.5
        ("2012", "SO2", "24h", 51, 51),  # 50.5
        ("2012", "NO2", "1h", 101.5, 51),  # 50.75
        ("2012", "CO", "24h", 2.1, 53),  # 50 + 25 x 0.1 = 52.5
        ("2012", "O3", "8h", 130, 75),  # 50 + 50/60 x 30 = 75 exactly
        ("2026", "O3", "1h", 180, 75),  # 50 + 50/40 x 20 = 75 exactly
    ],
)
def test_hand_checked_examples(edition, pollutant, averaging, concentration, expected):
    assert iaqi(pollutant, concentration, averaging, edition) == expected


def test_the_current_edition_is_the_default():
    assert iaqi("PM2.5", 61, "24h") == 101
    assert iaqi("PM2.5", 61, "24h", None) == 101


# --- IAQI: rounding ---------------------------------------------------------------------------


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize(
    ("pollutant", "averaging", "concentration", "expected"),
    [
        # exactly an integer stays: 50 + 25 x 0.2 = 55 (in floats 55.00000000000001, so 56)
        ("CO", "24h", 2.2, 55),
        ("CO", "24h", Decimal("2.2"), 55),
        ("O3", "8h", 106, 55),  # 50 + 50/60 x 6 = 55
        ("NO2", "24h", 48, 60),  # 50 + 50/40 x 8 = 60
        # anything above goes up
        ("O3", "8h", 107, 56),  # 55.83
        ("NO2", "24h", 49, 62),  # 61.25
        ("SO2", "24h", 1, 1),  # 1
        ("SO2", "24h", 2, 2),  # 2
        ("NO2", "24h", 1, 2),  # 1.25
    ],
)
def test_rounded_up_exactly(edition, pollutant, averaging, concentration, expected):
    assert iaqi(pollutant, concentration, averaging, edition) == expected


@pytest.mark.parametrize(
    ("pollutant", "averaging", "concentration", "under_2012", "under_2026"),
    [
        # 2012 indexes the value as it is; 2026 rounds it half-even first (GB/T 8170)
        ("SO2", "24h", 0.1, 1, 0),  # 2026: 0
        ("PM2.5", "24h", 34.5, 50, 49),  # 2026: 34 -> 48.57; 2012: 49.29 -> 50
        ("PM2.5", "24h", 35.4, 51, 50),  # 2026: 35 -> 50; 2012: 50.5
        ("PM2.5", "24h", 35.5, 51, 52),  # 2026: 36 -> 52; 2012: 50.625
        ("PM2.5", "24h", 36.5, 52, 52),  # 2026: 36 (half to even) -> 52; 2012: 51.875
        ("PM2.5", "24h", 37.5, 54, 56),  # 2026: 38 -> 56; 2012: 53.125
        ("PM2.5", "24h", 60.5, 82, 100),  # 2026: 60 -> 100; 2012: 81.875
        ("CO", "24h", 2.25, 57, 55),  # 2026: 2.2 -> 55; 2012: 56.25
        ("CO", "24h", 2.35, 59, 60),  # 2026: 2.4 -> 60; 2012: 58.75
        # 0.15 is 0.1499999... as a float: read through its repr it is a half, and goes to 0.2
        ("CO", "24h", 0.15, 4, 5),  # 2026: 0.2 -> 5; 2012: 3.75
        ("CO", "24h", 0.25, 7, 5),  # 2026: 0.2 -> 5; 2012: 6.25
        ("PM2.5", "24h", 500.4, None, 500),  # 2026: 500, the last breakpoint
        ("PM2.5", "24h", 500.5, None, 500),  # 2026: 500 (half to even)
        ("PM2.5", "24h", 501.5, None, None),  # 2026: 502, above the table
    ],
)
def test_2026_rounds_half_even_first(pollutant, averaging, concentration, under_2012, under_2026):
    assert iaqi(pollutant, concentration, averaging, "2012") == under_2012
    assert iaqi(pollutant, concentration, averaging, "2026") == under_2026


# --- IAQI: above 800 and above the table ------------------------------------------------------


@pytest.mark.parametrize(
    ("pollutant", "averaging", "concentration", "under_2012", "under_2026"),
    [
        ("SO2", "1h", 800, 200, 200),
        ("SO2", "1h", 801, None, 200),  # 2012: use the 24-hour SO2 IAQI
        ("SO2", "1h", 5000, None, 200),
        ("O3", "8h", 800, 300, 300),
        ("O3", "8h", 801, None, 300),  # 2012: use the 1-hour O3 IAQI
        ("O3", "8h", 5000, None, 300),
    ],
)
def test_above_800(pollutant, averaging, concentration, under_2012, under_2026):
    assert iaqi(pollutant, concentration, averaging, "2012") == under_2012
    assert iaqi(pollutant, concentration, averaging, "2026") == under_2026


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize(
    ("pollutant", "averaging", "concentration"),
    [
        ("SO2", "24h", 2621),
        ("NO2", "24h", 941),
        ("NO2", "1h", 3841),
        ("CO", "24h", 61),
        ("CO", "1h", 151),
        ("O3", "1h", 1201),
        ("PM10", "24h", 601),
        ("PM10", "1h", 601),
        ("PM2.5", "24h", 501),
        ("PM2.5", "1h", 10_000),
    ],
)
def test_above_the_table_is_undefined(edition, pollutant, averaging, concentration):
    assert iaqi(pollutant, concentration, averaging, edition) is None


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize("concentration", [1e30, Decimal("1e50"), 1e300])
def test_absurd_values_are_above_the_table(edition, concentration):
    assert iaqi("PM2.5", concentration, "24h", edition) is None
    assert iaqi("CO", concentration, "1h", edition) is None


def test_just_above_the_table_under_2012():
    assert iaqi("PM2.5", 500.1, "24h", "2012") is None
    assert iaqi("CO", 60.01, "24h", "2012") is None
    assert iaqi("CO", 60.04, "24h", "2026") == 500  # rounded to 60.0 first


# --- IAQI: what is refused --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pollutant", "averaging", "concentration", "edition", "message"),
    [
        ("O3", "24h", 10, "2026", "O3 has no '24h'"),
        ("SO2", "8h", 10, "2026", "SO2 has no '8h'"),
        ("NO2", "8h", 10, "2012", "NO2 has no '8h'"),
        ("CO", "8h", 10, "2012", "CO has no '8h'"),
        ("PM2.5", "8h", 10, "2026", "PM2.5 has no '8h'"),
        ("PM10", "2h", 10, "2026", "PM10 has no '2h'"),
        ("PM25", "24h", 10, "2026", "unknown pollutant 'PM25'"),
        ("pm2.5", "24h", 10, "2026", "unknown pollutant"),
        ("PM2.5", "24h", 10, "2013", "unknown edition '2013'"),
        ("PM2.5", "24h", 10, 2026, "unknown edition"),
        ("PM2.5", "24h", -1, "2026", "negative"),
        ("PM2.5", "24h", -0.01, "2026", "negative"),  # not rounded to 0 first
        ("PM2.5", "24h", -0.01, "2012", "negative"),
        ("PM2.5", "24h", math.nan, "2026", "not a finite number"),
        ("PM2.5", "24h", math.inf, "2012", "not a finite number"),
        ("PM2.5", "24h", -math.inf, "2012", "not a finite number"),
        ("PM2.5", "24h", Decimal("NaN"), "2012", "not a finite number"),
        ("PM2.5", "24h", "35", "2026", "not a number"),
        ("PM2.5", "24h", None, "2026", "not a number"),
        ("PM2.5", "24h", True, "2026", "not a number"),
    ],
)
def test_invalid_input_raises(pollutant, averaging, concentration, edition, message):
    with pytest.raises(ValueError, match=message):
        iaqi(pollutant, concentration, averaging, edition)


# --- the AQI ----------------------------------------------------------------------------------

ALL_CLEAN = {
    ("SO2", "24h"): 5,
    ("NO2", "24h"): 10,
    ("CO", "24h"): 0.5,
    ("O3", "8h"): 50,
    ("PM10", "24h"): 20,
    ("PM2.5", "24h"): 10,
}


@pytest.mark.parametrize("edition", EDITIONS)
@pytest.mark.parametrize(
    ("so2_24h", "expected_aqi", "level", "level_name", "category", "colour"),
    [
        # SO2 24h: the same column in both editions; 151 -> 100.15, 1601 -> 300.3
        (50, 50, 1, "一级", "优", "#00e400"),
        (51, 51, 2, "二级", "良", "#ffff00"),
        (150, 100, 2, "二级", "良", "#ffff00"),
        (151, 101, 3, "三级", "轻度污染", "#ff7e00"),
        (475, 150, 3, "三级", "轻度污染", "#ff7e00"),
        (476, 151, 4, "四级", "中度污染", "#ff0000"),
        (800, 200, 4, "四级", "中度污染", "#ff0000"),
        (801, 201, 5, "五级", "重度污染", "#99004c"),
        (1600, 300, 5, "五级", "重度污染", "#99004c"),
        (1601, 301, 6, "六级", "严重污染", "#7e0023"),
        (2620, 500, 6, "六级", "严重污染", "#7e0023"),
    ],
)
def test_levels_and_colours(edition, so2_24h, expected_aqi, level, level_name, category, colour):
    values = {("SO2", "24h"): so2_24h, ("PM2.5", "24h"): 0}
    result = aqi(values, edition)
    assert isinstance(result, AqiResult)
    assert (result.aqi, result.level, result.level_name) == (expected_aqi, level, level_name)
    assert (result.category, result.colour) == (category, colour)
    assert result.primary == (("SO2",) if expected_aqi > 50 else ())


@pytest.mark.parametrize(
    ("aqi_value", "number"),
    [(0, 1), (1, 1), (50, 1), (51, 2), (100, 2), (101, 3), (150, 3), (151, 4), (200, 4)]
    + [(201, 5), (300, 5), (301, 6), (500, 6), (900, 6)],
)
def test_level_of(aqi_value, number):
    assert level_of(aqi_value).number == number


@pytest.mark.parametrize("edition", EDITIONS)
def test_an_aqi_of_zero_is_level_one(edition):
    result = aqi(dict.fromkeys(ALL_CLEAN, 0), edition)
    assert (result.aqi, result.level, result.category, result.primary) == (0, 1, "优", ())
    assert result.published


def test_all_six_clean():
    result = aqi(ALL_CLEAN, "2026")
    # SO2 5 -> 5; NO2 10 -> 12.5; CO 0.5 -> 12.5; O3 50 -> 25; PM10 20 -> 20; PM2.5 10 -> 14.3
    assert result.iaqis == {
        ("SO2", "24h"): 5,
        ("NO2", "24h"): 13,
        ("CO", "24h"): 13,
        ("O3", "8h"): 25,
        ("PM10", "24h"): 20,
        ("PM2.5", "24h"): 15,
    }
    assert result.aqi == 25
    assert result.primary == ()  # not above 50
    assert result.missing == ()
    assert result.published
    assert result.beyond_table == ()


def test_one_primary_pollutant():
    result = aqi({**ALL_CLEAN, ("PM2.5", "24h"): 61}, "2026")
    assert (result.aqi, result.primary) == (101, ("PM2.5",))


@pytest.mark.parametrize("edition", EDITIONS)
def test_primary_pollutants_tie(edition):
    # PM2.5 75 / PM10 150 are 100 under 2012; 60 / 120 under 2026
    pm = {"2012": (75, 150), "2026": (60, 120)}[edition]
    values = {**ALL_CLEAN, ("PM2.5", "24h"): pm[0], ("PM10", "24h"): pm[1]}
    result = aqi(values, edition)
    assert result.aqi == 100
    assert set(result.primary) == {"PM2.5", "PM10"}
    assert len(result.primary) == 2


def test_a_tie_at_50_has_no_primary_pollutant():
    result = aqi({("PM2.5", "24h"): 35, ("PM10", "24h"): 50}, "2026")
    assert (result.aqi, result.primary) == (50, ())


def test_a_pollutant_over_two_averagings_is_named_once():
    # O3 1h 200 and O3 8h 160 are both 100
    result = aqi({("O3", "1h"): 200, ("O3", "8h"): 160, ("PM2.5", "24h"): 10}, "2026")
    assert (result.aqi, result.primary) == (100, ("O3",))


def test_exceeding_pollutants_2012_only():
    # SO2 151 -> 101 (over 100); PM2.5 75 -> 100 under 2012 (not over)
    values = {**ALL_CLEAN, ("SO2", "24h"): 151, ("PM2.5", "24h"): 75}
    assert aqi(values, "2012").exceeding == ("SO2",)
    assert aqi(values, "2026").exceeding == ()


def test_exceeding_2012_several():
    values = {**ALL_CLEAN, ("SO2", "24h"): 151, ("PM10", "24h"): 250, ("NO2", "24h"): 80}
    assert set(aqi(values, "2012").exceeding) == {"SO2", "PM10"}


# --- deferrals (2012) and the fixed values (2026) above 800 -----------------------------------


def test_2012_so2_1h_above_800_uses_the_24h_iaqi():
    # SO2 24h 200 -> 100 + 50/325 x 50 = 107.7 -> 108
    result = aqi({**ALL_CLEAN, ("SO2", "1h"): 900, ("SO2", "24h"): 200}, "2012")
    assert result.iaqis[("SO2", "1h")] is None
    assert result.iaqis[("SO2", "24h")] == 108
    assert result.deferred == {("SO2", "1h"): ("SO2", "24h")}
    assert (result.aqi, result.primary, result.beyond_table) == (108, ("SO2",), ())


def test_2012_so2_1h_above_800_without_a_24h_value_is_undefined():
    values = {key: value for key, value in ALL_CLEAN.items() if key != ("SO2", "24h")}
    result = aqi({**values, ("SO2", "1h"): 900}, "2012")
    assert result.aqi is None
    assert result.beyond_table == ("SO2",)
    assert result.deferred == {}
    assert (result.level, result.category, result.colour, result.primary) == (None,) * 3 + ((),)
    assert not result.published


def test_2012_o3_8h_above_800_uses_the_1h_iaqi():
    # O3 1h 500 -> 200 + 100/400 x 100 = 225
    result = aqi({**ALL_CLEAN, ("O3", "8h"): 850, ("O3", "1h"): 500}, "2012")
    assert result.iaqis[("O3", "8h")] is None
    assert result.deferred == {("O3", "8h"): ("O3", "1h")}
    assert (result.aqi, result.primary) == (225, ("O3",))


def test_2012_o3_8h_above_800_without_a_1h_value_is_undefined():
    values = {key: value for key, value in ALL_CLEAN.items() if key != ("O3", "8h")}
    result = aqi({**values, ("O3", "8h"): 850}, "2012")
    assert (result.aqi, result.beyond_table) == (None, ("O3",))


def test_2026_fixed_values_above_800():
    result = aqi({**ALL_CLEAN, ("SO2", "1h"): 900, ("O3", "8h"): 850}, "2026")
    assert result.iaqis[("SO2", "1h")] == 200
    assert result.iaqis[("O3", "8h")] == 300
    assert (result.aqi, result.primary, result.deferred) == (300, ("O3",), {})


def test_above_the_table_leaves_the_aqi_undefined():
    result = aqi({**ALL_CLEAN, ("PM2.5", "24h"): 600}, "2026")
    assert result.aqi is None
    assert result.iaqis[("PM2.5", "24h")] is None
    assert result.beyond_table == ("PM2.5",)
    assert not result.published


def test_above_the_table_is_exceeding_under_2012():
    result = aqi({**ALL_CLEAN, ("PM2.5", "24h"): 600}, "2012")
    assert (result.aqi, result.exceeding) == (None, ("PM2.5",))


# --- missing pollutants and publication (2026 §5.3.1) ----------------------------------------


@pytest.mark.parametrize(
    ("values", "edition", "expected_aqi", "published"),
    [
        ({("PM2.5", "24h"): 60}, "2026", 100, False),  # NA: not above 100
        ({("PM2.5", "24h"): 61}, "2026", 101, True),
        ({("PM2.5", "24h"): 10}, "2026", 15, False),
        (ALL_CLEAN, "2026", 25, True),  # nothing missing
        ({**ALL_CLEAN, ("PM2.5", "24h"): None}, "2026", 25, False),  # None: no value
        ({("PM2.5", "24h"): 10}, "2012", 15, True),  # 2012 has no such rule
    ],
)
def test_published(values, edition, expected_aqi, published):
    result = aqi(values, edition)
    assert (result.aqi, result.published) == (expected_aqi, published)


def test_missing_pollutants():
    result = aqi({("PM2.5", "24h"): 61, ("O3", "1h"): 10, ("SO2", "24h"): None}, "2026")
    assert set(result.missing) == {"PM10", "SO2", "NO2", "CO"}
    assert len(result.missing) == 4
    assert ("SO2", "24h") not in result.iaqis


def test_no_values_at_all():
    result = aqi({}, "2026")
    assert result.aqi is None
    assert len(result.missing) == 6
    assert not result.published


@pytest.mark.parametrize(
    ("values", "edition"),
    [
        ({("O3", "24h"): 10}, "2026"),
        ({("PM2.5", "24h"): -1}, "2026"),
        ({("PM2.5", "24h"): 10}, "2020"),
    ],
)
def test_aqi_refuses_invalid_input(values, edition):
    with pytest.raises(ValueError):
        aqi(values, edition)


# --- HJ 663 annex A percentile ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([3, 4, 8, 2, 5, 4], 90, 6.5),  # the standard's example: k = 5.5, 5 + (8 - 5) x 0.5
        ([3, 4, 8, 2, 5, 4], 0, 2),
        ([3, 4, 8, 2, 5, 4], 100, 8),
        ([3, 4, 8, 2, 5, 4], 50, 4),  # k = 3.5: 4 + 0 x 0.5
        ([3, 4, 8, 2, 5, 4], 95, 7.25),  # k = 5.75: 5 + 3 x 0.75
        ([7], 0, 7),
        ([7], 50, 7),
        ([7], 100, 7),
        ([1, 2, 3, 4], 50, 2.5),  # k = 2.5
        ([0.1, 0.2], 50, 0.15),  # exact: not 0.15000000000000002
    ],
)
def test_percentile(values, p, expected):
    assert percentile(values, p) == expected


@pytest.mark.parametrize(
    ("values", "p"),
    [([], 50), ([1, 2], -1), ([1, 2], 100.5), ([1, math.nan], 50), ([1, 2], math.nan)],
)
def test_percentile_refuses(values, p):
    with pytest.raises(ValueError):
        percentile(values, p)


# --- composite index and change rate ----------------------------------------------------------

STATS = {"PM2.5": 35, "PM10": 70, "SO2": 6, "NO2": 20, "CO": 1.2, "O3": 80}
# 35/35 + 70/70 + 6/60 + 20/40 + 1.2/4 + 80/160 = 1 + 1 + 0.1 + 0.5 + 0.3 + 0.5
STATS_INDEX = 3.4


@pytest.mark.parametrize("edition", EDITIONS)
def test_composite_index(edition):
    assert composite_index(STATS, edition) == STATS_INDEX


def test_composite_index_default_limits_are_those_of_2013_in_both_editions():
    expected = {"PM2.5": 35, "PM10": 70, "SO2": 60, "NO2": 40, "CO": 4, "O3": 160}
    for edition in EDITIONS:
        assert {p: term["limit"] for p, term in LIMITS[edition].items()} == expected
        assert all(term.get("weight", 1) == 1 for term in LIMITS[edition].values())


def test_composite_index_with_configured_limits_and_weights():
    limits = {p: dict(term) for p, term in LIMITS["2026"].items()}
    limits["PM2.5"] = {"limit": 30}  # 35/30 = 7/6 instead of 1
    assert composite_index(STATS, "2026", limits=limits) == pytest.approx(3.4 + 1 / 6)
    limits["PM2.5"] = {"limit": 35, "weight": 2}
    assert composite_index(STATS, "2026", limits=limits) == pytest.approx(4.4)


@pytest.mark.parametrize("pollutant", list(STATS))
def test_composite_index_names_a_missing_pollutant(pollutant):
    stats = {p: c for p, c in STATS.items() if p != pollutant}
    with pytest.raises(ValueError, match=f"no {pollutant}"):
        composite_index(stats, "2026")


def test_composite_index_needs_a_limit_for_each_pollutant():
    limits = {p: term for p, term in LIMITS["2012"].items() if p != "CO"}
    with pytest.raises(ValueError, match="CO"):
        composite_index(STATS, "2012", limits=limits)


@pytest.mark.parametrize(
    ("now", "before", "expected"),
    [(3.0, 4.0, -25.0), (4.4, 4.0, 10.0), (4.0, 4.0, 0.0), (3.3, 3.0, 10.0)],
)
def test_change_rate(now, before, expected):
    assert change_rate(now, before) == expected


def test_change_rate_against_zero():
    with pytest.raises(ValueError):
        change_rate(3.0, 0)


# --- GB 3095 table 4: daily values ------------------------------------------------------------


def test_daily_mean_with_20_valid_hours():
    hours = [10] * 19 + [30] + [None] * 4
    assert daily_mean(hours) == 11.0  # (19 x 10 + 30) / 20


def test_daily_mean_with_19_valid_hours_is_invalid():
    assert daily_mean([10] * 19 + [None] * 5) is None


def test_daily_mean_of_a_full_day():
    assert daily_mean([0.1] * 24) == 0.1


def test_daily_mean_refuses_more_than_24_hours():
    with pytest.raises(ValueError):
        daily_mean([10] * 25)


def test_daily_max_8h_uses_the_17_windows_within_the_day():
    # Windows start at 0..16 (end 08:00..24:00); hours 17..23 alone (a window starting at 17,
    # running into the next day) would give 200, which is not a value of this day.
    hours = [10] * 17 + [200] * 7
    assert daily_max_8h(hours) == (10 + 7 * 200) / 8  # the window starting at 16


def test_daily_max_8h_of_a_flat_day():
    assert daily_max_8h([90] * 24) == 90.0


def test_a_window_needs_6_valid_hours():
    # Window 0 with 6 valid hours counts: 300.
    hours = [None, None] + [300] * 6 + [10] * 16
    assert daily_max_8h(hours) == 300.0
    # With 5 it does not; the best window is then 1..8: five 300 and one 10 among 6 valid.
    hours = [None, None, None] + [300] * 5 + [10] * 16
    assert daily_max_8h(hours) == (5 * 300 + 10) / 6


def test_14_valid_windows_make_a_valid_day():
    # Hours 0..18 valid: windows 0..13 have >= 6 valid hours (window 13 covers 13..20: 6).
    assert daily_max_8h([50] * 19 + [None] * 5) == 50.0


def test_13_valid_windows_are_not_enough():
    assert daily_max_8h([50] * 18 + [None] * 6) is None


@pytest.mark.parametrize(("value", "valid"), [(161, True), (160, False), (159, False)])
def test_fewer_windows_count_when_the_maximum_exceeds_the_limit(value, valid):
    result = daily_max_8h([value] * 18 + [None] * 6)
    assert result == (float(value) if valid else None)


def test_the_limit_is_a_parameter():
    assert daily_max_8h([150] * 18 + [None] * 6, limit=100) == 150.0
    assert daily_max_8h([150] * 18 + [None] * 6) is None


def test_daily_max_8h_of_no_valid_window():
    assert daily_max_8h([None] * 24) is None
    assert daily_max_8h([500] * 5 + [None] * 19) is None  # no window with 6 hours


@pytest.mark.parametrize("length", [23, 25])
def test_daily_max_8h_wants_24_hours(length):
    with pytest.raises(ValueError):
        daily_max_8h([50] * length)


# --- GB 3095 table 4 and HJ 663: a month -----------------------------------------------------


def month_of(year, month, count, day_values):
    """`count` days from the 1st, day d (1-based) mapped by `day_values(d)`."""
    first = date(year, month, 1)
    return {first + timedelta(days=d - 1): day_values(d) for d in range(1, count + 1)}


def january_day(d):
    return {"PM2.5": d, "PM10": 70, "SO2": 6, "NO2": 2 * d, "CO": d / 10, "O3": 10 * d}


def test_a_month_with_27_valid_days():
    result = month_stats(month_of(2026, 1, 27, january_day), 2026, 1)
    assert isinstance(result, MonthStats)
    assert result.complete
    assert result.invalid == {}
    assert result.valid_days == dict.fromkeys(["PM2.5", "PM10", "SO2", "NO2", "CO", "O3"], 27)
    assert result.stats == {
        "PM2.5": 14.0,  # the mean of 1..27
        "PM10": 70.0,
        "SO2": 6.0,
        "NO2": 28.0,
        "CO": 2.57,  # k = 1 + 26 x 0.95 = 25.7: 2.5 + (2.6 - 2.5) x 0.7
        "O3": 244.0,  # k = 1 + 26 x 0.9 = 24.4: 240 + 10 x 0.4
    }


def test_a_month_with_26_valid_days_is_invalid():
    def day(d):
        values = january_day(d)
        if d == 27:
            values["NO2"] = None  # an invalid day
            del values["O3"]  # absent: also invalid
        return values

    result = month_stats(month_of(2026, 1, 27, day), 2026, 1)
    assert not result.complete
    assert result.invalid == {"NO2": "26 valid days, 27 needed", "O3": "26 valid days, 27 needed"}
    assert set(result.stats) == {"PM2.5", "PM10", "SO2", "CO"}
    assert result.valid_days["NO2"] == 26
    assert result.valid_days["PM2.5"] == 27


@pytest.mark.parametrize(("count", "complete"), [(25, True), (24, False)])
def test_february_needs_25_days(count, complete):
    result = month_stats(month_of(2026, 2, count, january_day), 2026, 2)
    assert result.complete == complete
    if not complete:
        assert result.invalid["CO"] == "24 valid days, 25 needed"


def test_an_empty_month():
    result = month_stats({}, 2026, 4)
    assert not result.complete
    assert result.stats == {}
    assert result.invalid["PM2.5"] == "0 valid days, 27 needed"


def test_a_day_outside_the_month_is_refused():
    days = month_of(2026, 1, 27, january_day)
    days[date(2026, 2, 1)] = january_day(1)
    with pytest.raises(ValueError, match="2026-02-01"):
        month_stats(days, 2026, 1)
    with pytest.raises(ValueError):
        month_stats(month_of(2026, 1, 27, january_day), 2025, 1)


def test_an_unknown_pollutant_is_refused():
    days = month_of(2026, 1, 27, january_day)
    days[date(2026, 1, 28)] = {"PM25": 10}
    with pytest.raises(ValueError, match="PM25"):
        month_stats(days, 2026, 1)


def test_month_stats_make_a_composite_index():
    result = month_stats(month_of(2026, 1, 27, january_day), 2026, 1)
    # 14/35 + 70/70 + 6/60 + 28/40 + 2.57/4 + 244/160 = 0.4 + 1 + 0.1 + 0.7 + 0.6425 + 1.525
    assert composite_index(result.stats, "2026") == pytest.approx(4.3675)
