"""The monthly assessment of a level-2 grid, its consequence ladders, the air-quality ranking and
the tampered-data replacement, as tables (RULES.md §5, §6, §7 and the project's arithmetic for
§5 and §6; grid/scoring.py). Pure: no app, no database.

Every expected value below was worked out by hand from RULES.md, not read back from the module.
The arithmetic, for reading the tables: A = 30 (items 1-3 in place); B = max(0, 40 - n4) +
max(0, 10 - 5*n5) + max(0, 10 - 5*n6) + max(0, 10 - 10*n7); S = min(0, 10 - 10*n7);
M = sum over exposed problems of its highest level (region 30, prefecture 20, national 0);
B' = max(0, B - M); bonus = min(10, 2*discoveries); score = max(0, A + B' + S + bonus).
"""

import copy
import dataclasses
from datetime import date

import pytest

from grid.scoring import (
    MonthFacts,
    air_quality_action,
    annual_air_quality_action,
    assess,
    grade_actions,
    key_area_action,
    rank_counties,
    replace_tampered,
    share_action,
)

DEFAULT = object()  # call assess without a veto argument (the project's default reading)


def month(score, grade, *, operation, spill=0, media=0, bonus=0, forced=False):
    """What an assessment without a veto shows (A = 30)."""
    return {
        "score": score,
        "grade": grade,
        "system": 30,
        "operation": operation,
        "spill": spill,
        "media": media,
        "bonus": bonus,
        "vetoed": False,
        "forced": forced,
    }


def vetoed_total():
    """Items 1-3 not all in place, the project's reading: the month's total is 0."""
    return {"score": 0, "grade": "不合格", "system": 0, "vetoed": True}


def vetoed_system(score, grade, *, operation, spill=0, media=0, bonus=0, forced=False):
    """Items 1-3 not all in place, the alternative reading: only A becomes 0."""
    return {
        "score": score,
        "grade": grade,
        "system": 0,
        "operation": operation,
        "spill": spill,
        "media": media,
        "bonus": bonus,
        "vetoed": True,
        "forced": forced,
    }


def shown(result, expected):
    """The fields of `result` that `expected` names; `forced` is whether any reason was given."""
    actual = {k: getattr(result, k) for k in expected if k != "forced"}
    if "forced" in expected:
        actual["forced"] = bool(result.forced_fail)
    return actual


def run_assess(facts, veto):
    return assess(facts) if veto is DEFAULT else assess(facts, veto=veto)


# --- RULES §5 arithmetic 3: each operation item's floor, and item 7's spill
FLOORS = [
    pytest.param(MonthFacts(), month(100, "优秀", operation=70), id="clean month 100"),
    pytest.param(MonthFacts(missed_problems=39), month(61, "合格", operation=31), id="item4 n=39"),
    pytest.param(MonthFacts(missed_problems=40), month(60, "合格", operation=30), id="item4 n=40"),
    pytest.param(
        MonthFacts(missed_problems=41), month(60, "合格", operation=30), id="item4 n=41 floor 0"
    ),
    pytest.param(
        MonthFacts(missed_problems=100), month(60, "合格", operation=30), id="item4 n=100 floor 0"
    ),
    pytest.param(MonthFacts(unassigned_reports=1), month(95, "优秀", operation=65), id="item5 n=1"),
    pytest.param(MonthFacts(unassigned_reports=2), month(90, "优秀", operation=60), id="item5 n=2"),
    pytest.param(
        MonthFacts(unassigned_reports=3), month(90, "优秀", operation=60), id="item5 n=3 floor 0"
    ),
    pytest.param(
        MonthFacts(poor_rectifications=1), month(95, "优秀", operation=65), id="item6 n=1"
    ),
    pytest.param(
        MonthFacts(poor_rectifications=2), month(90, "优秀", operation=60), id="item6 n=2"
    ),
    pytest.param(
        MonthFacts(poor_rectifications=3), month(90, "优秀", operation=60), id="item6 n=3 floor 0"
    ),
    pytest.param(
        MonthFacts(overdue_inspection_items=1),
        month(90, "优秀", operation=60, spill=0),
        id="item7 n=1 no spill",
    ),
    pytest.param(
        MonthFacts(overdue_inspection_items=2),
        month(80, "良好", operation=60, spill=-10),
        id="item7 n=2 spill -10 off the total",
    ),
    pytest.param(
        MonthFacts(overdue_inspection_items=3),
        month(70, "合格", operation=60, spill=-20),
        id="item7 n=3 spill -20 off the total",
    ),
    pytest.param(
        MonthFacts(
            missed_problems=41,
            unassigned_reports=3,
            poor_rectifications=3,
            overdue_inspection_items=3,
        ),
        month(10, "不合格", operation=0, spill=-20),
        id="every item floored, spill still off A",
    ),
]


