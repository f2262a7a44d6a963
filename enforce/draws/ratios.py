"""The minimum numbers of the double-random inspections (RULES §9; seed 004 四; seed 002 二(二))
and the month's suggested numbers that meet them. Pure: counts in, numbers out.

Minimums, for the office drawing (the prefecture, level 1, draws over the whole prefecture; a
county, level 2, over its own sources); percentages are of the office's eligible units and
rounded up (ceil):

- key polluters 重点排污单位: >= 5% (prefecture) / >= 25% (county) of them per quarter, and at
  county level every key polluter at least once a year (004 四1: 原则上应保证每年对辖区所有重点
  排污单位检查一遍);
- special units 特殊监管对象: >= 25% / >= 50% per quarter (004 四3);
- general units 一般排污单位: 004 四2 reads 至少按照1:5的比例(系统中执法部门的"双随机"执法人员数量:
  被抽查单位数量)确定年度被抽查单位数量: the ratio is the office's double-random inspectors to the
  units checked, so the units checked in a year >= 5 x (prefecture) / 10 x (county) the number
  of its active inspectors, and never more than the general units there are;
- automatic-monitoring facilities 自动监控设施 (seed 002): >= 10% of them a year, 分季度: spread
  over the quarters, read as ceil(year's minimum x q / 4) by the end of quarter q.

A period's minimum is met by the sum of its months' draws, counting distinct units drawn. The
month's suggested number spreads what the period still needs over its months left, this one
included (ceil); for county key polluters, also the year's key polluters not drawn yet over the
months left in the year."""

from dataclasses import dataclass
from math import ceil

from i18n import N_

PREFECTURE = 1
COUNTY = 2

CATEGORIES: tuple[str, ...] = ("key", "special", "general", "facility")
CATEGORY_LABELS: dict[str, str] = {
    "key": N_("Key polluters"),  # 重点排污单位
    "special": N_("Special supervision"),  # 特殊监管对象
    "general": N_("General units"),  # 一般排污单位
    "facility": N_("Monitoring facilities"),  # 自动监控设施 (002)
}
CATEGORY_NAMES_ZH: dict[str, str] = {  # the statistics' headings (official text)
    "key": "重点排污单位",
    "special": "特殊监管对象",
    "general": "一般排污单位",
    "facility": "自动监控设施",
}

# 004 四1, 四3: the share of units per quarter, (prefecture, county)
QUARTER_SHARE_PERCENT: dict[str, tuple[int, int]] = {"key": (5, 25), "special": (25, 50)}
# 004 四2: units checked a year per double-random inspector, (prefecture, county)
GENERAL_PER_INSPECTOR: tuple[int, int] = (5, 10)
# 002 二(二): 全年按照自动监控设施数量不低于10%的比例
FACILITY_YEAR_PERCENT = 10


@dataclass(frozen=True)
class Population:
    """An office's eligible units per category, and its active inspectors."""

    key: int = 0
    special: int = 0
    general: int = 0
    facility: int = 0
    inspectors: int = 0

    def of(self, category: str) -> int:
        return getattr(self, category)


@dataclass(frozen=True)
class Progress:
    """What the office drew of a category before the month: distinct units in the month's
    quarter and in its year, and (key polluters) the eligible units not drawn yet this year."""

    quarter: int = 0
    year: int = 0
    fresh: int = 0


@dataclass(frozen=True)
class Suggestion:
    """The month's suggested number for a category, and why."""

    category: str
    number: int
    minimum: int  # the period's minimum (for a year-based one: due by the period's end)
    drawn: int  # counted towards it already
    months_left: int  # in the period, this month included
    period: str  # "quarter" or "year"
    fresh_needed: int = 0  # county key polluters: the year's not-yet-drawn over months left


@dataclass(frozen=True)
class Shortfall:
    category: str
    asked: int
    needed: int


def _percent(count: int, percent: int) -> int:
    return ceil(count * percent / 100)


def _side(level: int) -> int:
    if level not in (PREFECTURE, COUNTY):
        raise ValueError(f"level {level} draws nothing: only the prefecture (1) and counties (2)")
    return 0 if level == PREFECTURE else 1


def quarter_of(month: int) -> int:
    return (month - 1) // 3 + 1


def year_minimum(level: int, category: str, population: Population) -> int:
    """The units a year: general units and facilities; for key and special units, four
    quarters' minimums (and at county level all key polluters)."""
    side = _side(level)
    count = population.of(category)
    if category == "general":
        return min(GENERAL_PER_INSPECTOR[side] * population.inspectors, count)
    if category == "facility":
        return _percent(count, FACILITY_YEAR_PERCENT)
    if category == "key" and level == COUNTY:
        return count
    return min(4 * quarter_minimum(level, category, population), count)


def quarter_minimum(level: int, category: str, population: Population, quarter: int = 4) -> int:
    """The minimum of a quarter: a share of the units for key and special units (distinct units
    drawn in that quarter); for general units and facilities, the year's minimum pro rata,
    due by the quarter's end (distinct units drawn in the year so far)."""
    side = _side(level)
    if category in QUARTER_SHARE_PERCENT:
        return _percent(population.of(category), QUARTER_SHARE_PERCENT[category][side])
    return ceil(year_minimum(level, category, population) * quarter / 4)


def counted_by_quarter(category: str) -> bool:
    """Whether a category's minimum counts the quarter's units (else the year's so far)."""
    return category in QUARTER_SHARE_PERCENT


def suggest(
    level: int, category: str, population: Population, month: int, progress: Progress
) -> Suggestion:
    """The month's suggested number of a category (month 1..12)."""
    if not 1 <= month <= 12:
        raise ValueError(f"month {month} is not 1..12")
    quarter = quarter_of(month)
    left_in_quarter = 3 - (month - 1) % 3
    left_in_year = 13 - month
    count = population.of(category)
    if category in QUARTER_SHARE_PERCENT:
        minimum = quarter_minimum(level, category, population, quarter)
        drawn, left, period = progress.quarter, left_in_quarter, "quarter"
    elif category == "general":
        minimum = year_minimum(level, category, population)
        drawn, left, period = progress.year, left_in_year, "year"
    else:
        minimum = quarter_minimum(level, category, population, quarter)
        drawn, left, period = progress.year, left_in_quarter, "quarter"
    number = ceil(max(0, minimum - drawn) / left)
    fresh_needed = 0
    if category == "key" and level == COUNTY:
        fresh_needed = ceil(max(0, progress.fresh) / left_in_year)
        number = max(number, fresh_needed)
    return Suggestion(category, min(number, count), minimum, drawn, left, period, fresh_needed)


def suggest_all(
    level: int, population: Population, month: int, progress: dict[str, Progress]
) -> dict[str, Suggestion]:
    return {
        category: suggest(level, category, population, month, progress.get(category, Progress()))
        for category in CATEGORIES
    }


def shortfalls(suggestions: dict[str, Suggestion], asked: dict[str, int]) -> list[Shortfall]:
    """The categories where a plan asks fewer than the month's suggested number."""
    return [
        Shortfall(category, asked.get(category, 0), suggestion.number)
        for category, suggestion in suggestions.items()
        if asked.get(category, 0) < suggestion.number
    ]
