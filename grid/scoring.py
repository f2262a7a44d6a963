"""The monthly assessment of level-2 grids, the air-quality ranking and their consequence ladders:
numbers in, decisions out (RULES §5, §6, §7 and "the project's arithmetic" for each).

Pure: no Flask, no database. The facts of a month are gathered elsewhere (assess/); the
composite index comes from alerts/aqi.py. Each rule lives here once, so that a frozen month can
always be assessed again with the same result.

The words of a breakdown are Chinese, the language of the notices they end up in; each line
also has a stable `key` for code and tests.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

# --- RULES §5: the points --------------------------------------------------------------------

SYSTEM_ITEMS = {1: 10, 2: 10, 3: 10}  # items 1-3, all or nothing each
ITEM_4_FULL, ITEM_4_EACH = 40, 1  # missed problems
ITEM_5_FULL, ITEM_5_EACH = 10, 5  # lower-grid reports not assigned in time
ITEM_6_FULL, ITEM_6_EACH = 10, 5  # poor or false rectifications
ITEM_7_FULL, ITEM_7_EACH = 10, 10  # upper inspection items not rectified on time (may spill)
BONUS_EACH, BONUS_CAP = 2, 10
MEDIA_POINTS = {"national": 0, "region": 30, "prefecture": 20}  # national fails the month instead
MEDIA_ORDER = ("national", "region", "prefecture")  # highest first

EXCELLENT, GOOD, PASS, FAIL = "优秀", "良好", "合格", "不合格"
GRADES = (EXCELLENT, GOOD, PASS, FAIL)
GRADE_FLOORS = ((90, EXCELLENT), (80, GOOD), (60, PASS))

VETO_TOTAL = "total"  # items 1-3 not in place: the month's score is 0 (the project's reading)
VETO_SYSTEM = "system"  # the other reading: only the system part (items 1-3) is 0
VETOES = (VETO_TOTAL, VETO_SYSTEM)

ITEM_NAMES = {
    1: "县级网格建立，党政主要领导任网格长，设网格办",
    2: "县、乡两级分网格长全覆盖",
    3: "网格长、分网格长和投诉渠道公开并及时更新",
    4: "上级检查、督查、信访核查发现而网格未发现或未及时上报的问题",
    5: "下级网格上报问题未及时交办或未组织联合执法",
    6: "问题处理不到位，或虚假整改、敷衍整改",
    7: "国家、自治区环保督察问题未按时整改",
}
MEDIA_WORDS = {"national": "国家级", "region": "自治区级", "prefecture": "州级"}


@dataclass(frozen=True)
class MonthFacts:
    """What a level-2 grid's month comes to, counted (RULES §5 items 1-7, bonus, media,
    第六条(三))."""

    grid_established: bool = True  # item 1
    sub_heads_full_coverage: bool = True  # item 2
    disclosure_published: bool = True  # item 3
    missed_problems: int = 0  # item 4
    unassigned_reports: int = 0  # item 5
    poor_rectifications: int = 0  # item 6
    overdue_inspection_items: int = 0  # item 7
    bad_influence: bool = False  # item 7 caused bad influence: the month fails
    major_discoveries: int = 0  # approved by the prefecture office: the bonus
    media_exposures: list[set[str]] = field(default_factory=list)  # levels, one set a problem
    auto_fail_reasons: list[str] = field(default_factory=list)  # 第六条(三), as found


@dataclass(frozen=True)
class Line:
    """One line of a breakdown: what it is (`key`), its points, and why, in words."""

    key: str  # "item1".."item7", "spill", "media", "bonus", "veto", "fail"
    points: int
    words: str


@dataclass(frozen=True)
class Assessment:
    score: int
    grade: str
    system: int  # A
    items: dict[int, int]  # items 1..7 as awarded (item 7 floored at 0; its excess is `spill`)
    operation: int  # B' = max(0, B - media)
    spill: int  # S <= 0: item 7 below zero, off the total
    media: int  # the media deduction applied
    bonus: int
    vetoed: bool
    forced_fail: list[str]  # why the grade is 不合格 whatever the score
    lines: list[Line]


def assess(facts: MonthFacts, veto: str = VETO_TOTAL) -> Assessment:
    """The month's score, grade and breakdown (RULES §5, the project's arithmetic 1-7)."""
    if veto not in VETOES:
        raise ValueError(f"veto must be one of {VETOES}, not {veto!r}")
    _check_counts(facts)
    lines: list[Line] = []
    in_place = {
        1: facts.grid_established,
        2: facts.sub_heads_full_coverage,
        3: facts.disclosure_published,
    }
    items = {n: SYSTEM_ITEMS[n] if ok else 0 for n, ok in in_place.items()}
    for n, ok in in_place.items():
        state = "落实" if ok else "未落实（一票否决）"
        lines.append(Line(f"item{n}", items[n], f"第{n}项 {ITEM_NAMES[n]}：{state}"))
    vetoed = not all(in_place.values())
    system = 0 if vetoed else sum(SYSTEM_ITEMS.values())

    counts = {
        4: facts.missed_problems,
        5: facts.unassigned_reports,
        6: facts.poor_rectifications,
        7: facts.overdue_inspection_items,
    }
    full = {4: ITEM_4_FULL, 5: ITEM_5_FULL, 6: ITEM_6_FULL, 7: ITEM_7_FULL}
    each = {4: ITEM_4_EACH, 5: ITEM_5_EACH, 6: ITEM_6_EACH, 7: ITEM_7_EACH}
    for n in (4, 5, 6, 7):
        items[n] = max(0, full[n] - each[n] * counts[n])
        words = f"第{n}项 {ITEM_NAMES[n]}：{counts[n]} 个，每个扣 {each[n]} 分"
        lines.append(Line(f"item{n}", items[n], f"{words}，得 {items[n]} 分（满分 {full[n]}）"))
    spill = min(0, ITEM_7_FULL - ITEM_7_EACH * counts[7])
    if spill:
        lines.append(Line("spill", spill, f"第7项扣分超出该项分值 {-spill} 分，从总分中扣除"))
    base = sum(items[n] for n in (4, 5, 6, 7))

    media = 0
    national = False
    for number, levels in enumerate(facts.media_exposures, start=1):
        highest = _highest_media(levels)
        if highest == "national":
            national = True
            lines.append(Line("media", 0, f"曝光问题 {number}：国家级媒体曝光，当月直接评为不合格"))
            continue
        media += MEDIA_POINTS[highest]
        also = "（同一问题多级曝光按最高一级计一次）" if len(levels) > 1 else ""
        points = MEDIA_POINTS[highest]
        words = f"曝光问题 {number}：{MEDIA_WORDS[highest]}媒体或舆情曝光，扣 {points} 分"
        lines.append(Line("media", -points, words + also))
    operation = max(0, base - media)
    if media > base:
        lines.append(
            Line("media", 0, f"运行管理部分扣至 0 分为止（应扣 {media} 分，可扣 {base} 分）")
        )

    bonus = min(BONUS_CAP, BONUS_EACH * facts.major_discoveries)
    if facts.major_discoveries:
        capped = (
            f"，每月最多加 {BONUS_CAP} 分"
            if BONUS_EACH * facts.major_discoveries > BONUS_CAP
            else ""
        )
        found = facts.major_discoveries
        words = f"主动发现并上报处置重大问题 {found} 个，每个加 {BONUS_EACH} 分{capped}"
        lines.append(Line("bonus", bonus, words))

    score = max(0, system + operation + spill + bonus)
    if vetoed and veto == VETO_TOTAL:
        score = 0
        lines.append(Line("veto", 0, "第1至3项有未落实的，一票否决：当月得分为 0"))
    elif vetoed:
        lines.append(Line("veto", 0, "第1至3项有未落实的，一票否决：体系建设部分得 0 分"))

    forced = []
    if vetoed and veto == VETO_TOTAL:
        forced.append("一票否决")
    if national:
        forced.append("国家级媒体曝光")
    if facts.bad_influence:
        forced.append("国家、自治区督察问题未按时整改并造成不良影响")
    forced.extend(f"第六条（三）：{reason}" for reason in facts.auto_fail_reasons)
    grade = FAIL if forced else grade_of(score)
    for reason in forced:
        lines.append(Line("fail", 0, f"直接评为不合格：{reason}"))
    return Assessment(
        score=score,
        grade=grade,
        system=system,
        items=items,
        operation=operation,
        spill=spill,
        media=media,
        bonus=bonus,
        vetoed=vetoed,
        forced_fail=forced,
        lines=lines,
    )


def grade_of(score: int) -> str:
    """>= 90 优秀, >= 80 良好, >= 60 合格, else 不合格 (RULES §5)."""
    for floor, grade in GRADE_FLOORS:
        if score >= floor:
            return grade
    return FAIL


def _highest_media(levels: set[str]) -> str:
    unknown = set(levels) - set(MEDIA_ORDER)
    if unknown or not levels:
        raise ValueError(f"media levels must be some of {MEDIA_ORDER}, not {sorted(levels)}")
    return next(level for level in MEDIA_ORDER if level in levels)


def _check_counts(facts: MonthFacts) -> None:
    for name in (
        "missed_problems",
        "unassigned_reports",
        "poor_rectifications",
        "overdue_inspection_items",
        "major_discoveries",
    ):
        value = getattr(facts, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a count (an int >= 0), not {value!r}")


# --- RULES §5: consequences -------------------------------------------------------------------

ACCOUNTABILITY = "问责建议"
INTERVIEW = "约谈"
CRITICISM = "通报批评"
SPECIAL_INSPECTION = "专项督查"
SHARE_NOTICE, SHARE_HIGH = 0.10, 0.20


def share_action(shares: Sequence[float]) -> str | None:
    """The latest month's consequence of a county's share of the prefecture's item-4 problems
    (oldest first; arithmetic 8). "More than" is strict: exactly 10% is no notice."""

    def latest(n: int, above: float) -> bool:
        return len(shares) >= n and all(share > above for share in shares[-n:])

    if latest(3, SHARE_NOTICE) or latest(2, SHARE_HIGH):
        return ACCOUNTABILITY
    if latest(2, SHARE_NOTICE) or latest(1, SHARE_HIGH):
        return INTERVIEW
    if latest(1, SHARE_NOTICE):
        return CRITICISM
    return None


def share(county: int, prefecture: int) -> float:
    """A county's share of the prefecture's item-4 problems; 0 when the prefecture has none."""
    return county / prefecture if prefecture else 0.0


def grade_actions(grades: Sequence[str]) -> list[str]:
    """Three 不合格 months in a row, the latest included: special inspection and an
    accountability suggestion (RULES §5)."""
    if len(grades) >= 3 and all(grade == FAIL for grade in grades[-3:]):
        return [SPECIAL_INSPECTION, ACCOUNTABILITY]
    return []


# --- RULES §6: the air-quality ranking --------------------------------------------------------

DEPUTY_INTERVIEW = "分管领导公开约谈"
HEAD_INTERVIEW = "主要领导公开约谈"
_LAST_PLACE_LADDER = {1: CRITICISM, 2: DEPUTY_INTERVIEW, 3: HEAD_INTERVIEW}


def _streak(flags: Sequence[bool]) -> int:
    """How many of the latest entries are True in a row."""
    count = 0
    for flag in reversed(flags):
        if not flag:
            break
        count += 1
    return count


def air_quality_action(last_place: Sequence[bool]) -> str | None:
    """The consequence of last places in a row ending at the latest month (oldest first):
    1 通报批评, 2 分管领导公开约谈, 3 主要领导公开约谈, 4 or more 问责建议 ("连续三月以上")."""
    streak = _streak(last_place)
    if streak == 0:
        return None
    return _LAST_PLACE_LADDER.get(streak, ACCOUNTABILITY)


def annual_air_quality_action(last_place: Sequence[bool], target_met: bool) -> str | None:
    """At the year's end: last three times or more and the annual target missed (annex 3)."""
    return ACCOUNTABILITY if sum(last_place) >= 3 and not target_met else None


