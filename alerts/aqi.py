"""The air quality index (HJ 633) and the monthly composite index (HJ 663), in both editions of
the standards (STANDARDS.md "Editions", "HJ 633", "HJ 663"). Pure: standard library only.

Two editions are in force for different data: HJ 633-2012 / HJ 663-2013 / GB 3095-2012 for data
measured before 2026-03-01, and the 2026 editions from that day on. Every function that depends on
the edition takes it as an argument (None: the current one); `edition_on(day)` picks it by the
data's date. The breakpoint table is written out below exactly as in STANDARDS.md, not taken from
an open-source library (several get details wrong).

Arithmetic is exact: concentrations are read through `Decimal(str(value))` and interpolated as
fractions, so that a value exactly on an integer IAQI is never pushed up by float error when it is
rounded up.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

from i18n import N_

# --- Editions ---------------------------------------------------------------------------------

EDITIONS = ("2012", "2026")
EDITION_2026_FROM = date(2026, 3, 1)  # GB 3095-2026, HJ 633-2026 and HJ 663-2026 in force
CURRENT_EDITION = "2026"


def edition_on(day: date) -> str:
    """The edition that assesses data measured on `day` (a local, China Standard Time date)."""
    if isinstance(day, datetime):
        # A datetime would compare wrongly (or not at all) with the date, and its zone matters:
        # 2026-02-28 17:00 UTC is already 1 March in Beijing. The caller knows which day it means.
        raise TypeError("edition_on() takes the local date of the data, not a datetime")
    return "2026" if day >= EDITION_2026_FROM else "2012"


def _edition(edition: str | None) -> str:
    if edition is None:
        return CURRENT_EDITION
    if edition not in EDITIONS:
        raise ValueError(f"unknown edition {edition!r}: expected one of {', '.join(EDITIONS)}")
    return edition


# --- HJ 633: breakpoints ----------------------------------------------------------------------

POLLUTANTS = ("PM2.5", "PM10", "SO2", "NO2", "CO", "O3")

# The IAQI at each breakpoint; each column of BREAKPOINTS lists the concentrations at these
# IAQIs, in order (µg/m³, CO in mg/m³). A shorter column ends where the standard's does.
IAQI_STEPS = (0, 50, 100, 150, 200, 300, 400, 500)

_UNCHANGED: dict[tuple[str, str], tuple[int, ...]] = {
    ("SO2", "24h"): (0, 50, 150, 475, 800, 1600, 2100, 2620),
    ("SO2", "1h"): (0, 150, 500, 650, 800),  # above 800: see DEFERRED_TO
    ("NO2", "24h"): (0, 40, 80, 180, 280, 565, 750, 940),
    ("NO2", "1h"): (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    ("CO", "24h"): (0, 2, 4, 14, 24, 36, 48, 60),
    ("CO", "1h"): (0, 5, 10, 35, 60, 90, 120, 150),
    ("O3", "1h"): (0, 160, 200, 300, 400, 800, 1000, 1200),
    ("O3", "8h"): (0, 100, 160, 215, 265, 800),  # above 800: see DEFERRED_TO
}

# Only the 24-hour PM10 and PM2.5 columns changed in 2026.
BREAKPOINTS: dict[str, dict[tuple[str, str], tuple[int, ...]]] = {
    "2012": {
        **_UNCHANGED,
        ("PM10", "24h"): (0, 50, 150, 250, 350, 420, 500, 600),
        ("PM2.5", "24h"): (0, 35, 75, 115, 150, 250, 350, 500),
    },
    "2026": {
        **_UNCHANGED,
        ("PM10", "24h"): (0, 50, 120, 250, 350, 420, 500, 600),
        ("PM2.5", "24h"): (0, 35, 60, 115, 150, 250, 350, 500),
    },
}

# 1-hour PM10 and PM2.5 values are indexed with the daily breakpoints (2026 §4.2.4; the real-time
# AQI did the same under 2012, which has no 1-hour PM column).
_COLUMN_OF = {("PM10", "1h"): ("PM10", "24h"), ("PM2.5", "1h"): ("PM2.5", "24h")}

# Above the end (800) of these two columns the standard says what to do instead of interpolating
# (STANDARDS.md notes b and c): under 2012 the IAQI comes from another averaging (DEFERRED_TO),
# under 2026 it is a fixed value.
ABOVE_CEILING_2026 = {("SO2", "1h"): 200, ("O3", "8h"): 300}
DEFERRED_TO = {("SO2", "1h"): ("SO2", "24h"), ("O3", "8h"): ("O3", "1h")}

# GB/T 8170 rounding before indexing, 2026 only (§4.2.2-4.2.3): integers, CO to one decimal.
_ROUNDING_2026 = {"CO": Decimal("0.1")}
_ROUNDING_2026_DEFAULT = Decimal("1")


# What each pollutant is indexed over (HJ 633 table 1, with 1-hour PM as above).
AVERAGINGS_OF = {
    "PM2.5": ("1h", "24h"),
    "PM10": ("1h", "24h"),
    "SO2": ("1h", "24h"),
    "NO2": ("1h", "24h"),
    "CO": ("1h", "24h"),
    "O3": ("1h", "8h"),
}


def _column(pollutant: str, averaging: str, edition: str) -> tuple[int, ...]:
    if pollutant not in AVERAGINGS_OF:
        known = ", ".join(POLLUTANTS)
        raise ValueError(f"unknown pollutant {pollutant!r}: expected one of {known}")
    if averaging not in AVERAGINGS_OF[pollutant]:
        raise ValueError(
            f"{pollutant} has no {averaging!r} IAQI: "
            f"its averagings are {' and '.join(AVERAGINGS_OF[pollutant])}"
        )
    key = _COLUMN_OF.get((pollutant, averaging), (pollutant, averaging))
    return BREAKPOINTS[edition][key]


def _decimal(value: float | Decimal, what: str) -> Decimal:
    """`value` as an exact decimal, read through its shortest repr (so 0.1 is 0.1, not
    0.1000000000000000055...), checked to be a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"{what}: {value!r} is not a number")
    exact = Decimal(str(value))
    if not exact.is_finite():
        raise ValueError(f"{what}: {value!r} is not a finite number")
    return exact


