"""The prefecture's desktop (/assess/, issue 12): the month's ranking of level-2 grids beside
each one's score over the last twelve months, the prefecture's average and its number of 不合格
per month, and the grid whose children the map draws.

A month's figure is its frozen snapshot (the official record, latest version); a month not
frozen is a gap, except the month shown, which may be provisional (queries.month_rows). The
twelve months are read in one query whatever the number of counties, and nothing here reads
county by county: `queries_per_desktop_page` counts the statements for the benchmark.

The charts are inline SVG drawn by templates/assess/_trend.html from the geometry computed here
(plain arithmetic: no chart library, nothing to load, prints and works offline). One scale is
shared by all the charts of a page so that the small multiples compare at a glance."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

import sqlalchemy as sa

from assess import air, queries, snapshots
from assess.queries import MonthRow
from extensions import db
from grid import scoring
from grid.queries import root_grid
from grid.time import local_today

MONTHS = 12
# The CSS classes of the grades (static/css/app.css .grade-a .. .grade-d), for the charts too.
GRADE_CSS = {scoring.EXCELLENT: "a", scoring.GOOD: "b", scoring.PASS: "c", scoring.FAIL: "d"}
BANDS = tuple(floor for floor, _grade in scoring.GRADE_FLOORS)  # 90, 80, 60 (RULES §5)
LEGEND = (*scoring.GRADE_FLOORS, (None, scoring.FAIL))  # each grade from its floor
FLOOR = 50  # the charts' lowest score: one below is drawn on the bottom edge, hollow


class Point(NamedTuple):
    """A county's month on the trend; score and grade are None for a month not frozen."""

    month: date
    score: int | None
    grade: str | None


class MonthSummary(NamedTuple):
    """The prefecture's month: the average score of the counties with a figure, how many of
    them were 不合格, and how many had a figure (0: a gap, average and fails None)."""

    month: date
    average: float | None
    fails: int | None
    counted: int


def months_ending(last: date, count: int = MONTHS) -> list[date]:
    """The first days of `count` months up to `last` (included), oldest first."""
    months = [last]
    while len(months) < count:
        months.append(queries.previous_month(months[-1]))
    return months[::-1]


def trend(
    first: date, months: int = MONTHS, rows: list[MonthRow] | None = None
) -> dict[int, list[Point]]:
    """Each ranked county's score over the `months` months ending with `first` (oldest first):
    the latest frozen version of each month, the month `first` itself from `rows` (its
    ranking, frozen or provisional; read when not given). One query for the months before."""
    if rows is None:
        rows = queries.month_rows(first)
    span = months_ending(first, months)
    frozen = snapshots.latest_between(span[0], span[-1])
    out = {}
    for row in rows:
        points = []
        for month in span:
            if month == first:
                points.append(Point(month, row.score, row.grade))
                continue
            kept = frozen.get(month, {}).get(row.county_id)
            if kept is None:
                points.append(Point(month, None, None))
            else:
                points.append(Point(month, kept.result["score"], kept.result["grade"]))
        out[row.county_id] = points
    return out


def prefecture_line(series: dict[int, list[Point]], months: list[date]) -> list[MonthSummary]:
    """The prefecture's months from the counties' trend: average score and number of 不合格
    among the counties with a figure that month."""
    out = []
    for i, month in enumerate(months):
        known = [points[i] for points in series.values() if points[i].score is not None]
        if not known:
            out.append(MonthSummary(month, None, None, 0))
            continue
        average = round(sum(p.score for p in known) / len(known), 1)
        fails = sum(1 for p in known if p.grade == scoring.FAIL)
        out.append(MonthSummary(month, average, fails, len(known)))
    return out


