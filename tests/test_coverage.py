"""Daily coverage (RULES.md §2: every active source in a village at least once a day), against
hand-counted fixtures."""

from datetime import date

from patrol.coverage import SourceLife, Visit, by_grid, day_coverage, days_of

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)

# Village 10: sources 1, 2, 3 (3 relocated from D2, so expected only on D1), source 4 not
# located. Village 20: source 5, created on D2.
SOURCES = [
    SourceLife(1, 10, date(2026, 1, 1)),
    SourceLife(2, 10, date(2026, 1, 1)),
    SourceLife(3, 10, date(2026, 1, 1), changes=[(D2, "relocated")]),
    SourceLife(4, None, date(2026, 1, 1)),
    SourceLife(5, 20, D2),
]
VISITS = [
    Visit(1, D1, 7, 10),
    Visit(2, D1, 7, 10),  # D1: 1 and 2 visited, 3 missed
    Visit(1, D1, 8, 10),  # visited twice: still one source
    Visit(2, D2, 7, 10),  # D2: only 2
    # a patrol started on D2 at 23:40 that visited source 1 at 00:10 on D3: counts for D3
    Visit(1, D3, 7, 10),
    Visit(3, D3, 7, 10),  # a relocated source visited: not counted as expected or done
    Visit(5, D1, 9, 20),  # before the source existed: not counted
]


def test_day_by_day():
    d1 = day_coverage(SOURCES, VISITS, D1)
    assert (d1.expected, d1.visited, d1.missed) == ({1, 2, 3}, {1, 2}, {3})
    d2 = day_coverage(SOURCES, VISITS, D2)
    assert (d2.expected, d2.visited, d2.missed) == ({1, 2, 5}, {2}, {1, 5})
    d3 = day_coverage(SOURCES, VISITS, D3)
    assert (d3.expected, d3.visited, d3.missed) == ({1, 2, 5}, {1}, {2, 5})


def test_share():
    assert day_coverage(SOURCES, VISITS, D1).share == 2 / 3
    assert day_coverage([], [], D1).share is None


def test_status_changes_apply_from_their_day_and_can_revert():
    life = SourceLife(9, 10, date(2026, 1, 1), changes=[(D3, "active"), (D2, "long_stopped")])
    assert [life.expected_on(d) for d in (D1, D2, D3)] == [True, False, True]


def test_by_grid_and_month():
    days = days_of(2026, 11, until=D3)
    assert days == [D1, D2, D3]
    grids = by_grid(SOURCES, VISITS, days)
    assert set(grids) == {10, 20}  # source 4 has no village
    assert [len(c.missed) for c in grids[10]] == [1, 1, 1]
    assert [len(c.expected) for c in grids[20]] == [0, 1, 1]
    assert len(days_of(2026, 2)) == 28 and len(days_of(2028, 2)) == 29