def _exact(value: float | Decimal, what: str) -> Fraction:
    """A finite number as an exact fraction of its decimal repr."""
    return Fraction(_decimal(value, what))


def _index(
    pollutant: str, concentration: float | Decimal, averaging: str, edition: str
) -> tuple[int | None, str]:
    """The IAQI and how it was found: "table", "fixed" (2026 above 800), "deferred" (2012 above
    800: take the IAQI of DEFERRED_TO instead) or "beyond" (above the last breakpoint)."""
    column = _column(pollutant, averaging, edition)
    exact = _decimal(concentration, f"{pollutant} {averaging}")
    if exact < 0:
        raise ValueError(f"{pollutant} {averaging}: {concentration!r} is negative")
    if edition == "2026":
        step = _ROUNDING_2026.get(pollutant, _ROUNDING_2026_DEFAULT)
        with localcontext() as context:
            # quantize() refuses a result longer than the context's precision (28 digits):
            # widen it, so that an absurd 1e30 is reported above the table, not as an error.
            context.prec = max(context.prec, exact.adjusted() + 3)
            exact = exact.quantize(step, rounding=ROUND_HALF_EVEN)
    value = Fraction(exact)
    if value > column[-1]:
        key = (pollutant, averaging)
        if key in DEFERRED_TO:
            if edition == "2026":
                return ABOVE_CEILING_2026[key], "fixed"
            return None, "deferred"
        return None, "beyond"
    # A value exactly on a breakpoint is taken in the segment below it (BP_Lo < C <= BP_Hi; 0 in
    # the first): the formula gives that breakpoint's IAQI in either segment.
    upper = next(i for i, bp in enumerate(column) if value <= bp)
    if upper == 0:
        return 0, "table"
    bp_lo, bp_hi = column[upper - 1], column[upper]
    iaqi_lo, iaqi_hi = IAQI_STEPS[upper - 1], IAQI_STEPS[upper]
    exact_iaqi = Fraction(iaqi_hi - iaqi_lo, bp_hi - bp_lo) * (value - bp_lo) + iaqi_lo
    # Always rounded up (2012 §6.2; 2026 §4.2.6 "计算结果应全部向上进位取整数").
    return math.ceil(exact_iaqi), "table"


