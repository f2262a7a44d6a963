"""The air-quality ranking of level-2 grids (RULES §6) and the weekly key areas (§7), read from
the stations' readings and the prefecture office's records (assess/air_models.py); the rules
themselves are grid/scoring.py's and alerts/aqi.py's.

RULES §6 says only "the county's composite index". The project's reading, step by step:

1. The stations: every station standing in the level-2 grid (its grid's level-2 ancestor), of
   the kinds counted: by default all three, national, regional and grid micro-stations
   (`ASSESS_AIR_STATION_KINDS`). Changji's national stations all stand in 昌吉市, so the other
   counties have only micro-stations: counting those is the only way every county gets an
   index, and the rate compares a county with itself a year before, which cancels most of the
   micro-stations' siting bias. A retired station's readings count for the days it measured.
2. A station's daily value of each pollutant, as the daily consultation reads the national
   stations (alerts/queries.station_figures): from its hourly values (hourly readings, or its
   minute readings averaged by the hour; data flag N only), the daily mean with at least 20
   valid hours, and for O3 the daily maximum 8-hour mean (GB 3095 table 4; aqi.daily_mean,
   aqi.daily_max_8h). A daily value the station sent itself (period "day") stands in where its
   hours do not make a valid day; O3's is read as the daily maximum 8-hour mean, the value the
   national network publishes for a day. Days are local days, counted at the zone's offset at
   the month's start (China keeps no daylight saving time).
3. Tampering: a station's days covered by a verified tampering (not withdrawn) are replaced by
   the month's highest value of each pollutant at that station (scoring.replace_tampered),
   days without any reading included: a cut power or network leaves none.
4. The county's day: for each pollutant, the mean of its stations' daily values that day
   (HJ 663 takes a city's daily value as the mean of its stations'; for O3 it averages the
   stations' hours before taking 8-hour means, where the project averages the stations' daily
   maxima).
5. The county's month: aqi.month_stats over its days (each pollutant valid on 27 days, 25 in
   February) and aqi.composite_index in the edition of the month; no index when a pollutant is
   not valid.
6. Places by improvement rate on the same month a year before (scoring.rank_counties); the
   last-place streak counts the months before ranked the same way, from the data as it stands
   (a tampering verified later changes an earlier month too), at most a year back.

Every step reads all counties at once: the number of queries depends on the months looked at,
never on the number of counties or stations.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from alerts import aqi
from alerts.models import POLLUTANTS, Period, Reading, Station, StationKind
from assess.air_models import KeyAreaCheck, KeyAreaItem, TamperedStation
from extensions import db
from grid import scoring
from grid.models import Grid, GridKind
from grid.queries import names_of
from grid.time import local_day_utc, local_zone

DEFAULT_STATION_KINDS = (StationKind.NATIONAL, StationKind.REGIONAL, StationKind.MICRO)
STREAK_MONTHS = 12  # how far back a last-place streak is followed
_DAILY_MEAN_POLLUTANTS = tuple(p for p in POLLUTANTS if p != "O3")

Days = dict[date, dict[str, float | None]]


# --- months -----------------------------------------------------------------------------------


def next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(first: date) -> date:
    return (first.replace(day=1) - timedelta(days=1)).replace(day=1)


def year_before(first: date) -> date:
    return first.replace(year=first.year - 1, day=1)


def month_days(first: date) -> list[date]:
    end = next_month(first)
    return [first + timedelta(days=n) for n in range((end - first).days)]


def _bounds(first: date) -> tuple[datetime, datetime]:
    """The local month starting `first` as stored (naive UTC) [start, end)."""
    return local_day_utc(first)[0], local_day_utc(next_month(first))[0]


# --- the stations counted ---------------------------------------------------------------------


def station_kinds() -> tuple[str, ...]:
    return tuple(current_app.config.get("ASSESS_AIR_STATION_KINDS", DEFAULT_STATION_KINDS))


def _county_of_path(path: str) -> int | None:
    """The level-2 grid on a materialised path "/1/8/93/" (8); None for the root."""
    ids = path.strip("/").split("/")
    return int(ids[1]) if len(ids) > 1 else None


def counted_stations() -> dict[int, int]:
    """Each station the ranking counts, with its level-2 grid: station id -> county id."""
    rows = db.session.execute(
        sa.select(Station.id, Grid.path)
        .join(Grid, Grid.id == Station.grid_id)
        .where(Station.kind.in_(station_kinds()))
    )
    found = {}
    for station_id, path in rows:
        county = _county_of_path(path)
        if county is not None:
            found[station_id] = county
    return found


# --- a month of daily values per station ------------------------------------------------------


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _hour_of(column):
    """The (UTC) hour a reading falls in."""
    if _dialect() == "postgresql":
        return sa.func.date_trunc("hour", column, type_=sa.DateTime)
    return sa.func.strftime("%Y-%m-%d %H:00:00", column)


def _local_date_of(column, offset: timedelta):
    """The local date of a stored time, at a fixed offset from UTC."""
    if _dialect() == "postgresql":
        return sa.cast(column + sa.literal(offset, sa.Interval()), sa.Date)
    return sa.func.date(column, f"{int(offset.total_seconds()):+d} seconds")


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _as_datetime(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _offset(first: date) -> timedelta:
    start = datetime.combine(first, datetime.min.time(), local_zone())
    return start.utcoffset() or timedelta(0)


def daily_values(first: date, station_ids: Iterable[int] | None = None) -> dict[int, Days]:
    """Each station's valid daily values in the local month starting `first` (steps 2 of the
    module's note), before any tampering is replaced: station id -> day -> pollutant -> value.
    `station_ids` limits the stations (all when None). Three queries, whatever the stations."""
    first = first.replace(day=1)
    start, end = _bounds(first)
    offset = _offset(first)
    wanted = None if station_ids is None else sorted(set(station_ids))
    if wanted == []:
        return {}

    def limited(query):
        return query if wanted is None else query.where(Reading.station_id.in_(wanted))

    hour = _hour_of(Reading.measured_at).label("hour")
    valid_hours = limited(
        sa.select(
            Reading.station_id, Reading.pollutant, hour, sa.func.avg(Reading.value).label("v")
        )
        .where(
            Reading.period.in_((Period.HOUR, Period.MINUTE)),
            Reading.flag == "N",
            Reading.measured_at >= start,
            Reading.measured_at < end,
        )
        .group_by(Reading.station_id, Reading.pollutant, hour)
    )
    # The daily means in the database (a month of minute values is millions of rows): the mean
    # of the day's hourly means, kept with 20 valid hours or more.
    means = valid_hours.where(Reading.pollutant.in_(_DAILY_MEAN_POLLUTANTS)).subquery()
    day = _local_date_of(means.c.hour, offset).label("day")
    found: dict[int, Days] = {}
    for station_id, pollutant, on, value in db.session.execute(
        sa.select(means.c.station_id, means.c.pollutant, day, sa.func.avg(means.c.v))
        .group_by(means.c.station_id, means.c.pollutant, day)
        .having(sa.func.count() >= aqi.HOURS_FOR_DAILY_MEAN)
    ):
        on = _as_date(on)
        if on.month == first.month:
            found.setdefault(station_id, {}).setdefault(on, {})[pollutant] = float(value)

    # O3's daily maximum 8-hour mean needs the hours themselves: 24 a station-day.
    hours: dict[tuple[int, date], list[float | None]] = {}
    for station_id, _pollutant, at, value in db.session.execute(
        valid_hours.where(Reading.pollutant == "O3")
    ):
        local = _as_datetime(at) + offset
        series = hours.setdefault((station_id, local.date()), [None] * 24)
        series[local.hour] = float(value)
    for (station_id, on), series in hours.items():
        o3 = aqi.daily_max_8h(series)
        if o3 is not None and on.month == first.month:
            found.setdefault(station_id, {}).setdefault(on, {})["O3"] = o3

    # Daily values the stations sent, where their hours made no valid day.
    for station_id, pollutant, at, value in db.session.execute(
        limited(
            sa.select(Reading.station_id, Reading.pollutant, Reading.measured_at, Reading.value)
            .where(
                Reading.period == Period.DAY,
                Reading.flag == "N",
                Reading.measured_at >= start,
                Reading.measured_at < end,
            )
            .order_by(Reading.measured_at)
        )
    ):
        values = found.setdefault(station_id, {}).setdefault((at + offset).date(), {})
        if values.get(pollutant) is None:
            values[pollutant] = float(value)
    return found


# --- tampering --------------------------------------------------------------------------------


def tamperings_in(first: date, last: date) -> list[TamperedStation]:
    """The verified tamperings (withdrawn ones left out) whose days reach into [first, last]."""
    return list(
        db.session.scalars(
            sa.select(TamperedStation)
            .where(
                TamperedStation.withdrawn_at.is_(None),
                TamperedStation.last_day >= first,
                TamperedStation.first_day <= last,
            )
            .order_by(TamperedStation.station_id, TamperedStation.first_day)
        )
    )


def tampered_days(first: date) -> dict[int, set[date]]:
    """Each station's tampered days in the month starting `first`."""
    days = month_days(first)
    found: dict[int, set[date]] = {}
    for record in tamperings_in(days[0], days[-1]):
        hit = {d for d in days if record.first_day <= d <= record.last_day}
        found.setdefault(record.station_id, set()).update(hit)
    return found


