"""Upper-level findings (scoring item 4, RULES §5): which grid reports could be the problem an
inspection, supervision, complaint or the media found. Pure: facts in, candidates out.

A report is a candidate when it is of the same category, near enough and found in the window
before the finding: its local calendar day (in the grid's time zone) lies between the finding's
day minus the window and the finding's day, both included. Staff then confirm "already
reported" or "missed by the grid"; only "missed" counts against the county (annex 2 item 4).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from grid.geo import haversine_m
from i18n import N_

# Who found it (annex 2 item 4: upper-level inspection, supervision or complaint check; the
# media for the punitive deductions).
KINDS: dict[str, str] = {
    "inspection": N_("Upper-level inspection"),  # 上级检查
    "supervision": N_("Supervision"),  # 督查
    "complaint": N_("Complaint check"),  # 投诉核查
    "media": N_("Media exposure"),  # 媒体曝光
}
# The level of a media exposure (annex 2 第七条: national fails the month, region -30,
# prefecture -20).
MEDIA_LEVELS: dict[str, str] = {
    "national": N_("National media"),
    "region": N_("Autonomous-region media"),
    "prefecture": N_("Prefecture media"),
}
DECISIONS: dict[str, str] = {
    "pending": N_("Pending"),
    "already_reported": N_("Already reported by the grid"),
    "missed": N_("Missed by the grid"),
}
PENDING, ALREADY_REPORTED, MISSED = "pending", "already_reported", "missed"


@dataclass(frozen=True)
class FindingFacts:
    category: str
    lon: float | None
    lat: float | None
    found_on: date  # the finding's calendar day, local
    zone: tzinfo  # the grid's time zone, which decides the local day of a report


@dataclass(frozen=True)
class ProblemFacts:
    problem_id: int
    category: str
    lon: float | None
    lat: float | None
    found_at: datetime  # naive UTC, as stored


@dataclass(frozen=True)
class Candidate:
    problem_id: int
    distance_m: float | None  # None when the finding has no location
    days_before: int  # 0: the same local day as the finding


def window_utc(found_on: date, window_days: int, zone: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) in naive UTC of the local days `found_on - window_days` .. `found_on`: what
    a database may pre-filter `found_at` on before `candidates` decides."""
    first = datetime.combine(found_on - timedelta(days=window_days), time(), zone)
    after = datetime.combine(found_on + timedelta(days=1), time(), zone)
    return (
        first.astimezone(UTC).replace(tzinfo=None),
        after.astimezone(UTC).replace(tzinfo=None),
    )


_EPOCH = datetime(1970, 1, 1)


def _local_day(found_at: datetime, zone: tzinfo) -> date:
    return found_at.replace(tzinfo=UTC).astimezone(zone).date()


def candidates(
    finding: FindingFacts,
    problems: Iterable[ProblemFacts],
    max_distance_m: float,
    window_days: int,
) -> list[Candidate]:
    """The reports that could be the finding's problem, nearest first, then the latest first.

    A located finding matches located reports of its category within `max_distance_m` (great
    circle) whose local day is in the window; a report without a location never matches it.
    A finding without a location cannot be measured against anything: it matches every report
    of its category in the window, with distance None, so the caller must pass only the
    reports of the finding's county (the SQL pre-filter does).
    """
    if max_distance_m < 0 or window_days < 0:
        raise ValueError("the distance and the window cannot be negative")
    first = finding.found_on - timedelta(days=window_days)
    lon, lat = finding.lon, finding.lat
    found: list[tuple[tuple[float, float, int], Candidate]] = []
    for p in problems:
        if p.category != finding.category:
            continue
        day = _local_day(p.found_at, finding.zone)
        if not first <= day <= finding.found_on:
            continue
        distance: float | None = None
        if lon is not None and lat is not None:
            if p.lon is None or p.lat is None:
                continue
            distance = haversine_m(lon, lat, p.lon, p.lat)
            if distance > max_distance_m:
                continue
        # nearest first, then the latest first, then the oldest record
        key = (distance or 0.0, (_EPOCH - p.found_at).total_seconds(), p.problem_id)
        found.append((key, Candidate(p.problem_id, distance, (finding.found_on - day).days)))
    found.sort(key=lambda kc: kc[0])
    return [c for _key, c in found]