@pytest.mark.parametrize(("facts", "expected"), FLOORS)
def test_item_floors_and_spill(facts, expected):
    """RULES §5 table items 4-7 and arithmetic 3 (floors at 0; item 7 spills below 0)."""
    assert shown(assess(facts), expected) == expected


# --- RULES §5 arithmetic 6: the score is never below 0 and at most 110
LIMITS = [
    pytest.param(
        MonthFacts(
            missed_problems=40,
            unassigned_reports=2,
            poor_rectifications=2,
            overdue_inspection_items=4,
        ),
        month(0, "不合格", operation=0, spill=-30),
        id="30 + 0 - 30 = 0 exactly",
    ),
    pytest.param(
        MonthFacts(
            missed_problems=40,
            unassigned_reports=2,
            poor_rectifications=2,
            overdue_inspection_items=5,
        ),
        month(0, "不合格", operation=0, spill=-40),
        id="30 + 0 - 40 floored at 0",
    ),
    pytest.param(
        MonthFacts(
            missed_problems=40,
            unassigned_reports=2,
            poor_rectifications=2,
            overdue_inspection_items=5,
            major_discoveries=1,
        ),
        month(0, "不合格", operation=0, spill=-40, bonus=2),
        id="30 + 0 - 40 + 2 floored at 0",
    ),
    pytest.param(
        MonthFacts(major_discoveries=5),
        month(110, "优秀", operation=70, bonus=10),
        id="bonus 5 discoveries 110 maximum",
    ),
    pytest.param(
        MonthFacts(major_discoveries=6),
        month(110, "优秀", operation=70, bonus=10),
        id="bonus 6 discoveries capped at 10",
    ),
    pytest.param(
        MonthFacts(major_discoveries=20),
        month(110, "优秀", operation=70, bonus=10),
        id="bonus 20 discoveries capped at 10",
    ),
]


@pytest.mark.parametrize(("facts", "expected"), LIMITS)
def test_score_limits(facts, expected):
    """RULES §5 arithmetic 5 and 6 (bonus at most +10; score in 0..110)."""
    assert shown(assess(facts), expected) == expected


# --- RULES §5 arithmetic 5 and 7: bonus and grade boundaries
GRADES = [
    pytest.param(MonthFacts(missed_problems=10), month(90, "优秀", operation=60), id="90 优秀"),
    pytest.param(MonthFacts(missed_problems=11), month(89, "良好", operation=59), id="89 良好"),
    pytest.param(MonthFacts(missed_problems=20), month(80, "良好", operation=50), id="80 良好"),
    pytest.param(MonthFacts(missed_problems=21), month(79, "合格", operation=49), id="79 合格"),
    pytest.param(
        MonthFacts(missed_problems=30, unassigned_reports=2),
        month(60, "合格", operation=30),
        id="60 合格",
    ),
    pytest.param(
        MonthFacts(missed_problems=31, unassigned_reports=2),
        month(59, "不合格", operation=29),
        id="59 不合格",
    ),
    pytest.param(
        MonthFacts(missed_problems=11, major_discoveries=1),
        month(91, "优秀", operation=59, bonus=2),
        id="89 + bonus 2 = 91 优秀",
    ),
    pytest.param(
        MonthFacts(missed_problems=31, unassigned_reports=2, major_discoveries=1),
        month(61, "合格", operation=29, bonus=2),
        id="59 + bonus 2 = 61 合格",
    ),
    pytest.param(
        MonthFacts(missed_problems=10, major_discoveries=5),
        month(100, "优秀", operation=60, bonus=10),
        id="90 + bonus 10 = 100",
    ),
    pytest.param(
        MonthFacts(overdue_inspection_items=3, major_discoveries=5),
        month(80, "良好", operation=60, spill=-20, bonus=10),
        id="30 + 60 - 20 + 10 = 80",
    ),
]