def with_tampering_replaced(days: Days, tampered: set[date]) -> Days:
    """A station's month with its tampered days (present or not) replaced by the month's highest
    value of each pollutant there (RULES §6)."""
    if not tampered:
        return days
    filled = {**days, **{d: {} for d in tampered if d not in days}}
    return scoring.replace_tampered(filled, tampered)


# --- a county's month -------------------------------------------------------------------------


@dataclass(frozen=True)
class CountyIndex:
    """A county's month: its composite index (None when some pollutant is not valid), the
    stations that gave a value, the tampered station-days, and why there is no index."""

    index: float | None
    stations: int = 0
    tampered_days: int = 0
    invalid: dict[str, str] = field(default_factory=dict)


def county_indices(first: date, stations: dict[int, int] | None = None) -> dict[int, CountyIndex]:
    """Every county's composite index for the month starting `first` (steps 1-5 of the
    module's note), by county id; counties without any station value are absent."""
    first = first.replace(day=1)
    stations = counted_stations() if stations is None else stations
    values = daily_values(first)
    tampered = tampered_days(first)
    per_county: dict[int, list[Days]] = {}
    tampered_count: dict[int, int] = {}
    for station_id, county in stations.items():
        hit = tampered.get(station_id, set())
        tampered_count[county] = tampered_count.get(county, 0) + len(hit)
        days = with_tampering_replaced(values.get(station_id, {}), hit)
        if any(v is not None for day in days.values() for v in day.values()):
            per_county.setdefault(county, []).append(days)
    edition = aqi.edition_on(first)
    found = {}
    for county, station_months in per_county.items():
        stats = aqi.month_stats(_county_days(station_months), first.year, first.month)
        index = aqi.composite_index(stats.stats, edition) if stats.complete else None
        found[county] = CountyIndex(
            index, len(station_months), tampered_count.get(county, 0), stats.invalid
        )
    for county, count in tampered_count.items():
        if county not in found and count:
            found[county] = CountyIndex(None, 0, count, {})
    return found