def scale_of(series: dict[int, list[Point]]) -> tuple[int, int]:
    """The charts' shared scale (lowest, highest): 50 to 100, up by tens to take in a month
    above 100 (the bonus). Not down: what the bands 60/80/90 separate stays readable, and a
    month below 50 (a veto gives 0; 不合格 either way) sits on the bottom edge, hollow."""
    scores = [p.score for points in series.values() for p in points if p.score is not None]
    high = max(100, -(-max(scores, default=100) // 10) * 10)
    return FLOOR, int(high)


# --- the charts' geometry ----------------------------------------------------------------------


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    month: date
    value: float
    grade: str  # "" when the value has no grade (the prefecture's average)
    css: str  # the grade's letter (GRADE_CSS), "" when none
    below: bool  # under the scale: drawn on its bottom edge


@dataclass(frozen=True)
class Bar:
    x: float  # the bar's centre
    y: float  # its top
    height: float
    month: date
    count: int


@dataclass(frozen=True)
class Chart:
    """What templates/assess/_trend.html draws, in the SVG's user units."""

    width: int
    height: int
    low: int
    high: int
    dots: list[Dot]
    runs: list[str]  # the `points` of one polyline per run of months without a gap
    bands: list[tuple[int, float]]  # each grade floor and its y
    ticks: list[tuple[float, date]]  # each month and its x
    marked: float | None  # the x of the month shown
    left: float  # the plot's box
    top: float
    right: float
    bottom: float
    bars: list[Bar] = field(default_factory=list)
    bars_top: float = 0.0
    bars_bottom: float = 0.0


@dataclass(frozen=True)
class _Frame:
    left: float
    top: float
    right: float
    bottom: float
    low: int
    high: int
    n: int
    inset: float = 0.0  # room between the box's sides and the first and last month

    def x(self, i: int) -> float:
        left, right = self.left + self.inset, self.right - self.inset
        if self.n < 2:
            return round((left + right) / 2, 1)
        return round(left + (right - left) * i / (self.n - 1), 1)

    def y(self, value: float) -> float:
        share = (self.high - max(value, self.low)) / (self.high - self.low)
        return round(self.top + (self.bottom - self.top) * share, 1)


def _plot(values, months, selected, frame: _Frame, size, grades=True, **extra) -> Chart:
    """The dots, the runs between gaps, the grade bands and the month ticks of one series
    (`values`: one (value or None, grade or None) per month)."""
    dots, runs, run = [], [], []
    for i, (month, (value, grade)) in enumerate(zip(months, values, strict=True)):
        if value is None:
            runs.append(run)
            run = []
            continue
        grade = (grade or "") if grades else ""
        css = GRADE_CSS.get(grade, "")
        dot = Dot(frame.x(i), frame.y(value), month, value, grade, css, value < frame.low)
        dots.append(dot)
        run.append(f"{dot.x},{dot.y}")
    runs.append(run)
    marked = frame.x(months.index(selected)) if selected in months else None
    return Chart(
        width=size[0],
        height=size[1],
        low=frame.low,
        high=frame.high,
        dots=dots,
        runs=[" ".join(r) for r in runs if len(r) > 1],
        bands=[(b, frame.y(b)) for b in BANDS if frame.low < b < frame.high],
        ticks=[(frame.x(i), m) for i, m in enumerate(months)],
        marked=marked,
        left=frame.left,
        top=frame.top,
        right=frame.right,
        bottom=frame.bottom,
        **extra,
    )


def sparkline(
    points: list[Point], selected: date, scale: tuple[int, int], width: int = 120, height: int = 32
) -> Chart:
    """A county's small chart: one dot per month with a figure, in its grade's colour."""
    months = [p.month for p in points]
    frame = _Frame(4, 4, width - 4, height - 4, scale[0], scale[1], len(points))
    return _plot([(p.score, p.grade) for p in points], months, selected, frame, (width, height))


def prefecture_chart(line: list[MonthSummary], selected: date, scale: tuple[int, int]) -> Chart:
    """The prefecture's chart: the average score above, the number of 不合格 as bars below."""
    width, height = 360, 224
    months = [m.month for m in line]
    frame = _Frame(48, 14, width - 4, 130, scale[0], scale[1], len(line), inset=12)
    bars_top, bars_bottom = 150.0, 186.0
    most = max((m.fails or 0 for m in line), default=0) or 1
    bars = []
    for i, m in enumerate(line):
        if m.fails is None:
            continue
        tall = round((bars_bottom - bars_top) * m.fails / most, 1)
        bars.append(Bar(frame.x(i), round(bars_bottom - tall, 1), tall, m.month, m.fails))
    return _plot(
        [(m.average, None) for m in line],
        months,
        selected,
        frame,
        (width, height),
        grades=False,
        bars=bars,
        bars_top=bars_top,
        bars_bottom=bars_bottom,
    )


# --- the page ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Desktop:
    month: date
    rows: list[MonthRow]  # the ranking, best first
    consequences: dict[int, list[str]]
    frozen: bool
    months: list[date]  # the trend's, oldest first; the last is `month`
    trend: dict[int, list[Point]]
    charts: dict[int, Chart]  # each county's sparkline
    prefecture: list[MonthSummary]
    prefecture_chart: Chart
    map_root: int | None  # the level-1 grid whose children (the level-2 grids) the map draws
    grade_css: dict[str, str] = field(default_factory=lambda: dict(GRADE_CSS))
    legend: tuple = LEGEND
    fail: str = scoring.FAIL


def _consequences(first: date, rows: list[MonthRow]) -> dict[int, list[str]]:
    """The month's ladders for each grid: share of problems and fails in a row (RULES §5),
    then the weekly key-area checks (§7), "重点区域" before the latter's words. The air-quality
    ladder (§6) comes with its own ranking, loaded after the page (it reads the readings)."""
    found = queries.consequences(first, rows)
    for county_id, actions in air.key_area_actions(first).items():
        found.setdefault(county_id, []).extend(f"重点区域：{a}" for a in dict.fromkeys(actions))
    return found


def page(first: date) -> Desktop:
    """Everything the desktop shows for the month `first`, in a number of queries that does
    not depend on the number of counties, frozen or provisional (gathered by assess/facts.py)."""
    rows = queries.month_rows(first)
    series = trend(first, MONTHS, rows)
    months = months_ending(first, MONTHS)
    scale = scale_of(series)
    line = prefecture_line(series, months)
    root = root_grid()
    return Desktop(
        month=first,
        rows=rows,
        consequences=_consequences(first, rows),
        frozen=any(r.version for r in rows),
        months=months,
        trend=series,
        charts={cid: sparkline(points, first, scale) for cid, points in series.items()},
        prefecture=line,
        prefecture_chart=prefecture_chart(line, first, scale),
        map_root=root.id if root else None,
    )


@dataclass(frozen=True)
class CountyTrend:
    """One county's twelve months for its own page, on the desktop's scale."""

    points: list[Point]
    chart: Chart


def county_trend(first: date, county_id: int, rows: list[MonthRow]) -> CountyTrend | None:
    """The county's trend ending with `first` (`rows`: that month's ranking), or None if the
    county is not ranked that month."""
    series = trend(first, MONTHS, rows)
    points = series.get(county_id)
    if points is None:
        return None
    return CountyTrend(points, sparkline(points, first, scale_of(series), 240, 48))


# --- counting queries (the benchmark, tests/test_assess_desktop.py) -------------------------


@contextmanager
def counting_statements() -> Iterator[list[str]]:
    """The SQL statements sent through the app's engine inside the block, as a list that
    fills while it runs."""
    seen: list[str] = []

    def note(_connection, _cursor, statement, _parameters, _context, _many):
        seen.append(statement)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


def queries_per_desktop_page(first: date | None = None) -> int:
    """How many SQL statements reading the desktop's data for `first` (by default the last
    month) takes, in the caller's app context: the same whatever the number of counties (for
    `make bench`). The request adds a constant few (the signed-in user and session, their
    posts, the navigation's counts); the map's shapes are a request of their own
    (/grids/<root>/map.geojson, cached by its ETag)."""
    first = first or queries.previous_month(local_today().replace(day=1))
    with counting_statements() as seen:
        page(first)
    return len(seen)