@pytest.mark.parametrize(("facts", "expected"), GRADES)
def test_grade_boundaries(facts, expected):
    """RULES §5 grades (90 优秀, 80-89 良好, 60-79 合格, below 60 不合格), arithmetic 5 and 7."""
    assert shown(assess(facts), expected) == expected


# --- RULES §5 arithmetic 4 and 7: media exposure
MEDIA = [
    pytest.param(
        MonthFacts(media_exposures=[{"prefecture"}]),
        month(80, "良好", operation=50, media=20),
        id="one prefecture -20",
    ),
    pytest.param(
        MonthFacts(media_exposures=[{"region"}]),
        month(70, "合格", operation=40, media=30),
        id="one region -30",
    ),
    pytest.param(
        MonthFacts(media_exposures=[{"region", "prefecture"}]),
        month(70, "合格", operation=40, media=30),
        id="one problem region+prefecture counts once at 30",
    ),
    pytest.param(
        MonthFacts(media_exposures=[{"prefecture"}, {"prefecture"}]),
        month(60, "合格", operation=30, media=40),
        id="two problems prefecture each = 40",
    ),
    pytest.param(
        MonthFacts(media_exposures=[{"region"}, {"prefecture"}]),
        month(50, "不合格", operation=20, media=50),
        id="region problem + prefecture problem = 50",
    ),
    pytest.param(
        MonthFacts(media_exposures=[{"region"}, {"region"}, {"region"}]),
        month(30, "不合格", operation=0, media=90),
        id="media 90 > B 70: B' floored at 0",
    ),
    pytest.param(
        MonthFacts(missed_problems=40, media_exposures=[{"region"}, {"prefecture"}]),
        month(30, "不合格", operation=0, media=50),
        id="media 50 > B 30: B' floored at 0 not -20",
    ),
    pytest.param(
        MonthFacts(overdue_inspection_items=2, media_exposures=[{"region"}]),
        month(50, "不合格", operation=30, spill=-10, media=30),
        id="media off B then spill off the total",
    ),
    pytest.param(
        MonthFacts(overdue_inspection_items=3, media_exposures=[{"region"}] * 3),
        month(10, "不合格", operation=0, spill=-20, media=90),
        id="B' floored, the spill is not absorbed by the floor",
    ),
    pytest.param(
        MonthFacts(major_discoveries=5, media_exposures=[{"region"}]),
        month(80, "良好", operation=40, media=30, bonus=10),
        id="media then bonus",
    ),
    pytest.param(
        MonthFacts(media_exposures=[{"national"}]),
        month(100, "不合格", operation=70, media=0, forced=True),
        id="national fails the month, deducts nothing",
    ),
    pytest.param(
        MonthFacts(media_exposures=[{"national", "region", "prefecture"}]),
        month(100, "不合格", operation=70, media=0, forced=True),
        id="one problem national+region+prefecture counts at national",
    ),
    pytest.param(
        MonthFacts(media_exposures=[{"national"}, {"region"}]),
        month(70, "不合格", operation=40, media=30, forced=True),
        id="national problem + region problem",
    ),
]


@pytest.mark.parametrize(("facts", "expected"), MEDIA)
def test_media_exposure(facts, expected):
    """RULES §5 punitive deductions and arithmetic 4 (highest level once per problem; floor 0;
    national media fails the month, the score still shown)."""
    assert shown(assess(facts), expected) == expected


# --- RULES §5 arithmetic 7 and 第六条(三): forced fails
FORCED = [
    pytest.param(
        MonthFacts(overdue_inspection_items=1, bad_influence=True),
        month(90, "不合格", operation=60, forced=True),
        id="item7 bad influence at 90",
    ),
    pytest.param(
        MonthFacts(overdue_inspection_items=2, bad_influence=True),
        month(80, "不合格", operation=60, spill=-10, forced=True),
        id="item7 bad influence with spill",
    ),
    pytest.param(
        MonthFacts(overdue_inspection_items=2),
        month(80, "良好", operation=60, spill=-10, forced=False),
        id="item7 without bad influence not forced",
    ),
    pytest.param(
        MonthFacts(auto_fail_reasons=["同一投诉3次以上未解决"]),
        month(100, "不合格", operation=70, forced=True),
        id="auto fail complaint 3 times at 100",
    ),
    pytest.param(
        MonthFacts(
            major_discoveries=5,
            auto_fail_reasons=["上级领导批示问题未整改", "不履职造成严重后果"],
        ),
        month(110, "不合格", operation=70, bonus=10, forced=True),
        id="two auto fail reasons at 110",
    ),
    pytest.param(
        MonthFacts(
            overdue_inspection_items=1,
            bad_influence=True,
            media_exposures=[{"national"}],
            auto_fail_reasons=["国家级媒体曝光造成重大舆情"],
        ),
        month(90, "不合格", operation=60, forced=True),
        id="every forcing condition at once",
    ),
]