def _county_days(station_months: list[Days]) -> Days:
    """Each day's mean over the stations of each pollutant they gave a value of."""
    sums: dict[date, dict[str, list[float]]] = {}
    for days in station_months:
        for day, values in days.items():
            for pollutant, value in values.items():
                if value is not None:
                    sums.setdefault(day, {}).setdefault(pollutant, []).append(value)
    return {
        day: {p: sum(series) / len(series) for p, series in by_pollutant.items()}
        for day, by_pollutant in sums.items()
    }


# --- the ranking ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AirRow:
    """One level-2 grid's line of a month's air-quality ranking."""

    county_id: int
    name: str
    index: float | None  # the month's composite index
    last_year: float | None  # the same month a year before
    rate: float | None  # improvement: (last_year - index) / last_year, higher is better
    place: int | None  # None: not ranked (no index this month or the same month last year)
    last: bool  # last in the prefecture this month
    streak: int  # months in a row last, this one included (0 when not last)
    action: str | None  # scoring.air_quality_action for the streak
    tampered_days: int  # station-days of the month replaced for tampering
    stations: int = 0  # stations that gave a value this month


def _ranks(
    first: date, index_of: Callable[[date], dict[int, CountyIndex]], county_ids: list[int]
) -> dict[int, scoring.Rank]:
    now, before = index_of(first), index_of(year_before(first))
    pairs = {
        str(c): (
            before[c].index if c in before else None,
            now[c].index if c in now else None,
        )
        for c in county_ids
    }
    return {int(rank.county): rank for rank in scoring.rank_counties(pairs)}


