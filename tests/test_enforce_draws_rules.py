"""The pure rules of the double-random inspections: minimums, suggestions, the draw itself."""

import random

import pytest

from enforce.draws.drawing import (
    TEAM,
    Snapshot,
    TooFewInspectors,
    TooFewTargets,
    check,
    draw,
)
from enforce.draws.outcomes import OUTCOMES, outcome_phrase
from enforce.draws.ratios import (
    COUNTY,
    PREFECTURE,
    Population,
    Progress,
    quarter_minimum,
    shortfalls,
    suggest,
    suggest_all,
    year_minimum,
)

# --- outcomes -----------------------------------------------------------------------------------


def test_seven_outcome_phrases():
    assert len(OUTCOMES) == 7
    assert outcome_phrase(1) == "未发现问题"
    assert outcome_phrase(4) == "发现问题作出行政处罚决定"
    assert outcome_phrase(7).endswith("需要移送或通报")
    for bad in (0, 8, -1):
        with pytest.raises(ValueError):
            outcome_phrase(bad)


# --- minimums -----------------------------------------------------------------------------------


def test_quarter_minimums_round_up():
    pop = Population(key=41, special=23, general=300, facility=33, inspectors=12)
    # 5% of 41 = 2.05 -> 3; 25% of 41 = 10.25 -> 11
    assert quarter_minimum(PREFECTURE, "key", pop) == 3
    assert quarter_minimum(COUNTY, "key", pop) == 11
    # 25% of 23 = 5.75 -> 6; 50% of 23 = 11.5 -> 12
    assert quarter_minimum(PREFECTURE, "special", pop) == 6
    assert quarter_minimum(COUNTY, "special", pop) == 12
    assert quarter_minimum(PREFECTURE, "key", Population()) == 0


def test_general_units_a_year_are_five_or_ten_per_inspector_capped_by_the_units():
    pop = Population(general=300, inspectors=12)
    assert year_minimum(PREFECTURE, "general", pop) == 60  # 1:5
    assert year_minimum(COUNTY, "general", pop) == 120  # 1:10
    assert year_minimum(COUNTY, "general", Population(general=50, inspectors=12)) == 50
    # pro rata by quarter: ceil(60 * q / 4)
    assert [quarter_minimum(PREFECTURE, "general", pop, q) for q in (1, 2, 3, 4)] == [
        15,
        30,
        45,
        60,
    ]


def test_facilities_ten_percent_a_year_spread_over_quarters():
    pop = Population(facility=33)
    assert year_minimum(COUNTY, "facility", pop) == 4  # 3.3 -> 4
    assert [quarter_minimum(COUNTY, "facility", pop, q) for q in (1, 2, 3, 4)] == [1, 2, 3, 4]


def test_county_key_polluters_all_once_a_year():
    assert year_minimum(COUNTY, "key", Population(key=41)) == 41
    assert year_minimum(PREFECTURE, "key", Population(key=41)) == 12  # 4 quarters x 3


def test_levels_other_than_prefecture_and_county_refused():
    with pytest.raises(ValueError):
        quarter_minimum(3, "key", Population(key=4))


# --- suggestions --------------------------------------------------------------------------------


def test_quarter_minimum_spread_over_its_months():
    pop = Population(key=40)  # prefecture: 2 a quarter
    s = suggest(PREFECTURE, "key", pop, 1, Progress())
    assert (s.number, s.minimum, s.months_left, s.period) == (1, 2, 3, "quarter")  # ceil(2/3)
    assert suggest(PREFECTURE, "key", pop, 2, Progress(quarter=1)).number == 1  # ceil(1/2)
    assert suggest(PREFECTURE, "key", pop, 3, Progress(quarter=2)).number == 0
    assert suggest(PREFECTURE, "key", pop, 3, Progress(quarter=0)).number == 2  # last month
    assert suggest(PREFECTURE, "key", pop, 4, Progress(quarter=0, year=5)).number == 1  # Q2


def test_county_key_polluters_not_drawn_yet_spread_over_the_year():
    pop = Population(key=40)  # county: 10 a quarter
    s = suggest(COUNTY, "key", pop, 10, Progress(quarter=0, year=10, fresh=30))
    # quarter: ceil(10 / 3) = 4; the year's 30 not drawn yet over 3 months: 10
    assert (s.number, s.fresh_needed) == (10, 10)