@pytest.mark.parametrize(("facts", "expected"), FORCED)
def test_forced_fail(facts, expected):
    """RULES §5 item 7 (bad influence), 第六条(三) automatic fail and arithmetic 7."""
    assert shown(assess(facts), expected) == expected


# --- RULES §5 "one-vote veto" and arithmetic 1: both readings
MISSING = {
    "item1": {"grid_established": False},
    "item2": {"sub_heads_full_coverage": False},
    "item3": {"disclosure_published": False},
    "items1-3": {
        "grid_established": False,
        "sub_heads_full_coverage": False,
        "disclosure_published": False,
    },
}

VETO = [
    *(
        pytest.param(MonthFacts(**kw), "total", vetoed_total(), id=f"total {name} missing")
        for name, kw in MISSING.items()
    ),
    *(
        pytest.param(MonthFacts(**kw), DEFAULT, vetoed_total(), id=f"default {name} missing")
        for name, kw in MISSING.items()
    ),
    *(
        pytest.param(
            MonthFacts(**kw),
            "system",
            vetoed_system(70, "合格", operation=70),
            id=f"system {name} missing",
        )
        for name, kw in MISSING.items()
    ),
    pytest.param(
        MonthFacts(grid_established=False, major_discoveries=5),
        "total",
        vetoed_total(),
        id="total: the bonus does not lift a vetoed month",
    ),
    pytest.param(
        MonthFacts(disclosure_published=False, media_exposures=[{"national"}]),
        "total",
        vetoed_total(),
        id="total with national exposure",
    ),
    pytest.param(
        MonthFacts(grid_established=False, major_discoveries=5),
        "system",
        vetoed_system(80, "良好", operation=70, bonus=10),
        id="system: 0 + 70 + 10 = 80",
    ),
    pytest.param(
        MonthFacts(grid_established=False, missed_problems=10),
        "system",
        vetoed_system(60, "合格", operation=60),
        id="system: 0 + 60 = 60",
    ),
    pytest.param(
        MonthFacts(sub_heads_full_coverage=False, missed_problems=11),
        "system",
        vetoed_system(59, "不合格", operation=59),
        id="system: 0 + 59 = 59",
    ),
    pytest.param(
        MonthFacts(disclosure_published=False, overdue_inspection_items=2),
        "system",
        vetoed_system(50, "不合格", operation=60, spill=-10),
        id="system: 0 + 60 - 10 = 50",
    ),
    pytest.param(
        MonthFacts(grid_established=False, missed_problems=40, overdue_inspection_items=4),
        "system",
        vetoed_system(0, "不合格", operation=20, spill=-30),
        id="system: 0 + 20 - 30 floored at 0",
    ),
    pytest.param(
        MonthFacts(grid_established=False, media_exposures=[{"region"}]),
        "system",
        vetoed_system(40, "不合格", operation=40, media=30),
        id="system: 0 + (70 - 30) = 40",
    ),
    pytest.param(
        MonthFacts(sub_heads_full_coverage=False, media_exposures=[{"national"}]),
        "system",
        vetoed_system(70, "不合格", operation=70, forced=True),
        id="system: 70 with national exposure forced",
    ),
]


@pytest.mark.parametrize(("facts", "veto", "expected"), VETO)
def test_veto(facts, veto, expected):
    """RULES §5 items 1-3 一票否决 and arithmetic 1: total 0 (the project's reading, the default)
    or only the system part 0 (the alternative reading)."""
    assert shown(run_assess(facts, veto), expected) == expected