def iaqi(
    pollutant: str,
    concentration: float | Decimal,
    averaging: str,
    edition: str | None = None,
) -> int | None:
    """The individual air quality index (IAQI) of one pollutant's concentration.

    `pollutant`: "SO2" "NO2" "CO" "O3" "PM10" "PM2.5"; `averaging`: "1h", "8h" or "24h" (SO2,
    NO2, CO: 1h or 24h; O3: 1h or 8h; PM10, PM2.5: 24h, and 1h indexed with the daily
    breakpoints); µg/m³, CO in mg/m³. Under 2026 the concentration is first rounded half-even
    (GB/T 8170) to an integer, CO to one decimal; under 2012 it is used as it is. The
    interpolated IAQI is always rounded up.

    None when the IAQI is not defined: above the last breakpoint, and under 2012 for SO2 1h or
    O3 8h above 800, where the standard reports the SO2 24-hour or the O3 1-hour IAQI instead
    (`aqi()` does that). Under 2026 those two give 200 and 300. Raises ValueError for an unknown
    pollutant, averaging or edition, and for a negative, NaN or infinite concentration.
    """
    value, _how = _index(pollutant, concentration, averaging, _edition(edition))
    return value


# --- HJ 633: levels and the AQI ---------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """One of the six AQI levels (HJ 633 table 2)."""

    number: int  # 1-6
    upper: int | None  # the highest AQI of the level; None: no upper bound (level 6)
    name: str  # 一级 .. 六级
    category: str  # 优 .. 严重污染
    colour: str  # "#rrggbb", from the standard's RGB
    colour_name: str  # the colour in English words, marked for translation


LEVELS = (
    Level(1, 50, "一级", "优", "#00e400", N_("green")),  # (0, 228, 0)
    Level(2, 100, "二级", "良", "#ffff00", N_("yellow")),  # (255, 255, 0)
    Level(3, 150, "三级", "轻度污染", "#ff7e00", N_("orange")),  # (255, 126, 0)
    Level(4, 200, "四级", "中度污染", "#ff0000", N_("red")),  # (255, 0, 0)
    Level(5, 300, "五级", "重度污染", "#99004c", N_("purple")),  # (153, 0, 76)
    Level(6, None, "六级", "严重污染", "#7e0023", N_("maroon")),  # (126, 0, 35)
)


def level_of(aqi_value: int) -> Level:
    """The level of an AQI. Level 1 starts at 0 under 2012 and at 1 under 2026; an AQI of 0
    (clean air, or all concentrations rounded to 0) is level 1 under both."""
    if aqi_value < 0:
        raise ValueError(f"an AQI cannot be negative: {aqi_value}")
    for level in LEVELS:
        if level.upper is None or aqi_value <= level.upper:
            return level
    raise AssertionError("unreachable: the last level has no upper bound")


@dataclass(frozen=True)
class AqiResult:
    """The AQI of a set of concentrations, with what it was made of and what could not be done."""

    edition: str
    """The edition the values were assessed under, "2012" or "2026"."""
    aqi: int | None
    """The largest IAQI; None when no value was given or some IAQI is undefined (`beyond_table`)."""
    level: int | None
    """The level, 1-6; None with the AQI."""
    level_name: str | None
    """一级 .. 六级; None with the AQI."""
    category: str | None
    """优, 良, 轻度污染, 中度污染, 重度污染 or 严重污染; None with the AQI."""
    colour: str | None
    """The level's colour as "#rrggbb"; None with the AQI."""
    primary: tuple[str, ...]
    """The primary pollutants (首要污染物): those with the largest IAQI when the AQI is above 50,
    all of them on a tie; empty at 50 and below, or when the AQI is undefined."""
    iaqis: dict[tuple[str, str], int | None]
    """Each given (pollutant, averaging) and its IAQI; None where it is undefined or deferred."""
    exceeding: tuple[str, ...]
    """2012 only, the pollutants over the standard (超标污染物): IAQI above 100, including those
    above the table. Always empty under 2026, which deleted the notion."""
    missing: tuple[str, ...]
    """Which of the six pollutants had no value at all (a None value counts as no value)."""
    beyond_table: tuple[str, ...] = ()
    """The pollutants whose concentration lies above the last breakpoint of its column, so that
    their IAQI, and the AQI, are undefined (under 2012 this includes SO2 1h above 800 without a
    24-hour value and O3 8h above 800 without a 1-hour value). The caller decides what to show."""
    deferred: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    """Under 2012: (SO2, 1h) or (O3, 8h) above 800, each mapped to the averaging whose IAQI the
    standard reports instead ((SO2, 24h), (O3, 1h)), when that value was given."""
    published: bool = False
    """Whether the AQI may be published. Under 2026 (§5.3.1), with pollutants missing, only an AQI
    above 100 is published; otherwise the single pollutants are, and the AQI shows as NA. Under
    2012, which has no such rule, whenever the AQI is defined."""