def month_ranking(first: date) -> list[AirRow]:
    """Every level-2 grid's air-quality line for the month starting `first` (RULES §6), ranked
    first, best first (equal rates share a place), then the unranked by name."""
    first = first.replace(day=1)
    counties = list(db.session.execute(sa.select(Grid.id, Grid.name).where(Grid.level == 2)).all())
    ids = [c for c, _name in counties]
    stations = counted_stations()
    memo: dict[date, dict[int, CountyIndex]] = {}

    def index_of(month: date) -> dict[int, CountyIndex]:
        if month not in memo:
            memo[month] = county_indices(month, stations)
        return memo[month]

    ranks = _ranks(first, index_of, ids)
    streak = {c: 1 for c, rank in ranks.items() if rank.last}
    running = set(streak)
    month = first
    for _ in range(STREAK_MONTHS - 1):
        if not running:
            break
        month = previous_month(month)
        before = _ranks(month, index_of, ids)  # among every county, as that month was
        running = {c for c in running if before[c].last}
        for c in running:
            streak[c] += 1

    now, year_ago = index_of(first), index_of(year_before(first))
    rows = []
    for county_id, name in counties:
        rank = ranks[county_id]
        mine = now.get(county_id, CountyIndex(None))
        run = streak.get(county_id, 0)
        rows.append(
            AirRow(
                county_id=county_id,
                name=name,
                index=mine.index,
                last_year=year_ago[county_id].index if county_id in year_ago else None,
                rate=rank.rate,
                place=rank.place,
                last=rank.last,
                streak=run,
                action=scoring.air_quality_action([True] * run),
                tampered_days=mine.tampered_days,
                stations=mine.stations,
            )
        )
    return sorted(rows, key=lambda r: (r.place is None, r.place or 0, r.name))


# --- the records behind the page --------------------------------------------------------------


@dataclass(frozen=True)
class TamperingRow:
    record: TamperedStation
    station: str  # name and code
    county: str
    days_in_month: int


def tampering_rows(first: date) -> list[TamperingRow]:
    """The tamperings recorded whose days reach into the month, withdrawn ones included."""
    days = month_days(first.replace(day=1))
    rows = db.session.execute(
        sa.select(TamperedStation, Station.name, Station.code, Grid.path)
        .join(Station, Station.id == TamperedStation.station_id)
        .outerjoin(Grid, Grid.id == Station.grid_id)
        .where(TamperedStation.last_day >= days[0], TamperedStation.first_day <= days[-1])
        .order_by(TamperedStation.first_day, TamperedStation.id)
    ).all()
    counties = {r: _county_of_path(path) if path else None for r, _n, _c, path in rows}
    names = names_of(Grid, counties.values())
    return [
        TamperingRow(
            record,
            f"{name} ({code})",
            names.get(counties[record], ""),
            (min(record.last_day, days[-1]) - max(record.first_day, days[0])).days + 1,
        )
        for record, name, code, _path in rows
    ]


@dataclass(frozen=True)
class StationChoice:
    id: int
    label: str
    county: str


def station_choices() -> list[StationChoice]:
    """The stations a tampering may be recorded at, by county."""
    rows = db.session.execute(
        sa.select(Station.id, Station.code, Station.name, Grid.path)
        .join(Grid, Grid.id == Station.grid_id)
        .order_by(Station.code)
    ).all()
    counties = {sid: _county_of_path(path) for sid, _c, _n, path in rows}
    names = names_of(Grid, counties.values())
    choices = [
        StationChoice(sid, f"{code} {name}", names.get(counties[sid], ""))
        for sid, code, name, _path in rows
    ]
    return sorted(choices, key=lambda c: (c.county, c.label))