# --- RULES §5 table: the points of each item as awarded
def items(**changed):
    full = {1: 10, 2: 10, 3: 10, 4: 40, 5: 10, 6: 10, 7: 10}
    return full | {int(k[1:]): v for k, v in changed.items()}


ITEMS = [
    pytest.param(MonthFacts(), items(), id="all full"),
    pytest.param(
        MonthFacts(missed_problems=39, unassigned_reports=1, poor_rectifications=1),
        items(i4=1, i5=5, i6=5),
        id="one point above each floor",
    ),
    pytest.param(
        MonthFacts(
            missed_problems=40,
            unassigned_reports=2,
            poor_rectifications=2,
            overdue_inspection_items=1,
        ),
        items(i4=0, i5=0, i6=0, i7=0),
        id="exactly at each floor",
    ),
    pytest.param(
        MonthFacts(
            missed_problems=41,
            unassigned_reports=3,
            poor_rectifications=3,
            overdue_inspection_items=3,
        ),
        items(i4=0, i5=0, i6=0, i7=0),
        id="past each floor item7 shows 0",
    ),
    pytest.param(MonthFacts(grid_established=False), items(i1=0), id="item1 missing"),
    pytest.param(MonthFacts(sub_heads_full_coverage=False), items(i2=0), id="item2 missing"),
    pytest.param(MonthFacts(disclosure_published=False), items(i3=0), id="item3 missing"),
]


@pytest.mark.parametrize(("facts", "expected"), ITEMS)
def test_items_as_awarded(facts, expected):
    """RULES §5 table items 1-7 (1-3: 10 or 0; 4: -1 each; 5, 6: -5 each; 7: -10 each; floor 0),
    under the system reading so that every item is computed."""
    assert assess(facts, veto="system").items == expected


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        pytest.param(MonthFacts(grid_established=False), {1: 0, 2: 10, 3: 10}, id="item1"),
        pytest.param(MonthFacts(sub_heads_full_coverage=False), {1: 10, 2: 0, 3: 10}, id="item2"),
        pytest.param(MonthFacts(disclosure_published=False), {1: 10, 2: 10, 3: 0}, id="item3"),
    ],
)
def test_items_1_to_3_under_total_veto(facts, expected):
    """RULES §5 arithmetic 1: the vetoed month still says which system item was missing."""
    result = assess(facts, veto="total")
    assert {k: result.items[k] for k in (1, 2, 3)} == expected


@pytest.mark.parametrize(
    "facts",
    [
        pytest.param(MonthFacts(), id="clean"),
        pytest.param(
            MonthFacts(
                missed_problems=3,
                overdue_inspection_items=2,
                major_discoveries=1,
                media_exposures=[{"region", "prefecture"}, {"national"}],
                auto_fail_reasons=["同一投诉3次以上未解决"],
            ),
            id="everything",
        ),
        pytest.param(MonthFacts(grid_established=False), id="vetoed"),
    ],
)
def test_lines_explain_in_words(facts):
    """RULES §5: the breakdown is explained line by line, each with words and points."""
    lines = assess(facts).lines
    assert lines
    for line in lines:
        assert isinstance(line.words, str) and line.words.strip()
        assert isinstance(line.points, int) and not isinstance(line.points, bool)


def test_facts_and_assessment_are_frozen():
    facts = MonthFacts()
    result = assess(facts)
    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.missed_problems = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 0
    assert MonthFacts().media_exposures is not MonthFacts().media_exposures


def test_assess_leaves_the_facts_alone():
    exposures = [{"region", "prefecture"}, {"national"}]
    reasons = ["同一投诉3次以上未解决"]
    facts = MonthFacts(media_exposures=exposures, auto_fail_reasons=reasons)
    assess(facts)
    assert exposures == [{"region", "prefecture"}, {"national"}]
    assert reasons == ["同一投诉3次以上未解决"]