def aqi(
    values: Mapping[tuple[str, str], float | Decimal | None], edition: str | None = None
) -> AqiResult:
    """The AQI of concentrations keyed by (pollutant, averaging), e.g. {("PM2.5", "24h"): 61}.

    Each value is indexed by `iaqi()`; the AQI is the largest IAQI. Under 2012, SO2 1h or O3 8h
    above 800 is replaced by the SO2 24h or O3 1h IAQI when that key is given. An IAQI above the
    table leaves the AQI undefined (None, with `beyond_table`): no number is made up for it.
    """
    edition = _edition(edition)
    iaqis: dict[tuple[str, str], int | None] = {}
    how: dict[tuple[str, str], str] = {}
    for (pollutant, averaging), concentration in values.items():
        if concentration is None:
            continue
        iaqis[(pollutant, averaging)], how[(pollutant, averaging)] = _index(
            pollutant, concentration, averaging, edition
        )

    deferred: dict[tuple[str, str], tuple[str, str]] = {}
    beyond = set()
    for key, found in how.items():
        if found == "deferred" and DEFERRED_TO[key] in iaqis:
            # The replacement's own IAQI is in `iaqis` already, and counts there.
            deferred[key] = DEFERRED_TO[key]
        elif found in ("deferred", "beyond"):
            beyond.add(key[0])

    present = {pollutant for pollutant, _averaging in iaqis}
    missing = tuple(p for p in POLLUTANTS if p not in present)
    beyond_table = tuple(p for p in POLLUTANTS if p in beyond)
    exceeding: tuple[str, ...] = ()
    if edition == "2012":
        over = {p for (p, _a), value in iaqis.items() if value is not None and value > 100}
        exceeding = tuple(p for p in POLLUTANTS if p in over or p in beyond)

    known = [value for value in iaqis.values() if value is not None]
    if beyond or not known:
        return AqiResult(
            edition=edition,
            aqi=None,
            level=None,
            level_name=None,
            category=None,
            colour=None,
            primary=(),
            iaqis=iaqis,
            exceeding=exceeding,
            missing=missing,
            beyond_table=beyond_table,
            deferred=deferred,
            published=False,
        )

    highest = max(known)
    primary: tuple[str, ...] = ()
    if highest > 50:
        top = {p for (p, _a), value in iaqis.items() if value == highest}
        primary = tuple(p for p in POLLUTANTS if p in top)
    level = level_of(highest)
    if edition == "2026":
        published = highest > 100 or not missing
    else:
        published = True  # 2012 has no rule for missing pollutants
    return AqiResult(
        edition=edition,
        aqi=highest,
        level=level.number,
        level_name=level.name,
        category=level.category,
        colour=level.colour,
        primary=primary,
        iaqis=iaqis,
        exceeding=exceeding,
        missing=missing,
        beyond_table=beyond_table,
        deferred=deferred,
        published=published,
    )


# --- HJ 663: percentile, composite index, change rate -----------------------------------------


def percentile(values: Iterable[float], p: float) -> float:
    """The p-th percentile by HJ 663 annex A, which differs from the usual interpolations.

    Sort ascending X(1) .. X(n); k = 1 + (n - 1) * p / 100; s = the integer part of k;
    m = X(s) + (X(s+1) - X(s)) * (k - s), and X(n) when s = n. {3, 4, 8, 2, 5, 4}, p = 90: 6.5.
    Computed exactly, rounded to a float once. Raises ValueError for no values, a value that is
    not a finite number, or p outside [0, 100].
    """
    ordered = sorted(_exact(value, "value") for value in values)
    return float(_percentile(ordered, _exact(p, "percentile")))