def test_general_spread_over_the_year_and_facility_cumulative():
    pop = Population(general=300, facility=33, inspectors=12)
    assert suggest(PREFECTURE, "general", pop, 1, Progress()).number == 5  # ceil(60 / 12)
    assert suggest(PREFECTURE, "general", pop, 12, Progress(year=50)).number == 10
    # facility: by end of Q1 1 (ceil(4/4)), 3 months: ceil(1/3) = 1
    assert suggest(COUNTY, "facility", pop, 1, Progress()).number == 1
    assert suggest(COUNTY, "facility", pop, 2, Progress(year=1)).number == 0
    assert suggest(COUNTY, "facility", pop, 12, Progress(year=1)).number == 3


def test_suggestion_never_more_than_the_units():
    assert suggest(COUNTY, "special", Population(special=1), 3, Progress()).number == 1
    assert suggest(COUNTY, "key", Population(key=2), 12, Progress(fresh=2)).number == 2


def test_shortfalls_list_what_falls_short():
    pop = Population(key=40, special=8, general=100, facility=0, inspectors=4)
    sugg = suggest_all(COUNTY, pop, 1, {})
    assert {c: s.number for c, s in sugg.items()} == {
        "key": 4,  # ceil(10/3)=4; fresh: ceil(40/12)=4
        "special": 2,  # 50% of 8 = 4 a quarter: ceil(4/3)
        "general": 4,  # 40 a year / 12
        "facility": 0,
    }
    short = shortfalls(sugg, {"key": 4, "special": 1})
    assert [(s.category, s.asked, s.needed) for s in short] == [
        ("special", 1, 2),
        ("general", 0, 4),
    ]


@pytest.mark.parametrize("level", [PREFECTURE, COUNTY])
def test_a_year_of_suggested_draws_meets_every_minimum(level):
    """Drawing each month exactly the suggested numbers, the units not drawn this year first,
    then those not drawn this quarter (drawing.py's tiers), meets every
    quarter's and the year's minimum; at county level every key polluter is drawn."""
    pop = Population(key=37, special=9, general=211, facility=23, inspectors=7)
    units = {c: list(range(pop.of(c))) for c in ("key", "special", "general", "facility")}
    drawn_year: dict[str, set[int]] = {c: set() for c in units}
    drawn_quarter: dict[str, set[int]] = {c: set() for c in units}
    rng = random.Random(5)
    for month in range(1, 13):
        if month % 3 == 1:
            drawn_quarter = {c: set() for c in units}
        progress = {
            c: Progress(
                len(drawn_quarter[c]), len(drawn_year[c]), len(units[c]) - len(drawn_year[c])
            )
            for c in units
        }
        for category, s in suggest_all(level, pop, month, progress).items():
            year, quarter = drawn_year[category], drawn_quarter[category]
            tiers = (
                [u for u in units[category] if u not in year],
                [u for u in units[category] if u in year and u not in quarter],
                [u for u in units[category] if u in quarter],
            )
            picked = []
            for tier in tiers:
                picked += rng.sample(tier, min(s.number - len(picked), len(tier)))
            drawn_year[category].update(picked)
            drawn_quarter[category].update(picked)
        if month % 3 == 0:
            q = month // 3
            for category in ("key", "special"):
                assert len(drawn_quarter[category]) >= quarter_minimum(level, category, pop)
            for category in ("general", "facility"):
                assert len(drawn_year[category]) >= quarter_minimum(level, category, pop, q)
    for category in units:
        assert len(drawn_year[category]) >= year_minimum(level, category, pop)
    if level == COUNTY:
        assert drawn_year["key"] == set(units["key"])


# --- the draw -----------------------------------------------------------------------------------


def _snapshot(conflicts=frozenset(), inspectors=range(100, 106)):
    return Snapshot.of(
        {
            "key": [[1, 2, 3, 4], [5, 6]],
            "special": [[7, 8]],
            "general": [list(range(20, 40))],
            "facility": [[1, 2, 3, 9, 10, 11]],
        },
        list(inspectors),
        conflicts,
    )