# --- RULES §5 consequences, arithmetic 8: the share of item-4 problems
SHARES = [
    pytest.param([0.0], None, id="0%"),
    pytest.param([0.05], None, id="5%"),
    pytest.param([0.10], None, id="exactly 10% is not > 10%"),
    pytest.param([3 / 30], None, id="3 of 30 is exactly 10%"),
    pytest.param([0.11], "通报批评", id="11% one month"),
    pytest.param([0.20], "通报批评", id="exactly 20% is not > 20%"),
    pytest.param([6 / 30], "通报批评", id="6 of 30 is exactly 20%"),
    pytest.param([0.21], "约谈", id="21% one month"),
    pytest.param([0.05, 0.21], "约谈", id="21% after a low month"),
    pytest.param([0.11, 0.11], "约谈", id="11% 2 months"),
    pytest.param([0.10, 0.11], "通报批评", id="10% then 11%"),
    pytest.param([0.11, 0.10], None, id="11% then exactly 10%"),
    pytest.param([0.21, 0.05], None, id="21% then 5%"),
    pytest.param([0.21, 0.15], "约谈", id="21% then 15%: 2 months > 10%"),
    pytest.param([0.15, 0.21], "约谈", id="15% then 21%"),
    pytest.param([0.20, 0.21], "约谈", id="exactly 20% then 21%: not 2 months > 20%"),
    pytest.param([0.21, 0.21], "问责建议", id="21% 2 months"),
    pytest.param([0.5, 0.21], "问责建议", id="50% then 21%"),
    pytest.param([0.11, 0.11, 0.11], "问责建议", id="11% 3 months"),
    pytest.param([0.10, 0.11, 0.11], "约谈", id="10% 11% 11%: only 2 months"),
    pytest.param([0.11, 0.10, 0.11], "通报批评", id="11% 10% 11%: the gap breaks the streak"),
    pytest.param([0.11, 0.11, 0.10], None, id="11% 11% 10%: latest not above"),
    pytest.param([0.21, 0.11, 0.21], "问责建议", id="21% 11% 21%: 3 months > 10%"),
    pytest.param([0.21, 0.05, 0.21], "约谈", id="21% 5% 21%"),
    pytest.param([0.5, 0.5, 0.5, 0.11], "问责建议", id="latest 3 above 10% in a longer run"),
    pytest.param([0.5, 0.05, 0.11, 0.11], "约谈", id="a gap 3 months back"),
    pytest.param([0.5, 0.5, 0.5, 0.05], None, id="a long run ended this month"),
]


@pytest.mark.parametrize(("shares", "expected"), SHARES)
def test_share_action(shares, expected):
    """RULES §5 share of problems, arithmetic 8 (strictly above 10% / 20%; latest month)."""
    assert share_action(shares) == expected


# --- RULES §5 consequences, arithmetic 8: 3 consecutive months 不合格
BOTH = ["专项督查", "问责建议"]
GRADE_RUNS = [
    pytest.param([], [], id="no history"),
    pytest.param(["不合格"], [], id="1 month"),
    pytest.param(["不合格", "不合格"], [], id="2 months: history too short"),
    pytest.param(["不合格", "不合格", "不合格"], BOTH, id="3 months"),
    pytest.param(["合格", "不合格", "不合格", "不合格"], BOTH, id="3 months after a pass"),
    pytest.param(["不合格"] * 5, BOTH, id="5 months"),
    pytest.param(["不合格", "不合格", "不合格", "合格"], [], id="3 months then a pass"),
    pytest.param(["不合格", "不合格", "合格", "不合格"], [], id="gap 1 month back"),
    pytest.param(["不合格", "合格", "不合格", "不合格"], [], id="gap 2 months back"),
    pytest.param(["合格", "良好", "优秀"], [], id="3 passes"),
    pytest.param(["不合格", "不合格", "良好"], [], id="良好 latest"),
]


@pytest.mark.parametrize(("grades", "expected"), GRADE_RUNS)
def test_grade_actions(grades, expected):
    """RULES §5 consequences and arithmetic 8 (latest 3 months 不合格: 专项督查 and 问责建议)."""
    assert grade_actions(grades) == expected


# --- RULES §6 arithmetic: the last-place streak
T, F = True, False
AIR_STREAKS = [
    pytest.param([], None, id="no history"),
    pytest.param([F], None, id="not last"),
    pytest.param([T], "通报批评", id="1 month"),
    pytest.param([T, T], "分管领导公开约谈", id="2 months"),
    pytest.param([T, T, T], "主要领导公开约谈", id="3 months"),
    pytest.param([T, T, T, T], "问责建议", id="4 months"),
    pytest.param([T] * 6, "问责建议", id="6 months"),
    pytest.param([T, T, F], None, id="2 months then not last"),
    pytest.param([T, T, T, T, F], None, id="4 months then not last"),
    pytest.param([T, F, T], "通报批评", id="a gap breaks the streak"),
    pytest.param([T, T, F, T, T], "分管领导公开约谈", id="2 after a gap"),
    pytest.param([F, T, T, T], "主要领导公开约谈", id="3 after a pass"),
    pytest.param([T, F, T, T, T], "主要领导公开约谈", id="3 after a gap not 4"),
    pytest.param([T, T, T, F, T], "通报批评", id="1 after a run of 3"),
]


