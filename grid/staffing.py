"""Staffing rules of the grid (RULES.md §1; 001 annex 1 arts. 4-8). Pure: posts in, findings out.

The findings carry a code and numbers; the views turn them into sentences in the user's language.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

WARNING = "warning"  # the rule is not met
NOTICE = "notice"  # outside the documents' range, worth a look, not a breach

# 001 annex 1 art. 6: township 3-5 supervisors, at least 3 full-time.
TOWNSHIP_MIN_FULL_TIME = 3
TOWNSHIP_MAX_SUPERVISORS = 5
# 001 annex 1 art. 7: village at least 3 supervisors, at least 1 full-time.
VILLAGE_MIN_SUPERVISORS = 3
VILLAGE_MIN_FULL_TIME = 1
# 001 §二: double grid heads (双网格长) at levels 2-4 and for key grids.
DOUBLE_HEADS = 2
# 001 annex 1 art. 5: a county sub-grid head covers 1-2 townships.
COUNTY_SUBHEAD_MAX_COVERED = 2


@dataclass(frozen=True)
class Post:
    """A post held in the grid under review on the day of review."""

    role: str  # supervisor | head | subhead | office | admin
    user_id: int
    full_time: bool | None = None
    covers: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    have: int = 0
    need: int = 0
    grid_ids: tuple[int, ...] = field(default=())  # children concerned
    user_id: int | None = None


def check(level: int, kind: str, child_ids: Sequence[int], posts: Iterable[Post]) -> list[Finding]:
    """Everything about the staffing of one grid that breaks or strains the rules."""
    posts = list(posts)
    findings: list[Finding] = []
    supervisors = [p for p in posts if p.role == "supervisor"]
    full_time = sum(1 for p in supervisors if p.full_time)
    heads = len({p.user_id for p in posts if p.role == "head"})

    needed_heads = 1 if level == 1 else DOUBLE_HEADS
    if heads < needed_heads:
        findings.append(Finding("heads_short", WARNING, heads, needed_heads))

    if kind == "township":
        if full_time < TOWNSHIP_MIN_FULL_TIME:
            findings.append(
                Finding("township_full_time_short", WARNING, full_time, TOWNSHIP_MIN_FULL_TIME)
            )
        if len(supervisors) > TOWNSHIP_MAX_SUPERVISORS:
            findings.append(
                Finding(
                    "township_supervisors_above_range",
                    NOTICE,
                    len(supervisors),
                    TOWNSHIP_MAX_SUPERVISORS,
                )
            )
    elif kind == "village":
        if len(supervisors) < VILLAGE_MIN_SUPERVISORS:
            findings.append(
                Finding(
                    "village_supervisors_short", WARNING, len(supervisors), VILLAGE_MIN_SUPERVISORS
                )
            )
        if full_time < VILLAGE_MIN_FULL_TIME:
            findings.append(
                Finding("village_full_time_missing", WARNING, full_time, VILLAGE_MIN_FULL_TIME)
            )

    if level in (2, 3) and kind != "key" and child_ids:
        subheads = [p for p in posts if p.role == "subhead"]
        covered = set().union(*(p.covers for p in subheads)) if subheads else set()
        uncovered = tuple(c for c in child_ids if c not in covered)
        if uncovered:
            findings.append(
                Finding(
                    "children_uncovered",
                    WARNING,
                    len(child_ids) - len(uncovered),
                    len(child_ids),
                    grid_ids=uncovered,
                )
            )
        if level == 2:
            for p in subheads:
                if len(p.covers) > COUNTY_SUBHEAD_MAX_COVERED:
                    findings.append(
                        Finding(
                            "subhead_covers_many",
                            NOTICE,
                            len(p.covers),
                            COUNTY_SUBHEAD_MAX_COVERED,
                            user_id=p.user_id,
                        )
                    )
    return findings
