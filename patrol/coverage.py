"""Daily patrol coverage (RULES.md §2: every active source in a village is patrolled at least
once a day). Pure: sources and visits in, expected / visited / missed out.

A source is expected on a day when it is located in a village, exists by then and its status on
that day is active: a source relocated, long stopped or bankrupt is not expected from the day its
status changed. A visit counts for the local calendar day on which it was made, whatever day
its patrol started (patrols cross midnight).
"""

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

ACTIVE = "active"


@dataclass(frozen=True)
class SourceLife:
    source_id: int
    grid_id: int | None  # level-4 grid; None while the source has no location
    created_on: date
    # (effective day, status) in any order; the status before the first change is "active".
    changes: Sequence[tuple[date, str]] = ()

    def status_on(self, day: date) -> str:
        status = ACTIVE
        for effective, new in sorted(self.changes):
            if effective <= day:
                status = new
        return status

    def expected_on(self, day: date) -> bool:
        return self.grid_id is not None and self.created_on <= day and self.status_on(day) == ACTIVE


@dataclass(frozen=True)
class Visit:
    source_id: int
    day: date  # local calendar day of the visit
    supervisor_id: int
    grid_id: int  # the patrol's grid


@dataclass
class DayCoverage:
    day: date
    expected: set[int] = field(default_factory=set)
    visited: set[int] = field(default_factory=set)  # expected sources visited that day

    @property
    def missed(self) -> set[int]:
        return self.expected - self.visited

    @property
    def share(self) -> float | None:
        return len(self.visited) / len(self.expected) if self.expected else None


def day_coverage(sources: Iterable[SourceLife], visits: Iterable[Visit], day: date) -> DayCoverage:
    expected = {s.source_id for s in sources if s.expected_on(day)}
    visited = {v.source_id for v in visits if v.day == day and v.source_id in expected}
    return DayCoverage(day, expected, visited)


def days_of(year: int, month: int, until: date | None = None) -> list[date]:
    """The days of a month, up to and including `until` when given."""
    last = calendar.monthrange(year, month)[1]
    days = [date(year, month, d) for d in range(1, last + 1)]
    return [d for d in days if until is None or d <= until]


def by_grid(
    sources: Iterable[SourceLife],
    visits: Iterable[Visit],
    days: Sequence[date],
) -> dict[int, list[DayCoverage]]:
    """Coverage per level-4 grid and day, for the sources located in each grid."""
    sources = list(sources)
    visits = list(visits)
    grids: dict[int, list[SourceLife]] = {}
    for s in sources:
        if s.grid_id is not None:
            grids.setdefault(s.grid_id, []).append(s)
    result = {}
    for grid_id, members in grids.items():
        ids = {s.source_id for s in members}
        mine = [v for v in visits if v.source_id in ids]
        result[grid_id] = [day_coverage(members, mine, d) for d in days]
    return result