@pytest.mark.parametrize(("last_place", "expected"), AIR_STREAKS)
def test_air_quality_action(last_place, expected):
    """RULES §6 last place (1 month, 2 and 3 consecutive, more than 3) and the arithmetic for §6."""
    assert air_quality_action(last_place) == expected


ANNUAL = [
    pytest.param([T, F, T, F, T, F, F, F, F, F, F, F], F, "问责建议", id="3 times apart, missed"),
    pytest.param([T, F, T, F, T, F, F, F, F, F, F, F], T, None, id="3 times apart, target met"),
    pytest.param([T, F, T, F, F, F, F, F, F, F, F, F], F, None, id="2 times, missed"),
    pytest.param([F] * 12, F, None, id="never last, missed"),
    pytest.param([T, T, T, T, F, F, F, F, F, F, F, F], F, "问责建议", id="4 times, missed"),
    pytest.param([T, T, T, T, F, F, F, F, F, F, F, F], T, None, id="4 times, target met"),
    pytest.param([T] * 12, F, "问责建议", id="every month, missed"),
    pytest.param([F, T, F, T, T], F, "问责建议", id="part of a year, 3 times, missed"),
    pytest.param([F, T, F, T, F], F, None, id="part of a year, 2 times, missed"),
]


@pytest.mark.parametrize(("last_place", "target_met", "expected"), ANNUAL)
def test_annual_air_quality_action(last_place, target_met, expected):
    """RULES §6 arithmetic: 问责建议 at year end when last 3 or more times and the target missed
    (annex 3 第四条)."""
    assert annual_air_quality_action(last_place, target_met) == expected


# --- RULES §7: key areas, weekly
KEY_AREA = [
    pytest.param(0, None, id="rectified"),
    pytest.param(1, "通报批评", id="1st check"),
    pytest.param(2, "分管领导公开约谈", id="2nd check"),
    pytest.param(3, "主要领导公开约谈", id="3rd check"),
    pytest.param(4, "主要领导公开约谈", id="4th check stays at the top rung"),
    pytest.param(10, "主要领导公开约谈", id="10th check"),
]


@pytest.mark.parametrize(("checks", "expected"), KEY_AREA)
def test_key_area_action(checks, expected):
    """RULES §7 (still not rectified: 1st check 通报批评, 2nd deputy head, 3rd head)."""
    assert key_area_action(checks) == expected


# --- RULES §6 arithmetic: the ranking by improvement rate
RANKINGS = [
    pytest.param({}, [], id="no counties"),
    pytest.param(
        {"甲": (100.0, 80.0), "乙": (100.0, 90.0), "丙": (100.0, 110.0)},
        [("甲", 0.2, 1, F), ("乙", 0.1, 2, F), ("丙", -0.1, 3, T)],
        id="distinct rates, a worse index is last",
    ),
    pytest.param(
        {"A": (5.0, 4.0), "B": (4.0, 3.0), "C": (5.0, 4.0), "D": (2.0, 2.0)},
        [("B", 0.25, 1, F), ("A", 0.2, 2, F), ("C", 0.2, 2, F), ("D", 0.0, 4, T)],
        id="tie in the middle 1 2 2 4",
    ),
    pytest.param(
        {"A": (4.0, 3.0), "B": (5.0, 5.0), "C": (3.0, 3.0)},
        [("A", 0.25, 1, F), ("B", 0.0, 2, T), ("C", 0.0, 2, T)],
        id="tie for last: both last",
    ),
    pytest.param(
        {"A": (None, 3.0), "B": (4.0, 2.0), "C": (4.0, 3.0), "D": (0.0, 3.0)},
        [("B", 0.5, 1, F), ("C", 0.25, 2, T), ("A", None, None, F), ("D", None, None, F)],
        id="no index last year (None or 0): not ranked, after",
    ),
    pytest.param(
        {"Z": (4.0, None), "B": (4.0, 2.0), "C": (4.0, 3.0)},
        [("B", 0.5, 1, F), ("C", 0.25, 2, T), ("Z", None, None, F)],
        id="no index this month: not ranked",
    ),
    pytest.param(
        {"A": (4.0, 2.0), "B": (None, 1.0)},
        [("A", 0.5, 1, F), ("B", None, None, F)],
        id="a single ranked county is not last",
    ),
    pytest.param(
        {"A": (4.0, 2.0), "B": (4.0, 2.0)},
        [("A", 0.5, 1, T), ("B", 0.5, 1, T)],
        id="two ranked, tied: both share place 1 and both are last",
    ),
    pytest.param(
        {"C": (None, None), "A": (None, 1.0), "B": (0.0, None)},
        [("A", None, None, F), ("B", None, None, F), ("C", None, None, F)],
        id="none ranked: name order",
    ),
]