# --- RULES §7: key areas, weekly --------------------------------------------------------------


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class KeyAreaRow:
    """A key-area item as of the end of a period: its checks up to then, how many found it
    still not rectified, and the consequence that count reaches (scoring.key_area_action)."""

    item: KeyAreaItem
    county: str
    key_grid: str | None
    checks: list[KeyAreaCheck]  # oldest first
    unrectified: int
    action: str | None

    @property
    def open(self) -> bool:
        return self.item.rectified_on is None


def period_of(*, week: date | None = None, month: date | None = None) -> tuple[date, date]:
    """[start, end) of the week containing `week`, or of the month containing `month`."""
    if week is not None:
        start = monday_of(week)
        return start, start + timedelta(days=7)
    if month is None:
        raise ValueError("a week or a month is needed")
    first = month.replace(day=1)
    return first, next_month(first)


def key_area_rows(
    *,
    week: date | None = None,
    month: date | None = None,
    counties: Iterable[int] | None = None,
) -> list[KeyAreaRow]:
    """The key-area items of a week (or a month): those scheduled before its end and not
    rectified before its start, with their checks up to its end; `counties` limits the
    level-2 grids (all when None). Three queries, whatever the items."""
    start, end = period_of(week=week, month=month)
    query = (
        sa.select(KeyAreaItem)
        .where(
            KeyAreaItem.week < end,
            sa.or_(KeyAreaItem.rectified_on.is_(None), KeyAreaItem.rectified_on >= start),
        )
        .order_by(KeyAreaItem.week, KeyAreaItem.county_id, KeyAreaItem.id)
    )
    if counties is not None:
        query = query.where(KeyAreaItem.county_id.in_(sorted(set(counties)) or [-1]))
    items = list(db.session.scalars(query))
    checks: dict[int, list[KeyAreaCheck]] = {}
    if items:
        for check in db.session.scalars(
            sa.select(KeyAreaCheck)
            .where(KeyAreaCheck.item_id.in_([i.id for i in items]), KeyAreaCheck.checked_on < end)
            .order_by(KeyAreaCheck.checked_on, KeyAreaCheck.id)
        ):
            checks.setdefault(check.item_id, []).append(check)
    names = names_of(Grid, [i.county_id for i in items] + [i.key_grid_id for i in items])
    rows = []
    for item in items:
        mine = checks.get(item.id, [])
        unrectified = sum(1 for c in mine if not c.rectified)
        rows.append(
            KeyAreaRow(
                item,
                names.get(item.county_id, ""),
                names.get(item.key_grid_id) if item.key_grid_id else None,
                mine,
                unrectified,
                scoring.key_area_action(unrectified),
            )
        )
    return rows


def key_area_actions(first: date) -> dict[int, list[str]]:
    """What the month's weekly checks triggered for each level-2 grid (RULES §7): for each
    check in the month that found an item still not rectified, the rung its count reached."""
    start, end = period_of(month=first)
    checked = sa.select(KeyAreaCheck.item_id).where(
        KeyAreaCheck.checked_on >= start, KeyAreaCheck.checked_on < end
    )
    rows = db.session.execute(
        sa.select(KeyAreaItem.county_id, KeyAreaCheck.item_id, KeyAreaCheck.checked_on)
        .join(KeyAreaItem, KeyAreaItem.id == KeyAreaCheck.item_id)
        .where(
            KeyAreaCheck.item_id.in_(checked),
            KeyAreaCheck.checked_on < end,
            KeyAreaCheck.rectified.is_(False),
        )
        .order_by(KeyAreaCheck.item_id, KeyAreaCheck.checked_on)
    ).all()
    counted: dict[int, int] = {}
    found: dict[int, list[str]] = {}
    for county, item, checked_on in rows:
        counted[item] = counted.get(item, 0) + 1
        action = scoring.key_area_action(counted[item])
        if checked_on >= start and action:
            found.setdefault(county, []).append(action)
    return found


def county_choices() -> list[Grid]:
    """The level-2 grids a key-area item may be scheduled for, in tree order."""
    return list(db.session.scalars(sa.select(Grid).where(Grid.level == 2).order_by(Grid.path)))


def key_grid_choices() -> list[Grid]:
    """The key grids (重点网格), each attached to its level-2 grid, in tree order."""
    return list(
        db.session.scalars(
            sa.select(Grid).where(Grid.kind == GridKind.KEY).order_by(Grid.path, Grid.id)
        )
    )