def _percentile(ordered: Sequence[Fraction], p: Fraction) -> Fraction:
    """HJ 663 annex A on values already sorted ascending."""
    if not 0 <= p <= 100:
        raise ValueError(f"the percentile must be between 0 and 100, not {float(p)}")
    if not ordered:
        raise ValueError("the percentile of no values is undefined")
    n = len(ordered)
    k = 1 + (n - 1) * p / 100
    s = math.floor(k)
    if s == n:
        return ordered[n - 1]
    low, high = ordered[s - 1], ordered[s]  # X(s) and X(s+1), counted from 1
    return low + (high - low) * (k - s)


# The composite index's denominators S_i per edition: GB 3095-2012 grade II (annual means for
# PM2.5, PM10, SO2, NO2 in µg/m³; the 24-hour CO limit in mg/m³; the 8-hour O3 limit in µg/m³),
# each with a weight (1: the plain sum of HJ 663-2013).
# The "2026" entry repeats the 2013 method on purpose: GB 3095-2026 tightens the transitional
# PM2.5 and PM10 limits, but whether HJ 663-2026 changes S_i or adds weights is NOT verified
# (STANDARDS.md "HJ 663"). Override it through configuration (`limits=`) once it is.
LIMITS: dict[str, dict[str, dict[str, float]]] = {
    edition: {
        "PM2.5": {"limit": 35, "weight": 1},
        "PM10": {"limit": 70, "weight": 1},
        "SO2": {"limit": 60, "weight": 1},
        "NO2": {"limit": 40, "weight": 1},
        "CO": {"limit": 4, "weight": 1},
        "O3": {"limit": 160, "weight": 1},
    }
    for edition in EDITIONS
}


def composite_index(
    stats: Mapping[str, float],
    edition: str | None = None,
    limits: Mapping[str, Mapping[str, float]] | None = None,
) -> float:
    """The composite index I = Σ weight_i x C_i / S_i over the six pollutants (HJ 663).

    `stats` maps each pollutant to its statistic for the period (as `month_stats` makes them:
    µg/m³, CO in mg/m³); other keys are ignored. `limits` replaces `LIMITS[edition]` (same shape:
    pollutant -> {"limit": S_i, "weight": w}, the weight optional, default 1). Raises ValueError
    naming a pollutant without a statistic or a limit.
    """
    edition = _edition(edition)
    table = LIMITS[edition] if limits is None else limits
    absent = [p for p in POLLUTANTS if stats.get(p) is None]
    if absent:
        raise ValueError(f"the composite index needs all six pollutants: no {', '.join(absent)}")
    total = Fraction(0)
    for pollutant in POLLUTANTS:
        term = table.get(pollutant)
        if term is None or "limit" not in term:
            raise ValueError(f"no composite-index limit S_i for {pollutant}")
        limit = _exact(term["limit"], f"{pollutant} limit")
        if limit <= 0:
            raise ValueError(f"the {pollutant} limit must be positive, not {term['limit']!r}")
        weight = _exact(term.get("weight", 1), f"{pollutant} weight")
        total += weight * _exact(stats[pollutant], pollutant) / limit
    return float(total)


def change_rate(now: float, before: float) -> float:
    """The change of the composite index against the same month a year before, in percent:
    (now - before) / before x 100. Negative is an improvement. ValueError when `before` is 0."""
    exact_before = _exact(before, "before")
    if exact_before == 0:
        raise ValueError("the change rate against an index of 0 is undefined")
    return float((_exact(now, "now") - exact_before) / exact_before * 100)


# --- GB 3095 table 4: valid daily and monthly values ------------------------------------------

HOURS_FOR_DAILY_MEAN = 20
HOURS_FOR_8H_MEAN = 6
WINDOWS_FOR_DAILY_MAX_8H = 14
DAYS_FOR_MONTH = 27
DAYS_FOR_FEBRUARY = 25


def _valid_hours(hourly: Sequence[float | None]) -> list[Fraction]:
    if len(hourly) > 24:
        raise ValueError(f"a day has 24 hourly values, not {len(hourly)}")
    return [_exact(value, "hourly value") for value in hourly if value is not None]