def rank_key(row):
    county, _rate, place, _last = row
    return (place is None, place or 0, county)


@pytest.mark.parametrize(("indices", "expected"), RANKINGS)
def test_rank_counties(indices, expected):
    """RULES §6 ranked by improvement rate (last - this) / last, higher better; lowest is last;
    no index last year: not ranked."""
    ranks = rank_counties(indices)
    rows = [
        (r.county, None if r.rate is None else round(r.rate, 9), r.place, r.last) for r in ranks
    ]
    # Ranked ones by place, then the unranked in name order; the order inside a tie is not part
    # of the rule.
    assert rows == sorted(rows, key=lambda row: (row[2] is None, row[2] or 0))
    unranked = [row[0] for row in rows if row[2] is None]
    assert unranked == sorted(unranked)
    assert sorted(rows, key=rank_key) == sorted(expected, key=rank_key)


# --- RULES §6 data tampering: replaced by the month's highest value
D1, D2, D3, D4 = (date(2025, 3, d) for d in (1, 2, 3, 4))


def station_month():
    return {
        D1: {"PM2.5": 50.0, "PM10": 80.0, "SO2": 10.0, "CO": None},
        D2: {"PM2.5": 70.0, "PM10": 60.0, "SO2": None, "CO": None},
        D3: {"PM2.5": 20.0, "PM10": 300.0, "SO2": None, "CO": None},
        D4: {"PM2.5": 30.0, "PM10": 40.0, "SO2": 12.0, "CO": None},
    }


UNTOUCHED_MAX = {"PM2.5": 70.0, "PM10": 80.0, "SO2": 12.0, "CO": None}  # over D1, D2, D4

TAMPERING = [
    pytest.param(set(), station_month(), id="nothing tampered: unchanged"),
    pytest.param(
        {D3},
        station_month() | {D3: UNTOUCHED_MAX},
        id="one day: max of the untouched days, its own 300 not counted, None filled",
    ),
    pytest.param(
        {D1, D3},
        station_month()
        | {
            D1: {"PM2.5": 70.0, "PM10": 60.0, "SO2": 12.0, "CO": None},
            D3: {"PM2.5": 70.0, "PM10": 60.0, "SO2": 12.0, "CO": None},
        },
        id="two days: max over D2 and D4",
    ),
    pytest.param(
        {D1, D2, D3, D4},
        {d: {"PM2.5": 70.0, "PM10": 300.0, "SO2": 12.0, "CO": None} for d in (D1, D2, D3, D4)},
        id="every day tampered: max over all days",
    ),
]


@pytest.mark.parametrize(("tampered", "expected"), TAMPERING)
def test_replace_tampered(tampered, expected):
    """RULES §6 data tampering (that station's affected days replaced by the month's highest value
    of each pollutant, per pollutant; other days unchanged)."""
    days = station_month()
    before = copy.deepcopy(days)
    result = replace_tampered(days, tampered)
    assert result == expected
    assert days == before  # the input is not modified
    assert result is not days


def test_replace_tampered_does_not_share_the_replaced_days():
    days = station_month()
    result = replace_tampered(days, {D3})
    result[D3]["PM2.5"] = -1.0
    assert days[D3]["PM2.5"] == 20.0