def test_the_same_seed_draws_the_same_tasks():
    asked = {"key": 3, "special": 1, "general": 5, "facility": 2}
    assert draw(42, asked, _snapshot()) == draw(42, asked, _snapshot())
    outcomes = {tuple(draw(seed, asked, _snapshot())) for seed in range(30)}
    assert len(outcomes) > 20  # and other seeds draw otherwise


def test_snapshot_json_round_trip_and_digest_ignores_order():
    snap = _snapshot(frozenset({(100, 1)}))
    again = Snapshot.from_json(snap.to_json())
    assert again == snap and again.digest() == snap.digest()
    shuffled = Snapshot.of(
        {
            "key": [[4, 3, 2, 1], [6, 5]],
            "special": [[8, 7]],
            "general": [list(range(39, 19, -1))],
            "facility": [[11, 10, 9, 3, 2, 1]],
        },
        [105, 104, 103, 102, 101, 100],
        {(100, 1)},
    )
    assert shuffled.digest() == snap.digest()
    assert len(snap.digest()) == 64


def test_fresh_tier_first_and_no_source_twice_in_a_draw():
    for seed in range(200):
        tasks = draw(seed, {"key": 4, "facility": 1}, _snapshot())
        keys = [t.source_id for t in tasks if t.category == "key"]
        assert sorted(keys) == [1, 2, 3, 4]  # the 4 not drawn yet this year, never 5 or 6
        assert {t.source_id for t in tasks if t.category == "facility"} <= {9, 10, 11}
        tasks = draw(seed, {"key": 5}, _snapshot())
        assert {1, 2, 3, 4} < {t.source_id for t in tasks}


def test_inspectors_two_distinct_never_conflicted_spread_evenly():
    conflicts = frozenset({(100, 20), (101, 20), (102, 21), (103, 7)})
    for seed in range(300):
        tasks = draw(seed, {"general": 12, "special": 2}, _snapshot(conflicts))
        load: dict[int, int] = {}
        for task in tasks:
            assert len(task.inspector_ids) == TEAM == len(set(task.inspector_ids))
            for inspector in task.inspector_ids:
                assert (inspector, task.source_id) not in conflicts
                load[inspector] = load.get(inspector, 0) + 1
        assert sum(load.values()) == 28
        assert max(load.values()) - min(load.values()) <= 2  # 6 people, 28 places


def test_spread_is_exact_without_conflicts():
    for seed in range(100):
        tasks = draw(seed, {"general": 9}, _snapshot(inspectors=range(100, 106)))
        load: dict[int, int] = {}
        for task in tasks:
            for inspector in task.inspector_ids:
                load[inspector] = load.get(inspector, 0) + 1
        assert sorted(load.values()) == [3] * 6


def test_refusals():
    with pytest.raises(TooFewTargets) as refused:
        check({"key": 7}, _snapshot())
    assert (refused.value.asked, refused.value.eligible) == (7, 6)
    with pytest.raises(TooFewInspectors) as refused:
        draw(1, {"key": 1}, _snapshot(inspectors=[100]))
    assert refused.value.source_id is None
    conflicts = frozenset({(i, 7) for i in range(100, 105)})  # only 105 may inspect 7
    with pytest.raises(TooFewInspectors) as refused:
        draw(1, {"special": 2}, _snapshot(conflicts))
    assert (refused.value.source_id, refused.value.available) == (7, 1)
    with pytest.raises(ValueError):
        check({"nuclear": 1}, _snapshot())
    with pytest.raises(ValueError):
        check({"key": -1}, _snapshot())
    # the facility population shrinks by what the key category took in the same draw
    snap = Snapshot.of({"key": [[1, 2]], "facility": [[1, 2]]}, [100, 101])
    with pytest.raises(TooFewTargets) as refused:
        draw(3, {"key": 2, "facility": 1}, snap)
    assert (refused.value.category, refused.value.eligible) == ("facility", 0)
    # whatever the seed: key may take 1 and 2, leaving the facilities 9 alone
    snap = Snapshot.of({"key": [[1, 2, 3]], "facility": [[1, 2, 9]]}, [100, 101])
    for seed in range(50):
        with pytest.raises(TooFewTargets):
            draw(seed, {"key": 2, "facility": 2}, snap)
        assert len(draw(seed, {"key": 2, "facility": 1}, snap)) == 3
    assert draw(3, {}, Snapshot.of({}, [])) == []