def daily_mean(hourly: Sequence[float | None]) -> float | None:
    """The daily mean of a day's hourly values (None: invalid hour), or None when fewer than 20
    are valid (GB 3095 table 4)."""
    valid = _valid_hours(hourly)
    if len(valid) < HOURS_FOR_DAILY_MEAN:
        return None
    return float(sum(valid) / len(valid))


def daily_max_8h(hourly: Sequence[float | None], limit: float = 160) -> float | None:
    """The day's maximum 8-hour mean of O3 from its 24 hourly values (index 0 = 00:00-01:00;
    None: invalid hour), or None when it is not valid.

    Reading of HJ 663 ("当日8时至24时的8小时滑动平均的最大值"): the 8-hour running means that END
    within the natural day, at 08:00 .. 24:00, i.e. the 17 windows starting at hours 0 .. 16; no
    hour of the previous or next day is used. A window counts with >= 6 valid hours (their mean).
    The day's value needs >= 14 valid windows; with fewer it still counts when the maximum exceeds
    `limit` (GB 3095 table 4: the day is over the limit whatever the missing hours held).
    """
    if len(hourly) != 24:
        raise ValueError(f"a day has 24 hourly values, not {len(hourly)}")
    means = []
    for start in range(17):
        window = _valid_hours(hourly[start : start + 8])
        if len(window) >= HOURS_FOR_8H_MEAN:
            means.append(sum(window) / len(window))
    if not means:
        return None
    highest = max(means)
    if len(means) < WINDOWS_FOR_DAILY_MAX_8H and not highest > _exact(limit, "limit"):
        return None
    return float(highest)


@dataclass(frozen=True)
class MonthStats:
    """A month's statistics for the composite index, with the validity of each pollutant."""

    stats: dict[str, float]
    """The valid pollutants' statistics: mean of the daily means (PM2.5, PM10, SO2, NO2), 95th
    percentile of the daily means (CO), 90th percentile of the daily maximum 8-hour means (O3)."""
    valid_days: dict[str, int]
    """Each of the six pollutants and its number of valid days in the month."""
    invalid: dict[str, str]
    """Each pollutant without a valid statistic and why, in words ("26 valid days, 27 needed")."""
    complete: bool
    """True when all six pollutants are valid, so that the composite index can be computed."""


def month_stats(
    days: Mapping[date, Mapping[str, float | None]], year: int, month: int
) -> MonthStats:
    """The month's statistics from its valid daily values (HJ 663; validity: GB 3095 table 4).

    Each day maps "PM2.5" "PM10" "SO2" "NO2" "CO" to its valid daily mean and "O3" to its valid
    daily maximum 8-hour mean; None or absent: not valid that day. A pollutant's month is valid
    with >= 27 valid days (February >= 25). Raises ValueError for a day outside the month or an
    unknown pollutant.
    """
    daily: dict[str, list[Fraction]] = {p: [] for p in POLLUTANTS}
    for day, values in days.items():
        if (day.year, day.month) != (year, month):
            raise ValueError(f"{day.isoformat()} is not in {year}-{month:02d}")
        for pollutant, value in values.items():
            if pollutant not in daily:
                raise ValueError(f"{day.isoformat()}: unknown pollutant {pollutant!r}")
            if value is not None:
                daily[pollutant].append(_exact(value, f"{day.isoformat()} {pollutant}"))

    needed = DAYS_FOR_FEBRUARY if month == 2 else DAYS_FOR_MONTH
    stats: dict[str, float] = {}
    invalid: dict[str, str] = {}
    for pollutant, series in daily.items():
        if len(series) < needed:
            invalid[pollutant] = f"{len(series)} valid days, {needed} needed"
        elif pollutant == "CO":
            stats[pollutant] = float(_percentile(sorted(series), Fraction(95)))
        elif pollutant == "O3":
            stats[pollutant] = float(_percentile(sorted(series), Fraction(90)))
        else:
            stats[pollutant] = float(sum(series) / len(series))
    return MonthStats(
        stats=stats,
        valid_days={p: len(series) for p, series in daily.items()},
        invalid=invalid,
        complete=not invalid,
    )
