"""Staffing rules as a table (RULES.md §1; 001 annex 1 arts. 4-8)."""

import pytest

from grid.staffing import Post, check


def sup(uid, full_time):
    return Post("supervisor", uid, full_time)


def heads(*uids):
    return [Post("head", u) for u in uids]


CASES = [
    # (level, kind, children, posts, expected finding codes)
    # village: at least 3 supervisors, at least 1 full-time
    (4, "village", [], heads(1, 2) + [sup(3, True), sup(4, False), sup(5, False)], []),
    (4, "village", [], heads(1, 2) + [sup(3, True), sup(4, False)], ["village_supervisors_short"]),
    (
        4,
        "village",
        [],
        heads(1, 2) + [sup(3, False), sup(4, False), sup(5, False)],
        ["village_full_time_missing"],
    ),
    (4, "village", [], heads(1, 2), ["village_supervisors_short", "village_full_time_missing"]),
    # township: 3-5 supervisors, at least 3 full-time; sub-grid heads cover every village
    (3, "township", [], heads(1, 2) + [sup(3, True), sup(4, True), sup(5, True)], []),
    (
        3,
        "township",
        [],
        heads(1, 2) + [sup(3, True), sup(4, True), sup(5, False)],
        ["township_full_time_short"],
    ),
    (
        3,
        "township",
        [],
        heads(1, 2) + [sup(i, True) for i in range(3, 9)],
        ["township_supervisors_above_range"],
    ),
    (
        3,
        "township",
        [7, 8],
        heads(1, 2)
        + [sup(3, True), sup(4, True), sup(5, True), Post("subhead", 6, covers=frozenset({7}))],
        ["children_uncovered"],
    ),
    (
        3,
        "township",
        [7, 8],
        heads(1, 2)
        + [sup(3, True), sup(4, True), sup(5, True), Post("subhead", 6, covers=frozenset({7, 8}))],
        [],
    ),
    # double grid heads; the same person twice counts once
    (4, "village", [], heads(1, 1) + [sup(3, True), sup(4, True), sup(5, True)], ["heads_short"]),
    (1, "prefecture", [], heads(1), []),
    # county: sub-grid heads cover 1-2 townships each (more is a notice), all covered
    (
        2,
        "county",
        [7, 8, 9],
        heads(1, 2) + [Post("subhead", 3, covers=frozenset({7, 8, 9}))],
        ["subhead_covers_many"],
    ),
    (
        2,
        "county",
        [7, 8, 9],
        heads(1, 2)
        + [Post("subhead", 3, covers=frozenset({7, 8})), Post("subhead", 4, covers=frozenset({9}))],
        [],
    ),
    (2, "county", [7, 8], heads(1, 2), ["children_uncovered"]),
    # key grid: heads only, and no children rule
    (3, "key", [], heads(1, 2), []),
]


@pytest.mark.parametrize(("level", "kind", "children", "posts", "expected"), CASES)
def test_staffing_rules(level, kind, children, posts, expected):
    assert [f.code for f in check(level, kind, children, posts)] == expected


def test_finding_numbers():
    [finding] = check(
        3,
        "township",
        [7, 8, 9],
        heads(1, 2)
        + [sup(3, True), sup(4, True), sup(5, True), Post("subhead", 6, covers=frozenset({8}))],
    )
    assert (finding.code, finding.have, finding.need, finding.grid_ids) == (
        "children_uncovered",
        1,
        3,
        (7, 9),
    )


def test_severity():
    findings = check(3, "township", [], heads(1) + [sup(i, True) for i in range(2, 9)])
    assert {f.code: f.severity for f in findings} == {
        "heads_short": "warning",
        "township_supervisors_above_range": "notice",
    }