@dataclass(frozen=True)
class Rank:
    county: str
    rate: float | None  # improvement of the composite index on the same month last year
    place: int | None  # None: not ranked (no index last year, or none this month)
    last: bool


RATE_TOLERANCE = 1e-9  # rates equal to this are a tie


def improvement_rate(last_year: float | None, this_month: float | None) -> float | None:
    """(I last year - I now) / I last year: higher is better; None when either is missing."""
    if last_year is None or this_month is None or last_year <= 0:
        return None
    return (last_year - this_month) / last_year


def rank_counties(indices: Mapping[str, tuple[float | None, float | None]]) -> list[Rank]:
    """Counties by improvement rate, best first (RULES §6). Equal rates share a place (1, 2, 2,
    4); every county at the lowest rate is last, when two or more are ranked. Counties without
    a rate follow, by name, unranked."""
    all_rates = {county: improvement_rate(*pair) for county, pair in indices.items()}
    rates = {county: rate for county, rate in all_rates.items() if rate is not None}
    ranked = sorted(rates, key=lambda c: (-rates[c], c))
    lowest = min(rates.values(), default=0.0)
    out: list[Rank] = []
    place, previous = 0, 0.0
    for position, county in enumerate(ranked, start=1):
        rate = rates[county]
        if position == 1 or abs(rate - previous) > RATE_TOLERANCE:
            place, previous = position, rate
        is_last = len(ranked) >= 2 and abs(rate - lowest) <= RATE_TOLERANCE
        out.append(Rank(county, rate, place, is_last))
    out.extend(Rank(c, None, None, False) for c in sorted(set(all_rates) - set(rates)))
    return out


def replace_tampered(
    days: Mapping[date, Mapping[str, float | None]], tampered: set[date]
) -> dict[date, dict[str, float | None]]:
    """One station's month with each tampered day's values replaced by the month's highest
    value of each pollutant at the station (RULES §6), taken over the days not tampered (all
    days when every one was). A new mapping; the input is left as it was."""
    clean = [values for day, values in days.items() if day not in tampered] or list(days.values())
    pollutants = {p for values in days.values() for p in values}
    highest: dict[str, float | None] = {}
    for pollutant in pollutants:
        found = [v[pollutant] for v in clean if v.get(pollutant) is not None]
        highest[pollutant] = max(found) if found else None  # type: ignore[type-var]
    return {day: dict(highest) if day in tampered else dict(values) for day, values in days.items()}


# --- RULES §7: key areas, weekly --------------------------------------------------------------

_KEY_AREA_LADDER = {1: CRITICISM, 2: DEPUTY_INTERVIEW}


def key_area_action(unrectified_checks: int) -> str | None:
    """A key-area problem still not rectified at its 1st, 2nd, 3rd (or later) weekly check."""
    if unrectified_checks <= 0:
        return None
    return _KEY_AREA_LADDER.get(unrectified_checks, HEAD_INTERVIEW)
